/*
 * src/worker.sql: the maintenance tasks that the background worker
 * (src/worker.c) runs every ticket.worker_interval, each callable by hand.
 */

CREATE FUNCTION ticket.maintenance(task text, batch_size integer DEFAULT 1000)
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
COMMENT ON FUNCTION ticket.maintenance(text, integer) IS
	'Runs one batch of one of the worker''s tasks (expire_holds, expire_admissions, timeout_payments, compensate, publish_events, purge, admit, notify_payments) and returns how many items it did: what the background worker does every interval, for psql when the worker is off.';

CREATE FUNCTION ticket._next_due()
RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT least((SELECT min(h.expires_at) FROM ticket.hold AS h WHERE h.state = 'active'),
				 (SELECT min(o.pay_by) FROM ticket.orders AS o WHERE o.state = 'pending'),
				 (SELECT min(e.expires_at) FROM ticket.queue_entry AS e WHERE e.state = 'admitted'));
$$;

CREATE FUNCTION ticket._reconcile_report()
RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	holds bigint;
	orders bigint;
	sagas bigint;
	leases bigint;
	events bigint;
BEGIN
	SELECT count(*) INTO holds FROM ticket.hold AS h WHERE h.state = 'active' AND h.expires_at <= now();
	SELECT count(*) INTO orders FROM ticket.orders AS o WHERE o.state = 'pending' AND o.pay_by <= now();
	SELECT count(*) INTO sagas FROM ticket.saga AS g WHERE g.state = 'running';
	SELECT count(*) INTO leases FROM ticket.payment AS p WHERE p.state = 'processing' AND p.lease_until > now();
	SELECT u.events INTO events FROM ticket._unpublished() AS u;
	RAISE LOG 'ticket worker: in flight at start: % holds past expiry, % orders past pay_by, % compensations running, % payment jobs leased to adapters, % events unpublished',
		holds, orders, sagas, leases, events;
	RETURN holds + orders + sagas + events;
END
$$;
COMMENT ON FUNCTION ticket._reconcile_report() IS
	'Internal: logs what the worker finds in flight when it starts (the rounds that follow finish it).';
COMMENT ON FUNCTION ticket._next_due()
	IS 'Internal: when the next hold, payment or admission runs out (the worker sleeps no longer than that).';

CREATE FUNCTION ticket._try_lock_seats(concert_id bigint, seat_ids integer[])
RETURNS boolean
LANGUAGE c STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ticket_try_lock_seats';
COMMENT ON FUNCTION ticket._try_lock_seats(bigint, integer[]) IS
	'Internal: takes the seat locks of a concert in ascending order without waiting; false (holding none of them) when a buyer has one.';
