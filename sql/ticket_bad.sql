-- Bad input to the public functions of src/ticket.sql, one part per function:
-- preloaded, counters.  The fixture (test/bad_setup.sql) is loaded once for
-- all of them: each part checks that it wrote nothing, so the next finds the
-- fixture as it was.
\i test/bad_setup.sql

-- ticket.preloaded() takes no argument: only roles without the grant.
SELECT * FROM pg_temp.no_grant('ticket.preloaded()', $$SELECT count(*) FROM ticket.preloaded()$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- ticket.counters() takes no argument: only roles without the grant.
SELECT * FROM pg_temp.no_grant('ticket.counters()', $$SELECT count(*) FROM ticket.counters()$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
