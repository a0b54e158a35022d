/*
 * src/checkout.sql: orders and idempotency keys; checkout (src/checkout.c)
 * turns a live hold into a pending order with its charge job, and
 * order_status reads one back.
 */

CREATE TYPE ticket.order_state AS ENUM ('pending', 'paid', 'cancelled', 'refunded');
COMMENT ON TYPE ticket.order_state IS
	'Life of an order: pending (payment in flight), then paid, or cancelled by compensation; a cancelled order whose captured money was given back is refunded.';

CREATE TABLE ticket.orders (
	order_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	concert_id bigint NOT NULL,
	user_id text NOT NULL,
	hold_id bigint NOT NULL UNIQUE,
	seat_ids integer[] NOT NULL,
	amount numeric(12,2) NOT NULL,
	state ticket.order_state NOT NULL DEFAULT 'pending',
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	pay_by timestamptz NOT NULL,
	paid_at timestamptz,
	cancelled_at timestamptz,
	refunded_at timestamptz,
	cancel_reason text
);

CREATE INDEX orders_pending_idx ON ticket.orders (pay_by) WHERE state = 'pending';

/* A buyer's orders, of one concert or of all (ticket.my_orders). */
CREATE INDEX orders_user_idx ON ticket.orders (user_id, concert_id);
COMMENT ON TABLE ticket.orders IS
	'One order per checked-out hold: its seats, amount, and the deadline for its payment (pay_by).';

CREATE TABLE ticket.idempotency (
	user_id text NOT NULL,
	idempotency_key text NOT NULL,
	request text NOT NULL,
	order_id bigint,
	status text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (user_id, idempotency_key)
);

CREATE INDEX idempotency_age_idx ON ticket.idempotency (created_at);
COMMENT ON TABLE ticket.idempotency IS
	'Checkout idempotency keys per user: what was asked (request) and what it gave. Kept ticket.idempotency_ttl (at least 24 hours), then purged by the worker.';
/*
 * A buyer's cancellation of some or all of a paid order's seats
 * (ticket.cancel_order, src/compensation.sql): what the seats cost, the fee
 * the concert keeps and the refund, whose payment job names it.
 */
CREATE TABLE ticket.cancellation (
	cancellation_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	order_id bigint NOT NULL REFERENCES ticket.orders,
	idempotency_key text NOT NULL,
	seat_ids integer[] NOT NULL,
	whole boolean NOT NULL,
	amount numeric(12,2) NOT NULL,
	fee numeric(12,2) NOT NULL,
	refund numeric(12,2) NOT NULL,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CHECK (fee OPERATOR(pg_catalog.>=) 0 AND refund OPERATOR(pg_catalog.>=) 0
		   AND amount OPERATOR(pg_catalog.=) (fee OPERATOR(pg_catalog.+) refund))
);

CREATE INDEX cancellation_order_idx ON ticket.cancellation (order_id);
COMMENT ON TABLE ticket.cancellation IS
	'Buyers'' cancellations of paid orders: the seats given back (whole: the rest of the order), their price (amount) = the fee kept + the refund.';
SELECT pg_catalog.pg_extension_config_dump('ticket.orders', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.cancellation', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.cancellation_cancellation_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.idempotency', '');

CREATE TYPE ticket.checkout_result AS (
	order_id bigint,
	payment_id bigint,
	status text,
	amount numeric(12,2),
	pay_by timestamptz,
	seats json
);
COMMENT ON TYPE ticket.checkout_result IS
	'Result of ticket.checkout and ticket.order_status: status pending (order and payment created; pay_by is the deadline), or, for a replayed key, the order''s state now (pending, paid, cancelled, refunded); expired, released or closed when the hold could not be checked out (the rest NULL). seats: a JSON array of seat_id, section_id, section, row, seat, label, price.';

CREATE FUNCTION ticket._order_result(order_id bigint)
RETURNS ticket.checkout_result
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT o.order_id, p.payment_id, o.state::text, o.amount, o.pay_by, ticket._seats_json(o.concert_id, o.seat_ids)
	  FROM ticket.orders AS o
	  LEFT JOIN ticket.payment AS p ON p.order_id = o.order_id AND p.kind = 'charge'
	 WHERE o.order_id = $1;
$$;
COMMENT ON FUNCTION ticket._order_result(bigint) IS
	'Internal: an order as ticket.checkout and ticket.order_status return it (its state now).';

CREATE FUNCTION ticket.checkout(hold_id bigint, user_id text, idempotency_key text)
RETURNS ticket.checkout_result
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_checkout';
COMMENT ON FUNCTION ticket.checkout(bigint, text, text) IS
	'Turns a live hold into an order and a payment job; the seats stay held until the payment succeeds, fails or times out (payment_timeout). Answers released, expired or closed (concert cancelled) without an order. The same idempotency key returns the same order; a different request with it is 22023.';

/*
 * The caller's own order, as the statement sees it: P0002 when there is
 * none, 42501 when it belongs to another user (src/sale.c, as for holds).
 */
CREATE FUNCTION ticket._own_order(order_id bigint, user_id text)
RETURNS ticket.orders
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'ticket_own_order_sql';
COMMENT ON FUNCTION ticket._own_order(bigint, text) IS
	'Internal: the caller''s order as the statement sees it; P0002 when there is none, 42501 when it is another user''s.';

CREATE FUNCTION ticket.order_status(order_id bigint, user_id text)
RETURNS ticket.checkout_result
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	o ticket.orders;
BEGIN
	IF order_id IS NULL THEN
		RAISE EXCEPTION 'order_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	PERFORM ticket._check_text('user_id', user_id);
	o := ticket._own_order(order_id, user_id);
	/* A poll: a tenth of a call from the user's bucket. */
	IF NOT ticket._take_call(user_id, true) THEN
		RETURN ROW(order_id, NULL, 'rate_limited', NULL, NULL, NULL)::ticket.checkout_result;
	END IF;
	RETURN ticket._order_result(order_id);
END
$$;
COMMENT ON FUNCTION ticket.order_status(bigint, text) IS
	'A user''s order as ticket.checkout returns it, with its state now (pending, paid, cancelled, refunded), or rate_limited.';
