-- Bad input to ticket.pause_admission(concert_id): bad ids, concerts without
-- a waiting room, and roles without the grant; no queue is paused.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.pause_admission(%s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                $$SELECT ticket.pause_admission(999)$$),
	('concert without a waiting room', $$SELECT ticket.pause_admission(1)$$),
	('draft without a waiting room',   $$SELECT ticket.pause_admission(4)$$),
	('cancelled concert',              $$SELECT ticket.pause_admission(5)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.pause_admission(bigint)', $$SELECT ticket.pause_admission(3)$$);
SELECT admission_paused_at IS NULL AS not_paused FROM ticket.queue WHERE concert_id = 3;
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
