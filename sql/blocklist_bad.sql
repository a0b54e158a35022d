-- Bad input to the public functions of src/blocklist.sql, one part per
-- function: block_user, unblock_user.  The fixture (test/bad_setup.sql) is
-- loaded once for all of them: each part checks that it wrote nothing, so the
-- next finds the fixture as it was.  unblock_user first blocks mallory and
-- takes a new fp0, so it comes last.
\i test/bad_setup.sql

-- Bad input to ticket.block_user(user_id, reason DEFAULT NULL): bad texts,
-- and roles without the grant; nobody is blocked.
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT ticket.block_user(%s, 'spam')$$);
SELECT * FROM pg_temp.each('reason', 'text', $$SELECT ticket.block_user('mallory', %s)$$, '{"NULL","newline inside","tab inside"}');
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('user_id 129 characters',         $$SELECT ticket.block_user(repeat('é', 129))$$),
	('reason 201 characters',          $$SELECT ticket.block_user('mallory', repeat('r', 201))$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.block_user(text, text)', $$SELECT ticket.block_user('mallory')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.unblock_user(user_id): bad texts, and roles without
-- the grant.  mallory is blocked first; she stays blocked.
SELECT ticket.block_user('mallory', 'spam') AS released \gset
SELECT pg_temp.fp() AS fp0 \gset
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT ticket.unblock_user(%s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('user_id 129 characters',         $$SELECT ticket.unblock_user(repeat('é', 129))$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.unblock_user(text)', $$SELECT ticket.unblock_user('mallory')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
