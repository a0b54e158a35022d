-- The buyer's side with nothing but ticket_customer: browse what is on
-- sale (ticket.browse_concerts, browse_sections, browse_seats), hold and
-- check out with seats labelled and priced, read back one's own holds and
-- orders (ticket.my_holds, my_orders), and cancel (ticket.cancel_order).
\i test/regress_setup.sql

SELECT ticket.create_concert('Stadium', now() + interval '30 days', now() - interval '1 day',
	venue => 'Riverside', per_user_limit => 6) AS cid \gset
SELECT ticket.add_section(:cid, 'Floor A', 'A', 180.00, 3, 4) AS floor,
	   ticket.add_standing(:cid, 'Pit', 'GA', 95.50, 10) AS pit \gset
SELECT ticket.create_concert('Later', now() + interval '60 days', now() + interval '10 days',
	queue => true) AS later \gset
SELECT ticket.add_section(:later, 'Balcony', 'B', 60.00, 1, 5) AS balcony \gset
SELECT ticket.create_concert('Secret', now() + interval '60 days', now() + interval '10 days') AS secret \gset
SELECT ticket.add_section(:secret, 'Floor', 'A', 10.00, 1, 5) IS NOT NULL AS secret_seats;
-- Counted on every call, so that each read below shows the seats as they are.
SET ticket.catalogue_refresh = 0;

-- Drafts are not listed until announced; the Stadium's sale opens.
SET ROLE ticket_customer;
SELECT count(*) AS listed_before FROM ticket.browse_concerts();
RESET ROLE;
SELECT ticket.update_concert(:later, announce_at => now() - interval '1 minute');
SELECT ticket.open_sale(:cid);
SET ROLE ticket_customer;
SELECT title, venue, state, min_price, max_price, waiting_room, available,
	   starts_at > now() AS upcoming, sale_opens_at IS NOT NULL AS has_opening
  FROM ticket.browse_concerts();
SELECT section_id, name, grade, price, seated, seat_rows, seats_per_row, capacity, available,
	   counted_at <= clock_timestamp() AS counted
  FROM ticket.browse_sections(:cid);
SELECT seat_id, row_no, seat_no, label, price, free FROM ticket.browse_seats(:cid, :floor) WHERE seat_id <= 5;
SELECT seat_id, row_no, seat_no, label, price, free FROM ticket.browse_seats(:cid, :pit) LIMIT 2;
SELECT count(*) AS seats_of_the_later_concert FROM ticket.browse_seats(:later, :balcony);
-- What a buyer sees of a seat never says who holds it.
SELECT pg_get_function_result('ticket.browse_seats(bigint, integer, boolean)'::regprocedure) AS browse_seats_columns;

-- A hold carries each seat's label and price, and the total.
SELECT hold_id AS h1, status, total, json_array_length(seats) AS n,
	   seats->0->>'label' AS first_label, seats->0->>'price' AS first_price,
	   seats->1->>'section' AS section, seats->1->>'row' AS row_no, seats->1->>'seat' AS seat_no
  FROM ticket.hold(:cid, 'ann', ARRAY[2, 1], 'ann-1') \gset
SELECT :h1 > 0 AS held, :'status' AS status, :total AS total, :n AS seats, :'first_label' AS first_label,
	   :'first_price' AS first_price, :'section' AS section, :'row_no' AS row_no, :'seat_no' AS seat_no;
SELECT (h).status, (h).total, (h).seats::text = (SELECT seats::text FROM ticket.hold(:cid, 'ann', ARRAY[2, 1], 'ann-1')) AS replay_same_seats
  FROM ticket.hold(:cid, 'ann', ARRAY[2, 1], 'ann-1') AS h;
-- Standing places are labelled by place, with a null row.
SELECT status, total, json_array_length(seats) AS n, seats->0->>'row' IS NULL AS no_row,
	   (seats->0->>'label') LIKE 'Pit, place %' AS place_label, seats->0->>'price' AS price
  FROM ticket.hold_best(:cid, 'ann', :pit, 2);
SELECT status, total, seats FROM ticket.hold(:cid, 'bob', ARRAY[3]);
-- Nothing is held: no total, no seats.
SELECT status, total, seats FROM ticket.hold(:cid, 'cy', ARRAY[3]);

-- The catalogue counts by the holds' own rule: 3 of Floor A held, 2 of the Pit.
SELECT section_id, capacity, available FROM ticket.browse_sections(:cid);
SELECT count(*) FILTER (WHERE free) AS free, count(*) FILTER (WHERE NOT free) AS taken,
	   (SELECT count(*) FROM ticket.browse_seats(:cid, :floor, only_free => true)) AS only_free
  FROM ticket.browse_seats(:cid, :floor);

-- Checkout and order_status carry the same seats.
SELECT order_id AS o1, status, amount, seats->1->>'label' AS second_label
  FROM ticket.checkout(:h1, 'ann', 'ann-pay') \gset
SELECT :'status' AS status, :amount AS amount, :'second_label' AS second_label;
SELECT status, amount, json_array_length(seats) AS n,
	   seats::text = (SELECT seats::text FROM ticket.checkout(:h1, 'ann', 'ann-pay')) AS replay_same_seats
  FROM ticket.order_status(:o1, 'ann');
RESET ROLE;

-- A shared count is served until it is older than ticket.catalogue_refresh.
SET ticket.catalogue_refresh = '1min';
SELECT available AS cached FROM ticket.browse_sections(:cid) WHERE section_id = :floor;
SELECT status FROM ticket.hold(:cid, 'dee', ARRAY[4]);
SELECT available AS still_cached, counted_at < clock_timestamp() AS counted_before
  FROM ticket.browse_sections(:cid) WHERE section_id = :floor;
SET ticket.catalogue_refresh = 0;
SELECT available AS recounted FROM ticket.browse_sections(:cid) WHERE section_id = :floor;
-- A hold past its expiry frees its seats in the counts at once, as for a hold.
UPDATE ticket.seat SET held_until = now() - interval '1 second' WHERE concert_id = :cid AND seat_id = 4;
UPDATE ticket.hold SET expires_at = now() - interval '1 second' WHERE concert_id = :cid AND user_id = 'dee';
SELECT available AS after_expiry FROM ticket.browse_sections(:cid) WHERE section_id = :floor;

-- A payment, then ann's lists: newest first, her rows only.
SELECT payment_id AS p1 FROM ticket.claim_payments('psp', 10) WHERE order_id = :o1 \gset
SELECT ticket.payment_succeeded(:p1, 'ch_1');
SET ROLE ticket_customer;
SELECT hold_id = :h1 AS is_h1, title, state, total, json_array_length(seats) AS n, order_id = :o1 AS has_order
  FROM ticket.my_holds('ann');
SELECT title, state, amount, seats->0->>'label' AS first_label, paid_at IS NOT NULL AS paid,
	   cancelled_at, refund_state, refunded
  FROM ticket.my_orders('ann');
-- dee's expired hold says expired; bob sees only his own.
SELECT state, total FROM ticket.my_holds('dee');
SELECT count(*) AS bobs_holds, bool_and(seats->0->>'seat_id' = '3') AS his_seat FROM ticket.my_holds('bob');
SELECT count(*) AS bobs_orders FROM ticket.my_orders('bob');
-- Pages: one row at a time, the next before the last one seen.
SELECT hold_id AS newest FROM ticket.my_holds('ann', max_rows => 1) \gset
SELECT count(*) AS next_page, bool_and(hold_id < :newest) AS older
  FROM ticket.my_holds('ann', before_hold_id => :newest, max_rows => 1);
SELECT count(*) AS of_the_later_concert FROM ticket.my_holds('ann', :later);
RESET ROLE;

-- The order is undone and refunded: my_orders follows the refund.
CALL ticket.compensate(:o1, 'buyer asked');
SET ROLE ticket_customer;
SELECT state, cancel_reason, refund_state, refunded FROM ticket.my_orders('ann');
RESET ROLE;
SELECT payment_id AS r1 FROM ticket.claim_payments('psp', 10) WHERE kind = 'refund' \gset
SELECT ticket.payment_succeeded(:r1, 're_1');
SET ROLE ticket_customer;
SELECT state, refund_state, refunded, cancelled_at IS NOT NULL AS cancelled FROM ticket.my_orders('ann');
-- The seats are back on sale.
SELECT available FROM ticket.browse_sections(:cid) WHERE section_id = :floor;
RESET ROLE;
SELECT count(*) AS violations FROM ticket.verify();

-- Cancelling: a concert that takes cancellations until 48 hours before it
-- starts, keeping 10 % plus 1.00 of the price of the seats given back.
SELECT ticket.create_concert('Refundable', now() + interval '30 days', now() - interval '1 day',
	per_user_limit => 6, cancellable => true, cancel_fee_percent => 10, cancel_fee_fixed => 1) AS rc \gset
SELECT ticket.add_section(:rc, 'Stalls', 'A', 50.00, 2, 5) AS stalls \gset
SELECT ticket.open_sale(:rc);
CREATE FUNCTION pg_temp.bought(c bigint, u text, seats int[]) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	o bigint;
BEGIN
	SELECT order_id INTO o FROM ticket.checkout((ticket.hold(c, u, seats)).hold_id, u, u || '-pay');
	PERFORM ticket.payment_succeeded(j.payment_id, 'ch-' || o) FROM ticket.claim_payments('psp', 100) AS j WHERE j.order_id = o;
	RETURN o;
END
$$;
SELECT pg_temp.bought(:rc, 'fay', ARRAY[1, 2, 3]) AS fo \gset
SET ROLE ticket_customer;
-- One seat of three: 50.00, fee 6.00, refund 44.00; the order keeps two.
SELECT status, order_state, seats->0->>'label' AS given_back, amount, fee, refund, refund_payment_id IS NOT NULL AS refund_job
  FROM ticket.cancel_order(:fo, 'fay', 'fay-c1', ARRAY[2]);
-- The same key again: the same answer, nothing more.
SELECT status, amount, fee, refund FROM ticket.cancel_order(:fo, 'fay', 'fay-c1', ARRAY[2]);
SELECT state, json_array_length(seats) AS kept, amount, refund_state, refunded, json_array_length(cancelled_seats) AS given_back, fees
  FROM ticket.my_orders('fay');
SELECT free FROM ticket.browse_seats(:rc, :stalls) WHERE seat_id = 2;
-- The rest: the order is cancelled; two refunds, of 44.00 and 89.00.
SELECT status, order_state, json_array_length(seats) AS given_back, amount, fee, refund
  FROM ticket.cancel_order(:fo, 'fay', 'fay-c2');
RESET ROLE;
SELECT amount, refund_ref FROM ticket.payment WHERE order_id = :fo AND kind = 'refund' ORDER BY payment_id;
SELECT count(*) AS violations FROM ticket.verify();
SELECT ticket.payment_succeeded(payment_id, 're-' || payment_id) FROM ticket.payment WHERE order_id = :fo AND kind = 'refund';
SET ROLE ticket_customer;
SELECT state, refund_state, refunded, fees, refunded + fees AS accounted FROM ticket.my_orders('fay');
SELECT count(*) FILTER (WHERE free) AS free_again FROM ticket.browse_seats(:rc, :stalls) WHERE seat_id <= 3;

-- Answers that are statuses: an order not paid, a concert that takes no
-- cancellations, past the deadline; an order being undone.
SELECT order_id AS go FROM ticket.checkout((ticket.hold(:rc, 'gus', ARRAY[4])).hold_id, 'gus', 'gus-pay') \gset
SELECT status, order_state FROM ticket.cancel_order(:go, 'gus', 'gus-c1');
RESET ROLE;
SELECT pg_temp.bought(:cid, 'hal', ARRAY[9]) AS ho \gset
SET ROLE ticket_customer;
SELECT status, order_state FROM ticket.cancel_order(:ho, 'hal', 'hal-c1');
RESET ROLE;
SELECT pg_temp.bought(:rc, 'ida', ARRAY[5, 6]) AS io \gset
SELECT ticket.update_concert(:rc, cancel_until => '40 days');
SET ROLE ticket_customer;
SELECT status, order_state FROM ticket.cancel_order(:io, 'ida', 'ida-c1');
RESET ROLE;
SELECT ticket.update_concert(:rc, cancel_until => '48 hours');
SELECT ticket.start_compensation(:io, 'box office') IS NOT NULL AS compensating;
SET ROLE ticket_customer;
SELECT status, order_state FROM ticket.cancel_order(:io, 'ida', 'ida-c2');
RESET ROLE;
CALL ticket.compensate(:io, 'box office');

-- A fee of the whole price refunds nothing, and keeps it.
SELECT ticket.update_concert(:rc, cancel_fee_fixed => 1000);
SELECT pg_temp.bought(:rc, 'jo', ARRAY[7]) AS jo \gset
SET ROLE ticket_customer;
SELECT status, order_state, amount, fee, refund, refund_payment_id FROM ticket.cancel_order(:jo, 'jo', 'jo-c1');
SELECT state, refund_state, refunded, fees FROM ticket.my_orders('jo');
RESET ROLE;
SELECT ticket.update_concert(:rc, cancel_fee_fixed => 1);

-- Some seats given back, then the concert is cancelled: the organiser
-- refunds the rest of the capture, the fee included.
SELECT pg_temp.bought(:rc, 'kim', ARRAY[8, 10]) AS ko \gset
SET ROLE ticket_customer;
SELECT status, refund FROM ticket.cancel_order(:ko, 'kim', 'kim-c1', ARRAY[10]);
RESET ROLE;
SELECT ticket.cancel_concert(:rc);
CALL ticket.compensate(:ko, 'concert cancelled');
SELECT amount, cancellation_id IS NOT NULL AS buyers FROM ticket.payment WHERE order_id = :ko AND kind = 'refund' ORDER BY payment_id;
SELECT count(*) AS violations FROM ticket.verify();

-- Seats given back return to a waiting room that had sold out.
SELECT ticket.create_concert('Tiny', now() + interval '30 days', now() - interval '1 day', queue => true,
	cancellable => true) AS tq \gset
SELECT ticket.add_standing(:tq, 'Pit', 'GA', 20, 2) IS NOT NULL AS pit;
SELECT state FROM ticket.join_queue(:tq, 'lea');
SELECT ticket.open_sale(:tq);
CREATE FUNCTION pg_temp.step(c bigint) RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
	UPDATE ticket.queue SET last_tick = clock_timestamp() - interval '1 second' WHERE concert_id = c;
	RETURN ticket.admit(c);
END
$$;
SELECT pg_temp.step(:tq) AS admitted;
SELECT state FROM ticket.join_queue(:tq, 'max');
SELECT order_id AS lo FROM ticket.checkout((ticket.hold(:tq, 'lea', ARRAY[1, 2], pass => (ticket.queue_status(:tq, 'lea')).pass_token)).hold_id, 'lea', 'lea-pay') \gset
SELECT ticket.payment_succeeded(j.payment_id, 'ch-lea') FROM ticket.claim_payments('psp', 10) AS j WHERE j.order_id = :lo;
SELECT pg_temp.step(:tq) AS admitted_when_sold_out;
SELECT state AS max_is FROM ticket.queue_status(:tq, 'max');
SET ROLE ticket_customer;
SELECT status FROM ticket.cancel_order(:lo, 'lea', 'lea-c1', ARRAY[2]);
RESET ROLE;
SELECT pg_temp.step(:tq) AS admitted_after_cancel;
SELECT state AS max_is FROM ticket.queue_status(:tq, 'max');
SELECT count(*) AS violations FROM ticket.verify();

-- A buyer's own feed: published events naming them, in order, without the
-- hold events they made themselves; never another user's.
SELECT ticket.publish_events() > 0 AS published;
SET ROLE ticket_customer;
SELECT kind, subject_id = :fo AS about_the_order, detail->>'refund' AS refund
  FROM ticket.my_events('fay') WHERE kind IN ('order_created', 'order_paid', 'order_cancelled', 'order_refunded');
SELECT count(*) FILTER (WHERE kind = 'hold') AS hold_events, count(*) > 0 AS has_events,
	   bool_and(event_id > 0) AS numbered
  FROM ticket.my_events('fay');
SELECT event_id AS first_event FROM ticket.my_events('fay', max_rows => 1) \gset
SELECT count(*) AS after_the_first, bool_and(event_id > :first_event) AS later
  FROM ticket.my_events('fay', :first_event);
SELECT count(*) AS of_nobody FROM ticket.my_events('nobody');
RESET ROLE;
SELECT count(*) AS others_events_for_fay
  FROM ticket.event WHERE user_id <> 'fay' AND event_id IN (SELECT event_id FROM ticket.my_events('fay', max_rows => 1000));
