-- The box office without editing a table: re-drive dead-lettered refunds,
-- sales reports by section and by hour, and a user's history for support.
\i test/regress_setup.sql

SELECT ticket.create_concert('Night', now() + interval '30 days', now() - interval '1 day',
	per_user_limit => 6, payment_attempts => 1, cancellable => true, cancel_fee_percent => 10) AS c \gset
SELECT ticket.add_section(:c, 'Floor', 'A', 100, 1, 10) AS floor, ticket.add_standing(:c, 'Pit', 'GA', 40, 10) AS pit \gset
SELECT ticket.open_sale(:c);
CREATE FUNCTION pg_temp.bought(c bigint, u text, seats int[]) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	o bigint;
BEGIN
	SELECT order_id INTO o FROM ticket.checkout((ticket.hold(c, u, seats)).hold_id, u, u || '-pay');
	PERFORM ticket.payment_succeeded(j.payment_id, 'ch-' || o) FROM ticket.claim_payments('psp', 100) AS j WHERE j.order_id = o;
	RETURN o;
END
$$;
SELECT pg_temp.bought(:c, 'ann', ARRAY[1, 2, 11]) AS ann_order,
	   pg_temp.bought(:c, 'bob', ARRAY[3]) AS bob_order,
	   pg_temp.bought(:c, 'cy', ARRAY[12, 13]) AS cy_order \gset
-- ann gives back one Floor seat: 100.00, fee 10.00, refund 90.00.
SELECT status, refund, refund_payment_id AS r1 FROM ticket.cancel_order(:ann_order, 'ann', 'ann-c', ARRAY[2]) \gset
-- Its refund fails for good (one attempt): dead-lettered.
SELECT payment_id FROM ticket.claim_payments('psp', 10) WHERE payment_id = :r1;
SELECT ticket.payment_failed(:r1, 'card expired', false);
SELECT state, dead_at IS NOT NULL AS dead FROM ticket.payment WHERE payment_id = :r1;

-- Re-driven: due again with a fresh attempt, the same provider key; then paid.
SET ROLE ticket_admin;
SELECT ticket.retry_dead(:r1);
SELECT ticket.retry_dead(:r1) AS again;
RESET ROLE;
SELECT state, dead_at, attempts, max_attempts, last_error FROM ticket.payment WHERE payment_id = :r1;
SELECT kind, amount, provider_key FROM ticket.claim_payments('psp', 10) WHERE payment_id = :r1;
SELECT ticket.payment_succeeded(:r1, 're-1');
-- A whole concert's dead refunds at once: bob's order is undone, its refund dies.
CALL ticket.compensate(:bob_order, 'box office');
SELECT ticket.payment_failed(payment_id, 'provider down', false) FROM ticket.claim_payments('psp', 10);
SET ROLE ticket_admin;
SELECT ticket.retry_dead_refunds(:c) AS redriven;
SELECT ticket.retry_dead_refunds(:c) AS nothing_left;
RESET ROLE;
SELECT ticket.payment_succeeded(payment_id, 're-' || payment_id) FROM ticket.claim_payments('psp', 10);
SELECT count(*) AS violations FROM ticket.verify();

-- Sales by section and by hour (summed: the test may run across an hour).
SET ROLE ticket_admin;
SELECT section_id, name, price, capacity, sold, orders, revenue, given_back, refunds, fees
  FROM ticket.sales_by_section(:c);
SELECT count(*) BETWEEN 1 AND 2 AS hours, sum(orders) AS orders, sum(seats) AS seats, sum(revenue) AS revenue,
	   sum(refunds) AS refunds, sum(fees) AS fees, bool_and("hour" = date_trunc('hour', "hour")) AS on_the_hour
  FROM ticket.sales_by_hour(:c);
-- What support sees of ann, in time order.
SELECT what, concert_id = :c AS this_concert, detail FROM ticket.user_history('ann');
SELECT count(*) AS cys_rows FROM ticket.user_history('cy', max_rows => 2);
RESET ROLE;
