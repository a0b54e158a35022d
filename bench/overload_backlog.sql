-- The capacity run's backlog: :jobs buyers of concert 1 hold one place and
-- check out, in chunks of 100 with a commit after each, before the adapter
-- starts.
SELECT set_config('bench.jobs', :'jobs', false);
DO $$
BEGIN
	FOR i IN 0..(current_setting('bench.jobs')::integer - 1) / 100 LOOP
		PERFORM ticket.checkout(h.hold_id, h.u, 'k' || h.u)
		   FROM (SELECT x.hold_id, 'cap' || g AS u
				   FROM generate_series(i * 100 + 1, least((i + 1) * 100, current_setting('bench.jobs')::integer)) AS g,
						ticket.hold_best(1, 'cap' || g, 1, 1) AS x) AS h;
		COMMIT;
	END LOOP;
END
$$;
