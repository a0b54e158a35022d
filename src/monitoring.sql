/*
 * src/monitoring.sql: what operators and Prometheus read: metrics() (the
 * prometheus-postgres-exporter queries are in monitoring/), the dashboard
 * view for psql's \watch, and health().  These paths run with jit = off: their
 * plans cost past jit_above_cost but read a few index ranges, and compiling
 * them cost more than it saved (the dashboard over 5 concerts: 0.66-1.04 s
 * with JIT, 65 ms without).
 */

CREATE FUNCTION ticket.metrics()
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
	SELECT 'ticket_events_unpublished', 'gauge', '{}'::jsonb, u.events::double precision
	  FROM ticket._unpublished() AS u
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
 * The dashboard's query.  A view cannot carry a setting, so ticket.dashboard
 * reads it through ticket._dashboard(), which runs with jit = off.  Its state
 * column is the one of ticket.concerts (closed past sale_closes_at), and
 * while a waiting room is sold out (queue.sold_out_at: no seat free and none
 * held, every waiting user is told sold_out) nobody is counted as waiting.
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

/*
 * One statement, so one snapshot: every column of every row is read as of
 * the same moment (as_of), under READ COMMITTED as under REPEATABLE READ.
 * Counts rows, but only through indexes on the concert or on what is still
 * in flight: a few milliseconds for a 50,000-seat sale, fine for \watch 1.
 */
CREATE VIEW ticket.dashboard AS SELECT * FROM ticket._dashboard();
COMMENT ON VIEW ticket.dashboard IS
	'One row per concert for an operator''s \watch 1: waiting and admitted (waiting rooms), active holds, seats available/held/sold of capacity, orders pending and paid, revenue (paid orders), sales_per_minute (seats paid in the last minute), compensations done and running, refunds paid back, dead-lettered payment jobs, sell_out_eta at the last minute''s pace; admit_rate (the ceiling), effective_rate and rate_reason (back-pressure, pause, cap), payments_due and payment_backlog_seconds (charges waiting for an adapter, and how long the oldest has waited); all read from one snapshot taken at as_of. Planned without JIT.';

/*
 * What an operator needs to know is running, answered as the owner, for this
 * database: a ticket_admin cannot read other sessions in pg_stat_activity nor
 * pg_cron's tables.
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
	IF pg_catalog.pg_is_in_recovery() THEN
		/* A standby runs no worker; what matters is that one starts at promotion. */
		ok := worker_db IS NOT DISTINCT FROM pg_catalog.current_database() AND worker_on IS DISTINCT FROM 'off';
		detail := CASE WHEN worker_on = 'off' THEN 'a standby, and ticket.worker is off: once promoted, the worker would idle'
					   WHEN ok THEN 'a standby: the worker runs on the primary, and here once this server is promoted'
					   ELSE pg_catalog.format('a standby, and ticket.database is %s, not this database (%s): once promoted, no worker would serve it',
											  coalesce(worker_db, '(unset)'), pg_catalog.current_database()) END;
	ELSE
		ok := workers > 0 AND worker_on IS DISTINCT FROM 'off';
		detail := CASE WHEN worker_on = 'off' THEN 'ticket.worker is off: the worker idles'
					   WHEN ok THEN pg_catalog.format('%s worker(s) connected to %s', workers, pg_catalog.current_database())
					   WHEN worker_db IS DISTINCT FROM pg_catalog.current_database()
					   THEN pg_catalog.format('ticket.database is %s, not this database (%s)',
											  coalesce(worker_db, '(unset)'), pg_catalog.current_database())
					   ELSE 'no ticket worker is connected (it restarts 5 seconds after an exit; see the server log)' END;
	END IF;
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
	SELECT u.events AS n, pg_catalog.now() - u.oldest AS age INTO r FROM ticket._unpublished() AS u;
	ok := r.n = 0 OR r.age < interval '10 seconds';
	detail := pg_catalog.format('%s events not yet numbered', r.n);
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION ticket.health() IS
	'One row per check, for an operator or a probe: library preloaded, a ticket worker serving this database, each scheduled admission''s last step (and the pg_cron job), the payment backlog, unpublished events. Answers as the owner, so ticket_admin and ticket_monitor need no access to pg_stat_activity or pg_cron.';
