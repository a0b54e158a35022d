-- A database as shard 2 of a routed sale: every id it hands out lies in
-- [2 * 10^12 + 1, 3 * 10^12), so that the router (ticket_router) routes a
-- hold, order, payment or event cursor by its value.
\i test/regress_setup.sql

-- A database that never called set_shard is shard 0.
SELECT ticket.shard() AS before_set_shard;
SELECT * FROM ticket.set_shard(2);
SELECT ticket.shard() AS after_set_shard;
-- Again, the same shard: nothing changes.
SELECT count(*) AS kinds, min(next_value) = max(next_value) AS all_the_same FROM ticket.set_shard(2);

SELECT ticket.create_concert('Shard two', now() + interval '30 days', now() - interval '1 day',
	cancellable => true) AS c \gset
SELECT :c AS concert_id, ticket._shard_of_id(:c) AS shard;
SELECT ticket.add_section(:c, 'Floor', 'A', 25, 1, 4) AS s \gset
SELECT ticket.open_sale(:c);
SELECT hold_id, status FROM ticket.hold(:c, 'ann', ARRAY[1, 2]);
SELECT order_id, payment_id, status FROM ticket.checkout(2000000000001, 'ann', 'ann-pay');
SELECT ticket.payment_succeeded(2000000000001, 'ch-1');
SELECT status, refund_payment_id FROM ticket.cancel_order(2000000000001, 'ann', 'ann-c', ARRAY[2]);
SELECT ticket.start_compensation(2000000000001, 'box office') AS saga;
SELECT ticket.publish_events() AS published;
SELECT min(event_id) AS first_event, bool_and(ticket._shard_of_id(event_id) = 2) AS all_of_shard_2
  FROM ticket.events_since(2000000000000);
SELECT count(*) AS violations FROM ticket.verify();
-- Ids handed out: still shard 2.
SELECT ticket.shard() AS with_ids_handed_out;

-- Now that shard 2 has handed out ids, another shard is refused.
SELECT pg_temp.err($$SELECT * FROM ticket.set_shard(3)$$);
SELECT pg_temp.err($$SELECT * FROM ticket.set_shard(0)$$);
SELECT ticket._shard_of_id(NULL) AS of_null, ticket._shard_of_id(-5) AS of_negative,
	ticket._shard_of_id(999999999999) AS last_of_0, ticket._shard_of_id(1000000000000) AS first_of_1;
