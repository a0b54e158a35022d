-- Bad input to the public functions of src/queue.sql, one part per function:
-- queue_status, leave_queue, admit, admit_scheduled, schedule_admission,
-- unschedule_admission, run_admission, draw_order, pause_admission, challenge,
-- join_queue, resume_admission.  The fixture (test/bad_setup.sql) is loaded
-- once for all of them: each part checks that it wrote nothing, so the next
-- finds the fixture as it was.  join_queue (concert 6, with proof of work) and
-- resume_admission (concert 3 paused) first add state of their own and take a
-- new fp0, so they come last (resume_admission does not use concert 6).
\i test/bad_setup.sql

-- Bad input to ticket.queue_status(concert_id, user_id): bad ids and texts,
-- concerts without a waiting room, and roles without the grant.
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT (ticket.queue_status(%s, 'alice')).state$$);
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT (ticket.queue_status(3, %s)).state$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                $$SELECT (ticket.queue_status(999, 'alice')).state$$),
	('concert without a waiting room', $$SELECT (ticket.queue_status(1, 'alice')).state$$),
	('cancelled concert',              $$SELECT (ticket.queue_status(5, 'alice')).state$$),
	('user_id 129 characters',         $$SELECT (ticket.queue_status(3, repeat('é', 129))).state$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.queue_status(bigint, text)', $$SELECT (ticket.queue_status(3, 'alice')).state$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.leave_queue(concert_id, user_id): bad ids and texts,
-- concerts without a waiting room, and roles without the grant.
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT (ticket.leave_queue(%s, 'alice')).state$$);
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT (ticket.leave_queue(3, %s)).state$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                $$SELECT (ticket.leave_queue(999, 'alice')).state$$),
	('concert without a waiting room', $$SELECT (ticket.leave_queue(1, 'alice')).state$$),
	('cancelled concert',              $$SELECT (ticket.leave_queue(5, 'alice')).state$$),
	('user_id 129 characters',         $$SELECT (ticket.leave_queue(3, repeat('é', 129))).state$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.leave_queue(bigint, text)', $$SELECT (ticket.leave_queue(3, 'alice')).state$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.admit(concert_id): bad ids, concerts without a
-- waiting room or not on sale, and roles without the grant.
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.admit(%s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                $$SELECT ticket.admit(999)$$),
	('concert without a waiting room', $$SELECT ticket.admit(1)$$),
	('cancelled concert',              $$SELECT ticket.admit(5)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.admit(bigint)', $$SELECT ticket.admit(3)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- ticket.admit_scheduled() takes no argument: only roles without the grant.
SELECT * FROM pg_temp.no_grant('ticket.admit_scheduled()', $$SELECT ticket.admit_scheduled()$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.schedule_admission(concert_id): bad ids, concerts without a
-- waiting room or not on sale, and roles without the grant.
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.schedule_admission(%s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                $$SELECT ticket.schedule_admission(999)$$),
	('concert without a waiting room', $$SELECT ticket.schedule_admission(1)$$),
	('cancelled concert',              $$SELECT ticket.schedule_admission(5)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.schedule_admission(bigint)', $$SELECT ticket.schedule_admission(3)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.unschedule_admission(concert_id): bad ids, concerts without a
-- waiting room or not on sale, and roles without the grant.
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.unschedule_admission(%s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                $$SELECT ticket.unschedule_admission(999)$$),
	('concert without a waiting room', $$SELECT ticket.unschedule_admission(1)$$),
	('cancelled concert',              $$SELECT ticket.unschedule_admission(5)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.unschedule_admission(bigint)', $$SELECT ticket.unschedule_admission(3)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to CALL ticket.run_admission(steps): steps out of 1-60, and
-- roles without the grant.  (It commits once a step, so a valid call cannot
-- run inside pg_temp.err; every case here must be refused before.)
SELECT * FROM pg_temp.each('steps', 'int4', $$CALL ticket.run_admission(%s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('61 steps',                       $$CALL ticket.run_admission(61)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.run_admission(int)', $$CALL ticket.run_admission(1)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.draw_order(concert_id, seed): bad ids, NULL and empty
-- seeds (any other seed gives its order),
-- concerts without a waiting room, and roles without the grant.
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT count(*) FROM ticket.draw_order(%s, decode(repeat('00', 32), 'hex'))$$);
SELECT * FROM pg_temp.each('seed', 'bytea', $$SELECT count(*) FROM ticket.draw_order(3, %s)$$, '{"31 bytes","1 MB"}');
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                $$SELECT count(*) FROM ticket.draw_order(999, decode(repeat('00', 32), 'hex'))$$),
	('concert without a waiting room', $$SELECT count(*) FROM ticket.draw_order(1, decode(repeat('00', 32), 'hex'))$$),
	('draft concert, no waiting room', $$SELECT count(*) FROM ticket.draw_order(4, decode(repeat('00', 32), 'hex'))$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.draw_order(bigint, bytea)', $$SELECT count(*) FROM ticket.draw_order(3, decode(repeat('00', 32), 'hex'))$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.pause_admission(concert_id): bad ids, concerts without
-- a waiting room, and roles without the grant; no queue is paused.
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

-- Bad input to ticket.challenge(concert_id, user_id): bad ids and texts,
-- concerts without a waiting room, and roles without the grant.
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.challenge(%s, 'alice') IS NOT NULL$$);
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT ticket.challenge(3, %s) IS NOT NULL$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                $$SELECT ticket.challenge(999, 'alice') IS NOT NULL$$),
	('concert without a waiting room', $$SELECT ticket.challenge(1, 'alice') IS NOT NULL$$),
	('cancelled concert',              $$SELECT ticket.challenge(5, 'alice') IS NOT NULL$$),
	('user_id 129 characters',         $$SELECT ticket.challenge(3, repeat('é', 129)) IS NOT NULL$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.challenge(bigint, text)', $$SELECT ticket.challenge(3, 'alice') IS NOT NULL$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.join_queue(concert_id, user_id, client_key,
-- challenge, solution): bad ids and texts, concerts without a waiting room,
-- forged, expired and other users' proof-of-work challenges, and roles
-- without the grant.  Concert 6 asks for proof of work (8 bits).
SELECT ticket.create_concert('PoW', '2100-06-01 20:00+00', now() + interval '1 day', queue => true, pow_bits => 8) AS pw \gset
SELECT ticket.add_section(:pw, 'Floor', 'A', 10, 1, 5) AS pw_floor \gset
INSERT INTO pg_temp.fixture VALUES ('ch_alice', ticket.challenge(6, 'alice')), ('ch_bob', ticket.challenge(6, 'bob'));
SELECT pg_temp.fp() AS fp0 \gset
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT (ticket.join_queue(%s, 'dave')).state$$);
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT (ticket.join_queue(3, %s)).state$$);
SELECT * FROM pg_temp.each('client_key', 'text', $$SELECT (ticket.join_queue(3, 'dave', client_key => %s)).state$$, '{"NULL"}');
SELECT * FROM pg_temp.each('challenge', 'text', $$SELECT (ticket.join_queue(6, 'alice', challenge => %s, solution => '1')).state$$);
SELECT * FROM pg_temp.each('solution', 'text', $$SELECT (ticket.join_queue(6, 'alice', challenge => pg_temp.v('ch_alice'), solution => %s)).state$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                $$SELECT (ticket.join_queue(999, 'dave')).state$$),
	('concert without a waiting room', $$SELECT (ticket.join_queue(1, 'dave')).state$$),
	('cancelled concert',              $$SELECT (ticket.join_queue(5, 'dave')).state$$),
	('user_id 129 characters',         $$SELECT (ticket.join_queue(3, repeat('é', 129))).state$$),
	('client_key 256 characters',      $$SELECT (ticket.join_queue(3, 'dave', client_key => repeat('c', 256))).state$$),
	('solution 65 characters',         $$SELECT (ticket.join_queue(6, 'alice', challenge => pg_temp.v('ch_alice'), solution => repeat('1', 65))).state$$),
	('solution without challenge',     $$SELECT (ticket.join_queue(6, 'alice', solution => '1')).state$$),
	('challenge without solution',     $$SELECT (ticket.join_queue(6, 'alice', challenge => pg_temp.v('ch_alice'))).state$$),
	('bob''s challenge used by alice',  $$SELECT (ticket.join_queue(6, 'alice', challenge => pg_temp.v('ch_bob'), solution => '1')).state$$),
	('challenge forged',               $$SELECT (ticket.join_queue(6, 'alice', challenge => left(pg_temp.v('ch_alice'), -1) || 'x', solution => '1')).state$$),
	('challenge truncated',            $$SELECT (ticket.join_queue(6, 'alice', challenge => left(pg_temp.v('ch_alice'), 20), solution => '1')).state$$),
	('challenge of concert 6 at 3',    $$SELECT (ticket.join_queue(3, 'alice', challenge => pg_temp.v('ch_alice'), solution => '1')).state$$),
	('a pass as the challenge',        $$SELECT (ticket.join_queue(6, 'alice', challenge => pg_temp.v('pass_alice'), solution => '1')).state$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.join_queue(bigint, text, text, text, text)', $$SELECT (ticket.join_queue(3, 'dave')).state$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.resume_admission(concert_id): bad ids, concerts
-- without a waiting room, and roles without the grant; a paused queue stays
-- paused.
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
