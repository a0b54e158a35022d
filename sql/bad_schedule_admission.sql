-- Bad input to ticket.schedule_admission(concert_id): bad ids, concerts without a
-- waiting room or not on sale, and roles without the grant.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.schedule_admission(%s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                $$SELECT ticket.schedule_admission(999)$$),
	('concert without a waiting room', $$SELECT ticket.schedule_admission(1)$$),
	('cancelled concert',              $$SELECT ticket.schedule_admission(5)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.schedule_admission(bigint)', $$SELECT ticket.schedule_admission(3)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
