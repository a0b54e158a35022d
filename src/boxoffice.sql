/*
 * src/boxoffice.sql: the box office's tools that need no table edited by
 * hand: re-driving dead-lettered refunds, sales reports by section and by
 * hour, and a user's history for support staff.
 */

/*
 * A dead-lettered refund goes back to the adapter: money owed to a buyer
 * is never given up.  The provider's idempotency key stays the same
 * (ticket-<payment_id>), so a refund that did go through before it died is
 * not paid twice.  A dead charge is not re-driven: its order was undone
 * when it died (the buyer checks out again).
 */
CREATE FUNCTION ticket.retry_dead(payment_id bigint)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	p ticket.payment;
	o ticket.orders;
BEGIN
	p := ticket._lock_payment(payment_id);
	IF p.kind = 'charge' THEN
		RAISE EXCEPTION 'payment % is a charge', payment_id
			USING ERRCODE = '55000',
			DETAIL = 'A charge that dies has its order undone; charging again could sell seats the buyer no longer holds.',
			HINT = 'Only refunds are re-driven; the buyer checks out again.';
	END IF;
	IF p.state <> 'failed' THEN
		RETURN p.state::text;	/* not dead: nothing to do */
	END IF;
	SELECT * INTO o FROM ticket.orders AS x WHERE x.order_id = p.order_id;
	UPDATE ticket.payment AS x
	   SET state = 'processing', dead_at = NULL, finished_at = NULL, next_attempt_at = now(),
		   lease_owner = NULL, lease_until = NULL,
		   max_attempts = x.attempts + (SELECT k.payment_attempts FROM ticket.concert AS k WHERE k.concert_id = o.concert_id),
		   last_error = coalesce(x.last_error || '; ', '') || 're-driven by ' || session_user
	 WHERE x.payment_id = payment_id;
	PERFORM ticket._event(o.concert_id, 'refund_redriven', o.order_id, o.user_id,
		jsonb_build_object('payment_id', payment_id, 'amount', p.amount));
	RETURN 'retrying';
END
$$;
COMMENT ON FUNCTION ticket.retry_dead(bigint) IS
	'Sends a dead-lettered refund back to the adapter with a fresh set of attempts (same provider idempotency key); returns retrying, or the state of one that is not dead. A charge is 55000.';

CREATE FUNCTION ticket.retry_dead_refunds(concert_id bigint)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	n integer := 0;
	id bigint;
BEGIN
	PERFORM ticket._lock_concert(concert_id);
	FOR id IN SELECT p.payment_id FROM ticket.payment AS p JOIN ticket.orders AS o ON o.order_id = p.order_id
			   WHERE o.concert_id = concert_id AND p.kind = 'refund' AND p.state = 'failed'
			   ORDER BY p.payment_id LOOP
		IF ticket.retry_dead(id) = 'retrying' THEN
			n := n + 1;
		END IF;
	END LOOP;
	RETURN n;
END
$$;
COMMENT ON FUNCTION ticket.retry_dead_refunds(bigint) IS
	'Re-drives every dead-lettered refund of a concert (ticket.retry_dead); returns how many.';

/*
 * Sales by section.  Sold and revenue are the seats sold now and their
 * price; the buyers' cancellations count the seats given back, and share
 * each cancellation's refund and fee among its seats by price.
 */
CREATE FUNCTION ticket.sales_by_section(concert_id bigint)
RETURNS TABLE (section_id integer, name text, price numeric(12,2), capacity integer, sold bigint,
	orders bigint, revenue numeric(14,2), given_back bigint, refunds numeric(14,2), fees numeric(14,2))
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	PERFORM ticket._find_concert(concert_id);
	RETURN QUERY
	SELECT s.section_id, s.name, s.price, s.capacity, n.sold, n.orders, (n.sold * s.price)::numeric(14,2),
		   g.seats, coalesce(g.refunds, 0)::numeric(14,2), coalesce(g.fees, 0)::numeric(14,2)
	  FROM ticket.section AS s
	 CROSS JOIN LATERAL (
		SELECT count(*) AS sold, count(DISTINCT t.hold_id) AS orders
		  FROM ticket.seat AS t
		 WHERE t.concert_id = s.concert_id AND t.state = 'sold'
		   AND t.seat_id BETWEEN s.first_seat_id AND s.first_seat_id + s.capacity - 1) AS n
	 CROSS JOIN LATERAL (
		SELECT count(*) AS seats,
			   sum(round(x.refund * s.price / x.amount, 2)) AS refunds,
			   sum(round(x.fee * s.price / x.amount, 2)) AS fees
		  FROM ticket.cancellation AS x
		  JOIN ticket.orders AS o ON o.order_id = x.order_id AND o.concert_id = s.concert_id
		 CROSS JOIN LATERAL unnest(x.seat_ids) AS u(seat_id)
		 WHERE u.seat_id BETWEEN s.first_seat_id AND s.first_seat_id + s.capacity - 1) AS g
	 WHERE s.concert_id = concert_id
	 ORDER BY s.section_id;
END
$$;
COMMENT ON FUNCTION ticket.sales_by_section(bigint) IS
	'For the box office: per section, seats sold now, the orders they belong to and their revenue, and the buyers'' cancellations: seats given back, refunds and fees (each cancellation''s shared among its seats by price).';

/*
 * Sales by hour of the money's movement: orders paid and what they
 * captured, refunds that went through, fees kept by cancellations.
 */
CREATE FUNCTION ticket.sales_by_hour(concert_id bigint)
RETURNS TABLE ("hour" timestamptz, orders bigint, seats bigint, revenue numeric(14,2),
	refunds numeric(14,2), fees numeric(14,2))
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	PERFORM ticket._find_concert(concert_id);
	RETURN QUERY
	WITH paid AS (
		SELECT date_trunc('hour', o.paid_at) AS h, count(*) AS orders,
			   /* the seats it has, and those given back before the rest (the last cancellation keeps its list) */
			   sum(cardinality(o.seat_ids)
				   + coalesce((SELECT sum(cardinality(x.seat_ids)) FROM ticket.cancellation AS x
								WHERE x.order_id = o.order_id AND NOT x.whole), 0)) AS seats,
			   sum(o.amount) AS revenue
		  FROM ticket.orders AS o
		 WHERE o.concert_id = concert_id AND o.paid_at IS NOT NULL
		 GROUP BY 1
	), refunded AS (
		SELECT date_trunc('hour', p.finished_at) AS h, sum(p.amount) AS refunds
		  FROM ticket.payment AS p JOIN ticket.orders AS o ON o.order_id = p.order_id
		 WHERE o.concert_id = concert_id AND p.kind = 'refund' AND p.state = 'succeeded'
		 GROUP BY 1
	), kept AS (
		SELECT date_trunc('hour', x.created_at) AS h, sum(x.fee) AS fees
		  FROM ticket.cancellation AS x JOIN ticket.orders AS o ON o.order_id = x.order_id
		 WHERE o.concert_id = concert_id
		 GROUP BY 1
	), hours AS (
		SELECT paid.h FROM paid UNION SELECT refunded.h FROM refunded UNION SELECT kept.h FROM kept
	)
	SELECT hours.h, coalesce(paid.orders, 0), coalesce(paid.seats, 0)::bigint,
		   coalesce(paid.revenue, 0)::numeric(14,2), coalesce(refunded.refunds, 0)::numeric(14,2),
		   coalesce(kept.fees, 0)::numeric(14,2)
	  FROM hours
	  LEFT JOIN paid ON paid.h = hours.h
	  LEFT JOIN refunded ON refunded.h = hours.h
	  LEFT JOIN kept ON kept.h = hours.h
	 ORDER BY hours.h;
END
$$;
COMMENT ON FUNCTION ticket.sales_by_hour(bigint) IS
	'For the box office: per hour, orders paid, their seats and what they captured, refunds that went through, and fees kept by buyers'' cancellations.';

/*
 * What support staff need to answer "where are my tickets": one user's
 * holds, orders, payments, cancellations and blocks, across concerts, in
 * time order, from the indexes keyed by user.
 */
CREATE FUNCTION ticket.user_history(user_id text, max_rows integer DEFAULT 200)
RETURNS TABLE ("at" timestamptz, concert_id bigint, what text, ref_id bigint, detail text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	PERFORM ticket._check_text('user_id', user_id);
	PERFORM ticket._check_range('max_rows', max_rows, 1, 10000);
	RETURN QUERY
	SELECT * FROM (
		SELECT h.created_at, h.concert_id, 'hold', h.hold_id,
			   format('seats %s, %s', h.seat_ids, h.state)
		  FROM ticket.hold AS h WHERE h.user_id = user_id
		UNION ALL
		SELECT o.created_at, o.concert_id, 'order ' || o.state::text, o.order_id,
			   format('charged %s; seats %s%s%s', o.amount, o.seat_ids,
					  CASE WHEN o.paid_at IS NOT NULL THEN ', paid' END,
					  CASE WHEN o.cancel_reason IS NOT NULL THEN ', cancelled: ' || o.cancel_reason END)
		  FROM ticket.orders AS o WHERE o.user_id = user_id
		UNION ALL
		SELECT coalesce(p.finished_at, p.created_at), o.concert_id, p.kind::text || ' ' || p.state::text, p.payment_id,
			   format('%s of order %s, %s attempt(s)%s', p.amount, o.order_id, p.attempts,
					  CASE WHEN p.last_error IS NOT NULL THEN ', notes: ' || p.last_error END)
		  FROM ticket.orders AS o JOIN ticket.payment AS p ON p.order_id = o.order_id
		 WHERE o.user_id = user_id
		UNION ALL
		SELECT x.created_at, o.concert_id, 'cancellation', x.cancellation_id,
			   format('seats %s of order %s: %s, fee %s, refund %s', x.seat_ids, o.order_id, x.amount, x.fee, x.refund)
		  FROM ticket.orders AS o JOIN ticket.cancellation AS x ON x.order_id = o.order_id
		 WHERE o.user_id = user_id
		UNION ALL
		SELECT b.blocked_at, NULL::bigint, 'blocked', NULL::bigint, coalesce(b.reason, '')
		  FROM ticket.blocked_user AS b WHERE b.user_id = user_id
	) AS t
	 ORDER BY 1, 3, 4
	 LIMIT max_rows;
END
$$;
COMMENT ON FUNCTION ticket.user_history(text, integer) IS
	'For support staff: one user''s holds, orders, payments, cancellations and block, across concerts, oldest first (max_rows of them).';
