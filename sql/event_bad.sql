-- Bad input to the public functions of src/event.sql, one part per function:
-- publish_events, events_since.  The fixture (test/bad_setup.sql) is loaded
-- once for all of them: each part checks that it wrote nothing, so the next
-- finds the fixture as it was.
\i test/bad_setup.sql

-- Bad input to ticket.publish_events(max_events): sizes out of range, and
-- roles without the grant; nothing is published.
SELECT * FROM pg_temp.each('max_events', 'int4', $$SELECT ticket.publish_events(%s)$$);
SELECT * FROM pg_temp.no_grant('ticket.publish_events(int)', $$SELECT ticket.publish_events()$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.events_since(after_id, max_events, of_concert): bad
-- ids and sizes, and roles without the grant.
SELECT * FROM pg_temp.each('after_id', 'int8', $$SELECT count(*) FROM ticket.events_since(%s)$$, '{"0"}');
SELECT * FROM pg_temp.each('max_events', 'int4', $$SELECT count(*) FROM ticket.events_since(0, %s)$$);
SELECT * FROM pg_temp.each('of_concert', 'int8', $$SELECT count(*) FROM ticket.events_since(0, 10, %s)$$, '{"NULL"}');
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                $$SELECT count(*) FROM ticket.events_since(0, 10, 999)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.events_since(bigint, int, bigint)', $$SELECT count(*) FROM ticket.events_since(0)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to the internal ticket._hold_event_bound(handed_out) (0.7) and
-- ticket._unpublished(): no role of the extension may call them, and the
-- bound's input is checked.
SELECT * FROM pg_temp.each('handed_out', 'int8', $$SELECT ticket._hold_event_bound(%s) >= 0$$);
SELECT * FROM pg_temp.no_grant('ticket._hold_event_bound(bigint)', $$SELECT ticket._hold_event_bound(0)$$);
SELECT * FROM pg_temp.no_grant('ticket._unpublished()', $$SELECT * FROM ticket._unpublished()$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
