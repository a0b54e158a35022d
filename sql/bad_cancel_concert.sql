-- Bad input to ticket.cancel_concert(concert_id): bad ids, states, and roles without
-- the grant; each ends in its SQLSTATE, nothing written.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.cancel_concert(%s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',           $$SELECT ticket.cancel_concert(999)$$),
	('cancelled concert',         $$SELECT ticket.cancel_concert(5)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.cancel_concert(bigint)', $$SELECT ticket.cancel_concert(4)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
