-- Bare-seat NOWAIT (bench/hold_setup.sql, naive.hold_bare): lock, check and mark one random seat among 500,000, nothing else.
\set seat random(1, 500000)
\set u random(1, 100000)
SELECT naive.hold_bare(4, 'u:u', :seat);
