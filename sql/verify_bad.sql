-- Bad input to ticket.verify(concert_id DEFAULT NULL; NULL checks every
-- concert): bad ids, and roles without the grant.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT count(*) FROM ticket.verify(%s)$$, '{"NULL"}');
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',           $$SELECT count(*) FROM ticket.verify(999)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.verify(bigint)', $$SELECT count(*) FROM ticket.verify()$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
