-- Setup of `bench/run overload`: a fresh extension, the adapter's login role
-- (so that ALTER ROLE can change its settings alone), and four concerts
-- without a waiting room (admission is not involved), 200,000 standing
-- places each, holds that outlive the run:
--   1: the capacity run (a backlog the adapter drains; payment_timeout long)
--   2: run A, checkouts at capacity; 3: run B, at twice capacity;
--   4: run C, twice capacity with FIFO claims (payment_timeout :timeout s).
DROP EXTENSION IF EXISTS ticket CASCADE;
CREATE EXTENSION ticket;
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_adapter') THEN
		CREATE ROLE bench_adapter LOGIN;
	END IF;
END
$$;
GRANT ticket_adapter TO bench_adapter;
ALTER ROLE bench_adapter RESET ALL;
SELECT ticket.create_concert('overload ' || i, now() + interval '30 days', now() - interval '1 day',
	hold_ttl => '1 hour', per_user_limit => 4,
	payment_timeout => CASE WHEN i = 1 THEN interval '1 hour' ELSE make_interval(secs => :timeout) END)
  FROM generate_series(1, 4) AS i;
SELECT ticket.add_standing(i, 'Floor', 'GA', 50, 200000) FROM generate_series(1, 4) AS i;
SELECT ticket.open_sale(i) FROM generate_series(1, 4) AS i;
VACUUM ANALYZE;
CHECKPOINT;
