-- Bad input to ticket.order_status(order_id, user_id): bad ids and texts,
-- other users' orders, and roles without the grant.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('order_id', 'int8', $$SELECT (ticket.order_status(%s, 'bob')).status$$);
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT (ticket.order_status(1, %s)).status$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown order',                  $$SELECT (ticket.order_status(999, 'bob')).status$$),
	('bob''s order asked by alice',     $$SELECT (ticket.order_status(1, 'alice')).status$$),
	('user_id 129 characters',         $$SELECT (ticket.order_status(1, repeat('é', 129))).status$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.order_status(bigint, text)', $$SELECT (ticket.order_status(1, 'bob')).status$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
