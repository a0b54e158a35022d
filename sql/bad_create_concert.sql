-- Bad input to ticket.create_concert: every argument's bad values, then
-- windows that do not fit and roles without the grant.  Each case ends in
-- its SQLSTATE and writes nothing (a [WROTE] would say otherwise).
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('title', 'text', $$SELECT ticket.create_concert(%s, '2100-01-01', '2000-01-01')$$);
SELECT * FROM pg_temp.each('venue', 'text', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', venue => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('starts_at', 'timestamptz', $$SELECT ticket.create_concert('t', %s, '2000-01-01')$$, '{year 294276}');
SELECT * FROM pg_temp.each('sale_opens_at', 'timestamptz', $$SELECT ticket.create_concert('t', '2100-01-01', %s)$$, '{in the past}');
SELECT * FROM pg_temp.each('sale_closes_at', 'timestamptz', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', sale_closes_at => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('hold_ttl', 'interval', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', hold_ttl => %s)$$);
SELECT * FROM pg_temp.each('per_user_limit', 'int4', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', per_user_limit => %s)$$);
SELECT * FROM pg_temp.each('admit_rate', 'int4', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', admit_rate => %s)$$);
SELECT * FROM pg_temp.each('admission_ttl', 'interval', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', admission_ttl => %s)$$);
SELECT * FROM pg_temp.each('max_active', 'int4', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', max_active => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('queue', 'bool', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', queue => %s)$$);
SELECT * FROM pg_temp.each('pow_bits', 'int4', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', queue => true, pow_bits => %s)$$, '{0}');
SELECT * FROM pg_temp.each('payment_timeout', 'interval', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', payment_timeout => %s)$$);
SELECT * FROM pg_temp.each('payment_attempts', 'int4', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', payment_attempts => %s)$$);
SELECT * FROM pg_temp.each('accept_late_payments', 'bool', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', accept_late_payments => %s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('opens after it starts',      $$SELECT ticket.create_concert('t', '2100-01-01', '2100-02-01')$$),
	('opens when it starts',       $$SELECT ticket.create_concert('t', '2100-01-01', '2100-01-01')$$),
	('closes before it opens',     $$SELECT ticket.create_concert('t', '2100-01-01', '2099-01-01', sale_closes_at => '2098-01-01')$$),
	('closes after it starts',     $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', sale_closes_at => '2100-01-02')$$),
	('hold_ttl over a day',        $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', hold_ttl => '1 day 1 second')$$),
	('hold_ttl 1 month',           $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', hold_ttl => '1 month')$$),
	('per_user_limit 101',         $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', per_user_limit => 101)$$),
	('admit_rate 100,001',         $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', admit_rate => 100001)$$),
	('max_active 10,000,001',      $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', max_active => 10000001)$$),
	('pow_bits without queue',     $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', pow_bits => 8)$$),
	('pow_bits 33',                $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', queue => true, pow_bits => 33)$$),
	('payment_attempts 21',        $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', payment_attempts => 21)$$),
	('title 201 characters',       $$SELECT ticket.create_concert(repeat('é', 201), '2100-01-01', '2000-01-01')$$),
	('title \x7f',                 $$SELECT ticket.create_concert(E'a\x7fb', '2100-01-01', '2000-01-01')$$),
	('title no-break spaces only', $$SELECT ticket.create_concert(E'\u00a0\u00a0', '2100-01-01', '2000-01-01')$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.create_concert(text, timestamptz, timestamptz, text, timestamptz, interval, int, int, interval, int, boolean, int, interval, int, boolean)',
	$$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
