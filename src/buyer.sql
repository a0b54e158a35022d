/*
 * src/buyer.sql: a buyer's own holds and orders, newest first, a page at a
 * time (before_id, max_rows), each seat with its label and price.  The
 * application passes the signed-in user's id, as it does to hold and
 * checkout; nothing here shows another user's rows.
 */

/*
 * The paging arguments of the buyer's lists (22004, 22001, 22023), checked
 * as their LIMIT: a LIMIT is computed before the first row is read.  A list
 * is a call from the user's rate-limit bucket (a feed's poll a tenth); it
 * has no status to say it was refused, so a refusal is 53400.
 */
CREATE FUNCTION ticket._check_page(user_id text, max_rows integer, poll boolean, after_id bigint DEFAULT 0)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM ticket._check_text('user_id', user_id);
	IF after_id IS NULL THEN
		RAISE EXCEPTION 'after_id must not be NULL' USING ERRCODE = '22004',
			HINT = 'Start from 0, then pass the last event_id read.';
	END IF;
	PERFORM ticket._check_range('max_rows', max_rows, 1, 1000);
	IF NOT ticket._take_call(user_id, poll) THEN
		RAISE EXCEPTION 'user % is rate limited', user_id
			USING ERRCODE = '53400', HINT = 'Try again in a moment; ticket.user_rate and ticket.user_burst set the limit.';
	END IF;
	RETURN max_rows;
END
$$;
COMMENT ON FUNCTION ticket._check_page(text, integer, boolean, bigint) IS
	'Internal: max_rows, after raising 22004, 22001 or 22023 unless a buyer''s list may be read with these user_id, max_rows and after_id, and 53400 when the user''s rate limit refuses the call (poll: a tenth of a token).';

CREATE FUNCTION ticket.my_holds(user_id text, concert_id bigint DEFAULT NULL,
	before_hold_id bigint DEFAULT NULL, max_rows integer DEFAULT 20)
RETURNS TABLE (hold_id bigint, concert_id bigint, title text, starts_at timestamptz, state text,
	created_at timestamptz, expires_at timestamptz, total numeric(12,2), seats json, order_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	/* SQL, not PL/pgSQL: an argument and a result column share the name concert_id. */
	SELECT h.hold_id, h.concert_id, c.title, c.starts_at,
		   CASE WHEN h.state = 'active' AND NOT ticket._hold_is_live(h.state, h.expires_at, now())
				THEN 'expired' ELSE h.state::text END,
		   h.created_at, h.expires_at,
		   ticket._seats_total(h.concert_id, h.seat_ids), ticket._seats_json(h.concert_id, h.seat_ids),
		   o.order_id
	  FROM ticket.hold AS h
	  JOIN ticket.concert AS c ON c.concert_id = h.concert_id
	  LEFT JOIN ticket.orders AS o ON o.hold_id = h.hold_id
	 WHERE h.user_id = $1			/* hold_user_idx (user_id, concert_id) */
	   AND (h.concert_id = $2 OR $2 IS NULL)
	   AND (h.hold_id < $3 OR $3 IS NULL)
	 ORDER BY h.hold_id DESC
	 LIMIT ticket._check_page($1, $4, false);
$$;
COMMENT ON FUNCTION ticket.my_holds(text, bigint, bigint, integer) IS
	'For buyers: a user''s holds, newest first (of one concert, or all), max_rows at a time (the next page: before_hold_id => the last hold_id), with state (an active hold past expires_at is expired), total, seats with labels and prices, and its order once checked out.';

CREATE FUNCTION ticket.my_orders(user_id text, concert_id bigint DEFAULT NULL,
	before_order_id bigint DEFAULT NULL, max_rows integer DEFAULT 20)
RETURNS TABLE (order_id bigint, concert_id bigint, title text, starts_at timestamptz, state text,
	amount numeric(12,2), seats json, created_at timestamptz, pay_by timestamptz, paid_at timestamptz,
	cancelled_at timestamptz, cancel_reason text, refund_state text, refunded numeric(12,2),
	cancelled_seats json, fees numeric(12,2))
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT o.order_id, o.concert_id, c.title, c.starts_at, o.state::text, o.amount,
		   ticket._seats_json(o.concert_id, o.seat_ids),
		   o.created_at, o.pay_by, o.paid_at, o.cancelled_at, o.cancel_reason,
		   r.refund_state, r.refunded,
		   CASE WHEN x.seat_ids IS NOT NULL THEN ticket._seats_json(o.concert_id, x.seat_ids) END, x.fees
	  FROM ticket.orders AS o
	  JOIN ticket.concert AS c ON c.concert_id = o.concert_id
	 CROSS JOIN LATERAL (
		/* none (NULL), requested (in flight), failed (dead-lettered: the box office re-drives it), refunded */
		SELECT CASE WHEN count(*) = 0 THEN NULL
					WHEN bool_or(p.state = 'processing') THEN 'requested'
					WHEN bool_or(p.state = 'failed') THEN 'failed'
					ELSE 'refunded' END AS refund_state,
			   coalesce(sum(p.amount) FILTER (WHERE p.state IN ('succeeded', 'refunded')), 0)::numeric(12,2) AS refunded
		  FROM ticket.payment AS p
		 WHERE p.order_id = o.order_id AND p.kind = 'refund') AS r
	 CROSS JOIN LATERAL (
		/* the buyer's cancellations: the seats given back, the fees kept */
		SELECT (SELECT array_agg(s ORDER BY s) FROM ticket.cancellation AS k, unnest(k.seat_ids) AS s
				 WHERE k.order_id = o.order_id) AS seat_ids,
			   (SELECT coalesce(sum(k.fee), 0) FROM ticket.cancellation AS k
				 WHERE k.order_id = o.order_id)::numeric(12,2) AS fees) AS x
	 WHERE o.user_id = $1			/* orders_user_idx (user_id, concert_id) */
	   AND (o.concert_id = $2 OR $2 IS NULL)
	   AND (o.order_id < $3 OR $3 IS NULL)
	 ORDER BY o.order_id DESC
	 LIMIT ticket._check_page($1, $4, false);
$$;
COMMENT ON FUNCTION ticket.my_orders(text, bigint, bigint, integer) IS
	'For buyers: a user''s orders, newest first (of one concert, or all), max_rows at a time (the next page: before_order_id => the last order_id), with state, amount, seats with labels and prices, when paid or cancelled and why, and the refund: requested, refunded or failed (NULL: none) and how much came back; the seats the buyer cancelled and the fees kept.';

/*
 * A buyer's own events, for a "your order is paid" message or a page that
 * refreshes itself: the outbox rows that name the user, once published,
 * in event_id order.  The per-hold "hold" events are left out (the buyer
 * made them) and out of the index, so a hold pays nothing for this feed.
 */
CREATE INDEX event_user_idx ON ticket.event (user_id, event_id) WHERE event_id IS NOT NULL AND kind <> 'hold';

CREATE FUNCTION ticket.my_events(user_id text, after_id bigint DEFAULT 0, max_rows integer DEFAULT 100)
RETURNS TABLE (event_id bigint, concert_id bigint, kind text, subject_id bigint, detail jsonb, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT e.event_id, e.concert_id, e.kind, e.subject_id, e.detail, e.created_at
	  FROM ticket.event AS e
	 WHERE e.user_id = $1 AND e.event_id > $2	/* event_user_idx */
	   AND e.event_id IS NOT NULL AND e.kind <> 'hold'
	 ORDER BY e.event_id
	 LIMIT ticket._check_page($1, $3, true, $2);
$$;
COMMENT ON FUNCTION ticket.my_events(text, bigint, integer) IS
	'For buyers: a user''s own published events after after_id, in order (admission_expired, hold_released, hold_expired, order_created, order_paid, order_cancelled, order_refunded, payment and refund outcomes, ...; not the hold events the buyer made): a poll, a tenth of a call from the rate limit. Never another user''s.';
