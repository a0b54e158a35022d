-- One run of `bench/run overload`, concert :concert, measured after the
-- adapter has settled: t0 and t1 are the database's clock at the start and
-- the end of the load.  Prints one line:
-- orders paid_in_window timed_out called_off_unclaimed paid_total p50_s p95_s
SELECT count(*),
	   count(*) FILTER (WHERE o.paid_at >= :'t0' AND o.paid_at <= :'t1'),
	   count(*) FILTER (WHERE EXISTS (SELECT FROM ticket.saga AS s
									   WHERE s.order_id = o.order_id AND s.reason = 'payment timed out')),
	   count(*) FILTER (WHERE EXISTS (SELECT FROM ticket.payment AS p
									   WHERE p.order_id = o.order_id AND p.kind = 'charge'
										 AND p.state = 'failed' AND p.attempts = 0)),
	   count(*) FILTER (WHERE o.state = 'paid'),
	   coalesce(round(extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY o.paid_at - o.created_at))::numeric, 2), 0),
	   coalesce(round(extract(epoch FROM percentile_cont(0.95) WITHIN GROUP (ORDER BY o.paid_at - o.created_at))::numeric, 2), 0)
  FROM ticket.orders AS o
 WHERE o.concert_id = :concert;
