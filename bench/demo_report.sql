-- bench/demo_report.sql: the final report of `make demo` (bench/demo).
\set ON_ERROR_STOP 1
\pset footer off

\echo
\echo '== the dashboard at the end (SELECT * FROM ticket.dashboard, what an operator watches with \\watch 1)'
\x on
SELECT * FROM ticket.dashboard WHERE concert_id = 1;
\x off

\echo '== the sale'
SELECT to_char(k.opened_at, 'HH24:MI:SS') AS opened,
	   /* Only a concert that is sold out has a sell-out time. */
	   CASE WHEN s.sold >= k.seat_count THEN to_char(o.last_sale, 'HH24:MI:SS') ELSE 'not sold out' END AS sold_out,
	   CASE WHEN s.sold >= k.seat_count THEN round(extract(epoch FROM o.last_sale - k.opened_at)::numeric, 1) END
		   AS seconds_to_sell_out,
	   s.sold AS seats_sold,
	   k.seat_count AS seats,
	   q.admitted AS fans_admitted,
	   h.holds, h.confirmed AS holds_bought, h.abandoned AS holds_expired, h.released AS holds_released,
	   o.paid AS orders_paid,
	   round(o.seats::numeric / o.paid, 2) AS seats_per_order
  FROM ticket.concert AS k, ticket.queue AS q, ticket.concerts AS s,
	   (SELECT count(*) AS holds, count(*) FILTER (WHERE state = 'confirmed') AS confirmed,
			   count(*) FILTER (WHERE state = 'expired') AS abandoned,
			   count(*) FILTER (WHERE state = 'released') AS released
		  FROM ticket.hold WHERE concert_id = 1) AS h,
	   (SELECT max(paid_at) AS last_sale, count(*) FILTER (WHERE state = 'paid') AS paid,
			   sum(cardinality(seat_ids)) FILTER (WHERE state = 'paid') AS seats
		  FROM ticket.orders WHERE concert_id = 1) AS o
 WHERE k.concert_id = 1 AND q.concert_id = 1 AND s.concert_id = 1;

\echo '== throughput over the sale (per second, from opening to the last sale)'
SELECT round(h.n / d.s, 1) AS holds_per_s,
	   round(c.n / d.s, 1) AS checkouts_per_s,
	   round(p.n / d.s, 1) AS payment_reports_per_s,
	   round(o.n / d.s, 1) AS seats_sold_per_s,
	   round(a.n / d.s, 1) AS admitted_per_s
  FROM (SELECT extract(epoch FROM max(x.paid_at) - min(k.opened_at))::numeric AS s
		  FROM ticket.orders AS x, ticket.concert AS k WHERE k.concert_id = 1 AND x.concert_id = 1) AS d,
	   (SELECT count(*) AS n FROM ticket.hold WHERE concert_id = 1) AS h,
	   (SELECT count(*) AS n FROM ticket.orders WHERE concert_id = 1) AS c,
	   (SELECT sum(attempts) AS n FROM ticket.payment) AS p,
	   (SELECT sum(cardinality(seat_ids)) AS n FROM ticket.orders WHERE concert_id = 1 AND state = 'paid') AS o,
	   (SELECT admitted AS n FROM ticket.queue WHERE concert_id = 1) AS a;

\echo '== latency (ms): hold/checkout = inside the call; +commit = from the call to the client''s next request'
SELECT op || CASE WHEN op = 'hold' AND status = 'held' THEN ' (held)' WHEN op = 'hold' THEN ' (not held)' ELSE '' END AS op,
	   count(*) AS calls,
	   round(percentile_cont(0.50) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS p50,
	   round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS p95,
	   round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS p99,
	   round(max(ms)::numeric, 2) AS max
  FROM demo.sample GROUP BY 1 ORDER BY 1;

\echo '== what the buyers were told (every hold call)'
SELECT status, count(*) AS calls, round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS pct
  FROM demo.sample WHERE op = 'hold' GROUP BY status ORDER BY count(*) DESC;

\echo '== payments, retries, compensations and refunds'
SELECT count(*) FILTER (WHERE kind = 'charge') AS charges,
	   count(*) FILTER (WHERE kind = 'charge' AND state IN ('succeeded', 'refunded')) AS captured,
	   count(*) FILTER (WHERE kind = 'charge' AND attempts > 1) AS retried,
	   /* a charge called off before any adapter claimed it has 0 attempts */
	   coalesce(sum(greatest(attempts - 1, 0)) FILTER (WHERE kind = 'charge'), 0) AS retries,
	   count(*) FILTER (WHERE kind = 'charge' AND attempts = 0) AS never_claimed,
	   count(*) FILTER (WHERE dead_at IS NOT NULL) AS dead_lettered,
	   count(*) FILTER (WHERE kind = 'refund') AS refunds,
	   count(*) FILTER (WHERE kind = 'refund' AND state = 'succeeded') AS refunds_paid
  FROM ticket.payment;
SELECT g.reason, g.state, count(*) AS sagas, count(*) FILTER (WHERE s.step = 'release_seats') AS seats_released_steps
  FROM ticket.saga AS g LEFT JOIN ticket.saga_step AS s ON s.saga_id = g.saga_id AND s.step = 'release_seats'
 GROUP BY 1, 2 ORDER BY 1, 2;

\echo '== flow control: orders that timed out waiting for a payment (goal: under 2 %)'
SELECT count(*) AS orders,
	   count(*) FILTER (WHERE g.reason = 'payment timed out') AS timed_out,
	   round(100.0 * count(*) FILTER (WHERE g.reason = 'payment timed out') / greatest(count(*), 1), 2) AS timed_out_pct,
	   count(*) FILTER (WHERE p.attempts = 0 AND g.reason = 'payment timed out') AS called_off_before_a_claim
  FROM ticket.orders AS o
  LEFT JOIN ticket.saga AS g ON g.order_id = o.order_id
  LEFT JOIN ticket.payment AS p ON p.order_id = o.order_id AND p.kind = 'charge'
 WHERE o.concert_id = 1;

\echo '== money: what was captured, kept and given back'
SELECT (SELECT coalesce(sum(amount), 0) FROM ticket.orders WHERE state = 'paid') AS revenue_paid_orders,
	   (SELECT coalesce(sum(s.price), 0) FROM ticket.seat AS t JOIN ticket.section AS s
		   ON s.concert_id = t.concert_id AND t.seat_id BETWEEN s.first_seat_id AND s.first_seat_id + s.capacity - 1
		 WHERE t.concert_id = 1 AND t.state = 'sold') AS price_of_sold_seats,
	   (SELECT coalesce(sum(amount), 0) FROM ticket.payment WHERE kind = 'charge' AND state IN ('succeeded', 'refunded')) AS captured,
	   (SELECT coalesce(sum(amount), 0) FROM ticket.payment WHERE kind = 'refund' AND state = 'succeeded') AS refunded,
	   (SELECT coalesce(sum(amount), 0) FROM ticket.payment WHERE kind = 'refund' AND state = 'processing') AS refunds_in_flight,
	   (SELECT coalesce(sum(amount), 0) FROM ticket.payment WHERE kind = 'refund' AND state = 'failed') AS refunds_dead_lettered;
\echo '(captured = revenue + refunded + refunds in flight + refunds dead-lettered, which wait for an operator)'

\echo '== ticket.verify(): one row per violated invariant (none expected)'
SELECT * FROM ticket.verify();
