-- Nothing to reset: the catalogue benchmarks only read.
SELECT 1;
