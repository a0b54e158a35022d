/* ticket--0.5--0.6.sql: from 0.5 to 0.6 */

\echo Use "ALTER EXTENSION ticket UPDATE TO '0.6'" to load this file. \quit

/*
 * 0.6 serves the buyer's side (issue 17): a catalogue buyers may read
 * (browse_concerts, browse_sections, browse_seats; concerts are listed once
 * on sale, or as coming up from announce_at), seats with labels and prices
 * wherever a buyer sees them (hold_result gains total and seats,
 * checkout_result gains seats), and a buyer's own holds and orders
 * (my_holds, my_orders).  A buyer's holds and orders are indexed by user
 * first, so that their lists across concerts need no full scan.
 *
 * Same conventions as ticket--0.1--0.2.sql: CREATE OR REPLACE only for what
 * an earlier script created, with the same signature; the bodies are those
 * of the src files (copied with test/sql-bodies); test/t/010_upgrade.pl
 * checks that an install updated from 0.1 and a fresh one have the same
 * objects, definitions, grants and comments.
 *
 * The two CREATE INDEX below block writes to ticket.hold and ticket.orders
 * while they build (seconds for millions of rows): update between sales.
 */

/* ------------------------------------------------ src/catalogue.sql */

ALTER TABLE ticket.concert ADD COLUMN announce_at timestamptz;
COMMENT ON COLUMN ticket.concert.announce_at IS 'From when buyers see the draft concert as coming up (ticket.browse_concerts); NULL: only once it is on sale.';

CREATE OR REPLACE FUNCTION ticket._check_concert(c ticket.concert)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM ticket._check_text('title', c.title, 200);
	PERFORM ticket._check_text('venue', c.venue, 200, false);
	IF c.starts_at IS NULL THEN
		RAISE EXCEPTION 'starts_at must not be NULL' USING ERRCODE = '22004';
	END IF;
	IF c.sale_opens_at IS NULL THEN
		RAISE EXCEPTION 'sale_opens_at must not be NULL' USING ERRCODE = '22004';
	END IF;
	IF c.starts_at = 'infinity' OR c.starts_at = '-infinity'
	   OR c.sale_opens_at = 'infinity' OR c.sale_opens_at = '-infinity'
	   OR c.sale_closes_at = 'infinity' OR c.sale_closes_at = '-infinity' THEN
		RAISE EXCEPTION 'concert times must be finite' USING ERRCODE = '22023';
	END IF;
	IF c.announce_at = 'infinity' OR c.announce_at = '-infinity' THEN
		RAISE EXCEPTION 'announce_at must be finite' USING ERRCODE = '22023';
	END IF;
	IF c.sale_opens_at >= c.sale_closes_at THEN
		RAISE EXCEPTION 'the sale must open before it closes'
			USING ERRCODE = '22023',
			DETAIL = format('sale_opens_at is %s and sale_closes_at is %s.', c.sale_opens_at, c.sale_closes_at);
	END IF;
	IF c.sale_closes_at > c.starts_at THEN
		RAISE EXCEPTION 'the sale must close no later than the concert starts'
			USING ERRCODE = '22023',
			DETAIL = format('sale_closes_at is %s and starts_at is %s.', c.sale_closes_at, c.starts_at);
	END IF;
	PERFORM ticket._check_interval('hold_ttl', c.hold_ttl, '1 second', '1 day');
	PERFORM ticket._check_range('per_user_limit', c.per_user_limit, 1, 100);
	PERFORM ticket._check_range('admit_rate', c.admit_rate, 1, 100000);
	PERFORM ticket._check_interval('admission_ttl', c.admission_ttl, '1 second', '1 day');
	IF c.max_active IS NOT NULL THEN
		PERFORM ticket._check_range('max_active', c.max_active, 1, 10000000);
	END IF;
	IF c.queue IS NULL THEN
		RAISE EXCEPTION 'queue must not be NULL' USING ERRCODE = '22004';
	END IF;
	PERFORM ticket._check_range('pow_bits', c.pow_bits, 0, 32);
	IF c.pow_bits > 0 AND NOT c.queue THEN
		RAISE EXCEPTION 'pow_bits needs the queue'
			USING ERRCODE = '22023', HINT = 'The proof of work is asked for when joining the queue: set queue => true.';
	END IF;
	PERFORM ticket._check_interval('payment_timeout', c.payment_timeout, '1 second', '1 day');
	PERFORM ticket._check_range('payment_attempts', c.payment_attempts, 1, 20);
	IF c.accept_late_payments IS NULL THEN
		RAISE EXCEPTION 'accept_late_payments must not be NULL' USING ERRCODE = '22004';
	END IF;
END
$$;
COMMENT ON FUNCTION ticket._check_concert(ticket.concert) IS
	'Internal: raises 22004, 22023 or 22001 unless a concert row''s settings are valid.';

/* announce_at is a new argument: the old signatures go. */
DROP FUNCTION ticket.create_concert(text, timestamptz, timestamptz, text, timestamptz, interval, integer, integer, interval, integer, boolean, integer, interval, integer, boolean);
DROP FUNCTION ticket.update_concert(bigint, text, text, timestamptz, timestamptz, timestamptz, interval, integer, integer, interval, integer, boolean, integer, interval, integer, boolean);

CREATE FUNCTION ticket.create_concert(
	title text,
	starts_at timestamptz,
	sale_opens_at timestamptz,
	venue text DEFAULT NULL,
	sale_closes_at timestamptz DEFAULT NULL,
	hold_ttl interval DEFAULT '10 minutes',
	per_user_limit integer DEFAULT 4,
	admit_rate integer DEFAULT 100,
	admission_ttl interval DEFAULT '15 minutes',
	max_active integer DEFAULT NULL,
	queue boolean DEFAULT false,
	pow_bits integer DEFAULT 0,
	payment_timeout interval DEFAULT '10 minutes',
	payment_attempts integer DEFAULT 5,
	accept_late_payments boolean DEFAULT true,
	announce_at timestamptz DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c ticket.concert;
BEGIN
	c.title := title;
	c.venue := venue;
	c.starts_at := starts_at;
	c.sale_opens_at := sale_opens_at;
	c.sale_closes_at := coalesce(sale_closes_at, starts_at);
	c.hold_ttl := hold_ttl;
	c.per_user_limit := per_user_limit;
	c.admit_rate := admit_rate;
	c.admission_ttl := admission_ttl;
	c.max_active := max_active;
	c.queue := queue;
	c.pow_bits := pow_bits;
	c.payment_timeout := payment_timeout;
	c.payment_attempts := payment_attempts;
	c.accept_late_payments := accept_late_payments;
	c.announce_at := announce_at;
	IF starts_at <= now() THEN
		RAISE EXCEPTION 'starts_at must be in the future'
			USING ERRCODE = '22023', DETAIL = format('It was %s.', starts_at);
	END IF;
	PERFORM ticket._check_concert(c);

	INSERT INTO ticket.concert AS k (title, venue, starts_at, sale_opens_at, sale_closes_at,
		hold_ttl, per_user_limit, admit_rate, admission_ttl, max_active, queue, pow_bits,
		payment_timeout, payment_attempts, accept_late_payments, announce_at)
	VALUES (c.title, c.venue, c.starts_at, c.sale_opens_at, c.sale_closes_at,
		c.hold_ttl, c.per_user_limit, c.admit_rate, c.admission_ttl, c.max_active, c.queue, c.pow_bits,
		c.payment_timeout, c.payment_attempts, c.accept_late_payments, c.announce_at)
	RETURNING k.concert_id INTO c.concert_id;
	IF c.queue THEN
		PERFORM ticket._create_queue(c.concert_id);
	END IF;

	PERFORM ticket._bump_counter('concerts_created', 1);
	RETURN c.concert_id;
END
$$;
COMMENT ON FUNCTION ticket.create_concert(text, timestamptz, timestamptz, text, timestamptz, interval, integer, integer, interval, integer, boolean, integer, interval, integer, boolean, timestamptz) IS
	'Creates a draft concert with its sale settings and returns its concert_id; buyers see it from announce_at (coming up), or once it is on sale.';

CREATE FUNCTION ticket.update_concert(
	concert_id bigint,
	title text DEFAULT NULL,
	venue text DEFAULT NULL,
	starts_at timestamptz DEFAULT NULL,
	sale_opens_at timestamptz DEFAULT NULL,
	sale_closes_at timestamptz DEFAULT NULL,
	hold_ttl interval DEFAULT NULL,
	per_user_limit integer DEFAULT NULL,
	admit_rate integer DEFAULT NULL,
	admission_ttl interval DEFAULT NULL,
	max_active integer DEFAULT NULL,
	queue boolean DEFAULT NULL,
	pow_bits integer DEFAULT NULL,
	payment_timeout interval DEFAULT NULL,
	payment_attempts integer DEFAULT NULL,
	accept_late_payments boolean DEFAULT NULL,
	announce_at timestamptz DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	old ticket.concert;
	c ticket.concert;
BEGIN
	old := ticket._lock_concert(concert_id);
	IF old.state = 'cancelled' THEN
		RAISE EXCEPTION 'concert % is cancelled', concert_id
			USING ERRCODE = '55000', HINT = 'A cancelled concert cannot be changed.';
	END IF;

	c := old;
	c.title := coalesce(title, old.title);
	c.venue := coalesce(venue, old.venue);
	c.starts_at := coalesce(starts_at, old.starts_at);
	c.sale_opens_at := coalesce(sale_opens_at, old.sale_opens_at);
	c.sale_closes_at := coalesce(sale_closes_at, old.sale_closes_at);
	c.hold_ttl := coalesce(hold_ttl, old.hold_ttl);
	c.per_user_limit := coalesce(per_user_limit, old.per_user_limit);
	c.admit_rate := coalesce(admit_rate, old.admit_rate);
	c.admission_ttl := coalesce(admission_ttl, old.admission_ttl);
	/* NULL keeps the cap; 0 removes it. */
	c.max_active := CASE WHEN max_active = 0 THEN NULL ELSE coalesce(max_active, old.max_active) END;
	c.queue := coalesce(queue, old.queue);
	c.pow_bits := coalesce(pow_bits, old.pow_bits);
	c.payment_timeout := coalesce(payment_timeout, old.payment_timeout);
	c.payment_attempts := coalesce(payment_attempts, old.payment_attempts);
	c.accept_late_payments := coalesce(accept_late_payments, old.accept_late_payments);
	c.announce_at := coalesce(announce_at, old.announce_at);
	IF c.starts_at <> old.starts_at AND c.starts_at <= now() THEN
		RAISE EXCEPTION 'starts_at must be in the future'
			USING ERRCODE = '22023', DETAIL = format('It was %s.', c.starts_at);
	END IF;
	PERFORM ticket._check_concert(c);
	IF old.state <> 'draft' THEN
		IF c.sale_opens_at <> old.sale_opens_at THEN
			RAISE EXCEPTION 'the sale of concert % has already opened', concert_id
				USING ERRCODE = '55000', HINT = 'sale_opens_at can only be changed while the concert is a draft.';
		END IF;
		IF c.per_user_limit < old.per_user_limit THEN
			RAISE EXCEPTION 'per_user_limit cannot be lowered once the sale has opened'
				USING ERRCODE = '55000',
				DETAIL = format('Buyers may already hold or own %s seats each.', old.per_user_limit);
		END IF;
		IF c.queue <> old.queue THEN
			RAISE EXCEPTION 'the sale of concert % has already opened', concert_id
				USING ERRCODE = '55000', HINT = 'queue can only be changed while the concert is a draft.';
		END IF;
	END IF;

	UPDATE ticket.concert AS k
	   SET title = c.title, venue = c.venue, starts_at = c.starts_at,
		   sale_opens_at = c.sale_opens_at, sale_closes_at = c.sale_closes_at,
		   hold_ttl = c.hold_ttl, per_user_limit = c.per_user_limit,
		   admit_rate = c.admit_rate, admission_ttl = c.admission_ttl, max_active = c.max_active,
		   queue = c.queue, pow_bits = c.pow_bits, payment_timeout = c.payment_timeout,
		   payment_attempts = c.payment_attempts, accept_late_payments = c.accept_late_payments,
		   announce_at = c.announce_at
	 WHERE k.concert_id = concert_id;
	IF c.queue AND NOT old.queue THEN
		PERFORM ticket._create_queue(concert_id);
	ELSIF old.queue AND NOT c.queue THEN
		/* Still a draft: nobody has been admitted; the pre-queue goes. */
		DELETE FROM ticket.queue_entry AS e WHERE e.concert_id = concert_id;
		DELETE FROM ticket.queue AS q WHERE q.concert_id = concert_id;
	END IF;
END
$$;
COMMENT ON FUNCTION ticket.update_concert(bigint, text, text, timestamptz, timestamptz, timestamptz, interval, integer, integer, interval, integer, boolean, integer, interval, integer, boolean, timestamptz) IS
	'Changes a concert''s settings; NULL keeps a setting, max_active => 0 removes the cap.';

/* ------------------------------------------------ seats as a buyer sees them */

ALTER TYPE ticket.hold_result ADD ATTRIBUTE total numeric(12,2), ADD ATTRIBUTE seats json;
COMMENT ON TYPE ticket.hold_result IS
	'Result of ticket.hold and ticket.hold_best: status held (with hold_id, expires_at, seat_ids, their total price and seats: a JSON array of seat_id, section_id, section, row, seat, label, price), or taken, limit, closed, sold_out, no_adjacent, rate_limited, blocked (the rest NULL); a replayed idempotency key returns its hold with its current state.';

ALTER TYPE ticket.checkout_result ADD ATTRIBUTE seats json;
COMMENT ON TYPE ticket.checkout_result IS
	'Result of ticket.checkout and ticket.order_status: status pending (order and payment created; pay_by is the deadline), or, for a replayed key, the order''s state now (pending, paid, cancelled, refunded); expired, released or closed when the hold could not be checked out (the rest NULL). seats: a JSON array of seat_id, section_id, section, row, seat, label, price.';

CREATE FUNCTION ticket._seat_label(section text, seated boolean, row_no integer, seat_no integer)
RETURNS text
LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ticket_seat_label_sql';
COMMENT ON FUNCTION ticket._seat_label(text, boolean, integer, integer) IS
	'Internal: a seat''s printable label, "Floor A, row 3, seat 12" or "Pit, place 17". The rule every result that shows seats uses.';

CREATE FUNCTION ticket._seats_json(concert_id bigint, seat_ids integer[])
RETURNS json
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'ticket_seats_json_sql';
COMMENT ON FUNCTION ticket._seats_json(bigint, integer[]) IS
	'Internal: seats as a buyer sees them, a JSON array of objects with seat_id, section_id, section, row (null when standing), seat, label and price.';

CREATE FUNCTION ticket._seats_total(concert_id bigint, seat_ids integer[])
RETURNS numeric
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'ticket_seats_total_sql';
COMMENT ON FUNCTION ticket._seats_total(bigint, integer[]) IS
	'Internal: what the seats cost together, as checkout charges them.';

CREATE FUNCTION ticket._section_counts(concert_id bigint, section_id integer,
	OUT available integer, OUT held integer, OUT sold integer, OUT counted_at timestamptz)
RETURNS record
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_section_counts';
COMMENT ON FUNCTION ticket._section_counts(bigint, integer) IS
	'Internal: a section''s available, held and sold seats, counted at most ticket.catalogue_refresh ago (counted_at), by the free-seat rule of the holds.';

CREATE FUNCTION ticket._listed(c ticket.concert, at timestamptz)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN $1.state = 'on_sale' AND $1.sale_closes_at > $2 THEN 'on_sale'
		WHEN $1.state = 'draft' AND $1.announce_at <= $2 AND $1.seat_count > 0 AND $1.starts_at > $2 THEN 'coming_up'
	END;
$$;
COMMENT ON FUNCTION ticket._listed(ticket.concert, timestamptz) IS
	'Internal: how buyers see a concert at a time: on_sale, coming_up (a draft with seats, from announce_at), or NULL when it is not listed.';

CREATE FUNCTION ticket._listed_concert(concert_id bigint)
RETURNS ticket.concert
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c ticket.concert;
BEGIN
	IF concert_id IS NULL THEN
		RAISE EXCEPTION 'concert_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	SELECT * INTO c FROM ticket.concert AS k WHERE k.concert_id = concert_id;
	IF NOT FOUND OR ticket._listed(c, now()) IS NULL THEN
		RAISE EXCEPTION 'concert % is not on sale', concert_id
			USING ERRCODE = 'P0002', HINT = 'ticket.browse_concerts() lists the concerts on sale and coming up.';
	END IF;
	RETURN c;
END
$$;
COMMENT ON FUNCTION ticket._listed_concert(bigint) IS
	'Internal: a concert buyers may see; P0002 alike for one that does not exist and one that is not listed.';

CREATE FUNCTION ticket.browse_concerts()
RETURNS TABLE (concert_id bigint, title text, venue text, starts_at timestamptz,
	sale_opens_at timestamptz, sale_closes_at timestamptz, state text,
	min_price numeric(12,2), max_price numeric(12,2), waiting_room boolean, available bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT c.concert_id, c.title, c.venue, c.starts_at, c.sale_opens_at, c.sale_closes_at,
		   ticket._listed(c, now()), p.min_price, p.max_price, c.queue, p.available
	  FROM ticket.concert AS c
	 CROSS JOIN LATERAL (
		SELECT min(s.price) AS min_price, max(s.price) AS max_price,
			   sum((ticket._section_counts(s.concert_id, s.section_id)).available)::bigint AS available
		  FROM ticket.section AS s
		 WHERE s.concert_id = c.concert_id) AS p
	 WHERE c.state IN ('on_sale', 'draft') AND ticket._listed(c, now()) IS NOT NULL
	 ORDER BY c.starts_at, c.concert_id;
$$;
COMMENT ON FUNCTION ticket.browse_concerts() IS
	'For buyers: the concerts on sale and coming up (announced drafts), soonest first, with price range, whether a waiting room leads to the seats, and free seats (counted at most ticket.catalogue_refresh ago).';

CREATE FUNCTION ticket.browse_sections(concert_id bigint)
RETURNS TABLE (section_id integer, name text, grade text, price numeric(12,2), seated boolean,
	seat_rows integer, seats_per_row integer, capacity integer, available integer, counted_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	PERFORM ticket._listed_concert(concert_id);
	RETURN QUERY
	SELECT s.section_id, s.name, s.grade, s.price, s.seated, s.seat_rows, s.seats_per_row, s.capacity,
		   n.available, n.counted_at
	  FROM ticket.section AS s
	 CROSS JOIN LATERAL ticket._section_counts(s.concert_id, s.section_id) AS n
	 WHERE s.concert_id = concert_id
	 ORDER BY s.section_id;
END
$$;
COMMENT ON FUNCTION ticket.browse_sections(bigint) IS
	'For buyers: the sections of a concert on sale or coming up, with grade, price, capacity and free seats (counted at most ticket.catalogue_refresh ago, at counted_at); P0002 for a concert that is not listed.';

CREATE FUNCTION ticket.browse_seats(concert_id bigint, section_id integer, only_free boolean DEFAULT false)
RETURNS TABLE (seat_id integer, row_no integer, seat_no integer, label text, price numeric(12,2), free boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	s ticket.section;
BEGIN
	PERFORM ticket._listed_concert(concert_id);
	IF section_id IS NULL OR only_free IS NULL THEN
		RAISE EXCEPTION 'section_id and only_free must not be NULL' USING ERRCODE = '22004';
	END IF;
	SELECT * INTO s FROM ticket.section AS x WHERE x.concert_id = concert_id AND x.section_id = section_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'concert % has no section %', concert_id, section_id USING ERRCODE = 'P0002';
	END IF;
	/* Never who holds a seat: free or not, by the holds' own rule. */
	RETURN QUERY
	SELECT t.seat_id, t.row_no, t.seat_no, ticket._seat_label(s.name, s.seated, t.row_no, t.seat_no),
		   s.price, f.free
	  FROM ticket.seat AS t
	 CROSS JOIN LATERAL (SELECT ticket._seat_is_free(t.state, t.held_until, now()) AS free) AS f
	 WHERE t.concert_id = concert_id
	   AND t.seat_id BETWEEN s.first_seat_id AND s.first_seat_id + s.capacity - 1
	   AND (f.free OR NOT only_free)
	 ORDER BY t.seat_id;
END
$$;
COMMENT ON FUNCTION ticket.browse_seats(bigint, integer, boolean) IS
	'For buyers: the seats or places of a section in order, with row, number, printable label, price and whether each is free now (never who holds it); only_free leaves out the others. P0002 for a concert that is not listed or a section it does not have.';

/* ------------------------------------------------ src/hold.sql, src/checkout.sql */

/* A buyer's holds and orders, of one concert or of all: user first. */
DROP INDEX ticket.hold_buyer_idx;
CREATE INDEX hold_user_idx ON ticket.hold (user_id, concert_id);
DROP INDEX ticket.orders_buyer_idx;
CREATE INDEX orders_user_idx ON ticket.orders (user_id, concert_id);

CREATE OR REPLACE FUNCTION ticket._order_result(order_id bigint)
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

/* ------------------------------------------------ src/buyer.sql */

CREATE FUNCTION ticket._check_page(user_id text, max_rows integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM ticket._check_text('user_id', user_id);
	PERFORM ticket._check_range('max_rows', max_rows, 1, 1000);
	RETURN max_rows;
END
$$;
COMMENT ON FUNCTION ticket._check_page(text, integer) IS
	'Internal: max_rows, after raising 22004, 22001 or 22023 unless a buyer''s list may be read with these user_id and max_rows.';

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
	 LIMIT ticket._check_page($1, $4);
$$;
COMMENT ON FUNCTION ticket.my_holds(text, bigint, bigint, integer) IS
	'For buyers: a user''s holds, newest first (of one concert, or all), max_rows at a time (the next page: before_hold_id => the last hold_id), with state (an active hold past expires_at is expired), total, seats with labels and prices, and its order once checked out.';

CREATE FUNCTION ticket.my_orders(user_id text, concert_id bigint DEFAULT NULL,
	before_order_id bigint DEFAULT NULL, max_rows integer DEFAULT 20)
RETURNS TABLE (order_id bigint, concert_id bigint, title text, starts_at timestamptz, state text,
	amount numeric(12,2), seats json, created_at timestamptz, pay_by timestamptz, paid_at timestamptz,
	cancelled_at timestamptz, cancel_reason text, refund_state text, refunded numeric(12,2))
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT o.order_id, o.concert_id, c.title, c.starts_at, o.state::text, o.amount,
		   ticket._seats_json(o.concert_id, o.seat_ids),
		   o.created_at, o.pay_by, o.paid_at, o.cancelled_at, o.cancel_reason,
		   r.refund_state, r.refunded
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
	 WHERE o.user_id = $1			/* orders_user_idx (user_id, concert_id) */
	   AND (o.concert_id = $2 OR $2 IS NULL)
	   AND (o.order_id < $3 OR $3 IS NULL)
	 ORDER BY o.order_id DESC
	 LIMIT ticket._check_page($1, $4);
$$;
COMMENT ON FUNCTION ticket.my_orders(text, bigint, bigint, integer) IS
	'For buyers: a user''s orders, newest first (of one concert, or all), max_rows at a time (the next page: before_order_id => the last order_id), with state, amount, seats with labels and prices, when paid or cancelled and why, and the refund: requested, refunded or failed (NULL: none) and how much came back.';

/* ------------------------------------------------ src/privileges.sql */

REVOKE ALL ON FUNCTION
	ticket.create_concert(text, timestamptz, timestamptz, text, timestamptz, interval, integer, integer, interval, integer, boolean, integer, interval, integer, boolean, timestamptz),
	ticket.update_concert(bigint, text, text, timestamptz, timestamptz, timestamptz, interval, integer, integer, interval, integer, boolean, integer, interval, integer, boolean, timestamptz),
	ticket._seat_label(text, boolean, integer, integer),
	ticket._seats_json(bigint, integer[]),
	ticket._seats_total(bigint, integer[]),
	ticket._section_counts(bigint, integer),
	ticket._listed(ticket.concert, timestamptz),
	ticket._listed_concert(bigint),
	ticket.browse_concerts(),
	ticket.browse_sections(bigint),
	ticket.browse_seats(bigint, integer, boolean),
	ticket._check_page(text, integer),
	ticket.my_holds(text, bigint, bigint, integer),
	ticket.my_orders(text, bigint, bigint, integer)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	ticket.create_concert(text, timestamptz, timestamptz, text, timestamptz, interval, integer, integer, interval, integer, boolean, integer, interval, integer, boolean, timestamptz),
	ticket.update_concert(bigint, text, text, timestamptz, timestamptz, timestamptz, interval, integer, integer, interval, integer, boolean, integer, interval, integer, boolean, timestamptz)
TO ticket_admin;
GRANT EXECUTE ON FUNCTION
	ticket.browse_concerts(),
	ticket.browse_sections(bigint),
	ticket.browse_seats(bigint, integer, boolean),
	ticket.my_holds(text, bigint, bigint, integer),
	ticket.my_orders(text, bigint, bigint, integer)
TO ticket_customer, ticket_admin;
