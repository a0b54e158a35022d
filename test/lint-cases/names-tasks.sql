-- Cases for test/lint --self-test: the names rule on a ticket.maintenance
-- whose copies of the task list disagree with worker_tasks[] of ./worker.c.
CREATE FUNCTION ticket.maintenance(task text, batch_size integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n integer := 0;
BEGIN
	CASE task -- expect: names
	WHEN 'expire_holds' THEN
		n := 1;
	WHEN 'purge' THEN
		n := 2;
	WHEN 'vacuum' THEN -- expect: names
		n := 3;
	ELSE
		RAISE EXCEPTION 'unknown maintenance task "%"', task
			USING ERRCODE = '22023',
			HINT = 'The tasks are expire_holds, admit and vacuum.'; -- expect: names
	END CASE;
	RETURN n;
END
$$;
COMMENT ON FUNCTION ticket.maintenance(text, integer) IS
	'Runs one of the worker''s tasks (expire_holds, purg, admit, vacuum) and returns how many items it did.'; -- expect: names
