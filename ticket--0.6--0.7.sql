/* ticket--0.6--0.7.sql: from 0.6 to 0.7 */

\echo Use "ALTER EXTENSION ticket UPDATE TO '0.7'" to load this file. \quit

/*
 * 0.7 (issue 18): a hold writes no outbox row.  ticket.publish_events
 * numbers the holds' events from ticket.hold, in hold_id order, up to the
 * bound below which every hold's transaction has ended
 * (ticket._hold_event_bound, src/sale.c); event_head.hold_mark is how far
 * it got.  ticket._unpublished counts the holds above the mark with the
 * outbox's unnumbered rows, for metrics, health and the worker's report.
 *
 * The holds made before this update have their outbox rows: the mark starts
 * at what ticket.hold_id_seq has handed out.  The lock lets the holds under
 * way finish first (with their outbox rows) and makes new ones wait for this
 * update's commit, after which they write none.
 */
LOCK TABLE ticket.hold IN SHARE ROW EXCLUSIVE MODE;

ALTER TABLE ticket.event_head ADD COLUMN hold_mark bigint NOT NULL DEFAULT 0;
UPDATE ticket.event_head
   SET hold_mark = (SELECT CASE WHEN q.is_called THEN q.last_value ELSE 0 END FROM ticket.hold_id_seq AS q);
COMMENT ON TABLE ticket.event_head IS
	'The last event_id handed out, and hold_mark: the holds up to that hold_id have their hold event. Its row lock makes publishers take turns.';

CREATE FUNCTION ticket._hold_event_bound(handed_out bigint)
RETURNS bigint
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_hold_event_bound';
COMMENT ON FUNCTION ticket._hold_event_bound(bigint) IS
	'Internal: the highest hold_id at or below which every hold''s transaction has ended (handed_out: what ticket.hold_id_seq has handed out, read first); publish_events numbers the holds'' events up to it (src/sale.c).';

CREATE OR REPLACE FUNCTION ticket.publish_events(max_events integer DEFAULT 10000)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	head bigint;
	mark bigint;
	bound bigint;
	last_hold bigint;
	k integer := 0;
	n integer := 0;
	s bigint;
BEGIN
	PERFORM ticket._check_range('max_events', max_events, 1, 1000000);
	SELECT e.last_event_id, e.hold_mark INTO head, mark FROM ticket.event_head AS e FOR UPDATE;
	/*
	 * Holds' events come from ticket.hold itself (a hold writes no outbox
	 * row): in hold_id order, up to the bound below which every hold's
	 * transaction has ended, so that none commits below hold_mark later.
	 * The INSERT's own snapshot, taken after the bound, sees those holds:
	 * only under READ COMMITTED (the worker's), else the next run does it.
	 */
	IF pg_catalog.current_setting('transaction_isolation') = 'read committed' THEN
		bound := ticket._hold_event_bound(
			(SELECT CASE WHEN q.is_called THEN q.last_value ELSE 0 END FROM ticket.hold_id_seq AS q));
		IF bound > mark THEN
			WITH numbered AS (
				INSERT INTO ticket.event AS x (event_id, concert_id, kind, subject_id, user_id, created_at)
				SELECT head + pg_catalog.row_number() OVER (ORDER BY h.hold_id), h.concert_id, 'hold',
					   h.hold_id, h.user_id, h.created_at
				  FROM ticket.hold AS h
				 WHERE h.hold_id > mark AND h.hold_id <= bound
				 ORDER BY h.hold_id
				 LIMIT max_events
				RETURNING x.subject_id
			)
			SELECT count(*)::integer, max(numbered.subject_id) INTO k, last_hold FROM numbered;
			mark := CASE WHEN k >= max_events THEN last_hold ELSE bound END;
			head := head + k;
			UPDATE ticket.event_head AS e SET hold_mark = mark;
		END IF;
	ELSE
		RAISE WARNING 'publish_events numbers the holds'' events only under READ COMMITTED'
			USING DETAIL = pg_catalog.format('This transaction is %s; the worker''s next run numbers them.',
				pg_catalog.current_setting('transaction_isolation'));
	END IF;
	/*
	 * The outbox, row by row, each through the partial index on seq: the
	 * plan stays an index probe whatever the statistics say (a set-based
	 * UPDATE planned with stale statistics after a burst went quadratic).
	 */
	FOR s IN SELECT x.seq FROM ticket.event AS x WHERE x.event_id IS NULL ORDER BY x.seq LIMIT max_events - k LOOP
		UPDATE ticket.event AS x SET event_id = head + n + 1 WHERE x.seq = s AND x.event_id IS NULL;
		IF FOUND THEN
			n := n + 1;
		END IF;
	END LOOP;
	IF n + k > 0 THEN
		head := head + n;
		UPDATE ticket.event_head AS e SET last_event_id = head, published_at = now();
		PERFORM pg_catalog.pg_notify('ticket_event',
			pg_catalog.json_build_object('last_event_id', head, 'published', n + k)::text);
	END IF;
	RETURN n + k;
END
$$;
COMMENT ON FUNCTION ticket.publish_events(integer) IS
	'Numbers committed events in order (holds'' events from ticket.hold, then the outbox) and sends NOTIFY ticket_event {last_event_id, published}; the worker runs it every interval. Returns how many it numbered.';

CREATE FUNCTION ticket._unpublished(OUT events bigint, OUT oldest timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	/* The outbox's unnumbered rows, and the holds above the mark (0.7). */
	SELECT count(*), min(u.created_at)
	  FROM (SELECT e.created_at FROM ticket.event AS e WHERE e.event_id IS NULL
			UNION ALL
			SELECT h.created_at FROM ticket.hold AS h
			 WHERE h.hold_id > (SELECT x.hold_mark FROM ticket.event_head AS x)) AS u;
$$;
COMMENT ON FUNCTION ticket._unpublished() IS
	'Internal: how many events publish_events has yet to number (the outbox''s and the holds'' above event_head.hold_mark), and when the oldest was made; metrics, health and the worker''s start report read it.';

CREATE OR REPLACE FUNCTION ticket._reconcile_report()
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

CREATE OR REPLACE FUNCTION ticket.health()
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
	SELECT u.events AS n, pg_catalog.now() - u.oldest AS age INTO r FROM ticket._unpublished() AS u;
	ok := r.n = 0 OR r.age < interval '10 seconds';
	detail := pg_catalog.format('%s events not yet numbered', r.n);
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION ticket.health() IS
	'One row per check, for an operator or a probe: library preloaded, a ticket worker serving this database, each scheduled admission''s last step (and the pg_cron job), the payment backlog, unpublished events. Answers as the owner, so ticket_admin and ticket_monitor need no access to pg_stat_activity or pg_cron.';

REVOKE ALL ON FUNCTION ticket._hold_event_bound(bigint), ticket._unpublished() FROM PUBLIC;
