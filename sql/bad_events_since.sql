-- Bad input to ticket.events_since(after_id, max_events, of_concert): bad
-- ids and sizes, and roles without the grant.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('after_id', 'int8', $$SELECT count(*) FROM ticket.events_since(%s)$$, '{"0"}');
SELECT * FROM pg_temp.each('max_events', 'int4', $$SELECT count(*) FROM ticket.events_since(0, %s)$$);
SELECT * FROM pg_temp.each('of_concert', 'int8', $$SELECT count(*) FROM ticket.events_since(0, 10, %s)$$, '{"NULL"}');
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                $$SELECT count(*) FROM ticket.events_since(0, 10, 999)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.events_since(bigint, int, bigint)', $$SELECT count(*) FROM ticket.events_since(0)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
