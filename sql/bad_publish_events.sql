-- Bad input to ticket.publish_events(max_events): sizes out of range, and
-- roles without the grant; nothing is published.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('max_events', 'int4', $$SELECT ticket.publish_events(%s)$$);
SELECT * FROM pg_temp.no_grant('ticket.publish_events(int)', $$SELECT ticket.publish_events()$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
