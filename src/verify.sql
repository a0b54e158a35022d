/*
 * src/verify.sql: the invariants of a sale, checked from the tables: seats
 * agree with their holds and no seat is in two live holds, sections within
 * capacity, buyers within their limit, the waiting room's draw and order,
 * paid orders with their seats and a captured payment, captured money kept
 * or refunded.  An empty result is what the tests and the demo end with.
 */

CREATE FUNCTION ticket.verify(concert_id bigint DEFAULT NULL)
RETURNS TABLE (concert_id bigint, violation text, detail text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	/* Live means live at this statement's start, when its snapshot was taken. */
	WITH live AS (
		SELECT h.* FROM ticket.hold AS h
		 WHERE ($1 IS NULL OR h.concert_id = $1)
		   AND ticket._hold_is_live(h.state, h.expires_at, statement_timestamp())
	), live_seat AS (
		SELECT l.concert_id, l.hold_id, l.state, l.expires_at, u.seat_id
		  FROM live AS l CROSS JOIN LATERAL unnest(l.seat_ids) AS u(seat_id)
	), seats AS (
		SELECT t.* FROM ticket.seat AS t WHERE $1 IS NULL OR t.concert_id = $1
	)
	/* A seat in two live holds. */
	SELECT ls.concert_id, 'seat in two live holds',
		   format('seat %s is in holds %s', ls.seat_id, string_agg(ls.hold_id::text, ', ' ORDER BY ls.hold_id))
	  FROM live_seat AS ls
	 GROUP BY ls.concert_id, ls.seat_id
	HAVING count(*) > 1
	UNION ALL
	/* A live hold whose seat does not say so. */
	SELECT ls.concert_id, 'seat disagrees with its hold',
		   format('hold %s (%s) lists seat %s, which is %s with hold %s%s',
				  ls.hold_id, ls.state, ls.seat_id, coalesce(t.state::text, 'missing'), coalesce(t.hold_id::text, 'none'),
				  CASE WHEN t.held_until IS DISTINCT FROM ls.expires_at AND ls.state <> 'confirmed'
					   THEN ' and a different expiry' ELSE '' END)
	  FROM live_seat AS ls
	  LEFT JOIN ticket.seat AS t ON t.concert_id = ls.concert_id AND t.seat_id = ls.seat_id
	 WHERE t.hold_id IS DISTINCT FROM ls.hold_id
		OR (ls.state <> 'confirmed' AND (t.state <> 'held' OR t.held_until IS DISTINCT FROM ls.expires_at))
		OR (ls.state = 'confirmed' AND t.state <> 'sold')
	UNION ALL
	/* A seat held or sold by no hold, or by one that does not list it. */
	SELECT t.concert_id, 'seat disagrees with its hold',
		   format('seat %s is %s with hold %s, which %s', t.seat_id, t.state,
				  coalesce(t.hold_id::text, 'none'),
				  CASE WHEN h.hold_id IS NULL THEN 'does not exist' ELSE 'does not list it' END)
	  FROM seats AS t
	  LEFT JOIN ticket.hold AS h ON h.hold_id = t.hold_id
	 WHERE t.state <> 'available'
	   AND (h.hold_id IS NULL OR h.concert_id <> t.concert_id OR NOT t.seat_id = ANY (h.seat_ids))
	UNION ALL
	/* A seat still held for a hold that has ended (a leaked seat). */
	SELECT t.concert_id, 'seat held by an ended hold',
		   format('seat %s is still held by hold %s, which is %s', t.seat_id, h.hold_id, h.state)
	  FROM seats AS t
	  JOIN ticket.hold AS h ON h.hold_id = t.hold_id
	 WHERE t.state = 'held' AND NOT ticket._seat_is_free(t.state, t.held_until, statement_timestamp())
	   AND h.state IN ('released', 'expired')
	UNION ALL
	/* A seat sold by a hold that was never paid for. */
	SELECT t.concert_id, 'sold seat without a confirmed hold',
		   format('seat %s is sold by hold %s, which is %s', t.seat_id, h.hold_id, h.state)
	  FROM seats AS t
	  JOIN ticket.hold AS h ON h.hold_id = t.hold_id
	 WHERE t.state = 'sold' AND h.state <> 'confirmed'
	UNION ALL
	/* An available seat that still names a hold. */
	SELECT t.concert_id, 'available seat names a hold',
		   format('seat %s is available but names hold %s', t.seat_id, t.hold_id)
	  FROM seats AS t
	 WHERE t.state = 'available' AND (t.hold_id IS NOT NULL OR t.held_until IS NOT NULL)
	UNION ALL
	/* available + held + sold = capacity, seat by seat. */
	SELECT s.concert_id, 'section capacity',
		   format('section %s (%s) has %s seats for a capacity of %s', s.section_id, s.name, n.seats, s.capacity)
	  FROM ticket.section AS s
	 CROSS JOIN LATERAL (
		SELECT count(*) AS seats FROM ticket.seat AS t
		 WHERE t.concert_id = s.concert_id AND t.section_id = s.section_id
		   AND t.seat_id BETWEEN s.first_seat_id AND s.first_seat_id + s.capacity - 1) AS n
	 WHERE ($1 IS NULL OR s.concert_id = $1) AND n.seats <> s.capacity
	UNION ALL
	/* A user over the limit. */
	SELECT l.concert_id, 'user over the limit',
		   format('user %s holds or owns %s seats; the limit is %s', l.user_id,
				  sum(cardinality(l.seat_ids)), c.per_user_limit)
	  FROM live AS l JOIN ticket.concert AS c ON c.concert_id = l.concert_id
	 GROUP BY l.concert_id, l.user_id, c.per_user_limit
	HAVING sum(cardinality(l.seat_ids)) > c.per_user_limit
	UNION ALL
	/* The draw's seed is not the one committed to. */
	SELECT q.concert_id, 'draw seed does not match its hash',
		   format('sha256(seed) is %s, the published hash %s',
				  encode(sha256(q.seed), 'hex'), encode(q.seed_hash, 'hex'))
	  FROM ticket.queue AS q
	 WHERE ($1 IS NULL OR q.concert_id = $1) AND sha256(q.seed) <> q.seed_hash
	UNION ALL
	/* A place the draw gave that its seed does not give. */
	SELECT q.concert_id, 'draw does not match its seed',
		   format('user %s drew place %s; the seed gives %s', d.user_id, e.draw_place, d.place)
	  FROM ticket.queue AS q
	 CROSS JOIN LATERAL ticket.draw_order(q.concert_id, q.seed) AS d
	  JOIN ticket.queue_entry AS e ON e.concert_id = q.concert_id AND e.user_id = d.user_id
	 WHERE ($1 IS NULL OR q.concert_id = $1) AND q.drawn_at IS NOT NULL AND e.draw_place <> d.place
	UNION ALL
	/* A user still waiting behind the place admitted through: skipped for good. */
	SELECT e.concert_id, 'waiting user passed over',
		   format('user %s waits at place %s; places through %s were admitted', e.user_id, e.seq, q.admitted_through)
	  FROM ticket.queue_entry AS e
	  JOIN ticket.queue AS q ON q.concert_id = e.concert_id
	 WHERE ($1 IS NULL OR e.concert_id = $1) AND e.state = 'waiting' AND e.seq <= q.admitted_through
	UNION ALL
	/* A place past the last one handed out. */
	SELECT e.concert_id, 'place past the last place',
		   format('user %s has place %s; the last place handed out is %s', e.user_id, e.seq, q.last_place)
	  FROM ticket.queue_entry AS e
	  JOIN ticket.queue AS q ON q.concert_id = e.concert_id
	 WHERE ($1 IS NULL OR e.concert_id = $1) AND e.seq > q.last_place
	UNION ALL
	/* Departures per block that disagree with the departures recorded. */
	SELECT q.concert_id, 'queue departures disagree',
		   format('%s departures counted in blocks, %s recorded', n.counted, n.recorded)
	  FROM ticket.queue AS q
	 CROSS JOIN LATERAL (
		SELECT coalesce((SELECT sum(g) FROM unnest(q.gaps) AS g), 0) AS counted,
			   (SELECT count(*) FROM ticket.queue_departure AS d WHERE d.concert_id = q.concert_id) AS recorded) AS n
	 WHERE ($1 IS NULL OR q.concert_id = $1) AND n.counted <> n.recorded
	UNION ALL
	/* A paid order whose seats are not all sold to it. */
	SELECT o.concert_id, 'paid order without its seats',
		   format('order %s is paid; seat %s is %s with hold %s', o.order_id, u.seat_id,
				  coalesce(t.state::text, 'missing'), coalesce(t.hold_id::text, 'none'))
	  FROM ticket.orders AS o
	 CROSS JOIN LATERAL unnest(o.seat_ids) AS u(seat_id)
	  LEFT JOIN ticket.seat AS t ON t.concert_id = o.concert_id AND t.seat_id = u.seat_id
	 WHERE ($1 IS NULL OR o.concert_id = $1) AND o.state = 'paid'
	   AND (t.state IS DISTINCT FROM 'sold' OR t.hold_id IS DISTINCT FROM o.hold_id)
	UNION ALL
	/* A cancelled order whose seats are still its own once its compensation is over (a leaked seat). */
	SELECT o.concert_id, 'cancelled order keeps its seats',
		   format('order %s is %s; seat %s is still %s by its hold %s', o.order_id, o.state, t.seat_id, t.state, o.hold_id)
	  FROM ticket.orders AS o
	  JOIN ticket.seat AS t ON t.concert_id = o.concert_id AND t.seat_id = ANY (o.seat_ids) AND t.hold_id = o.hold_id
	 WHERE ($1 IS NULL OR o.concert_id = $1) AND o.state IN ('cancelled', 'refunded')
	   AND NOT EXISTS (SELECT FROM ticket.saga AS g WHERE g.order_id = o.order_id AND g.state = 'running')
	UNION ALL
	/* Order and hold out of step. */
	SELECT o.concert_id, 'order disagrees with its hold',
		   format('order %s is %s; its hold %s is %s', o.order_id, o.state, o.hold_id, coalesce(h.state::text, 'missing'))
	  FROM ticket.orders AS o
	  LEFT JOIN ticket.hold AS h ON h.hold_id = o.hold_id
	 WHERE ($1 IS NULL OR o.concert_id = $1)
	   AND ((o.state = 'pending' AND h.state IS DISTINCT FROM 'checking_out')
			OR (o.state = 'paid' AND h.state IS DISTINCT FROM 'confirmed'))
	UNION ALL
	SELECT h.concert_id, 'confirmed hold without a paid order',
		   format('hold %s is confirmed; its order is %s', h.hold_id, coalesce(o.state::text, 'missing'))
	  FROM ticket.hold AS h
	  LEFT JOIN ticket.orders AS o ON o.hold_id = h.hold_id
	 WHERE ($1 IS NULL OR h.concert_id = $1) AND h.state = 'confirmed' AND o.state IS DISTINCT FROM 'paid'
	UNION ALL
	/* Money: a paid order was captured; captured money on an undone order is being given back. */
	SELECT o.concert_id, 'paid order without a captured payment',
		   format('order %s is paid but none of its charges succeeded', o.order_id)
	  FROM ticket.orders AS o
	 WHERE ($1 IS NULL OR o.concert_id = $1) AND o.state = 'paid'
	   AND NOT EXISTS (SELECT FROM ticket.payment AS p
					    WHERE p.order_id = o.order_id AND p.kind = 'charge' AND p.state = 'succeeded')
	UNION ALL
	SELECT o.concert_id, 'captured money neither kept nor refunded',
		   format('order %s is %s; charge %s (%s) succeeded and has no refund', o.order_id, o.state,
				  p.payment_id, p.provider_ref)
	  FROM ticket.orders AS o
	  JOIN ticket.payment AS p ON p.order_id = o.order_id AND p.kind = 'charge' AND p.state = 'succeeded'
	 WHERE ($1 IS NULL OR o.concert_id = $1) AND o.state <> 'paid'
	   AND NOT EXISTS (SELECT FROM ticket.payment AS r WHERE r.kind = 'refund' AND r.refund_ref = p.provider_ref)
	   AND NOT EXISTS (SELECT FROM ticket.saga AS g WHERE g.order_id = o.order_id AND g.state = 'running')
	   /* a buyer who cancelled the whole order when the fee was the whole price: kept as the fee */
	   AND NOT EXISTS (SELECT FROM ticket.cancellation AS x WHERE x.order_id = o.order_id AND x.whole AND x.refund = 0)
	UNION ALL
	/* A buyer's cancellation: its seats are no longer the order's, and its refund was asked for. */
	SELECT o.concert_id, 'cancelled seat still in its order',
		   format('order %s still lists seat %s, given back by cancellation %s', o.order_id, u.seat_id, x.cancellation_id)
	  FROM ticket.cancellation AS x
	  JOIN ticket.orders AS o ON o.order_id = x.order_id
	 CROSS JOIN LATERAL unnest(x.seat_ids) AS u(seat_id)
	 WHERE ($1 IS NULL OR o.concert_id = $1) AND u.seat_id = ANY (o.seat_ids) AND o.state = 'paid'
	UNION ALL
	SELECT o.concert_id, 'cancellation without its refund',
		   format('cancellation %s of order %s refunds %s; %s', x.cancellation_id, o.order_id, x.refund,
				  coalesce('its refund job is of ' || r.amount, 'there is no refund job'))
	  FROM ticket.cancellation AS x
	  JOIN ticket.orders AS o ON o.order_id = x.order_id
	  LEFT JOIN ticket.payment AS r ON r.kind = 'refund' AND r.cancellation_id = x.cancellation_id
	 WHERE ($1 IS NULL OR o.concert_id = $1) AND x.refund > 0 AND r.amount IS DISTINCT FROM x.refund
	UNION ALL
	SELECT o.concert_id, 'charge captured twice without a refund',
		   format('order %s has %s succeeded charges', o.order_id, count(*))
	  FROM ticket.orders AS o
	  JOIN ticket.payment AS p ON p.order_id = o.order_id AND p.kind = 'charge' AND p.state IN ('succeeded', 'refunded')
	 WHERE ($1 IS NULL OR o.concert_id = $1)
	 GROUP BY o.concert_id, o.order_id
	HAVING count(*) > 1
$$;
COMMENT ON FUNCTION ticket.verify(bigint) IS
	'Checks the invariants of one concert (or all): returns one row per violation, none when all is well.';
