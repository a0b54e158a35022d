-- Bad input to ticket.checkout(hold_id, user_id, idempotency_key): bad ids
-- and texts, other users' holds and keys, holds already checked out, and
-- roles without the grant.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('hold_id', 'int8', $$SELECT ticket.checkout(%s, 'alice', 'k1')$$);
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT ticket.checkout(1, %s, 'k1')$$);
SELECT * FROM pg_temp.each('idempotency_key', 'text', $$SELECT ticket.checkout(1, 'alice', %s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown hold',                         $$SELECT ticket.checkout(999, 'alice', 'k1')$$),
	('bob''s hold checked out by alice',      $$SELECT ticket.checkout(2, 'alice', 'k1')$$),
	('carol''s hold (concert 2) by alice',    $$SELECT ticket.checkout(4, 'alice', 'k1')$$),
	('alice''s key kc for another hold',      $$SELECT ticket.checkout(1, 'alice', 'kc')$$),
	('hold 3 again with another key',        $$SELECT ticket.checkout(3, 'bob', 'k2')$$),
	('bob''s key kb, bob''s other hold',        $$SELECT ticket.checkout(2, 'bob', 'kb')$$),
	('key 256 characters',                   $$SELECT ticket.checkout(1, 'alice', repeat('k', 256))$$),
	('user_id 129 characters',               $$SELECT ticket.checkout(1, repeat('é', 129), 'k1')$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.checkout(bigint, text, text)', $$SELECT ticket.checkout(1, 'alice', 'k1')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
SELECT count(*) AS violations FROM ticket.verify();
