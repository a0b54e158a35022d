/* ticket--0.3--0.4.sql: from 0.3 to 0.4 (a cheaper payment path: checkout in C) */

\echo Use "ALTER EXTENSION ticket UPDATE TO '0.4'" to load this file. \quit

/*
 * Same conventions as the earlier update scripts: CREATE OR REPLACE only for
 * a function an earlier script created, with the same signature; every name
 * qualified.
 *
 * What 0.4 changes (README, "Checkout"; bench/RESULTS.md, "payment"):
 *
 * - ticket.checkout is C (src/checkout.c) that reads and writes the tables
 *   directly, as ticket.hold does: the same answers, errors and locks, a
 *   fraction of the cost.  Like the hold functions it needs neither
 *   SECURITY DEFINER nor a pinned search_path (it resolves no name through
 *   search_path and uses no privilege of the caller); EXECUTE, granted to
 *   ticket_customer only, stays the gate.
 * - Its idempotency key is taken as a lock (src/lock.c) instead of an
 *   "in progress" row that was written and then rewritten: a checkout
 *   writes its ticket.idempotency row once, with what it answered.
 * - A checkout whose seats went to another buyer while it waited for them
 *   (its hold ran out in the meantime) answers expired instead of raising
 *   XX001.
 */
CREATE OR REPLACE FUNCTION ticket.checkout(hold_id bigint, user_id text, idempotency_key text)
RETURNS ticket.checkout_result
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_checkout';
COMMENT ON FUNCTION ticket.checkout(bigint, text, text) IS
	'Turns a live hold into an order and a payment job; the seats stay held until the payment succeeds, fails or times out (payment_timeout). Answers released, expired or closed (concert cancelled) without an order. The same idempotency key returns the same order; a different request with it is 22023.';

/*
 * The C checkout ends a buyer's admission (their limit reached) by calling
 * ticket._end_admission as the buyer: it runs as its owner, as the SQL
 * checkout's call did.  Nobody else may call it (no EXECUTE but the owner's).
 */
ALTER FUNCTION ticket._end_admission(bigint, text) SECURITY DEFINER;

/*
 * The outbox's event_id index leaves out the rows not yet numbered (event_id
 * NULL): every hold, checkout and payment wrote an entry at its right-hand
 * end, which all of them fought over, and which nothing reads.  Every query
 * by event_id compares it (event_id > n), which implies IS NOT NULL.
 */
DROP INDEX ticket.event_id_idx;
CREATE UNIQUE INDEX event_id_idx ON ticket.event (event_id) WHERE event_id IS NOT NULL;

/*
 * ticket._sell is C too (src/checkout.c), with the same answers.  It now
 * takes the buyer lock that ticket.hold takes before it counts a user's
 * seats: a late payment and a new hold of the same buyer used to pass the
 * per-user limit together (issue 15).
 */
CREATE OR REPLACE FUNCTION ticket._sell(o ticket.orders)
RETURNS boolean
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_sell';
COMMENT ON FUNCTION ticket._sell(ticket.orders) IS
	'Internal: marks an order''s seats sold and the order paid, unless a seat went to another buyer or the buyer would go over the limit (false). Takes the hold row, the buyer lock and the seat locks, in that order.';

/*
 * Pass keys (issue 15): nothing deleted old keys, and past 64 of them each
 * backend's cache broke (the first call raised an error, and every later
 * call signed with a retired key, which hold then refused).  The cache now
 * holds any number (src/pass.c), and a rotation deletes the keys retired
 * more than a day before: hourly rotation keeps about 25.
 */
CREATE OR REPLACE FUNCTION ticket.rotate_pass_key(retire_after interval DEFAULT '1 hour')
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	new_id integer;
BEGIN
	PERFORM ticket._check_interval('retire_after', retire_after, '0 seconds', '7 days');
	/* One rotation at a time; passes are checked meanwhile (ROW EXCLUSIVE allows reads). */
	LOCK TABLE ticket.pass_key IN SHARE ROW EXCLUSIVE MODE;
	UPDATE ticket.pass_key AS k SET retired_at = now() + retire_after
	 WHERE k.retired_at IS NULL OR k.retired_at > now() + retire_after;
	INSERT INTO ticket.pass_key (key_id, secret)
	SELECT coalesce(max(k.key_id), 0) + 1, ticket._random_secret() FROM ticket.pass_key AS k
	RETURNING key_id INTO new_id;
	DELETE FROM ticket.pass_key AS k WHERE k.retired_at < now() - interval '1 day';
	RETURN new_id;
END
$$;
COMMENT ON FUNCTION ticket.rotate_pass_key(interval) IS
	'Adds a new pass key that signs from now on; the older keys keep checking their passes for retire_after, then are refused. Deletes the keys retired more than a day before.';

/*
 * The triggers that tell every backend's cache of the sale settings and
 * pass keys that a table changed fire in every session_replication_role
 * (issue 15): a change made by pg_restore --disable-triggers, by logical
 * replication's apply or by hand in replica mode reached no cache, and
 * holds went on answering from the old settings.
 */
ALTER TABLE ticket.concert ENABLE ALWAYS TRIGGER concert_changed;
ALTER TABLE ticket.section ENABLE ALWAYS TRIGGER section_changed;
ALTER TABLE ticket.pass_key ENABLE ALWAYS TRIGGER pass_key_changed;

/*
 * After sale_closes_at the concert is closed to buyers (hold answers
 * closed) but its row still says on_sale until someone closes it: the
 * views said on_sale too (issue 15).  They now say closed.
 */
CREATE OR REPLACE VIEW ticket.concerts AS
SELECT c.concert_id, c.title, c.venue,
	   CASE WHEN c.state = 'on_sale' AND c.sale_closes_at <= pg_catalog.now() THEN 'closed'::ticket.concert_state
			ELSE c.state END AS state,
	   c.starts_at, c.sale_opens_at, c.sale_closes_at,
	   c.section_count AS sections, c.seat_count AS capacity,
	   coalesce(sum(s.available), 0)::bigint AS available,
	   coalesce(sum(s.held), 0)::bigint AS held,
	   coalesce(sum(s.sold), 0)::bigint AS sold,
	   coalesce(sum(s.sold * s.price), 0)::numeric(14,2) AS revenue
  FROM ticket.concert AS c
  LEFT JOIN ticket.sections AS s ON s.concert_id = c.concert_id
 GROUP BY c.concert_id;
COMMENT ON VIEW ticket.concerts IS
	'Each concert with its state (closed once sale_closes_at has passed), sale window and capacity by seat state.';

/*
 * JIT out of the monitoring paths (issue 15): over 5 concerts the dashboard
 * took 0.66-1.04 s with JIT on and 65 ms with jit = off; metrics() 117 ms
 * against 32 ms.  The plans cost past jit_above_cost, but they read a few
 * index ranges: compiling them costs more than it saves.  A view cannot
 * carry a setting, so the dashboard's query moves to ticket._dashboard_rows,
 * read by ticket._dashboard() with jit = off, and ticket.dashboard (same
 * columns, same grants) reads the function.  Its state column is the one
 * of ticket.concerts (closed past sale_closes_at), and while a waiting room
 * is sold out (queue.sold_out_at: no seat free and none held, every waiting
 * user is told sold_out) nobody is counted as waiting (a sold-out concert
 * showed "waiting 2").
 */
CREATE VIEW ticket._dashboard_rows AS
SELECT c.concert_id, c.title, s.state,
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
	SELECT CASE WHEN x.sold_out_at IS NOT NULL THEN 0 ELSE ticket._waiting(x) END AS waiting, x.admitted,
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
COMMENT ON VIEW ticket._dashboard_rows IS
	'Internal: the query of ticket.dashboard, read through ticket._dashboard() (jit = off).';
REVOKE ALL ON ticket._dashboard_rows FROM PUBLIC;
CREATE FUNCTION ticket._dashboard()
RETURNS SETOF ticket._dashboard_rows
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
	SELECT * FROM ticket._dashboard_rows;
$$;
COMMENT ON FUNCTION ticket._dashboard() IS
	'Internal: the rows of ticket.dashboard, planned without JIT.';
REVOKE ALL ON FUNCTION ticket._dashboard() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket._dashboard() TO ticket_admin, ticket_monitor;
DROP VIEW ticket.dashboard;
CREATE VIEW ticket.dashboard AS SELECT * FROM ticket._dashboard();
GRANT SELECT ON ticket.dashboard TO ticket_admin, ticket_monitor;
COMMENT ON VIEW ticket.dashboard IS
	'One row per concert for an operator''s \watch 1: waiting and admitted (waiting rooms), active holds, seats available/held/sold of capacity, orders pending and paid, revenue (paid orders), sales_per_minute (seats paid in the last minute), compensations done and running, refunds paid back, dead-lettered payment jobs, sell_out_eta at the last minute''s pace; admit_rate (the ceiling), effective_rate and rate_reason (back-pressure, pause, cap), payments_due and payment_backlog_seconds (charges waiting for an adapter, and how long the oldest has waited); all read from one snapshot taken at as_of. Planned without JIT.';

/*
 * What an operator needs to know is running (issue 15): the README's checks
 * read pg_stat_activity and cron.job_run_details, which a ticket_admin sees
 * as <insufficient privilege> or may not read, and ticket_worker_running
 * counted a worker serving any database.  ticket.health() answers as the
 * owner, for this database; metrics() counts only this database's worker.
 */
CREATE FUNCTION ticket.health()
RETURNS TABLE (check_name text, ok boolean, detail text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
	workers integer;
	worker_db text := pg_catalog.current_setting('ticket.database', true);
	worker_on text := pg_catalog.current_setting('ticket.worker', true);
	r record;
	jobs integer;
BEGIN
	check_name := 'library preloaded';
	ok := ticket.preloaded();
	detail := CASE WHEN ok THEN 'ticket is in shared_preload_libraries'
				   ELSE 'add ticket to shared_preload_libraries and restart: holds refuse without it' END;
	RETURN NEXT;

	SELECT count(*) INTO workers FROM pg_catalog.pg_stat_activity AS a
	 WHERE a.backend_type = 'ticket worker' AND a.datname = pg_catalog.current_database();
	check_name := 'worker serves this database';
	ok := workers > 0 AND worker_on IS DISTINCT FROM 'off';
	detail := CASE WHEN worker_on = 'off' THEN 'ticket.worker is off: the worker idles'
				   WHEN ok THEN pg_catalog.format('%s worker(s) connected to %s', workers, pg_catalog.current_database())
				   WHEN worker_db IS DISTINCT FROM pg_catalog.current_database()
				   THEN pg_catalog.format('ticket.database is %s, not this database (%s)',
										  coalesce(worker_db, '(unset)'), pg_catalog.current_database())
				   ELSE 'no ticket worker is connected (it restarts 5 seconds after an exit; see the server log)' END;
	RETURN NEXT;

	/* Every concert on sale whose admission is scheduled: its last step. */
	FOR r IN SELECT q.concert_id, q.last_tick, q.admission_paused_at
			   FROM ticket.queue AS q JOIN ticket.concert AS c ON c.concert_id = q.concert_id
			  WHERE q.scheduled AND c.state = 'on_sale' ORDER BY q.concert_id LOOP
		check_name := pg_catalog.format('admission of concert %s', r.concert_id);
		ok := r.admission_paused_at IS NOT NULL OR r.last_tick > pg_catalog.now() - interval '5 seconds';
		detail := CASE WHEN r.admission_paused_at IS NOT NULL
					   THEN pg_catalog.format('paused since %s', r.admission_paused_at)
					   WHEN r.last_tick IS NULL THEN 'no admission step yet'
					   ELSE pg_catalog.format('last step %s s ago',
							pg_catalog.round(pg_catalog.date_part('epoch', pg_catalog.now() - r.last_tick)::numeric, 1)) END;
		RETURN NEXT;
	END LOOP;
	IF FOUND THEN
		check_name := 'pg_cron job ticket-admission';
		IF ticket._cron_version() IS NULL THEN
			ok := false;
			detail := 'pg_cron is not installed in this database';
		ELSE
			SELECT count(*) INTO jobs FROM cron.job AS j WHERE j.jobname = 'ticket-admission' AND j.active;
			ok := jobs > 0;
			detail := CASE WHEN ok THEN 'scheduled' ELSE 'missing or inactive: SELECT ticket.schedule_admission(concert_id)' END;
		END IF;
		RETURN NEXT;
	END IF;

	check_name := 'payments';
	SELECT count(*) AS due,
		   pg_catalog.date_part('epoch', pg_catalog.now() - min(p.next_attempt_at)) AS oldest_due_age INTO r
	  FROM ticket.payment AS p WHERE p.state = 'processing' AND p.next_attempt_at <= pg_catalog.now()
	   AND (p.lease_until IS NULL OR p.lease_until <= pg_catalog.now());
	ok := coalesce(r.oldest_due_age, 0) < 60;
	detail := pg_catalog.format('%s charges and refunds due, the oldest waiting %s s; %s dead-lettered',
		r.due, pg_catalog.round(coalesce(r.oldest_due_age, 0)::numeric, 1),
		(SELECT count(*) FROM ticket.payment AS p WHERE p.dead_at IS NOT NULL));
	RETURN NEXT;

	check_name := 'events published';
	SELECT count(*) AS n, pg_catalog.now() - min(e.created_at) AS age INTO r
	  FROM ticket.event AS e WHERE e.event_id IS NULL;
	ok := r.n = 0 OR r.age < interval '10 seconds';
	detail := pg_catalog.format('%s events not yet numbered', r.n);
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION ticket.health() IS
	'One row per check, for an operator or a probe: library preloaded, a ticket worker serving this database, each scheduled admission''s last step (and the pg_cron job), the payment backlog, unpublished events. Answers as the owner, so ticket_admin and ticket_monitor need no access to pg_stat_activity or pg_cron.';
REVOKE ALL ON FUNCTION ticket.health() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.health() TO ticket_admin, ticket_monitor;

/* metrics(): planned without JIT, and ticket_worker_running counts this database's worker only. */
CREATE OR REPLACE FUNCTION ticket.metrics()
RETURNS TABLE (name text, kind text, labels jsonb, value double precision)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
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
	  FROM pg_catalog.pg_stat_activity AS a
	 WHERE a.backend_type = 'ticket worker' AND a.datname = pg_catalog.current_database()
	UNION ALL
	SELECT 'ticket_preloaded', 'gauge', '{}'::jsonb, ticket.preloaded()::integer::double precision;
END
$$;
COMMENT ON FUNCTION ticket.metrics() IS
	'Every counter (ticket_<counter>_total, since server start) and gauge (per concert on sale: ticket_concert_*, labelled concert_id, among them admit_rate, admission_rate (effective), admission_paused / admission_throttled / admission_slots_full (why it is lower), payments_due and payment_backlog_seconds; payments due, unpublished events, the ticket workers serving this database, preloaded; planned with jit = off) as name, kind, labels, value: what monitoring/postgres_exporter.yml turns into Prometheus metrics.';

/*
 * CALL ticket.compensate inside BEGIN failed at its first COMMIT with a
 * bare 2D000 "invalid transaction termination" (issue 15): it now says why
 * and what to do instead, before it writes anything.
 */
CREATE FUNCTION ticket._in_transaction_block()
RETURNS boolean
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_in_transaction_block';
COMMENT ON FUNCTION ticket._in_transaction_block() IS
	'Internal: true inside BEGIN ... COMMIT (or a multi-statement query), where a procedure cannot COMMIT.';
REVOKE ALL ON FUNCTION ticket._in_transaction_block() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket._in_transaction_block() TO ticket_admin;

CREATE OR REPLACE PROCEDURE ticket.compensate(order_id bigint, reason text)
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
 * report_payments takes the buyer locks of a batch up front, in one order:
 * _sell now takes a buyer's lock (issue 15), and a batch used to take them
 * in payment order, so two batches with the same two buyers in opposite
 * orders could deadlock (40P01, the whole batch rolled back).  _sell is
 * STRICT (its C reads the order row's fields).
 */
ALTER FUNCTION ticket._sell(ticket.orders) STRICT;
CREATE OR REPLACE FUNCTION ticket.report_payments(reports jsonb)
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
ALTER FUNCTION ticket.report_payments(jsonb) SET plan_cache_mode = force_generic_plan;
