/*
 * src/compensation.sql: SAGA compensation of an order whose payment failed,
 * timed out or was undone: release the seats, call off or refund the money,
 * one recorded step at a time, resumable after a crash.
 */

CREATE FUNCTION ticket._call_off_charges(order_id bigint, why text)
RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	/* Dead-letters the order's charges still in flight, keeping the last error reported. */
	WITH off AS (
		UPDATE ticket.payment AS p
		   SET state = 'failed', dead_at = now(), finished_at = now(), lease_owner = NULL, lease_until = NULL,
			   last_error = coalesce(p.last_error || '; ', '') || $2
		 WHERE p.order_id = $1 AND p.kind = 'charge' AND p.state = 'processing'
		RETURNING 1
	)
	SELECT count(*)::integer FROM off;
$$;
COMMENT ON FUNCTION ticket._call_off_charges(bigint, text) IS
	'Internal: dead-letters an order''s charges still in flight (timeout, compensation) and returns how many.';

CREATE TABLE ticket.saga (
	saga_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	order_id bigint NOT NULL REFERENCES ticket.orders,
	reason text NOT NULL,
	if_unpaid boolean NOT NULL,
	state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'skipped')),
	started_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	finished_at timestamptz
);

/* One compensation of an order at a time. */
CREATE UNIQUE INDEX saga_running_idx ON ticket.saga (order_id) WHERE state = 'running';
COMMENT ON TABLE ticket.saga IS
	'Compensations of orders: running until every step in ticket.saga_step is done. if_unpaid: started by a failed payment, so a success that wins the race skips it.';

CREATE TABLE ticket.saga_step (
	saga_id bigint NOT NULL REFERENCES ticket.saga,
	step text NOT NULL,
	done_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	detail text,
	PRIMARY KEY (saga_id, step)
);
COMMENT ON TABLE ticket.saga_step IS
	'The saga log: one row per compensation step done (cancel_order, release_seats, refund), written in the step''s own transaction.';
SELECT pg_catalog.pg_extension_config_dump('ticket.saga', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.saga_saga_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.saga_step', '');

CREATE FUNCTION ticket._start_saga(order_id bigint, reason text, if_unpaid boolean)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	o ticket.orders;
	id bigint;
BEGIN
	SELECT * INTO o FROM ticket.orders AS x WHERE x.order_id = order_id FOR UPDATE;
	SELECT g.saga_id INTO id FROM ticket.saga AS g WHERE g.order_id = order_id AND g.state = 'running';
	IF id IS NULL THEN
		INSERT INTO ticket.saga AS g (order_id, reason, if_unpaid) VALUES (order_id, reason, if_unpaid)
		RETURNING g.saga_id INTO id;
		PERFORM ticket._event(o.concert_id, 'compensation_started', order_id, o.user_id,
			jsonb_build_object('saga_id', id, 'reason', reason));
	END IF;
	RETURN id;
END
$$;
COMMENT ON FUNCTION ticket._start_saga(bigint, text, boolean) IS
	'Internal: starts the compensation of an order (or returns the one running); the caller''s transaction commits it.';

CREATE FUNCTION ticket.start_compensation(order_id bigint, reason text)
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
COMMENT ON FUNCTION ticket.start_compensation(bigint, text) IS
	'Starts (or finds) the compensation of an order and returns its saga_id; NULL when the order is undone already. ticket.compensate runs it.';

/*
 * One step of a compensation, in the caller's transaction.  Each step is
 * done at most once (its saga_step row is written with its effects), and
 * each is harmless to repeat anyway.  Returns false when the saga is over.
 */
CREATE FUNCTION ticket.compensation_step(saga_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	g ticket.saga;
	o ticket.orders;
	p ticket.payment;
	step text;
	detail text;
	n integer;
BEGIN
	IF saga_id IS NULL THEN
		RAISE EXCEPTION 'saga_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	SELECT * INTO g FROM ticket.saga AS x WHERE x.saga_id = saga_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'compensation % does not exist', saga_id USING ERRCODE = 'P0002';
	END IF;
	IF g.state <> 'running' THEN
		RETURN false;
	END IF;
	SELECT * INTO o FROM ticket.orders AS x WHERE x.order_id = g.order_id FOR UPDATE;
	SELECT s.name INTO step FROM unnest(ARRAY['cancel_order', 'release_seats', 'refund']) WITH ORDINALITY AS s(name, i)
	 WHERE NOT EXISTS (SELECT FROM ticket.saga_step AS x WHERE x.saga_id = saga_id AND x.step = s.name)
	 ORDER BY s.i LIMIT 1;

	IF step IS NULL THEN
		UPDATE ticket.saga AS x SET state = 'done', finished_at = now() WHERE x.saga_id = saga_id;
		PERFORM ticket._event(o.concert_id, 'compensation_done', o.order_id, o.user_id,
			jsonb_build_object('saga_id', saga_id, 'order_state', o.state));
		PERFORM ticket._bump_counter('compensations_done', 1);
		RETURN false;
	END IF;

	IF step = 'cancel_order' THEN
		IF g.if_unpaid AND o.state = 'paid' THEN
			/* The payment won the race: nothing to undo. */
			UPDATE ticket.saga AS x SET state = 'skipped', finished_at = now() WHERE x.saga_id = saga_id;
			RETURN false;
		END IF;
		IF o.state IN ('pending', 'paid') THEN
			UPDATE ticket.orders AS x SET state = 'cancelled', cancelled_at = now(), cancel_reason = g.reason
			 WHERE x.order_id = o.order_id;
			PERFORM ticket._event(o.concert_id, 'order_cancelled', o.order_id, o.user_id,
				jsonb_build_object('reason', g.reason, 'was', o.state));
		END IF;
		/* A charge still in flight is called off; if it succeeds anyway, it is refunded or re-sold. */
		n := ticket._call_off_charges(o.order_id, 'cancelled: ' || g.reason);
		detail := format('order was %s; %s charge(s) called off', o.state, n);
	ELSIF step = 'release_seats' THEN
		PERFORM ticket._lock_seats(o.concert_id, o.seat_ids);
		n := ticket._free_seats(o.concert_id, o.seat_ids, o.hold_id);
		UPDATE ticket.hold AS x SET state = 'released', ended_at = coalesce(x.ended_at, now())
		 WHERE x.hold_id = o.hold_id AND x.state IN ('active', 'checking_out', 'confirmed');
		detail := format('%s seat(s) released', n);
	ELSE
		n := 0;
		FOR p IN SELECT * FROM ticket.payment AS x
				  WHERE x.order_id = o.order_id AND x.kind = 'charge' AND x.state = 'succeeded' LOOP
			IF ticket._request_refund(p, p.provider_ref, g.reason) IS NOT NULL THEN
				n := n + 1;
			END IF;
		END LOOP;
		detail := format('%s refund(s) requested', n);
	END IF;
	INSERT INTO ticket.saga_step AS x (saga_id, step, detail) VALUES (saga_id, step, detail);
	RETURN true;
END
$$;
COMMENT ON FUNCTION ticket.compensation_step(bigint) IS
	'Runs the next step of a compensation (cancel_order, release_seats, refund) and logs it in ticket.saga_step; false when the saga is over.';

/*
 * COMMIT after each step: a crash leaves the saga log saying how far it got,
 * and running it again (or the worker) carries on from there.  Like
 * ticket.run_admission: SECURITY INVOKER without SET, every name qualified.
 */
CREATE PROCEDURE ticket.compensate(order_id bigint, reason text)
LANGUAGE plpgsql
AS $$
DECLARE
	id bigint;
BEGIN
	IF ticket._in_transaction_block() THEN
		RAISE EXCEPTION 'CALL ticket.compensate cannot run inside a transaction block'
			USING ERRCODE = '2D000',
			DETAIL = 'It commits after each step, so that a crash leaves the compensation where it stopped.',
			HINT = 'Run it on its own (autocommit), or inside your transaction SELECT ticket.start_compensation(order_id, reason), then ticket.compensation_step(saga_id) until it returns false.';
	END IF;
	id := ticket.start_compensation(order_id, reason);
	COMMIT;
	WHILE id IS NOT NULL AND ticket.compensation_step(id) LOOP
		COMMIT;
	END LOOP;
END
$$;
COMMENT ON PROCEDURE ticket.compensate(bigint, text) IS
	'Undoes an order: cancels it, releases its seats and requests refunds for anything captured, committing and logging each step; running it again, or after a crash, ends as running it once. Call it outside a transaction block (inside one it raises 2D000 with a hint).';

/*
 * CALL ticket.compensate commits between its steps, which it cannot do
 * inside BEGIN: it says so with 2D000 and a hint before it writes anything.
 */
CREATE FUNCTION ticket._in_transaction_block()
RETURNS boolean
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_in_transaction_block';
COMMENT ON FUNCTION ticket._in_transaction_block() IS
	'Internal: true inside BEGIN ... COMMIT (or a multi-statement query), where a procedure cannot COMMIT.';

/*
 * A buyer's cancellation of a paid order, or of some of its seats, under
 * the concert's policy (cancellable, cancel_until before starts_at, a fee
 * of cancel_fee_percent of the seats' price plus cancel_fee_fixed, at most
 * that price).  One transaction does every step in the database: the
 * seats go back on sale, the order keeps the rest (or is cancelled), and a
 * refund job for the price less the fee goes to the adapter, retried and
 * dead-lettered like any payment.  The refund is the compensation of the
 * charge; nothing is left half done to resume.
 */
CREATE TYPE ticket.cancel_result AS (
	order_id bigint,
	status text,
	order_state text,
	seats json,
	amount numeric(12,2),
	fee numeric(12,2),
	refund numeric(12,2),
	refund_payment_id bigint
);
COMMENT ON TYPE ticket.cancel_result IS
	'Result of ticket.cancel_order: status cancelled (seats: the seats given back; amount = fee + refund; refund_payment_id: the refund job, NULL when the fee kept it all), or not_allowed (the concert takes no cancellations), too_late (past its deadline), not_paid (the order is pending, cancelled or refunded: order_state says which), compensating (being undone already), rate_limited (nothing done); order_state is the order''s state after the call.';

/* The result of a cancellation made, from its row. */
CREATE FUNCTION ticket._cancel_result(x ticket.cancellation)
RETURNS ticket.cancel_result
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT $1.order_id, 'cancelled', o.state::text, ticket._seats_json(o.concert_id, $1.seat_ids),
		   $1.amount, $1.fee, $1.refund,
		   (SELECT p.payment_id FROM ticket.payment AS p WHERE p.kind = 'refund' AND p.cancellation_id = $1.cancellation_id)
	  FROM ticket.orders AS o
	 WHERE o.order_id = $1.order_id;
$$;
COMMENT ON FUNCTION ticket._cancel_result(ticket.cancellation) IS
	'Internal: a buyer''s cancellation as ticket.cancel_order returns it.';

CREATE FUNCTION ticket.cancel_order(order_id bigint, user_id text, idempotency_key text, seat_ids integer[] DEFAULT NULL)
RETURNS ticket.cancel_result
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	o ticket.orders;
	c ticket.concert;
	x ticket.cancellation;
	h ticket.hold;
	charge ticket.payment;
	giving integer[];
	keeping integer[];
	request text;
	stored ticket.idempotency;
	status text;
	r ticket.cancel_result;
BEGIN
	IF order_id IS NULL THEN
		RAISE EXCEPTION 'order_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	PERFORM ticket._check_text('user_id', user_id);
	PERFORM ticket._check_text('idempotency_key', idempotency_key);
	IF seat_ids IS NOT NULL THEN
		giving := ticket._seat_list(seat_ids, 'cancel');
	END IF;
	o := ticket._own_order(order_id, user_id);
	IF NOT ticket._take_call(user_id, false) THEN
		r.order_id := order_id;
		r.status := 'rate_limited';
		r.order_state := o.state;
		RETURN r;
	END IF;

	/* The key: the same request gets the same answer; another request with it is 22023. */
	request := format('cancellation of order %s, seats %s', order_id, coalesce(giving::text, 'all'));
	INSERT INTO ticket.idempotency AS i (user_id, idempotency_key, request, order_id, status)
	VALUES (user_id, idempotency_key, request, order_id, 'started')
	ON CONFLICT DO NOTHING;
	IF NOT FOUND THEN
		SELECT * INTO stored FROM ticket.idempotency AS i
		 WHERE i.user_id = user_id AND i.idempotency_key = idempotency_key;
		IF stored.request IS DISTINCT FROM request THEN
			RAISE EXCEPTION 'idempotency key "%" was already used for a different request', idempotency_key
				USING ERRCODE = '22023', DETAIL = format('It was used for the %s; this call asks for the %s.', stored.request, request),
				HINT = 'Use a new key for a new request.';
		END IF;
		IF stored.status = 'cancelled' THEN
			SELECT * INTO x FROM ticket.cancellation AS k
			 WHERE k.order_id = order_id AND k.idempotency_key = idempotency_key;
			RETURN ticket._cancel_result(x);
		END IF;
		SELECT * INTO o FROM ticket.orders AS k WHERE k.order_id = order_id;
		r.order_id := order_id;
		r.status := stored.status;
		r.order_state := o.state;
		RETURN r;
	END IF;

	/*
	 * The order's charges first, then the order: the order in which
	 * payment_succeeded and payment_failed lock them (a refund row's
	 * foreign key would otherwise wait for a charge whose report waits for
	 * this order).
	 */
	PERFORM FROM ticket.payment AS p WHERE p.order_id = order_id AND p.kind = 'charge'
	 ORDER BY p.payment_id FOR UPDATE;
	SELECT * INTO o FROM ticket.orders AS k WHERE k.order_id = order_id FOR UPDATE;
	SELECT * INTO c FROM ticket.concert AS k WHERE k.concert_id = o.concert_id;
	IF giving IS NOT NULL AND NOT giving <@ o.seat_ids THEN
		RAISE EXCEPTION 'order % has no seat %', order_id,
			(SELECT min(s) FROM unnest(giving) AS s WHERE NOT s = ANY (o.seat_ids))
			USING ERRCODE = '22023', DETAIL = format('Its seats are %s.', o.seat_ids);
	END IF;
	status := CASE
		WHEN EXISTS (SELECT FROM ticket.saga AS g WHERE g.order_id = order_id AND g.state = 'running') THEN 'compensating'
		WHEN o.state <> 'paid' THEN 'not_paid'
		WHEN NOT c.cancellable OR c.state = 'cancelled' THEN 'not_allowed'
		WHEN now() > c.starts_at - c.cancel_until THEN 'too_late'
		ELSE 'cancelled' END;
	IF status <> 'cancelled' THEN
		UPDATE ticket.idempotency AS i SET status = status
		 WHERE i.user_id = user_id AND i.idempotency_key = idempotency_key;
		r.order_id := order_id;
		r.status := status;
		r.order_state := o.state;
		RETURN r;
	END IF;

	giving := coalesce(giving, (SELECT array_agg(s ORDER BY s) FROM unnest(o.seat_ids) AS s));
	SELECT array_agg(s ORDER BY s) INTO keeping FROM unnest(o.seat_ids) AS s WHERE NOT s = ANY (giving);
	x.order_id := order_id;
	x.idempotency_key := idempotency_key;
	x.seat_ids := giving;
	x.whole := keeping IS NULL;
	/*
	 * What the seats cost, never more than what is left of what the order
	 * paid (the whole rest, when it gives back the rest).
	 */
	x.amount := o.amount - coalesce((SELECT sum(k.amount) FROM ticket.cancellation AS k WHERE k.order_id = order_id), 0);
	IF NOT x.whole THEN
		x.amount := least(ticket._seats_total(o.concert_id, giving), x.amount);
	END IF;
	x.fee := least(round(x.amount * c.cancel_fee_percent / 100, 2) + c.cancel_fee_fixed, x.amount);
	x.refund := x.amount - x.fee;
	INSERT INTO ticket.cancellation AS k (order_id, idempotency_key, seat_ids, whole, amount, fee, refund)
	VALUES (x.order_id, x.idempotency_key, x.seat_ids, x.whole, x.amount, x.fee, x.refund)
	RETURNING k.cancellation_id, k.created_at INTO x.cancellation_id, x.created_at;

	/* The seats go back on sale; the order and its hold keep the rest, or end. */
	SELECT * INTO h FROM ticket.hold AS k WHERE k.hold_id = o.hold_id FOR UPDATE;
	PERFORM ticket._lock_seats(o.concert_id, giving);
	PERFORM ticket._free_seats(o.concert_id, giving, o.hold_id);
	IF x.whole THEN
		UPDATE ticket.orders AS k SET state = 'cancelled', cancelled_at = now(), cancel_reason = 'cancelled by the buyer'
		 WHERE k.order_id = order_id;
		UPDATE ticket.hold AS k SET state = 'released', ended_at = now() WHERE k.hold_id = o.hold_id;
	ELSE
		UPDATE ticket.orders AS k SET seat_ids = keeping WHERE k.order_id = order_id;
		UPDATE ticket.hold AS k SET seat_ids = keeping WHERE k.hold_id = o.hold_id;
	END IF;

	/* The money: the price less the fee, from the capture. */
	IF x.refund > 0 THEN
		SELECT * INTO charge FROM ticket.payment AS p
		 WHERE p.order_id = order_id AND p.kind = 'charge' AND p.state = 'succeeded'
		 ORDER BY p.payment_id LIMIT 1;
		PERFORM ticket._request_refund(charge, charge.provider_ref, 'cancelled by the buyer', x.refund, x.cancellation_id);
	END IF;
	PERFORM ticket._event(o.concert_id, 'order_cancelled', order_id, user_id,
		jsonb_build_object('by', 'buyer', 'seat_ids', giving, 'whole', x.whole, 'amount', x.amount,
						   'fee', x.fee, 'refund', x.refund));
	UPDATE ticket.idempotency AS i SET status = 'cancelled'
	 WHERE i.user_id = user_id AND i.idempotency_key = idempotency_key;
	PERFORM ticket._bump_counter('buyer_cancellations', 1);
	RETURN ticket._cancel_result(x);
END
$$;
COMMENT ON FUNCTION ticket.cancel_order(bigint, text, text, integer[]) IS
	'For buyers: cancels a paid order, or the seats named, under the concert''s policy: the seats go back on sale and the price less the fee is refunded. Answers not_allowed, too_late, not_paid or compensating as a status; the same idempotency key gives the same answer.';
