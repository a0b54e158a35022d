-- Bad input to ticket.challenge(concert_id, user_id): bad ids and texts,
-- concerts without a waiting room, and roles without the grant.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.challenge(%s, 'alice') IS NOT NULL$$);
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT ticket.challenge(3, %s) IS NOT NULL$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                $$SELECT ticket.challenge(999, 'alice') IS NOT NULL$$),
	('concert without a waiting room', $$SELECT ticket.challenge(1, 'alice') IS NOT NULL$$),
	('cancelled concert',              $$SELECT ticket.challenge(5, 'alice') IS NOT NULL$$),
	('user_id 129 characters',         $$SELECT ticket.challenge(3, repeat('é', 129)) IS NOT NULL$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.challenge(bigint, text)', $$SELECT ticket.challenge(3, 'alice') IS NOT NULL$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
