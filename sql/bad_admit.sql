-- Bad input to ticket.admit(concert_id): bad ids, concerts without a
-- waiting room or not on sale, and roles without the grant.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.admit(%s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                $$SELECT ticket.admit(999)$$),
	('concert without a waiting room', $$SELECT ticket.admit(1)$$),
	('cancelled concert',              $$SELECT ticket.admit(5)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.admit(bigint)', $$SELECT ticket.admit(3)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
