-- Bad input to ticket.payment_succeeded(payment_id, provider_ref): bad ids
-- and texts, and roles without the grant; no payment changes.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('payment_id', 'int8', $$SELECT ticket.payment_succeeded(%s, 'ref-1')$$);
SELECT * FROM pg_temp.each('provider_ref', 'text', $$SELECT ticket.payment_succeeded(1, %s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown payment',           $$SELECT ticket.payment_succeeded(999, 'ref-1')$$),
	('provider_ref 256 characters', $$SELECT ticket.payment_succeeded(1, repeat('r', 256))$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.payment_succeeded(bigint, text)', $$SELECT ticket.payment_succeeded(1, 'ref-1')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
