-- Bad input to ticket.compensation_step(saga_id): bad ids, a finished saga,
-- and roles without the grant.  A saga for order 2 is started first.
\i test/bad_setup.sql
SELECT ticket.start_compensation(2, 'test') AS saga \gset
SELECT pg_temp.fp() AS fp0 \gset
SELECT * FROM pg_temp.each('saga_id', 'int8', $$SELECT ticket.compensation_step(%s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown saga',              $$SELECT ticket.compensation_step(999)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.compensation_step(bigint)', $$SELECT ticket.compensation_step(1)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
