/* ticket--0.4--0.5.sql: from 0.4 to 0.5 */

\echo Use "ALTER EXTENSION ticket UPDATE TO '0.5'" to load this file. \quit

/*
 * 0.5 is built from the SQL beside the C (the .sql files in src, one per
 * capability; the Makefile concatenates them into ticket--0.5.sql), and
 * every rule of a sale is written once (issue 16):
 *
 * - When a seat is free and when a hold is live: the C functions of
 *   src/sale.c, which the SQL reads through ticket._seat_is_free and
 *   ticket._hold_is_live (the sections view, seat_map, admit, _buyer_seats,
 *   verify) instead of its own copies of the conditions.
 * - Every event enters the outbox through one C function: ticket._event is
 *   C, and maintenance's expired admissions go through it instead of an
 *   INSERT of their own.
 * - The text rules are the C functions' (src/parse.c, fuzzed):
 *   ticket._check_text is C, and the limits of user_id, the keys,
 *   provider_ref, solution and reason come from there (max_chars may be
 *   NULL), so the functions below no longer pass 128, 255 or 1000.
 * - "The caller's own hold or order" (P0002 when missing, 42501 when
 *   another user's) is one C function, which checkout, release (through
 *   ticket._own_hold) and order_status (ticket._own_order) use.
 *
 * Same conventions as ticket--0.1--0.2.sql: CREATE OR REPLACE only for what
 * an earlier script created, with the same signature; the bodies are those
 * of the src files; test/t/010_upgrade.pl checks that an install updated from
 * 0.1 and a fresh one have the same objects, definitions, grants and
 * comments.
 */

/* ------------------------------------------------ src/parse.sql */

CREATE OR REPLACE FUNCTION ticket._check_text(what text, value text, max_chars integer DEFAULT NULL, required boolean DEFAULT true)
RETURNS void
LANGUAGE c IMMUTABLE
AS 'MODULE_PATHNAME', 'ticket_check_text_sql';

COMMENT ON FUNCTION ticket._check_text(text, text, integer, boolean) IS
	'Internal: raises 22004, 22023 or 22001 unless a text is present, not blank (only whitespace), short enough and free of control characters (a reason may hold tab, newline and carriage return). The rules are the C functions'' (src/parse.c); max_chars NULL takes the limit src/parse.c gives what (user_id, idempotency_key, client_key, provider_ref, solution, reason).';

/* ------------------------------------------------ src/catalogue.sql */

CREATE FUNCTION ticket._seat_is_free(state ticket.seat_state, held_until timestamptz, at timestamptz)
RETURNS boolean
LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ticket_seat_is_free_sql';

COMMENT ON FUNCTION ticket._seat_is_free(ticket.seat_state, timestamptz, timestamptz) IS
	'Internal: whether a seat in this state and held_until is free at the given time: available, or held past held_until. The rule the C hold paths use.';

CREATE OR REPLACE VIEW ticket.sections AS
SELECT s.concert_id, s.section_id, s.name, s.grade, s.price, s.seated,
	   s.seat_rows, s.seats_per_row, s.capacity,
	   n.available, n.held, n.sold
  FROM ticket.section AS s
 CROSS JOIN LATERAL (
	SELECT count(*) FILTER (WHERE ticket._seat_is_free(t.state, t.held_until, now())) AS available,
		   count(*) FILTER (WHERE t.state = 'held' AND NOT ticket._seat_is_free(t.state, t.held_until, now())) AS held,
		   count(*) FILTER (WHERE t.state = 'sold') AS sold
	  FROM ticket.seat AS t
	 WHERE t.concert_id = s.concert_id
	   AND t.seat_id BETWEEN s.first_seat_id AND s.first_seat_id + s.capacity - 1) AS n;

CREATE OR REPLACE FUNCTION ticket.seat_map(concert_id bigint, section_id integer)
RETURNS TABLE (row_label text, seats text, available integer, held integer, sold integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	s ticket.section;
BEGIN
	IF concert_id IS NULL OR section_id IS NULL THEN
		RAISE EXCEPTION 'concert_id and section_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	SELECT * INTO s FROM ticket.section AS x WHERE x.concert_id = concert_id AND x.section_id = section_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'concert % has no section %', concert_id, section_id USING ERRCODE = 'P0002';
	END IF;

	/* One line per row; standing places in lines of 50. */
	RETURN QUERY
	SELECT CASE WHEN s.seated THEN 'row ' || m.line
				ELSE format('places %s-%s', min(m.seat_no), max(m.seat_no)) END,
		   string_agg(CASE m.st WHEN 'available' THEN '.' WHEN 'held' THEN 'h' ELSE 'x' END,
					  '' ORDER BY m.seat_no),
		   (count(*) FILTER (WHERE m.st = 'available'))::integer,
		   (count(*) FILTER (WHERE m.st = 'held'))::integer,
		   (count(*) FILTER (WHERE m.st = 'sold'))::integer
	  FROM (SELECT CASE WHEN s.seated THEN t.row_no ELSE (t.seat_no - 1) / 50 + 1 END AS line,
				   t.seat_no,
				   CASE WHEN ticket._seat_is_free(t.state, t.held_until, now()) THEN 'available'::ticket.seat_state
						ELSE t.state END AS st
			  FROM ticket.seat AS t
			 WHERE t.concert_id = concert_id
			   AND t.seat_id BETWEEN s.first_seat_id AND s.first_seat_id + s.capacity - 1) AS m
	 GROUP BY m.line
	 ORDER BY m.line;
END
$$;

/* ------------------------------------------------ src/hold.sql */

CREATE FUNCTION ticket._own_hold(hold_id bigint, user_id text, verb text)
RETURNS ticket.hold
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_own_hold_sql';

COMMENT ON FUNCTION ticket._own_hold(bigint, text, text) IS
	'Internal: the caller''s hold, locked FOR UPDATE; P0002 when there is none, 42501 (hint: only its user may <verb>) when it is another user''s.';

CREATE OR REPLACE FUNCTION ticket.release(hold_id bigint, user_id text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	h ticket.hold;
	outcome ticket.hold_state;
BEGIN
	IF hold_id IS NULL OR user_id IS NULL THEN
		RAISE EXCEPTION 'hold_id and user_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	PERFORM ticket._check_text('user_id', user_id);
	h := ticket._own_hold(hold_id, user_id, 'release it');
	IF h.state IN ('checking_out', 'confirmed') THEN
		RAISE EXCEPTION 'hold % is %', hold_id, h.state
			USING ERRCODE = '55000', HINT = 'A hold in checkout or paid for is undone by compensation, not release.';
	END IF;
	IF h.state <> 'active' THEN
		RETURN h.state::text;
	END IF;

	PERFORM ticket._lock_seats(h.concert_id, h.seat_ids);
	PERFORM ticket._free_seats(h.concert_id, h.seat_ids, h.hold_id);
	outcome := CASE WHEN ticket._hold_is_live(h.state, h.expires_at, now()) THEN 'released' ELSE 'expired' END;
	UPDATE ticket.hold AS x SET state = outcome, ended_at = now() WHERE x.hold_id = hold_id;
	PERFORM ticket._event(h.concert_id, 'hold_' || outcome::text, hold_id, user_id, NULL);
	RETURN outcome::text;
END
$$;

CREATE FUNCTION ticket._hold_is_live(state ticket.hold_state, expires_at timestamptz, at timestamptz)
RETURNS boolean
LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ticket_hold_is_live_sql';

COMMENT ON FUNCTION ticket._hold_is_live(ticket.hold_state, timestamptz, timestamptz) IS
	'Internal: whether a hold in this state and expires_at is live at the given time (paid, or active or in checkout until expires_at): it owns its seats and counts toward the per-user limit. The rule the C paths use.';

CREATE OR REPLACE FUNCTION ticket._buyer_seats(concert_id bigint, user_id text, except_hold bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	/* Seats a buyer holds or owns: paid holds, and live holds (active or in checkout, not past expires_at). */
	SELECT coalesce(sum(pg_catalog.cardinality(x.seat_ids)), 0)::bigint FROM ticket.hold AS x
	 WHERE x.concert_id = $1 AND x.user_id = $2 AND x.hold_id IS DISTINCT FROM $3
	   AND ticket._hold_is_live(x.state, x.expires_at, pg_catalog.now());
$$;

/* ------------------------------------------------ src/blocklist.sql */

CREATE OR REPLACE FUNCTION ticket.block_user(user_id text, reason text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c bigint;
	h bigint;
	released integer := 0;
BEGIN
	PERFORM ticket._check_text('user_id', user_id);
	PERFORM ticket._check_text('reason', reason, 200, false);
	INSERT INTO ticket.blocked_user AS b (user_id, reason) VALUES (user_id, reason)
	ON CONFLICT ON CONSTRAINT blocked_user_pkey DO NOTHING;

	/*
	 * Wait for the user's holds and joins in flight (they hold the buyer
	 * lock), then take them out of every queue and release every active
	 * hold in the same transaction: a hold that commits
	 * before this one is released here, and one that starts after sees the
	 * blocklist.
	 */
	FOR c IN SELECT k.concert_id FROM ticket.concert AS k ORDER BY k.concert_id LOOP
		PERFORM ticket._lock_buyer(c, user_id);
		IF EXISTS (SELECT FROM ticket.queue AS q WHERE q.concert_id = c) THEN
			PERFORM ticket._leave(c, user_id, 'blocked');
		END IF;
		FOR h IN SELECT x.hold_id FROM ticket.hold AS x
				  WHERE x.concert_id = c AND x.user_id = user_id AND x.state = 'active'
				  ORDER BY x.hold_id LOOP
			PERFORM ticket.release(h, user_id);
			released := released + 1;
		END LOOP;
	END LOOP;
	RETURN released;
END
$$;

CREATE OR REPLACE FUNCTION ticket.unblock_user(user_id text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	PERFORM ticket._check_text('user_id', user_id);
	DELETE FROM ticket.blocked_user AS b WHERE b.user_id = user_id;
	RETURN FOUND;
END
$$;

/* ------------------------------------------------ src/queue.sql */

CREATE OR REPLACE FUNCTION ticket.join_queue(
	concert_id bigint,
	user_id text,
	client_key text DEFAULT NULL,
	challenge text DEFAULT NULL,
	solution text DEFAULT NULL)
RETURNS ticket.queue_status
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c ticket.concert;
	e ticket.queue_entry;
	drawn boolean;
	r ticket.queue_status;
	had_entry boolean;
BEGIN
	IF concert_id IS NULL THEN
		RAISE EXCEPTION 'concert_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	PERFORM ticket._check_text('user_id', user_id);
	PERFORM ticket._check_text('client_key', client_key, required => false);
	PERFORM ticket._check_text('challenge', challenge, 200, false);
	PERFORM ticket._check_text('solution', solution, required => false);
	PERFORM ticket._require_preloaded('ticket.join_queue()');
	SELECT * INTO c FROM ticket.concert AS k WHERE k.concert_id = concert_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'concert % does not exist', concert_id USING ERRCODE = 'P0002';
	END IF;
	IF NOT c.queue THEN
		RAISE EXCEPTION 'concert % has no waiting room', concert_id
			USING ERRCODE = '55000', HINT = 'Buyers hold seats directly; ticket.update_concert(queue => true) adds one while it is a draft.';
	END IF;
	r.concert_id := concert_id;
	r.user_id := user_id;
	IF NOT ticket._rate_allow(user_id, client_key) THEN
		PERFORM ticket._bump_counter('queue_rate_limited', 1);
		r.state := 'rate_limited';
		RETURN r;
	END IF;
	IF c.state IN ('closed', 'cancelled') THEN
		r.state := 'closed';
		RETURN r;
	END IF;
	IF EXISTS (SELECT FROM ticket.blocked_user AS b WHERE b.user_id = user_id) THEN
		PERFORM ticket._bump_counter('queue_blocked', 1);
		r.state := 'blocked';
		RETURN r;
	END IF;

	/* One call per user at a time: joining again returns the same place. */
	PERFORM ticket._lock_buyer(concert_id, user_id);
	SELECT * INTO e FROM ticket.queue_entry AS x WHERE x.concert_id = concert_id AND x.user_id = user_id;
	had_entry := FOUND;
	IF had_entry AND (e.state IN ('prequeue', 'waiting')
					  OR (e.state = 'admitted' AND e.expires_at > now())) THEN
		RETURN ticket.queue_status(concert_id, user_id);
	END IF;

	IF c.pow_bits > 0 THEN
		IF challenge IS NULL OR solution IS NULL THEN
			r.state := 'challenge';
			RETURN r;
		END IF;
		PERFORM ticket._check_work(challenge, solution, concert_id, user_id, c.pow_bits);
	END IF;

	/* No place yet: the next admission step numbers joiners in join order. */
	SELECT q.drawn_at IS NOT NULL INTO drawn FROM ticket.queue AS q WHERE q.concert_id = concert_id;
	IF NOT had_entry THEN
		INSERT INTO ticket.queue_entry AS x (concert_id, user_id, state, joined_at, client_key)
		VALUES (concert_id, user_id, CASE WHEN drawn THEN 'waiting' ELSE 'prequeue' END::ticket.queue_entry_state,
				now(), client_key);
	ELSE
		/* Back after leaving, being unblocked or letting an admission expire: at the back. */
		UPDATE ticket.queue_entry AS x
		   SET state = CASE WHEN drawn THEN 'waiting' ELSE 'prequeue' END::ticket.queue_entry_state,
			   seq = NULL, joined_at = now(), admitted_at = NULL, expires_at = NULL, left_at = NULL,
			   client_key = client_key, join_seq = pg_catalog.nextval('ticket.queue_join_seq')
		 WHERE x.concert_id = concert_id AND x.user_id = user_id;
	END IF;
	PERFORM ticket._bump_counter('queue_joined', 1);
	RETURN ticket.queue_status(concert_id, user_id);
END
$$;

CREATE OR REPLACE FUNCTION ticket.leave_queue(concert_id bigint, user_id text)
RETURNS ticket.queue_status
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	IF concert_id IS NULL THEN
		RAISE EXCEPTION 'concert_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	PERFORM ticket._check_text('user_id', user_id);
	IF NOT EXISTS (SELECT FROM ticket.queue AS q WHERE q.concert_id = concert_id) THEN
		PERFORM ticket._lock_concert(concert_id);	/* P0002 if there is no such concert */
		RAISE EXCEPTION 'concert % has no waiting room', concert_id USING ERRCODE = '55000';
	END IF;
	IF ticket._leave(concert_id, user_id, 'left') THEN
		PERFORM ticket._bump_counter('queue_left', 1);
	END IF;
	RETURN ticket.queue_status(concert_id, user_id);
END
$$;

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
					  AND ticket._seat_is_free(s.state, s.held_until, t)) THEN
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

/* ------------------------------------------------ src/event.sql */

CREATE OR REPLACE FUNCTION ticket._event(concert_id bigint, kind text, subject_id bigint, user_id text, detail jsonb DEFAULT NULL)
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_event_sql';

COMMENT ON FUNCTION ticket._event(bigint, text, bigint, text, jsonb) IS
	'Internal: appends an event to the outbox in the caller''s transaction, through the C function every event of the extension goes through (src/sale.c).';

/* ------------------------------------------------ src/checkout.sql */

CREATE FUNCTION ticket._own_order(order_id bigint, user_id text)
RETURNS ticket.orders
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'ticket_own_order_sql';

COMMENT ON FUNCTION ticket._own_order(bigint, text) IS
	'Internal: the caller''s order as the statement sees it; P0002 when there is none, 42501 when it is another user''s.';

CREATE OR REPLACE FUNCTION ticket.order_status(order_id bigint, user_id text)
RETURNS ticket.checkout_result
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	o ticket.orders;
BEGIN
	IF order_id IS NULL THEN
		RAISE EXCEPTION 'order_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	PERFORM ticket._check_text('user_id', user_id);
	o := ticket._own_order(order_id, user_id);
	RETURN ticket._order_result(order_id);
END
$$;

/* ------------------------------------------------ src/payment.sql */

CREATE OR REPLACE FUNCTION ticket.payment_succeeded(payment_id bigint, provider_ref text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_variable
DECLARE
	p ticket.payment;
	o ticket.orders;
	c ticket.concert;
BEGIN
	PERFORM ticket._check_text('provider_ref', provider_ref);
	p := ticket._lock_payment(payment_id);
	SELECT * INTO o FROM ticket.orders AS x WHERE x.order_id = p.order_id FOR UPDATE;

	IF p.kind = 'refund' THEN
		IF p.state = 'succeeded' THEN
			RETURN 'refunded';
		END IF;
		UPDATE ticket.payment AS x SET state = 'succeeded', provider_ref = provider_ref, finished_at = now(),
			   lease_owner = NULL, lease_until = NULL, dead_at = NULL
		 WHERE x.payment_id = payment_id;
		UPDATE ticket.payment AS x SET state = 'refunded', finished_at = now()
		 WHERE x.payment_id = p.refund_of AND x.provider_ref = p.refund_ref;
		PERFORM ticket._event(o.concert_id, 'refund_succeeded', o.order_id, o.user_id,
			jsonb_build_object('payment_id', payment_id, 'amount', p.amount));
		/* Nothing captured is left: the order is refunded. */
		IF o.state = 'cancelled' AND NOT EXISTS (
			SELECT FROM ticket.payment AS x WHERE x.order_id = o.order_id AND x.kind = 'charge' AND x.state = 'succeeded')
		   AND NOT EXISTS (
			SELECT FROM ticket.payment AS x WHERE x.order_id = o.order_id AND x.kind = 'refund' AND x.state <> 'succeeded') THEN
			UPDATE ticket.orders AS x SET state = 'refunded', refunded_at = now() WHERE x.order_id = o.order_id;
			PERFORM ticket._event(o.concert_id, 'order_refunded', o.order_id, o.user_id, NULL);
		END IF;
		PERFORM ticket._bump_counter('refunds_succeeded', 1);
		RETURN 'refunded';
	END IF;

	/* A charge.  Reported again: the first report stands. */
	IF p.state IN ('succeeded', 'refunded') THEN
		IF p.provider_ref IS DISTINCT FROM provider_ref THEN
			/* The provider took the money twice: give the second back. */
			PERFORM ticket._request_refund(p, provider_ref, 'duplicate capture');
			RETURN 'refunding';
		END IF;
		RETURN CASE WHEN o.state = 'paid' THEN 'paid' WHEN p.state = 'refunded' THEN 'refunded' ELSE 'refunding' END;
	END IF;

	UPDATE ticket.payment AS x SET state = 'succeeded', provider_ref = provider_ref, finished_at = now(),
		   lease_owner = NULL, lease_until = NULL
	 WHERE x.payment_id = payment_id;
	p.state := 'succeeded';
	PERFORM ticket._event(o.concert_id, 'payment_succeeded', o.order_id, o.user_id,
		jsonb_build_object('payment_id', payment_id, 'provider_ref', provider_ref, 'amount', p.amount,
						   'late', o.state <> 'pending'));
	PERFORM ticket._bump_counter('payments_succeeded', 1);

	SELECT * INTO c FROM ticket.concert AS k WHERE k.concert_id = o.concert_id;
	IF o.state = 'pending' OR (o.state = 'cancelled' AND c.accept_late_payments AND c.state <> 'cancelled'
							   AND NOT EXISTS (SELECT FROM ticket.saga AS g
												WHERE g.order_id = o.order_id AND g.state = 'running')) THEN
		IF ticket._sell(o) THEN
			/* An automatic compensation not yet run has nothing left to undo. */
			UPDATE ticket.saga AS g SET state = 'skipped', finished_at = now()
			 WHERE g.order_id = o.order_id AND g.state = 'running' AND g.if_unpaid;
			RETURN 'paid';
		END IF;
	END IF;
	/* Too late to sell: compensate (pending) and give the money back. */
	IF o.state = 'pending' THEN
		PERFORM ticket._start_saga(o.order_id, 'paid after its seats went to another buyer', false);
	ELSE
		PERFORM ticket._request_refund(p, provider_ref, 'paid after the order was ' || o.state::text);
	END IF;
	RETURN 'refunding';
END
$$;

CREATE OR REPLACE FUNCTION ticket.payment_failed(payment_id bigint, reason text, retryable boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_variable
DECLARE
	p ticket.payment;
	o ticket.orders;
	delay interval;
BEGIN
	PERFORM ticket._check_text('reason', reason);
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

CREATE OR REPLACE FUNCTION ticket.report_payments(reports jsonb)
RETURNS TABLE (payment_id bigint, status text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
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
		PERFORM ticket._check_text('provider_ref', v ->> 'provider_ref', required => v ->> 'outcome' = 'succeeded');
		PERFORM ticket._check_text('reason', v ->> 'reason', required => v ->> 'outcome' = 'failed');
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
	/*
	 * The buyer locks of the orders a success may sell, all first and in one
	 * order (concert, user): _sell takes a buyer's lock (0.4), one order at
	 * a time in payment order, so two batches naming the same two buyers in
	 * opposite orders would otherwise deadlock.
	 */
	PERFORM ticket._lock_buyer(b.concert_id, b.user_id)
	  FROM (SELECT DISTINCT o.concert_id, o.user_id
			  FROM pg_catalog.jsonb_array_elements(reports) AS e
			  JOIN ticket.payment AS p ON p.payment_id = (e.value ->> 'payment_id')::bigint
			  JOIN ticket.orders AS o ON o.order_id = p.order_id
			 WHERE e.value ->> 'outcome' = 'succeeded' AND p.kind = 'charge') AS b
	 ORDER BY b.concert_id, b.user_id;
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

/* ------------------------------------------------ src/compensation.sql */

CREATE OR REPLACE FUNCTION ticket.start_compensation(order_id bigint, reason text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	o ticket.orders;
BEGIN
	IF order_id IS NULL THEN
		RAISE EXCEPTION 'order_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	PERFORM ticket._check_text('reason', reason);
	SELECT * INTO o FROM ticket.orders AS x WHERE x.order_id = order_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'order % does not exist', order_id USING ERRCODE = 'P0002';
	END IF;
	IF o.state IN ('cancelled', 'refunded')
	   AND NOT EXISTS (SELECT FROM ticket.saga AS g WHERE g.order_id = order_id AND g.state = 'running') THEN
		RETURN NULL;	/* undone already */
	END IF;
	RETURN ticket._start_saga(order_id, reason, false);
END
$$;

/* ------------------------------------------------ src/worker.sql */

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
		)
		SELECT count(ticket._event(done.concert_id, 'admission_expired', NULL, done.user_id)) INTO n FROM done;
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

/* ------------------------------------------------ src/verify.sql */

CREATE OR REPLACE FUNCTION ticket.verify(concert_id bigint DEFAULT NULL)
RETURNS TABLE (concert_id bigint, violation text, detail text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	/* Live means live at this statement's start, when its snapshot was taken. */
	WITH live AS (
		SELECT h.* FROM ticket.hold AS h
		 WHERE ($1 IS NULL OR h.concert_id = $1)
		   AND ticket._hold_is_live(h.state, h.expires_at, statement_timestamp())
	), live_seat AS (
		SELECT l.concert_id, l.hold_id, l.state, l.expires_at, u.seat_id
		  FROM live AS l CROSS JOIN LATERAL unnest(l.seat_ids) AS u(seat_id)
	), seats AS (
		SELECT t.* FROM ticket.seat AS t WHERE $1 IS NULL OR t.concert_id = $1
	)
	/* A seat in two live holds. */
	SELECT ls.concert_id, 'seat in two live holds',
		   format('seat %s is in holds %s', ls.seat_id, string_agg(ls.hold_id::text, ', ' ORDER BY ls.hold_id))
	  FROM live_seat AS ls
	 GROUP BY ls.concert_id, ls.seat_id
	HAVING count(*) > 1
	UNION ALL
	/* A live hold whose seat does not say so. */
	SELECT ls.concert_id, 'seat disagrees with its hold',
		   format('hold %s (%s) lists seat %s, which is %s with hold %s%s',
				  ls.hold_id, ls.state, ls.seat_id, coalesce(t.state::text, 'missing'), coalesce(t.hold_id::text, 'none'),
				  CASE WHEN t.held_until IS DISTINCT FROM ls.expires_at AND ls.state <> 'confirmed'
					   THEN ' and a different expiry' ELSE '' END)
	  FROM live_seat AS ls
	  LEFT JOIN ticket.seat AS t ON t.concert_id = ls.concert_id AND t.seat_id = ls.seat_id
	 WHERE t.hold_id IS DISTINCT FROM ls.hold_id
		OR (ls.state <> 'confirmed' AND (t.state <> 'held' OR t.held_until IS DISTINCT FROM ls.expires_at))
		OR (ls.state = 'confirmed' AND t.state <> 'sold')
	UNION ALL
	/* A seat held or sold by no hold, or by one that does not list it. */
	SELECT t.concert_id, 'seat disagrees with its hold',
		   format('seat %s is %s with hold %s, which %s', t.seat_id, t.state,
				  coalesce(t.hold_id::text, 'none'),
				  CASE WHEN h.hold_id IS NULL THEN 'does not exist' ELSE 'does not list it' END)
	  FROM seats AS t
	  LEFT JOIN ticket.hold AS h ON h.hold_id = t.hold_id
	 WHERE t.state <> 'available'
	   AND (h.hold_id IS NULL OR h.concert_id <> t.concert_id OR NOT t.seat_id = ANY (h.seat_ids))
	UNION ALL
	/* A seat still held for a hold that has ended (a leaked seat). */
	SELECT t.concert_id, 'seat held by an ended hold',
		   format('seat %s is still held by hold %s, which is %s', t.seat_id, h.hold_id, h.state)
	  FROM seats AS t
	  JOIN ticket.hold AS h ON h.hold_id = t.hold_id
	 WHERE t.state = 'held' AND NOT ticket._seat_is_free(t.state, t.held_until, statement_timestamp())
	   AND h.state IN ('released', 'expired')
	UNION ALL
	/* A seat sold by a hold that was never paid for. */
	SELECT t.concert_id, 'sold seat without a confirmed hold',
		   format('seat %s is sold by hold %s, which is %s', t.seat_id, h.hold_id, h.state)
	  FROM seats AS t
	  JOIN ticket.hold AS h ON h.hold_id = t.hold_id
	 WHERE t.state = 'sold' AND h.state <> 'confirmed'
	UNION ALL
	/* An available seat that still names a hold. */
	SELECT t.concert_id, 'available seat names a hold',
		   format('seat %s is available but names hold %s', t.seat_id, t.hold_id)
	  FROM seats AS t
	 WHERE t.state = 'available' AND (t.hold_id IS NOT NULL OR t.held_until IS NOT NULL)
	UNION ALL
	/* available + held + sold = capacity, seat by seat. */
	SELECT s.concert_id, 'section capacity',
		   format('section %s (%s) has %s seats for a capacity of %s', s.section_id, s.name, n.seats, s.capacity)
	  FROM ticket.section AS s
	 CROSS JOIN LATERAL (
		SELECT count(*) AS seats FROM ticket.seat AS t
		 WHERE t.concert_id = s.concert_id AND t.section_id = s.section_id
		   AND t.seat_id BETWEEN s.first_seat_id AND s.first_seat_id + s.capacity - 1) AS n
	 WHERE ($1 IS NULL OR s.concert_id = $1) AND n.seats <> s.capacity
	UNION ALL
	/* A user over the limit. */
	SELECT l.concert_id, 'user over the limit',
		   format('user %s holds or owns %s seats; the limit is %s', l.user_id,
				  sum(cardinality(l.seat_ids)), c.per_user_limit)
	  FROM live AS l JOIN ticket.concert AS c ON c.concert_id = l.concert_id
	 GROUP BY l.concert_id, l.user_id, c.per_user_limit
	HAVING sum(cardinality(l.seat_ids)) > c.per_user_limit
	UNION ALL
	/* The draw's seed is not the one committed to. */
	SELECT q.concert_id, 'draw seed does not match its hash',
		   format('sha256(seed) is %s, the published hash %s',
				  encode(sha256(q.seed), 'hex'), encode(q.seed_hash, 'hex'))
	  FROM ticket.queue AS q
	 WHERE ($1 IS NULL OR q.concert_id = $1) AND sha256(q.seed) <> q.seed_hash
	UNION ALL
	/* A place the draw gave that its seed does not give. */
	SELECT q.concert_id, 'draw does not match its seed',
		   format('user %s drew place %s; the seed gives %s', d.user_id, e.draw_place, d.place)
	  FROM ticket.queue AS q
	 CROSS JOIN LATERAL ticket.draw_order(q.concert_id, q.seed) AS d
	  JOIN ticket.queue_entry AS e ON e.concert_id = q.concert_id AND e.user_id = d.user_id
	 WHERE ($1 IS NULL OR q.concert_id = $1) AND q.drawn_at IS NOT NULL AND e.draw_place <> d.place
	UNION ALL
	/* A user still waiting behind the place admitted through: skipped for good. */
	SELECT e.concert_id, 'waiting user passed over',
		   format('user %s waits at place %s; places through %s were admitted', e.user_id, e.seq, q.admitted_through)
	  FROM ticket.queue_entry AS e
	  JOIN ticket.queue AS q ON q.concert_id = e.concert_id
	 WHERE ($1 IS NULL OR e.concert_id = $1) AND e.state = 'waiting' AND e.seq <= q.admitted_through
	UNION ALL
	/* A place past the last one handed out. */
	SELECT e.concert_id, 'place past the last place',
		   format('user %s has place %s; the last place handed out is %s', e.user_id, e.seq, q.last_place)
	  FROM ticket.queue_entry AS e
	  JOIN ticket.queue AS q ON q.concert_id = e.concert_id
	 WHERE ($1 IS NULL OR e.concert_id = $1) AND e.seq > q.last_place
	UNION ALL
	/* Departures per block that disagree with the departures recorded. */
	SELECT q.concert_id, 'queue departures disagree',
		   format('%s departures counted in blocks, %s recorded', n.counted, n.recorded)
	  FROM ticket.queue AS q
	 CROSS JOIN LATERAL (
		SELECT coalesce((SELECT sum(g) FROM unnest(q.gaps) AS g), 0) AS counted,
			   (SELECT count(*) FROM ticket.queue_departure AS d WHERE d.concert_id = q.concert_id) AS recorded) AS n
	 WHERE ($1 IS NULL OR q.concert_id = $1) AND n.counted <> n.recorded
	UNION ALL
	/* A paid order whose seats are not all sold to it. */
	SELECT o.concert_id, 'paid order without its seats',
		   format('order %s is paid; seat %s is %s with hold %s', o.order_id, u.seat_id,
				  coalesce(t.state::text, 'missing'), coalesce(t.hold_id::text, 'none'))
	  FROM ticket.orders AS o
	 CROSS JOIN LATERAL unnest(o.seat_ids) AS u(seat_id)
	  LEFT JOIN ticket.seat AS t ON t.concert_id = o.concert_id AND t.seat_id = u.seat_id
	 WHERE ($1 IS NULL OR o.concert_id = $1) AND o.state = 'paid'
	   AND (t.state IS DISTINCT FROM 'sold' OR t.hold_id IS DISTINCT FROM o.hold_id)
	UNION ALL
	/* A cancelled order whose seats are still its own once its compensation is over (a leaked seat). */
	SELECT o.concert_id, 'cancelled order keeps its seats',
		   format('order %s is %s; seat %s is still %s by its hold %s', o.order_id, o.state, t.seat_id, t.state, o.hold_id)
	  FROM ticket.orders AS o
	  JOIN ticket.seat AS t ON t.concert_id = o.concert_id AND t.seat_id = ANY (o.seat_ids) AND t.hold_id = o.hold_id
	 WHERE ($1 IS NULL OR o.concert_id = $1) AND o.state IN ('cancelled', 'refunded')
	   AND NOT EXISTS (SELECT FROM ticket.saga AS g WHERE g.order_id = o.order_id AND g.state = 'running')
	UNION ALL
	/* Order and hold out of step. */
	SELECT o.concert_id, 'order disagrees with its hold',
		   format('order %s is %s; its hold %s is %s', o.order_id, o.state, o.hold_id, coalesce(h.state::text, 'missing'))
	  FROM ticket.orders AS o
	  LEFT JOIN ticket.hold AS h ON h.hold_id = o.hold_id
	 WHERE ($1 IS NULL OR o.concert_id = $1)
	   AND ((o.state = 'pending' AND h.state IS DISTINCT FROM 'checking_out')
			OR (o.state = 'paid' AND h.state IS DISTINCT FROM 'confirmed'))
	UNION ALL
	SELECT h.concert_id, 'confirmed hold without a paid order',
		   format('hold %s is confirmed; its order is %s', h.hold_id, coalesce(o.state::text, 'missing'))
	  FROM ticket.hold AS h
	  LEFT JOIN ticket.orders AS o ON o.hold_id = h.hold_id
	 WHERE ($1 IS NULL OR h.concert_id = $1) AND h.state = 'confirmed' AND o.state IS DISTINCT FROM 'paid'
	UNION ALL
	/* Money: a paid order was captured; captured money on an undone order is being given back. */
	SELECT o.concert_id, 'paid order without a captured payment',
		   format('order %s is paid but none of its charges succeeded', o.order_id)
	  FROM ticket.orders AS o
	 WHERE ($1 IS NULL OR o.concert_id = $1) AND o.state = 'paid'
	   AND NOT EXISTS (SELECT FROM ticket.payment AS p
					    WHERE p.order_id = o.order_id AND p.kind = 'charge' AND p.state = 'succeeded')
	UNION ALL
	SELECT o.concert_id, 'captured money neither kept nor refunded',
		   format('order %s is %s; charge %s (%s) succeeded and has no refund', o.order_id, o.state,
				  p.payment_id, p.provider_ref)
	  FROM ticket.orders AS o
	  JOIN ticket.payment AS p ON p.order_id = o.order_id AND p.kind = 'charge' AND p.state = 'succeeded'
	 WHERE ($1 IS NULL OR o.concert_id = $1) AND o.state <> 'paid'
	   AND NOT EXISTS (SELECT FROM ticket.payment AS r WHERE r.kind = 'refund' AND r.refund_ref = p.provider_ref)
	   AND NOT EXISTS (SELECT FROM ticket.saga AS g WHERE g.order_id = o.order_id AND g.state = 'running')
	UNION ALL
	SELECT o.concert_id, 'charge captured twice without a refund',
		   format('order %s has %s succeeded charges', o.order_id, count(*))
	  FROM ticket.orders AS o
	  JOIN ticket.payment AS p ON p.order_id = o.order_id AND p.kind = 'charge' AND p.state IN ('succeeded', 'refunded')
	 WHERE ($1 IS NULL OR o.concert_id = $1)
	 GROUP BY o.concert_id, o.order_id
	HAVING count(*) > 1
$$;

/* ------------------------------------------------ privileges */

REVOKE ALL ON FUNCTION ticket._seat_is_free(ticket.seat_state, timestamptz, timestamptz),
	ticket._hold_is_live(ticket.hold_state, timestamptz, timestamptz),
	ticket._own_hold(bigint, text, text), ticket._own_order(bigint, text) FROM PUBLIC;
/* The sections view calls it as whoever reads it. */
GRANT EXECUTE ON FUNCTION ticket._seat_is_free(ticket.seat_state, timestamptz, timestamptz) TO ticket_admin;
