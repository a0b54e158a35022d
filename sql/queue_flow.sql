-- Flow control (0.3): admission that pauses and resumes without a burst,
-- back-pressure from the payment backlog (AIMD), slots that end when a buyer
-- is done, passes that die with their admission, claims that respect pay_by,
-- adaptive LIFO, batched payment reports, and the worker's new tasks.
\i test/regress_setup.sql

SET ticket.payment_retry_base = '1ms';
SET ticket.payment_retry_max = '2ms';
-- Counters are server-wide (other files bump them too): remember where they start.
CREATE TEMP TABLE counters0 AS SELECT counter, value FROM ticket.counters();

-- One admission step a given time after the last one (moving last_tick back
-- pretends the time has passed).
CREATE FUNCTION pg_temp.step(c bigint, secs double precision DEFAULT 1) RETURNS integer LANGUAGE sql AS $$
	UPDATE ticket.queue SET last_tick = clock_timestamp() - make_interval(secs => secs) WHERE concert_id = c;
	SELECT ticket.admit(c);
$$;
-- n steps a second apart: what each admitted and the rate it used.
CREATE FUNCTION pg_temp.steps(c bigint, n integer)
RETURNS TABLE (step integer, admitted integer, effective_rate numeric, rate_reason text) LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1 .. n LOOP
		step := i;
		admitted := pg_temp.step(c);
		SELECT q.effective_rate, q.rate_reason INTO effective_rate, rate_reason
		  FROM ticket.queues AS q WHERE q.concert_id = c;
		RETURN NEXT;
	END LOOP;
END
$$;
CREATE FUNCTION pg_temp.pass(c bigint, u text) RETURNS text LANGUAGE sql AS $$
	SELECT pass_token FROM ticket.queue_status(c, u)
$$;
-- A user's nth place in line (1 = first).
CREATE FUNCTION pg_temp.at(c bigint, place bigint) RETURNS text LANGUAGE sql AS $$
	SELECT user_id FROM ticket.queue_entry WHERE concert_id = c AND seq = place
$$;
-- The user waiting with n people ahead.
CREATE FUNCTION pg_temp.waiting_at(c bigint, ahead integer) RETURNS text LANGUAGE sql AS $$
	SELECT user_id FROM ticket.queue_entry WHERE concert_id = c AND state = 'waiting' ORDER BY seq OFFSET ahead LIMIT 1
$$;
CREATE FUNCTION pg_temp.charge(o bigint) RETURNS bigint LANGUAGE sql AS $$
	SELECT payment_id FROM ticket.payment WHERE order_id = o AND kind = 'charge'
$$;
-- Hold n standing places with the user's pass and check out: the order id.
CREATE FUNCTION pg_temp.buy(c bigint, u text, n integer) RETURNS bigint LANGUAGE sql AS $$
	SELECT (ticket.checkout(h.hold_id, u, 'k-' || u || '-' || h.hold_id)).order_id
	  FROM ticket.hold_best(c, u, 1, n, pass => pg_temp.pass(c, u)) AS h
$$;
-- Without a waiting room.
CREATE FUNCTION pg_temp.buy_open(c bigint, u text) RETURNS bigint LANGUAGE sql AS $$
	SELECT (ticket.checkout(h.hold_id, u, 'k-' || u)).order_id FROM ticket.hold_best(c, u, 1, 1) AS h
$$;
-- n claims of one job each: what each got, in the order they were handed out.
CREATE FUNCTION pg_temp.claim_each(n integer) RETURNS TABLE (claim integer, got text) LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1 .. n LOOP
		claim := i;
		SELECT j.kind || ' ' || j.user_id INTO got FROM ticket.claim_payments('sim', 1, '1 minute') AS j;
		RETURN NEXT;
	END LOOP;
END
$$;
-- What a hold with a user's (old) pass answers: its status, or the SQLSTATE.
CREATE FUNCTION pg_temp.try_hold(c bigint, u text, pass text) RETURNS text LANGUAGE sql AS $$
	SELECT pg_temp.err(format($f$SELECT ticket.hold_best(%s, %L, 1, 1, pass => %L)$f$, c, u, pass))
$$;

------------------------------------------------------------------------
-- 1. Pause and resume: one call each; no burst after a pause, a long gap
--    or a late first step: a step admits at most 1.25 seconds' worth (a
--    step a little late loses nothing; a gap is not saved up).
SELECT ticket.create_concert('Flow Night', '2100-06-01 20:00+00', now() + interval '1 day',
	queue => true, admit_rate => 10, per_user_limit => 2) AS f \gset
SELECT ticket.add_standing(:f, 'Pit', 'GA', 20, 1000);
SELECT count(*) AS joined FROM generate_series(1, 300) AS g, ticket.join_queue(:f, 'fan' || g) AS j;
SELECT ticket.open_sale(:f);
-- The first step an hour after opening (a worker that started late): 1.25
-- seconds' worth at admit_rate 10 (12, a quarter carried), not an hour's.
SELECT pg_temp.step(:f, 3600) AS first_step;
SELECT admitted, waiting, effective_rate, rate_reason, admission_paused_at FROM ticket.queues WHERE concert_id = :f;

SELECT ticket.pause_admission(:f) AS paused;
SELECT ticket.pause_admission(:f) AS paused_again;
SELECT admission_paused_at IS NOT NULL AS paused, rate_reason FROM ticket.queues WHERE concert_id = :f;
-- Those waiting see why, and no ETA.
SELECT state, "position", eta, note FROM ticket.queue_status(:f, pg_temp.waiting_at(:f, 0));
-- Steps while paused admit nobody, however long since the last; the
-- effective rate is 0.
SELECT pg_temp.step(:f) AS while_paused, pg_temp.step(:f, 3600) AS an_hour_later;
SELECT name, value FROM ticket.metrics()
 WHERE labels ->> 'concert_id' = :'f' AND name IN ('ticket_concert_admission_paused', 'ticket_concert_admission_rate')
 ORDER BY name;
-- Those admitted before the pause keep their passes.
SELECT status FROM ticket.hold_best(:f, pg_temp.at(:f, 1), 1, 1, pass => pg_temp.pass(:f, pg_temp.at(:f, 1)));

SELECT ticket.resume_admission(:f) AS resumed;
SELECT ticket.resume_admission(:f) AS resumed_again;
-- The ETA is back: position 0 waits one step, (position + 1) / 10 s.
SELECT state, "position", eta, note FROM ticket.queue_status(:f, pg_temp.waiting_at(:f, 0));
-- An hour after the last step (the pause): 1.25 seconds' worth (12), no burst.
SELECT pg_temp.step(:f, 3600) AS after_resume;
SELECT admitted, waiting, effective_rate, rate_reason, admission_paused_at FROM ticket.queues WHERE concert_id = :f;

------------------------------------------------------------------------
-- 2. Back-pressure: the oldest unclaimed charge is older than the target
--    (a tenth of payment_timeout 10 minutes: 60 s).
SELECT ticket._pressure_target('10 minutes') AS target_s, ticket._pressure_target('5 seconds') AS target_min_s;
-- Three of the admitted check out; no adapter claims their charges for two minutes.
SELECT count(pg_temp.buy(:f, pg_temp.at(:f, g), 1)) AS orders FROM generate_series(2, 4) AS g;
UPDATE ticket.payment SET next_attempt_at = now() - interval '2 minutes' WHERE state = 'processing';
SELECT payments_due, payment_backlog_seconds > 100 AS old FROM ticket.dashboard WHERE concert_id = :f;
-- The next step halves the rate; the one a second later does not halve
-- again (at most once per target period).
SELECT * FROM pg_temp.steps(:f, 2);
SELECT rate, rate_reason, rate_cut_at IS NOT NULL AS cut, eta_rate FROM ticket.queue WHERE concert_id = :f;
SELECT admit_rate, effective_rate, rate_reason, payments_due FROM ticket.dashboard WHERE concert_id = :f;
SELECT name, value FROM ticket.metrics()
 WHERE labels ->> 'concert_id' = :'f'
   AND name IN ('ticket_concert_admit_rate', 'ticket_concert_admission_rate', 'ticket_concert_admission_throttled',
				'ticket_concert_admission_paused', 'ticket_concert_payments_due')
 ORDER BY name;
-- Waiting users are told, and their ETA is at the effective rate: (position + 1) / 5 s.
SELECT state, "position", eta, note,
	   eta = make_interval(secs => ("position" + 1) / 5.0) AS eta_at_effective_rate
  FROM ticket.queue_status(:f, pg_temp.waiting_at(:f, 9));
-- A target period later (rate_cut_at moved back), it halves again: 2.5, then
-- 1.25, then the floor (2 % of admit_rate, at least 1 a second).
UPDATE ticket.queue SET rate_cut_at = rate_cut_at - interval '61 seconds' WHERE concert_id = :f;
SELECT * FROM pg_temp.steps(:f, 1);
UPDATE ticket.queue SET rate_cut_at = rate_cut_at - interval '61 seconds' WHERE concert_id = :f;
SELECT * FROM pg_temp.steps(:f, 1);
UPDATE ticket.queue SET rate_cut_at = rate_cut_at - interval '61 seconds' WHERE concert_id = :f;
SELECT * FROM pg_temp.steps(:f, 1);
UPDATE ticket.queue SET rate_cut_at = rate_cut_at - interval '61 seconds' WHERE concert_id = :f;
SELECT * FROM pg_temp.steps(:f, 1);
-- An adapter claims the backlog: the rate grows back by 2 % of admit_rate a
-- second, at least 1 (recovering), reaches admit_rate and stays there.
SELECT count(*) AS claimed FROM ticket.claim_payments('sim', 100, '1 minute');
SELECT payments_due, payment_backlog_seconds FROM ticket.dashboard WHERE concert_id = :f;
SELECT * FROM pg_temp.steps(:f, 12);
SELECT name, value FROM ticket.metrics()
 WHERE labels ->> 'concert_id' = :'f' AND name IN ('ticket_concert_admission_rate', 'ticket_concert_admission_throttled')
 ORDER BY name;
SELECT state, note, eta = make_interval(secs => ("position" + 1) / 10.0) AS eta_at_admit_rate
  FROM ticket.queue_status(:f, pg_temp.waiting_at(:f, 100));
-- While recovering, a waiting user's note says so.
UPDATE ticket.queue SET rate = 4, rate_reason = 'recovering', eta_rate = 4 WHERE concert_id = :f;
SELECT state, note, eta = make_interval(secs => ("position" + 1) / 4.0) AS eta_at_effective_rate
  FROM ticket.queue_status(:f, pg_temp.waiting_at(:f, 100));
SELECT pg_temp.step(:f) AS admitted;
SELECT effective_rate, rate_reason FROM ticket.queues WHERE concert_id = :f;
SELECT * FROM ticket.verify(:f);

------------------------------------------------------------------------
-- 3. Slots that end: max_active 2.  Paying, reaching the limit and leaving
--    each free a slot at once, and the old pass dies with the admission.
SELECT ticket.create_concert('Slots Night', '2100-06-01 20:00+00', now() + interval '1 day',
	queue => true, admit_rate => 10, per_user_limit => 2, max_active => 2) AS s \gset
SELECT ticket.add_standing(:s, 'Pit', 'GA', 30, 100);
SELECT count(*) AS joined FROM unnest(ARRAY['ann', 'ben', 'cat', 'dan', 'eve', 'fay']) AS u, ticket.join_queue(:s, u) AS j;
SELECT ticket.open_sale(:s);
SELECT pg_temp.step(:s) AS admitted;
SELECT rate_reason FROM ticket.queues WHERE concert_id = :s;
SELECT pg_temp.at(:s, 1) AS p1, pg_temp.at(:s, 2) AS p2, pg_temp.at(:s, 3) AS p3,
	   pg_temp.at(:s, 4) AS p4, pg_temp.at(:s, 5) AS p5 \gset
SELECT state, note FROM ticket.queue_status(:s, :'p3');
SELECT pg_temp.pass(:s, :'p1') AS pass1, pg_temp.pass(:s, :'p2') AS pass2 \gset
-- Place 1 buys one place (of 2 allowed: still admitted) and pays.
SELECT pg_temp.buy(:s, :'p1', 1) AS o1 \gset
SELECT state FROM ticket.queue_status(:s, :'p1');
SELECT count(*) AS claimed FROM ticket.claim_payments('sim', 10, '1 minute');
SELECT ticket.payment_succeeded(pg_temp.charge(:o1), 'ch_s1');
SELECT state, pass_token FROM ticket.queue_status(:s, :'p1');
SELECT pg_temp.try_hold(:s, :'p1', :'pass1') AS paid_users_old_pass;
-- Its slot goes to the next in line at the next step.
SELECT pg_temp.step(:s) AS admitted;
SELECT state FROM ticket.queue_status(:s, :'p3');
-- Place 2 checks out two places: the limit, so the admission ends at checkout.
SELECT pg_temp.buy(:s, :'p2', 2) IS NOT NULL AS ordered;
SELECT state FROM ticket.queue_status(:s, :'p2');
SELECT pg_temp.try_hold(:s, :'p2', :'pass2') AS limit_reached_old_pass;
SELECT pg_temp.step(:s) AS admitted;
SELECT state FROM ticket.queue_status(:s, :'p4');
-- Place 3 leaves: the slot is free, the pass dead.
SELECT pg_temp.pass(:s, :'p3') AS pass3 \gset
SELECT state FROM ticket.leave_queue(:s, :'p3');
SELECT pg_temp.try_hold(:s, :'p3', :'pass3') AS left_users_old_pass;
SELECT pg_temp.step(:s) AS admitted;
SELECT state FROM ticket.queue_status(:s, :'p5');
-- Joining again and being admitted later: the pass of the first admission
-- does not do for the second; the new one does.
SELECT state FROM ticket.join_queue(:s, :'p3');
SELECT state FROM ticket.leave_queue(:s, :'p4');
SELECT state FROM ticket.leave_queue(:s, pg_temp.at(:s, 6));
SELECT pg_temp.step(:s) AS admitted;
SELECT state, place FROM ticket.queue_status(:s, :'p3');
SELECT pg_temp.try_hold(:s, :'p3', :'pass3') AS first_admissions_pass;
SELECT pg_temp.try_hold(:s, :'p3', pg_temp.pass(:s, :'p3')) AS new_pass;
-- An admission that ran out: its pass is refused too.
UPDATE ticket.queue_entry SET expires_at = now() - interval '1 second' WHERE concert_id = :s AND user_id = :'p5';
SELECT pg_temp.try_hold(:s, :'p5', ticket._sign_pass(:s, :'p5', 5, now() + interval '1 minute')) AS expired_admission;
SELECT e.seq AS place, e.state, e.user_id = :'p3' AS came_back FROM ticket.queue_entry AS e WHERE e.concert_id = :s ORDER BY e.seq;
SELECT count(*) AS admission_done_events FROM ticket.event WHERE concert_id = :s AND kind = 'admission_done';
-- The adapter settles what this sale left (place 2's order).
SELECT j.user_id = :'p2' AS place_2, ticket.payment_succeeded(j.payment_id, 'ch_' || j.payment_id)
  FROM ticket.claim_payments('sim', 10, '1 minute') AS j;
SELECT * FROM ticket.verify(:s);

------------------------------------------------------------------------
-- 4. Claims that respect pay_by.  Two checkouts without a waiting room; one
--    has 20 seconds left, less than the minute's lease.
SELECT ticket.create_concert('Pay Night', '2100-06-01 20:00+00', '2000-01-01 00:00+00', per_user_limit => 10) AS p \gset
SELECT ticket.add_standing(:p, 'Pit', 'GA', 10, 100);
SELECT ticket.open_sale(:p);
SELECT pg_temp.buy_open(:p, 'late') AS ol, pg_temp.buy_open(:p, 'ok') AS ok \gset
SELECT pg_temp.charge(:ol) AS pl, pg_temp.charge(:ok) AS pk \gset
UPDATE ticket.orders SET pay_by = now() + interval '20 seconds' WHERE order_id = :ol;
UPDATE ticket.hold SET expires_at = now() + interval '20 seconds' WHERE hold_id = (SELECT hold_id FROM ticket.orders WHERE order_id = :ol);
UPDATE ticket.seat SET held_until = now() + interval '20 seconds'
 WHERE concert_id = :p AND seat_id = ANY ((SELECT seat_ids FROM ticket.orders WHERE order_id = :ol)::int[]);
SELECT available FROM ticket.concerts WHERE concert_id = :p;
-- Only the charge that can still be paid in time is handed out.
SELECT payment_id = :pk AS the_ok_charge, kind, user_id FROM ticket.claim_payments('sim', 10, '1 minute');
-- The other is called off at once: failed, an event, a compensation, a counter.
SELECT state, dead_at IS NOT NULL AS dead, last_error FROM ticket.payment WHERE payment_id = :pl;
SELECT kind, user_id, detail FROM ticket.event WHERE subject_id = :ol AND kind = 'payment_timed_out' ORDER BY seq;
SELECT reason, if_unpaid, state FROM ticket.saga WHERE order_id = :ol;
SELECT ticket.maintenance('compensate') AS compensated;
SELECT state, cancel_reason FROM ticket.orders WHERE order_id = :ol;
SELECT available FROM ticket.concerts WHERE concert_id = :p;
-- Claimed again: nothing (the ok charge is leased).
SELECT count(*) AS claimed_again FROM ticket.claim_payments('sim', 10, '1 minute');
SELECT ticket.payment_succeeded(:pk, 'ch_ok');

-- Adaptive LIFO.  Three charges due for 10, 5 and 3 seconds and a refund
-- due for 20 (a duplicate capture of the ok order); the oldest charge's
-- order was made 30 minutes ago (of its 39 minutes to pay_by less the
-- lease): it has used more than ticket.payment_lifo_at (3/4) of its time,
-- so the freshest charge goes first and the refund last.
SELECT ticket.payment_succeeded(:pk, 'ch_ok_twice');
SELECT pg_temp.buy_open(:p, 'l1') AS l1, pg_temp.buy_open(:p, 'l2') AS l2, pg_temp.buy_open(:p, 'l3') AS l3 \gset
UPDATE ticket.payment SET next_attempt_at = now() - interval '10 seconds' WHERE payment_id = pg_temp.charge(:l1);
UPDATE ticket.payment SET next_attempt_at = now() - interval '5 seconds' WHERE payment_id = pg_temp.charge(:l2);
UPDATE ticket.payment SET next_attempt_at = now() - interval '3 seconds' WHERE payment_id = pg_temp.charge(:l3);
UPDATE ticket.payment SET next_attempt_at = now() - interval '20 seconds' WHERE kind = 'refund' AND state = 'processing';
UPDATE ticket.orders SET created_at = created_at - interval '30 minutes' WHERE order_id = :l1;
SELECT current_setting('ticket.payment_lifo_at') AS lifo_at;
SELECT * FROM pg_temp.claim_each(4);
-- While the oldest due charge has time (none has used 3/4 of it): oldest first, the refund among them.
SELECT pg_temp.buy_open(:p, 'f1') AS f1, pg_temp.buy_open(:p, 'f2') AS f2, pg_temp.buy_open(:p, 'f3') AS f3 \gset
SELECT ticket.payment_succeeded(pg_temp.charge(:l1), 'ch_l1'), ticket.payment_succeeded(pg_temp.charge(:l1), 'ch_l1_twice');
UPDATE ticket.payment SET next_attempt_at = now() - interval '0.5 seconds' WHERE payment_id = pg_temp.charge(:f1);
UPDATE ticket.payment SET next_attempt_at = now() - interval '0.4 seconds' WHERE kind = 'refund' AND state = 'processing' AND lease_owner IS NULL;
UPDATE ticket.payment SET next_attempt_at = now() - interval '0.3 seconds' WHERE payment_id = pg_temp.charge(:f2);
UPDATE ticket.payment SET next_attempt_at = now() - interval '0.2 seconds' WHERE payment_id = pg_temp.charge(:f3);
SELECT * FROM pg_temp.claim_each(4);

------------------------------------------------------------------------
-- 5. report_payments: one batch, one status per job, in payment order.
SELECT pg_temp.buy_open(:p, 'r1') AS r1, pg_temp.buy_open(:p, 'r2') AS r2,
	   pg_temp.buy_open(:p, 'r3') AS r3, pg_temp.buy_open(:p, 'r4') AS r4 \gset
SELECT count(*) AS claimed FROM ticket.claim_payments('sim', 10, '1 minute');
-- r4 was reported already, one at a time.
SELECT ticket.payment_succeeded(pg_temp.charge(:r4), 'ch_r4');
SELECT format('[{"payment_id": %s, "outcome": "succeeded", "provider_ref": "ch_r4"},
				{"payment_id": %s, "outcome": "failed", "reason": "card declined", "retryable": false},
				{"payment_id": %s, "outcome": "failed", "reason": "provider 503", "retryable": true},
				{"payment_id": %s, "outcome": "succeeded", "provider_ref": "ch_r1"}]',
			  pg_temp.charge(:r4), pg_temp.charge(:r3), pg_temp.charge(:r2), pg_temp.charge(:r1)) AS batch \gset
CREATE FUNCTION pg_temp.orders_fp() RETURNS text LANGUAGE sql AS $$
	SELECT md5(string_agg(o::text, ',' ORDER BY o.order_id)) FROM ticket.orders AS o
$$;
CREATE FUNCTION pg_temp.payments_fp() RETURNS text LANGUAGE sql AS $$
	SELECT md5(string_agg(p::text, ',' ORDER BY p.payment_id)) FROM ticket.payment AS p
$$;
CREATE TEMP TABLE first_report AS
SELECT r.payment_id, o.user_id, r.status
  FROM ticket.report_payments(:'batch') AS r JOIN ticket.payment AS x USING (payment_id) JOIN ticket.orders AS o USING (order_id);
SELECT user_id, status FROM first_report ORDER BY payment_id;
SELECT o.user_id, o.state, p.state AS charge, p.attempts
  FROM ticket.orders AS o JOIN ticket.payment AS p ON p.order_id = o.order_id AND p.kind = 'charge'
 WHERE o.user_id IN ('r1', 'r2', 'r3', 'r4') ORDER BY o.user_id;
-- The same batch again (a retry of a lost answer): the same statuses, nothing written.
SELECT pg_temp.orders_fp() AS orders_before, pg_temp.payments_fp() AS payments_before,
	   (SELECT max(seq) FROM ticket.event) AS events_before \gset
CREATE TEMP TABLE payments_before AS SELECT * FROM ticket.payment;
SELECT array_agg(r.status ORDER BY r.payment_id) = (SELECT array_agg(status ORDER BY payment_id) FROM first_report)
	   AS same_statuses
  FROM ticket.report_payments(:'batch') AS r;
SELECT pg_temp.orders_fp() = :'orders_before' AS orders_unchanged,
	   pg_temp.payments_fp() = :'payments_before' AS payments_unchanged;
-- Nothing changed: the retryable failure is not applied twice (no job
-- rescheduled, no lease cleared, no second payment_failed event).
SELECT o.user_id, p.next_attempt_at <> b.next_attempt_at AS rescheduled
  FROM ticket.payment AS p JOIN payments_before AS b USING (payment_id) JOIN ticket.orders AS o ON o.order_id = p.order_id
 WHERE p::text <> b::text;
SELECT kind, user_id FROM ticket.event WHERE seq > :events_before ORDER BY seq;
SELECT ticket.maintenance('compensate') AS compensated;
SELECT * FROM ticket.verify(:p);

------------------------------------------------------------------------
-- 6. The worker's new tasks.  admit: a step for each scheduled concert on
--    sale whose last step is old (pg_cron missed it); a fresh one is left alone.
SELECT ticket.create_concert('Old Tick', '2100-06-01 20:00+00', now() + interval '1 day',
	queue => true, admit_rate => 3) AS a1 \gset
SELECT ticket.add_standing(:a1, 'Pit', 'GA', 10, 100);
SELECT ticket.create_concert('Fresh Tick', '2100-06-01 20:00+00', now() + interval '1 day',
	queue => true, admit_rate => 3) AS a2 \gset
SELECT ticket.add_standing(:a2, 'Pit', 'GA', 10, 100);
SELECT count(*) AS joined FROM generate_series(1, 10) AS g, ticket.join_queue(:a1, 'a' || g) AS j, ticket.join_queue(:a2, 'a' || g) AS k;
SELECT ticket.open_sale(:a1), ticket.open_sale(:a2);
UPDATE ticket.queue SET scheduled = true, last_tick = clock_timestamp() - interval '10 seconds' WHERE concert_id = :a1;
UPDATE ticket.queue SET scheduled = true, last_tick = clock_timestamp() + interval '1 minute' WHERE concert_id = :a2;
SELECT last_tick AS fresh_tick FROM ticket.queue WHERE concert_id = :a2 \gset
SELECT ticket.maintenance('admit') AS stepped;
SELECT concert_id = :a1 AS old_tick, admitted, last_tick > now() - interval '1 minute' AS stepped_now
  FROM ticket.queues WHERE concert_id IN (:a1, :a2) ORDER BY concert_id;
SELECT last_tick = :'fresh_tick' AS fresh_left_alone FROM ticket.queue WHERE concert_id = :a2;
-- Not on sale, or not scheduled: no step.
UPDATE ticket.queue SET last_tick = clock_timestamp() - interval '10 seconds' WHERE concert_id = :a1;
SELECT ticket.close_sale(:a1);
SELECT ticket.maintenance('admit') AS stepped_after_close;
UPDATE ticket.queue SET scheduled = false WHERE concert_id = :a2;

-- notify_payments: NOTIFY ticket_payment with the number of jobs due.
UPDATE ticket.payment SET next_attempt_at = now() - interval '1 second' WHERE state = 'processing';
SELECT count(*) AS due FROM ticket.payment WHERE state = 'processing' AND next_attempt_at <= now();
SELECT ticket.maintenance('notify_payments') AS notified;
SELECT count(*) AS claimed FROM ticket.claim_payments('sim', 100, '1 minute');
SELECT ticket.maintenance('notify_payments') AS notified_when_none_due;

SELECT k.counter, k.value - z.value AS value FROM ticket.counters() AS k JOIN counters0 AS z USING (counter)
 WHERE k.counter IN ('payments_timed_out', 'queue_admitted', 'orders_paid') ORDER BY k.counter;
SELECT * FROM ticket.verify();
