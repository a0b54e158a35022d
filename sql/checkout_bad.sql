-- Bad input to the public functions of src/checkout.sql, one part per
-- function: checkout, order_status.  The fixture (test/bad_setup.sql) is
-- loaded once for all of them: each part checks that it wrote nothing, so the
-- next finds the fixture as it was.
\i test/bad_setup.sql

-- Bad input to ticket.checkout(hold_id, user_id, idempotency_key): bad ids
-- and texts, other users' holds and keys, holds already checked out, and
-- roles without the grant.
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

-- Bad input to ticket.order_status(order_id, user_id): bad ids and texts,
-- other users' orders, and roles without the grant.
SELECT * FROM pg_temp.each('order_id', 'int8', $$SELECT (ticket.order_status(%s, 'bob')).status$$);
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT (ticket.order_status(1, %s)).status$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown order',                  $$SELECT (ticket.order_status(999, 'bob')).status$$),
	('bob''s order asked by alice',     $$SELECT (ticket.order_status(1, 'alice')).status$$),
	('user_id 129 characters',         $$SELECT (ticket.order_status(1, repeat('é', 129))).status$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.order_status(bigint, text)', $$SELECT (ticket.order_status(1, 'bob')).status$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
