-- Checkout: a live hold becomes an order and a payment job; idempotency keys;
-- every refusal and bad input, with nothing written.
\i test/regress_setup.sql

-- Orders, payments, keys and holds in checkout: bad input must leave these unchanged.
CREATE FUNCTION pg_temp.footprint() RETURNS text LANGUAGE sql AS $$
	SELECT format('orders=%s payments=%s keys=%s checking_out=%s events=%s',
		(SELECT count(*) FROM ticket.orders),
		(SELECT count(*) FROM ticket.payment),
		(SELECT count(*) FROM ticket.idempotency),
		(SELECT count(*) FROM ticket.hold WHERE state = 'checking_out'),
		(SELECT count(*) FROM ticket.event))
$$;
CREATE FUNCTION pg_temp.expire(h bigint) RETURNS void LANGUAGE sql AS $$
	UPDATE ticket.hold SET expires_at = now() - interval '1 second' WHERE hold_id = h;
	UPDATE ticket.seat SET held_until = now() - interval '1 second' WHERE hold_id = h;
$$;

-- Floor: 2 rows x 5 seats at 100 (ids 1-10); Pit: 10 places at 40 (ids 11-20).
SELECT ticket.create_concert('Checkout Night', '2100-06-01 20:00+00', '2000-01-01 00:00+00',
	per_user_limit => 4, payment_timeout => '5 minutes') AS cid \gset
SELECT ticket.add_section(:cid, 'Floor', 'A', 100, 2, 5) AS floor \gset
SELECT ticket.add_standing(:cid, 'Pit', 'GA', 40, 10) AS pit \gset
SELECT ticket.open_sale(:cid);

SELECT hold_id AS h1 FROM ticket.hold(:cid, 'alice', ARRAY[1, 2, 11]) \gset

-- Checkout: an order for the seats' prices, one charge job due now, and the
-- seats kept until pay_by (the hold's new expiry) instead of hold_ttl.
SELECT order_id IS NOT NULL AS has_order, payment_id IS NOT NULL AS has_payment, status, amount,
	   pay_by - now() AS pays_within
  FROM ticket.checkout(:h1, 'alice', 'key-1');
SELECT order_id AS o1, payment_id AS p1 FROM ticket.orders JOIN ticket.payment USING (order_id) WHERE hold_id = :h1 \gset
SELECT user_id, seat_ids, amount, state, pay_by - created_at AS pays_within FROM ticket.orders;
SELECT kind, amount, state, attempts, max_attempts, next_attempt_at <= now() AS due, lease_owner FROM ticket.payment;
SELECT state, expires_at = (SELECT pay_by FROM ticket.orders WHERE hold_id = :h1) AS until_pay_by
  FROM ticket.hold WHERE hold_id = :h1;
SELECT seat_id, state, held_until = (SELECT pay_by FROM ticket.orders WHERE hold_id = :h1) AS until_pay_by
  FROM ticket.seat WHERE hold_id = :h1 ORDER BY seat_id;
SELECT user_id, idempotency_key, request, status, order_id = :o1 AS same_order FROM ticket.idempotency;
SELECT kind, subject_id = :o1 AS this_order, user_id, detail->>'amount' AS amount FROM ticket.event WHERE kind = 'order_created';

-- The same key and request: the same order, nothing new.
SELECT pg_temp.footprint() AS before \gset
SELECT order_id = :o1 AS same_order, payment_id = :p1 AS same_payment, status, amount
  FROM ticket.checkout(:h1, 'alice', 'key-1');
SELECT pg_temp.footprint() = :'before' AS nothing_written;

-- The same key for another request: 22023, nothing written.
SELECT hold_id AS h2 FROM ticket.hold(:cid, 'alice', ARRAY[3]) \gset
SELECT pg_temp.footprint() AS before \gset
SELECT pg_temp.err(format($$SELECT ticket.checkout(%s, 'alice', 'key-1')$$, :h2));
SELECT pg_temp.footprint() = :'before' AS nothing_written;
-- Keys are per user: bob may use key-1 for his own hold.
SELECT hold_id AS hb FROM ticket.hold(:cid, 'bob', ARRAY[4]) \gset
SELECT status, amount FROM ticket.checkout(:hb, 'bob', 'key-1');
SELECT pg_temp.footprint() AS before \gset

-- Paying twice: the hold is already checked out (another key): 55000.
SELECT pg_temp.err(format($$SELECT ticket.checkout(%s, 'alice', 'key-2')$$, :h1));
-- Someone else's hold: 42501.  An unknown hold: P0002.
SELECT pg_temp.err(format($$SELECT ticket.checkout(%s, 'bob', 'key-3')$$, :h2));
SELECT pg_temp.err($$SELECT ticket.checkout(999999, 'alice', 'key-3')$$);
-- Bad input: NULLs (22004), blank (22023), over-long (22001).
SELECT pg_temp.err($$SELECT ticket.checkout(NULL, 'alice', 'key-3')$$);
SELECT pg_temp.err(format($$SELECT ticket.checkout(%s, NULL, 'key-3')$$, :h2));
SELECT pg_temp.err(format($$SELECT ticket.checkout(%s, 'alice', NULL)$$, :h2));
SELECT pg_temp.err(format($$SELECT ticket.checkout(%s, 'alice', '  ')$$, :h2));
SELECT pg_temp.err(format($$SELECT ticket.checkout(%s, 'alice', repeat('k', 256))$$, :h2));
SELECT pg_temp.err(format($$SELECT ticket.checkout(%s, repeat('u', 129), 'key-3')$$, :h2));
SELECT pg_temp.footprint() = :'before' AS nothing_written;
-- A key of 255 characters is fine.
SELECT status FROM ticket.checkout(:h2, 'alice', repeat('k', 255));

-- An expired hold: status expired, no order; the key remembers the outcome.
SELECT hold_id AS h3 FROM ticket.hold(:cid, 'carol', ARRAY[5]) \gset
SELECT pg_temp.expire(:h3);
SELECT order_id, payment_id, status FROM ticket.checkout(:h3, 'carol', 'key-c');
SELECT order_id, payment_id, status FROM ticket.checkout(:h3, 'carol', 'key-c');
SELECT count(*) AS carol_orders FROM ticket.orders WHERE user_id = 'carol';
-- A released hold: status released.
SELECT hold_id AS h4 FROM ticket.hold(:cid, 'carol', ARRAY[6]) \gset
SELECT ticket.release(:h4, 'carol');
SELECT status FROM ticket.checkout(:h4, 'carol', 'key-d');
-- A hold in checkout cannot be released: compensation undoes it.
SELECT pg_temp.err(format($$SELECT ticket.release(%s, 'alice')$$, :h1));

-- The seats of a checkout are not free to others until pay_by ...
SELECT status FROM ticket.hold(:cid, 'dave', ARRAY[1]);
-- ... and count against the buyer's limit (alice: 3 in order 1, 1 in order 2).
SELECT status FROM ticket.hold(:cid, 'alice', ARRAY[7]);
-- Past pay_by with the worker off, they are free again: correctness never waits for the worker.
UPDATE ticket.orders SET pay_by = now() - interval '1 second' WHERE order_id = :o1;
UPDATE ticket.hold SET expires_at = now() - interval '1 second' WHERE hold_id = :h1;
UPDATE ticket.seat SET held_until = now() - interval '1 second' WHERE hold_id = :h1;
SELECT status, seat_ids FROM ticket.hold(:cid, 'dave', ARRAY[1]);

-- order_status: the buyer's view of an order; someone else's is 42501.
SELECT status, amount FROM ticket.order_status(:o1, 'alice');
SELECT pg_temp.err(format($$SELECT ticket.order_status(%s, 'bob')$$, :o1));
SELECT pg_temp.err($$SELECT ticket.order_status(999999, 'bob')$$);
SELECT pg_temp.err($$SELECT ticket.order_status(NULL, 'bob')$$);

-- The checkout writes its charge without the charge's foreign-key checks
-- (it inserted the order itself a moment before): the charge names its
-- order, and the keys still hold for every other writer (23503).
SELECT count(*) AS charges_of_order FROM ticket.payment p JOIN ticket.orders o USING (order_id)
 WHERE o.order_id = :o1 AND p.kind = 'charge' AND p.amount = o.amount;
SELECT pg_temp.err($$INSERT INTO ticket.payment (order_id, kind, amount, max_attempts, next_attempt_at)
 VALUES (999999, 'charge', 1, 1, now())$$);
SELECT pg_temp.err($$INSERT INTO ticket.payment (order_id, kind, amount, max_attempts, next_attempt_at, cancellation_id)
 SELECT order_id, 'charge', 1, 1, now(), 999999 FROM ticket.orders LIMIT 1$$);

-- A cancelled concert: closed.
SELECT ticket.create_concert('Called Off', '2100-06-01 20:00+00', '2000-01-01 00:00+00') AS xid \gset
SELECT ticket.add_section(:xid, 'Floor', 'A', 10, 1, 5);
SELECT ticket.open_sale(:xid);
SELECT hold_id AS hx FROM ticket.hold(:xid, 'erin', ARRAY[1]) \gset
SELECT ticket.cancel_concert(:xid);
SELECT status FROM ticket.checkout(:hx, 'erin', 'key-x');

-- Keys older than ticket.idempotency_ttl (24 hours) are purged; younger ones stay.
UPDATE ticket.idempotency SET created_at = now() - interval '25 hours' WHERE user_id = 'bob';
SELECT ticket.maintenance('purge');
SELECT user_id, count(*) FROM ticket.idempotency GROUP BY 1 ORDER BY 1;

-- Paid, unpaid, expired: the invariants hold (dave's hold took seat 1 from the lapsed checkout).
SELECT * FROM ticket.verify(:cid);
