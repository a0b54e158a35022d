/*
 * src/queue.sql: the waiting room (src/queue.c) and its flow control.
 * Joining, the pre-queue draw, positions and ETAs, admission at
 * min(admit_rate, what the sale absorbs now) with back-pressure from the
 * payment backlog (cut by half, grown back by 2 % of admit_rate a second),
 * pause and resume, at most 1.25 seconds' worth per step whatever the gap,
 * and admissions that end when the buyer is done.
 */

/*
 * The waiting room of a concert with queue => true (docs/reference.md,
 * "Waiting room").  Every user has one entry per concert.  Before the sale opens an
 * entry is in the pre-queue without a place; at opening, ticket._draw gives
 * the pre-queue places 1..n in an order fixed by a seed committed to
 * (seed_hash) when the queue was made; later joiners get the next place.
 * ticket.admit admits, in place order, as many as the concert's admit_rate
 * allows for the time since its last step.
 *
 * A join only inserts its entry, without a place (no row every joiner
 * updates: a hot row would make a thousand joiners commit one at a time).
 * Each admission step first numbers the entries that joined since the last
 * one, in join order, after queue.last_place: places are dense, and a join
 * that rolled back never had one.  People ahead of a waiting user are then
 * place - admitted_through - 1, less those between who left
 * (ticket.queue_departure); queue.gaps counts those per block of 1,024
 * places, so ticket.queue_status (src/queue.c) reads two rows and at most
 * two blocks of departures, however long the line is.
 */
CREATE TYPE ticket.queue_entry_state AS ENUM ('prequeue', 'waiting', 'admitted', 'expired', 'left', 'blocked', 'done');
COMMENT ON TYPE ticket.queue_entry_state IS
	'Stored state of a queue entry (done: the admission ended because the buyer paid or reached their limit); ticket.queue_status derives expired, sold_out and closed from it.';

CREATE TYPE ticket.queue_status AS (
	concert_id bigint,
	user_id text,
	state text,
	place bigint,
	"position" bigint,
	eta interval,
	pass_token text,
	expires_at timestamptz,
	note text
);
COMMENT ON TYPE ticket.queue_status IS
	'A user''s place in a waiting room: state prequeue, waiting (with position = people ahead, eta, and note = why admission is slower than admit_rate: paused, payments behind, recovering, slots full, no seats free), admitted (with pass_token, the pass to give hold, and expires_at), done (paid or reached the limit), expired, sold_out, closed, left, blocked, none (never joined); join_queue may also answer rate_limited or challenge.';

CREATE TABLE ticket.queue (
	concert_id bigint PRIMARY KEY,
	seed bytea NOT NULL,
	seed_hash bytea NOT NULL,
	drawn_at timestamptz,
	drawn bigint,
	last_place bigint NOT NULL DEFAULT 0,
	admitted_through bigint NOT NULL DEFAULT 0,
	admitted bigint NOT NULL DEFAULT 0,
	tokens double precision NOT NULL DEFAULT 0,
	last_tick timestamptz,
	paused_since timestamptz,
	sold_out_at timestamptz,
	gaps integer[],
	scheduled boolean NOT NULL DEFAULT false,
	rate double precision,
	rate_reason text,
	rate_cut_at timestamptz,
	rate_cut_due bigint,
	eta_rate double precision,
	pace double precision,
	admission_paused_at timestamptz
) WITH (fillfactor = 50);
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
COMMENT ON TABLE ticket.queue IS
	'Admission state of one concert''s waiting room: the draw''s seed and its hash, the place admitted through, the token bucket, departures per block of 1,024 places. Superusers only; ticket.queues shows it.';

CREATE SEQUENCE ticket.queue_join_seq;
COMMENT ON SEQUENCE ticket.queue_join_seq IS
	'Join order: entries waiting for a place are numbered in this order (it orders, it does not count).';

CREATE TABLE ticket.queue_entry (
	concert_id bigint NOT NULL,
	user_id text NOT NULL,
	state ticket.queue_entry_state NOT NULL,
	seq bigint,
	draw_place bigint,
	joined_at timestamptz NOT NULL,
	admitted_at timestamptz,
	expires_at timestamptz,
	left_at timestamptz,
	client_key text,
	join_seq bigint NOT NULL DEFAULT pg_catalog.nextval('ticket.queue_join_seq'),
	PRIMARY KEY (concert_id, user_id)
);

CREATE UNIQUE INDEX queue_entry_seq_idx ON ticket.queue_entry (concert_id, seq);

CREATE INDEX queue_entry_unplaced_idx ON ticket.queue_entry (concert_id, join_seq) WHERE seq IS NULL;

CREATE INDEX queue_entry_active_idx ON ticket.queue_entry (concert_id, expires_at)
	WHERE state OPERATOR(pg_catalog.=) 'admitted';
COMMENT ON TABLE ticket.queue_entry IS
	'One user''s entry in a concert''s waiting room: seq is the place in line (NULL in the pre-queue and until the next admission step), draw_place the place the draw gave, join_seq the join order.';

CREATE TABLE ticket.queue_departure (
	concert_id bigint NOT NULL,
	seq bigint NOT NULL,
	PRIMARY KEY (concert_id, seq)
);
COMMENT ON TABLE ticket.queue_departure IS
	'Places given up while waiting (left or blocked): they do not count in the positions of those behind.';
SELECT pg_catalog.pg_extension_config_dump('ticket.queue', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.queue_join_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.queue_entry', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.queue_departure', '');

CREATE FUNCTION ticket._create_queue(concert_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	seed bytea := ticket._random_secret();
BEGIN
	INSERT INTO ticket.queue AS q (concert_id, seed, seed_hash)
	VALUES (concert_id, seed, pg_catalog.sha256(seed))
	ON CONFLICT ON CONSTRAINT queue_pkey DO NOTHING;
END
$$;
COMMENT ON FUNCTION ticket._create_queue(bigint) IS
	'Internal: makes a concert''s waiting room, committing to the draw''s random seed by its SHA-256.';

CREATE FUNCTION ticket.draw_order(concert_id bigint, seed bytea)
RETURNS TABLE (place bigint, user_id text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	IF concert_id IS NULL OR seed IS NULL THEN
		RAISE EXCEPTION 'concert_id and seed must not be NULL' USING ERRCODE = '22004';
	END IF;
	IF NOT EXISTS (SELECT FROM ticket.concert AS c WHERE c.concert_id = concert_id) THEN
		RAISE EXCEPTION 'concert % does not exist', concert_id USING ERRCODE = 'P0002';
	END IF;
	IF NOT EXISTS (SELECT FROM ticket.queue AS q WHERE q.concert_id = concert_id) THEN
		RAISE EXCEPTION 'concert % has no waiting room', concert_id USING ERRCODE = '55000';
	END IF;
	IF octet_length(seed) = 0 THEN
		RAISE EXCEPTION 'seed must not be empty'
			USING ERRCODE = '22023',
			HINT = 'The draw''s seed is ticket.queues.seed of the concert (32 bytes), shown after the draw.';
	END IF;
	RETURN QUERY
	SELECT row_number() OVER w, e.user_id
	  FROM ticket.queue_entry AS e
	 WHERE e.concert_id = concert_id AND e.draw_place IS NOT NULL
	WINDOW w AS (ORDER BY sha256(seed || convert_to(e.user_id, 'UTF8')), e.user_id)
	 ORDER BY 1;
END
$$;
COMMENT ON FUNCTION ticket.draw_order(bigint, bytea) IS
	'Recomputes the pre-queue draw of a concert from a seed: everyone in the draw, ordered by SHA-256(seed || user_id).';

CREATE FUNCTION ticket._draw(concert_id bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	q ticket.queue;
	n bigint;
BEGIN
	SELECT * INTO q FROM ticket.queue AS x WHERE x.concert_id = concert_id FOR UPDATE;
	IF q.drawn_at IS NOT NULL THEN
		RETURN q.drawn;
	END IF;
	/* A join that commits after this statement's snapshot is placed by the next admission step. */
	UPDATE ticket.queue_entry AS e
	   SET state = 'waiting', seq = d.place, draw_place = d.place
	  FROM (SELECT x.user_id,
				   pg_catalog.row_number() OVER (ORDER BY pg_catalog.sha256(q.seed || pg_catalog.convert_to(x.user_id, 'UTF8')),
												 x.user_id) AS place
			  FROM ticket.queue_entry AS x
			 WHERE x.concert_id = concert_id AND x.state = 'prequeue') AS d
	 WHERE e.concert_id = concert_id AND e.user_id = d.user_id;
	GET DIAGNOSTICS n = ROW_COUNT;
	UPDATE ticket.queue AS x SET drawn_at = now(), drawn = n, last_place = n, last_tick = now(), tokens = 0
	 WHERE x.concert_id = concert_id;
	RETURN n;
END
$$;
COMMENT ON FUNCTION ticket._draw(bigint) IS
	'Internal: at opening, gives the pre-queue places 1..n in the order of ticket.draw_order with the committed seed (once).';

CREATE FUNCTION ticket._rate_allow(user_id text, client_key text)
RETURNS boolean
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ticket_rate_allow_sql';
COMMENT ON FUNCTION ticket._rate_allow(text, text) IS
	'Internal: takes a token from the user''s and (when given) the client key''s rate-limit buckets; false when either is empty.';

CREATE FUNCTION ticket.challenge(concert_id bigint, user_id text)
RETURNS text
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_challenge';
COMMENT ON FUNCTION ticket.challenge(bigint, text) IS
	'Gives a signed proof-of-work challenge for joining a concert''s queue, valid 10 minutes; NULL when the concert asks for none.';

CREATE FUNCTION ticket._check_work(challenge text, solution text, concert_id bigint, user_id text, bits integer)
RETURNS void
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ticket_check_work_sql';
COMMENT ON FUNCTION ticket._check_work(text, text, bigint, text, integer) IS
	'Internal: raises 28000 unless solution solves challenge (SHA-256 of challenge:solution with bits leading zero bits) for this concert and user.';

CREATE FUNCTION ticket.queue_status(concert_id bigint, user_id text)
RETURNS ticket.queue_status
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'ticket_queue_status';
COMMENT ON FUNCTION ticket.queue_status(bigint, text) IS
	'A user''s state in a concert''s waiting room: position and ETA while waiting, the signed pass once admitted, or rate_limited (a poll takes a tenth of a token from the user''s bucket). Reads two rows, whatever the length of the line.';

CREATE FUNCTION ticket._queue_state(concert_id bigint, user_id text)
RETURNS ticket.queue_status
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'ticket_queue_state';
COMMENT ON FUNCTION ticket._queue_state(bigint, text) IS
	'Internal: ticket.queue_status without taking a poll''s token, for join_queue (which took a call''s) and leave_queue (not limited).';

CREATE FUNCTION ticket.join_queue(
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
		RETURN ticket._queue_state(concert_id, user_id);
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
	RETURN ticket._queue_state(concert_id, user_id);
END
$$;
COMMENT ON FUNCTION ticket.join_queue(bigint, text, text, text, text) IS
	'Puts a user in a concert''s waiting room (the pre-queue before opening) and returns their status; joining again returns the same place.';

CREATE FUNCTION ticket._depart(concert_id bigint, seq bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	b integer := (seq >> 10)::integer + 1;
BEGIN
	INSERT INTO ticket.queue_departure AS d (concert_id, seq) VALUES (concert_id, seq);
	UPDATE ticket.queue AS q
	   SET gaps[b] = coalesce(q.gaps[b], 0) + 1
	 WHERE q.concert_id = concert_id;
END
$$;
COMMENT ON FUNCTION ticket._depart(bigint, bigint) IS
	'Internal: records that a waiting place was given up (the caller holds the queue row lock).';

CREATE FUNCTION ticket._leave(concert_id bigint, user_id text, new_state ticket.queue_entry_state)
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
COMMENT ON FUNCTION ticket._leave(bigint, text, ticket.queue_entry_state) IS
	'Internal: takes a user out of a concert''s line (left or blocked); false if they were not in it.';

CREATE FUNCTION ticket.leave_queue(concert_id bigint, user_id text)
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
	RETURN ticket._queue_state(concert_id, user_id);
END
$$;
COMMENT ON FUNCTION ticket.leave_queue(bigint, text) IS
	'Takes a user out of a concert''s waiting room (those behind move up; an admitted user frees a slot); joining again goes to the back.';

CREATE FUNCTION ticket.admit(concert_id bigint)
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
COMMENT ON FUNCTION ticket.admit(bigint) IS
	'One admission step: admits, in place order, at the effective rate (admit_rate, halved while payments are behind and grown back gradually) for the time since the last step, at most 1.25 seconds'' worth and at most max_active at once; nothing while paused (pause_admission) or while no seat is free; marks the queue sold out when none can come back; NOTIFY ticket_admission. Returns how many it admitted.';

CREATE FUNCTION ticket.admit_scheduled()
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c bigint;
	n integer := 0;
BEGIN
	FOR c IN SELECT q.concert_id FROM ticket.queue AS q JOIN ticket.concert AS k ON k.concert_id = q.concert_id
			  WHERE q.scheduled AND k.state = 'on_sale' ORDER BY q.concert_id LOOP
		n := n + ticket.admit(c);
	END LOOP;
	RETURN n;
END
$$;
COMMENT ON FUNCTION ticket.admit_scheduled() IS
	'One admission step for every concert on sale whose admission is scheduled; returns how many it admitted.';

/*
 * Called by pg_cron (no SECURITY DEFINER, no SET: a procedure with either
 * cannot COMMIT).  Every name is qualified.
 */
CREATE PROCEDURE ticket.run_admission(steps integer DEFAULT 60)
LANGUAGE plpgsql
AS $$
DECLARE
	started timestamptz := pg_catalog.clock_timestamp();
	stop_at timestamptz := pg_catalog.date_trunc('minute', started) OPERATOR(pg_catalog.+) interval '59.5 seconds';
	i integer := 0;
	s double precision;
BEGIN
	IF steps IS NULL THEN
		RAISE EXCEPTION 'steps must not be NULL' USING ERRCODE = '22004';
	END IF;
	IF steps OPERATOR(pg_catalog.<) 1 OR steps OPERATOR(pg_catalog.>) 60 THEN
		RAISE EXCEPTION 'steps must be between 1 and 60' USING ERRCODE = '22023';
	END IF;
	LOOP
		PERFORM ticket.admit_scheduled();
		COMMIT;
		i := i OPERATOR(pg_catalog.+) 1;
		EXIT WHEN i OPERATOR(pg_catalog.>=) steps
			OR pg_catalog.clock_timestamp() OPERATOR(pg_catalog.>=) stop_at;
		/* Sleep to the next whole second. */
		s := pg_catalog.date_part('epoch', pg_catalog.clock_timestamp());
		PERFORM pg_catalog.pg_sleep(1 OPERATOR(pg_catalog.-) (s OPERATOR(pg_catalog.-) pg_catalog.floor(s)));
	END LOOP;
END
$$;
COMMENT ON PROCEDURE ticket.run_admission(integer) IS
	'Runs an admission step for every scheduled concert each second, committing each, for steps seconds or to the end of the minute (what the pg_cron job calls).';

CREATE FUNCTION ticket._cron_version()
RETURNS integer[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.string_to_array(pg_catalog.regexp_replace(x.extversion, '-.*$', ''), '.')::integer[]
	  FROM pg_catalog.pg_extension AS x WHERE x.extname = 'pg_cron'
$$;
COMMENT ON FUNCTION ticket._cron_version() IS
	'Internal: the installed pg_cron version as {major,minor}, NULL when pg_cron is not installed here.';

CREATE FUNCTION ticket.schedule_admission(concert_id bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c ticket.concert;
	v integer[] := ticket._cron_version();
BEGIN
	c := ticket._lock_concert(concert_id);
	IF NOT c.queue THEN
		RAISE EXCEPTION 'concert % has no waiting room', concert_id USING ERRCODE = '55000';
	END IF;
	IF v IS NULL THEN
		RAISE EXCEPTION 'pg_cron is not installed in this database'
			USING ERRCODE = '55000',
			HINT = 'Add pg_cron to shared_preload_libraries, set cron.database_name to this database, and CREATE EXTENSION pg_cron.';
	END IF;
	UPDATE ticket.queue AS q SET scheduled = true WHERE q.concert_id = concert_id;
	/* One job steps every scheduled concert; the command is a constant. */
	IF v >= '{1,5}' THEN
		RETURN cron.schedule('ticket-admission', '1 seconds', 'CALL ticket.run_admission(1)');
	END IF;
	RETURN cron.schedule('ticket-admission', '* * * * *', 'CALL ticket.run_admission(60)');
END
$$;
COMMENT ON FUNCTION ticket.schedule_admission(bigint) IS
	'Has pg_cron run a concert''s admission: one job, ticket-admission, steps every scheduled concert each second (pg_cron 1.4: a per-minute job that steps 60 times). Returns the job id.';

CREATE FUNCTION ticket.unschedule_admission(concert_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	was boolean;
BEGIN
	PERFORM ticket._lock_concert(concert_id);
	SELECT q.scheduled INTO was FROM ticket.queue AS q WHERE q.concert_id = concert_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'concert % has no waiting room', concert_id USING ERRCODE = '55000';
	END IF;
	UPDATE ticket.queue AS q SET scheduled = false WHERE q.concert_id = concert_id;
	IF ticket._cron_version() IS NOT NULL
	   AND NOT EXISTS (SELECT FROM ticket.queue AS q WHERE q.scheduled)
	   AND EXISTS (SELECT FROM cron.job AS j WHERE j.jobname = 'ticket-admission') THEN
		PERFORM cron.unschedule('ticket-admission');
	END IF;
	RETURN was;
END
$$;
COMMENT ON FUNCTION ticket.unschedule_admission(bigint) IS
	'Stops pg_cron admitting for a concert (removing the job when no concert needs it); returns whether it was scheduled.';

CREATE FUNCTION ticket._waiting(q ticket.queue)
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	/* After the draw: places not yet admitted, plus joiners not yet placed, minus who left; before it, the pre-queue. */
	SELECT CASE WHEN $1.drawn_at IS NULL
				THEN (SELECT count(*) FROM ticket.queue_entry AS e
					   WHERE e.concert_id = $1.concert_id AND e.state = 'prequeue')
				ELSE $1.last_place - $1.admitted_through
					 + (SELECT count(*) FROM ticket.queue_entry AS e
						 WHERE e.concert_id = $1.concert_id AND e.seq IS NULL AND e.state IN ('waiting', 'prequeue'))
					 - (SELECT count(*) FROM ticket.queue_departure AS d
						 WHERE d.concert_id = $1.concert_id AND d.seq > $1.admitted_through)
		   END
$$;
COMMENT ON FUNCTION ticket._waiting(ticket.queue) IS
	'Internal: how many wait in a waiting room (the pre-queue before the draw); what ticket.queues and ticket.dashboard show.';

CREATE VIEW ticket.queues AS
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

CREATE FUNCTION ticket._end_admission(concert_id bigint, user_id text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
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
