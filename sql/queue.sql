-- The waiting room: pre-queue and draw, places and positions, admission,
-- passes at hold, expiry, the cap, inventory, closing, blocking, rate
-- limits, proof of work, pg_cron scheduling, and every bad input.
\i test/regress_setup.sql
-- Counters are server-wide (other files bump them too): remember where they start.
CREATE TEMP TABLE counters0 AS SELECT counter, value FROM ticket.counters();

-- A brute-force solver for proof-of-work challenges (test/pow-solve is the
-- reference one for clients): SHA-256(challenge:n) with bits leading zeros.
CREATE FUNCTION pg_temp.solve(challenge text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	bits integer := split_part(challenge, '.', 4)::integer;
	d bytea;
	i bigint := 0;
BEGIN
	LOOP
		d := sha256(convert_to(challenge || ':' || i, 'UTF8'));
		IF coalesce(nullif(position('1' IN (get_byte(d, 0)::bit(8) || get_byte(d, 1)::bit(8)
							|| get_byte(d, 2)::bit(8))::text), 0) - 1, 24) >= bits THEN
			RETURN i::text;
		END IF;
		i := i + 1;
	END LOOP;
END
$$;

SELECT ticket.create_concert('Queue Night', now() + interval '30 days', now() + interval '1 day',
	queue => true, admit_rate => 2, per_user_limit => 2) AS c \gset
SELECT ticket.add_section(:c, 'Floor', 'A', 50, 2, 4);
SELECT ticket.create_concert('No Queue', now() + interval '30 days', now() + interval '1 day') AS nq \gset
SELECT ticket.add_section(:nq, 'Floor', 'A', 50, 1, 4);

-- Bad input: an error with its SQLSTATE, and nothing written.
SELECT pg_temp.err($$SELECT ticket.join_queue(NULL, 'ann')$$);
SELECT pg_temp.err(format($$SELECT ticket.join_queue(%s, NULL)$$, :c));
SELECT pg_temp.err(format($$SELECT ticket.join_queue(%s, '  ')$$, :c));
SELECT pg_temp.err(format($$SELECT ticket.join_queue(%s, repeat('x', 129))$$, :c));
SELECT pg_temp.err(format($$SELECT ticket.join_queue(%s, 'ann', client_key => repeat('x', 256))$$, :c));
SELECT pg_temp.err(format($$SELECT ticket.join_queue(%s, 'ann', client_key => '')$$, :c));
SELECT pg_temp.err(format($$SELECT ticket.join_queue(%s, 'ann', solution => repeat('x', 65))$$, :c));
SELECT pg_temp.err($$SELECT ticket.join_queue(999, 'ann')$$);
SELECT pg_temp.err(format($$SELECT ticket.join_queue(%s, 'ann')$$, :nq));
SELECT pg_temp.err($$SELECT ticket.queue_status(NULL, 'ann')$$);
SELECT pg_temp.err(format($$SELECT ticket.queue_status(%s, NULL)$$, :c));
SELECT pg_temp.err(format($$SELECT ticket.queue_status(%s, '')$$, :c));
SELECT pg_temp.err(format($$SELECT ticket.queue_status(%s, repeat('é', 129))$$, :c));
SELECT pg_temp.err($$SELECT ticket.queue_status(999, 'ann')$$);
SELECT pg_temp.err(format($$SELECT ticket.queue_status(%s, 'ann')$$, :nq));
SELECT pg_temp.err($$SELECT ticket.leave_queue(NULL, 'ann')$$);
SELECT pg_temp.err($$SELECT ticket.leave_queue(999, 'ann')$$);
SELECT pg_temp.err(format($$SELECT ticket.leave_queue(%s, 'ann')$$, :nq));
SELECT pg_temp.err(format($$SELECT ticket.leave_queue(%s, NULL)$$, :c));
SELECT pg_temp.err($$SELECT ticket.admit(NULL)$$);
SELECT pg_temp.err($$SELECT ticket.admit(999)$$);
SELECT pg_temp.err(format($$SELECT ticket.admit(%s)$$, :nq));
SELECT pg_temp.err($$SELECT ticket.challenge(999, 'ann')$$);
SELECT pg_temp.err(format($$SELECT ticket.challenge(%s, 'ann')$$, :nq));
SELECT pg_temp.err(format($$SELECT ticket.challenge(%s, NULL)$$, :c));
SELECT pg_temp.err($$SELECT ticket.schedule_admission(999)$$);
SELECT pg_temp.err(format($$SELECT ticket.schedule_admission(%s)$$, :nq));
SELECT pg_temp.err(format($$SELECT ticket.unschedule_admission(%s)$$, :nq));
SELECT pg_temp.err($$CALL ticket.run_admission(0)$$);
SELECT pg_temp.err($$CALL ticket.run_admission(61)$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('x', now() + interval '2 days', now() + interval '1 day', pow_bits => 8)$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('x', now() + interval '2 days', now() + interval '1 day', queue => true, pow_bits => 33)$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('x', now() + interval '2 days', now() + interval '1 day', queue => true, pow_bits => -1)$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('x', now() + interval '2 days', now() + interval '1 day', queue => NULL)$$);
SELECT count(*) AS entries FROM ticket.queue_entry;
SELECT count(*) AS concerts FROM ticket.concert;

-- The pre-queue: no place before the draw; joining again keeps the entry.
SELECT state, place, "position", eta, pass_token FROM ticket.join_queue(:c, 'ann');
SELECT j.user_id, j.state, j.place FROM unnest(ARRAY['bob', 'cat', 'dan', 'eve', 'fay']) AS u, ticket.join_queue(:c, u) AS j;
SELECT state, place FROM ticket.join_queue(:c, 'ann');
SELECT state FROM ticket.leave_queue(:c, 'fay');
SELECT state FROM ticket.queue_status(:c, 'fay');
SELECT state FROM ticket.queue_status(:c, 'nobody');
-- Before opening the hash of the seed is published and the seed is not.
SELECT entries, prequeue, waiting, length(seed_hash) AS hash_chars, seed IS NULL AS seed_hidden
  FROM ticket.queues WHERE concert_id = :c;
SELECT seed_hash AS committed FROM ticket.queues WHERE concert_id = :c \gset
-- queue cannot be turned off once on sale; before, it can be changed.
SELECT ticket.update_concert(:c, pow_bits => 0);

-- Opening draws the pre-queue once, in the order the seed gives.
SELECT ticket.open_sale(:c);
SELECT prequeue, waiting, drawn, seed_hash = :'committed' AS same_hash,
	   encode(sha256(decode(seed, 'hex')), 'hex') = seed_hash AS seed_matches
  FROM ticket.queues WHERE concert_id = :c;
SELECT seed FROM ticket.queues WHERE concert_id = :c \gset
SELECT count(*) AS drawn, bool_and(e.seq = d.place AND e.draw_place = d.place) AS everyone_got_that_place,
	   array_agg(d.place ORDER BY d.place) AS places
  FROM ticket.draw_order(:c, decode(:'seed', 'hex')) AS d
  JOIN ticket.queue_entry AS e ON e.concert_id = :c AND e.user_id = d.user_id;
-- Anyone can recompute an order from a seed; other seeds give other orders.
SELECT (SELECT array_agg(user_id ORDER BY place) FROM ticket.draw_order(:c, '\x00'::bytea)) AS seed_00,
	   (SELECT array_agg(user_id ORDER BY place) FROM ticket.draw_order(:c, '\x01'::bytea)) AS seed_01;
SELECT pg_temp.err(format($$SELECT ticket.update_concert(%s, queue => false)$$, :c));
-- Positions are people ahead; the ETA is that over admit_rate.
SELECT s.state, s.place, s."position", s.eta FROM ticket.queue_entry AS e,
	   LATERAL ticket.queue_status(:c, e.user_id) AS s
 WHERE e.concert_id = :c ORDER BY s.place NULLS LAST, s.state;
-- Later joiners queue behind, first come first served: the next admission
-- step gives them places in join order (this one admits nobody: no time
-- has passed since the draw).
SELECT state, place, "position" FROM ticket.join_queue(:c, 'gus');
SELECT state, place, "position" FROM ticket.join_queue(:c, 'fay');
SELECT unplaced, last_place FROM ticket.queues WHERE concert_id = :c;
SELECT ticket.admit(:c) AS admitted;
SELECT state, place, "position" FROM ticket.queue_status(:c, 'gus');
SELECT state, place, "position" FROM ticket.queue_status(:c, 'fay');
SELECT unplaced, last_place FROM ticket.queues WHERE concert_id = :c;
SELECT * FROM ticket.verify(:c);

-- Admission: admit_rate 2 per second on elapsed time; a step just after
-- another admits nobody.  (Pretend a second has passed by moving last_tick.)
SELECT user_id AS first FROM ticket.queue_entry WHERE concert_id = :c AND seq = 1 \gset
SELECT user_id AS second FROM ticket.queue_entry WHERE concert_id = :c AND seq = 2 \gset
SELECT user_id AS third FROM ticket.queue_entry WHERE concert_id = :c AND seq = 3 \gset
UPDATE ticket.queue SET last_tick = clock_timestamp() - interval '1 second' WHERE concert_id = :c;
SELECT ticket.admit(:c) AS admitted;
SELECT ticket.admit(:c) AS admitted_again;
SELECT state, place, pass_token IS NOT NULL AS has_pass, expires_at > now() + interval '14 minutes' AS ttl
  FROM ticket.queue_status(:c, :'first');
SELECT state, "position" FROM ticket.queue_status(:c, :'third');
SELECT admitted_through, admitted, waiting FROM ticket.queues WHERE concert_id = :c;
-- A step after a long pause admits at most 1.25 seconds' worth, not a
-- burst: two of the five waiting; the next steps, a second apart, admit the rest.
UPDATE ticket.queue SET last_tick = clock_timestamp() - interval '1 hour' WHERE concert_id = :c;
SELECT ticket.admit(:c) AS admitted_after_pause;
SELECT admitted_through, admitted, waiting, effective_rate, rate_reason FROM ticket.queues WHERE concert_id = :c;
UPDATE ticket.queue SET last_tick = clock_timestamp() - interval '1 second' WHERE concert_id = :c;
SELECT ticket.admit(:c) AS admitted;
UPDATE ticket.queue SET last_tick = clock_timestamp() - interval '1 second' WHERE concert_id = :c;
SELECT ticket.admit(:c) AS admitted_the_last;
SELECT count(*) FILTER (WHERE state = 'admitted') AS admitted, count(*) FILTER (WHERE state = 'waiting') AS waiting
  FROM ticket.queue_entry WHERE concert_id = :c;

-- Holds need the user's own, live pass for this concert: 28000 otherwise,
-- and nothing written.
SELECT pass_token AS pass1 FROM ticket.queue_status(:c, :'first') \gset
SELECT pass_token AS pass2 FROM ticket.queue_status(:c, :'second') \gset
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, %L, '{1}')$$, :c, :'first'));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, %L, '{1}', pass => %L)$$, :c, :'first', :'pass2'));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, %L, '{1}', pass => %L)$$, :c, :'first',
	ticket._sign_pass(:nq, :'first', 1, now() + interval '1 minute')));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, %L, '{1}', pass => %L)$$, :c, :'first',
	ticket._sign_pass(:c, :'first', 1, now() - interval '1 second')));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, %L, '{1}', pass => %L)$$, :c, :'first',
	left(:'pass1', -1) || CASE right(:'pass1', 1) WHEN 'A' THEN 'B' ELSE 'A' END));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, %L, '{1}', pass => %L)$$, :c, :'first', left(:'pass1', 20)));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, %L, '{1}', pass => '')$$, :c, :'first'));
SELECT pg_temp.err(format($$SELECT ticket.hold_best(%s, %L, 1, 1)$$, :c, :'first'));
SELECT pg_temp.err(format($$SELECT ticket.hold_best(%s, %L, 1, 1, pass => %L)$$, :c, :'first', :'pass2'));
SELECT count(*) AS holds FROM ticket.hold;
SELECT status, seat_ids FROM ticket.hold(:c, :'first', '{1}', pass => :'pass1');
SELECT status, cardinality(seat_ids) FROM ticket.hold_best(:c, :'second', 1, 2, pass => :'pass2');
-- A concert without a queue takes no pass.
SELECT ticket.open_sale(:nq);
SELECT status FROM ticket.hold(:nq, 'ann', '{1}');

-- An admission expires after admission_ttl; joining again goes to the back.
UPDATE ticket.queue_entry SET expires_at = now() - interval '1 second' WHERE concert_id = :c AND user_id = :'third';
SELECT state, place, pass_token, expires_at < now() AS past FROM ticket.queue_status(:c, :'third');
SELECT state, place FROM ticket.join_queue(:c, :'third');
-- (A step that admits nobody, whatever the time since the last: it places the joiner.)
UPDATE ticket.queue SET last_tick = clock_timestamp(), tokens = 0 WHERE concert_id = :c;
SELECT ticket.admit(:c) AS admitted;
SELECT state, place > 5 AS at_the_back FROM ticket.queue_status(:c, :'third');

-- Leaving: those behind move up; an admitted user frees a slot.
SELECT count(*) AS joined FROM (SELECT ticket.join_queue(:c, 'u' || g) FROM generate_series(1, 3) AS g) AS j;
SELECT ticket.admit(:c) AS admitted;
SELECT state, "position" FROM ticket.queue_status(:c, 'u3');
SELECT state FROM ticket.leave_queue(:c, 'u1');
SELECT state, "position" FROM ticket.queue_status(:c, 'u3');
SELECT state FROM ticket.leave_queue(:c, 'u1');
SELECT state FROM ticket.leave_queue(:c, 'nobody');
SELECT departed, waiting FROM ticket.queues WHERE concert_id = :c;

-- The cap: at most max_active admitted at once.
SELECT ticket.update_concert(:c, max_active => 6);
SELECT count(*) AS active FROM ticket.queue_entry WHERE concert_id = :c AND state = 'admitted' AND expires_at > now();
UPDATE ticket.queue SET last_tick = clock_timestamp() - interval '1 second' WHERE concert_id = :c;
SELECT ticket.admit(:c) AS admitted_under_cap;
-- Those waiting are told why it is slower.
SELECT rate_reason FROM ticket.queues WHERE concert_id = :c;
SELECT state, note FROM ticket.queue_status(:c, 'u3');
SELECT state FROM ticket.leave_queue(:c, :'first');
UPDATE ticket.queue SET last_tick = clock_timestamp() - interval '1 second' WHERE concert_id = :c;
SELECT ticket.admit(:c) AS admitted_after_one_left;
SELECT ticket.update_concert(:c, max_active => 0);

-- Inventory: no free seat but live holds pauses admission; nothing that can
-- come back makes the waiting users sold_out; free seats resume it.
BEGIN;
UPDATE ticket.seat SET state = 'held', held_until = now() + interval '1 minute' WHERE concert_id = :c AND state = 'available';
UPDATE ticket.queue SET last_tick = clock_timestamp() - interval '5 seconds' WHERE concert_id = :c;
SELECT ticket.admit(:c) AS admitted_while_all_held;
SELECT paused_since IS NOT NULL AS paused, sold_out_at IS NULL AS not_sold_out FROM ticket.queues WHERE concert_id = :c;
UPDATE ticket.seat SET state = 'sold' WHERE concert_id = :c;
SELECT ticket.admit(:c) AS admitted_when_sold;
SELECT state, "position" FROM ticket.queue_status(:c, 'u3');
SELECT state FROM ticket.queue_status(:c, :'second');
UPDATE ticket.seat SET state = 'available', hold_id = NULL, held_until = NULL WHERE concert_id = :c AND seat_id = 5;
UPDATE ticket.queue SET last_tick = clock_timestamp() - interval '1 second' WHERE concert_id = :c;
SELECT ticket.admit(:c) AS admitted_when_a_seat_came_back;
SELECT state FROM ticket.queue_status(:c, 'u3');
ROLLBACK;

-- Blocking takes the user out of every line (those behind move up).
SELECT state, "position" FROM ticket.queue_status(:c, 'u3');
SELECT ticket.block_user('u2', 'bot');
SELECT state, place FROM ticket.queue_status(:c, 'u2');
SELECT state, "position" FROM ticket.queue_status(:c, 'u3');
SELECT state FROM ticket.join_queue(:c, 'u2');
SELECT ticket.unblock_user('u2');
SELECT state, place FROM ticket.join_queue(:c, 'u2');
UPDATE ticket.queue SET last_tick = clock_timestamp(), tokens = 0 WHERE concert_id = :c;
SELECT ticket.admit(:c) AS admitted;
SELECT state, place > 8 AS at_the_back FROM ticket.queue_status(:c, 'u2');

-- Rate limits apply at join (the user's bucket, and the client key's).
SET ticket.user_rate = 1;
SET ticket.user_burst = 1;
SELECT state FROM ticket.join_queue(:c, 'rita');
SELECT state FROM ticket.join_queue(:c, 'rita');
RESET ticket.user_rate;
RESET ticket.user_burst;
SET ticket.client_rate = 1;
SET ticket.client_burst = 1;
SELECT state FROM ticket.join_queue(:c, 'sam', client_key => '10.0.0.9');
SELECT state FROM ticket.join_queue(:c, 'tom', client_key => '10.0.0.9');
SELECT state FROM ticket.join_queue(:c, 'tom', client_key => '10.0.0.10');
RESET ticket.client_rate;
RESET ticket.client_burst;

-- Closing the sale: everyone still in line sees closed; joins too.
SELECT ticket.close_sale(:c);
SELECT state FROM ticket.queue_status(:c, 'u3');
SELECT state FROM ticket.queue_status(:c, :'second');
SELECT state FROM ticket.join_queue(:c, 'late');
SELECT ticket.admit(:c) AS admitted_when_closed;
SELECT * FROM ticket.verify(:c);

-- Proof of work: no solution -> challenge; a solved challenge joins; any
-- other solution, or someone else's challenge, is refused with 28000.
SELECT ticket.create_concert('Bot Night', now() + interval '30 days', now() + interval '1 day',
	queue => true, pow_bits => 8) AS pw \gset
SELECT ticket.add_standing(:pw, 'Pit', 'GA', 30, 100);
SELECT state FROM ticket.join_queue(:pw, 'ann');
SELECT ticket.challenge(:pw, 'ann') AS ch \gset
SELECT :'ch' ~ ('^w1\.1\.' || :pw || '\.8\.[0-9]+\.[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$') AS well_formed;
SELECT pg_temp.solve(:'ch') AS sol \gset
SELECT state FROM ticket.join_queue(:pw, 'ann', challenge => :'ch', solution => :'sol');
SELECT state FROM ticket.join_queue(:pw, 'ann');
SELECT pg_temp.err(format($$SELECT ticket.join_queue(%s, 'bob', challenge => %L, solution => %L)$$, :pw, :'ch', :'sol'));
SELECT ticket.challenge(:pw, 'bob') AS ch2 \gset
SELECT pg_temp.err(format($$SELECT ticket.join_queue(%s, 'bob', challenge => %L, solution => %L)$$, :pw, :'ch2',
	(SELECT g::text FROM generate_series(0, 1000) AS g
	  WHERE get_byte(sha256(convert_to(:'ch2' || ':' || g, 'UTF8')), 0) <> 0 LIMIT 1)));
SELECT pg_temp.err(format($$SELECT ticket.join_queue(%s, 'bob', challenge => %L, solution => %L)$$, :pw,
	regexp_replace(:'ch2', '\.8\.', '.1.'), '0'));
SELECT pg_temp.err(format($$SELECT ticket.join_queue(%s, 'bob', challenge => %L, solution => %L)$$, :pw,
	regexp_replace(:'ch2', '^w1\.1\.', 'w1.9.'), '0'));
SELECT pg_temp.err(format($$SELECT ticket.join_queue(%s, 'bob', challenge => %L, solution => %L)$$, :pw, 'w1.1.1.8.1.zz', '0'));
SELECT pg_temp.err(format($$SELECT ticket.join_queue(%s, 'bob', challenge => %L, solution => %L)$$, :pw, 'garbage', '0'));
-- One spelling per challenge, as for a pass: a leading zero, a sign, more than
-- 256 bits or an uppercase nonce is malformed before any signature is checked.
SELECT pg_temp.err(format($$SELECT ticket.join_queue(%s, 'bob', challenge => %L, solution => %L)$$, :pw,
	regexp_replace(:'ch2', '\.8\.', '.08.'), '0'));
SELECT pg_temp.err(format($$SELECT ticket.join_queue(%s, 'bob', challenge => %L, solution => %L)$$, :pw,
	regexp_replace(:'ch2', '\.8\.', '.-8.'), '0'));
SELECT pg_temp.err(format($$SELECT ticket.join_queue(%s, 'bob', challenge => %L, solution => %L)$$, :pw,
	regexp_replace(:'ch2', '\.8\.', '.257.'), '0'));
SELECT pg_temp.err(format($$SELECT ticket.join_queue(%s, 'bob', challenge => %L, solution => %L)$$, :pw,
	regexp_replace(:'ch2', '\.[0-9a-f]{16}\.', '.0123456789ABCDEF.'), '0'));
SELECT pg_temp.err(format($$SELECT ticket.join_queue(%s, 'bob', challenge => %L, solution => %L)$$, :pw, :'ch2', 'a b'));
SELECT ticket.create_concert('Bot Night 2', now() + interval '30 days', now() + interval '1 day',
	queue => true, pow_bits => 1) AS pw2 \gset
SELECT ticket.challenge(:pw2, 'bob') AS ch3 \gset
SELECT pg_temp.err(format($$SELECT ticket.join_queue(%s, 'bob', challenge => %L, solution => %L)$$, :pw,
	regexp_replace(:'ch3', '\.1\.([0-9]+\.[0-9a-f]{16})', '.8.\1'), pg_temp.solve(:'ch3')));
SELECT pg_temp.err(format($$SELECT ticket.join_queue(%s, 'bob', challenge => %L, solution => %L)$$, :pw,
	:'ch3', pg_temp.solve(:'ch3')));
SELECT state FROM ticket.queue_status(:pw, 'bob');
-- A challenge for an easier concert does not do for a harder one.
SELECT ticket.update_concert(:pw, pow_bits => 12);
SELECT pg_temp.err(format($$SELECT ticket.join_queue(%s, 'bob', challenge => %L, solution => %L)$$, :pw, :'ch2', pg_temp.solve(:'ch2')));
SELECT ticket.update_concert(:pw, pow_bits => 8);
SELECT state FROM ticket.join_queue(:pw, 'bob', challenge => :'ch2', solution => pg_temp.solve(:'ch2'));
-- A concert without proof of work gives no challenge.
SELECT ticket.challenge(:c, 'ann') IS NULL AS no_challenge;

-- Positions stay exact across blocks of 1,024 places with departures
-- everywhere: compare with counting the rows, for every 97th user.
SELECT ticket.create_concert('Long Line', now() + interval '30 days', now() + interval '1 day',
	queue => true, admit_rate => 100) AS ll \gset
SELECT ticket.add_standing(:ll, 'Pit', 'GA', 30, 100);
SELECT count(*) FROM (SELECT ticket.join_queue(:ll, 'p' || g) FROM generate_series(1, 3500) AS g) AS j;
SELECT ticket.open_sale(:ll);
SELECT count(*) AS left FROM (SELECT ticket.leave_queue(:ll, 'p' || g) FROM generate_series(1, 3500) AS g
	WHERE g % 7 = 0 OR g BETWEEN 1500 AND 1600) AS l;
-- An hour since the last step admits 1.25 seconds' worth (admit_rate 100), no more.
UPDATE ticket.queue SET last_tick = clock_timestamp() - interval '1 hour' WHERE concert_id = :ll;
SELECT ticket.admit(:ll) AS admitted;
SELECT count(*) > 10 AS checked_some,
	   count(*) = count(*) FILTER (WHERE s."position" = (SELECT count(*) FROM ticket.queue_entry AS x
											 WHERE x.concert_id = :ll AND x.state = 'waiting' AND x.seq < e.seq))
		   AS all_exact
  FROM ticket.queue_entry AS e, LATERAL ticket.queue_status(:ll, e.user_id) AS s
 WHERE e.concert_id = :ll AND e.state = 'waiting' AND e.seq % 97 = 0;
SELECT departed, (SELECT array_length(gaps, 1) FROM ticket.queue WHERE concert_id = :ll) AS blocks
  FROM ticket.queues WHERE concert_id = :ll;
SELECT * FROM ticket.verify(:ll);

-- pg_cron: one job steps every scheduled concert (pg_cron 1.4: each minute,
-- 60 steps).  Scheduled and unscheduled in one transaction, so it never runs.
SELECT pg_temp.err(format($$SELECT ticket.schedule_admission(%s)$$, :ll));
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_cron;
RESET client_min_messages;
BEGIN;
SELECT ticket.schedule_admission(:ll) > 0 AS job;
SELECT jobname, schedule, command, username = current_user AS runs_as_owner FROM cron.job;
SELECT scheduled FROM ticket.queues WHERE concert_id = :ll;
SELECT ticket.unschedule_admission(:ll) AS was_scheduled;
SELECT count(*) AS jobs FROM cron.job;
SELECT ticket.unschedule_admission(:ll) AS was_scheduled;
COMMIT;
-- run_admission steps the scheduled concerts (here once).
UPDATE ticket.queue SET scheduled = true, last_tick = clock_timestamp() - interval '1 second' WHERE concert_id = :ll;
SELECT admitted AS before FROM ticket.queues WHERE concert_id = :ll \gset
CALL ticket.run_admission(1);
SELECT admitted - :before BETWEEN 100 AND 150 AS admitted_about_100 FROM ticket.queues WHERE concert_id = :ll;
DROP EXTENSION pg_cron;

SELECT k.counter, k.value - z.value AS value FROM ticket.counters() AS k JOIN counters0 AS z USING (counter)
 WHERE k.counter LIKE 'queue\_%' AND k.counter <> 'queue_polls' ORDER BY k.counter;
