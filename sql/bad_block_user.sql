-- Bad input to ticket.block_user(user_id, reason DEFAULT NULL): bad texts,
-- and roles without the grant; nobody is blocked.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT ticket.block_user(%s, 'spam')$$);
SELECT * FROM pg_temp.each('reason', 'text', $$SELECT ticket.block_user('mallory', %s)$$, '{"NULL","newline inside","tab inside"}');
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('user_id 129 characters',         $$SELECT ticket.block_user(repeat('é', 129))$$),
	('reason 201 characters',          $$SELECT ticket.block_user('mallory', repeat('r', 201))$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.block_user(text, text)', $$SELECT ticket.block_user('mallory')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
