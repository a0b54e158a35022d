-- Bad input to ticket.rotate_pass_key(retire_after): intervals out of 0 to
-- 7 days, and roles without the grant; no key is added.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('retire_after', 'interval', $$SELECT ticket.rotate_pass_key(%s)$$, '{"0","1 microsecond"}');
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('7 days 1 second',              $$SELECT ticket.rotate_pass_key('7 days 1 second')$$),
	('1 month',                      $$SELECT ticket.rotate_pass_key('1 month')$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.rotate_pass_key(interval)', $$SELECT ticket.rotate_pass_key()$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
