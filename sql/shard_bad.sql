-- Bad input to ticket.set_shard(shard): NULL, out of range, a database that
-- has already handed out ids of shard 0 (the fixture's concerts, holds and
-- orders), and every role (only the owner may move the id sequences);
-- the roles that may not ask ticket.shard().
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('shard', 'int4', $$SELECT count(*) FROM ticket.set_shard(%s)$$, '{"0"}');
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('above 8999',                  $$SELECT count(*) FROM ticket.set_shard(9000)$$),
	('ids of shard 0 handed out',   $$SELECT count(*) FROM ticket.set_shard(1)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.set_shard(integer)', $$SELECT count(*) FROM ticket.set_shard(0)$$);
-- ticket.shard() takes no input; only the router's roles may ask.
SELECT * FROM pg_temp.no_grant('ticket.shard()', $$SELECT ticket.shard()$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
