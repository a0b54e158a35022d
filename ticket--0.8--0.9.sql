/* ticket--0.8--0.9.sql: from 0.8 to 0.9 */

\echo Use "ALTER EXTENSION ticket UPDATE TO '0.9'" to load this file. \quit

/*
 * 0.9 (issue 19): a shard says which shard it is, so that the router
 * (ticket_router 0.9) can refuse a partition list out of shard order
 * before it creates a concert on the wrong shard; health() on a hot
 * standby no longer reports its missing worker as a fault.
 */

CREATE FUNCTION ticket.shard()
RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ticket._shard_of_id(s.last_value) FROM ticket.concert_concert_id_seq AS s $$;
COMMENT ON FUNCTION ticket.shard() IS
	'Which shard this database is: the k of its ticket.set_shard(k), 0 for a database that never called it. The router checks with it that its partition pk is shard k.';
REVOKE ALL ON FUNCTION ticket.shard() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.shard() TO ticket_admin, ticket_monitor;

/* On a standby, the worker check asks only that ticket.database name this database. */
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
