-- Bad input to the public functions of src/pass.sql, one part per function:
-- check_pass, rotate_pass_key.  The fixture (test/bad_setup.sql) is loaded
-- once for all of them: each part checks that it wrote nothing, so the next
-- finds the fixture as it was.
\i test/bad_setup.sql

-- Bad input to ticket.check_pass(pass, concert_id, user_id): malformed,
-- forged, truncated, expired and replayed passes, bad ids and texts, and
-- roles without the grant.  Every refusal is 28000 (or 22004 for NULL).
SELECT * FROM pg_temp.each('pass', 'text', $$SELECT ticket.check_pass(%s, 3, 'alice')$$);
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.check_pass(pg_temp.v('pass_alice'), %s, 'alice')$$);
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT ticket.check_pass(pg_temp.v('pass_alice'), 3, %s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('forged',                         $$SELECT ticket.check_pass(pg_temp.v('pass_forged'), 3, 'alice')$$),
	('truncated',                      $$SELECT ticket.check_pass(pg_temp.v('pass_truncated'), 3, 'alice')$$),
	('expired',                        $$SELECT ticket.check_pass(pg_temp.v('pass_expired'), 3, 'alice')$$),
	('of concert 1, checked at 3',     $$SELECT ticket.check_pass(pg_temp.v('pass_concert_1'), 3, 'alice')$$),
	('of concert 3, checked at 1',     $$SELECT ticket.check_pass(pg_temp.v('pass_alice'), 1, 'alice')$$),
	('place changed',                  $$SELECT ticket.check_pass(pg_temp.v('pass_place_changed'), 3, 'alice')$$),
	('bob''s pass replayed by alice',   $$SELECT ticket.check_pass(pg_temp.v('pass_bob'), 3, 'alice')$$),
	('10,000 characters more',         $$SELECT ticket.check_pass(pg_temp.v('pass_alice') || repeat('A', 10000), 3, 'alice')$$),
	('unknown version t9',             $$SELECT ticket.check_pass(regexp_replace(pg_temp.v('pass_alice'), '^t1', 't9'), 3, 'alice')$$),
	('key id 0',                       $$SELECT ticket.check_pass(regexp_replace(pg_temp.v('pass_alice'), '^t1\.1\.', 't1.0.'), 3, 'alice')$$),
	('key id int8 overflow',           $$SELECT ticket.check_pass(regexp_replace(pg_temp.v('pass_alice'), '^t1\.1\.', 't1.99999999999999999999.'), 3, 'alice')$$),
	('expiry int8 overflow',           $$SELECT ticket.check_pass(regexp_replace(pg_temp.v('pass_alice'), '^(t1\.1\.3\.[0-9]+\.)[0-9]+', '\199999999999999999999'), 3, 'alice')$$),
	('signature not base64url',        $$SELECT ticket.check_pass(regexp_replace(pg_temp.v('pass_alice'), '.{43}$', repeat('*', 43)), 3, 'alice')$$),
	('only dots',                      $$SELECT ticket.check_pass('.....', 3, 'alice')$$),
	('control characters',             $$SELECT ticket.check_pass(E't1.1.3.1.\x01.\n', 3, 'alice')$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.check_pass(text, bigint, text)', $$SELECT ticket.check_pass(pg_temp.v('pass_alice'), 3, 'alice')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.rotate_pass_key(retire_after): intervals out of 0 to
-- 7 days, and roles without the grant; no key is added.
SELECT * FROM pg_temp.each('retire_after', 'interval', $$SELECT ticket.rotate_pass_key(%s)$$, '{"0","1 microsecond"}');
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('7 days 1 second',              $$SELECT ticket.rotate_pass_key('7 days 1 second')$$),
	('1 month',                      $$SELECT ticket.rotate_pass_key('1 month')$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.rotate_pass_key(interval)', $$SELECT ticket.rotate_pass_key()$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
