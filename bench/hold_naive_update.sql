-- Naive PL/pgSQL (bench/hold_setup.sql, naive.hold_update) on one random seat among 500,000.
\set seat random(1, 500000)
\set u random(1, 100000)
SELECT naive.hold_update(1, 'u:u', :seat);
