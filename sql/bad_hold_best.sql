-- Bad input to ticket.hold_best: every argument's bad values, other
-- concerts' sections, other users' keys, bad passes at the waiting-room
-- concert 3, and roles without the grant.  Each ends in its SQLSTATE, or in
-- the status the design gives an expected outcome, and writes nothing.
\i test/bad_setup.sql
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
