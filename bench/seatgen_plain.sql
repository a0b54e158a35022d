-- pgbench script, the baseline: the same 100,000 rows written by a plain
-- INSERT ... SELECT generate_series into an equivalent table
-- (bench_plain.seat: same columns, primary key and fillfactor as ticket.seat).
INSERT INTO bench_plain.seat (concert_id, seat_id, section_id, row_no, seat_no)
SELECT c.id, g + 1, 1, g / 1000 + 1, g % 1000 + 1
  FROM (SELECT nextval('bench_plain.concert_id') AS id) AS c,
	   generate_series(0, 99999) AS g;
