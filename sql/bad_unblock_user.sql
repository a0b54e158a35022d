-- Bad input to ticket.unblock_user(user_id): bad texts, and roles without
-- the grant.  mallory is blocked first; she stays blocked.
\i test/bad_setup.sql
SELECT ticket.block_user('mallory', 'spam') AS released \gset
SELECT pg_temp.fp() AS fp0 \gset
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT ticket.unblock_user(%s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('user_id 129 characters',         $$SELECT ticket.unblock_user(repeat('é', 129))$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.unblock_user(text)', $$SELECT ticket.unblock_user('mallory')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
