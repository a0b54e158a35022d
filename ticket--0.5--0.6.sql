/* ticket--0.5--0.6.sql: from 0.5 to 0.6 */

\echo Use "ALTER EXTENSION ticket UPDATE TO '0.6'" to load this file. \quit

/*
 * 0.6 serves the buyer's side (issue 17):
 *
 * - A catalogue buyers may read (browse_concerts, browse_sections,
 *   browse_seats): concerts are listed once on sale, or as coming up from
 *   announce_at; free-seat counts come from shared memory
 *   (src/catalogue.c).
 * - Seats labelled and priced wherever a buyer sees them: hold_result gains
 *   total and seats, checkout_result gains seats (one C rule, src/sale.c).
 * - A buyer's own holds and orders (my_holds, my_orders), on indexes keyed
 *   by user first.
 * - The box office's tools: update_section, remove_section, delete_concert,
 *   retry_dead and retry_dead_refunds, sales_by_section, sales_by_hour,
 *   user_history.
 * - Every customer entry point draws on the user's rate-limit bucket (a
 *   poll a tenth of a token: _take_call), and my_events is a
 *   buyer's own feed (event_user_idx leaves the hold events out).
 * - Buyers' cancellations under a per-concert policy (cancellable,
 *   cancel_until, cancel_fee_percent, cancel_fee_fixed; cancel_order, the
 *   cancellation table); a refund job may now give back part of a capture,
 *   so payment_refund_idx allows one refund per cancellation besides the
 *   one for the rest of the capture.
 *
 * Same conventions as ticket--0.1--0.2.sql: CREATE OR REPLACE only for what
 * an earlier script created, with the same signature; the bodies are those
 * of the src files (copied with test/sql-bodies); test/t/010_upgrade.pl
 * checks that an install updated from 0.1 and a fresh one have the same
 * objects, definitions, grants and comments.
 *
 * The CREATE INDEX statements below block writes to ticket.hold,
 * ticket.orders and ticket.payment while they build (seconds for millions
 * of rows): update between sales.
 */

/* ------------------------------------------------ src/ticket.sql, src/parse.sql */

CREATE FUNCTION ticket._take_call(user_id text, poll boolean)
RETURNS boolean
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_take_call_sql';
COMMENT ON FUNCTION ticket._take_call(text, boolean) IS
	'Internal: takes a customer call (a poll: a tenth) from the user''s rate-limit bucket; false, counted as calls_rate_limited, when the bucket has too little.';

CREATE FUNCTION ticket._seat_list(seat_ids integer[], verb text)
RETURNS integer[]
LANGUAGE c IMMUTABLE
AS 'MODULE_PATHNAME', 'ticket_seat_list_sql';
COMMENT ON FUNCTION ticket._seat_list(integer[], text) IS
	'Internal: the seat ids sorted, by the rules of hold''s list (src/input.c): 22004 for NULL, 22023 for an empty, multi-dimensional or repeated list, a seat id below 1, or more than 100 seats ("cannot <verb> n seats").';

/* ------------------------------------------------ src/catalogue.sql */

ALTER TABLE ticket.concert
	ADD COLUMN announce_at timestamptz,
	ADD COLUMN cancellable boolean NOT NULL DEFAULT false,
	ADD COLUMN cancel_until interval NOT NULL DEFAULT '48 hours',
	ADD COLUMN cancel_fee_percent numeric(5,2) NOT NULL DEFAULT 0,
	ADD COLUMN cancel_fee_fixed numeric(12,2) NOT NULL DEFAULT 0,
	ADD COLUMN durable_holds boolean NOT NULL DEFAULT true;
COMMENT ON COLUMN ticket.concert.announce_at IS 'From when buyers see the draft concert as coming up (ticket.browse_concerts); NULL: only once it is on sale.';
COMMENT ON COLUMN ticket.concert.cancellable IS 'Whether buyers may cancel paid orders (ticket.cancel_order), until cancel_until before starts_at.';
COMMENT ON COLUMN ticket.concert.cancel_until IS 'How long before starts_at buyers'' cancellations stop.';
COMMENT ON COLUMN ticket.concert.cancel_fee_percent IS 'The share of the cancelled seats'' price a buyer''s cancellation keeps, in percent (plus cancel_fee_fixed, at most the price).';
COMMENT ON COLUMN ticket.concert.cancel_fee_fixed IS 'The fixed amount a buyer''s cancellation keeps (plus cancel_fee_percent, at most the price).';
COMMENT ON COLUMN ticket.concert.durable_holds IS 'false: a hold''s transaction commits without waiting for its WAL (a crash may lose a hold, never an order, a payment or a sold seat).';
COMMENT ON COLUMN ticket.concert.section_count IS 'Sections added so far; the next section_id is section_count + 1 (a removed section''s id is not reused).';

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
	IF c.durable_holds IS NULL THEN
		RAISE EXCEPTION 'durable_holds must not be NULL' USING ERRCODE = '22004';
	END IF;
	IF c.cancellable IS NULL THEN
		RAISE EXCEPTION 'cancellable must not be NULL' USING ERRCODE = '22004';
	END IF;
	PERFORM ticket._check_interval('cancel_until', c.cancel_until, '0', '365 days');
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

CREATE FUNCTION ticket._check_fees(percent numeric, fixed numeric)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM ticket._check_range('cancel_fee_percent', percent, 0, 100);
	PERFORM ticket._check_range('cancel_fee_fixed', fixed, 0, 1000000);
	IF percent <> round(percent, 2) OR fixed <> round(fixed, 2) THEN
		RAISE EXCEPTION 'cancellation fees must not have more than two decimal places'
			USING ERRCODE = '22023', DETAIL = format('They were %s %% and %s.', percent, fixed);
	END IF;
END
$$;
COMMENT ON FUNCTION ticket._check_fees(numeric, numeric) IS
	'Internal: raises 22004 or 22023 unless cancellation fees are 0-100 % and 0-1,000,000, with at most two decimals.';

CREATE FUNCTION ticket._check_section(name text, grade text, price numeric)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM ticket._check_text('name', name, 64);
	PERFORM ticket._check_text('grade', grade, 32);
	PERFORM ticket._check_range('price', price, 0.01, 1000000);
	IF price <> round(price, 2) THEN
		RAISE EXCEPTION 'price must not have more than two decimal places'
			USING ERRCODE = '22023', DETAIL = format('It was %s.', price);
	END IF;
END
$$;
COMMENT ON FUNCTION ticket._check_section(text, text, numeric) IS
	'Internal: raises 22004, 22023 or 22001 unless a section''s name (1-64 characters), grade (1-32) and price (0.01-1,000,000, two decimals) are valid.';

CREATE OR REPLACE FUNCTION ticket._add_seats(
	concert_id bigint, name text, grade text, price numeric,
	seat_rows integer, seats_per_row integer, capacity integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c ticket.concert;
	seated boolean := seat_rows IS NOT NULL;
	section_id integer;
	per_row integer := coalesce(seats_per_row, capacity);
BEGIN
	c := ticket._lock_concert(concert_id);
	IF c.state NOT IN ('draft', 'on_sale') THEN
		RAISE EXCEPTION 'sections cannot be added to a concert that is %', c.state
			USING ERRCODE = '55000';
	END IF;
	PERFORM ticket._check_section(name, grade, price);
	IF c.seat_count::bigint + capacity > 2000000 THEN
		RAISE EXCEPTION 'a concert may have at most 2000000 seats'
			USING ERRCODE = '22023',
			DETAIL = format('Concert %s has %s seats; this section would add %s.', concert_id, c.seat_count, capacity);
	END IF;
	IF EXISTS (SELECT FROM ticket.section AS s WHERE s.concert_id = concert_id AND s.name = name) THEN
		RAISE EXCEPTION 'concert % already has a section named "%"', concert_id, name
			USING ERRCODE = '23505';
	END IF;

	section_id := c.section_count + 1;
	INSERT INTO ticket.section (concert_id, section_id, name, grade, price, seated,
		seat_rows, seats_per_row, capacity, first_seat_id)
	VALUES (concert_id, section_id, name, grade, price, seated,
		seat_rows, seats_per_row, capacity, c.seat_count + 1);

	/* One set-based statement: seat ids continue the concert's numbering. */
	INSERT INTO ticket.seat (concert_id, seat_id, section_id, row_no, seat_no)
	SELECT concert_id, c.seat_count + 1 + g, section_id,
		   CASE WHEN seated THEN g / per_row + 1 END, g % per_row + 1
	  FROM generate_series(0, capacity - 1) AS g;

	UPDATE ticket.concert AS k
	   SET section_count = section_id, seat_count = k.seat_count + capacity
	 WHERE k.concert_id = concert_id;

	PERFORM ticket._bump_counter('sections_added', 1);
	PERFORM ticket._bump_counter('seats_generated', capacity);
	RETURN section_id;
END
$$;
COMMENT ON FUNCTION ticket._add_seats(bigint, text, text, numeric, integer, integer, integer) IS
	'Internal: validates and creates a section and its seats; shared by add_section and add_standing.';

CREATE OR REPLACE VIEW ticket.concerts AS
SELECT c.concert_id, c.title, c.venue,
	   CASE WHEN c.state = 'on_sale' AND c.sale_closes_at <= pg_catalog.now() THEN 'closed'::ticket.concert_state
			ELSE c.state END AS state,
	   c.starts_at, c.sale_opens_at, c.sale_closes_at,
	   count(s.section_id)::integer AS sections, c.seat_count AS capacity,
	   coalesce(sum(s.available), 0)::bigint AS available,
	   coalesce(sum(s.held), 0)::bigint AS held,
	   coalesce(sum(s.sold), 0)::bigint AS sold,
	   coalesce(sum(s.sold * s.price), 0)::numeric(14,2) AS revenue
  FROM ticket.concert AS c
  LEFT JOIN ticket.sections AS s ON s.concert_id = c.concert_id
 GROUP BY c.concert_id;
COMMENT ON VIEW ticket.concerts IS
	'Each concert with its state (closed once sale_closes_at has passed), sale window and capacity by seat state.';

CREATE FUNCTION ticket.update_section(concert_id bigint, section_id integer,
	name text DEFAULT NULL, grade text DEFAULT NULL, price numeric DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c ticket.concert;
	s ticket.section;
BEGIN
	c := ticket._lock_concert(concert_id);
	IF section_id IS NULL THEN
		RAISE EXCEPTION 'section_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	SELECT * INTO s FROM ticket.section AS x WHERE x.concert_id = concert_id AND x.section_id = section_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'concert % has no section %', concert_id, section_id USING ERRCODE = 'P0002';
	END IF;
	PERFORM ticket._check_section(coalesce(name, s.name), coalesce(grade, s.grade), coalesce(price, s.price));
	IF c.state = 'cancelled' THEN
		RAISE EXCEPTION 'concert % is cancelled', concert_id
			USING ERRCODE = '55000', HINT = 'A cancelled concert cannot be changed.';
	END IF;
	/* Buyers were shown the section as it is: no sold seat, and no held one for a new price. */
	IF EXISTS (SELECT FROM ticket.seat AS t
				WHERE t.concert_id = concert_id
				  AND t.seat_id BETWEEN s.first_seat_id AND s.first_seat_id + s.capacity - 1
				  AND t.state = 'sold') THEN
		RAISE EXCEPTION 'section % of concert % has sold seats', section_id, concert_id
			USING ERRCODE = '55000', HINT = 'A section is renamed or re-priced only before any of its seats is sold.';
	END IF;
	/* An order of its seats, whatever its state, may still be paid at the old price (a late payment). */
	IF price IS DISTINCT FROM s.price AND price IS NOT NULL
	   AND EXISTS (SELECT FROM ticket.orders AS o CROSS JOIN LATERAL unnest(o.seat_ids) AS u(seat_id)
					WHERE o.concert_id = concert_id
					  AND u.seat_id BETWEEN s.first_seat_id AND s.first_seat_id + s.capacity - 1) THEN
		RAISE EXCEPTION 'section % of concert % has orders', section_id, concert_id
			USING ERRCODE = '55000', HINT = 'A section is re-priced only before any of its seats is checked out.';
	END IF;
	IF price IS DISTINCT FROM s.price AND price IS NOT NULL
	   AND EXISTS (SELECT FROM ticket.seat AS t
					WHERE t.concert_id = concert_id
					  AND t.seat_id BETWEEN s.first_seat_id AND s.first_seat_id + s.capacity - 1
					  AND t.state = 'held' AND NOT ticket._seat_is_free(t.state, t.held_until, now())) THEN
		RAISE EXCEPTION 'section % of concert % has held seats', section_id, concert_id
			USING ERRCODE = '55000',
			HINT = 'Buyers holding them were shown the old price: re-price when no hold is live (pause admission, or wait).';
	END IF;
	IF name IS NOT NULL AND name <> s.name
	   AND EXISTS (SELECT FROM ticket.section AS x WHERE x.concert_id = concert_id AND x.name = name) THEN
		RAISE EXCEPTION 'concert % already has a section named "%"', concert_id, name USING ERRCODE = '23505';
	END IF;
	UPDATE ticket.section AS x
	   SET name = coalesce(name, s.name), grade = coalesce(grade, s.grade), price = coalesce(price, s.price)
	 WHERE x.concert_id = concert_id AND x.section_id = section_id;
END
$$;
COMMENT ON FUNCTION ticket.update_section(bigint, integer, text, text, numeric) IS
	'Renames, regrades or re-prices a section (NULL keeps a setting) while none of its seats is sold, and re-prices only while none is held or in an order.';

CREATE FUNCTION ticket.remove_section(concert_id bigint, section_id integer)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c ticket.concert;
	s ticket.section;
BEGIN
	c := ticket._lock_concert(concert_id);
	IF section_id IS NULL THEN
		RAISE EXCEPTION 'section_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	SELECT * INTO s FROM ticket.section AS x WHERE x.concert_id = concert_id AND x.section_id = section_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'concert % has no section %', concert_id, section_id USING ERRCODE = 'P0002';
	END IF;
	IF c.state <> 'draft' THEN
		RAISE EXCEPTION 'concert % is %', concert_id, c.state
			USING ERRCODE = '55000', HINT = 'Sections are removed only while the concert is a draft.';
	END IF;
	IF c.announce_at <= now() THEN
		RAISE EXCEPTION 'concert % is announced', concert_id
			USING ERRCODE = '55000',
			DETAIL = 'Buyers can see its seat ids (ticket.browse_seats); removing a section would renumber them.',
			HINT = 'Remove sections before announce_at, or move announce_at later with ticket.update_concert.';
	END IF;
	/*
	 * Seat ids stay 1 .. seat_count without gaps: the seats after the
	 * section move down by its capacity, through negative ids so that no
	 * two rows ever share a key on the way.
	 */
	DELETE FROM ticket.seat AS t
	 WHERE t.concert_id = concert_id AND t.seat_id BETWEEN s.first_seat_id AND s.first_seat_id + s.capacity - 1;
	UPDATE ticket.seat AS t SET seat_id = -(t.seat_id - s.capacity)
	 WHERE t.concert_id = concert_id AND t.seat_id >= s.first_seat_id + s.capacity;
	UPDATE ticket.seat AS t SET seat_id = -t.seat_id WHERE t.concert_id = concert_id AND t.seat_id < 0;
	DELETE FROM ticket.section AS x WHERE x.concert_id = concert_id AND x.section_id = section_id;
	UPDATE ticket.section AS x SET first_seat_id = x.first_seat_id - s.capacity
	 WHERE x.concert_id = concert_id AND x.first_seat_id > s.first_seat_id;
	UPDATE ticket.concert AS k SET seat_count = k.seat_count - s.capacity WHERE k.concert_id = concert_id;
END
$$;
COMMENT ON FUNCTION ticket.remove_section(bigint, integer) IS
	'Removes a section and its seats from a draft concert not yet announced; later seats are renumbered so that seat ids stay 1 .. seat_count (section ids are kept).';

CREATE FUNCTION ticket.delete_concert(concert_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c ticket.concert;
BEGIN
	c := ticket._lock_concert(concert_id);
	IF c.state <> 'draft' THEN
		RAISE EXCEPTION 'concert % is %', concert_id, c.state
			USING ERRCODE = '55000', HINT = 'Only a draft is deleted; ticket.cancel_concert ends a concert that has been on sale.';
	END IF;
	IF EXISTS (SELECT FROM ticket.queue AS q WHERE q.concert_id = concert_id AND q.scheduled) THEN
		PERFORM ticket.unschedule_admission(concert_id);
	END IF;
	/* A draft has no holds or orders; its pre-queue goes with it. */
	DELETE FROM ticket.queue_departure AS d WHERE d.concert_id = concert_id;
	DELETE FROM ticket.queue_entry AS e WHERE e.concert_id = concert_id;
	DELETE FROM ticket.queue AS q WHERE q.concert_id = concert_id;
	DELETE FROM ticket.seat AS t WHERE t.concert_id = concert_id;
	DELETE FROM ticket.section AS x WHERE x.concert_id = concert_id;
	DELETE FROM ticket.concert AS k WHERE k.concert_id = concert_id;
END
$$;
COMMENT ON FUNCTION ticket.delete_concert(bigint) IS
	'Deletes a draft concert with its sections, seats and pre-queue; one that has been on sale is cancelled instead (ticket.cancel_concert).';

/* New arguments: the old signatures go. */
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
	announce_at timestamptz DEFAULT NULL,
	cancellable boolean DEFAULT false,
	cancel_until interval DEFAULT '48 hours',
	cancel_fee_percent numeric DEFAULT 0,
	cancel_fee_fixed numeric DEFAULT 0,
	durable_holds boolean DEFAULT true)
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
	c.cancellable := cancellable;
	c.cancel_until := cancel_until;
	PERFORM ticket._check_fees(cancel_fee_percent, cancel_fee_fixed);
	c.cancel_fee_percent := cancel_fee_percent;
	c.cancel_fee_fixed := cancel_fee_fixed;
	c.durable_holds := durable_holds;
	IF starts_at <= now() THEN
		RAISE EXCEPTION 'starts_at must be in the future'
			USING ERRCODE = '22023', DETAIL = format('It was %s.', starts_at);
	END IF;
	PERFORM ticket._check_concert(c);

	INSERT INTO ticket.concert AS k (title, venue, starts_at, sale_opens_at, sale_closes_at,
		hold_ttl, per_user_limit, admit_rate, admission_ttl, max_active, queue, pow_bits,
		payment_timeout, payment_attempts, accept_late_payments, announce_at,
		cancellable, cancel_until, cancel_fee_percent, cancel_fee_fixed, durable_holds)
	VALUES (c.title, c.venue, c.starts_at, c.sale_opens_at, c.sale_closes_at,
		c.hold_ttl, c.per_user_limit, c.admit_rate, c.admission_ttl, c.max_active, c.queue, c.pow_bits,
		c.payment_timeout, c.payment_attempts, c.accept_late_payments, c.announce_at,
		c.cancellable, c.cancel_until, c.cancel_fee_percent, c.cancel_fee_fixed, c.durable_holds)
	RETURNING k.concert_id INTO c.concert_id;
	IF c.queue THEN
		PERFORM ticket._create_queue(c.concert_id);
	END IF;

	PERFORM ticket._bump_counter('concerts_created', 1);
	RETURN c.concert_id;
END
$$;
COMMENT ON FUNCTION ticket.create_concert(text, timestamptz, timestamptz, text, timestamptz, interval, integer, integer, interval, integer, boolean, integer, interval, integer, boolean, timestamptz, boolean, interval, numeric, numeric, boolean) IS
	'Creates a draft concert with its sale settings and returns its concert_id; buyers see it from announce_at (coming up), or once it is on sale, and may cancel paid orders if it is cancellable.';

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
	announce_at timestamptz DEFAULT NULL,
	cancellable boolean DEFAULT NULL,
	cancel_until interval DEFAULT NULL,
	cancel_fee_percent numeric DEFAULT NULL,
	cancel_fee_fixed numeric DEFAULT NULL,
	durable_holds boolean DEFAULT NULL)
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
	c.cancellable := coalesce(cancellable, old.cancellable);
	c.cancel_until := coalesce(cancel_until, old.cancel_until);
	PERFORM ticket._check_fees(coalesce(cancel_fee_percent, old.cancel_fee_percent),
							   coalesce(cancel_fee_fixed, old.cancel_fee_fixed));
	c.cancel_fee_percent := coalesce(cancel_fee_percent, old.cancel_fee_percent);
	c.cancel_fee_fixed := coalesce(cancel_fee_fixed, old.cancel_fee_fixed);
	c.durable_holds := coalesce(durable_holds, old.durable_holds);
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
		   announce_at = c.announce_at, cancellable = c.cancellable, cancel_until = c.cancel_until,
		   cancel_fee_percent = c.cancel_fee_percent, cancel_fee_fixed = c.cancel_fee_fixed,
		   durable_holds = c.durable_holds
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
COMMENT ON FUNCTION ticket.update_concert(bigint, text, text, timestamptz, timestamptz, timestamptz, interval, integer, integer, interval, integer, boolean, integer, interval, integer, boolean, timestamptz, boolean, interval, numeric, numeric, boolean) IS
	'Changes a concert''s settings; NULL keeps a setting, max_active => 0 removes the cap.';

/* ------------------------------------------------ seats as a buyer sees them */

ALTER TYPE ticket.hold_result ADD ATTRIBUTE total numeric(12,2), ADD ATTRIBUTE seats json;
COMMENT ON TYPE ticket.hold_result IS
	'Result of ticket.hold and ticket.hold_best: status held (with hold_id, expires_at, seat_ids, their total price and seats: a JSON array of seat_id, section_id, section, row, seat, label, price), or taken, limit, closed, sold_out, no_adjacent, rate_limited, blocked (the rest NULL); a replayed idempotency key returns its hold with its current state.';

ALTER TYPE ticket.checkout_result ADD ATTRIBUTE seats json;
COMMENT ON TYPE ticket.checkout_result IS
	'Result of ticket.checkout and ticket.order_status: status pending (order and payment created; pay_by is the deadline), or, for a replayed key, the order''s state now (pending, paid, cancelled, refunded); expired, released or closed when the hold could not be checked out (the rest NULL). seats: a JSON array of seat_id, section_id, section, row, seat, label, price.';

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
LANGUAGE plpgsql STABLE SECURITY DEFINER
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
	/* one answer for both, so that nothing about a concert not listed leaks */
	IF NOT FOUND OR ticket._listed(c, now()) IS NULL THEN
		RAISE EXCEPTION 'concert % is not on sale', concert_id
			USING ERRCODE = 'P0002', HINT = 'ticket.browse_concerts() lists the concerts on sale and coming up.';
	END IF;
	RETURN c;
END
$$;
COMMENT ON FUNCTION ticket._listed_concert(bigint) IS
	'Internal: a concert buyers may see; P0002 alike for one that does not exist and one that is not listed. SECURITY DEFINER: browse_seats (C) calls it for buyers who may not read ticket.concert.';

CREATE FUNCTION ticket.browse_concerts()
RETURNS TABLE (concert_id bigint, title text, venue text, starts_at timestamptz,
	sale_opens_at timestamptz, sale_closes_at timestamptz, state text,
	min_price numeric(12,2), max_price numeric(12,2), waiting_room boolean, available bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	/* a sale open_sale opened early says when it opened, not when it was planned to */
	SELECT c.concert_id, c.title, c.venue, c.starts_at,
		   CASE WHEN l.state = 'on_sale' THEN coalesce(c.opened_at, c.sale_opens_at) ELSE c.sale_opens_at END,
		   c.sale_closes_at, l.state, p.min_price, p.max_price, c.queue, p.available
	  FROM ticket.concert AS c
	 CROSS JOIN LATERAL (SELECT ticket._listed(c, now()) AS state) AS l
	 CROSS JOIN LATERAL (
		SELECT min(s.price) AS min_price, max(s.price) AS max_price,
			   sum((ticket._section_counts(s.concert_id, s.section_id)).available)::bigint AS available
		  FROM ticket.section AS s
		 WHERE s.concert_id = c.concert_id) AS p
	 WHERE c.state IN ('on_sale', 'draft') AND l.state IS NOT NULL
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
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'ticket_browse_seats';
COMMENT ON FUNCTION ticket.browse_seats(bigint, integer, boolean) IS
	'For buyers: the seats or places of a section in order, with row, number, printable label, price and whether each is free now (never who holds it); only_free leaves out the others. P0002 for a concert that is not listed or a section it does not have.';

/* ------------------------------------------------ src/hold.sql, src/checkout.sql */

/* A buyer's holds and orders, of one concert or of all: user first. */
DROP INDEX ticket.hold_buyer_idx;
CREATE INDEX hold_user_idx ON ticket.hold (user_id, concert_id);
DROP INDEX ticket.orders_buyer_idx;
CREATE INDEX orders_user_idx ON ticket.orders (user_id, concert_id);

CREATE OR REPLACE FUNCTION ticket.release(hold_id bigint, user_id text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	h ticket.hold;
	outcome ticket.hold_state;
BEGIN
	IF hold_id IS NULL OR user_id IS NULL THEN
		RAISE EXCEPTION 'hold_id and user_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	PERFORM ticket._check_text('user_id', user_id);
	h := ticket._own_hold(hold_id, user_id, 'release it');
	IF NOT ticket._take_call(user_id, false) THEN
		RETURN 'rate_limited';
	END IF;
	IF h.state IN ('checking_out', 'confirmed') THEN
		RAISE EXCEPTION 'hold % is %', hold_id, h.state
			USING ERRCODE = '55000', HINT = 'A hold in checkout or paid for is undone by compensation, not release.';
	END IF;
	IF h.state <> 'active' THEN
		RETURN h.state::text;
	END IF;

	PERFORM ticket._lock_seats(h.concert_id, h.seat_ids);
	PERFORM ticket._free_seats(h.concert_id, h.seat_ids, h.hold_id);
	outcome := CASE WHEN ticket._hold_is_live(h.state, h.expires_at, now()) THEN 'released' ELSE 'expired' END;
	UPDATE ticket.hold AS x SET state = outcome, ended_at = now() WHERE x.hold_id = hold_id;
	PERFORM ticket._event(h.concert_id, 'hold_' || outcome::text, hold_id, user_id, NULL);
	RETURN outcome::text;
END
$$;
COMMENT ON FUNCTION ticket.release(bigint, text) IS
	'Gives a hold''s seats back at once (only its user may); returns released, or expired / the state it had already ended in, or rate_limited (nothing done).';

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

CREATE OR REPLACE FUNCTION ticket.order_status(order_id bigint, user_id text)
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

/* ------------------------------------------------ src/queue.sql: a call's cost in tokens */

/* A result column every driver can map: pass is a word Python reserves. */
ALTER TYPE ticket.queue_status RENAME ATTRIBUTE pass TO pass_token;
COMMENT ON TYPE ticket.queue_status IS
	'A user''s place in a waiting room: state prequeue, waiting (with position = people ahead, eta, and note = why admission is slower than admit_rate: paused, payments behind, recovering, slots full, no seats free), admitted (with pass_token, the pass to give hold, and expires_at), done (paid or reached the limit), expired, sold_out, closed, left, blocked, none (never joined); join_queue may also answer rate_limited or challenge.';

CREATE OR REPLACE FUNCTION ticket.queue_status(concert_id bigint, user_id text)
RETURNS ticket.queue_status
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'ticket_queue_status';
COMMENT ON FUNCTION ticket.queue_status(bigint, text) IS
	'A user''s state in a concert''s waiting room: position and ETA while waiting, the signed pass once admitted, or rate_limited (a poll takes a tenth of a token from the user''s bucket). Reads two rows, whatever the length of the line.';

CREATE FUNCTION ticket._queue_state(concert_id bigint, user_id text)
RETURNS ticket.queue_status
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'ticket_queue_state';
COMMENT ON FUNCTION ticket._queue_state(bigint, text) IS
	'Internal: ticket.queue_status without taking a poll''s token, for join_queue (which took a call''s) and leave_queue (not limited).';

CREATE OR REPLACE FUNCTION ticket.join_queue(
	concert_id bigint,
	user_id text,
	client_key text DEFAULT NULL,
	challenge text DEFAULT NULL,
	solution text DEFAULT NULL)
RETURNS ticket.queue_status
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c ticket.concert;
	e ticket.queue_entry;
	drawn boolean;
	r ticket.queue_status;
	had_entry boolean;
BEGIN
	IF concert_id IS NULL THEN
		RAISE EXCEPTION 'concert_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	PERFORM ticket._check_text('user_id', user_id);
	PERFORM ticket._check_text('client_key', client_key, required => false);
	PERFORM ticket._check_text('challenge', challenge, 200, false);
	PERFORM ticket._check_text('solution', solution, required => false);
	PERFORM ticket._require_preloaded('ticket.join_queue()');
	SELECT * INTO c FROM ticket.concert AS k WHERE k.concert_id = concert_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'concert % does not exist', concert_id USING ERRCODE = 'P0002';
	END IF;
	IF NOT c.queue THEN
		RAISE EXCEPTION 'concert % has no waiting room', concert_id
			USING ERRCODE = '55000', HINT = 'Buyers hold seats directly; ticket.update_concert(queue => true) adds one while it is a draft.';
	END IF;
	r.concert_id := concert_id;
	r.user_id := user_id;
	IF NOT ticket._rate_allow(user_id, client_key) THEN
		PERFORM ticket._bump_counter('queue_rate_limited', 1);
		r.state := 'rate_limited';
		RETURN r;
	END IF;
	IF c.state IN ('closed', 'cancelled') THEN
		r.state := 'closed';
		RETURN r;
	END IF;
	IF EXISTS (SELECT FROM ticket.blocked_user AS b WHERE b.user_id = user_id) THEN
		PERFORM ticket._bump_counter('queue_blocked', 1);
		r.state := 'blocked';
		RETURN r;
	END IF;

	/* One call per user at a time: joining again returns the same place. */
	PERFORM ticket._lock_buyer(concert_id, user_id);
	SELECT * INTO e FROM ticket.queue_entry AS x WHERE x.concert_id = concert_id AND x.user_id = user_id;
	had_entry := FOUND;
	IF had_entry AND (e.state IN ('prequeue', 'waiting')
					  OR (e.state = 'admitted' AND e.expires_at > now())) THEN
		RETURN ticket._queue_state(concert_id, user_id);
	END IF;

	IF c.pow_bits > 0 THEN
		IF challenge IS NULL OR solution IS NULL THEN
			r.state := 'challenge';
			RETURN r;
		END IF;
		PERFORM ticket._check_work(challenge, solution, concert_id, user_id, c.pow_bits);
	END IF;

	/* No place yet: the next admission step numbers joiners in join order. */
	SELECT q.drawn_at IS NOT NULL INTO drawn FROM ticket.queue AS q WHERE q.concert_id = concert_id;
	IF NOT had_entry THEN
		INSERT INTO ticket.queue_entry AS x (concert_id, user_id, state, joined_at, client_key)
		VALUES (concert_id, user_id, CASE WHEN drawn THEN 'waiting' ELSE 'prequeue' END::ticket.queue_entry_state,
				now(), client_key);
	ELSE
		/* Back after leaving, being unblocked or letting an admission expire: at the back. */
		UPDATE ticket.queue_entry AS x
		   SET state = CASE WHEN drawn THEN 'waiting' ELSE 'prequeue' END::ticket.queue_entry_state,
			   seq = NULL, joined_at = now(), admitted_at = NULL, expires_at = NULL, left_at = NULL,
			   client_key = client_key, join_seq = pg_catalog.nextval('ticket.queue_join_seq')
		 WHERE x.concert_id = concert_id AND x.user_id = user_id;
	END IF;
	PERFORM ticket._bump_counter('queue_joined', 1);
	RETURN ticket._queue_state(concert_id, user_id);
END
$$;
COMMENT ON FUNCTION ticket.join_queue(bigint, text, text, text, text) IS
	'Puts a user in a concert''s waiting room (the pre-queue before opening) and returns their status; joining again returns the same place.';

CREATE OR REPLACE FUNCTION ticket.leave_queue(concert_id bigint, user_id text)
RETURNS ticket.queue_status
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	IF concert_id IS NULL THEN
		RAISE EXCEPTION 'concert_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	PERFORM ticket._check_text('user_id', user_id);
	IF NOT EXISTS (SELECT FROM ticket.queue AS q WHERE q.concert_id = concert_id) THEN
		PERFORM ticket._lock_concert(concert_id);	/* P0002 if there is no such concert */
		RAISE EXCEPTION 'concert % has no waiting room', concert_id USING ERRCODE = '55000';
	END IF;
	IF ticket._leave(concert_id, user_id, 'left') THEN
		PERFORM ticket._bump_counter('queue_left', 1);
	END IF;
	RETURN ticket._queue_state(concert_id, user_id);
END
$$;
COMMENT ON FUNCTION ticket.leave_queue(bigint, text) IS
	'Takes a user out of a concert''s waiting room (those behind move up; an admitted user frees a slot); joining again goes to the back.';

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
SELECT pg_catalog.pg_extension_config_dump('ticket.cancellation', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.cancellation_cancellation_id_seq', '');

/* ------------------------------------------------ src/payment.sql */

ALTER TABLE ticket.payment ADD COLUMN cancellation_id bigint REFERENCES ticket.cancellation;
COMMENT ON COLUMN ticket.payment.cancellation_id IS
	'The buyer''s cancellation (ticket.cancellation) a refund gives money back for; NULL for every other job.';

DROP INDEX ticket.payment_refund_idx;
/*
 * One refund per captured provider reference (the rest of it, for an order
 * undone), and one per buyer's cancellation: a refund is never requested
 * twice.
 */
CREATE UNIQUE INDEX payment_refund_idx ON ticket.payment (refund_ref, (coalesce(cancellation_id, 0))) WHERE kind = 'refund';

/* A refund of part of a capture: new arguments. */
DROP FUNCTION ticket._request_refund(ticket.payment, text, text);

CREATE FUNCTION ticket._request_refund(charge ticket.payment, ref text, reason text,
	refund_amount numeric DEFAULT NULL, of_cancellation bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id bigint;
	o ticket.orders;
	give numeric(12,2) := refund_amount;
BEGIN
	SELECT * INTO o FROM ticket.orders AS x WHERE x.order_id = charge.order_id;
	/* Never more than is left of the capture. */
	SELECT least(coalesce(give, charge.amount), charge.amount - coalesce(sum(r.amount), 0)) INTO give
	  FROM ticket.payment AS r
	 WHERE r.kind = 'refund' AND r.refund_ref = ref;
	IF give <= 0 THEN
		RETURN NULL;	/* given back already */
	END IF;
	INSERT INTO ticket.payment AS p (order_id, kind, refund_of, refund_ref, cancellation_id, amount, max_attempts,
									 next_attempt_at, last_error)
	VALUES (charge.order_id, 'refund', charge.payment_id, ref, of_cancellation, give,
			(SELECT k.payment_attempts FROM ticket.concert AS k WHERE k.concert_id = o.concert_id), now(), reason)
	ON CONFLICT (refund_ref, (coalesce(cancellation_id, 0))) WHERE kind = 'refund' DO NOTHING
	RETURNING p.payment_id INTO id;
	IF id IS NOT NULL THEN
		PERFORM ticket._event(o.concert_id, 'refund_requested', o.order_id, o.user_id,
			jsonb_build_object('payment_id', id, 'refund_of', charge.payment_id, 'amount', give, 'reason', reason));
		PERFORM ticket._bump_counter('refunds_requested', 1);
	END IF;
	RETURN id;
END
$$;
COMMENT ON FUNCTION ticket._request_refund(ticket.payment, text, text, numeric, bigint) IS
	'Internal: adds a refund job for a captured provider reference, once: of amount for a buyer''s cancellation, else of what the cancellations have not refunded (NULL if one exists or nothing is left).';

CREATE OR REPLACE FUNCTION ticket.payment_succeeded(payment_id bigint, provider_ref text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_variable
DECLARE
	p ticket.payment;
	o ticket.orders;
	c ticket.concert;
BEGIN
	PERFORM ticket._check_text('provider_ref', provider_ref);
	p := ticket._lock_payment(payment_id);
	SELECT * INTO o FROM ticket.orders AS x WHERE x.order_id = p.order_id FOR UPDATE;

	IF p.kind = 'refund' THEN
		IF p.state = 'succeeded' THEN
			RETURN 'refunded';
		END IF;
		UPDATE ticket.payment AS x SET state = 'succeeded', provider_ref = provider_ref, finished_at = now(),
			   lease_owner = NULL, lease_until = NULL, dead_at = NULL
		 WHERE x.payment_id = payment_id;
		/* A buyer's cancellation gives back part of a capture: the charge stays captured. */
		UPDATE ticket.payment AS x SET state = 'refunded', finished_at = now()
		 WHERE x.payment_id = p.refund_of AND x.provider_ref = p.refund_ref AND p.cancellation_id IS NULL;
		PERFORM ticket._event(o.concert_id, 'refund_succeeded', o.order_id, o.user_id,
			jsonb_build_object('payment_id', payment_id, 'amount', p.amount));
		/* Nothing captured is left, but a buyer's cancellation fee: the order is refunded. */
		IF o.state = 'cancelled' AND NOT EXISTS (
			SELECT FROM ticket.payment AS x WHERE x.order_id = o.order_id AND x.kind = 'charge' AND x.state = 'succeeded'
			   AND NOT EXISTS (SELECT FROM ticket.payment AS r
								WHERE r.kind = 'refund' AND r.refund_ref = x.provider_ref AND r.state = 'succeeded'))
		   AND NOT EXISTS (
			SELECT FROM ticket.payment AS x WHERE x.order_id = o.order_id AND x.kind = 'refund' AND x.state <> 'succeeded') THEN
			UPDATE ticket.orders AS x SET state = 'refunded', refunded_at = now() WHERE x.order_id = o.order_id;
			PERFORM ticket._event(o.concert_id, 'order_refunded', o.order_id, o.user_id, NULL);
		END IF;
		PERFORM ticket._bump_counter('refunds_succeeded', 1);
		RETURN 'refunded';
	END IF;

	/* A charge.  Reported again: the first report stands. */
	IF p.state IN ('succeeded', 'refunded') THEN
		IF p.provider_ref IS DISTINCT FROM provider_ref THEN
			/* The provider took the money twice: give the second back. */
			PERFORM ticket._request_refund(p, provider_ref, 'duplicate capture');
			RETURN 'refunding';
		END IF;
		RETURN CASE WHEN o.state = 'paid' THEN 'paid' WHEN p.state = 'refunded' OR o.state = 'refunded' THEN 'refunded'
					ELSE 'refunding' END;
	END IF;

	UPDATE ticket.payment AS x SET state = 'succeeded', provider_ref = provider_ref, finished_at = now(),
		   lease_owner = NULL, lease_until = NULL
	 WHERE x.payment_id = payment_id;
	p.state := 'succeeded';
	PERFORM ticket._event(o.concert_id, 'payment_succeeded', o.order_id, o.user_id,
		jsonb_build_object('payment_id', payment_id, 'provider_ref', provider_ref, 'amount', p.amount,
						   'late', o.state <> 'pending'));
	PERFORM ticket._bump_counter('payments_succeeded', 1);

	SELECT * INTO c FROM ticket.concert AS k WHERE k.concert_id = o.concert_id;
	IF o.state = 'pending' OR (o.state = 'cancelled' AND c.accept_late_payments AND c.state <> 'cancelled'
							   AND NOT EXISTS (SELECT FROM ticket.saga AS g
												WHERE g.order_id = o.order_id AND g.state = 'running')) THEN
		IF ticket._sell(o) THEN
			/* An automatic compensation not yet run has nothing left to undo. */
			UPDATE ticket.saga AS g SET state = 'skipped', finished_at = now()
			 WHERE g.order_id = o.order_id AND g.state = 'running' AND g.if_unpaid;
			RETURN 'paid';
		END IF;
	END IF;
	/* Too late to sell: compensate (pending) and give the money back. */
	IF o.state = 'pending' THEN
		PERFORM ticket._start_saga(o.order_id, 'paid after its seats went to another buyer', false);
	ELSE
		PERFORM ticket._request_refund(p, provider_ref, 'paid after the order was ' || o.state::text);
	END IF;
	RETURN 'refunding';
END
$$;
COMMENT ON FUNCTION ticket.payment_succeeded(bigint, text) IS
	'For the payment adapter: the provider took the money (charge) or gave it back (refund). Returns paid, refunding (a late payment whose seats are gone, or a duplicate capture) or refunded. Reporting again is harmless.';

CREATE OR REPLACE FUNCTION ticket.report_payments(reports jsonb)
RETURNS TABLE (payment_id bigint, status text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
	r record;
	n integer;
	v jsonb;
	i bigint;
BEGIN
	IF reports IS NULL THEN
		RAISE EXCEPTION 'reports must not be NULL' USING ERRCODE = '22004';
	END IF;
	IF pg_catalog.jsonb_typeof(reports) <> 'array' THEN
		RAISE EXCEPTION 'reports must be a JSON array'
			USING ERRCODE = '22023',
			HINT = 'For example [{"payment_id": 1, "outcome": "succeeded", "provider_ref": "ch_1"}, {"payment_id": 2, "outcome": "failed", "reason": "card declined", "retryable": false}].';
	END IF;
	n := pg_catalog.jsonb_array_length(reports);
	IF n > 1000 THEN
		RAISE EXCEPTION 'too many reports: % (at most 1000 in one call)', n USING ERRCODE = '22023';
	END IF;
	/* Every element is checked before anything is written. */
	BEGIN
	FOR r IN SELECT e.value AS v, e.ordinality AS i FROM pg_catalog.jsonb_array_elements(reports) WITH ORDINALITY AS e LOOP
		v := r.v;
		i := r.i;
		IF pg_catalog.jsonb_typeof(v) <> 'object' THEN
			RAISE EXCEPTION 'report % is not a JSON object', i USING ERRCODE = '22023';
		END IF;
		/* A misspelt key ("retryabel") must not change what a report means. */
		IF (v - ARRAY['payment_id', 'outcome', 'provider_ref', 'reason', 'retryable', 'attempt']) <> '{}'::jsonb THEN
			RAISE EXCEPTION 'report %: unknown key "%"', i,
				(SELECT min(x) FROM pg_catalog.jsonb_object_keys(v - ARRAY['payment_id', 'outcome', 'provider_ref',
																		   'reason', 'retryable', 'attempt']) AS x)
				USING ERRCODE = '22023',
				HINT = 'The keys are payment_id, outcome, provider_ref, reason, retryable and attempt.';
		END IF;
		IF pg_catalog.jsonb_typeof(v -> 'payment_id') IS DISTINCT FROM 'number'
		   OR (v ->> 'payment_id') !~ '^[1-9][0-9]{0,17}$' THEN
			RAISE EXCEPTION 'report %: payment_id must be a positive whole number, as a JSON number', i USING ERRCODE = '22023';
		END IF;
		IF (v ->> 'outcome') IS NULL OR (v ->> 'outcome') NOT IN ('succeeded', 'failed') THEN
			RAISE EXCEPTION 'report %: outcome must be "succeeded" or "failed"', i USING ERRCODE = '22023';
		END IF;
		IF v ->> 'outcome' = 'succeeded' AND pg_catalog.jsonb_typeof(v -> 'provider_ref') IS DISTINCT FROM 'string' THEN
			RAISE EXCEPTION 'report %: a success needs provider_ref (a string)', i USING ERRCODE = '22023';
		END IF;
		IF v ->> 'outcome' = 'failed' AND (pg_catalog.jsonb_typeof(v -> 'reason') IS DISTINCT FROM 'string'
			OR coalesce(pg_catalog.jsonb_typeof(v -> 'retryable'), 'boolean') <> 'boolean') THEN
			RAISE EXCEPTION 'report %: a failure needs reason (a string) and may have retryable (true or false)', i
				USING ERRCODE = '22023';
		END IF;
		IF v ? 'attempt' AND (pg_catalog.jsonb_typeof(v -> 'attempt') IS DISTINCT FROM 'number'
							   OR (v ->> 'attempt') !~ '^[1-9][0-9]{0,8}$') THEN
			RAISE EXCEPTION 'report %: attempt must be a positive whole number', i USING ERRCODE = '22023';
		END IF;
		PERFORM ticket._check_text('provider_ref', v ->> 'provider_ref', required => v ->> 'outcome' = 'succeeded');
		PERFORM ticket._check_text('reason', v ->> 'reason', required => v ->> 'outcome' = 'failed');
	END LOOP;
	EXCEPTION WHEN data_exception THEN
		/* Name the report whose text was refused (one subtransaction per call). */
		IF SQLERRM !~ '^report [0-9]+' THEN
			RAISE EXCEPTION 'report %: %', i, SQLERRM USING ERRCODE = SQLSTATE;
		END IF;
		RAISE;
	END;
	SELECT e.value ->> 'payment_id' INTO v FROM pg_catalog.jsonb_array_elements(reports) AS e
	 GROUP BY e.value ->> 'payment_id' HAVING count(*) > 1 ORDER BY 1 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'payment % is reported twice in one call', v #>> '{}' USING ERRCODE = '22023',
			HINT = 'Send one report per payment job.';
	END IF;
	/*
	 * The buyer locks of the orders a success may sell, all first and in one
	 * order (concert, user): _sell takes a buyer's lock (0.4), one order at
	 * a time in payment order, so two batches naming the same two buyers in
	 * opposite orders would otherwise deadlock.
	 */
	PERFORM ticket._lock_buyer(b.concert_id, b.user_id)
	  FROM (SELECT DISTINCT o.concert_id, o.user_id
			  FROM pg_catalog.jsonb_array_elements(reports) AS e
			  JOIN ticket.payment AS p ON p.payment_id = (e.value ->> 'payment_id')::bigint
			  JOIN ticket.orders AS o ON o.order_id = p.order_id
			 WHERE e.value ->> 'outcome' = 'succeeded' AND p.kind = 'charge') AS b
	 ORDER BY b.concert_id, b.user_id;
	/* In payment order: two adapters' batches lock jobs in the same order. */
	FOR r IN SELECT (e.value ->> 'payment_id')::bigint AS id, e.value AS v
			   FROM pg_catalog.jsonb_array_elements(reports) AS e ORDER BY 1 LOOP
		payment_id := r.id;
		IF r.v ->> 'outcome' = 'succeeded' THEN
			status := ticket.payment_succeeded(r.id, r.v ->> 'provider_ref');
		ELSIF r.v ? 'attempt' AND coalesce((r.v ->> 'retryable')::boolean, true)
			  AND EXISTS (SELECT FROM ticket.payment AS x WHERE x.payment_id = r.id
							 AND x.state = 'processing' AND x.attempts <> (r.v ->> 'attempt')::integer) THEN
			/* A retryable failure of an earlier attempt: the job was claimed again since; nothing to do. */
			status := 'retrying';
		ELSE
			status := ticket.payment_failed(r.id, r.v ->> 'reason', coalesce((r.v ->> 'retryable')::boolean, true));
		END IF;
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION ticket.report_payments(jsonb) IS
	'For the payment adapter: many results in one call and one transaction, a JSON array of {"payment_id", "outcome": "succeeded", "provider_ref"} or {"payment_id", "outcome": "failed", "reason", "retryable"}, each optionally with "attempt" (the job''s attempt as claimed: a retryable failure of an earlier attempt is ignored). Each is what payment_succeeded / payment_failed does (idempotent); returns each job''s status. Bad input (22023, P0002) writes nothing.';

/* ------------------------------------------------ src/compensation.sql */

CREATE TYPE ticket.cancel_result AS (
	order_id bigint,
	status text,
	order_state text,
	seats json,
	amount numeric(12,2),
	fee numeric(12,2),
	refund numeric(12,2),
	refund_payment_id bigint
);
COMMENT ON TYPE ticket.cancel_result IS
	'Result of ticket.cancel_order: status cancelled (seats: the seats given back; amount = fee + refund; refund_payment_id: the refund job, NULL when the fee kept it all), or not_allowed (the concert takes no cancellations), too_late (past its deadline), not_paid (the order is pending, cancelled or refunded: order_state says which), compensating (being undone already), rate_limited (nothing done); order_state is the order''s state after the call.';

CREATE FUNCTION ticket._cancel_result(x ticket.cancellation)
RETURNS ticket.cancel_result
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT $1.order_id, 'cancelled', o.state::text, ticket._seats_json(o.concert_id, $1.seat_ids),
		   $1.amount, $1.fee, $1.refund,
		   (SELECT p.payment_id FROM ticket.payment AS p WHERE p.kind = 'refund' AND p.cancellation_id = $1.cancellation_id)
	  FROM ticket.orders AS o
	 WHERE o.order_id = $1.order_id;
$$;
COMMENT ON FUNCTION ticket._cancel_result(ticket.cancellation) IS
	'Internal: a buyer''s cancellation as ticket.cancel_order returns it.';

CREATE FUNCTION ticket.cancel_order(order_id bigint, user_id text, idempotency_key text, seat_ids integer[] DEFAULT NULL)
RETURNS ticket.cancel_result
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	o ticket.orders;
	c ticket.concert;
	x ticket.cancellation;
	h ticket.hold;
	charge ticket.payment;
	giving integer[];
	keeping integer[];
	request text;
	stored ticket.idempotency;
	status text;
	r ticket.cancel_result;
BEGIN
	IF order_id IS NULL THEN
		RAISE EXCEPTION 'order_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	PERFORM ticket._check_text('user_id', user_id);
	PERFORM ticket._check_text('idempotency_key', idempotency_key);
	IF seat_ids IS NOT NULL THEN
		giving := ticket._seat_list(seat_ids, 'cancel');
	END IF;
	o := ticket._own_order(order_id, user_id);
	IF NOT ticket._take_call(user_id, false) THEN
		r.order_id := order_id;
		r.status := 'rate_limited';
		r.order_state := o.state;
		RETURN r;
	END IF;

	/* The key: the same request gets the same answer; another request with it is 22023. */
	request := format('cancellation of order %s, seats %s', order_id, coalesce(giving::text, 'all'));
	INSERT INTO ticket.idempotency AS i (user_id, idempotency_key, request, order_id, status)
	VALUES (user_id, idempotency_key, request, order_id, 'started')
	ON CONFLICT DO NOTHING;
	IF NOT FOUND THEN
		SELECT * INTO stored FROM ticket.idempotency AS i
		 WHERE i.user_id = user_id AND i.idempotency_key = idempotency_key;
		IF stored.request IS DISTINCT FROM request THEN
			RAISE EXCEPTION 'idempotency key "%" was already used for a different request', idempotency_key
				USING ERRCODE = '22023', DETAIL = format('It was used for the %s; this call asks for the %s.', stored.request, request),
				HINT = 'Use a new key for a new request.';
		END IF;
		IF stored.status = 'cancelled' THEN
			SELECT * INTO x FROM ticket.cancellation AS k
			 WHERE k.order_id = order_id AND k.idempotency_key = idempotency_key;
			RETURN ticket._cancel_result(x);
		END IF;
		SELECT * INTO o FROM ticket.orders AS k WHERE k.order_id = order_id;
		r.order_id := order_id;
		r.status := stored.status;
		r.order_state := o.state;
		RETURN r;
	END IF;

	/*
	 * The order's charges first, then the order: the order in which
	 * payment_succeeded and payment_failed lock them (a refund row's
	 * foreign key would otherwise wait for a charge whose report waits for
	 * this order).
	 */
	PERFORM FROM ticket.payment AS p WHERE p.order_id = order_id AND p.kind = 'charge'
	 ORDER BY p.payment_id FOR UPDATE;
	SELECT * INTO o FROM ticket.orders AS k WHERE k.order_id = order_id FOR UPDATE;
	SELECT * INTO c FROM ticket.concert AS k WHERE k.concert_id = o.concert_id;
	IF giving IS NOT NULL AND NOT giving <@ o.seat_ids THEN
		RAISE EXCEPTION 'order % has no seat %', order_id,
			(SELECT min(s) FROM unnest(giving) AS s WHERE NOT s = ANY (o.seat_ids))
			USING ERRCODE = '22023', DETAIL = format('Its seats are %s.', o.seat_ids);
	END IF;
	status := CASE
		WHEN EXISTS (SELECT FROM ticket.saga AS g WHERE g.order_id = order_id AND g.state = 'running') THEN 'compensating'
		WHEN o.state <> 'paid' THEN 'not_paid'
		WHEN NOT c.cancellable OR c.state = 'cancelled' THEN 'not_allowed'
		WHEN now() > c.starts_at - c.cancel_until THEN 'too_late'
		ELSE 'cancelled' END;
	IF status <> 'cancelled' THEN
		UPDATE ticket.idempotency AS i SET status = status
		 WHERE i.user_id = user_id AND i.idempotency_key = idempotency_key;
		r.order_id := order_id;
		r.status := status;
		r.order_state := o.state;
		RETURN r;
	END IF;

	giving := coalesce(giving, (SELECT array_agg(s ORDER BY s) FROM unnest(o.seat_ids) AS s));
	SELECT array_agg(s ORDER BY s) INTO keeping FROM unnest(o.seat_ids) AS s WHERE NOT s = ANY (giving);
	x.order_id := order_id;
	x.idempotency_key := idempotency_key;
	x.seat_ids := giving;
	x.whole := keeping IS NULL;
	/*
	 * What the seats cost, never more than what is left of what the order
	 * paid (the whole rest, when it gives back the rest).
	 */
	x.amount := o.amount - coalesce((SELECT sum(k.amount) FROM ticket.cancellation AS k WHERE k.order_id = order_id), 0);
	IF NOT x.whole THEN
		x.amount := least(ticket._seats_total(o.concert_id, giving), x.amount);
	END IF;
	x.fee := least(round(x.amount * c.cancel_fee_percent / 100, 2) + c.cancel_fee_fixed, x.amount);
	x.refund := x.amount - x.fee;
	INSERT INTO ticket.cancellation AS k (order_id, idempotency_key, seat_ids, whole, amount, fee, refund)
	VALUES (x.order_id, x.idempotency_key, x.seat_ids, x.whole, x.amount, x.fee, x.refund)
	RETURNING k.cancellation_id, k.created_at INTO x.cancellation_id, x.created_at;

	/* The seats go back on sale; the order and its hold keep the rest, or end. */
	SELECT * INTO h FROM ticket.hold AS k WHERE k.hold_id = o.hold_id FOR UPDATE;
	PERFORM ticket._lock_seats(o.concert_id, giving);
	PERFORM ticket._free_seats(o.concert_id, giving, o.hold_id);
	IF x.whole THEN
		UPDATE ticket.orders AS k SET state = 'cancelled', cancelled_at = now(), cancel_reason = 'cancelled by the buyer'
		 WHERE k.order_id = order_id;
		UPDATE ticket.hold AS k SET state = 'released', ended_at = now() WHERE k.hold_id = o.hold_id;
	ELSE
		UPDATE ticket.orders AS k SET seat_ids = keeping WHERE k.order_id = order_id;
		UPDATE ticket.hold AS k SET seat_ids = keeping WHERE k.hold_id = o.hold_id;
	END IF;

	/* The money: the price less the fee, from the capture. */
	IF x.refund > 0 THEN
		SELECT * INTO charge FROM ticket.payment AS p
		 WHERE p.order_id = order_id AND p.kind = 'charge' AND p.state = 'succeeded'
		 ORDER BY p.payment_id LIMIT 1;
		PERFORM ticket._request_refund(charge, charge.provider_ref, 'cancelled by the buyer', x.refund, x.cancellation_id);
	END IF;
	PERFORM ticket._event(o.concert_id, 'order_cancelled', order_id, user_id,
		jsonb_build_object('by', 'buyer', 'seat_ids', giving, 'whole', x.whole, 'amount', x.amount,
						   'fee', x.fee, 'refund', x.refund));
	UPDATE ticket.idempotency AS i SET status = 'cancelled'
	 WHERE i.user_id = user_id AND i.idempotency_key = idempotency_key;
	PERFORM ticket._bump_counter('buyer_cancellations', 1);
	RETURN ticket._cancel_result(x);
END
$$;
COMMENT ON FUNCTION ticket.cancel_order(bigint, text, text, integer[]) IS
	'For buyers: cancels a paid order, or the seats named, under the concert''s policy: the seats go back on sale and the price less the fee is refunded. Answers not_allowed, too_late, not_paid or compensating as a status; the same idempotency key gives the same answer.';

/* ------------------------------------------------ src/buyer.sql, src/verify.sql */

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

CREATE OR REPLACE FUNCTION ticket.verify(concert_id bigint DEFAULT NULL)
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

/* ------------------------------------------------ src/boxoffice.sql */

CREATE FUNCTION ticket._find_concert(concert_id bigint)
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
	IF NOT FOUND THEN
		RAISE EXCEPTION 'concert % does not exist', concert_id USING ERRCODE = 'P0002';
	END IF;
	RETURN c;
END
$$;
COMMENT ON FUNCTION ticket._find_concert(bigint) IS
	'Internal: a concert row without a lock (for reads), raising P0002 when there is none.';

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

/* ------------------------------------------------ src/privileges.sql */

REVOKE ALL ON FUNCTION
	ticket.create_concert(text, timestamptz, timestamptz, text, timestamptz, interval, integer, integer, interval, integer, boolean, integer, interval, integer, boolean, timestamptz, boolean, interval, numeric, numeric, boolean),
	ticket.update_concert(bigint, text, text, timestamptz, timestamptz, timestamptz, interval, integer, integer, interval, integer, boolean, integer, interval, integer, boolean, timestamptz, boolean, interval, numeric, numeric, boolean),
	ticket._seats_json(bigint, integer[]),
	ticket._seats_total(bigint, integer[]),
	ticket._section_counts(bigint, integer),
	ticket._listed(ticket.concert, timestamptz),
	ticket._listed_concert(bigint),
	ticket.browse_concerts(),
	ticket.browse_sections(bigint),
	ticket.browse_seats(bigint, integer, boolean),
	ticket._request_refund(ticket.payment, text, text, numeric, bigint),
	ticket._cancel_result(ticket.cancellation),
	ticket.cancel_order(bigint, text, text, integer[]),
	ticket._check_page(text, integer, boolean, bigint),
	ticket.my_holds(text, bigint, bigint, integer),
	ticket.my_orders(text, bigint, bigint, integer),
	ticket._check_section(text, text, numeric),
	ticket._check_fees(numeric, numeric),
	ticket.update_section(bigint, integer, text, text, numeric),
	ticket.remove_section(bigint, integer),
	ticket.delete_concert(bigint),
	ticket._take_call(text, boolean),
	ticket._seat_list(integer[], text),
	ticket._queue_state(bigint, text),
	ticket.my_events(text, bigint, integer),
	ticket.retry_dead(bigint),
	ticket.retry_dead_refunds(bigint),
	ticket._find_concert(bigint),
	ticket.sales_by_section(bigint),
	ticket.sales_by_hour(bigint),
	ticket.user_history(text, integer)
FROM PUBLIC;
REVOKE ALL ON TABLE ticket.cancellation FROM PUBLIC;
REVOKE ALL ON SEQUENCE ticket.cancellation_cancellation_id_seq FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	ticket.create_concert(text, timestamptz, timestamptz, text, timestamptz, interval, integer, integer, interval, integer, boolean, integer, interval, integer, boolean, timestamptz, boolean, interval, numeric, numeric, boolean),
	ticket.update_concert(bigint, text, text, timestamptz, timestamptz, timestamptz, interval, integer, integer, interval, integer, boolean, integer, interval, integer, boolean, timestamptz, boolean, interval, numeric, numeric, boolean),
	ticket.update_section(bigint, integer, text, text, numeric),
	ticket.remove_section(bigint, integer),
	ticket.delete_concert(bigint),
	ticket.retry_dead(bigint),
	ticket.retry_dead_refunds(bigint),
	ticket.sales_by_section(bigint),
	ticket.sales_by_hour(bigint),
	ticket.user_history(text, integer)
TO ticket_admin;
GRANT EXECUTE ON FUNCTION
	ticket.browse_concerts(),
	ticket.browse_sections(bigint),
	ticket.browse_seats(bigint, integer, boolean),
	ticket.my_holds(text, bigint, bigint, integer),
	ticket.my_orders(text, bigint, bigint, integer),
	ticket.my_events(text, bigint, integer)
TO ticket_customer, ticket_admin;
GRANT EXECUTE ON FUNCTION ticket.cancel_order(bigint, text, text, integer[]) TO ticket_customer;
GRANT SELECT ON ticket.cancellation TO ticket_admin;
