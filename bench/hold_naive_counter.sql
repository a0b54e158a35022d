-- Naive standing places: one hot counter row (naive.hold_counter).
\set u random(1, 100000)
SELECT naive.hold_counter(1, 'u:u', 1);
