-- Bad input to ticket.payment_failed(payment_id, reason, retryable): bad
-- ids, texts and flags, and roles without the grant; no payment changes.
\i test/bad_setup.sql
-- (A reason may hold a newline or a tab: a provider's message.)
SELECT * FROM pg_temp.each('payment_id', 'int8', $$SELECT ticket.payment_failed(%s, 'declined')$$);
SELECT * FROM pg_temp.each('reason', 'text', $$SELECT ticket.payment_failed(1, %s)$$, '{"newline inside","tab inside"}');
SELECT * FROM pg_temp.each('retryable', 'bool', $$SELECT ticket.payment_failed(1, 'declined', %s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown payment',           $$SELECT ticket.payment_failed(999, 'declined')$$),
	('reason 1,001 characters',   $$SELECT ticket.payment_failed(1, repeat('r', 1001))$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.payment_failed(bigint, text, boolean)', $$SELECT ticket.payment_failed(1, 'declined')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
