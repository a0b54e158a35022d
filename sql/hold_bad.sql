-- Bad input to the public functions of src/hold.sql, one part per function:
-- hold, hold_best, release.  The fixture (test/bad_setup.sql) is loaded once
-- for all of them: each part checks that it wrote nothing, so the next finds
-- the fixture as it was.
\i test/bad_setup.sql

-- Bad input to ticket.hold: every argument's bad values, other concerts'
-- seats, other users' keys, bad passes at the waiting-room concert 3, and
-- roles without the grant.  Each ends in its SQLSTATE, or in the status the
-- design gives an expected outcome (taken, limit, closed), and writes
-- nothing.
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

-- Bad input to ticket.hold_best: every argument's bad values, other
-- concerts' sections, other users' keys, bad passes at the waiting-room
-- concert 3, and roles without the grant.  Each ends in its SQLSTATE, or in
-- the status the design gives an expected outcome, and writes nothing.
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT (ticket.hold_best(%s, 'dave', 1, 1)).status$$);
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT (ticket.hold_best(1, %s, 1, 1)).status$$);
SELECT * FROM pg_temp.each('section_id', 'int4', $$SELECT (ticket.hold_best(1, 'dave', %s, 1)).status$$);
SELECT * FROM pg_temp.each('quantity', 'int4', $$SELECT (ticket.hold_best(1, 'dave', 1, %s)).status$$);
SELECT * FROM pg_temp.each('adjacent', 'bool', $$SELECT (ticket.hold_best(1, 'dave', 1, 1, %s)).status$$);
SELECT * FROM pg_temp.each('idempotency_key', 'text', $$SELECT (ticket.hold_best(1, 'dave', 1, 1, idempotency_key => %s)).status$$, '{"NULL"}');
SELECT * FROM pg_temp.each('client_key', 'text', $$SELECT (ticket.hold_best(1, 'dave', 1, 1, client_key => %s)).status$$, '{"NULL"}');
SELECT * FROM pg_temp.each('pass', 'text', $$SELECT (ticket.hold_best(3, 'alice', 1, 1, pass => %s)).status$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                $$SELECT (ticket.hold_best(999, 'dave', 1, 1)).status$$),
	('draft concert',                  $$SELECT (ticket.hold_best(4, 'dave', 1, 1)).status$$),
	('cancelled concert',              $$SELECT (ticket.hold_best(5, 'dave', 1, 1)).status$$),
	('concert 1''s Pit at concert 2',   $$SELECT (ticket.hold_best(2, 'dave', 2, 1)).status$$),
	('quantity over the limit',        $$SELECT (ticket.hold_best(1, 'dave', 2, 5)).status$$),
	('alice over her limit',           $$SELECT (ticket.hold_best(1, 'alice', 2, 2)).status$$),
	('alice''s key, another request',   $$SELECT (ticket.hold_best(1, 'alice', 2, 1, idempotency_key => 'ka')).status$$),
	('queue concert, no pass',         $$SELECT (ticket.hold_best(3, 'alice', 1, 1)).status$$),
	('pass forged',                    $$SELECT (ticket.hold_best(3, 'alice', 1, 1, pass => pg_temp.v('pass_forged'))).status$$),
	('pass truncated',                 $$SELECT (ticket.hold_best(3, 'alice', 1, 1, pass => pg_temp.v('pass_truncated'))).status$$),
	('pass expired',                   $$SELECT (ticket.hold_best(3, 'alice', 1, 1, pass => pg_temp.v('pass_expired'))).status$$),
	('pass of concert 1',              $$SELECT (ticket.hold_best(3, 'alice', 1, 1, pass => pg_temp.v('pass_concert_1'))).status$$),
	('pass with its place changed',    $$SELECT (ticket.hold_best(3, 'alice', 1, 1, pass => pg_temp.v('pass_place_changed'))).status$$),
	('bob''s pass replayed by alice',   $$SELECT (ticket.hold_best(3, 'alice', 1, 1, pass => pg_temp.v('pass_bob'))).status$$),
	('alice''s pass replayed by carol', $$SELECT (ticket.hold_best(3, 'carol', 1, 1, pass => pg_temp.v('pass_alice'))).status$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.hold_best(bigint, text, int, int, boolean, text, text, text)', $$SELECT (ticket.hold_best(1, 'dave', 1, 1)).status$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
SELECT count(*) AS violations FROM ticket.verify();

-- Bad input to ticket.release(hold_id, user_id): bad ids and texts, other
-- users' holds, holds in checkout, and roles without the grant.
SELECT * FROM pg_temp.each('hold_id', 'int8', $$SELECT ticket.release(%s, 'alice')$$);
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT ticket.release(1, %s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown hold',                    $$SELECT ticket.release(999, 'alice')$$),
	('bob''s hold released by alice',    $$SELECT ticket.release(2, 'alice')$$),
	('carol''s hold (concert 2) by alice', $$SELECT ticket.release(4, 'alice')$$),
	('bob''s hold in checkout, by bob',  $$SELECT ticket.release(3, 'bob')$$),
	('bob''s hold in checkout, by alice', $$SELECT ticket.release(3, 'alice')$$),
	('user_id 129 characters',          $$SELECT ticket.release(1, repeat('é', 129))$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.release(bigint, text)', $$SELECT ticket.release(1, 'alice')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
