-- Bad input to ticket.hold: every argument's bad values, other concerts'
-- seats, other users' keys, bad passes at the waiting-room concert 3, and
-- roles without the grant.  Each ends in its SQLSTATE, or in the status the
-- design gives an expected outcome (taken, limit, closed), and writes
-- nothing.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT (ticket.hold(%s, 'dave', ARRAY[6])).status$$);
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT (ticket.hold(1, %s, ARRAY[6])).status$$);
SELECT * FROM pg_temp.each('seat_ids', 'int4[]', $$SELECT (ticket.hold(1, 'dave', %s)).status$$);
SELECT * FROM pg_temp.each('idempotency_key', 'text', $$SELECT (ticket.hold(1, 'dave', ARRAY[6], %s)).status$$, '{"NULL"}');
SELECT * FROM pg_temp.each('client_key', 'text', $$SELECT (ticket.hold(1, 'dave', ARRAY[6], client_key => %s)).status$$, '{"NULL"}');
SELECT * FROM pg_temp.each('pass', 'text', $$SELECT (ticket.hold(3, 'alice', ARRAY[2], pass => %s)).status$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                $$SELECT (ticket.hold(999, 'dave', ARRAY[1])).status$$),
	('draft concert',                  $$SELECT (ticket.hold(4, 'dave', ARRAY[1])).status$$),
	('cancelled concert',              $$SELECT (ticket.hold(5, 'dave', ARRAY[1])).status$$),
	('seat past the concert''s seats',  $$SELECT (ticket.hold(2, 'dave', ARRAY[6])).status$$),
	('seat held by bob',               $$SELECT (ticket.hold(1, 'dave', ARRAY[6, 3])).status$$),
	('seat in bob''s checkout',         $$SELECT (ticket.hold(1, 'dave', ARRAY[4])).status$$),
	('over the per-user limit',        $$SELECT (ticket.hold(1, 'dave', ARRAY[6, 7, 8, 9, 10])).status$$),
	('alice over her limit',           $$SELECT (ticket.hold(1, 'alice', ARRAY[6, 7])).status$$),
	('alice''s key, other seats',       $$SELECT (ticket.hold(1, 'alice', ARRAY[6], 'ka')).status$$),
	('key 256 characters',             $$SELECT (ticket.hold(1, 'dave', ARRAY[6], repeat('k', 256))).status$$),
	('user_id 129 characters',         $$SELECT (ticket.hold(1, repeat('é', 129), ARRAY[6])).status$$),
	('queue concert, no pass',         $$SELECT (ticket.hold(3, 'alice', ARRAY[2])).status$$),
	('pass forged',                    $$SELECT (ticket.hold(3, 'alice', ARRAY[2], pass => pg_temp.v('pass_forged'))).status$$),
	('pass truncated',                 $$SELECT (ticket.hold(3, 'alice', ARRAY[2], pass => pg_temp.v('pass_truncated'))).status$$),
	('pass expired',                   $$SELECT (ticket.hold(3, 'alice', ARRAY[2], pass => pg_temp.v('pass_expired'))).status$$),
	('pass of concert 1',              $$SELECT (ticket.hold(3, 'alice', ARRAY[2], pass => pg_temp.v('pass_concert_1'))).status$$),
	('pass with its place changed',    $$SELECT (ticket.hold(3, 'alice', ARRAY[2], pass => pg_temp.v('pass_place_changed'))).status$$),
	('bob''s pass replayed by alice',   $$SELECT (ticket.hold(3, 'alice', ARRAY[2], pass => pg_temp.v('pass_bob'))).status$$),
	('alice''s pass replayed by carol', $$SELECT (ticket.hold(3, 'carol', ARRAY[2], pass => pg_temp.v('pass_alice'))).status$$),
	('alice''s pass, 10,000 chars more', $$SELECT (ticket.hold(3, 'alice', ARRAY[2], pass => pg_temp.v('pass_alice') || repeat('A', 10000))).status$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.hold(bigint, text, int[], text, text, text)', $$SELECT (ticket.hold(1, 'dave', ARRAY[6])).status$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
SELECT count(*) AS violations FROM ticket.verify();
