-- Bad input to ticket.queue_status(concert_id, user_id): bad ids and texts,
-- concerts without a waiting room, and roles without the grant.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT (ticket.queue_status(%s, 'alice')).state$$);
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT (ticket.queue_status(3, %s)).state$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                $$SELECT (ticket.queue_status(999, 'alice')).state$$),
	('concert without a waiting room', $$SELECT (ticket.queue_status(1, 'alice')).state$$),
	('cancelled concert',              $$SELECT (ticket.queue_status(5, 'alice')).state$$),
	('user_id 129 characters',         $$SELECT (ticket.queue_status(3, repeat('é', 129))).state$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.queue_status(bigint, text)', $$SELECT (ticket.queue_status(3, 'alice')).state$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
