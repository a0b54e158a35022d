-- ticket.metrics() takes no argument: only roles without the grant.
\i test/bad_setup.sql
SELECT * FROM pg_temp.no_grant('ticket.metrics()', $$SELECT count(*) FROM ticket.metrics()$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
