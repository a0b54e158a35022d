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

SELECT counter, value > 0 AS seen FROM ticket.counters() WHERE counter = 'holds_rate_limited';
SELECT count(*) AS violations FROM ticket.verify();
