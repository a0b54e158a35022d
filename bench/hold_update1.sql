-- Baseline: the durable-write ceiling, a bare single-row UPDATE (100,000 rows, little contention).
\set id random(1, 100000)
UPDATE naive.one SET n = n + 1 WHERE id = :id;
