-- The operator's dashboard (ticket.dashboard) and ticket.metrics(): every
-- column against a sale whose numbers are known, and who may read them.
\i test/regress_setup.sql

SET ticket.payment_retry_base = '1ms';
SET ticket.payment_retry_max = '2ms';

-- Night 1: 20 seats at 50 and 10 standing at 30; a waiting room; 2 attempts per payment.
SELECT ticket.create_concert('Dash Night', '2100-06-01 20:00+00', '2000-01-01 00:00+00',
	per_user_limit => 4, queue => true, admit_rate => 2, payment_attempts => 2) AS cid \gset
SELECT ticket.add_section(:cid, 'Floor', 'A', 50, 2, 10) AS floor;
SELECT ticket.add_standing(:cid, 'Pit', 'GA', 30, 10) AS pit;
-- A draft with no waiting room: in the dashboard, not in the metrics.
SELECT ticket.create_concert('Draft Night', '2100-07-01 20:00+00', '2100-06-01 00:00+00') AS draft \gset

-- Before opening: five in the pre-queue.
SELECT count(*) AS joined FROM generate_series(1, 5) AS g, ticket.join_queue(:cid, 'fan' || g) AS j;
SELECT concert_id, title, state, waiting, admitted, capacity, available, sold, sell_out_eta
  FROM ticket.dashboard ORDER BY concert_id;

SELECT ticket.open_sale(:cid);
-- Two admission steps a second apart (a step admits at most one second's
-- worth, admit_rate 2): four admitted, one still waiting.
UPDATE ticket.queue SET last_tick = clock_timestamp() - interval '1 second' WHERE concert_id = :cid;
SELECT ticket.admit(:cid) AS admitted;
UPDATE ticket.queue SET last_tick = clock_timestamp() - interval '1 second' WHERE concert_id = :cid;
SELECT ticket.admit(:cid) AS admitted;

-- The admitted hold two seats each with their passes.
CREATE FUNCTION pg_temp.pass(u text) RETURNS text LANGUAGE sql AS $$
	SELECT pass_token FROM ticket.queue_status(1, u)
$$;
CREATE FUNCTION pg_temp.charge(o bigint) RETURNS bigint LANGUAGE sql AS $$
	SELECT payment_id FROM ticket.payment WHERE order_id = o AND kind = 'charge'
$$;
SELECT e.seq AS place, (ticket.hold(:cid, e.user_id, ARRAY[2 * e.seq::int - 1, 2 * e.seq::int],
							   pass => pg_temp.pass(e.user_id))).status
  FROM ticket.queue_entry AS e WHERE e.concert_id = :cid AND e.state = 'admitted' ORDER BY e.seq;
-- Places 1 and 2 check out and pay; place 3 checks out and its payment is
-- declined; place 4 keeps an active hold.
SELECT e.seq AS place, c.status, c.amount
  FROM ticket.hold AS h JOIN ticket.queue_entry AS e ON e.concert_id = h.concert_id AND e.user_id = h.user_id,
	   ticket.checkout(h.hold_id, h.user_id, 'k' || h.hold_id) AS c
 WHERE e.seq <= 3 ORDER BY e.seq;
-- Three charges wait for an adapter (none for long: no back-pressure yet).
SELECT payments_due, payment_backlog_seconds < 1 AS fresh FROM ticket.dashboard WHERE concert_id = :cid;
SELECT count(*) AS claimed FROM ticket.claim_payments('sim', 10, '1 minute');
SELECT ticket.payment_succeeded(pg_temp.charge(o.order_id), 'ch_' || o.order_id)
  FROM ticket.orders AS o JOIN ticket.queue_entry AS e ON e.concert_id = o.concert_id AND e.user_id = o.user_id
 WHERE e.seq <= 2 ORDER BY o.order_id;
SELECT ticket.payment_failed(pg_temp.charge(o.order_id), 'card declined', false)
  FROM ticket.orders AS o JOIN ticket.queue_entry AS e ON e.concert_id = o.concert_id AND e.user_id = o.user_id
 WHERE e.seq = 3;
SELECT ticket.maintenance('compensate', 10) AS compensated;

-- What the operator sees: 1 waiting, 4 admitted, 1 active hold (2 seats),
-- 4 seats sold for 200.00, all in the last minute, one compensation, one dead
-- letter; admission at admit_rate (no reason to be slower), no payment due.
\x on
SELECT concert_id, title, state, waiting, admitted, active_holds, capacity, available, held, sold,
	   orders_pending, orders_paid, revenue, sales_per_minute, compensations, compensations_running,
	   refunds, dead_letters, sell_out_eta, as_of = now() AS as_of_is_now,
	   admit_rate, effective_rate, rate_reason, payments_due, payment_backlog_seconds
  FROM ticket.dashboard WHERE concert_id = :cid;
\x off
-- The columns agree with the detailed views.
SELECT d.available = c.available AND d.held = c.held AND d.sold = c.sold AND d.revenue = c.revenue AS agrees_with_concerts,
	   d.waiting = q.waiting AND d.admitted = q.admitted AND d.effective_rate = q.effective_rate
	   AND d.rate_reason IS NOT DISTINCT FROM q.rate_reason AS agrees_with_queues
  FROM ticket.dashboard AS d JOIN ticket.concerts AS c USING (concert_id) JOIN ticket.queues AS q USING (concert_id)
 WHERE d.concert_id = :cid;

-- Metrics: the counters, and the dashboard of each concert on sale, labelled.
SELECT count(*) FILTER (WHERE kind = 'counter' AND name LIKE 'ticket\_%\_total' AND labels = '{}') = (SELECT count(*) FROM ticket.counters())
	   AS every_counter
  FROM ticket.metrics();
SELECT name, kind, labels, value FROM ticket.metrics()
 WHERE (labels <> '{}' OR kind = 'gauge') AND name <> 'ticket_worker_running' ORDER BY name, labels::text;
-- The worker (ticket.worker = off here) is connected or not yet, depending on
-- how long after the database was made this file runs (bgw_restart_time 5 s).
SELECT value IN (0, 1) AS worker_running_0_or_1 FROM ticket.metrics() WHERE name = 'ticket_worker_running';
-- The draft is not in the metrics; a concert's numbers are the dashboard's.
SELECT count(*) AS draft_rows FROM ticket.metrics() WHERE labels ->> 'concert_id' = :'draft';
-- Sold out (as if; rolled back): the ETA is zero.
BEGIN;
UPDATE ticket.seat SET state = 'sold' WHERE concert_id = :cid AND state <> 'sold';
SELECT sold, capacity, sell_out_eta FROM ticket.dashboard WHERE concert_id = :cid;
SELECT value FROM ticket.metrics() WHERE name = 'ticket_concert_sell_out_eta_seconds';
ROLLBACK;

-- ticket_monitor reads the dashboard and the metrics, and nothing else.
SET ROLE ticket_monitor;
SELECT count(*) AS dashboard_rows FROM ticket.dashboard;
SELECT count(*) > 0 AS has_metrics FROM ticket.metrics();
SELECT pg_temp.err($$SELECT * FROM ticket.seat$$);
SELECT pg_temp.err($$SELECT * FROM ticket.orders$$);
SELECT pg_temp.err($$SELECT * FROM ticket.concerts$$);
SELECT pg_temp.err($$SELECT ticket.hold(1, 'm', ARRAY[1])$$);
SELECT pg_temp.err($$SELECT ticket.admit(1)$$);
RESET ROLE;
-- Customers and adapters do not see it.
SET ROLE ticket_customer;
SELECT pg_temp.err($$SELECT * FROM ticket.dashboard$$);
SELECT pg_temp.err($$SELECT * FROM ticket.metrics()$$);
RESET ROLE;
SELECT * FROM ticket.verify();

-- JIT stays out of the monitoring paths (issue 15: the dashboard took 0.66-1.04 s
-- with JIT against 65 ms without): both are planned with jit = off, and the
-- dashboard reads the same whatever jit_above_cost says.
SELECT p.oid::regprocedure AS function, p.proconfig FROM pg_proc AS p
 WHERE p.pronamespace = 'ticket'::regnamespace AND p.proname IN ('metrics', '_dashboard') ORDER BY 1::text;
SET jit_above_cost = 0;
SELECT count(*) > 0 AS dashboard_rows FROM ticket.dashboard;
RESET jit_above_cost;

-- Past sale_closes_at a concert still on_sale in its row is closed to
-- buyers: the views say closed (issue 15), and hold answers closed.
SELECT ticket.create_concert('Window Closed', '2100-06-01 20:00+00', '2000-01-01 00:00+00') AS wc \gset
SELECT ticket.add_section(:wc, 'Floor', 'A', 10, 1, 2);
SELECT ticket.open_sale(:wc);
UPDATE ticket.concert SET sale_closes_at = now() - interval '1 second' WHERE concert_id = :wc;
SELECT c.state AS row_state, v.state AS view_state, d.state AS dashboard_state
  FROM ticket.concert AS c JOIN ticket.concerts AS v USING (concert_id) JOIN ticket.dashboard AS d USING (concert_id)
 WHERE c.concert_id = :wc;
SELECT status FROM ticket.hold(:wc, 'late', ARRAY[1]);

-- A sold-out waiting room: every user still in line is told sold_out, and
-- the dashboard counts nobody as waiting (issue 15: it showed "waiting 2").
SELECT ticket.create_concert('Sold Out Queue', '2100-06-01 20:00+00', '2000-01-01 00:00+00', queue => true) AS so \gset
SELECT ticket.add_section(:so, 'Floor', 'A', 10, 1, 1);
SELECT ticket.open_sale(:so);
SELECT state FROM ticket.join_queue(:so, 'w1');
SELECT state FROM ticket.join_queue(:so, 'w2');
SELECT waiting FROM ticket.dashboard WHERE concert_id = :so;
UPDATE ticket.seat SET state = 'sold' WHERE concert_id = :so;
SELECT ticket.admit(:so) AS admitted;
SELECT state FROM ticket.queue_status(:so, 'w1');
SELECT waiting FROM ticket.dashboard WHERE concert_id = :so;
UPDATE ticket.seat SET state = 'available' WHERE concert_id = :so;
