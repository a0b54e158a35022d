-- Passes: signing, checking, every way a pass can be refused, key rotation,
-- and who may read the keys.
\i test/regress_setup.sql

-- One key exists from CREATE EXTENSION.
SELECT key_id, length(secret) AS bytes, retired_at FROM ticket.pass_key;

SELECT ticket._sign_pass(7, 'alice', 42, now() + interval '10 minutes') AS pass \gset
-- A pass is text: version, key, concert, place, expiry, then a 43-character signature.
SELECT :'pass' ~ '^t1\.1\.7\.42\.[0-9]+\.[A-Za-z0-9_-]{43}$' AS well_formed;
SELECT ticket.check_pass(:'pass', 7, 'alice') AS place;

-- Refused, each with 28000 and nothing else.
SELECT pg_temp.err(format($$SELECT ticket.check_pass(%L, 7, 'bob')$$, :'pass'));
SELECT pg_temp.err(format($$SELECT ticket.check_pass(%L, 8, 'alice')$$, :'pass'));
SELECT pg_temp.err(format($$SELECT ticket.check_pass(%L, 7, 'alice')$$,
	left(:'pass', -1) || CASE right(:'pass', 1) WHEN 'A' THEN 'B' ELSE 'A' END));
SELECT pg_temp.err(format($$SELECT ticket.check_pass(%L, 7, 'alice')$$,
	regexp_replace(:'pass', '^t1\.1\.7\.42\.', 't1.1.7.41.')));
SELECT pg_temp.err(format($$SELECT ticket.check_pass(%L, 7, 'alice')$$,
	regexp_replace(:'pass', '^t1\.1\.7\.42\.[0-9]+', 't1.1.7.42.9999999999')));
SELECT pg_temp.err(format($$SELECT ticket.check_pass(%L, 7, 'alice')$$,
	regexp_replace(:'pass', '^t1\.1\.', 't1.99.')));
SELECT pg_temp.err(format($$SELECT ticket.check_pass(%L, 7, 'alice')$$,
	ticket._sign_pass(7, 'alice', 42, now() - interval '1 second')));
SELECT pg_temp.err($$SELECT ticket.check_pass('', 7, 'alice')$$);
SELECT pg_temp.err($$SELECT ticket.check_pass('t1', 7, 'alice')$$);
SELECT pg_temp.err($$SELECT ticket.check_pass('t2.1.7.42.1.xxx', 7, 'alice')$$);
SELECT pg_temp.err($$SELECT ticket.check_pass('t1.1.7.42.99999999999.short', 7, 'alice')$$);
SELECT pg_temp.err($$SELECT ticket.check_pass('t1.1.7.-42.99999999999.' || repeat('A', 43), 7, 'alice')$$);
SELECT pg_temp.err($$SELECT ticket.check_pass('t1.1.7.42.99999999999999999999999.' || repeat('A', 43), 7, 'alice')$$);
SELECT pg_temp.err($$SELECT ticket.check_pass('t1.1.7.42.9999999999.' || repeat('A', 44), 7, 'alice')$$);
SELECT pg_temp.err($$SELECT ticket.check_pass('t1..7.42.9999999999.' || repeat('A', 43), 7, 'alice')$$);
SELECT pg_temp.err($$SELECT ticket.check_pass('t1.4294967296.7.42.9999999999.' || repeat('A', 43), 7, 'alice')$$);
-- One spelling per pass: the signature covers the numbers, not how they are
-- written, so a leading zero (or a sign) would respell a valid pass; it is
-- malformed instead.  A lone 0 is a number.
SELECT pg_temp.err(format($$SELECT ticket.check_pass(%L, 7, 'alice')$$,
	regexp_replace(:'pass', '^t1\.1\.', 't1.01.')));
SELECT pg_temp.err(format($$SELECT ticket.check_pass(%L, 7, 'alice')$$,
	regexp_replace(:'pass', '^t1\.1\.7\.', 't1.1.007.')));
SELECT pg_temp.err(format($$SELECT ticket.check_pass(%L, 7, 'alice')$$,
	regexp_replace(:'pass', '^t1\.1\.7\.42\.', 't1.1.7.042.')));
SELECT pg_temp.err(format($$SELECT ticket.check_pass(%L, 7, 'alice')$$,
	regexp_replace(:'pass', '^t1\.1\.7\.42\.', 't1.1.7.42.0')));
SELECT pg_temp.err(format($$SELECT ticket.check_pass(%L, 7, 'alice')$$,
	regexp_replace(:'pass', '^t1\.1\.7\.42\.', 't1.1.7.+42.')));
SELECT ticket.check_pass(ticket._sign_pass(7, 'alice', 0, now() + interval '1 minute'), 7, 'alice') AS place_zero;
-- The signature is 43 characters of base64url; anything else is malformed.
SELECT pg_temp.err($$SELECT ticket.check_pass('t1.1.7.42.9999999999.' || repeat('=', 43), 7, 'alice')$$);
SELECT pg_temp.err(format($$SELECT ticket.check_pass(%L, 7, 'alice')$$, left(:'pass', -1) || '.'));
SELECT pg_temp.err($$SELECT ticket.check_pass(NULL, 7, 'alice')$$);
SELECT pg_temp.err($$SELECT ticket.check_pass('x', NULL, 'alice')$$);
SELECT pg_temp.err($$SELECT ticket.check_pass('x', 7, NULL)$$);
SELECT pg_temp.err($$SELECT ticket._sign_pass(7, NULL, 1, now())$$);

-- Rotation: the new key signs; the old one keeps checking until retired.
SELECT ticket.rotate_pass_key() AS new_key;
SELECT key_id, retired_at > now() + interval '59 minutes' AS retires_in_an_hour FROM ticket.pass_key ORDER BY key_id;
SELECT ticket._sign_pass(7, 'alice', 43, now() + interval '10 minutes') AS pass2 \gset
SELECT split_part(:'pass2', '.', 2) AS signed_by;
SELECT ticket.check_pass(:'pass', 7, 'alice') AS old_pass, ticket.check_pass(:'pass2', 7, 'alice') AS new_pass;
-- Retire at once: passes of the old keys are refused.
SELECT ticket.rotate_pass_key('0 seconds') AS newest;
SELECT pg_temp.err(format($$SELECT ticket.check_pass(%L, 7, 'alice')$$, :'pass'));
SELECT pg_temp.err(format($$SELECT ticket.check_pass(%L, 7, 'alice')$$, :'pass2'));
SELECT ticket.check_pass(ticket._sign_pass(7, 'alice', 44, now() + interval '1 minute'), 7, 'alice') AS newest_pass;
SELECT pg_temp.err($$SELECT ticket.rotate_pass_key(NULL)$$);
SELECT pg_temp.err($$SELECT ticket.rotate_pass_key('-1 second')$$);
SELECT pg_temp.err($$SELECT ticket.rotate_pass_key('8 days')$$);
SELECT count(*) AS keys FROM ticket.pass_key;
-- Many live keys (issue 15: past 64 the cache broke, and every later call
-- signed with a retired key): 70 rotations a day apart, every key live.
SELECT count(ticket.rotate_pass_key('1 day')) AS rotations FROM generate_series(1, 70);
SELECT count(*) AS live_keys FROM ticket.pass_key WHERE retired_at IS NULL OR retired_at > now();
SELECT split_part(ticket._sign_pass(7, 'alice', 45, now() + interval '1 minute'), '.', 2)::int
	   = (SELECT max(key_id) FROM ticket.pass_key) AS signed_by_newest;
SELECT ticket.check_pass(ticket._sign_pass(7, 'alice', 45, now() + interval '1 minute'), 7, 'alice') AS many_keys_pass;
-- Keys retired over a day ago are deleted at the next rotation.
UPDATE ticket.pass_key SET retired_at = now() - interval '25 hours' WHERE key_id < (SELECT max(key_id) FROM ticket.pass_key);
SELECT ticket.rotate_pass_key('0 seconds') > 0 AS rotated_again;
SELECT count(*) AS keys_left FROM ticket.pass_key;
SELECT ticket.check_pass(ticket._sign_pass(7, 'alice', 46, now() + interval '1 minute'), 7, 'alice') AS after_purge;

-- Only a superuser reads the keys; customers and admins can check passes.
SELECT ticket._sign_pass(7, 'carol', 5, now() + interval '1 minute') AS cpass \gset
SET ROLE ticket_customer;
SELECT pg_temp.err($$SELECT secret FROM ticket.pass_key$$);
SELECT pg_temp.err($$SELECT ticket._sign_pass(7, 'alice', 1, now() + interval '1 minute')$$);
SELECT pg_temp.err($$SELECT ticket.rotate_pass_key()$$);
SELECT ticket.check_pass(:'cpass', 7, 'carol') AS customer_checks;
RESET ROLE;
SET ROLE ticket_admin;
SELECT pg_temp.err($$SELECT secret FROM ticket.pass_key$$);
SELECT ticket.rotate_pass_key() > 3 AS admin_rotates;
RESET ROLE;
