-- Bad input to ticket.start_compensation(order_id, reason): bad ids and
-- texts, and roles without the grant; no saga starts.
\i test/bad_setup.sql
-- (A reason may hold a newline or a tab: a provider's message.)
SELECT * FROM pg_temp.each('order_id', 'int8', $$SELECT ticket.start_compensation(%s, 'r')$$);
SELECT * FROM pg_temp.each('reason', 'text', $$SELECT ticket.start_compensation(1, %s)$$, '{"newline inside","tab inside"}');
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown order',             $$SELECT ticket.start_compensation(999, 'r')$$),
	('reason 1,001 characters',   $$SELECT ticket.start_compensation(1, repeat('r', 1001))$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.start_compensation(bigint, text)', $$SELECT ticket.start_compensation(1, 'r')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
