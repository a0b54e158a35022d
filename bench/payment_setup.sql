-- Setup of `bench/run payment`: a fresh extension; concert 1 has 400,000
-- seats, of which seats 1-200,000 are held, one each by users u1..u200000
-- (hold n is user n's), for a day; concert 2 is where 100,000 abandoned holds
-- are made for the expiry run.  bench_pay.one is the bare-UPDATE baseline.
DROP EXTENSION IF EXISTS ticket CASCADE;
CREATE EXTENSION ticket;
SELECT ticket.create_concert('bench: checkout', now() + interval '30 days', now() - interval '1 day',
	hold_ttl => '1 day', payment_timeout => '1 day', per_user_limit => 4);
SELECT ticket.add_section(1, 'S', 'A', 50, 400, 1000);
SELECT ticket.create_concert('bench: abandoned', now() + interval '30 days', now() - interval '1 day',
	hold_ttl => '1 day', per_user_limit => 4);
SELECT ticket.add_section(2, 'S', 'A', 50, 100, 1000);
SELECT ticket.open_sale(1), ticket.open_sale(2);
-- In chunks: a transaction keeps every seat lock it took until it ends.
DO $$
BEGIN
	FOR i IN 0..39 LOOP
		PERFORM ticket.hold(1, 'u' || g, ARRAY[g]) FROM generate_series(i * 5000 + 1, (i + 1) * 5000) AS g;
		COMMIT;
	END LOOP;
END
$$;
SELECT ticket.publish_events(1000000);
DROP SCHEMA IF EXISTS bench_pay CASCADE;
CREATE SCHEMA bench_pay;
CREATE TABLE bench_pay.one (id integer PRIMARY KEY, n bigint NOT NULL DEFAULT 0);
INSERT INTO bench_pay.one (id) SELECT g FROM generate_series(1, 100000) AS g;
VACUUM ANALYZE;
CHECKPOINT;
