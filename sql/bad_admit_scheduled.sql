-- ticket.admit_scheduled() takes no argument: only roles without the grant.
\i test/bad_setup.sql
SELECT * FROM pg_temp.no_grant('ticket.admit_scheduled()', $$SELECT ticket.admit_scheduled()$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
