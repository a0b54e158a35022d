-- Cases for test/lint --self-test: the names rule.  Counter names against
-- ticket_counter_names[] of ./ticket.c; a ticket.maintenance whose tasks
-- agree with worker_tasks[] of ./worker.c in every copy (no finding).
CREATE FUNCTION ticket._bump_counter(counter text, n bigint) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'ticket_bump_counter';
COMMENT ON FUNCTION ticket._bump_counter(text, bigint) IS 'Adds n to a counter.';

CREATE FUNCTION ticket.bumps(k bigint, which text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM ticket._bump_counter('seats_generated', k);
	PERFORM ticket._bump_counter(counter => 'queue_admitted', n => 1);
	PERFORM ticket._bump_counter('seats_generatd', k); -- expect: names
	PERFORM ticket._bump_counter('Holds_Expired', 1); -- expect: names
	PERFORM ticket._bump_counter(which, 1); -- expect: names
END
$$;

CREATE FUNCTION ticket.maintenance(task text, batch_size integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n integer := 0;
	r record;
BEGIN
	CASE task
	WHEN 'expire_holds' THEN
		FOR r IN SELECT h.hold_id FROM ticket.hold AS h LIMIT batch_size LOOP
			CONTINUE WHEN r.hold_id = 0 OR ticket.state(r.hold_id, 'not_a_task') = 'x';
			IF r.hold_id > 1 THEN
				n := n + 1;
			ELSE
				n := n + CASE WHEN r.hold_id = 1 THEN 1 ELSE 0 END;
			END IF;
		END LOOP;
		PERFORM ticket._bump_counter('holds_expired', n);
	WHEN 'purge', 'admit' THEN
		BEGIN
			n := 1;
		EXCEPTION WHEN SQLSTATE '22012' THEN
			n := 0;
		END;
	ELSE
		RAISE EXCEPTION 'unknown maintenance task "%"', task
			USING ERRCODE = '22023',
			HINT = 'The tasks are expire_holds, purge ' || 'and admit.';
	END CASE;
	RETURN n;
END
$$;
COMMENT ON FUNCTION ticket.maintenance(text, integer) IS
	'Runs one batch of one of the worker''s tasks (expire_holds, purge, admit) and returns how many items it did, for psql when the worker is off.';
