-- Bad input to ticket.update_concert (NULL keeps a setting, so it is not
-- bad here): every argument's bad values on the draft concert 4, changes
-- its state forbids, and roles without the grant.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.update_concert(%s, title => 't')$$);
SELECT * FROM pg_temp.each('title', 'text', $$SELECT ticket.update_concert(4, title => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('venue', 'text', $$SELECT ticket.update_concert(4, venue => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('starts_at', 'timestamptz', $$SELECT ticket.update_concert(4, starts_at => %s)$$, '{"NULL","year 294276"}');
SELECT * FROM pg_temp.each('sale_opens_at', 'timestamptz', $$SELECT ticket.update_concert(4, sale_opens_at => %s)$$, '{"NULL","in the past"}');
SELECT * FROM pg_temp.each('sale_closes_at', 'timestamptz', $$SELECT ticket.update_concert(4, sale_closes_at => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('hold_ttl', 'interval', $$SELECT ticket.update_concert(4, hold_ttl => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('per_user_limit', 'int4', $$SELECT ticket.update_concert(4, per_user_limit => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('admit_rate', 'int4', $$SELECT ticket.update_concert(4, admit_rate => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('admission_ttl', 'interval', $$SELECT ticket.update_concert(4, admission_ttl => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('max_active', 'int4', $$SELECT ticket.update_concert(4, max_active => %s)$$, '{"NULL","0"}');
SELECT * FROM pg_temp.each('pow_bits', 'int4', $$SELECT ticket.update_concert(3, pow_bits => %s)$$, '{"NULL","0"}');
SELECT * FROM pg_temp.each('payment_timeout', 'interval', $$SELECT ticket.update_concert(4, payment_timeout => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('payment_attempts', 'int4', $$SELECT ticket.update_concert(4, payment_attempts => %s)$$, '{"NULL"}');
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                 $$SELECT ticket.update_concert(999, title => 't')$$),
	('cancelled concert',               $$SELECT ticket.update_concert(5, title => 't')$$),
	('on sale: sale_opens_at',          $$SELECT ticket.update_concert(1, sale_opens_at => '2001-01-01')$$),
	('on sale: per_user_limit down',    $$SELECT ticket.update_concert(1, per_user_limit => 3)$$),
	('on sale: queue turned on',        $$SELECT ticket.update_concert(1, queue => true)$$),
	('on sale: queue turned off',       $$SELECT ticket.update_concert(3, queue => false)$$),
	('pow_bits without queue',          $$SELECT ticket.update_concert(4, pow_bits => 8)$$),
	('max_active -1 (0 removes the cap)', $$SELECT ticket.update_concert(4, max_active => -1)$$),
	('opens after it starts',           $$SELECT ticket.update_concert(4, sale_opens_at => '2100-07-01')$$),
	('closes after it starts',          $$SELECT ticket.update_concert(4, sale_closes_at => '2100-07-01')$$),
	('starts before the sale closes',   $$SELECT ticket.update_concert(4, starts_at => '2099-01-01', sale_closes_at => '2099-06-01')$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.update_concert(bigint, text, text, timestamptz, timestamptz, timestamptz, interval, int, int, interval, int, boolean, int, interval, int, boolean)',
	$$SELECT ticket.update_concert(4, title => 't')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
