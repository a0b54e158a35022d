-- Rate limits: token buckets per user and per client key, answered with the
-- status rate_limited; the settings only a superuser may change.
\i test/regress_setup.sql

SELECT name, boot_val AS default, context FROM pg_settings WHERE name LIKE 'ticket.%' ORDER BY name;

SELECT ticket.create_concert('Limits', '2100-06-01 20:00+00', '2000-01-01 00:00+00',
	per_user_limit => 10) AS cid \gset
SELECT ticket.add_standing(:cid, 'Pit', 'GA', 10, 100);
SELECT ticket.open_sale(:cid);

-- A user may make user_burst requests at once, then user_rate per second.
SET ticket.user_burst = 3;
SET ticket.user_rate = 0.001;
SELECT g AS call, (ticket.hold(:cid, 'eager', ARRAY[g])).status FROM generate_series(1, 5) AS g;
-- Every request counts, whatever it asks for, and hold_best too.
SELECT status FROM ticket.hold_best(:cid, 'eager', 1, 1);
-- Another user has a bucket of their own.
SELECT status FROM ticket.hold(:cid, 'patient', ARRAY[10]);
SELECT count(*) AS eager_holds FROM ticket.hold WHERE user_id = 'eager';
-- A higher rate refills the bucket by the time that has passed.
SET ticket.user_rate = 1000000;
SELECT status FROM ticket.hold(:cid, 'eager', ARRAY[20]);
-- 0 turns the limit off.
SET ticket.user_rate = 0;
SELECT count(*) FILTER (WHERE (ticket.hold(:cid, 'eager', ARRAY[g])).status = 'rate_limited') AS limited
  FROM generate_series(30, 40) AS g;
RESET ticket.user_rate;
RESET ticket.user_burst;

-- Bad input costs no token (issue 15): three refused calls, then the three
-- tokens of the burst are all still there.
SET ticket.user_burst = 3;
SET ticket.user_rate = 0.001;
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, 'careful', ARRAY[0])$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, 'careful', ARRAY[1000])$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold_best(%s, 'careful', 1, 11)$$, :cid));
SELECT g AS call, (ticket.hold(:cid, 'careful', ARRAY[60 + g])).status FROM generate_series(1, 4) AS g;
RESET ticket.user_rate;
RESET ticket.user_burst;

-- A client key (an address the application passes) is limited across users.
SET ticket.user_rate = 0;
SET ticket.client_burst = 2;
SET ticket.client_rate = 0.001;
SELECT u AS user_id, (ticket.hold(:cid, u, ARRAY[n], client_key => '203.0.113.7')).status
  FROM (VALUES ('a', 50), ('b', 51), ('c', 52)) AS v(u, n);
SELECT status FROM ticket.hold(:cid, 'c', ARRAY[52], client_key => '198.51.100.1');
SELECT status FROM ticket.hold_best(:cid, 'd', 1, 1, client_key => '203.0.113.7');
RESET ticket.client_rate;
RESET ticket.client_burst;
RESET ticket.user_rate;

-- Bad client keys.
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, 'u', ARRAY[1], client_key => '')$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, 'u', ARRAY[1], client_key => repeat('k', 256))$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold_best(%s, 'u', 1, 1, client_key => '  ')$$, :cid));

-- Only a superuser changes the limits.
SET ROLE ticket_customer;
SELECT pg_temp.err($$SET ticket.user_rate = 0$$);
SELECT pg_temp.err($$SET ticket.client_burst = 1000000$$);
RESET ROLE;
SET ROLE ticket_admin;
SELECT pg_temp.err($$SET ticket.user_burst = 1000$$);
RESET ROLE;
-- Nor may an adapter change the order claim_payments hands jobs out in.
SET ROLE ticket_adapter;
SELECT pg_temp.err($$SET ticket.payment_lifo_at = 0$$);
RESET ROLE;

-- Every customer entry point draws on the same user bucket (issue 17): a
-- call costs a token, a poll (queue_status, order_status) a tenth.  With
-- a burst of 2, a user who has spent it gets rate_limited from checkout,
-- order_status, cancel_order and release, nothing written, and 53400 from
-- the lists, which have no status to say it in.
SELECT ticket.create_concert('Limited Room', '2100-06-01 20:00+00', '2000-01-01 00:00+00', queue => true,
	cancellable => true) AS lq \gset
SELECT ticket.add_standing(:lq, 'Pit', 'GA', 10, 10) IS NOT NULL AS pit;
SELECT state FROM ticket.join_queue(:lq, 'poller');
SELECT ticket.open_sale(:lq);
SELECT hold_id AS lh FROM ticket.hold(:cid, 'spender', ARRAY[80]) \gset
SELECT order_id AS lo FROM ticket.checkout((ticket.hold(:cid, 'spender', ARRAY[81])).hold_id, 'spender', 'lk') \gset
SET ticket.user_burst = 2;
SET ticket.user_rate = 0.001;
SELECT g AS call, (ticket.hold(:cid, 'spender', ARRAY[81 + g])).status FROM generate_series(1, 2) AS g;
SELECT status FROM ticket.checkout(:lh, 'spender', 'lk2');
SELECT status FROM ticket.order_status(:lo, 'spender');
SELECT status, order_state FROM ticket.cancel_order(:lo, 'spender', 'lc');
SELECT ticket.release(:lh, 'spender') AS release;
SELECT pg_temp.err($$SELECT count(*) FROM ticket.my_orders('spender')$$) AS my_orders;
SELECT pg_temp.err($$SELECT count(*) FROM ticket.my_holds('spender')$$) AS my_holds;
-- Nothing was written: one key (the first checkout's), the hold still active.
SELECT count(*) AS keys_kept FROM ticket.idempotency WHERE user_id = 'spender';
SELECT state FROM ticket.hold WHERE hold_id = :lh;
-- Polls: 20 of them spend the burst of 2, the 21st is refused.
SELECT s.state, count(*) FROM (SELECT (ticket.queue_status(:lq, 'poller')).state FROM generate_series(1, 21)) AS s
 GROUP BY s.state ORDER BY s.state = 'rate_limited';
RESET ticket.user_rate;
RESET ticket.user_burst;

SELECT counter, value > 0 AS seen FROM ticket.counters() WHERE counter IN ('holds_rate_limited', 'calls_rate_limited') ORDER BY counter;
SELECT count(*) AS violations FROM ticket.verify();
