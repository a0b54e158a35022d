-- Bad input to ticket.claim_payments(adapter, max_jobs, lease): bad texts,
-- sizes and leases, and roles without the grant; nothing is claimed.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('adapter', 'text', $$SELECT count(*) FROM ticket.claim_payments(%s)$$);
SELECT * FROM pg_temp.each('max_jobs', 'int4', $$SELECT count(*) FROM ticket.claim_payments('a1', %s)$$);
SELECT * FROM pg_temp.each('lease', 'interval', $$SELECT count(*) FROM ticket.claim_payments('a1', 10, %s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('adapter 101 characters',   $$SELECT count(*) FROM ticket.claim_payments(repeat('a', 101))$$),
	('max_jobs 1,001',           $$SELECT count(*) FROM ticket.claim_payments('a1', 1001)$$),
	('lease 1 hour 1 second',    $$SELECT count(*) FROM ticket.claim_payments('a1', 10, '1 hour 1 second')$$),
	('lease 1 month',            $$SELECT count(*) FROM ticket.claim_payments('a1', 10, '1 month')$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.claim_payments(text, int, interval)', $$SELECT count(*) FROM ticket.claim_payments('a1')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
