-- Setup of `bench/run queue`: waiting rooms to join and to poll.
--   1: open and empty, for the burst of joins;
--   2: 1,000 waiting;  3: 1,000,000 waiting;  4: 1,000,000 of whom 1% left;
--      in each, the first 10% admitted (their polls sign a pass);
--   5: no queue, 6: queue, for the cost of a pass at hold (400,000 places each).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS ticket CASCADE;
DROP SCHEMA IF EXISTS naive CASCADE;
DROP TABLE IF EXISTS public.bench_pass;
RESET client_min_messages;
CREATE EXTENSION ticket;

SELECT ticket.create_concert('bench: joins', now() + interval '30 days', now() - interval '1 day', queue => true);
SELECT ticket.add_standing(1, 'Pit', 'GA', 50, 1000);
SELECT ticket.open_sale(1);

CREATE FUNCTION pg_temp.fill(c bigint, n bigint, leave_every integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM ticket.create_concert('bench: ' || n || ' waiting', now() + interval '30 days',
		now() - interval '1 day', queue => true, admission_ttl => '1 day');
	PERFORM ticket.add_standing(c, 'Pit', 'GA', 50, 1000);
	PERFORM ticket.open_sale(c);
	INSERT INTO ticket.queue_entry (concert_id, user_id, state, seq, joined_at, admitted_at, expires_at)
	SELECT c, 'p' || g,
		   CASE WHEN g <= n / 10 THEN 'admitted'
				WHEN leave_every > 0 AND g % leave_every = 0 THEN 'left'
				ELSE 'waiting' END::ticket.queue_entry_state,
		   g, now(),
		   CASE WHEN g <= n / 10 THEN now() END, CASE WHEN g <= n / 10 THEN now() + interval '1 day' END
	  FROM generate_series(1, n) AS g;
	INSERT INTO ticket.queue_departure (concert_id, seq)
	SELECT c, e.seq FROM ticket.queue_entry AS e WHERE e.concert_id = c AND e.state = 'left';
	UPDATE ticket.queue AS q
	   SET last_place = n, admitted_through = n / 10, admitted = n / 10,
		   gaps = (SELECT array_agg(coalesce(k.n, 0)::integer ORDER BY b)
					 FROM generate_series(0, n >> 10) AS b
					 LEFT JOIN (SELECT d.seq >> 10 AS b, count(*) AS n FROM ticket.queue_departure AS d
								 WHERE d.concert_id = c GROUP BY 1) AS k USING (b))
	 WHERE q.concert_id = c;
	IF leave_every = 0 THEN
		UPDATE ticket.queue SET gaps = NULL WHERE concert_id = c;
	END IF;
END
$$;
SELECT pg_temp.fill(2, 1000, 0);
SELECT pg_temp.fill(3, 1000000, 0);
SELECT pg_temp.fill(4, 1000000, 100);

SELECT ticket.create_concert('bench: hold, no queue', now() + interval '30 days', now() - interval '1 day',
	hold_ttl => '1 hour');
SELECT ticket.add_standing(5, 'Pit', 'GA', 50, 400000);
SELECT ticket.create_concert('bench: hold with pass', now() + interval '30 days', now() - interval '1 day',
	hold_ttl => '1 hour', queue => true);
SELECT ticket.add_standing(6, 'Pit', 'GA', 50, 400000);
SELECT ticket.open_sale(5), ticket.open_sale(6);
-- 100,000 admitted users of concert 6 (written straight into the queue, as
-- if admitted at places 1..100,000: since 0.3 hold checks that the
-- admission a pass names still runs), and their passes, for the hold
-- scripts to send.
INSERT INTO ticket.queue_entry (concert_id, user_id, state, seq, joined_at, admitted_at, expires_at)
SELECT 6, 'h' || g, 'admitted', g, now(), now(), now() + interval '1 day' FROM generate_series(1, 100000) AS g;
UPDATE ticket.queue SET last_place = 100000, admitted_through = 100000, admitted = 100000 WHERE concert_id = 6;
CREATE TABLE public.bench_pass (g integer PRIMARY KEY, pass text NOT NULL);
INSERT INTO public.bench_pass
SELECT g, ticket._sign_pass(6, 'h' || g, g, now() + interval '1 day') FROM generate_series(1, 100000) AS g;

VACUUM ANALYZE;
CHECKPOINT;
-- Both lines in shared buffers before any poll, so that neither pays for reads.
CREATE EXTENSION IF NOT EXISTS pg_prewarm;
SELECT pg_prewarm('ticket.queue_entry') > 0 AS entries, pg_prewarm('ticket.queue_entry_pkey') > 0 AS pkey,
	   pg_prewarm('ticket.queue') > 0 AS queue, pg_prewarm('ticket.queue_departure') > 0 AS departures,
	   pg_prewarm('ticket.queue_departure_pkey') > 0 AS departures_pkey;
SELECT concert_id, waiting, admitted, departed FROM ticket.queues ORDER BY concert_id;
SELECT count(*) FROM ticket.verify();
