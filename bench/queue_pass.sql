-- The cost of a pass, in one backend, without the round trip or commit:
-- check_pass calls against holds without a queue and holds with a pass, in
-- rounds of 2,000 holds (a hold keeps its locks to the end of its
-- transaction).  Prints microseconds per call, one row per round.
CREATE TEMP TABLE passes AS
SELECT g, ticket._sign_pass(6, 'h' || g, g, now() + interval '1 day') AS pass
  FROM generate_series(1, 10000) AS g;
CREATE FUNCTION pg_temp.per_call(stmt text, n integer) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
BEGIN
	EXECUTE stmt;
	RETURN round(extract(epoch FROM clock_timestamp() - t0) * 1e6 / n, 2);
END
$$;
CREATE FUNCTION pg_temp.round(r integer) RETURNS TABLE (call_us numeric, check_us numeric, hold_us numeric, hold_pass_us numeric)
LANGUAGE plpgsql AS $$
BEGIN
	call_us := pg_temp.per_call($q$SELECT count(ticket.preloaded()) FROM generate_series(1, 20000)$q$, 20000);
	check_us := pg_temp.per_call($q$SELECT count(ticket.check_pass(p.pass, 6, 'h' || p.g))
									  FROM passes AS p CROSS JOIN generate_series(1, 2)$q$, 20000);
	hold_us := pg_temp.per_call(format($q$SELECT count((ticket.hold(5, 'h' || g, ARRAY[g])).status)
										 FROM generate_series(%s, %s) AS g$q$, r * 2000 + 1, r * 2000 + 2000), 2000);
	hold_pass_us := pg_temp.per_call(format($q$SELECT count((ticket.hold(6, 'h' || g, ARRAY[g], pass => pass)).status)
											  FROM passes WHERE g BETWEEN %s AND %s$q$, r * 2000 + 1, r * 2000 + 2000), 2000);
	RETURN NEXT;
END
$$;
-- warm the caches, then five rounds, each in its own transaction
SELECT count(ticket.check_pass(pass, 6, 'h' || g)) FROM passes WHERE g <= 1000;
\pset tuples_only on
\pset format unaligned
\pset fieldsep ' '
SELECT * FROM pg_temp.round(0);
SELECT * FROM pg_temp.round(1);
SELECT * FROM pg_temp.round(2);
SELECT * FROM pg_temp.round(3);
SELECT * FROM pg_temp.round(4);
\pset tuples_only off
\pset format aligned
SELECT concert_id, count(*) FILTER (WHERE state = 'active') AS holds FROM ticket.hold GROUP BY 1 ORDER BY 1;
