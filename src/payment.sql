/*
 * src/payment.sql: payment jobs for an external adapter (ticket-adapter,
 * docs/adapter.md).  Claims with leases that never hand out a charge that
 * cannot finish before its order's pay_by (freshest first when the backlog
 * is old), reports one by one or in batches, retries with backoff, refunds,
 * and selling a paid order's seats (_sell, src/checkout.c).
 */

CREATE TYPE ticket.payment_kind AS ENUM ('charge', 'refund');
COMMENT ON TYPE ticket.payment_kind IS 'What a payment job asks of the provider: take the money, or give it back.';

CREATE TYPE ticket.payment_state AS ENUM ('processing', 'succeeded', 'failed', 'refunded');
COMMENT ON TYPE ticket.payment_state IS
	'Life of a payment job: processing (due, claimed, or waiting to be retried), then succeeded or failed (dead-lettered, timed out or cancelled); a succeeded charge whose refund went through is refunded.';

CREATE TABLE ticket.payment (
	payment_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	order_id bigint NOT NULL REFERENCES ticket.orders,
	kind ticket.payment_kind NOT NULL,
	refund_of bigint REFERENCES ticket.payment,
	refund_ref text,
	amount numeric(12,2) NOT NULL,
	state ticket.payment_state NOT NULL DEFAULT 'processing',
	attempts integer NOT NULL DEFAULT 0,
	max_attempts integer NOT NULL,
	next_attempt_at timestamptz NOT NULL,
	lease_owner text,
	lease_until timestamptz,
	provider_ref text,
	last_error text,
	dead_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	finished_at timestamptz,
	cancellation_id bigint REFERENCES ticket.cancellation,
	CHECK ((kind OPERATOR(pg_catalog.=) 'refund') OPERATOR(pg_catalog.=) (refund_of IS NOT NULL AND refund_ref IS NOT NULL))
);

CREATE INDEX payment_due_idx ON ticket.payment (next_attempt_at) WHERE state = 'processing';

CREATE INDEX payment_order_idx ON ticket.payment (order_id);

/*
 * One refund per captured provider reference (the rest of it, for an order
 * undone), and one per buyer's cancellation: a refund is never requested
 * twice.
 */
CREATE UNIQUE INDEX payment_refund_idx ON ticket.payment (refund_ref, (coalesce(cancellation_id, 0))) WHERE kind = 'refund';
COMMENT ON TABLE ticket.payment IS
	'Payment jobs for the adapter: charges (one per order, plus none) and refunds. Claimed with a lease (lease_owner, lease_until); retried at next_attempt_at; dead_at set when dead-lettered.';
COMMENT ON COLUMN ticket.payment.cancellation_id IS
	'The buyer''s cancellation (ticket.cancellation) a refund gives money back for; NULL for every other job.';
SELECT pg_catalog.pg_extension_config_dump('ticket.orders_order_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.payment', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.payment_payment_id_seq', '');

CREATE TYPE ticket.payment_job AS (
	payment_id bigint,
	kind ticket.payment_kind,
	order_id bigint,
	concert_id bigint,
	user_id text,
	amount numeric(12,2),
	attempt integer,
	provider_key text,
	refund_ref text,
	lease_until timestamptz
);
COMMENT ON TYPE ticket.payment_job IS
	'A claimed payment job: charge or refund amount for an order; provider_key is the idempotency key to give the provider (the same on every attempt of this job); refund_ref is the provider reference of the capture a refund gives back.';

CREATE FUNCTION ticket._setting_seconds(name text, fallback double precision)
RETURNS double precision
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	/* current_setting shows a time with its unit (500ms, 1s, 1d): read it as an interval. */
	SELECT coalesce(extract(epoch FROM nullif(current_setting($1, true), '')::interval)::double precision, $2);
$$;
COMMENT ON FUNCTION ticket._setting_seconds(text, double precision) IS
	'Internal: a time setting of the library in seconds (the fallback when the library is not loaded).';

CREATE FUNCTION ticket.claim_payments(adapter text, max_jobs integer DEFAULT 10, lease interval DEFAULT '30 seconds')
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

CREATE FUNCTION ticket._lock_payment(payment_id bigint)
RETURNS ticket.payment
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	p ticket.payment;
BEGIN
	IF payment_id IS NULL THEN
		RAISE EXCEPTION 'payment_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	SELECT * INTO p FROM ticket.payment AS x WHERE x.payment_id = payment_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'payment % does not exist', payment_id USING ERRCODE = 'P0002';
	END IF;
	RETURN p;
END
$$;
COMMENT ON FUNCTION ticket._lock_payment(bigint) IS
	'Internal: locks and returns a payment job, raising P0002 when there is none.';

/*
 * Sell an order's seats, if they are all still this order's hold's or
 * free: the seat locks make this safe against buyers.  Returns false (and
 * changes nothing) when any seat went to someone else or the buyer would
 * go over the limit.
 */
CREATE FUNCTION ticket._sell(o ticket.orders)
RETURNS boolean
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'ticket_sell';
COMMENT ON FUNCTION ticket._sell(ticket.orders) IS
	'Internal: marks an order''s seats sold and the order paid, unless a seat went to another buyer or the buyer would go over the limit (false). Takes the hold row, the buyer lock and the seat locks, in that order.';

/*
 * A refund job for a captured provider reference.  A buyer's cancellation
 * (of_cancellation) refunds refund_amount; otherwise (an order undone,
 * a duplicate capture) the rest of the capture: what the buyers'
 * cancellations have not refunded already.
 */
CREATE FUNCTION ticket._request_refund(charge ticket.payment, ref text, reason text,
	refund_amount numeric DEFAULT NULL, of_cancellation bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id bigint;
	o ticket.orders;
	give numeric(12,2) := refund_amount;
BEGIN
	SELECT * INTO o FROM ticket.orders AS x WHERE x.order_id = charge.order_id;
	/* Never more than is left of the capture. */
	SELECT least(coalesce(give, charge.amount), charge.amount - coalesce(sum(r.amount), 0)) INTO give
	  FROM ticket.payment AS r
	 WHERE r.kind = 'refund' AND r.refund_ref = ref;
	IF give <= 0 THEN
		RETURN NULL;	/* given back already */
	END IF;
	INSERT INTO ticket.payment AS p (order_id, kind, refund_of, refund_ref, cancellation_id, amount, max_attempts,
									 next_attempt_at, last_error)
	VALUES (charge.order_id, 'refund', charge.payment_id, ref, of_cancellation, give,
			(SELECT k.payment_attempts FROM ticket.concert AS k WHERE k.concert_id = o.concert_id), now(), reason)
	ON CONFLICT (refund_ref, (coalesce(cancellation_id, 0))) WHERE kind = 'refund' DO NOTHING
	RETURNING p.payment_id INTO id;
	IF id IS NOT NULL THEN
		PERFORM ticket._event(o.concert_id, 'refund_requested', o.order_id, o.user_id,
			jsonb_build_object('payment_id', id, 'refund_of', charge.payment_id, 'amount', give, 'reason', reason));
		PERFORM ticket._bump_counter('refunds_requested', 1);
	END IF;
	RETURN id;
END
$$;
COMMENT ON FUNCTION ticket._request_refund(ticket.payment, text, text, numeric, bigint) IS
	'Internal: adds a refund job for a captured provider reference, once: of amount for a buyer''s cancellation, else of what the cancellations have not refunded (NULL if one exists or nothing is left).';

CREATE FUNCTION ticket.payment_succeeded(payment_id bigint, provider_ref text)
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
		/* A buyer's cancellation gives back part of a capture: the charge stays captured. */
		UPDATE ticket.payment AS x SET state = 'refunded', finished_at = now()
		 WHERE x.payment_id = p.refund_of AND x.provider_ref = p.refund_ref AND p.cancellation_id IS NULL;
		PERFORM ticket._event(o.concert_id, 'refund_succeeded', o.order_id, o.user_id,
			jsonb_build_object('payment_id', payment_id, 'amount', p.amount));
		/* Nothing captured is left, but a buyer's cancellation fee: the order is refunded. */
		IF o.state = 'cancelled' AND NOT EXISTS (
			SELECT FROM ticket.payment AS x WHERE x.order_id = o.order_id AND x.kind = 'charge' AND x.state = 'succeeded'
			   AND NOT EXISTS (SELECT FROM ticket.payment AS r
								WHERE r.kind = 'refund' AND r.refund_ref = x.provider_ref AND r.state = 'succeeded'))
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
		RETURN CASE WHEN o.state = 'paid' THEN 'paid' WHEN p.state = 'refunded' OR o.state = 'refunded' THEN 'refunded'
					ELSE 'refunding' END;
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
COMMENT ON FUNCTION ticket.payment_succeeded(bigint, text) IS
	'For the payment adapter: the provider took the money (charge) or gave it back (refund). Returns paid, refunding (a late payment whose seats are gone, or a duplicate capture) or refunded. Reporting again is harmless.';

CREATE FUNCTION ticket._backoff(attempt integer)
RETURNS interval
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	/* Exponential, capped, with "equal jitter": half fixed, half random. */
	SELECT make_interval(secs => d / 2 + random() * d / 2)
	  FROM (SELECT least(ticket._setting_seconds('ticket.payment_retry_base', 1) * 2 ^ least(greatest($1 - 1, 0), 30),
						 ticket._setting_seconds('ticket.payment_retry_max', 60)) AS d) AS x;
$$;
COMMENT ON FUNCTION ticket._backoff(integer) IS
	'Internal: the delay before retry number attempt: min(retry_max, retry_base * 2^(attempt-1)), of which a random half.';

CREATE FUNCTION ticket.payment_failed(payment_id bigint, reason text, retryable boolean DEFAULT true)
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
COMMENT ON FUNCTION ticket.payment_failed(bigint, text, boolean) IS
	'For the payment adapter: the attempt failed. Retryable failures are retried with exponential backoff and jitter (returns retrying) until payment_attempts; then, or when not retryable, the job is dead-lettered (failed) and the order compensated. Reporting the same failure again changes nothing.';

/*
 * Finding (test/t/008_chaos.pl, under load): the worker could deadlock with
 * ticket.payment_succeeded, which locks the charge, then the order, then the
 * order's running saga.  maintenance('timeout_payments') held the order and
 * waited for the charge; maintenance('compensate') held the saga and waited
 * for the order.  When the adapter lost, a captured payment's report was
 * refused (40P01).  Both tasks now try-lock what an adapter may hold and
 * leave a busy order to the next round: the worker never waits.
 */
CREATE FUNCTION ticket._try_lock_payments(order_id bigint)
RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	/*
	 * Every payment row of the order, whatever its state: an adapter locks
	 * the job it reports on before the order (a late or a second capture of
	 * a settled charge too), and a refund's foreign key needs its charge.
	 * One snapshot: a row locked by someone else is counted but not locked.
	 */
	SELECT (SELECT count(*) FROM ticket.payment AS p WHERE p.order_id = $1)
		 = (SELECT count(*) FROM (SELECT FROM ticket.payment AS p WHERE p.order_id = $1
									 FOR UPDATE SKIP LOCKED) AS l);
$$;
COMMENT ON FUNCTION ticket._try_lock_payments(bigint) IS
	'Internal: locks every payment job of an order without waiting; false when another transaction holds one (the worker then skips the order).';

CREATE FUNCTION ticket._setting_share(name text, fallback double precision)
RETURNS double precision
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(nullif(pg_catalog.current_setting($1, true), '')::double precision, $2);
$$;
COMMENT ON FUNCTION ticket._setting_share(text, double precision) IS
	'Internal: a fraction setting of the library (the fallback when the library is not loaded).';

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

CREATE FUNCTION ticket.report_payments(reports jsonb)
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
			RAISE EXCEPTION 'report %: payment_id must be a positive whole number, as a JSON number', i USING ERRCODE = '22023';
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
COMMENT ON FUNCTION ticket.report_payments(jsonb) IS
	'For the payment adapter: many results in one call and one transaction, a JSON array of {"payment_id", "outcome": "succeeded", "provider_ref"} or {"payment_id", "outcome": "failed", "reason", "retryable"}, each optionally with "attempt" (the job''s attempt as claimed: a retryable failure of an earlier attempt is ignored). Each is what payment_succeeded / payment_failed does (idempotent); returns each job''s status. Bad input (22023, P0002) writes nothing.';
