-- Payments: the adapter's claim / succeeded / failed contract, retries with
-- backoff, dead letters, compensation (SAGA), late and duplicate successes,
-- refunds, timeouts, and the event outbox.
\i test/regress_setup.sql

SET ticket.payment_retry_base = '1ms';
SET ticket.payment_retry_max = '2ms';
-- Counters are server-wide: remember where they start.
CREATE TEMP TABLE counters0 AS SELECT counter, value FROM ticket.counters();

CREATE FUNCTION pg_temp.footprint() RETURNS text LANGUAGE sql AS $$
	SELECT format('orders=%s payments=%s sagas=%s steps=%s events=%s leased=%s',
		(SELECT string_agg(state::text, ',' ORDER BY order_id) FROM ticket.orders),
		(SELECT string_agg(state::text || '/' || attempts, ',' ORDER BY payment_id) FROM ticket.payment),
		(SELECT count(*) FROM ticket.saga),
		(SELECT count(*) FROM ticket.saga_step),
		(SELECT count(*) FROM ticket.event),
		(SELECT count(*) FROM ticket.payment WHERE lease_owner IS NOT NULL))
$$;
-- A buyer: hold the seats and check out; returns the order id.
CREATE FUNCTION pg_temp.buy(c bigint, u text, seats int[]) RETURNS bigint LANGUAGE sql AS $$
	SELECT (ticket.checkout((ticket.hold(c, u, seats)).hold_id, u, u || '-' || seats::text)).order_id
$$;
CREATE FUNCTION pg_temp.charge(o bigint) RETURNS bigint LANGUAGE sql AS $$
	SELECT payment_id FROM ticket.payment WHERE order_id = o AND kind = 'charge'
$$;
-- Make a payment job due now (instead of waiting for its backoff).
CREATE FUNCTION pg_temp.due(p bigint) RETURNS void LANGUAGE sql AS $$
	UPDATE ticket.payment SET next_attempt_at = now() WHERE payment_id = p
$$;
CREATE FUNCTION pg_temp.seats(o bigint) RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(s.seat_id || ':' || s.state || coalesce('/' || (s.hold_id = x.hold_id)::text, ''), ' ' ORDER BY s.seat_id)
	  FROM ticket.orders x JOIN ticket.seat s ON s.concert_id = x.concert_id AND s.seat_id = ANY (x.seat_ids)
	 WHERE x.order_id = o
$$;

-- 10 seats at 50; up to 3 attempts per payment.
SELECT ticket.create_concert('Payment Night', '2100-06-01 20:00+00', '2000-01-01 00:00+00',
	per_user_limit => 4, payment_attempts => 3) AS cid \gset
SELECT ticket.add_section(:cid, 'Floor', 'A', 50, 2, 5);
SELECT ticket.open_sale(:cid);

-- 1. Success: claim with a lease, report, the seats are sold.
SELECT pg_temp.buy(:cid, 'alice', ARRAY[1, 2]) AS o1 \gset
SELECT pg_temp.charge(:o1) AS p1 \gset
SELECT kind, order_id = :o1 AS this_order, user_id, amount, attempt, provider_key = 'ticket-' || :p1 AS key_is_stable,
	   refund_ref, lease_until - now() AS lease
  FROM ticket.claim_payments('sim-1', 10, '30 seconds');
-- Leased: another adapter gets nothing.
SELECT count(*) AS claimed_by_other FROM ticket.claim_payments('sim-2', 10, '30 seconds');
SELECT lease_owner, attempts FROM ticket.payment WHERE payment_id = :p1;
SELECT ticket.payment_succeeded(:p1, 'ch_1');
SELECT state FROM ticket.orders WHERE order_id = :o1;
SELECT pg_temp.seats(:o1);
SELECT state, provider_ref, lease_owner FROM ticket.payment WHERE payment_id = :p1;
SELECT state FROM ticket.hold WHERE hold_id = (SELECT hold_id FROM ticket.orders WHERE order_id = :o1);
-- Reporting again changes nothing; a late failure report does not undo a success.
SELECT pg_temp.footprint() AS before \gset
SELECT ticket.payment_succeeded(:p1, 'ch_1');
SELECT ticket.payment_failed(:p1, 'timeout talking to provider', true);
SELECT pg_temp.footprint() = :'before' AS nothing_written;
-- The provider took the money twice (another reference): the second is refunded.
SELECT ticket.payment_succeeded(:p1, 'ch_1b');
SELECT kind, refund_of = :p1 AS of_p1, refund_ref, amount, state, last_error FROM ticket.payment WHERE kind = 'refund';
SELECT ticket.payment_succeeded(:p1, 'ch_1b');
SELECT count(*) AS refunds FROM ticket.payment WHERE kind = 'refund';
SELECT payment_id AS r1 FROM ticket.claim_payments('sim-1', 10, '30 seconds') \gset
SELECT ticket.payment_succeeded(:r1, 're_1');
SELECT state FROM ticket.orders WHERE order_id = :o1;
SELECT kind, state FROM ticket.payment WHERE order_id = :o1 ORDER BY payment_id;

-- 2. Retryable failures back off, then dead-letter and compensate.
SELECT pg_temp.buy(:cid, 'bob', ARRAY[3]) AS o2 \gset
SELECT pg_temp.charge(:o2) AS p2 \gset
SELECT count(*) FROM ticket.claim_payments('sim-1', 10, '30 seconds');
SELECT ticket.payment_failed(:p2, 'provider 503', true);
SELECT state, attempts, lease_owner, last_error FROM ticket.payment WHERE payment_id = :p2;
-- Backing off: not claimable until next_attempt_at.
UPDATE ticket.payment SET next_attempt_at = now() + interval '1 hour' WHERE payment_id = :p2;
SELECT count(*) AS claimed FROM ticket.claim_payments('sim-1', 10, '30 seconds');
SELECT pg_temp.due(:p2);
SELECT attempt FROM ticket.claim_payments('sim-1', 10, '30 seconds');
SELECT ticket.payment_failed(:p2, 'provider 503', true);
SELECT pg_temp.due(:p2);
SELECT attempt FROM ticket.claim_payments('sim-1', 10, '30 seconds');
-- The third attempt was the last: dead-lettered, compensation started.
SELECT ticket.payment_failed(:p2, 'provider 503', true);
SELECT state, attempts, dead_at IS NOT NULL AS dead FROM ticket.payment WHERE payment_id = :p2;
SELECT reason, if_unpaid, state FROM ticket.saga WHERE order_id = :o2;
SELECT state FROM ticket.orders WHERE order_id = :o2;
-- The worker's compensate task (here by hand) runs it: order cancelled, seat released.
SELECT ticket.maintenance('compensate');
SELECT state, cancel_reason FROM ticket.orders WHERE order_id = :o2;
SELECT pg_temp.seats(:o2);
SELECT g.state, s.step, s.detail FROM ticket.saga g JOIN ticket.saga_step s USING (saga_id)
 WHERE g.order_id = :o2 ORDER BY array_position(ARRAY['cancel_order', 'release_seats', 'refund'], s.step);
SELECT state FROM ticket.hold WHERE hold_id = (SELECT hold_id FROM ticket.orders WHERE order_id = :o2);

-- 3. A failure that retrying cannot fix: dead-lettered at once.
SELECT pg_temp.buy(:cid, 'carol', ARRAY[4]) AS o3 \gset
SELECT pg_temp.charge(:o3) AS p3 \gset
SELECT count(*) FROM ticket.claim_payments('sim-1', 10, '30 seconds');
SELECT ticket.payment_failed(:p3, 'card declined', false);
SELECT state, attempts FROM ticket.payment WHERE payment_id = :p3;
CALL ticket.compensate(:o3, 'operator');
SELECT state, cancel_reason FROM ticket.orders WHERE order_id = :o3;
-- Compensating again: nothing more happens.
SELECT pg_temp.footprint() AS before \gset
CALL ticket.compensate(:o3, 'operator again');
SELECT ticket.maintenance('compensate');
SELECT pg_temp.footprint() = :'before' AS nothing_written;

-- 4. Success after compensation: the seat is still free, so it is sold after all
--    (accept_late_payments); the buyer is not charged for nothing.
SELECT ticket.payment_succeeded(:p3, 'ch_3');
SELECT state FROM ticket.orders WHERE order_id = :o3;
SELECT pg_temp.seats(:o3);
-- The same for bob's dead-lettered payment (seat 3).
SELECT ticket.payment_succeeded(:p2, 'ch_2');
SELECT state FROM ticket.orders WHERE order_id = :o2;
-- When the seat went to someone else meanwhile: refunded.
SELECT pg_temp.buy(:cid, 'dave', ARRAY[5]) AS o4 \gset
SELECT pg_temp.charge(:o4) AS p4 \gset
SELECT count(*) FROM ticket.claim_payments('sim-1', 10, '30 seconds');
SELECT ticket.payment_failed(:p4, 'card declined', false);
SELECT ticket.maintenance('compensate');
SELECT status FROM ticket.hold(:cid, 'erin', ARRAY[5]);
SELECT ticket.payment_succeeded(:p4, 'ch_4');
SELECT state FROM ticket.orders WHERE order_id = :o4;
SELECT kind, refund_ref, state, last_error FROM ticket.payment WHERE order_id = :o4 ORDER BY payment_id;
SELECT payment_id AS r4, kind, refund_ref, attempt FROM ticket.claim_payments('sim-1', 10, '30 seconds') \gset
SELECT :'kind', :'refund_ref';
-- A refund that fails is retried too, then succeeds: the order is refunded.
SELECT ticket.payment_failed(:r4, 'provider 503', true);
SELECT pg_temp.due(:r4);
SELECT count(*) FROM ticket.claim_payments('sim-1', 10, '30 seconds');
SELECT ticket.payment_succeeded(:r4, 're_4');
SELECT state FROM ticket.orders WHERE order_id = :o4;
SELECT kind, state FROM ticket.payment WHERE order_id = :o4 ORDER BY payment_id;
-- A concert that does not re-sell late payments refunds them.
SELECT ticket.update_concert(:cid, accept_late_payments => false);
SELECT pg_temp.buy(:cid, 'frank', ARRAY[6]) AS o5 \gset
SELECT pg_temp.charge(:o5) AS p5 \gset
CALL ticket.compensate(:o5, 'buyer asked');
SELECT ticket.payment_succeeded(:p5, 'ch_5');
SELECT state FROM ticket.orders WHERE order_id = :o5;
SELECT pg_temp.seats(:o5);
SELECT ticket.update_concert(:cid, accept_late_payments => true);

-- 5. Compensating a paid order: seats released, order cancelled, refund requested;
--    a crash half way (one step done) ends as running it once.
SELECT pg_temp.buy(:cid, 'gina', ARRAY[7, 8]) AS o6 \gset
SELECT pg_temp.charge(:o6) AS p6 \gset
SELECT ticket.payment_succeeded(:p6, 'ch_6');
SELECT ticket.start_compensation(:o6, 'fraud review') AS s6 \gset
SELECT ticket.compensation_step(:s6);
SELECT state FROM ticket.orders WHERE order_id = :o6;
SELECT pg_temp.seats(:o6);
CALL ticket.compensate(:o6, 'fraud review, resumed');
SELECT state, cancel_reason FROM ticket.orders WHERE order_id = :o6;
SELECT pg_temp.seats(:o6);
SELECT step, detail FROM ticket.saga_step WHERE saga_id = :s6
 ORDER BY array_position(ARRAY['cancel_order', 'release_seats', 'refund'], step);
SELECT kind, refund_ref, amount, state FROM ticket.payment WHERE order_id = :o6 ORDER BY payment_id;
SELECT ticket.start_compensation(:o6, 'again') AS nothing_to_undo;

-- 6. A payment past pay_by: the worker's timeout_payments dead-letters it and compensates.
SELECT pg_temp.buy(:cid, 'hank', ARRAY[9]) AS o7 \gset
UPDATE ticket.orders SET pay_by = now() - interval '1 second' WHERE order_id = :o7;
SELECT ticket.maintenance('timeout_payments');
SELECT state, last_error, dead_at IS NOT NULL AS dead FROM ticket.payment WHERE order_id = :o7;
SELECT ticket.maintenance('compensate');
SELECT state, cancel_reason FROM ticket.orders WHERE order_id = :o7;
-- A lease that runs out (the adapter died): the job is claimed again.
SELECT pg_temp.buy(:cid, 'ivan', ARRAY[10]) AS o8 \gset
SELECT count(*) FROM ticket.claim_payments('sim-1', 10, '30 seconds');
UPDATE ticket.payment SET lease_until = now() - interval '1 second', next_attempt_at = now() - interval '1 second'
 WHERE order_id = :o8;
SELECT attempt, order_id = :o8 AS same FROM ticket.claim_payments('sim-2', 10, '30 seconds');
SELECT lease_owner FROM ticket.payment WHERE order_id = :o8;

-- Backoff: retry n waits between half and all of min(retry_max, retry_base * 2^(n-1)).
RESET ticket.payment_retry_base;
RESET ticket.payment_retry_max;
SELECT n, min(extract(epoch FROM d)) >= least(2 ^ (n - 1), 60) / 2 AS at_least_half,
	   max(extract(epoch FROM d)) <= least(2 ^ (n - 1), 60) AS at_most_all,
	   count(DISTINCT d) > 1 AS jittered
  FROM generate_series(1, 8) AS n, generate_series(1, 50) AS i, LATERAL ticket._backoff(n + 0 * i) AS d
 GROUP BY n ORDER BY n;
SET ticket.payment_retry_base = '1ms';

-- Bad input: specific SQLSTATEs, nothing written.
SELECT pg_temp.footprint() AS before \gset
SELECT pg_temp.err($$SELECT * FROM ticket.claim_payments(NULL, 1, '1 minute')$$);
SELECT pg_temp.err($$SELECT * FROM ticket.claim_payments('', 1, '1 minute')$$);
SELECT pg_temp.err($$SELECT * FROM ticket.claim_payments('a', 0, '1 minute')$$);
SELECT pg_temp.err($$SELECT * FROM ticket.claim_payments('a', 1001, '1 minute')$$);
SELECT pg_temp.err($$SELECT * FROM ticket.claim_payments('a', 1, '0 seconds')$$);
SELECT pg_temp.err($$SELECT * FROM ticket.claim_payments('a', 1, NULL)$$);
SELECT pg_temp.err($$SELECT ticket.payment_succeeded(999999, 'x')$$);
SELECT pg_temp.err($$SELECT ticket.payment_succeeded(NULL, 'x')$$);
SELECT pg_temp.err(format($$SELECT ticket.payment_succeeded(%s, NULL)$$, :p1));
SELECT pg_temp.err(format($$SELECT ticket.payment_succeeded(%s, repeat('r', 256))$$, :p1));
SELECT pg_temp.err($$SELECT ticket.payment_failed(999999, 'x', true)$$);
SELECT pg_temp.err(format($$SELECT ticket.payment_failed(%s, NULL, true)$$, :p1));
SELECT pg_temp.err(format($$SELECT ticket.payment_failed(%s, 'x', NULL)$$, :p1));
SELECT pg_temp.err($$CALL ticket.compensate(999999, 'x')$$);
SELECT pg_temp.err(format($$CALL ticket.compensate(%s, NULL)$$, :o8));
SELECT pg_temp.err($$SELECT ticket.compensation_step(999999)$$);
SELECT pg_temp.err($$SELECT ticket.maintenance('vacuum_everything')$$);
SELECT pg_temp.err($$SELECT ticket.maintenance('purge', 0)$$);
SELECT pg_temp.err($$SELECT * FROM ticket.events_since(NULL)$$);
SELECT pg_temp.err($$SELECT * FROM ticket.events_since(0, 0)$$);
SELECT pg_temp.footprint() = :'before' AS nothing_written;

-- Roles: the adapter reports payments and reads events, and nothing else.
SET ROLE ticket_adapter;
SELECT count(*) AS claimed FROM ticket.claim_payments('sim-3', 1, '1 second');
SELECT pg_temp.err(format($$SELECT ticket.checkout(1, 'alice', 'k')$$));
SELECT pg_temp.err($$SELECT * FROM ticket.payment$$);
SELECT pg_temp.err($$CALL ticket.compensate(1, 'x')$$);
RESET ROLE;
SET ROLE ticket_customer;
SELECT pg_temp.err($$SELECT * FROM ticket.claim_payments('me', 1, '1 second')$$);
SELECT pg_temp.err(format($$SELECT ticket.payment_succeeded(%s, 'free seats')$$, :p1));
SELECT pg_temp.err($$SELECT * FROM ticket.events_since(0)$$);
RESET ROLE;

-- Events: nothing is published until ticket.publish_events numbers it, then in order.
SELECT count(*) AS published FROM ticket.events_since(0);
SELECT ticket.publish_events() > 0 AS published_some;
SELECT count(*) = (SELECT count(*) FROM ticket.event) AS all_published,
	   min(event_id) = 1 AND max(event_id) = count(*) AS numbered_without_gaps
  FROM ticket.events_since(0, 100000);
SELECT kind, count(*) FROM ticket.event GROUP BY kind ORDER BY kind;
-- A consumer resumes after the last id it read; per concert too.
SELECT max(event_id) - 3 AS resume_at FROM ticket.event \gset
SELECT count(*) FROM ticket.events_since(:resume_at);
SELECT count(*) FROM ticket.events_since(0, 2);
SELECT count(*) FROM ticket.events_since(0, 1000, -1);
SELECT ticket.publish_events() AS nothing_new;

SELECT c.counter, c.value - c0.value AS value FROM ticket.counters() c JOIN counters0 c0 USING (counter)
 WHERE c.counter ~ '^(orders|payments|refunds|compensations)' ORDER BY c.counter;
SELECT * FROM ticket.verify(:cid);
