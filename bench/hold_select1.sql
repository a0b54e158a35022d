-- Baseline: the round-trip ceiling.
SELECT 1;
