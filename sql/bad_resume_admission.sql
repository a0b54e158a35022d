-- Bad input to ticket.resume_admission(concert_id): bad ids, concerts
-- without a waiting room, and roles without the grant; a paused queue stays
-- paused.
\i test/bad_setup.sql
-- Concert 3 paused (as the admin would), so that a resume would write.
SELECT ticket.pause_admission(3) AS paused;
SELECT pg_temp.fp() AS fp0 \gset
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.resume_admission(%s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                $$SELECT ticket.resume_admission(999)$$),
	('concert without a waiting room', $$SELECT ticket.resume_admission(1)$$),
	('draft without a waiting room',   $$SELECT ticket.resume_admission(4)$$),
	('cancelled concert',              $$SELECT ticket.resume_admission(5)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.resume_admission(bigint)', $$SELECT ticket.resume_admission(3)$$);
SELECT admission_paused_at IS NOT NULL AS still_paused FROM ticket.queue WHERE concert_id = 3;
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
