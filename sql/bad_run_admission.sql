-- Bad input to CALL ticket.run_admission(steps): steps out of 1-60, and
-- roles without the grant.  (It commits once a step, so a valid call cannot
-- run inside pg_temp.err; every case here must be refused before.)
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('steps', 'int4', $$CALL ticket.run_admission(%s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('61 steps',                       $$CALL ticket.run_admission(61)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.run_admission(int)', $$CALL ticket.run_admission(1)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
