-- Bad input to ticket.leave_queue(concert_id, user_id): bad ids and texts,
-- concerts without a waiting room, and roles without the grant.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT (ticket.leave_queue(%s, 'alice')).state$$);
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT (ticket.leave_queue(3, %s)).state$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                $$SELECT (ticket.leave_queue(999, 'alice')).state$$),
	('concert without a waiting room', $$SELECT (ticket.leave_queue(1, 'alice')).state$$),
	('cancelled concert',              $$SELECT (ticket.leave_queue(5, 'alice')).state$$),
	('user_id 129 characters',         $$SELECT (ticket.leave_queue(3, repeat('é', 129))).state$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.leave_queue(bigint, text)', $$SELECT (ticket.leave_queue(3, 'alice')).state$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
