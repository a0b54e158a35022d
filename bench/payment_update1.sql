-- Baseline: the durable-write ceiling, a bare single-row UPDATE.
\set id random(1, 100000)
UPDATE bench_pay.one SET n = n + 1 WHERE id = :id;
