/*
 * src/catalogue.sql: concerts, their sections and seats.  The concert's life
 * (draft, on_sale, closed, cancelled) and its sale settings, seat generation
 * (add_section, add_standing), and what the box office reads back (the
 * concerts and sections views, seat_map).  The C side keeps a per-backend
 * cache of the settings (src/hold.c, declared in src/sale.h), dropped by the
 * triggers below when a concert or section changes.
 */

CREATE TYPE ticket.concert_state AS ENUM ('draft', 'on_sale', 'closed', 'cancelled');
COMMENT ON TYPE ticket.concert_state IS
	'Life of a concert: draft (being set up), on_sale, closed (sale over), cancelled.';

CREATE TYPE ticket.seat_state AS ENUM ('available', 'held', 'sold');
COMMENT ON TYPE ticket.seat_state IS
	'State of one seat or standing place. A held seat whose held_until has passed counts as available.';

CREATE TABLE ticket.concert (
	concert_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	title text NOT NULL,
	venue text,
	starts_at timestamptz NOT NULL,
	sale_opens_at timestamptz NOT NULL,
	sale_closes_at timestamptz NOT NULL,
	state ticket.concert_state NOT NULL DEFAULT 'draft',
	hold_ttl interval NOT NULL,
	per_user_limit integer NOT NULL,
	admit_rate integer NOT NULL,
	admission_ttl interval NOT NULL,
	max_active integer,
	queue boolean NOT NULL DEFAULT false,
	pow_bits integer NOT NULL DEFAULT 0,
	payment_timeout interval NOT NULL DEFAULT '10 minutes',
	payment_attempts integer NOT NULL DEFAULT 5,
	accept_late_payments boolean NOT NULL DEFAULT true,
	section_count integer NOT NULL DEFAULT 0,
	seat_count integer NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	opened_at timestamptz,
	closed_at timestamptz,
	cancelled_at timestamptz,
	announce_at timestamptz,
	cancellable boolean NOT NULL DEFAULT false,
	cancel_until interval NOT NULL DEFAULT '48 hours',
	cancel_fee_percent numeric(5,2) NOT NULL DEFAULT 0,
	cancel_fee_fixed numeric(12,2) NOT NULL DEFAULT 0,
	durable_holds boolean NOT NULL DEFAULT true,
	CHECK (sale_opens_at OPERATOR(pg_catalog.<) sale_closes_at),
	CHECK (sale_closes_at OPERATOR(pg_catalog.<=) starts_at),
	CHECK (per_user_limit OPERATOR(pg_catalog.>) 0),
	CHECK (admit_rate OPERATOR(pg_catalog.>) 0),
	CHECK (seat_count OPERATOR(pg_catalog.>=) 0)
);
COMMENT ON TABLE ticket.concert IS
	'One concert and the settings of its sale. Written only through ticket.create_concert and friends.';
COMMENT ON COLUMN ticket.concert.hold_ttl IS 'How long a seat hold lives before it expires.';
COMMENT ON COLUMN ticket.concert.per_user_limit IS 'Most seats one user may hold and buy together.';
COMMENT ON COLUMN ticket.concert.admit_rate IS 'Users admitted from the waiting room per second.';
COMMENT ON COLUMN ticket.concert.admission_ttl IS 'How long an admitted user may take to buy.';
COMMENT ON COLUMN ticket.concert.max_active IS 'Most users admitted at once; NULL for no cap.';
COMMENT ON COLUMN ticket.concert.queue IS 'Whether buyers go through the waiting room (and holds need a pass).';
COMMENT ON COLUMN ticket.concert.pow_bits IS 'Proof-of-work difficulty for joining the queue, in leading zero bits; 0 for none.';
COMMENT ON COLUMN ticket.concert.payment_timeout IS 'How long a checkout keeps its seats while the payment is in flight.';
COMMENT ON COLUMN ticket.concert.payment_attempts IS 'Most attempts at one payment before it is dead-lettered and its order compensated.';
COMMENT ON COLUMN ticket.concert.accept_late_payments IS 'Whether a payment that succeeds after its order was compensated re-sells the seats when they are still free (otherwise, and when they are not, it is refunded).';
COMMENT ON COLUMN ticket.concert.announce_at IS 'From when buyers see the draft concert as coming up (ticket.browse_concerts); NULL: only once it is on sale.';
COMMENT ON COLUMN ticket.concert.cancellable IS 'Whether buyers may cancel paid orders (ticket.cancel_order), until cancel_until before starts_at.';
COMMENT ON COLUMN ticket.concert.cancel_until IS 'How long before starts_at buyers'' cancellations stop.';
COMMENT ON COLUMN ticket.concert.cancel_fee_percent IS 'The share of the cancelled seats'' price a buyer''s cancellation keeps, in percent (plus cancel_fee_fixed, at most the price).';
COMMENT ON COLUMN ticket.concert.cancel_fee_fixed IS 'The fixed amount a buyer''s cancellation keeps (plus cancel_fee_percent, at most the price).';
COMMENT ON COLUMN ticket.concert.durable_holds IS 'false: a hold''s transaction commits without waiting for its WAL (a crash may lose a hold, never an order, a payment or a sold seat).';
COMMENT ON COLUMN ticket.concert.section_count IS 'Sections added so far; the next section_id is section_count + 1 (a removed section''s id is not reused).';
COMMENT ON COLUMN ticket.concert.seat_count IS 'Seats and places generated so far; the next seat id is seat_count + 1.';

CREATE TABLE ticket.section (
	concert_id bigint NOT NULL REFERENCES ticket.concert,
	section_id integer NOT NULL,
	name text NOT NULL,
	grade text NOT NULL,
	price numeric(12,2) NOT NULL CHECK (price OPERATOR(pg_catalog.>) 0),
	seated boolean NOT NULL,
	seat_rows integer,
	seats_per_row integer,
	capacity integer NOT NULL CHECK (capacity OPERATOR(pg_catalog.>) 0),
	first_seat_id integer NOT NULL,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (concert_id, section_id),
	UNIQUE (concert_id, name),
	CHECK (seated OPERATOR(pg_catalog.=) (seat_rows IS NOT NULL AND seats_per_row IS NOT NULL))
);
COMMENT ON TABLE ticket.section IS
	'A block of seats (seated: rows times seats per row) or of standing places, with one grade and price. '
	'Its seats are ticket.seat rows first_seat_id .. first_seat_id + capacity - 1.';

/*
 * One row per seat or standing place.  No foreign key to section: seats are
 * generated only by ticket.add_section / ticket.add_standing, and a
 * per-row key check would double the cost of generating them.  fillfactor
 * leaves room for HOT updates: state, hold_id and held_until are not indexed.
 */
CREATE TABLE ticket.seat (
	concert_id bigint NOT NULL,
	seat_id integer NOT NULL,
	section_id integer NOT NULL,
	row_no integer,
	seat_no integer NOT NULL,
	state ticket.seat_state NOT NULL DEFAULT 'available',
	hold_id bigint,
	held_until timestamptz,
	PRIMARY KEY (concert_id, seat_id)
) WITH (fillfactor = 80);
COMMENT ON TABLE ticket.seat IS
	'One seat (row_no, seat_no) or standing place (row_no NULL, seat_no = place number) of a concert.';

/* Keep user data in pg_dump: extension tables are otherwise left out. */
SELECT pg_catalog.pg_extension_config_dump('ticket.concert', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.concert_concert_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.section', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.seat', '');

/* Any change to a concert or section, by the functions or by hand, reaches the holds' caches. */
CREATE TRIGGER concert_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ticket.concert
	FOR EACH STATEMENT EXECUTE FUNCTION ticket._relation_changed();

CREATE TRIGGER section_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ticket.section
	FOR EACH STATEMENT EXECUTE FUNCTION ticket._relation_changed();

/*
 * They fire in every session_replication_role: a change made by pg_restore
 * --disable-triggers, by logical replication's apply or by hand in replica
 * mode reaches the caches too.
 */
ALTER TABLE ticket.concert ENABLE ALWAYS TRIGGER concert_changed;
ALTER TABLE ticket.section ENABLE ALWAYS TRIGGER section_changed;

CREATE FUNCTION ticket._check_concert(c ticket.concert)
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

/*
 * The cancellation fees as given, before they are stored in the concert's
 * numeric(5,2) and numeric(12,2) columns (which would round 0.001 to 0
 * and overflow on 1e300 with a less helpful message).
 */
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

CREATE FUNCTION ticket._lock_concert(concert_id bigint)
RETURNS ticket.concert
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c ticket.concert;
BEGIN
	IF concert_id IS NULL THEN
		RAISE EXCEPTION 'concert_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	/* NO KEY UPDATE: readers, and buyers (who read the concert without a lock), never wait. */
	SELECT * INTO c FROM ticket.concert AS k WHERE k.concert_id = concert_id FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'concert % does not exist', concert_id USING ERRCODE = 'P0002';
	END IF;
	RETURN c;
END
$$;
COMMENT ON FUNCTION ticket._lock_concert(bigint) IS
	'Internal: locks and returns a concert row, raising P0002 when there is none.';

/* A concert for a read, without a lock: P0002 when there is none. */
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

CREATE FUNCTION ticket.open_sale(concert_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c ticket.concert;
BEGIN
	/* Buyers' calls need shared memory: refuse to open a sale they could not use. */
	PERFORM ticket._require_preloaded('ticket.open_sale()');
	c := ticket._lock_concert(concert_id);
	IF c.state = 'on_sale' THEN
		RAISE NOTICE 'concert % is already on sale', concert_id;
		RETURN;
	END IF;
	IF c.state = 'cancelled' THEN
		RAISE EXCEPTION 'concert % is cancelled', concert_id USING ERRCODE = '55000';
	END IF;
	IF c.seat_count = 0 THEN
		RAISE EXCEPTION 'concert % has no seats', concert_id
			USING ERRCODE = '55000', HINT = 'Add seats with ticket.add_section or ticket.add_standing first.';
	END IF;
	IF c.sale_closes_at <= now() THEN
		RAISE EXCEPTION 'the sale window of concert % has ended', concert_id
			USING ERRCODE = '55000',
			DETAIL = format('sale_closes_at is %s.', c.sale_closes_at),
			HINT = 'Move sale_closes_at with ticket.update_concert.';
	END IF;

	UPDATE ticket.concert AS k
	   SET state = 'on_sale', opened_at = now(), closed_at = NULL
	 WHERE k.concert_id = concert_id;
	IF c.queue THEN
		PERFORM ticket._draw(concert_id);
	END IF;
	PERFORM ticket._bump_counter('sales_opened', 1);
END
$$;
COMMENT ON FUNCTION ticket.open_sale(bigint) IS
	'Puts a draft or closed concert on sale now; needs the library preloaded.';

CREATE FUNCTION ticket.close_sale(concert_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c ticket.concert;
BEGIN
	c := ticket._lock_concert(concert_id);
	IF c.state = 'closed' THEN
		RAISE NOTICE 'the sale of concert % is already closed', concert_id;
		RETURN;
	END IF;
	IF c.state <> 'on_sale' THEN
		RAISE EXCEPTION 'concert % is not on sale', concert_id
			USING ERRCODE = '55000', DETAIL = format('Its state is %s.', c.state);
	END IF;
	UPDATE ticket.concert AS k SET state = 'closed', closed_at = now() WHERE k.concert_id = concert_id;
END
$$;
COMMENT ON FUNCTION ticket.close_sale(bigint) IS
	'Ends the sale of a concert that is on sale; it can be reopened with ticket.open_sale.';

CREATE FUNCTION ticket.cancel_concert(concert_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c ticket.concert;
BEGIN
	c := ticket._lock_concert(concert_id);
	IF c.state = 'cancelled' THEN
		RAISE NOTICE 'concert % is already cancelled', concert_id;
		RETURN;
	END IF;
	UPDATE ticket.concert AS k SET state = 'cancelled', cancelled_at = now() WHERE k.concert_id = concert_id;
	/* Every order is undone and refunded by the worker (or ticket.compensate). */
	PERFORM ticket._start_saga(o.order_id, 'concert cancelled', false)
	   FROM ticket.orders AS o
	  WHERE o.concert_id = concert_id AND o.state IN ('pending', 'paid');
END
$$;
COMMENT ON FUNCTION ticket.cancel_concert(bigint) IS
	'Cancels a concert for good: its sale stops, it can no longer be changed, and every pending or paid order is compensated (seats released, money refunded).';

/* A section's name, grade and price, as buyers will see them: 22004, 22023, 22001. */
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

CREATE FUNCTION ticket._add_seats(
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

CREATE FUNCTION ticket.add_section(
	concert_id bigint, name text, grade text, price numeric,
	seat_rows integer, seats_per_row integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	PERFORM ticket._check_range('seat_rows', seat_rows, 1, 10000);
	PERFORM ticket._check_range('seats_per_row', seats_per_row, 1, 10000);
	IF seat_rows::bigint * seats_per_row > 1000000 THEN
		RAISE EXCEPTION 'a section may have at most 1000000 seats'
			USING ERRCODE = '22023',
			DETAIL = format('%s rows of %s seats is %s.', seat_rows, seats_per_row, seat_rows::bigint * seats_per_row);
	END IF;
	RETURN ticket._add_seats(concert_id, name, grade, price, seat_rows, seats_per_row, seat_rows * seats_per_row);
END
$$;
COMMENT ON FUNCTION ticket.add_section(bigint, text, text, numeric, integer, integer) IS
	'Adds a seated section of seat_rows x seats_per_row seats, generated in one statement; returns its section_id.';

CREATE FUNCTION ticket.add_standing(
	concert_id bigint, name text, grade text, price numeric, capacity integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	PERFORM ticket._check_range('capacity', capacity, 1, 1000000);
	RETURN ticket._add_seats(concert_id, name, grade, price, NULL, NULL, capacity);
END
$$;
COMMENT ON FUNCTION ticket.add_standing(bigint, text, text, numeric, integer) IS
	'Adds a general-admission section of capacity standing places; returns its section_id.';

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

/*
 * When a seat is free, for SQL: the C paths' rule itself (src/sale.c), so a
 * seat is free in the views exactly when hold would take it.
 */
CREATE FUNCTION ticket._seat_is_free(state ticket.seat_state, held_until timestamptz, at timestamptz)
RETURNS boolean
LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ticket_seat_is_free_sql';
COMMENT ON FUNCTION ticket._seat_is_free(ticket.seat_state, timestamptz, timestamptz) IS
	'Internal: whether a seat in this state and held_until is free at the given time: available, or held past held_until. The rule the C hold paths use.';

CREATE VIEW ticket.sections AS
SELECT s.concert_id, s.section_id, s.name, s.grade, s.price, s.seated,
	   s.seat_rows, s.seats_per_row, s.capacity,
	   n.available, n.held, n.sold
  FROM ticket.section AS s
 CROSS JOIN LATERAL (
	SELECT count(*) FILTER (WHERE ticket._seat_is_free(t.state, t.held_until, now())) AS available,
		   count(*) FILTER (WHERE t.state = 'held' AND NOT ticket._seat_is_free(t.state, t.held_until, now())) AS held,
		   count(*) FILTER (WHERE t.state = 'sold') AS sold
	  FROM ticket.seat AS t
	 WHERE t.concert_id = s.concert_id
	   AND t.seat_id BETWEEN s.first_seat_id AND s.first_seat_id + s.capacity - 1) AS n;
COMMENT ON VIEW ticket.sections IS
	'Each section with its price and how many of its seats are available, held and sold (expired holds count as available).';

CREATE VIEW ticket.concerts AS
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

CREATE FUNCTION ticket.seat_map(concert_id bigint, section_id integer)
RETURNS TABLE (row_label text, seats text, available integer, held integer, sold integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	s ticket.section;
BEGIN
	IF concert_id IS NULL OR section_id IS NULL THEN
		RAISE EXCEPTION 'concert_id and section_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	SELECT * INTO s FROM ticket.section AS x WHERE x.concert_id = concert_id AND x.section_id = section_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'concert % has no section %', concert_id, section_id USING ERRCODE = 'P0002';
	END IF;

	/* One line per row; standing places in lines of 50. */
	RETURN QUERY
	SELECT CASE WHEN s.seated THEN 'row ' || m.line
				ELSE format('places %s-%s', min(m.seat_no), max(m.seat_no)) END,
		   string_agg(CASE m.st WHEN 'available' THEN '.' WHEN 'held' THEN 'h' ELSE 'x' END,
					  '' ORDER BY m.seat_no),
		   (count(*) FILTER (WHERE m.st = 'available'))::integer,
		   (count(*) FILTER (WHERE m.st = 'held'))::integer,
		   (count(*) FILTER (WHERE m.st = 'sold'))::integer
	  FROM (SELECT CASE WHEN s.seated THEN t.row_no ELSE (t.seat_no - 1) / 50 + 1 END AS line,
				   t.seat_no,
				   CASE WHEN ticket._seat_is_free(t.state, t.held_until, now()) THEN 'available'::ticket.seat_state
						ELSE t.state END AS st
			  FROM ticket.seat AS t
			 WHERE t.concert_id = concert_id
			   AND t.seat_id BETWEEN s.first_seat_id AND s.first_seat_id + s.capacity - 1) AS m
	 GROUP BY m.line
	 ORDER BY m.line;
END
$$;
COMMENT ON FUNCTION ticket.seat_map(bigint, integer) IS
	'Draws a section in psql: one line per row (standing: per 50 places), . available, h held, x sold.';

/*
 * Seats as a buyer sees them, for SQL: the C rule (src/sale.c), the same
 * labels and prices that hold, checkout and order_status return.
 */
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

/*
 * A section's seats by state, from shared memory no older than
 * ticket.catalogue_refresh (src/catalogue.c): a buyer's page load costs no
 * seat scan.
 */
CREATE FUNCTION ticket._section_counts(concert_id bigint, section_id integer,
	OUT available integer, OUT held integer, OUT sold integer, OUT counted_at timestamptz)
RETURNS record
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_section_counts';
COMMENT ON FUNCTION ticket._section_counts(bigint, integer) IS
	'Internal: a section''s available, held and sold seats, counted at most ticket.catalogue_refresh ago (counted_at), by the free-seat rule of the holds.';

/*
 * What a buyer may see of a concert: on_sale while its sale is on,
 * coming_up while it is a draft with seats from announce_at on, and NULL
 * (not listed) otherwise.  The one rule of the browse functions.
 */
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

/* A concert a buyer may see, or P0002 that says the same for one that does not exist. */
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

/*
 * C (src/catalogue.c), straight from the seat index into the result: a SQL
 * function would copy a 20,000-seat section through its own executor
 * first.  Like hold, it resolves no name through search_path and reads by
 * OID, so it needs neither SECURITY DEFINER nor a SET clause; whether the
 * concert is listed is ticket._listed_concert's rule.
 */
CREATE FUNCTION ticket.browse_seats(concert_id bigint, section_id integer, only_free boolean DEFAULT false)
RETURNS TABLE (seat_id integer, row_no integer, seat_no integer, label text, price numeric(12,2), free boolean)
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'ticket_browse_seats';
COMMENT ON FUNCTION ticket.browse_seats(bigint, integer, boolean) IS
	'For buyers: the seats or places of a section in order, with row, number, printable label, price and whether each is free now (never who holds it); only_free leaves out the others. P0002 for a concert that is not listed or a section it does not have.';
