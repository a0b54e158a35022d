/* ticket--0.2--0.3.sql: from 0.2 to 0.3 (flow control: the sale never collapses) */

\echo Use "ALTER EXTENSION ticket UPDATE TO '0.3'" to load this file. \quit

/*
 * Same conventions as ticket--0.1--0.2.sql: CREATE OR REPLACE only for a
 * function an earlier script created, with the same signature; every name
 * qualified; SECURITY DEFINER with search_path = pg_catalog, pg_temp.
 *
 * What 0.3 adds (README, "Flow control"):
 *
 * - Back-pressure: an admission step admits at min(admit_rate, what the sale
 *   absorbs now).  The signal is the age of the oldest payment job that is
 *   due and not yet claimed by an adapter (ticket._payment_backlog).  When it
 *   passes a target (a tenth of payment_timeout, at least 2 s) the rate is
 *   halved, at most once per target period and only while the backlog is
 *   not shrinking; below the target it grows back by 2 % of admit_rate a
 *   second (AIMD).
 * - Smooth, pausable admission: a step never admits more than 1.25 seconds'
 *   worth, whatever the gap since the last one (pause, unschedule, restart,
 *   pg_cron's minute); ticket.pause_admission / ticket.resume_admission; the
 *   worker steps a scheduled concert whose last step is over 0.75 s old, so
 *   admission goes on in the seconds before pg_cron 1.4's next minute.
 * - Slots that end: a buyer's admission ends ("done") when their order is
 *   paid or a checkout reaches their limit; leaving ends it too, and a pass
 *   dies with its admission (src/queue.c, ticket_admission_check).
 * - Deadline-aware payments: claim_payments never hands out a charge that
 *   cannot be reported before its order's pay_by (now + lease > pay_by):
 *   such an order is called off and compensated at once; when the oldest due
 *   charge has used ticket.payment_lifo_at (3/4) of its time, the freshest
 *   go first (adaptive LIFO).
 * - report_payments: many results in one call and one transaction.
 */

/* ---------------------------------------------------------------- schema */

ALTER TYPE ticket.queue_entry_state ADD VALUE 'done';
COMMENT ON TYPE ticket.queue_entry_state IS
	'Stored state of a queue entry (done: the admission ended because the buyer paid or reached their limit); ticket.queue_status derives expired, sold_out and closed from it.';

ALTER TYPE ticket.queue_status ADD ATTRIBUTE note text;
COMMENT ON TYPE ticket.queue_status IS
	'A user''s place in a waiting room: state prequeue, waiting (with position = people ahead, eta, and note = why admission is slower than admit_rate: paused, payments behind, recovering, slots full, no seats free), admitted (with pass and expires_at), done (paid or reached the limit), expired, sold_out, closed, left, blocked, none (never joined); join_queue may also answer rate_limited or challenge.';

ALTER TABLE ticket.queue
	ADD COLUMN rate double precision,
	ADD COLUMN rate_reason text,
	ADD COLUMN rate_cut_at timestamptz,
	ADD COLUMN rate_cut_due bigint,
	ADD COLUMN eta_rate double precision,
	ADD COLUMN pace double precision,
	ADD COLUMN admission_paused_at timestamptz;
COMMENT ON COLUMN ticket.queue.rate IS
	'Admissions per second the last step used while back-pressure holds it below admit_rate; NULL at admit_rate (so raising admit_rate takes effect at once).';
COMMENT ON COLUMN ticket.queue.rate_reason IS
	'Why the last step admitted below admit_rate: paused, payments behind, recovering, slots full, no seats free, sold out (NULL: at admit_rate).';
COMMENT ON COLUMN ticket.queue.rate_cut_at IS
	'When back-pressure last halved the rate (it halves at most once per target period).';
COMMENT ON COLUMN ticket.queue.rate_cut_due IS
	'The payment backlog (due charges) at the last cut: the rate is cut again only if it has not shrunk by a tenth.';
COMMENT ON COLUMN ticket.queue.eta_rate IS
	'The admissions per second a waiting user''s ETA assumes (0: none while paused or no seat is free).';
COMMENT ON COLUMN ticket.queue.pace IS
	'Admissions per second actually made, smoothed over about 10 seconds.';
COMMENT ON COLUMN ticket.queue.admission_paused_at IS
	'Set by ticket.pause_admission, cleared by ticket.resume_admission.';

/* ---------------------------------------------------------- back-pressure */

CREATE FUNCTION ticket._payment_backlog(concert_id bigint, OUT due bigint, OUT oldest_due_age double precision)
RETURNS record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	/*
	 * Charges of this concert that are due and not claimed by an adapter:
	 * how many, and how long the oldest has waited (seconds; 0 when none).
	 * The age is the queueing delay in front of the adapters: what
	 * back-pressure watches.
	 */
	SELECT count(*), coalesce(extract(epoch FROM pg_catalog.clock_timestamp() - min(p.next_attempt_at))::double precision, 0)
	  FROM ticket.payment AS p
	  JOIN ticket.orders AS o ON o.order_id = p.order_id
	 WHERE p.state = 'processing' AND p.kind = 'charge' AND p.next_attempt_at <= pg_catalog.clock_timestamp()
	   AND o.concert_id = $1;
$$;
COMMENT ON FUNCTION ticket._payment_backlog(bigint) IS
	'Internal: how many charges of a concert wait for an adapter, and how long the oldest has waited (seconds): the signal of back-pressure.';

CREATE FUNCTION ticket._pressure_target(payment_timeout interval)
RETURNS double precision
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT greatest(2.0, 0.1 * extract(epoch FROM $1)::double precision);
$$;
COMMENT ON FUNCTION ticket._pressure_target(interval) IS
	'Internal: the payment backlog age (seconds) above which admission is cut: a tenth of payment_timeout, at least 2 seconds.';

/* ------------------------------------------------------------- admission */

/*
 * One admission step.  What changed from 0.1:
 * - a step admits at most 1.25 seconds' worth, however long since the last
 *   (0.1 saved up to 10 s: 240 fans at once at rate 20 after a resume);
 * - the rate follows back-pressure (AIMD on the payment backlog's age);
 * - an admin pause;
 * - the rate, the reason it is below admit_rate, and the rate an ETA should
 *   assume are kept in ticket.queue for queue_status, the views and metrics.
 */
CREATE OR REPLACE FUNCTION ticket.admit(concert_id bigint)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c ticket.concert;
	q ticket.queue;
	t timestamptz;
	dt double precision;
	step double precision;
	eff double precision;
	floor_rate double precision;
	target double precision;
	age double precision;
	cut_at timestamptz;
	cut_due bigint;
	due bigint;
	reason text;
	capped boolean := false;
	eta double precision;
	smooth double precision;
	tokens double precision;
	n bigint;
	k bigint := 0;
	head bigint;
	active bigint;
BEGIN
	IF concert_id IS NULL THEN
		RAISE EXCEPTION 'concert_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	SELECT * INTO c FROM ticket.concert AS x WHERE x.concert_id = concert_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'concert % does not exist', concert_id USING ERRCODE = 'P0002';
	END IF;
	IF NOT c.queue THEN
		RAISE EXCEPTION 'concert % has no waiting room', concert_id USING ERRCODE = '55000';
	END IF;
	/* Two steps at once take turns here: the second sees what the first admitted. */
	SELECT * INTO q FROM ticket.queue AS x WHERE x.concert_id = concert_id FOR UPDATE;
	t := clock_timestamp();

	/* Number those who joined since the last step, in join order, after the last place. */
	IF q.drawn_at IS NOT NULL THEN
		WITH j AS (
			SELECT e.user_id, e.join_seq FROM ticket.queue_entry AS e
			 WHERE e.concert_id = concert_id AND e.seq IS NULL AND e.state IN ('waiting', 'prequeue')
			   FOR UPDATE
		), p AS (
			SELECT j.user_id, row_number() OVER (ORDER BY j.join_seq) AS r FROM j
		), placed AS (
			UPDATE ticket.queue_entry AS e SET seq = q.last_place + p.r, state = 'waiting'
			  FROM p WHERE e.concert_id = concert_id AND e.user_id = p.user_id
			RETURNING e.seq
		)
		SELECT coalesce(max(placed.seq), q.last_place) INTO q.last_place FROM placed;
		UPDATE ticket.queue AS x SET last_place = q.last_place WHERE x.concert_id = concert_id;
	END IF;

	IF c.state <> 'on_sale' OR c.sale_closes_at <= t OR q.drawn_at IS NULL THEN
		UPDATE ticket.queue AS x SET last_tick = t, tokens = 0 WHERE x.concert_id = concert_id;
		RETURN 0;
	END IF;

	/* Paused by an admin: the clock runs on, nothing is saved up. */
	IF q.admission_paused_at IS NOT NULL THEN
		UPDATE ticket.queue AS x SET last_tick = t, tokens = 0, rate_reason = 'paused', eta_rate = 0
		 WHERE x.concert_id = concert_id;
		RETURN 0;
	END IF;

	/* Nothing left to hold: pause while holds may still come back, sold out when none can. */
	IF NOT EXISTS (SELECT FROM ticket.seat AS s
					WHERE s.concert_id = concert_id
					  AND (s.state = 'available' OR (s.state = 'held' AND s.held_until <= t))) THEN
		IF EXISTS (SELECT FROM ticket.seat AS s WHERE s.concert_id = concert_id AND s.state = 'held') THEN
			UPDATE ticket.queue AS x SET last_tick = t, tokens = 0, sold_out_at = NULL,
				   paused_since = coalesce(x.paused_since, t), rate_reason = 'no seats free', eta_rate = 0
			 WHERE x.concert_id = concert_id;
		ELSE
			UPDATE ticket.queue AS x SET last_tick = t, tokens = 0, paused_since = NULL,
				   sold_out_at = coalesce(x.sold_out_at, t), rate_reason = 'sold out', eta_rate = 0
			 WHERE x.concert_id = concert_id;
		END IF;
		RETURN 0;
	END IF;

	/*
	 * At most 1.25 seconds' worth per step: after a pause, a restart or a
	 * gap before pg_cron's next minute, admission resumes at the rate (a
	 * step a little late loses nothing; a gap is not saved up).
	 */
	dt := greatest(extract(epoch FROM t - coalesce(q.last_tick, t)), 0);
	step := least(dt, 1.25);

	/*
	 * Back-pressure, AIMD: halve when the oldest unclaimed charge has waited
	 * longer than the target (at most once per target period, the time a
	 * cut takes to show), else add 2 % of admit_rate per second.  Never
	 * above admit_rate, never below 2 % of it (at least 1/s): the line
	 * always moves, and a recovering provider is found.
	 */
	eff := least(coalesce(q.rate, c.admit_rate), c.admit_rate);
	floor_rate := greatest(1.0, 0.02 * c.admit_rate);
	target := ticket._pressure_target(c.payment_timeout);
	SELECT b.due, b.oldest_due_age INTO due, age FROM ticket._payment_backlog(concert_id) AS b;
	cut_at := q.rate_cut_at;
	cut_due := q.rate_cut_due;
	IF age > target THEN
		/*
		 * Cut again only when the last cut has had time to show and the
		 * backlog has not shrunk by a tenth since: a draining backlog is
		 * left to drain at the rate that drains it.
		 */
		IF cut_at IS NULL OR (extract(epoch FROM t - cut_at) >= target AND due >= 0.9 * coalesce(cut_due, 0)) THEN
			eff := greatest(floor_rate, eff / 2);
			cut_at := t;
			cut_due := due;
		END IF;
		reason := 'payments behind';
	ELSE
		eff := least(c.admit_rate::double precision, eff + greatest(1.0, 0.02 * c.admit_rate) * step);
		reason := CASE WHEN eff < c.admit_rate THEN 'recovering' END;
	END IF;

	tokens := q.tokens + eff * step;
	n := floor(tokens)::bigint;
	IF c.max_active IS NOT NULL THEN
		SELECT count(*) INTO active FROM ticket.queue_entry AS e
		 WHERE e.concert_id = concert_id AND e.state = 'admitted' AND e.expires_at > t;
		IF n > c.max_active - active THEN
			n := greatest(c.max_active - active, 0);
			capped := true;
		END IF;
	END IF;
	head := q.admitted_through;
	IF n > 0 THEN
		WITH next AS (
			SELECT e.user_id FROM ticket.queue_entry AS e
			 WHERE e.concert_id = concert_id AND e.seq > q.admitted_through AND e.state = 'waiting'
			 ORDER BY e.seq
			 LIMIT n
			   FOR UPDATE
		), done AS (
			UPDATE ticket.queue_entry AS e
			   SET state = 'admitted', admitted_at = t, expires_at = t + c.admission_ttl
			  FROM next
			 WHERE e.concert_id = concert_id AND e.user_id = next.user_id
			RETURNING e.seq
		)
		SELECT count(*), coalesce(max(done.seq), q.admitted_through) INTO k, head FROM done;
	END IF;

	/* The cap held someone back only if someone is still waiting. */
	capped := capped AND EXISTS (SELECT FROM ticket.queue_entry AS e
								  WHERE e.concert_id = concert_id AND e.seq > head AND e.state = 'waiting');
	/* Back-pressure is the news when both hold admission back. */
	IF capped AND reason IS DISTINCT FROM 'payments behind' THEN
		reason := 'slots full';
	END IF;

	/*
	 * What was admitted per second, smoothed over about 10 s (steps 0.2-5 s
	 * apart count), from 0: while the cap binds it is the pace at which
	 * slots free up.
	 */
	smooth := coalesce(q.pace, 0);
	IF dt BETWEEN 0.2 AND 5 THEN
		smooth := smooth + (1 - exp(-dt / 10)) * (k / dt - smooth);
	END IF;
	/*
	 * An ETA assumes the rate; while the cap binds, the pace at which slots
	 * free up, but never less than max_active per admission_ttl (every slot
	 * ends by then) and never more than the rate.
	 */
	eta := CASE WHEN capped
				THEN least(eff, greatest(smooth,
										 c.max_active / greatest(extract(epoch FROM c.admission_ttl)::double precision, 1)))
				ELSE eff END;

	/* What was not used (nobody waiting, or the cap) is not saved up. */
	UPDATE ticket.queue AS x
	   SET tokens = tokens - floor(tokens), last_tick = t, admitted_through = head,
		   admitted = x.admitted + k, paused_since = NULL, sold_out_at = NULL,
		   rate = CASE WHEN eff >= c.admit_rate THEN NULL ELSE eff END, rate_reason = reason, rate_cut_at = cut_at, rate_cut_due = cut_due, eta_rate = eta,
		   pace = smooth
	 WHERE x.concert_id = concert_id;
	IF k > 0 THEN
		PERFORM ticket._event(concert_id, 'admitted', NULL, NULL,
			pg_catalog.jsonb_build_object('admitted_through', head, 'admitted', k));
		PERFORM pg_catalog.pg_notify('ticket_admission',
			pg_catalog.json_build_object('concert_id', concert_id, 'admitted_through', head, 'admitted', k)::text);
		PERFORM ticket._bump_counter('queue_admitted', k);
	END IF;
	RETURN k::integer;
END
$$;
COMMENT ON FUNCTION ticket.admit(bigint) IS
	'One admission step: admits, in place order, at the effective rate (admit_rate, halved while payments are behind and grown back gradually) for the time since the last step, at most 1.25 seconds'' worth and at most max_active at once; nothing while paused (pause_admission) or while no seat is free; marks the queue sold out when none can come back; NOTIFY ticket_admission. Returns how many it admitted.';

CREATE FUNCTION ticket._lock_queue(concert_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	PERFORM ticket._lock_concert(concert_id);	/* 22004, P0002 */
	PERFORM FROM ticket.queue AS q WHERE q.concert_id = concert_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'concert % has no waiting room', concert_id USING ERRCODE = '55000';
	END IF;
END
$$;
COMMENT ON FUNCTION ticket._lock_queue(bigint) IS
	'Internal: locks a concert and its waiting room for an admin change (22004, P0002, 55000 without a waiting room).';

CREATE FUNCTION ticket.pause_admission(concert_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	PERFORM ticket._lock_queue(concert_id);
	UPDATE ticket.queue AS q SET admission_paused_at = now(), rate_reason = 'paused', eta_rate = 0
	 WHERE q.concert_id = concert_id AND q.admission_paused_at IS NULL;
	RETURN FOUND;
END
$$;
COMMENT ON FUNCTION ticket.pause_admission(bigint) IS
	'Stops admitting from a concert''s waiting room until ticket.resume_admission (those admitted keep their passes; waiting users see note paused and no ETA). Returns false when it was paused already.';

CREATE FUNCTION ticket.resume_admission(concert_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	PERFORM ticket._lock_queue(concert_id);
	/* The next step admits 1.25 seconds' worth at most: no burst. */
	UPDATE ticket.queue AS q SET admission_paused_at = NULL, rate_reason = NULL, eta_rate = NULL, tokens = 0
	 WHERE q.concert_id = concert_id AND q.admission_paused_at IS NOT NULL;
	RETURN FOUND;
END
$$;
COMMENT ON FUNCTION ticket.resume_admission(bigint) IS
	'Admits again after ticket.pause_admission, at the rate and never in a burst. Returns false when it was not paused.';

/* ------------------------------------------------------ slots that end */

CREATE FUNCTION ticket._buyer_seats(concert_id bigint, user_id text, except_hold bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	/* Seats a buyer holds or owns: paid holds, and live holds (active or in checkout, not past expires_at). */
	SELECT coalesce(sum(pg_catalog.cardinality(x.seat_ids)), 0)::bigint FROM ticket.hold AS x
	 WHERE x.concert_id = $1 AND x.user_id = $2 AND x.hold_id IS DISTINCT FROM $3
	   AND (x.state = 'confirmed' OR (x.state IN ('active', 'checking_out') AND x.expires_at > pg_catalog.now()));
$$;
COMMENT ON FUNCTION ticket._buyer_seats(bigint, text, bigint) IS
	'Internal: how many seats of a concert a user holds or owns (what the per-user limit counts), leaving out one hold.';

CREATE FUNCTION ticket._end_admission(concert_id bigint, user_id text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	/* Frees the slot at once (max_active) and kills the pass (src/queue.c). */
	UPDATE ticket.queue_entry AS e SET state = 'done', left_at = now()
	 WHERE e.concert_id = concert_id AND e.user_id = user_id AND e.state = 'admitted';
	IF FOUND THEN
		PERFORM ticket._event(concert_id, 'admission_done', NULL, user_id, NULL);
		RETURN true;
	END IF;
	RETURN false;
END
$$;
COMMENT ON FUNCTION ticket._end_admission(bigint, text) IS
	'Internal: ends a buyer''s admission (state done) when they paid or reached their limit; their pass is refused from then on.';

CREATE OR REPLACE FUNCTION ticket._sell(o ticket.orders)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	limit_ integer;
BEGIN
	PERFORM FROM ticket.hold AS x WHERE x.hold_id = o.hold_id FOR UPDATE;
	PERFORM ticket._lock_seats(o.concert_id, o.seat_ids);
	IF EXISTS (SELECT FROM ticket.seat AS s
				WHERE s.concert_id = o.concert_id AND s.seat_id = ANY (o.seat_ids)
				  AND s.hold_id IS DISTINCT FROM o.hold_id
				  AND NOT (s.state = 'available' OR (s.state = 'held' AND s.held_until <= now()))) THEN
		RETURN false;
	END IF;
	/* A hold past pay_by (or revived after compensation) no longer counted against the limit. */
	SELECT k.per_user_limit INTO limit_ FROM ticket.concert AS k WHERE k.concert_id = o.concert_id;
	IF ticket._buyer_seats(o.concert_id, o.user_id, o.hold_id) + cardinality(o.seat_ids) > limit_ THEN
		RETURN false;
	END IF;
	UPDATE ticket.seat AS s SET state = 'sold', hold_id = o.hold_id, held_until = NULL
	 WHERE s.concert_id = o.concert_id AND s.seat_id = ANY (o.seat_ids);
	UPDATE ticket.hold AS x SET state = 'confirmed', ended_at = now() WHERE x.hold_id = o.hold_id;
	UPDATE ticket.orders AS x SET state = 'paid', paid_at = now(), cancelled_at = NULL, cancel_reason = NULL
	 WHERE x.order_id = o.order_id;
	PERFORM ticket._event(o.concert_id, 'order_paid', o.order_id, o.user_id,
		jsonb_build_object('amount', o.amount, 'seat_ids', o.seat_ids));
	PERFORM ticket._bump_counter('orders_paid', 1);
	/* Paid: the buyer is done; their slot goes to the next in line. */
	PERFORM ticket._end_admission(o.concert_id, o.user_id);
	RETURN true;
END
$$;

/*
 * checkout: as in 0.1, and a checkout that brings the buyer to their limit
 * ends their admission (nothing more to hold: the slot goes to the next).
 * Expiry is judged as before; see issue 15 for the near-expiry race.
 */
CREATE OR REPLACE FUNCTION ticket.checkout(hold_id bigint, user_id text, idempotency_key text)
RETURNS ticket.checkout_result
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	request text;
	k ticket.idempotency;
	h ticket.hold;
	c ticket.concert;
	o ticket.orders;
	r ticket.checkout_result;
	amount numeric(12,2);
	n integer;
BEGIN
	IF hold_id IS NULL THEN
		RAISE EXCEPTION 'hold_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	PERFORM ticket._check_text('user_id', user_id, 128);
	PERFORM ticket._check_text('idempotency_key', idempotency_key, 255);
	request := format('checkout of hold %s', hold_id);

	/*
	 * The key first: a second call with the same key waits here for the
	 * first to commit, then finds its row and answers what it answered.
	 * (Its order id is not taken from the sequence here: bad input must
	 * write nothing, and a sequence does not roll back.)
	 */
	INSERT INTO ticket.idempotency AS x (user_id, idempotency_key, request, status)
	VALUES (user_id, idempotency_key, request, 'in_progress')
	ON CONFLICT DO NOTHING;
	IF NOT FOUND THEN
		SELECT * INTO k FROM ticket.idempotency AS x
		 WHERE x.user_id = user_id AND x.idempotency_key = idempotency_key;
		IF k.request <> request THEN
			RAISE EXCEPTION 'idempotency key "%" was already used for a different request', idempotency_key
				USING ERRCODE = '22023',
				DETAIL = format('It was used for the %s; this call asks for the %s.', k.request, request),
				HINT = 'Use a new key for a new request.';
		END IF;
		IF k.order_id IS NOT NULL THEN
			RETURN ticket._order_result(k.order_id);
		END IF;
		r.status := k.status;
		RETURN r;
	END IF;

	SELECT * INTO h FROM ticket.hold AS x WHERE x.hold_id = hold_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'hold % does not exist', hold_id USING ERRCODE = 'P0002';
	END IF;
	IF h.user_id <> user_id THEN
		RAISE EXCEPTION 'hold % belongs to another user', hold_id
			USING ERRCODE = '42501', HINT = 'Only the user who made a hold may check it out.';
	END IF;
	IF h.state IN ('checking_out', 'confirmed') THEN
		SELECT x.order_id INTO o.order_id FROM ticket.orders AS x WHERE x.hold_id = hold_id;
		RAISE EXCEPTION 'hold % is already checked out', hold_id
			USING ERRCODE = '55000',
			DETAIL = format('Order %s was created for it.', o.order_id),
			HINT = 'Repeat the first checkout with its idempotency key to get its order.';
	END IF;

	SELECT * INTO c FROM ticket.concert AS x WHERE x.concert_id = h.concert_id;
	IF h.state = 'released' THEN
		r.status := 'released';
	ELSIF h.state = 'expired' OR h.expires_at <= now() THEN
		r.status := 'expired';
	ELSIF c.state = 'cancelled' THEN
		r.status := 'closed';
	END IF;
	IF r.status IS NOT NULL THEN
		UPDATE ticket.idempotency AS x SET status = r.status
		 WHERE x.user_id = user_id AND x.idempotency_key = idempotency_key;
		RETURN r;
	END IF;

	/*
	 * The seats are this hold's until it expires: now until pay_by.  One
	 * statement moves their deadline and sums their prices.
	 */
	PERFORM ticket._lock_seats(h.concert_id, h.seat_ids);
	o.pay_by := now() + c.payment_timeout;
	WITH moved AS (
		UPDATE ticket.seat AS s SET held_until = o.pay_by
		  FROM ticket.section AS x
		 WHERE s.concert_id = h.concert_id AND s.seat_id = ANY (h.seat_ids)
		   AND s.hold_id = h.hold_id AND s.state = 'held'
		   AND x.concert_id = s.concert_id AND x.section_id = s.section_id
		RETURNING x.price
	)
	SELECT sum(moved.price), count(*) INTO amount, n FROM moved;
	IF n <> cardinality(h.seat_ids) THEN
		RAISE EXCEPTION 'hold % does not own its seats', hold_id USING ERRCODE = 'XX001',
			HINT = 'Run ticket.verify() and report this.';
	END IF;
	UPDATE ticket.hold AS x SET state = 'checking_out', expires_at = o.pay_by WHERE x.hold_id = hold_id;
	INSERT INTO ticket.orders AS x (concert_id, user_id, hold_id, seat_ids, amount, pay_by)
	VALUES (h.concert_id, user_id, hold_id, h.seat_ids, amount, o.pay_by)
	RETURNING x.order_id INTO o.order_id;
	INSERT INTO ticket.payment AS p (order_id, kind, amount, max_attempts, next_attempt_at)
	VALUES (o.order_id, 'charge', amount, c.payment_attempts, now())
	RETURNING p.payment_id INTO r.payment_id;
	UPDATE ticket.idempotency AS x SET status = 'pending', order_id = o.order_id
	 WHERE x.user_id = user_id AND x.idempotency_key = idempotency_key;
	PERFORM ticket._event(h.concert_id, 'order_created', o.order_id, user_id,
		jsonb_build_object('hold_id', hold_id, 'payment_id', r.payment_id, 'amount', amount, 'pay_by', o.pay_by));
	PERFORM ticket._bump_counter('orders_created', 1);
	/* Out of allowance: nothing more to hold, the slot goes to the next in line. */
	IF c.queue AND ticket._buyer_seats(h.concert_id, user_id) >= c.per_user_limit THEN
		PERFORM ticket._end_admission(h.concert_id, user_id);
	END IF;

	r.order_id := o.order_id;
	r.status := 'pending';
	r.amount := amount;
	r.pay_by := o.pay_by;
	RETURN r;
END
$$;

/* ------------------------------------------------ deadline-aware payments */

CREATE FUNCTION ticket._setting_share(name text, fallback double precision)
RETURNS double precision
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(nullif(pg_catalog.current_setting($1, true), '')::double precision, $2);
$$;
COMMENT ON FUNCTION ticket._setting_share(text, double precision) IS
	'Internal: a fraction setting of the library (the fallback when the library is not loaded).';
REVOKE ALL ON FUNCTION ticket._setting_share(text, double precision) FROM PUBLIC;

CREATE FUNCTION ticket._time_out_order(order_id bigint, why text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	o ticket.orders;
BEGIN
	/* The caller holds the order and every one of its payment jobs. */
	SELECT * INTO o FROM ticket.orders AS x WHERE x.order_id = order_id;
	PERFORM ticket._call_off_charges(order_id, why);
	PERFORM ticket._event(o.concert_id, 'payment_timed_out', order_id, o.user_id,
		pg_catalog.jsonb_build_object('reason', why));
	PERFORM ticket._start_saga(order_id, 'payment timed out', true);
	PERFORM ticket._bump_counter('payments_timed_out', 1);
END
$$;
COMMENT ON FUNCTION ticket._time_out_order(bigint, text) IS
	'Internal: calls off a pending order''s charges and starts its compensation (the caller holds the order and its payment jobs).';

CREATE OR REPLACE FUNCTION ticket.claim_payments(adapter text, max_jobs integer DEFAULT 10, lease interval DEFAULT '30 seconds')
RETURNS SETOF ticket.payment_job
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	t timestamptz := now();
	lifo boolean;
	ids bigint[];
	r record;
BEGIN
	PERFORM ticket._check_text('adapter', adapter, 100);
	PERFORM ticket._check_range('max_jobs', max_jobs, 1, 1000);
	PERFORM ticket._check_interval('lease', lease, '1 second', '1 hour');

	/*
	 * A charge the adapter could report only after its order's pay_by
	 * (now + lease > pay_by) would be wasted work: the order is called off
	 * now and compensated, its seats go back on sale.  Only orders that
	 * close within the lease are read (orders_pending_idx), and only those
	 * whose charge waits for an adapter (a claimed one is the adapter's to
	 * report).  Never waits: rows another transaction holds are left to it
	 * or to the next claim.
	 */
	FOR r IN SELECT o.order_id FROM ticket.orders AS o
			  WHERE o.state = 'pending' AND o.pay_by < t + lease
				AND EXISTS (SELECT FROM ticket.payment AS p
							 WHERE p.order_id = o.order_id AND p.kind = 'charge' AND p.state = 'processing'
							   AND p.next_attempt_at <= t)
			  ORDER BY o.pay_by LIMIT 1000
				FOR UPDATE OF o SKIP LOCKED LOOP
		CONTINUE WHEN NOT ticket._try_lock_payments(r.order_id);
		PERFORM ticket._time_out_order(r.order_id, 'timed out: could not be paid before pay_by');
	END LOOP;

	/*
	 * Adaptive LIFO.  Oldest first (earliest deadline first) while the
	 * backlog can be served in time: every claimed charge can still finish.
	 * Once the oldest due charge has used ticket.payment_lifo_at (three
	 * quarters) of its time (from checkout to pay_by less the lease), the
	 * backlog is no longer being served in time: the freshest charges go
	 * first, so that those served are paid with time to spare, and the
	 * oldest are called off above when their time runs out.  Refunds, which
	 * have no deadline, come after the charges then.
	 */
	SELECT (t - o.created_at) >= ticket._setting_share('ticket.payment_lifo_at', 0.75)
								 * (o.pay_by - o.created_at - lease)
	  INTO lifo
	  FROM ticket.payment AS p JOIN ticket.orders AS o ON o.order_id = p.order_id
	 WHERE p.state = 'processing' AND p.kind = 'charge' AND p.next_attempt_at <= t
	 ORDER BY p.next_attempt_at LIMIT 1;
	lifo := coalesce(lifo, false);

	/*
	 * Due jobs: never claimed, due for a retry, or whose lease ran out (an
	 * adapter that died), read in payment_due_idx order so that a claim
	 * costs the same with a backlog of ten or ten thousand.  SKIP LOCKED:
	 * adapters claiming at once get different jobs and never wait for each
	 * other.
	 */
	IF lifo THEN
		ids := ARRAY(SELECT p.payment_id FROM ticket.payment AS p
					  WHERE p.state = 'processing' AND p.next_attempt_at <= t AND p.kind = 'charge'
						AND (SELECT o.pay_by FROM ticket.orders AS o WHERE o.order_id = p.order_id) >= t + lease
					  ORDER BY p.next_attempt_at DESC
					  LIMIT max_jobs
						FOR UPDATE SKIP LOCKED);
		IF cardinality(ids) < max_jobs THEN
			ids := ids || ARRAY(SELECT p.payment_id FROM ticket.payment AS p
								 WHERE p.state = 'processing' AND p.next_attempt_at <= t AND p.kind = 'refund'
								 ORDER BY p.next_attempt_at
								 LIMIT max_jobs - cardinality(ids)
								   FOR UPDATE SKIP LOCKED);
		END IF;
	ELSE
		ids := ARRAY(SELECT p.payment_id FROM ticket.payment AS p
					  WHERE p.state = 'processing' AND p.next_attempt_at <= t
						/* a correlated probe per row read, never a hash of every order */
						AND (p.kind = 'refund'
							 OR (SELECT o.pay_by FROM ticket.orders AS o WHERE o.order_id = p.order_id) >= t + lease)
					  ORDER BY p.next_attempt_at
					  LIMIT max_jobs
						FOR UPDATE SKIP LOCKED);
	END IF;
	RETURN QUERY
	WITH claimed AS (
		UPDATE ticket.payment AS p
		   SET attempts = p.attempts + 1, lease_owner = adapter, lease_until = t + lease,
			   next_attempt_at = t + lease
		 WHERE p.payment_id = ANY (ids)
		RETURNING p.*
	)
	SELECT c.payment_id, c.kind, c.order_id, o.concert_id, o.user_id, c.amount, c.attempts,
		   'ticket-' || c.payment_id::text, c.refund_ref, c.lease_until
	  FROM claimed AS c JOIN ticket.orders AS o ON o.order_id = c.order_id
	 ORDER BY c.payment_id;
END
$$;
COMMENT ON FUNCTION ticket.claim_payments(text, integer, interval) IS
	'For the payment adapter: claims up to max_jobs due payment jobs for lease (other adapters skip them; a job whose lease runs out is claimed again). Never hands out a charge whose order''s pay_by comes before the lease ends: such orders are called off and compensated at once. Oldest first, until the oldest due charge has used ticket.payment_lifo_at (3/4) of its time: then the freshest first (adaptive LIFO). Report with ticket.report_payments (or payment_succeeded / payment_failed).';

CREATE FUNCTION ticket.report_payments(reports jsonb)
RETURNS TABLE (payment_id bigint, status text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	r record;
	n integer;
	v jsonb;
	i bigint;
BEGIN
	IF reports IS NULL THEN
		RAISE EXCEPTION 'reports must not be NULL' USING ERRCODE = '22004';
	END IF;
	IF pg_catalog.jsonb_typeof(reports) <> 'array' THEN
		RAISE EXCEPTION 'reports must be a JSON array'
			USING ERRCODE = '22023',
			HINT = 'For example [{"payment_id": 1, "outcome": "succeeded", "provider_ref": "ch_1"}, {"payment_id": 2, "outcome": "failed", "reason": "card declined", "retryable": false}].';
	END IF;
	n := pg_catalog.jsonb_array_length(reports);
	IF n > 1000 THEN
		RAISE EXCEPTION 'too many reports: % (at most 1000 in one call)', n USING ERRCODE = '22023';
	END IF;
	/* Every element is checked before anything is written. */
	BEGIN
	FOR r IN SELECT e.value AS v, e.ordinality AS i FROM pg_catalog.jsonb_array_elements(reports) WITH ORDINALITY AS e LOOP
		v := r.v;
		i := r.i;
		IF pg_catalog.jsonb_typeof(v) <> 'object' THEN
			RAISE EXCEPTION 'report % is not a JSON object', i USING ERRCODE = '22023';
		END IF;
		/* A misspelt key ("retryabel") must not change what a report means. */
		IF (v - ARRAY['payment_id', 'outcome', 'provider_ref', 'reason', 'retryable', 'attempt']) <> '{}'::jsonb THEN
			RAISE EXCEPTION 'report %: unknown key "%"', i,
				(SELECT min(x) FROM pg_catalog.jsonb_object_keys(v - ARRAY['payment_id', 'outcome', 'provider_ref',
																		   'reason', 'retryable', 'attempt']) AS x)
				USING ERRCODE = '22023',
				HINT = 'The keys are payment_id, outcome, provider_ref, reason, retryable and attempt.';
		END IF;
		IF pg_catalog.jsonb_typeof(v -> 'payment_id') IS DISTINCT FROM 'number'
		   OR (v ->> 'payment_id') !~ '^[1-9][0-9]{0,17}$' THEN
			RAISE EXCEPTION 'report %: payment_id must be a positive whole number', i USING ERRCODE = '22023';
		END IF;
		IF (v ->> 'outcome') IS NULL OR (v ->> 'outcome') NOT IN ('succeeded', 'failed') THEN
			RAISE EXCEPTION 'report %: outcome must be "succeeded" or "failed"', i USING ERRCODE = '22023';
		END IF;
		IF v ->> 'outcome' = 'succeeded' AND pg_catalog.jsonb_typeof(v -> 'provider_ref') IS DISTINCT FROM 'string' THEN
			RAISE EXCEPTION 'report %: a success needs provider_ref (a string)', i USING ERRCODE = '22023';
		END IF;
		IF v ->> 'outcome' = 'failed' AND (pg_catalog.jsonb_typeof(v -> 'reason') IS DISTINCT FROM 'string'
			OR coalesce(pg_catalog.jsonb_typeof(v -> 'retryable'), 'boolean') <> 'boolean') THEN
			RAISE EXCEPTION 'report %: a failure needs reason (a string) and may have retryable (true or false)', i
				USING ERRCODE = '22023';
		END IF;
		IF v ? 'attempt' AND (pg_catalog.jsonb_typeof(v -> 'attempt') IS DISTINCT FROM 'number'
							   OR (v ->> 'attempt') !~ '^[1-9][0-9]{0,8}$') THEN
			RAISE EXCEPTION 'report %: attempt must be a positive whole number', i USING ERRCODE = '22023';
		END IF;
		PERFORM ticket._check_text('provider_ref', v ->> 'provider_ref', 255, v ->> 'outcome' = 'succeeded');
		PERFORM ticket._check_text('reason', v ->> 'reason', 1000, v ->> 'outcome' = 'failed');
	END LOOP;
	EXCEPTION WHEN data_exception THEN
		/* Name the report whose text was refused (one subtransaction per call). */
		IF SQLERRM !~ '^report [0-9]+' THEN
			RAISE EXCEPTION 'report %: %', i, SQLERRM USING ERRCODE = SQLSTATE;
		END IF;
		RAISE;
	END;
	SELECT e.value ->> 'payment_id' INTO v FROM pg_catalog.jsonb_array_elements(reports) AS e
	 GROUP BY e.value ->> 'payment_id' HAVING count(*) > 1 ORDER BY 1 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'payment % is reported twice in one call', v #>> '{}' USING ERRCODE = '22023',
			HINT = 'Send one report per payment job.';
	END IF;
	/* In payment order: two adapters' batches lock jobs in the same order. */
	FOR r IN SELECT (e.value ->> 'payment_id')::bigint AS id, e.value AS v
			   FROM pg_catalog.jsonb_array_elements(reports) AS e ORDER BY 1 LOOP
		payment_id := r.id;
		IF r.v ->> 'outcome' = 'succeeded' THEN
			status := ticket.payment_succeeded(r.id, r.v ->> 'provider_ref');
		ELSIF r.v ? 'attempt' AND coalesce((r.v ->> 'retryable')::boolean, true)
			  AND EXISTS (SELECT FROM ticket.payment AS x WHERE x.payment_id = r.id
							 AND x.state = 'processing' AND x.attempts <> (r.v ->> 'attempt')::integer) THEN
			/* A retryable failure of an earlier attempt: the job was claimed again since; nothing to do. */
			status := 'retrying';
		ELSE
			status := ticket.payment_failed(r.id, r.v ->> 'reason', coalesce((r.v ->> 'retryable')::boolean, true));
		END IF;
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION ticket.report_payments(jsonb) IS
	'For the payment adapter: many results in one call and one transaction, a JSON array of {"payment_id", "outcome": "succeeded", "provider_ref"} or {"payment_id", "outcome": "failed", "reason", "retryable"}, each optionally with "attempt" (the job''s attempt as claimed: a retryable failure of an earlier attempt is ignored). Each is what payment_succeeded / payment_failed does (idempotent); returns each job''s status. Bad input (22023, P0002) writes nothing.';

/*
 * payment_failed: a retryable failure reported twice (a resent batch) was
 * applied twice: the retry was pushed back, the lease of an adapter that had
 * claimed the job again was wiped, and the event and counter doubled.  A
 * retryable failure of a job no adapter holds is now a repeat: no change.
 */
CREATE OR REPLACE FUNCTION ticket.payment_failed(payment_id bigint, reason text, retryable boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	p ticket.payment;
	o ticket.orders;
	delay interval;
BEGIN
	PERFORM ticket._check_text('reason', reason, 1000);
	IF retryable IS NULL THEN
		RAISE EXCEPTION 'retryable must not be NULL' USING ERRCODE = '22004';
	END IF;
	p := ticket._lock_payment(payment_id);
	SELECT * INTO o FROM ticket.orders AS x WHERE x.order_id = p.order_id FOR UPDATE;
	IF p.state <> 'processing' THEN
		/* Settled already (a success is never undone by a later failure report). */
		RETURN CASE WHEN p.state = 'succeeded' AND p.kind = 'charge' THEN 'succeeded' ELSE p.state::text END;
	END IF;

	/*
	 * The same retryable failure reported again (the job already waits for
	 * its next attempt: no adapter holds it) changes nothing: a resent batch
	 * must not push the retry back, add an event or count twice.
	 */
	IF retryable AND p.lease_owner IS NULL AND p.attempts < p.max_attempts
	   AND (p.kind = 'refund' OR o.state = 'pending') THEN
		RETURN 'retrying';
	END IF;
	IF retryable AND p.attempts < p.max_attempts AND (p.kind = 'refund' OR o.state = 'pending') THEN
		delay := ticket._backoff(p.attempts);
		UPDATE ticket.payment AS x
		   SET next_attempt_at = now() + delay, lease_owner = NULL, lease_until = NULL, last_error = reason
		 WHERE x.payment_id = payment_id;
		PERFORM ticket._event(o.concert_id, 'payment_failed', o.order_id, o.user_id,
			jsonb_build_object('payment_id', payment_id, 'kind', p.kind, 'attempt', p.attempts, 'reason', reason,
							   'retry_at', now() + delay));
		PERFORM ticket._bump_counter('payments_retried', 1);
		RETURN 'retrying';
	END IF;

	/* The last attempt, or a failure that retrying cannot fix: dead-letter. */
	UPDATE ticket.payment AS x
	   SET state = 'failed', dead_at = now(), finished_at = now(), lease_owner = NULL, lease_until = NULL,
		   last_error = reason
	 WHERE x.payment_id = payment_id;
	PERFORM ticket._event(o.concert_id, 'payment_dead', o.order_id, o.user_id,
		jsonb_build_object('payment_id', payment_id, 'kind', p.kind, 'attempts', p.attempts, 'reason', reason,
						   'retryable', retryable));
	PERFORM ticket._bump_counter('payments_dead', 1);
	IF p.kind = 'charge' AND o.state = 'pending' THEN
		PERFORM ticket._start_saga(o.order_id, 'payment failed: ' || reason, true);
	END IF;
	RETURN 'failed';
END
$$;
COMMENT ON FUNCTION ticket.payment_failed(bigint, text, boolean) IS
	'For the payment adapter: the attempt failed. Retryable failures are retried with exponential backoff and jitter (returns retrying) until payment_attempts; then, or when not retryable, the job is dead-lettered (failed) and the order compensated. Reporting the same failure again changes nothing.';

/* _leave: leave_queue of a buyer who is done made them "left" and counted them in queue_left. */
CREATE OR REPLACE FUNCTION ticket._leave(concert_id bigint, user_id text, new_state ticket.queue_entry_state)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	e ticket.queue_entry;
BEGIN
	/* The queue row first, as ticket.admit does: an admission step is not under way. */
	PERFORM FROM ticket.queue AS q WHERE q.concert_id = concert_id FOR UPDATE;
	SELECT * INTO e FROM ticket.queue_entry AS x
	 WHERE x.concert_id = concert_id AND x.user_id = user_id FOR UPDATE;
	/* A buyer who is done (paid, or at the limit) has nothing to leave. */
	IF NOT FOUND OR e.state IN ('left', 'blocked') OR (e.state = 'done' AND new_state = 'left') THEN
		RETURN false;
	END IF;
	IF e.state = 'waiting' AND e.seq IS NOT NULL THEN
		PERFORM ticket._depart(concert_id, e.seq);
	END IF;
	UPDATE ticket.queue_entry AS x SET state = new_state, left_at = now()
	 WHERE x.concert_id = concert_id AND x.user_id = user_id;
	RETURN true;
END
$$;

/* ------------------------------------------------------------ payment cost */

/*
 * Where a checkout's time went (bench/RESULTS.md, payment; 3,000 calls in one
 * backend with pg_stat_statements): 20 % re-planning "seat_id = ANY (...)"
 * on every call (custom plans: 3,001 plans for 3,000 calls), 13 % ticket._event
 * (a LANGUAGE sql function with SET, so parsed and planned on every call).
 * The payment functions now keep their generic plans, and _event is PL/pgSQL
 * (its INSERT is planned once per backend).
 */
ALTER FUNCTION ticket.checkout(bigint, text, text) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION ticket.payment_succeeded(bigint, text) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION ticket.payment_failed(bigint, text, boolean) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION ticket.report_payments(jsonb) SET plan_cache_mode = force_generic_plan;

CREATE OR REPLACE FUNCTION ticket._event(concert_id bigint, kind text, subject_id bigint, user_id text, detail jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO ticket.event (concert_id, kind, subject_id, user_id, detail) VALUES ($1, $2, $3, $4, $5);
END
$$;

/* ------------------------------------------------------------- the worker */

/*
 * Two new tasks: admit (a step for every scheduled concert whose last step
 * is over 0.75 s old: the seconds before pg_cron 1.4's next minute, or after
 * a restart) and notify_payments (NOTIFY ticket_payment while charges or
 * refunds are due, so that adapters wait on LISTEN instead of polling).
 * timeout_payments uses ticket._time_out_order, shared with claim_payments.
 */
CREATE OR REPLACE FUNCTION ticket.maintenance(task text, batch_size integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	n integer := 0;
	r record;
	t timestamptz := now();
BEGIN
	PERFORM ticket._check_range('batch_size', batch_size, 1, 100000);
	/* NULL, blank, control characters, over 32 characters: before the message echoes it. */
	PERFORM ticket._check_text('task', task, 32);
	CASE task
	WHEN 'expire_holds' THEN
		/*
		 * Holds a checkout has locked are skipped (the checkout decides), and
		 * so are holds with a seat a buyer is trying right now: the worker
		 * never waits (nor in timeout_payments and compensate below), so it
		 * cannot deadlock with anyone.  Skipped holds are
		 * free to buyers anyway and are tidied on the next round.
		 */
		FOR r IN SELECT h.hold_id, h.concert_id, h.user_id, h.seat_ids FROM ticket.hold AS h
				  WHERE h.state = 'active' AND h.expires_at <= t
				  ORDER BY h.expires_at LIMIT batch_size
					FOR UPDATE SKIP LOCKED LOOP
			CONTINUE WHEN NOT ticket._try_lock_seats(r.concert_id, r.seat_ids);
			PERFORM ticket._free_seats(r.concert_id, r.seat_ids, r.hold_id);
			UPDATE ticket.hold AS h SET state = 'expired', ended_at = t WHERE h.hold_id = r.hold_id;
			PERFORM ticket._event(r.concert_id, 'hold_expired', r.hold_id, r.user_id, NULL);
			n := n + 1;
		END LOOP;
		PERFORM ticket._bump_counter('holds_expired', n);
	WHEN 'expire_admissions' THEN
		WITH x AS (
			SELECT e.concert_id, e.user_id FROM ticket.queue_entry AS e
			 WHERE e.state = 'admitted' AND e.expires_at <= t
			 ORDER BY e.expires_at LIMIT batch_size
			   FOR UPDATE SKIP LOCKED
		), done AS (
			UPDATE ticket.queue_entry AS e SET state = 'expired', left_at = t
			  FROM x WHERE e.concert_id = x.concert_id AND e.user_id = x.user_id
			RETURNING e.concert_id, e.user_id
		), ev AS (
			INSERT INTO ticket.event (concert_id, kind, user_id)
			SELECT done.concert_id, 'admission_expired', done.user_id FROM done
			RETURNING 1
		)
		SELECT count(*) INTO n FROM ev;
	WHEN 'timeout_payments' THEN
		/* Charges whose order is past pay_by: dead-letter them, compensate the order. */
		FOR r IN SELECT o.order_id FROM ticket.orders AS o
				  WHERE o.state = 'pending' AND o.pay_by <= t
				  ORDER BY o.pay_by LIMIT batch_size
					FOR UPDATE SKIP LOCKED LOOP
			/*
			 * An adapter reporting this order's charge right now holds the
			 * charge and waits for the order, which this batch holds: waiting
			 * for the charge would close a deadlock.  Such an order is left
			 * to the adapter's report (or the next round).
			 */
			CONTINUE WHEN NOT ticket._try_lock_payments(r.order_id);
			PERFORM ticket._time_out_order(r.order_id, 'timed out');
			n := n + 1;
		END LOOP;
	WHEN 'compensate' THEN
		/* Whole sagas, oldest first; each step is logged as it is done. */
		FOR r IN SELECT g.saga_id, g.order_id FROM ticket.saga AS g WHERE g.state = 'running'
				  ORDER BY g.saga_id LIMIT batch_size
					FOR UPDATE SKIP LOCKED LOOP
			/*
			 * The order and its payments first, without waiting: an adapter
			 * reporting a payment holds it and the order and then waits for
			 * this saga, which this batch holds.  A saga whose order is busy
			 * is run on the next round.
			 */
			CONTINUE WHEN NOT EXISTS (SELECT FROM ticket.orders AS o WHERE o.order_id = r.order_id
										 FOR UPDATE SKIP LOCKED)
					   OR NOT ticket._try_lock_payments(r.order_id);
			WHILE ticket.compensation_step(r.saga_id) LOOP
			END LOOP;
			n := n + 1;
		END LOOP;
	WHEN 'publish_events' THEN
		n := ticket.publish_events(batch_size);
	WHEN 'purge' THEN
		WITH k AS (
			SELECT x.user_id, x.idempotency_key FROM ticket.idempotency AS x
			 WHERE x.created_at < t - make_interval(secs => ticket._setting_seconds('ticket.idempotency_ttl', 86400))
			 ORDER BY x.created_at LIMIT batch_size
		), d AS (
			DELETE FROM ticket.idempotency AS x USING k
			 WHERE x.user_id = k.user_id AND x.idempotency_key = k.idempotency_key
			RETURNING 1
		)
		SELECT count(*) INTO n FROM d;
	WHEN 'admit' THEN
		/*
		 * pg_cron steps scheduled concerts every second while its job runs;
		 * a concert whose last step is older than 0.75 s (before the job's
		 * next minute, after a restart) gets a step here.  The bucket runs on
		 * elapsed time, so a step from both admits no more than one.
		 */
		FOR r IN SELECT q.concert_id FROM ticket.queue AS q
				   JOIN ticket.concert AS k ON k.concert_id = q.concert_id
				  WHERE q.scheduled AND k.state = 'on_sale' AND q.drawn_at IS NOT NULL
					AND (q.last_tick IS NULL OR q.last_tick < clock_timestamp() - interval '0.75 seconds')
				  ORDER BY q.concert_id LIMIT batch_size
					FOR UPDATE OF q SKIP LOCKED LOOP
			PERFORM ticket.admit(r.concert_id);
			n := n + 1;
		END LOOP;
	WHEN 'notify_payments' THEN
		/* A signal, not work: the worker does not go round again for it (src/worker.c). */
		SELECT count(*) INTO n FROM (SELECT FROM ticket.payment AS p
									  WHERE p.state = 'processing' AND p.next_attempt_at <= t
									  LIMIT batch_size) AS d;
		IF n > 0 THEN
			PERFORM pg_catalog.pg_notify('ticket_payment', n::text);
		END IF;
	ELSE
		RAISE EXCEPTION 'unknown maintenance task "%"', task
			USING ERRCODE = '22023',
			HINT = 'The tasks are expire_holds, expire_admissions, timeout_payments, compensate, publish_events, purge, admit and notify_payments.';
	END CASE;
	RETURN n;
END
$$;
COMMENT ON FUNCTION ticket.maintenance(text, integer) IS
	'Runs one batch of one of the worker''s tasks (expire_holds, expire_admissions, timeout_payments, compensate, publish_events, purge, admit, notify_payments) and returns how many items it did: what the background worker does every interval, for psql when the worker is off.';

COMMENT ON TABLE ticket.event IS
	'Outbox: one row per state change (kind: hold, hold_released, hold_expired, admitted, admission_expired, admission_done, order_created, order_paid, order_cancelled, order_refunded, payment_succeeded, payment_failed, payment_dead, payment_timed_out, refund_requested, refund_succeeded, compensation_started, compensation_done). event_id is NULL until ticket.publish_events numbers it.';

/* ------------------------------------------------------------- monitoring */

CREATE OR REPLACE VIEW ticket.queues AS
SELECT q.concert_id, k.title, k.state AS concert_state, q.scheduled,
	   n.entries,
	   CASE WHEN q.drawn_at IS NULL THEN n.prequeue END AS prequeue,
	   CASE WHEN q.drawn_at IS NOT NULL THEN ticket._waiting(q) END AS waiting,
	   n.unplaced, q.admitted_through, q.admitted, q.last_place,
	   coalesce((SELECT sum(g) FROM unnest(q.gaps) AS g), 0) AS departed,
	   k.admit_rate, k.max_active, q.last_tick, q.paused_since, q.sold_out_at,
	   pg_catalog.encode(q.seed_hash, 'hex') AS seed_hash,
	   CASE WHEN q.drawn_at IS NOT NULL THEN pg_catalog.encode(q.seed, 'hex') END AS seed,
	   q.drawn_at, q.drawn,
	   round(CASE WHEN q.eta_rate = 0 THEN 0 WHEN q.rate_reason = 'slots full' THEN q.eta_rate
				  ELSE coalesce(q.rate, k.admit_rate) END::numeric, 1) AS effective_rate,
	   q.rate_reason, q.admission_paused_at,
	   round(q.pace::numeric, 1) AS pace
  FROM ticket.queue AS q
  JOIN ticket.concert AS k ON k.concert_id = q.concert_id
 CROSS JOIN LATERAL (
	SELECT (SELECT count(*) FROM ticket.queue_entry AS e WHERE e.concert_id = q.concert_id) AS entries,
		   (SELECT count(*) FROM ticket.queue_entry AS e
			 WHERE e.concert_id = q.concert_id AND e.state = 'prequeue') AS prequeue,
		   (SELECT count(*) FROM ticket.queue_entry AS e
			 WHERE e.concert_id = q.concert_id AND e.seq IS NULL AND e.state IN ('waiting', 'prequeue')) AS unplaced) AS n;
COMMENT ON VIEW ticket.queues IS
	'One row per waiting room: entries, how many wait (unplaced: joined since the last admission step), were admitted; the draw''s seed hash (published before opening) and, once drawn, its seed; effective_rate (admissions/s the last step used: admit_rate, or less), rate_reason (why it is lower), admission_paused_at (pause_admission), pace (admitted/s actually, smoothed). Counts rows: an admin''s view.';

CREATE OR REPLACE VIEW ticket.dashboard AS
SELECT c.concert_id, c.title, c.state,
	   q.waiting, q.admitted,
	   h.active_holds,
	   c.seat_count AS capacity, s.available, s.held, s.sold,
	   o.orders_pending, o.orders_paid, o.revenue, o.sales_per_minute,
	   g.compensations, g.compensations_running, p.refunds, p.dead_letters,
	   CASE WHEN c.seat_count = 0 THEN NULL
			WHEN s.sold >= c.seat_count THEN interval '0'
			WHEN o.sales_per_minute > 0
			THEN pg_catalog.make_interval(secs => pg_catalog.ceil(60.0 * (c.seat_count - s.sold) / o.sales_per_minute)::double precision)
	   END AS sell_out_eta,
	   pg_catalog.now() AS as_of,
	   c.admit_rate, q.effective_rate, q.rate_reason,
	   b.due AS payments_due, round(b.oldest_due_age::numeric, 1) AS payment_backlog_seconds
  FROM ticket.concert AS c
  JOIN ticket.concerts AS s ON s.concert_id = c.concert_id
  LEFT JOIN LATERAL (
	SELECT ticket._waiting(x) AS waiting, x.admitted,
		   round(CASE WHEN x.eta_rate = 0 THEN 0 WHEN x.rate_reason = 'slots full' THEN x.eta_rate
					  ELSE coalesce(x.rate, c.admit_rate) END::numeric, 1) AS effective_rate,
		   x.rate_reason
	  FROM ticket.queue AS x WHERE x.concert_id = c.concert_id) AS q ON true
 CROSS JOIN LATERAL ticket._payment_backlog(c.concert_id) AS b
 CROSS JOIN LATERAL (
	SELECT count(*) AS active_holds FROM ticket.hold AS x
	 WHERE x.concert_id = c.concert_id AND x.state = 'active' AND x.expires_at > pg_catalog.now()) AS h
 CROSS JOIN LATERAL (
	SELECT count(*) FILTER (WHERE x.state = 'pending') AS orders_pending,
		   count(*) FILTER (WHERE x.state = 'paid') AS orders_paid,
		   coalesce(sum(x.amount) FILTER (WHERE x.state = 'paid'), 0)::numeric(14,2) AS revenue,
		   coalesce(sum(pg_catalog.cardinality(x.seat_ids))
					FILTER (WHERE x.state = 'paid' AND x.paid_at > pg_catalog.now() - interval '1 minute'), 0)::bigint
			   AS sales_per_minute
	  FROM ticket.orders AS x WHERE x.concert_id = c.concert_id) AS o
 CROSS JOIN LATERAL (
	SELECT count(*) FILTER (WHERE x.state = 'done') AS compensations,
		   count(*) FILTER (WHERE x.state = 'running') AS compensations_running
	  FROM ticket.saga AS x JOIN ticket.orders AS y ON y.order_id = x.order_id
	 WHERE y.concert_id = c.concert_id) AS g
 CROSS JOIN LATERAL (
	SELECT count(*) FILTER (WHERE x.kind = 'refund' AND x.state = 'succeeded') AS refunds,
		   count(*) FILTER (WHERE x.dead_at IS NOT NULL) AS dead_letters
	  FROM ticket.payment AS x JOIN ticket.orders AS y ON y.order_id = x.order_id
	 WHERE y.concert_id = c.concert_id) AS p;
COMMENT ON VIEW ticket.dashboard IS
	'One row per concert for an operator''s \watch 1: waiting and admitted (waiting rooms), active holds, seats available/held/sold of capacity, orders pending and paid, revenue (paid orders), sales_per_minute (seats paid in the last minute), compensations done and running, refunds paid back, dead-lettered payment jobs, sell_out_eta at the last minute''s pace; admit_rate (the ceiling), effective_rate and rate_reason (back-pressure, pause, cap), payments_due and payment_backlog_seconds (charges waiting for an adapter, and how long the oldest has waited); all read from one snapshot taken at as_of.';

CREATE OR REPLACE FUNCTION ticket.metrics()
RETURNS TABLE (name text, kind text, labels jsonb, value double precision)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	/* Counters since the server started (shared memory: none when not preloaded). */
	IF ticket.preloaded() THEN
		RETURN QUERY
		SELECT 'ticket_' || k.counter || '_total', 'counter', '{}'::jsonb, k.value::double precision
		  FROM ticket.counters() AS k;
	END IF;
	RETURN QUERY
	/* Per concert on sale, from one read of the dashboard. */
	SELECT 'ticket_concert_' || m.key, m.kind,
		   pg_catalog.jsonb_build_object('concert_id', d.concert_id::text), m.value
	  FROM ticket.dashboard AS d
	 CROSS JOIN LATERAL (VALUES
		('waiting', 'gauge', d.waiting::double precision),
		('admitted_total', 'counter', d.admitted::double precision),
		('active_holds', 'gauge', d.active_holds::double precision),
		('capacity_seats', 'gauge', d.capacity::double precision),
		('available_seats', 'gauge', d.available::double precision),
		('held_seats', 'gauge', d.held::double precision),
		('sold_seats', 'gauge', d.sold::double precision),
		('orders_pending', 'gauge', d.orders_pending::double precision),
		('orders_paid', 'gauge', d.orders_paid::double precision),
		('revenue', 'gauge', d.revenue::double precision),
		('sales_per_minute', 'gauge', d.sales_per_minute::double precision),
		('compensations', 'gauge', d.compensations::double precision),
		('refunds', 'gauge', d.refunds::double precision),
		('dead_letters', 'gauge', d.dead_letters::double precision),
		('sell_out_eta_seconds', 'gauge', pg_catalog.date_part('epoch', d.sell_out_eta)),
		('admit_rate', 'gauge', d.admit_rate::double precision),
		('admission_rate', 'gauge', d.effective_rate::double precision),
		('admission_paused', 'gauge', (d.rate_reason IS NOT DISTINCT FROM 'paused')::integer::double precision),
		('admission_throttled', 'gauge',
		 coalesce(d.rate_reason IN ('payments behind', 'recovering'), false)::integer::double precision),
		('admission_slots_full', 'gauge', (d.rate_reason IS NOT DISTINCT FROM 'slots full')::integer::double precision),
		('payments_due', 'gauge', d.payments_due::double precision),
		('payment_backlog_seconds', 'gauge', d.payment_backlog_seconds::double precision))
		AS m (key, kind, value)
	 WHERE d.state = 'on_sale'
	UNION ALL
	/* What is in flight, for every concert. */
	SELECT 'ticket_payments_due', 'gauge', '{}'::jsonb, count(*)::double precision
	  FROM ticket.payment AS p WHERE p.state = 'processing' AND p.next_attempt_at <= pg_catalog.now()
	UNION ALL
	SELECT 'ticket_events_unpublished', 'gauge', '{}'::jsonb, count(*)::double precision
	  FROM ticket.event AS e WHERE e.event_id IS NULL
	UNION ALL
	SELECT 'ticket_worker_running', 'gauge', '{}'::jsonb, count(*)::double precision
	  FROM pg_catalog.pg_stat_activity AS a WHERE a.backend_type = 'ticket worker'
	UNION ALL
	SELECT 'ticket_preloaded', 'gauge', '{}'::jsonb, ticket.preloaded()::integer::double precision;
END
$$;
COMMENT ON FUNCTION ticket.metrics() IS
	'Every counter (ticket_<counter>_total, since server start) and gauge (per concert on sale: ticket_concert_*, labelled concert_id, among them admit_rate, admission_rate (effective), admission_paused / admission_throttled / admission_slots_full (why it is lower), payments_due and payment_backlog_seconds; payments due, unpublished events, worker running, preloaded) as name, kind, labels, value: what monitoring/postgres_exporter.yml turns into Prometheus metrics.';

/* ------------------------------------------------------------ privileges */

REVOKE ALL ON FUNCTION ticket._payment_backlog(bigint), ticket._pressure_target(interval), ticket._lock_queue(bigint),
	ticket.pause_admission(bigint), ticket.resume_admission(bigint),
	ticket._buyer_seats(bigint, text, bigint), ticket._end_admission(bigint, text),
	ticket._time_out_order(bigint, text), ticket.report_payments(jsonb) FROM PUBLIC;
/* The dashboard calls it as whoever reads it (it only counts, as the owner). */
GRANT EXECUTE ON FUNCTION ticket._payment_backlog(bigint) TO ticket_admin, ticket_monitor;
GRANT EXECUTE ON FUNCTION ticket.pause_admission(bigint), ticket.resume_admission(bigint) TO ticket_admin;
GRANT EXECUTE ON FUNCTION ticket.report_payments(jsonb) TO ticket_adapter;
