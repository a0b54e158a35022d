/* ticket--0.1.sql: the concert catalogue, roles and the preload guard */

\echo Use "CREATE EXTENSION ticket" to load this file. \quit

/*
 * Conventions of this script
 *
 * - Every table is written only through the functions below.  They are
 *   SECURITY DEFINER, owned by the superuser who ran CREATE EXTENSION, and
 *   pin search_path = pg_catalog, pg_temp: built-in functions and operators
 *   resolve in pg_catalog, and nothing from a caller's schema is ever
 *   looked up (pg_temp is searched for relations only, and named last).
 *   Relations and the extension's own functions are always schema-qualified.
 * - Catalogue functions use "#variable_conflict use_variable": an unqualified
 *   name is the parameter, a column is always written with its table alias.
 * - Bad input raises a specific SQLSTATE before anything is written:
 *   22004 NULL where a value is required, 22023 a value out of range,
 *   22001 a text too long, P0002 an unknown concert or section,
 *   23505 a duplicate name, 55000 a change the concert's state forbids.
 */

/*
 * The schema must be new.  CREATE EXTENSION creates schema ticket when it is
 * missing but quietly uses one that already exists, and whoever owns that
 * schema (or may create in it) could drop, shadow or overload what this
 * script puts there.  So: owned by the role installing, nobody else may
 * create in it, and empty.
 */
DO $schema$
DECLARE
	s pg_catalog.pg_namespace;
BEGIN
	SELECT * INTO s FROM pg_catalog.pg_namespace AS n WHERE n.nspname OPERATOR(pg_catalog.=) 'ticket';
	IF s.nspowner OPERATOR(pg_catalog.<>) (SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)
	   OR EXISTS (SELECT FROM pg_catalog.aclexplode(s.nspacl) AS a
	              WHERE a.privilege_type OPERATOR(pg_catalog.=) 'CREATE' AND a.grantee OPERATOR(pg_catalog.<>) s.nspowner)
	   OR EXISTS (SELECT FROM pg_catalog.pg_class AS c WHERE c.relnamespace OPERATOR(pg_catalog.=) s.oid)
	   OR EXISTS (SELECT FROM pg_catalog.pg_proc AS p WHERE p.pronamespace OPERATOR(pg_catalog.=) s.oid)
	   OR EXISTS (SELECT FROM pg_catalog.pg_type AS t WHERE t.typnamespace OPERATOR(pg_catalog.=) s.oid)
	   OR EXISTS (SELECT FROM pg_catalog.pg_operator AS o WHERE o.oprnamespace OPERATOR(pg_catalog.=) s.oid) THEN
		RAISE EXCEPTION 'schema "ticket" already exists and was not made for this extension'
			USING ERRCODE = '42P06',
			DETAIL = pg_catalog.format('It is owned by %s; CREATE EXTENSION ticket needs an empty schema "ticket" owned by the installing role, in which no other role may create.',
				s.nspowner::pg_catalog.regrole),
			HINT = 'Find out who made it and why; then drop or rename it, and run CREATE EXTENSION ticket again.';
	END IF;
END
$schema$;

DO $roles$
BEGIN
	/* Roles are cluster-wide: create them once, keep them across DROP EXTENSION. */
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'ticket_admin') THEN
		CREATE ROLE ticket_admin NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'ticket_customer') THEN
		CREATE ROLE ticket_customer NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'ticket_adapter') THEN
		CREATE ROLE ticket_adapter NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'ticket_monitor') THEN
		CREATE ROLE ticket_monitor NOLOGIN;
	END IF;
END
$roles$;

REVOKE ALL ON SCHEMA ticket FROM PUBLIC;
GRANT USAGE ON SCHEMA ticket TO ticket_admin, ticket_customer, ticket_adapter, ticket_monitor;

/* ------------------------------------------------------------------ types */

CREATE TYPE ticket.concert_state AS ENUM ('draft', 'on_sale', 'closed', 'cancelled');
COMMENT ON TYPE ticket.concert_state IS
	'Life of a concert: draft (being set up), on_sale, closed (sale over), cancelled.';

CREATE TYPE ticket.seat_state AS ENUM ('available', 'held', 'sold');
COMMENT ON TYPE ticket.seat_state IS
	'State of one seat or standing place. A held seat whose held_until has passed counts as available.';

/* ----------------------------------------------------------------- tables */

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


/* ------------------------------------------------------- C: preload guard */

CREATE FUNCTION ticket.preloaded()
RETURNS boolean
LANGUAGE c STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ticket_preloaded';
COMMENT ON FUNCTION ticket.preloaded() IS
	'Reports whether the ticket library was loaded through shared_preload_libraries.';

CREATE FUNCTION ticket._require_preloaded(function_name text)
RETURNS void
LANGUAGE c STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ticket_require_preloaded';
COMMENT ON FUNCTION ticket._require_preloaded(text) IS
	'Internal: raises 55000 naming the function unless the library is preloaded.';

CREATE FUNCTION ticket._bump_counter(counter text, n bigint)
RETURNS void
LANGUAGE c STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ticket_bump_counter';
COMMENT ON FUNCTION ticket._bump_counter(text, bigint) IS
	'Internal: adds n to a shared-memory counter (a no-op when not preloaded).';

CREATE FUNCTION ticket._relation_changed()
RETURNS trigger
LANGUAGE c
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ticket_relation_changed';
COMMENT ON FUNCTION ticket._relation_changed() IS
	'Internal trigger: at commit, makes every backend forget what it cached from the table (sale settings, pass keys).';

/* Any change to a concert or section, by the functions or by hand, reaches the holds' caches. */
CREATE TRIGGER concert_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ticket.concert
	FOR EACH STATEMENT EXECUTE FUNCTION ticket._relation_changed();
CREATE TRIGGER section_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ticket.section
	FOR EACH STATEMENT EXECUTE FUNCTION ticket._relation_changed();

CREATE FUNCTION ticket.counters(OUT counter text, OUT value bigint, OUT since timestamptz)
RETURNS SETOF record
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ticket_counters';
COMMENT ON FUNCTION ticket.counters() IS
	'Lists the shared-memory counters since the server started; needs the library preloaded.';

/* ------------------------------------------------------ input validation */

CREATE FUNCTION ticket._check_text(what text, value text, max_chars integer, required boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF value IS NULL THEN
		IF required THEN
			RAISE EXCEPTION '% must not be NULL', what USING ERRCODE = '22004';
		END IF;
		RETURN;
	END IF;
	IF btrim(value) = '' THEN
		RAISE EXCEPTION '% must not be empty', what USING ERRCODE = '22023';
	END IF;
	IF char_length(value) > max_chars THEN
		RAISE EXCEPTION '% is too long', what
			USING ERRCODE = '22001',
			DETAIL = format('It has %s characters; the limit is %s.', char_length(value), max_chars);
	END IF;
END
$$;
COMMENT ON FUNCTION ticket._check_text(text, text, integer, boolean) IS
	'Internal: raises 22004, 22023 or 22001 unless a text is present, not blank and short enough.';

CREATE FUNCTION ticket._check_range(what text, value numeric, lo numeric, hi numeric)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF value IS NULL THEN
		RAISE EXCEPTION '% must not be NULL', what USING ERRCODE = '22004';
	END IF;
	IF value < lo OR value > hi THEN
		RAISE EXCEPTION '% must be between % and %', what, lo, hi
			USING ERRCODE = '22023', DETAIL = format('It was %s.', value);
	END IF;
END
$$;
COMMENT ON FUNCTION ticket._check_range(text, numeric, numeric, numeric) IS
	'Internal: raises 22004 or 22023 unless a number is present and within [lo, hi].';

CREATE FUNCTION ticket._check_interval(what text, value interval, lo interval, hi interval)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF value IS NULL THEN
		RAISE EXCEPTION '% must not be NULL', what USING ERRCODE = '22004';
	END IF;
	IF value < lo OR value > hi THEN
		RAISE EXCEPTION '% must be between % and %', what, lo, hi
			USING ERRCODE = '22023', DETAIL = format('It was %s.', value);
	END IF;
END
$$;
COMMENT ON FUNCTION ticket._check_interval(text, interval, interval, interval) IS
	'Internal: raises 22004 or 22023 unless an interval is present and within [lo, hi].';

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

/* -------------------------------------------------------------- concerts */

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
	accept_late_payments boolean DEFAULT true)
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
	IF starts_at <= now() THEN
		RAISE EXCEPTION 'starts_at must be in the future'
			USING ERRCODE = '22023', DETAIL = format('It was %s.', starts_at);
	END IF;
	PERFORM ticket._check_concert(c);

	INSERT INTO ticket.concert AS k (title, venue, starts_at, sale_opens_at, sale_closes_at,
		hold_ttl, per_user_limit, admit_rate, admission_ttl, max_active, queue, pow_bits,
		payment_timeout, payment_attempts, accept_late_payments)
	VALUES (c.title, c.venue, c.starts_at, c.sale_opens_at, c.sale_closes_at,
		c.hold_ttl, c.per_user_limit, c.admit_rate, c.admission_ttl, c.max_active, c.queue, c.pow_bits,
		c.payment_timeout, c.payment_attempts, c.accept_late_payments)
	RETURNING k.concert_id INTO c.concert_id;
	IF c.queue THEN
		PERFORM ticket._create_queue(c.concert_id);
	END IF;

	PERFORM ticket._bump_counter('concerts_created', 1);
	RETURN c.concert_id;
END
$$;
COMMENT ON FUNCTION ticket.create_concert(text, timestamptz, timestamptz, text, timestamptz, interval, integer, integer, interval, integer, boolean, integer, interval, integer, boolean) IS
	'Creates a draft concert with its sale settings and returns its concert_id.';

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
	accept_late_payments boolean DEFAULT NULL)
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
		   payment_attempts = c.payment_attempts, accept_late_payments = c.accept_late_payments
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
COMMENT ON FUNCTION ticket.update_concert(bigint, text, text, timestamptz, timestamptz, timestamptz, interval, integer, integer, interval, integer, boolean, integer, interval, integer, boolean) IS
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

/* -------------------------------------------------------------- sections */

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
	PERFORM ticket._check_text('name', name, 64);
	PERFORM ticket._check_text('grade', grade, 32);
	PERFORM ticket._check_range('price', price, 0.01, 1000000);
	IF price <> round(price, 2) THEN
		RAISE EXCEPTION 'price must not have more than two decimal places'
			USING ERRCODE = '22023', DETAIL = format('It was %s.', price);
	END IF;
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

/* ------------------------------------------------------- reading it back */

CREATE VIEW ticket.sections AS
SELECT s.concert_id, s.section_id, s.name, s.grade, s.price, s.seated,
	   s.seat_rows, s.seats_per_row, s.capacity,
	   n.available, n.held, n.sold
  FROM ticket.section AS s
 CROSS JOIN LATERAL (
	SELECT count(*) FILTER (WHERE t.state = 'available'
							   OR (t.state = 'held' AND t.held_until <= now())) AS available,
		   count(*) FILTER (WHERE t.state = 'held' AND t.held_until > now()) AS held,
		   count(*) FILTER (WHERE t.state = 'sold') AS sold
	  FROM ticket.seat AS t
	 WHERE t.concert_id = s.concert_id
	   AND t.seat_id BETWEEN s.first_seat_id AND s.first_seat_id + s.capacity - 1) AS n;
COMMENT ON VIEW ticket.sections IS
	'Each section with its price and how many of its seats are available, held and sold (expired holds count as available).';

CREATE VIEW ticket.concerts AS
SELECT c.concert_id, c.title, c.venue, c.state, c.starts_at, c.sale_opens_at, c.sale_closes_at,
	   c.section_count AS sections, c.seat_count AS capacity,
	   coalesce(sum(s.available), 0)::bigint AS available,
	   coalesce(sum(s.held), 0)::bigint AS held,
	   coalesce(sum(s.sold), 0)::bigint AS sold,
	   coalesce(sum(s.sold * s.price), 0)::numeric(14,2) AS revenue
  FROM ticket.concert AS c
  LEFT JOIN ticket.sections AS s ON s.concert_id = c.concert_id
 GROUP BY c.concert_id;
COMMENT ON VIEW ticket.concerts IS
	'Each concert with its state, sale window and capacity by seat state.';

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
				   CASE WHEN t.state = 'held' AND t.held_until <= now() THEN 'available'::ticket.seat_state
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

/* ------------------------------------------------------------------ holds */

CREATE TYPE ticket.hold_state AS ENUM ('active', 'checking_out', 'confirmed', 'expired', 'released');
COMMENT ON TYPE ticket.hold_state IS
	'Life of a hold: active until expires_at (an active hold past it is expired, whether or not a cleaner has said so), then released, expired, or through checkout to confirmed.';

CREATE TYPE ticket.hold_result AS (
	hold_id bigint,
	status text,
	expires_at timestamptz,
	seat_ids integer[]
);
COMMENT ON TYPE ticket.hold_result IS
	'Result of ticket.hold and ticket.hold_best: status held (with hold_id, expires_at, seat_ids), or taken, limit, closed, sold_out, no_adjacent, rate_limited, blocked (the rest NULL); a replayed idempotency key returns its hold with its current state.';

CREATE SEQUENCE ticket.hold_id_seq;

/*
 * No foreign key to concert: each hold would take a KEY SHARE lock on the
 * concert row, and a thousand buyers at once would pile those into one
 * multixact.  Holds are written only by the functions below.
 */
CREATE TABLE ticket.hold (
	hold_id bigint PRIMARY KEY DEFAULT pg_catalog.nextval('ticket.hold_id_seq'),
	concert_id bigint NOT NULL,
	user_id text NOT NULL,
	seat_ids integer[] NOT NULL,
	state ticket.hold_state NOT NULL DEFAULT 'active',
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	ended_at timestamptz,
	idempotency_key text,
	request text NOT NULL
);
ALTER SEQUENCE ticket.hold_id_seq OWNED BY ticket.hold.hold_id;
CREATE INDEX hold_buyer_idx ON ticket.hold (concert_id, user_id);
/* What the worker expires: active holds by expiry. */
CREATE INDEX hold_active_idx ON ticket.hold (expires_at) WHERE state = 'active';
CREATE UNIQUE INDEX hold_idempotency_idx ON ticket.hold (concert_id, user_id, idempotency_key)
	WHERE idempotency_key IS NOT NULL;
COMMENT ON TABLE ticket.hold IS
	'Seats held for one user of one concert until expires_at. request is what was asked (to detect a reused idempotency key).';

SELECT pg_catalog.pg_extension_config_dump('ticket.hold', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.hold_id_seq', '');

CREATE FUNCTION ticket._lock_seats(concert_id bigint, seat_ids integer[])
RETURNS void
LANGUAGE c STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ticket_lock_seats';
COMMENT ON FUNCTION ticket._lock_seats(bigint, integer[]) IS
	'Internal: takes the seat locks of a concert in ascending order, waiting for buyers who are trying them.';

/*
 * The two hold functions are C that reads and writes the tables directly, by
 * OIDs it looks up in schema ticket itself (src/hold.c): no name is resolved
 * through search_path and no privilege of the caller is used, so they need
 * neither SECURITY DEFINER nor a pinned search_path.  Leaving both off
 * saves about a tenth of a call under load (PostgreSQL 15 saves and restores
 * every setting around a function with a SET clause); EXECUTE, granted to
 * ticket_customer only, is the gate.
 */
CREATE FUNCTION ticket.hold(
	concert_id bigint,
	user_id text,
	seat_ids integer[],
	idempotency_key text DEFAULT NULL,
	client_key text DEFAULT NULL,
	pass text DEFAULT NULL)
RETURNS ticket.hold_result
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_hold';
COMMENT ON FUNCTION ticket.hold(bigint, text, integer[], text, text, text) IS
	'Holds the named seats for a user, all or none, without ever waiting for another buyer; expires after the concert''s hold_ttl. A concert with a waiting room needs the user''s pass (28000 without a valid one).';

CREATE FUNCTION ticket.hold_best(
	concert_id bigint,
	user_id text,
	section_id integer,
	quantity integer,
	adjacent boolean DEFAULT false,
	idempotency_key text DEFAULT NULL,
	client_key text DEFAULT NULL,
	pass text DEFAULT NULL)
RETURNS ticket.hold_result
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_hold_best';
COMMENT ON FUNCTION ticket.hold_best(bigint, text, integer, integer, boolean, text, text, text) IS
	'Holds the best quantity free seats of a section (lowest rows first, side by side if adjacent) or quantity standing places.';

CREATE FUNCTION ticket._free_seats(concert_id bigint, seat_ids integer[], hold_id bigint)
RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	/* Seats an ended hold lost to a new buyer point at that buyer's hold: left alone. */
	WITH freed AS (
		UPDATE ticket.seat AS s SET state = 'available', hold_id = NULL, held_until = NULL
		 WHERE s.concert_id = $1 AND s.seat_id = ANY ($2) AND s.hold_id = $3
		RETURNING 1
	)
	SELECT count(*)::integer FROM freed;
$$;
COMMENT ON FUNCTION ticket._free_seats(bigint, integer[], bigint) IS
	'Internal: makes the seats that still belong to a hold available again and returns how many (the caller holds their seat locks).';

CREATE FUNCTION ticket.release(hold_id bigint, user_id text)
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
	SELECT * INTO h FROM ticket.hold AS x WHERE x.hold_id = hold_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'hold % does not exist', hold_id USING ERRCODE = 'P0002';
	END IF;
	IF h.user_id <> user_id THEN
		RAISE EXCEPTION 'hold % belongs to another user', hold_id
			USING ERRCODE = '42501', HINT = 'Only the user who made a hold may release it.';
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
	outcome := CASE WHEN h.expires_at <= now() THEN 'expired' ELSE 'released' END;
	UPDATE ticket.hold AS x SET state = outcome, ended_at = now() WHERE x.hold_id = hold_id;
	PERFORM ticket._event(h.concert_id, 'hold_' || outcome::text, hold_id, user_id, NULL);
	RETURN outcome::text;
END
$$;
COMMENT ON FUNCTION ticket.release(bigint, text) IS
	'Gives a hold''s seats back at once (only its user may); returns released, or expired / the state it had already ended in.';

/* -------------------------------------------------------------- blocklist */

CREATE TABLE ticket.blocked_user (
	user_id text PRIMARY KEY,
	reason text,
	blocked_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	blocked_by name NOT NULL DEFAULT SESSION_USER
);
COMMENT ON TABLE ticket.blocked_user IS
	'Users who may not hold seats (ticket.block_user); ticket.hold and ticket.hold_best answer blocked.';
SELECT pg_catalog.pg_extension_config_dump('ticket.blocked_user', '');

CREATE FUNCTION ticket._lock_buyer(concert_id bigint, user_id text)
RETURNS void
LANGUAGE c STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ticket_lock_buyer';
COMMENT ON FUNCTION ticket._lock_buyer(bigint, text) IS
	'Internal: takes a user''s buyer lock for a concert, waiting for their holds in flight.';

CREATE FUNCTION ticket.block_user(user_id text, reason text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c bigint;
	h bigint;
	released integer := 0;
BEGIN
	PERFORM ticket._check_text('user_id', user_id, 128);
	PERFORM ticket._check_text('reason', reason, 200, false);
	INSERT INTO ticket.blocked_user AS b (user_id, reason) VALUES (user_id, reason)
	ON CONFLICT ON CONSTRAINT blocked_user_pkey DO NOTHING;

	/*
	 * Wait for the user's holds and joins in flight (they hold the buyer
	 * lock), then take them out of every queue and release every active
	 * hold in the same transaction: a hold that commits
	 * before this one is released here, and one that starts after sees the
	 * blocklist.
	 */
	FOR c IN SELECT k.concert_id FROM ticket.concert AS k ORDER BY k.concert_id LOOP
		PERFORM ticket._lock_buyer(c, user_id);
		IF EXISTS (SELECT FROM ticket.queue AS q WHERE q.concert_id = c) THEN
			PERFORM ticket._leave(c, user_id, 'blocked');
		END IF;
		FOR h IN SELECT x.hold_id FROM ticket.hold AS x
				  WHERE x.concert_id = c AND x.user_id = user_id AND x.state = 'active'
				  ORDER BY x.hold_id LOOP
			PERFORM ticket.release(h, user_id);
			released := released + 1;
		END LOOP;
	END LOOP;
	RETURN released;
END
$$;
COMMENT ON FUNCTION ticket.block_user(text, text) IS
	'Puts a user on the blocklist, takes them out of every waiting room and releases their active holds in the same transaction; returns how many holds.';

CREATE FUNCTION ticket.unblock_user(user_id text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	PERFORM ticket._check_text('user_id', user_id, 128);
	DELETE FROM ticket.blocked_user AS b WHERE b.user_id = user_id;
	RETURN FOUND;
END
$$;
COMMENT ON FUNCTION ticket.unblock_user(text) IS
	'Takes a user off the blocklist; returns false if they were not on it.';

/* ----------------------------------------------------------------- passes */

/*
 * Keys that sign passes (src/pass.c).  Nobody but the owner, a superuser,
 * can read this table; the C functions below read it directly.
 */
CREATE TABLE ticket.pass_key (
	key_id integer PRIMARY KEY,
	secret bytea NOT NULL CHECK (length(secret) OPERATOR(pg_catalog.=) 32),
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	retired_at timestamptz
);
COMMENT ON TABLE ticket.pass_key IS
	'Secrets that sign passes (HMAC-SHA256); the newest signs, older ones check passes until retired_at. Superusers only.';

CREATE FUNCTION ticket._random_secret()
RETURNS bytea
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ticket_random_secret';
COMMENT ON FUNCTION ticket._random_secret() IS
	'Internal: 32 bytes from the operating system''s strong random source.';

INSERT INTO ticket.pass_key (key_id, secret) VALUES (1, ticket._random_secret());
/* Key 1 is made by CREATE EXTENSION: a restore makes its own, and keeps the rest. */
SELECT pg_catalog.pg_extension_config_dump('ticket.pass_key', 'WHERE key_id OPERATOR(pg_catalog.>) 1');

CREATE TRIGGER pass_key_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ticket.pass_key
	FOR EACH STATEMENT EXECUTE FUNCTION ticket._relation_changed();

CREATE FUNCTION ticket._sign_pass(concert_id bigint, user_id text, place bigint, expires_at timestamptz)
RETURNS text
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_sign_pass_sql';
COMMENT ON FUNCTION ticket._sign_pass(bigint, text, bigint, timestamptz) IS
	'Internal: signs a pass for a user''s place in a concert''s line with the newest key.';

CREATE FUNCTION ticket.check_pass(pass text, concert_id bigint, user_id text)
RETURNS bigint
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'ticket_check_pass_sql';
COMMENT ON FUNCTION ticket.check_pass(text, bigint, text) IS
	'Checks a pass for a concert and user and returns its place in line; raises 28000 for a malformed, forged, expired or foreign pass.';

CREATE FUNCTION ticket.rotate_pass_key(retire_after interval DEFAULT '1 hour')
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	new_id integer;
BEGIN
	PERFORM ticket._check_interval('retire_after', retire_after, '0 seconds', '7 days');
	/* One rotation at a time; passes are checked meanwhile (ROW EXCLUSIVE allows reads). */
	LOCK TABLE ticket.pass_key IN SHARE ROW EXCLUSIVE MODE;
	UPDATE ticket.pass_key AS k SET retired_at = now() + retire_after
	 WHERE k.retired_at IS NULL OR k.retired_at > now() + retire_after;
	INSERT INTO ticket.pass_key (key_id, secret)
	SELECT coalesce(max(k.key_id), 0) + 1, ticket._random_secret() FROM ticket.pass_key AS k
	RETURNING key_id INTO new_id;
	RETURN new_id;
END
$$;
COMMENT ON FUNCTION ticket.rotate_pass_key(interval) IS
	'Adds a new pass key that signs from now on; the older keys keep checking their passes for retire_after, then are refused.';

/* ----------------------------------------------------------- waiting room */

/*
 * The waiting room of a concert with queue => true (README, "Waiting
 * room").  Every user has one entry per concert.  Before the sale opens an
 * entry is in the pre-queue without a place; at opening, ticket._draw gives
 * the pre-queue places 1..n in an order fixed by a seed committed to
 * (seed_hash) when the queue was made; later joiners get the next place.
 * ticket.admit admits, in place order, as many as the concert's admit_rate
 * allows for the time since its last step.
 *
 * A join only inserts its entry, without a place (no row every joiner
 * updates: a hot row would make a thousand joiners commit one at a time).
 * Each admission step first numbers the entries that joined since the last
 * one, in join order, after queue.last_place: places are dense, and a join
 * that rolled back never had one.  People ahead of a waiting user are then
 * place - admitted_through - 1, less those between who left
 * (ticket.queue_departure); queue.gaps counts those per block of 1,024
 * places, so ticket.queue_status (src/queue.c) reads two rows and at most
 * two blocks of departures, however long the line is.
 */
CREATE TYPE ticket.queue_entry_state AS ENUM ('prequeue', 'waiting', 'admitted', 'expired', 'left', 'blocked');
COMMENT ON TYPE ticket.queue_entry_state IS
	'Stored state of a queue entry; ticket.queue_status derives expired, sold_out and closed from it.';

CREATE TYPE ticket.queue_status AS (
	concert_id bigint,
	user_id text,
	state text,
	place bigint,
	"position" bigint,
	eta interval,
	pass text,
	expires_at timestamptz
);
COMMENT ON TYPE ticket.queue_status IS
	'A user''s place in a waiting room: state prequeue, waiting (with position = people ahead and eta), admitted (with pass and expires_at), expired, sold_out, closed, left, blocked, none (never joined); join_queue may also answer rate_limited or challenge.';

CREATE TABLE ticket.queue (
	concert_id bigint PRIMARY KEY,
	seed bytea NOT NULL,
	seed_hash bytea NOT NULL,
	drawn_at timestamptz,
	drawn bigint,
	last_place bigint NOT NULL DEFAULT 0,
	admitted_through bigint NOT NULL DEFAULT 0,
	admitted bigint NOT NULL DEFAULT 0,
	tokens double precision NOT NULL DEFAULT 0,
	last_tick timestamptz,
	paused_since timestamptz,
	sold_out_at timestamptz,
	gaps integer[],
	scheduled boolean NOT NULL DEFAULT false
) WITH (fillfactor = 50);
COMMENT ON TABLE ticket.queue IS
	'Admission state of one concert''s waiting room: the draw''s seed and its hash, the place admitted through, the token bucket, departures per block of 1,024 places. Superusers only; ticket.queues shows it.';

CREATE SEQUENCE ticket.queue_join_seq;
COMMENT ON SEQUENCE ticket.queue_join_seq IS
	'Join order: entries waiting for a place are numbered in this order (it orders, it does not count).';

CREATE TABLE ticket.queue_entry (
	concert_id bigint NOT NULL,
	user_id text NOT NULL,
	state ticket.queue_entry_state NOT NULL,
	seq bigint,
	draw_place bigint,
	joined_at timestamptz NOT NULL,
	admitted_at timestamptz,
	expires_at timestamptz,
	left_at timestamptz,
	client_key text,
	join_seq bigint NOT NULL DEFAULT pg_catalog.nextval('ticket.queue_join_seq'),
	PRIMARY KEY (concert_id, user_id)
);
CREATE UNIQUE INDEX queue_entry_seq_idx ON ticket.queue_entry (concert_id, seq);
CREATE INDEX queue_entry_unplaced_idx ON ticket.queue_entry (concert_id, join_seq) WHERE seq IS NULL;
CREATE INDEX queue_entry_active_idx ON ticket.queue_entry (concert_id, expires_at)
	WHERE state OPERATOR(pg_catalog.=) 'admitted';
COMMENT ON TABLE ticket.queue_entry IS
	'One user''s entry in a concert''s waiting room: seq is the place in line (NULL in the pre-queue and until the next admission step), draw_place the place the draw gave, join_seq the join order.';

CREATE TABLE ticket.queue_departure (
	concert_id bigint NOT NULL,
	seq bigint NOT NULL,
	PRIMARY KEY (concert_id, seq)
);
COMMENT ON TABLE ticket.queue_departure IS
	'Places given up while waiting (left or blocked): they do not count in the positions of those behind.';

SELECT pg_catalog.pg_extension_config_dump('ticket.queue', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.queue_join_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.queue_entry', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.queue_departure', '');

CREATE FUNCTION ticket._create_queue(concert_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	seed bytea := ticket._random_secret();
BEGIN
	INSERT INTO ticket.queue AS q (concert_id, seed, seed_hash)
	VALUES (concert_id, seed, pg_catalog.sha256(seed))
	ON CONFLICT ON CONSTRAINT queue_pkey DO NOTHING;
END
$$;
COMMENT ON FUNCTION ticket._create_queue(bigint) IS
	'Internal: makes a concert''s waiting room, committing to the draw''s random seed by its SHA-256.';

CREATE FUNCTION ticket.draw_order(concert_id bigint, seed bytea)
RETURNS TABLE (place bigint, user_id text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.row_number() OVER w, e.user_id
	  FROM ticket.queue_entry AS e
	 WHERE e.concert_id = $1 AND e.draw_place IS NOT NULL
	WINDOW w AS (ORDER BY pg_catalog.sha256($2 || pg_catalog.convert_to(e.user_id, 'UTF8')), e.user_id)
	 ORDER BY 1
$$;
COMMENT ON FUNCTION ticket.draw_order(bigint, bytea) IS
	'Recomputes the pre-queue draw of a concert from a seed: everyone in the draw, ordered by SHA-256(seed || user_id).';

CREATE FUNCTION ticket._draw(concert_id bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	q ticket.queue;
	n bigint;
BEGIN
	SELECT * INTO q FROM ticket.queue AS x WHERE x.concert_id = concert_id FOR UPDATE;
	IF q.drawn_at IS NOT NULL THEN
		RETURN q.drawn;
	END IF;
	/* A join that commits after this statement's snapshot is placed by the next admission step. */
	UPDATE ticket.queue_entry AS e
	   SET state = 'waiting', seq = d.place, draw_place = d.place
	  FROM (SELECT x.user_id,
				   pg_catalog.row_number() OVER (ORDER BY pg_catalog.sha256(q.seed || pg_catalog.convert_to(x.user_id, 'UTF8')),
												 x.user_id) AS place
			  FROM ticket.queue_entry AS x
			 WHERE x.concert_id = concert_id AND x.state = 'prequeue') AS d
	 WHERE e.concert_id = concert_id AND e.user_id = d.user_id;
	GET DIAGNOSTICS n = ROW_COUNT;
	UPDATE ticket.queue AS x SET drawn_at = now(), drawn = n, last_place = n, last_tick = now(), tokens = 0
	 WHERE x.concert_id = concert_id;
	RETURN n;
END
$$;
COMMENT ON FUNCTION ticket._draw(bigint) IS
	'Internal: at opening, gives the pre-queue places 1..n in the order of ticket.draw_order with the committed seed (once).';

CREATE FUNCTION ticket._rate_allow(user_id text, client_key text)
RETURNS boolean
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ticket_rate_allow_sql';
COMMENT ON FUNCTION ticket._rate_allow(text, text) IS
	'Internal: takes a token from the user''s and (when given) the client key''s rate-limit buckets; false when either is empty.';

CREATE FUNCTION ticket.challenge(concert_id bigint, user_id text)
RETURNS text
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_challenge';
COMMENT ON FUNCTION ticket.challenge(bigint, text) IS
	'Gives a signed proof-of-work challenge for joining a concert''s queue, valid 10 minutes; NULL when the concert asks for none.';

CREATE FUNCTION ticket._check_work(challenge text, solution text, concert_id bigint, user_id text, bits integer)
RETURNS void
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ticket_check_work_sql';
COMMENT ON FUNCTION ticket._check_work(text, text, bigint, text, integer) IS
	'Internal: raises 28000 unless solution solves challenge (SHA-256 of challenge:solution with bits leading zero bits) for this concert and user.';

CREATE FUNCTION ticket.queue_status(concert_id bigint, user_id text)
RETURNS ticket.queue_status
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'ticket_queue_status';
COMMENT ON FUNCTION ticket.queue_status(bigint, text) IS
	'A user''s state in a concert''s waiting room: position and ETA while waiting, the signed pass once admitted. Reads two rows, whatever the length of the line.';

CREATE FUNCTION ticket.join_queue(
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
	PERFORM ticket._check_text('user_id', user_id, 128);
	PERFORM ticket._check_text('client_key', client_key, 255, false);
	PERFORM ticket._check_text('challenge', challenge, 200, false);
	PERFORM ticket._check_text('solution', solution, 64, false);
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
		RETURN ticket.queue_status(concert_id, user_id);
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
	RETURN ticket.queue_status(concert_id, user_id);
END
$$;
COMMENT ON FUNCTION ticket.join_queue(bigint, text, text, text, text) IS
	'Puts a user in a concert''s waiting room (the pre-queue before opening) and returns their status; joining again returns the same place.';

CREATE FUNCTION ticket._depart(concert_id bigint, seq bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	b integer := (seq >> 10)::integer + 1;
BEGIN
	INSERT INTO ticket.queue_departure AS d (concert_id, seq) VALUES (concert_id, seq);
	UPDATE ticket.queue AS q
	   SET gaps[b] = coalesce(q.gaps[b], 0) + 1
	 WHERE q.concert_id = concert_id;
END
$$;
COMMENT ON FUNCTION ticket._depart(bigint, bigint) IS
	'Internal: records that a waiting place was given up (the caller holds the queue row lock).';

CREATE FUNCTION ticket._leave(concert_id bigint, user_id text, new_state ticket.queue_entry_state)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	e ticket.queue_entry;
BEGIN
	/* The queue row first, as ticket.admit does: an admission step is not under way. */
	PERFORM FROM ticket.queue AS q WHERE q.concert_id = concert_id FOR UPDATE;
	SELECT * INTO e FROM ticket.queue_entry AS x
	 WHERE x.concert_id = concert_id AND x.user_id = user_id FOR UPDATE;
	IF NOT FOUND OR e.state IN ('left', 'blocked') THEN
		RETURN false;
	END IF;
	IF e.state = 'waiting' AND e.seq IS NOT NULL THEN
		PERFORM ticket._depart(concert_id, e.seq);
	END IF;
	UPDATE ticket.queue_entry AS x SET state = new_state, left_at = now()
	 WHERE x.concert_id = concert_id AND x.user_id = user_id;
	RETURN true;
END
$$;
COMMENT ON FUNCTION ticket._leave(bigint, text, ticket.queue_entry_state) IS
	'Internal: takes a user out of a concert''s line (left or blocked); false if they were not in it.';

CREATE FUNCTION ticket.leave_queue(concert_id bigint, user_id text)
RETURNS ticket.queue_status
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	IF concert_id IS NULL THEN
		RAISE EXCEPTION 'concert_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	PERFORM ticket._check_text('user_id', user_id, 128);
	IF NOT EXISTS (SELECT FROM ticket.queue AS q WHERE q.concert_id = concert_id) THEN
		PERFORM ticket._lock_concert(concert_id);	/* P0002 if there is no such concert */
		RAISE EXCEPTION 'concert % has no waiting room', concert_id USING ERRCODE = '55000';
	END IF;
	IF ticket._leave(concert_id, user_id, 'left') THEN
		PERFORM ticket._bump_counter('queue_left', 1);
	END IF;
	RETURN ticket.queue_status(concert_id, user_id);
END
$$;
COMMENT ON FUNCTION ticket.leave_queue(bigint, text) IS
	'Takes a user out of a concert''s waiting room (those behind move up; an admitted user frees a slot); joining again goes to the back.';

CREATE FUNCTION ticket.admit(concert_id bigint)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c ticket.concert;
	q ticket.queue;
	t timestamptz;
	tokens double precision;
	n bigint;
	k bigint := 0;
	head bigint;
	active bigint;
BEGIN
	IF concert_id IS NULL THEN
		RAISE EXCEPTION 'concert_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	SELECT * INTO c FROM ticket.concert AS x WHERE x.concert_id = concert_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'concert % does not exist', concert_id USING ERRCODE = 'P0002';
	END IF;
	IF NOT c.queue THEN
		RAISE EXCEPTION 'concert % has no waiting room', concert_id USING ERRCODE = '55000';
	END IF;
	/* Two steps at once take turns here: the second sees what the first admitted. */
	SELECT * INTO q FROM ticket.queue AS x WHERE x.concert_id = concert_id FOR UPDATE;
	t := clock_timestamp();

	/* Number those who joined since the last step, in join order, after the last place. */
	IF q.drawn_at IS NOT NULL THEN
		WITH j AS (
			SELECT e.user_id, e.join_seq FROM ticket.queue_entry AS e
			 WHERE e.concert_id = concert_id AND e.seq IS NULL AND e.state IN ('waiting', 'prequeue')
			   FOR UPDATE
		), p AS (
			SELECT j.user_id, row_number() OVER (ORDER BY j.join_seq) AS r FROM j
		), placed AS (
			UPDATE ticket.queue_entry AS e SET seq = q.last_place + p.r, state = 'waiting'
			  FROM p WHERE e.concert_id = concert_id AND e.user_id = p.user_id
			RETURNING e.seq
		)
		SELECT coalesce(max(placed.seq), q.last_place) INTO q.last_place FROM placed;
		UPDATE ticket.queue AS x SET last_place = q.last_place WHERE x.concert_id = concert_id;
	END IF;

	IF c.state <> 'on_sale' OR c.sale_closes_at <= t OR q.drawn_at IS NULL THEN
		UPDATE ticket.queue AS x SET last_tick = t, tokens = 0 WHERE x.concert_id = concert_id;
		RETURN 0;
	END IF;

	/* Nothing left to hold: pause while holds may still come back, sold out when none can. */
	IF NOT EXISTS (SELECT FROM ticket.seat AS s
					WHERE s.concert_id = concert_id
					  AND (s.state = 'available' OR (s.state = 'held' AND s.held_until <= t))) THEN
		IF EXISTS (SELECT FROM ticket.seat AS s WHERE s.concert_id = concert_id AND s.state = 'held') THEN
			UPDATE ticket.queue AS x SET last_tick = t, tokens = 0, sold_out_at = NULL,
				   paused_since = coalesce(x.paused_since, t)
			 WHERE x.concert_id = concert_id;
		ELSE
			UPDATE ticket.queue AS x SET last_tick = t, tokens = 0, paused_since = NULL,
				   sold_out_at = coalesce(x.sold_out_at, t)
			 WHERE x.concert_id = concert_id;
		END IF;
		RETURN 0;
	END IF;

	/* Token bucket on elapsed time, at most 10 seconds' worth at once. */
	tokens := q.tokens + c.admit_rate *
		least(greatest(extract(epoch FROM t - coalesce(q.last_tick, t)), 0), 10)::double precision;
	n := floor(tokens)::bigint;
	IF c.max_active IS NOT NULL THEN
		SELECT count(*) INTO active FROM ticket.queue_entry AS e
		 WHERE e.concert_id = concert_id AND e.state = 'admitted' AND e.expires_at > t;
		n := least(n, greatest(c.max_active - active, 0));
	END IF;
	head := q.admitted_through;
	IF n > 0 THEN
		WITH next AS (
			SELECT e.user_id FROM ticket.queue_entry AS e
			 WHERE e.concert_id = concert_id AND e.seq > q.admitted_through AND e.state = 'waiting'
			 ORDER BY e.seq
			 LIMIT n
			   FOR UPDATE
		), done AS (
			UPDATE ticket.queue_entry AS e
			   SET state = 'admitted', admitted_at = t, expires_at = t + c.admission_ttl
			  FROM next
			 WHERE e.concert_id = concert_id AND e.user_id = next.user_id
			RETURNING e.seq
		)
		SELECT count(*), coalesce(max(done.seq), q.admitted_through) INTO k, head FROM done;
	END IF;
	/* What was not used (nobody waiting, or the cap) is not saved up. */
	UPDATE ticket.queue AS x
	   SET tokens = tokens - floor(tokens), last_tick = t, admitted_through = head,
		   admitted = x.admitted + k, paused_since = NULL, sold_out_at = NULL
	 WHERE x.concert_id = concert_id;
	IF k > 0 THEN
		PERFORM ticket._event(concert_id, 'admitted', NULL, NULL,
			pg_catalog.jsonb_build_object('admitted_through', head, 'admitted', k));
		PERFORM pg_catalog.pg_notify('ticket_admission',
			pg_catalog.json_build_object('concert_id', concert_id, 'admitted_through', head, 'admitted', k)::text);
		PERFORM ticket._bump_counter('queue_admitted', k);
	END IF;
	RETURN k::integer;
END
$$;
COMMENT ON FUNCTION ticket.admit(bigint) IS
	'One admission step: admits, in place order, admit_rate users per second since the last step (at most max_active at once), pauses while no seat is free, marks the queue sold out when none can come back; NOTIFY ticket_admission. Returns how many it admitted.';

CREATE FUNCTION ticket.admit_scheduled()
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c bigint;
	n integer := 0;
BEGIN
	FOR c IN SELECT q.concert_id FROM ticket.queue AS q JOIN ticket.concert AS k ON k.concert_id = q.concert_id
			  WHERE q.scheduled AND k.state = 'on_sale' ORDER BY q.concert_id LOOP
		n := n + ticket.admit(c);
	END LOOP;
	RETURN n;
END
$$;
COMMENT ON FUNCTION ticket.admit_scheduled() IS
	'One admission step for every concert on sale whose admission is scheduled; returns how many it admitted.';

/*
 * Called by pg_cron (no SECURITY DEFINER, no SET: a procedure with either
 * cannot COMMIT).  Every name is qualified.
 */
CREATE PROCEDURE ticket.run_admission(steps integer DEFAULT 60)
LANGUAGE plpgsql
AS $$
DECLARE
	started timestamptz := pg_catalog.clock_timestamp();
	stop_at timestamptz := pg_catalog.date_trunc('minute', started) OPERATOR(pg_catalog.+) interval '59.5 seconds';
	i integer := 0;
	s double precision;
BEGIN
	IF steps IS NULL OR steps OPERATOR(pg_catalog.<) 1 OR steps OPERATOR(pg_catalog.>) 60 THEN
		RAISE EXCEPTION 'steps must be between 1 and 60' USING ERRCODE = '22023';
	END IF;
	LOOP
		PERFORM ticket.admit_scheduled();
		COMMIT;
		i := i OPERATOR(pg_catalog.+) 1;
		EXIT WHEN i OPERATOR(pg_catalog.>=) steps
			OR pg_catalog.clock_timestamp() OPERATOR(pg_catalog.>=) stop_at;
		/* Sleep to the next whole second. */
		s := pg_catalog.date_part('epoch', pg_catalog.clock_timestamp());
		PERFORM pg_catalog.pg_sleep(1 OPERATOR(pg_catalog.-) (s OPERATOR(pg_catalog.-) pg_catalog.floor(s)));
	END LOOP;
END
$$;
COMMENT ON PROCEDURE ticket.run_admission(integer) IS
	'Runs an admission step for every scheduled concert each second, committing each, for steps seconds or to the end of the minute (what the pg_cron job calls).';

CREATE FUNCTION ticket._cron_version()
RETURNS integer[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.string_to_array(pg_catalog.regexp_replace(x.extversion, '-.*$', ''), '.')::integer[]
	  FROM pg_catalog.pg_extension AS x WHERE x.extname = 'pg_cron'
$$;
COMMENT ON FUNCTION ticket._cron_version() IS
	'Internal: the installed pg_cron version as {major,minor}, NULL when pg_cron is not installed here.';

CREATE FUNCTION ticket.schedule_admission(concert_id bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c ticket.concert;
	v integer[] := ticket._cron_version();
BEGIN
	c := ticket._lock_concert(concert_id);
	IF NOT c.queue THEN
		RAISE EXCEPTION 'concert % has no waiting room', concert_id USING ERRCODE = '55000';
	END IF;
	IF v IS NULL THEN
		RAISE EXCEPTION 'pg_cron is not installed in this database'
			USING ERRCODE = '55000',
			HINT = 'Add pg_cron to shared_preload_libraries, set cron.database_name to this database, and CREATE EXTENSION pg_cron.';
	END IF;
	UPDATE ticket.queue AS q SET scheduled = true WHERE q.concert_id = concert_id;
	/* One job steps every scheduled concert; the command is a constant. */
	IF v >= '{1,5}' THEN
		RETURN cron.schedule('ticket-admission', '1 seconds', 'CALL ticket.run_admission(1)');
	END IF;
	RETURN cron.schedule('ticket-admission', '* * * * *', 'CALL ticket.run_admission(60)');
END
$$;
COMMENT ON FUNCTION ticket.schedule_admission(bigint) IS
	'Has pg_cron run a concert''s admission: one job, ticket-admission, steps every scheduled concert each second (pg_cron 1.4: a per-minute job that steps 60 times). Returns the job id.';

CREATE FUNCTION ticket.unschedule_admission(concert_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	was boolean;
BEGIN
	PERFORM ticket._lock_concert(concert_id);
	SELECT q.scheduled INTO was FROM ticket.queue AS q WHERE q.concert_id = concert_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'concert % has no waiting room', concert_id USING ERRCODE = '55000';
	END IF;
	UPDATE ticket.queue AS q SET scheduled = false WHERE q.concert_id = concert_id;
	IF ticket._cron_version() IS NOT NULL
	   AND NOT EXISTS (SELECT FROM ticket.queue AS q WHERE q.scheduled)
	   AND EXISTS (SELECT FROM cron.job AS j WHERE j.jobname = 'ticket-admission') THEN
		PERFORM cron.unschedule('ticket-admission');
	END IF;
	RETURN was;
END
$$;
COMMENT ON FUNCTION ticket.unschedule_admission(bigint) IS
	'Stops pg_cron admitting for a concert (removing the job when no concert needs it); returns whether it was scheduled.';

CREATE FUNCTION ticket._waiting(q ticket.queue)
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	/* After the draw: places not yet admitted, plus joiners not yet placed, minus who left; before it, the pre-queue. */
	SELECT CASE WHEN $1.drawn_at IS NULL
				THEN (SELECT count(*) FROM ticket.queue_entry AS e
					   WHERE e.concert_id = $1.concert_id AND e.state = 'prequeue')
				ELSE $1.last_place - $1.admitted_through
					 + (SELECT count(*) FROM ticket.queue_entry AS e
						 WHERE e.concert_id = $1.concert_id AND e.seq IS NULL AND e.state IN ('waiting', 'prequeue'))
					 - (SELECT count(*) FROM ticket.queue_departure AS d
						 WHERE d.concert_id = $1.concert_id AND d.seq > $1.admitted_through)
		   END
$$;
COMMENT ON FUNCTION ticket._waiting(ticket.queue) IS
	'Internal: how many wait in a waiting room (the pre-queue before the draw); what ticket.queues and ticket.dashboard show.';

CREATE VIEW ticket.queues AS
SELECT q.concert_id, k.title, k.state AS concert_state, q.scheduled,
	   n.entries,
	   CASE WHEN q.drawn_at IS NULL THEN n.prequeue END AS prequeue,
	   CASE WHEN q.drawn_at IS NOT NULL THEN ticket._waiting(q) END AS waiting,
	   n.unplaced, q.admitted_through, q.admitted, q.last_place,
	   coalesce((SELECT sum(g) FROM unnest(q.gaps) AS g), 0) AS departed,
	   k.admit_rate, k.max_active, q.last_tick, q.paused_since, q.sold_out_at,
	   pg_catalog.encode(q.seed_hash, 'hex') AS seed_hash,
	   CASE WHEN q.drawn_at IS NOT NULL THEN pg_catalog.encode(q.seed, 'hex') END AS seed,
	   q.drawn_at, q.drawn
  FROM ticket.queue AS q
  JOIN ticket.concert AS k ON k.concert_id = q.concert_id
 CROSS JOIN LATERAL (
	SELECT (SELECT count(*) FROM ticket.queue_entry AS e WHERE e.concert_id = q.concert_id) AS entries,
		   (SELECT count(*) FROM ticket.queue_entry AS e
			 WHERE e.concert_id = q.concert_id AND e.state = 'prequeue') AS prequeue,
		   (SELECT count(*) FROM ticket.queue_entry AS e
			 WHERE e.concert_id = q.concert_id AND e.seq IS NULL AND e.state IN ('waiting', 'prequeue')) AS unplaced) AS n;
COMMENT ON VIEW ticket.queues IS
	'One row per waiting room: entries, how many wait (unplaced: joined since the last admission step), were admitted; the draw''s seed hash (published before opening) and, once drawn, its seed. Counts rows: an admin''s view.';

/* ------------------------------------------------------------------ events */

/*
 * The outbox.  Writers insert a row with event_id NULL in their own
 * transaction (cheap: a buyer's hold adds one row and one index entry);
 * ticket.publish_events, run by the worker every interval, numbers the
 * committed ones in commit-visible order and sends one NOTIFY ticket_event.
 * Numbering after commit is what makes event_id safe as a cursor: a
 * transaction that commits late gets a later event_id, so a consumer that
 * has read through N never misses an event numbered below N.
 */
CREATE SEQUENCE ticket.event_seq CACHE 32;
CREATE TABLE ticket.event (
	seq bigint NOT NULL DEFAULT pg_catalog.nextval('ticket.event_seq'),
	event_id bigint,
	concert_id bigint,
	kind text NOT NULL,
	subject_id bigint,
	user_id text,
	detail jsonb,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
ALTER SEQUENCE ticket.event_seq OWNED BY ticket.event.seq;
CREATE UNIQUE INDEX event_id_idx ON ticket.event (event_id);
CREATE INDEX event_unpublished_idx ON ticket.event (seq) WHERE event_id IS NULL;
COMMENT ON TABLE ticket.event IS
	'Outbox: one row per state change (kind: hold, hold_released, hold_expired, admitted, admission_expired, order_created, order_paid, order_cancelled, order_refunded, payment_succeeded, payment_failed, payment_dead, payment_timed_out, refund_requested, refund_succeeded, compensation_started, compensation_done). event_id is NULL until ticket.publish_events numbers it.';
SELECT pg_catalog.pg_extension_config_dump('ticket.event', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.event_seq', '');

CREATE TABLE ticket.event_head (
	only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
	last_event_id bigint NOT NULL DEFAULT 0,
	published_at timestamptz
);
INSERT INTO ticket.event_head DEFAULT VALUES;
COMMENT ON TABLE ticket.event_head IS
	'The last event_id handed out; its row lock makes publishers take turns.';
SELECT pg_catalog.pg_extension_config_dump('ticket.event_head', '');

CREATE FUNCTION ticket._event(concert_id bigint, kind text, subject_id bigint, user_id text, detail jsonb DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	INSERT INTO ticket.event (concert_id, kind, subject_id, user_id, detail)
	VALUES ($1, $2, $3, $4, $5);
$$;
COMMENT ON FUNCTION ticket._event(bigint, text, bigint, text, jsonb) IS
	'Internal: appends an event to the outbox in the caller''s transaction.';

CREATE FUNCTION ticket.publish_events(max_events integer DEFAULT 10000)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	head bigint;
	n integer := 0;
	s bigint;
BEGIN
	PERFORM ticket._check_range('max_events', max_events, 1, 1000000);
	SELECT e.last_event_id INTO head FROM ticket.event_head AS e FOR UPDATE;
	/*
	 * Row by row, each through the partial index on seq: the plan stays an
	 * index probe whatever the statistics say (a set-based UPDATE planned
	 * with stale statistics after a burst went quadratic).
	 */
	FOR s IN SELECT x.seq FROM ticket.event AS x WHERE x.event_id IS NULL ORDER BY x.seq LIMIT max_events LOOP
		UPDATE ticket.event AS x SET event_id = head + n + 1 WHERE x.seq = s AND x.event_id IS NULL;
		IF FOUND THEN
			n := n + 1;
		END IF;
	END LOOP;
	IF n > 0 THEN
		head := head + n;
		UPDATE ticket.event_head AS e SET last_event_id = head, published_at = now();
		PERFORM pg_catalog.pg_notify('ticket_event',
			pg_catalog.json_build_object('last_event_id', head, 'published', n)::text);
	END IF;
	RETURN n;
END
$$;
COMMENT ON FUNCTION ticket.publish_events(integer) IS
	'Numbers committed outbox events in order and sends NOTIFY ticket_event {last_event_id, published}; the worker runs it every interval. Returns how many it numbered.';

CREATE FUNCTION ticket.events_since(after_id bigint, max_events integer DEFAULT 1000, of_concert bigint DEFAULT NULL)
RETURNS TABLE (event_id bigint, concert_id bigint, kind text, subject_id bigint, user_id text,
			   detail jsonb, created_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	IF after_id IS NULL THEN
		RAISE EXCEPTION 'after_id must not be NULL' USING ERRCODE = '22004',
			HINT = 'Start from 0, then pass the last event_id read.';
	END IF;
	PERFORM ticket._check_range('max_events', max_events, 1, 100000);
	RETURN QUERY
	SELECT e.event_id, e.concert_id, e.kind, e.subject_id, e.user_id, e.detail, e.created_at
	  FROM ticket.event AS e
	 WHERE e.event_id > after_id AND (of_concert IS NULL OR e.concert_id = of_concert)
	 ORDER BY e.event_id
	 LIMIT max_events;
END
$$;
COMMENT ON FUNCTION ticket.events_since(bigint, integer, bigint) IS
	'Published events after after_id in order (optionally of one concert): how a consumer catches up after a disconnect. LISTEN ticket_event says when there is more.';

/* ------------------------------------------------------ orders, payments */

CREATE TYPE ticket.order_state AS ENUM ('pending', 'paid', 'cancelled', 'refunded');
COMMENT ON TYPE ticket.order_state IS
	'Life of an order: pending (payment in flight), then paid, or cancelled by compensation; a cancelled order whose captured money was given back is refunded.';
CREATE TYPE ticket.payment_kind AS ENUM ('charge', 'refund');
COMMENT ON TYPE ticket.payment_kind IS 'What a payment job asks of the provider: take the money, or give it back.';
CREATE TYPE ticket.payment_state AS ENUM ('processing', 'succeeded', 'failed', 'refunded');
COMMENT ON TYPE ticket.payment_state IS
	'Life of a payment job: processing (due, claimed, or waiting to be retried), then succeeded or failed (dead-lettered, timed out or cancelled); a succeeded charge whose refund went through is refunded.';

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
CREATE INDEX orders_buyer_idx ON ticket.orders (concert_id, user_id);
COMMENT ON TABLE ticket.orders IS
	'One order per checked-out hold: its seats, amount, and the deadline for its payment (pay_by).';

CREATE TABLE ticket.payment (
	payment_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	order_id bigint NOT NULL REFERENCES ticket.orders,
	kind ticket.payment_kind NOT NULL,
	refund_of bigint REFERENCES ticket.payment,
	refund_ref text,
	amount numeric(12,2) NOT NULL,
	state ticket.payment_state NOT NULL DEFAULT 'processing',
	attempts integer NOT NULL DEFAULT 0,
	max_attempts integer NOT NULL,
	next_attempt_at timestamptz NOT NULL,
	lease_owner text,
	lease_until timestamptz,
	provider_ref text,
	last_error text,
	dead_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	finished_at timestamptz,
	CHECK ((kind OPERATOR(pg_catalog.=) 'refund') OPERATOR(pg_catalog.=) (refund_of IS NOT NULL AND refund_ref IS NOT NULL))
);
CREATE INDEX payment_due_idx ON ticket.payment (next_attempt_at) WHERE state = 'processing';
CREATE INDEX payment_order_idx ON ticket.payment (order_id);
/* One refund per captured provider reference: a refund is never requested twice. */
CREATE UNIQUE INDEX payment_refund_idx ON ticket.payment (refund_ref) WHERE kind = 'refund';
COMMENT ON TABLE ticket.payment IS
	'Payment jobs for the adapter: charges (one per order, plus none) and refunds. Claimed with a lease (lease_owner, lease_until); retried at next_attempt_at; dead_at set when dead-lettered.';

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

SELECT pg_catalog.pg_extension_config_dump('ticket.orders', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.orders_order_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.payment', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.payment_payment_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.idempotency', '');

CREATE TYPE ticket.checkout_result AS (
	order_id bigint,
	payment_id bigint,
	status text,
	amount numeric(12,2),
	pay_by timestamptz
);
COMMENT ON TYPE ticket.checkout_result IS
	'Result of ticket.checkout: status pending (order and payment created; pay_by is the deadline), or, for a replayed key, the order''s state now (pending, paid, cancelled, refunded); expired, released or closed when the hold could not be checked out (the rest NULL).';

CREATE TYPE ticket.payment_job AS (
	payment_id bigint,
	kind ticket.payment_kind,
	order_id bigint,
	concert_id bigint,
	user_id text,
	amount numeric(12,2),
	attempt integer,
	provider_key text,
	refund_ref text,
	lease_until timestamptz
);
COMMENT ON TYPE ticket.payment_job IS
	'A claimed payment job: charge or refund amount for an order; provider_key is the idempotency key to give the provider (the same on every attempt of this job); refund_ref is the provider reference of the capture a refund gives back.';

CREATE FUNCTION ticket._setting_seconds(name text, fallback double precision)
RETURNS double precision
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	/* current_setting shows a time with its unit (500ms, 1s, 1d): read it as an interval. */
	SELECT coalesce(extract(epoch FROM nullif(current_setting($1, true), '')::interval)::double precision, $2);
$$;
COMMENT ON FUNCTION ticket._setting_seconds(text, double precision) IS
	'Internal: a time setting of the library in seconds (the fallback when the library is not loaded).';

CREATE FUNCTION ticket._order_result(order_id bigint)
RETURNS ticket.checkout_result
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT o.order_id, p.payment_id, o.state::text, o.amount, o.pay_by
	  FROM ticket.orders AS o
	  LEFT JOIN ticket.payment AS p ON p.order_id = o.order_id AND p.kind = 'charge'
	 WHERE o.order_id = $1;
$$;
COMMENT ON FUNCTION ticket._order_result(bigint) IS
	'Internal: an order as ticket.checkout and ticket.order_status return it (its state now).';

CREATE FUNCTION ticket.checkout(hold_id bigint, user_id text, idempotency_key text)
RETURNS ticket.checkout_result
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	request text;
	k ticket.idempotency;
	h ticket.hold;
	c ticket.concert;
	o ticket.orders;
	r ticket.checkout_result;
	amount numeric(12,2);
	n integer;
BEGIN
	IF hold_id IS NULL THEN
		RAISE EXCEPTION 'hold_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	PERFORM ticket._check_text('user_id', user_id, 128);
	PERFORM ticket._check_text('idempotency_key', idempotency_key, 255);
	request := format('checkout of hold %s', hold_id);

	/*
	 * The key first: a second call with the same key waits here for the
	 * first to commit, then finds its row and answers what it answered.
	 */
	INSERT INTO ticket.idempotency AS x (user_id, idempotency_key, request, status)
	VALUES (user_id, idempotency_key, request, 'in_progress')
	ON CONFLICT DO NOTHING;
	IF NOT FOUND THEN
		SELECT * INTO k FROM ticket.idempotency AS x
		 WHERE x.user_id = user_id AND x.idempotency_key = idempotency_key;
		IF k.request <> request THEN
			RAISE EXCEPTION 'idempotency key "%" was already used for a different request', idempotency_key
				USING ERRCODE = '22023',
				DETAIL = format('It was used for the %s; this call asks for the %s.', k.request, request),
				HINT = 'Use a new key for a new request.';
		END IF;
		IF k.order_id IS NOT NULL THEN
			RETURN ticket._order_result(k.order_id);
		END IF;
		r.status := k.status;
		RETURN r;
	END IF;

	SELECT * INTO h FROM ticket.hold AS x WHERE x.hold_id = hold_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'hold % does not exist', hold_id USING ERRCODE = 'P0002';
	END IF;
	IF h.user_id <> user_id THEN
		RAISE EXCEPTION 'hold % belongs to another user', hold_id
			USING ERRCODE = '42501', HINT = 'Only the user who made a hold may check it out.';
	END IF;
	IF h.state IN ('checking_out', 'confirmed') THEN
		SELECT x.order_id INTO o.order_id FROM ticket.orders AS x WHERE x.hold_id = hold_id;
		RAISE EXCEPTION 'hold % is already checked out', hold_id
			USING ERRCODE = '55000',
			DETAIL = format('Order %s was created for it.', o.order_id),
			HINT = 'Repeat the first checkout with its idempotency key to get its order.';
	END IF;

	SELECT * INTO c FROM ticket.concert AS x WHERE x.concert_id = h.concert_id;
	IF h.state = 'released' THEN
		r.status := 'released';
	ELSIF h.state = 'expired' OR h.expires_at <= now() THEN
		r.status := 'expired';
	ELSIF c.state = 'cancelled' THEN
		r.status := 'closed';
	END IF;
	IF r.status IS NOT NULL THEN
		UPDATE ticket.idempotency AS x SET status = r.status
		 WHERE x.user_id = user_id AND x.idempotency_key = idempotency_key;
		RETURN r;
	END IF;

	/* The seats are this hold's until it expires: now until pay_by. */
	PERFORM ticket._lock_seats(h.concert_id, h.seat_ids);
	SELECT sum(x.price), count(*) INTO amount, n
	  FROM ticket.seat AS s
	  JOIN ticket.section AS x ON x.concert_id = s.concert_id AND x.section_id = s.section_id
	 WHERE s.concert_id = h.concert_id AND s.seat_id = ANY (h.seat_ids)
	   AND s.hold_id = h.hold_id AND s.state = 'held';
	IF n <> cardinality(h.seat_ids) THEN
		RAISE EXCEPTION 'hold % does not own its seats', hold_id USING ERRCODE = 'XX001',
			HINT = 'Run ticket.verify() and report this.';
	END IF;
	o.pay_by := now() + c.payment_timeout;
	UPDATE ticket.seat AS s SET held_until = o.pay_by
	 WHERE s.concert_id = h.concert_id AND s.seat_id = ANY (h.seat_ids);
	UPDATE ticket.hold AS x SET state = 'checking_out', expires_at = o.pay_by WHERE x.hold_id = hold_id;
	INSERT INTO ticket.orders AS x (concert_id, user_id, hold_id, seat_ids, amount, pay_by)
	VALUES (h.concert_id, user_id, hold_id, h.seat_ids, amount, o.pay_by)
	RETURNING x.order_id INTO o.order_id;
	INSERT INTO ticket.payment AS p (order_id, kind, amount, max_attempts, next_attempt_at)
	VALUES (o.order_id, 'charge', amount, c.payment_attempts, now())
	RETURNING p.payment_id INTO r.payment_id;
	UPDATE ticket.idempotency AS x SET status = 'pending', order_id = o.order_id
	 WHERE x.user_id = user_id AND x.idempotency_key = idempotency_key;
	PERFORM ticket._event(h.concert_id, 'order_created', o.order_id, user_id,
		jsonb_build_object('hold_id', hold_id, 'payment_id', r.payment_id, 'amount', amount, 'pay_by', o.pay_by));
	PERFORM ticket._bump_counter('orders_created', 1);

	r.order_id := o.order_id;
	r.status := 'pending';
	r.amount := amount;
	r.pay_by := o.pay_by;
	RETURN r;
END
$$;
COMMENT ON FUNCTION ticket.checkout(bigint, text, text) IS
	'Turns a live hold into an order and a payment job; the seats stay held until the payment succeeds, fails or times out (payment_timeout). The same idempotency key returns the same order; a different request with it is 22023.';

CREATE FUNCTION ticket.claim_payments(adapter text, max_jobs integer DEFAULT 10, lease interval DEFAULT '30 seconds')
RETURNS SETOF ticket.payment_job
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	PERFORM ticket._check_text('adapter', adapter, 100);
	PERFORM ticket._check_range('max_jobs', max_jobs, 1, 1000);
	PERFORM ticket._check_interval('lease', lease, '1 second', '1 hour');
	/*
	 * Due jobs: never claimed, due for a retry, or whose lease ran out (an
	 * adapter that died).  SKIP LOCKED: adapters claiming at once get
	 * different jobs and never wait for each other.
	 */
	RETURN QUERY
	WITH due AS (
		SELECT p.payment_id FROM ticket.payment AS p
		 WHERE p.state = 'processing' AND p.next_attempt_at <= now()
		 ORDER BY p.next_attempt_at, p.payment_id
		 LIMIT max_jobs
		   FOR UPDATE SKIP LOCKED
	), claimed AS (
		UPDATE ticket.payment AS p
		   SET attempts = p.attempts + 1, lease_owner = adapter, lease_until = now() + lease,
			   next_attempt_at = now() + lease
		  FROM due WHERE p.payment_id = due.payment_id
		RETURNING p.*
	)
	SELECT c.payment_id, c.kind, c.order_id, o.concert_id, o.user_id, c.amount, c.attempts,
		   'ticket-' || c.payment_id::text, c.refund_ref, c.lease_until
	  FROM claimed AS c JOIN ticket.orders AS o ON o.order_id = c.order_id
	 ORDER BY c.payment_id;
END
$$;
COMMENT ON FUNCTION ticket.claim_payments(text, integer, interval) IS
	'For the payment adapter: claims up to max_jobs due payment jobs for lease (other adapters skip them; a job whose lease runs out is claimed again). Report each with ticket.payment_succeeded or ticket.payment_failed.';

CREATE FUNCTION ticket._lock_payment(payment_id bigint)
RETURNS ticket.payment
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	p ticket.payment;
BEGIN
	IF payment_id IS NULL THEN
		RAISE EXCEPTION 'payment_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	SELECT * INTO p FROM ticket.payment AS x WHERE x.payment_id = payment_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'payment % does not exist', payment_id USING ERRCODE = 'P0002';
	END IF;
	RETURN p;
END
$$;
COMMENT ON FUNCTION ticket._lock_payment(bigint) IS
	'Internal: locks and returns a payment job, raising P0002 when there is none.';

/*
 * Sell an order's seats, if they are all still this order's hold's or
 * free: the seat locks make this safe against buyers.  Returns false (and
 * changes nothing) when any seat went to someone else or the buyer would
 * go over the limit.
 */
CREATE FUNCTION ticket._sell(o ticket.orders)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	limit_ integer;
	owned bigint;
BEGIN
	PERFORM FROM ticket.hold AS x WHERE x.hold_id = o.hold_id FOR UPDATE;
	PERFORM ticket._lock_seats(o.concert_id, o.seat_ids);
	IF EXISTS (SELECT FROM ticket.seat AS s
				WHERE s.concert_id = o.concert_id AND s.seat_id = ANY (o.seat_ids)
				  AND s.hold_id IS DISTINCT FROM o.hold_id
				  AND NOT (s.state = 'available' OR (s.state = 'held' AND s.held_until <= now()))) THEN
		RETURN false;
	END IF;
	/* A hold past pay_by (or revived after compensation) no longer counted against the limit. */
	SELECT k.per_user_limit INTO limit_ FROM ticket.concert AS k WHERE k.concert_id = o.concert_id;
	SELECT coalesce(sum(cardinality(x.seat_ids)), 0) INTO owned FROM ticket.hold AS x
	 WHERE x.concert_id = o.concert_id AND x.user_id = o.user_id AND x.hold_id <> o.hold_id
	   AND (x.state = 'confirmed' OR (x.state IN ('active', 'checking_out') AND x.expires_at > now()));
	IF owned + cardinality(o.seat_ids) > limit_ THEN
		RETURN false;
	END IF;
	UPDATE ticket.seat AS s SET state = 'sold', hold_id = o.hold_id, held_until = NULL
	 WHERE s.concert_id = o.concert_id AND s.seat_id = ANY (o.seat_ids);
	UPDATE ticket.hold AS x SET state = 'confirmed', ended_at = now() WHERE x.hold_id = o.hold_id;
	UPDATE ticket.orders AS x SET state = 'paid', paid_at = now(), cancelled_at = NULL, cancel_reason = NULL
	 WHERE x.order_id = o.order_id;
	PERFORM ticket._event(o.concert_id, 'order_paid', o.order_id, o.user_id,
		jsonb_build_object('amount', o.amount, 'seat_ids', o.seat_ids));
	PERFORM ticket._bump_counter('orders_paid', 1);
	RETURN true;
END
$$;
COMMENT ON FUNCTION ticket._sell(ticket.orders) IS
	'Internal: marks an order''s seats sold and the order paid, unless a seat went to another buyer or the buyer would go over the limit (false).';

CREATE FUNCTION ticket._request_refund(charge ticket.payment, ref text, reason text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id bigint;
	o ticket.orders;
BEGIN
	SELECT * INTO o FROM ticket.orders AS x WHERE x.order_id = charge.order_id;
	INSERT INTO ticket.payment AS p (order_id, kind, refund_of, refund_ref, amount, max_attempts, next_attempt_at,
									 last_error)
	VALUES (charge.order_id, 'refund', charge.payment_id, ref, charge.amount,
			(SELECT k.payment_attempts FROM ticket.concert AS k WHERE k.concert_id = o.concert_id), now(), reason)
	ON CONFLICT (refund_ref) WHERE kind = 'refund' DO NOTHING
	RETURNING p.payment_id INTO id;
	IF id IS NOT NULL THEN
		PERFORM ticket._event(o.concert_id, 'refund_requested', o.order_id, o.user_id,
			jsonb_build_object('payment_id', id, 'refund_of', charge.payment_id, 'amount', charge.amount, 'reason', reason));
		PERFORM ticket._bump_counter('refunds_requested', 1);
	END IF;
	RETURN id;
END
$$;
COMMENT ON FUNCTION ticket._request_refund(ticket.payment, text, text) IS
	'Internal: adds a refund job for a captured provider reference, once (NULL if one exists).';

CREATE FUNCTION ticket.payment_succeeded(payment_id bigint, provider_ref text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	p ticket.payment;
	o ticket.orders;
	c ticket.concert;
BEGIN
	PERFORM ticket._check_text('provider_ref', provider_ref, 255);
	p := ticket._lock_payment(payment_id);
	SELECT * INTO o FROM ticket.orders AS x WHERE x.order_id = p.order_id FOR UPDATE;

	IF p.kind = 'refund' THEN
		IF p.state = 'succeeded' THEN
			RETURN 'refunded';
		END IF;
		UPDATE ticket.payment AS x SET state = 'succeeded', provider_ref = provider_ref, finished_at = now(),
			   lease_owner = NULL, lease_until = NULL, dead_at = NULL
		 WHERE x.payment_id = payment_id;
		UPDATE ticket.payment AS x SET state = 'refunded', finished_at = now()
		 WHERE x.payment_id = p.refund_of AND x.provider_ref = p.refund_ref;
		PERFORM ticket._event(o.concert_id, 'refund_succeeded', o.order_id, o.user_id,
			jsonb_build_object('payment_id', payment_id, 'amount', p.amount));
		/* Nothing captured is left: the order is refunded. */
		IF o.state = 'cancelled' AND NOT EXISTS (
			SELECT FROM ticket.payment AS x WHERE x.order_id = o.order_id AND x.kind = 'charge' AND x.state = 'succeeded')
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
		RETURN CASE WHEN o.state = 'paid' THEN 'paid' WHEN p.state = 'refunded' THEN 'refunded' ELSE 'refunding' END;
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

CREATE FUNCTION ticket._backoff(attempt integer)
RETURNS interval
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	/* Exponential, capped, with "equal jitter": half fixed, half random. */
	SELECT make_interval(secs => d / 2 + random() * d / 2)
	  FROM (SELECT least(ticket._setting_seconds('ticket.payment_retry_base', 1) * 2 ^ least(greatest($1 - 1, 0), 30),
						 ticket._setting_seconds('ticket.payment_retry_max', 60)) AS d) AS x;
$$;
COMMENT ON FUNCTION ticket._backoff(integer) IS
	'Internal: the delay before retry number attempt: min(retry_max, retry_base * 2^(attempt-1)), of which a random half.';

CREATE FUNCTION ticket.payment_failed(payment_id bigint, reason text, retryable boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	p ticket.payment;
	o ticket.orders;
	delay interval;
BEGIN
	PERFORM ticket._check_text('reason', reason, 1000);
	IF retryable IS NULL THEN
		RAISE EXCEPTION 'retryable must not be NULL' USING ERRCODE = '22004';
	END IF;
	p := ticket._lock_payment(payment_id);
	SELECT * INTO o FROM ticket.orders AS x WHERE x.order_id = p.order_id FOR UPDATE;
	IF p.state <> 'processing' THEN
		/* Settled already (a success is never undone by a later failure report). */
		RETURN CASE WHEN p.state = 'succeeded' AND p.kind = 'charge' THEN 'succeeded' ELSE p.state::text END;
	END IF;

	IF retryable AND p.attempts < p.max_attempts AND (p.kind = 'refund' OR o.state = 'pending') THEN
		delay := ticket._backoff(p.attempts);
		UPDATE ticket.payment AS x
		   SET next_attempt_at = now() + delay, lease_owner = NULL, lease_until = NULL, last_error = reason
		 WHERE x.payment_id = payment_id;
		PERFORM ticket._event(o.concert_id, 'payment_failed', o.order_id, o.user_id,
			jsonb_build_object('payment_id', payment_id, 'kind', p.kind, 'attempt', p.attempts, 'reason', reason,
							   'retry_at', now() + delay));
		PERFORM ticket._bump_counter('payments_retried', 1);
		RETURN 'retrying';
	END IF;

	/* The last attempt, or a failure that retrying cannot fix: dead-letter. */
	UPDATE ticket.payment AS x
	   SET state = 'failed', dead_at = now(), finished_at = now(), lease_owner = NULL, lease_until = NULL,
		   last_error = reason
	 WHERE x.payment_id = payment_id;
	PERFORM ticket._event(o.concert_id, 'payment_dead', o.order_id, o.user_id,
		jsonb_build_object('payment_id', payment_id, 'kind', p.kind, 'attempts', p.attempts, 'reason', reason,
						   'retryable', retryable));
	PERFORM ticket._bump_counter('payments_dead', 1);
	IF p.kind = 'charge' AND o.state = 'pending' THEN
		PERFORM ticket._start_saga(o.order_id, 'payment failed: ' || reason, true);
	END IF;
	RETURN 'failed';
END
$$;
COMMENT ON FUNCTION ticket.payment_failed(bigint, text, boolean) IS
	'For the payment adapter: the attempt failed. Retryable failures are retried with exponential backoff and jitter (returns retrying) until payment_attempts; then, or when not retryable, the job is dead-lettered (failed) and the order compensated.';

/* ------------------------------------------------------------ compensation */

CREATE FUNCTION ticket._call_off_charges(order_id bigint, why text)
RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	/* Dead-letters the order's charges still in flight, keeping the last error reported. */
	WITH off AS (
		UPDATE ticket.payment AS p
		   SET state = 'failed', dead_at = now(), finished_at = now(), lease_owner = NULL, lease_until = NULL,
			   last_error = coalesce(p.last_error || '; ', '') || $2
		 WHERE p.order_id = $1 AND p.kind = 'charge' AND p.state = 'processing'
		RETURNING 1
	)
	SELECT count(*)::integer FROM off;
$$;
COMMENT ON FUNCTION ticket._call_off_charges(bigint, text) IS
	'Internal: dead-letters an order''s charges still in flight (timeout, compensation) and returns how many.';

CREATE TABLE ticket.saga (
	saga_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	order_id bigint NOT NULL REFERENCES ticket.orders,
	reason text NOT NULL,
	if_unpaid boolean NOT NULL,
	state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'skipped')),
	started_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	finished_at timestamptz
);
/* One compensation of an order at a time. */
CREATE UNIQUE INDEX saga_running_idx ON ticket.saga (order_id) WHERE state = 'running';
COMMENT ON TABLE ticket.saga IS
	'Compensations of orders: running until every step in ticket.saga_step is done. if_unpaid: started by a failed payment, so a success that wins the race skips it.';

CREATE TABLE ticket.saga_step (
	saga_id bigint NOT NULL REFERENCES ticket.saga,
	step text NOT NULL,
	done_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	detail text,
	PRIMARY KEY (saga_id, step)
);
COMMENT ON TABLE ticket.saga_step IS
	'The saga log: one row per compensation step done (cancel_order, release_seats, refund), written in the step''s own transaction.';
SELECT pg_catalog.pg_extension_config_dump('ticket.saga', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.saga_saga_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ticket.saga_step', '');

CREATE FUNCTION ticket._start_saga(order_id bigint, reason text, if_unpaid boolean)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	o ticket.orders;
	id bigint;
BEGIN
	SELECT * INTO o FROM ticket.orders AS x WHERE x.order_id = order_id FOR UPDATE;
	SELECT g.saga_id INTO id FROM ticket.saga AS g WHERE g.order_id = order_id AND g.state = 'running';
	IF id IS NULL THEN
		INSERT INTO ticket.saga AS g (order_id, reason, if_unpaid) VALUES (order_id, reason, if_unpaid)
		RETURNING g.saga_id INTO id;
		PERFORM ticket._event(o.concert_id, 'compensation_started', order_id, o.user_id,
			jsonb_build_object('saga_id', id, 'reason', reason));
	END IF;
	RETURN id;
END
$$;
COMMENT ON FUNCTION ticket._start_saga(bigint, text, boolean) IS
	'Internal: starts the compensation of an order (or returns the one running); the caller''s transaction commits it.';

CREATE FUNCTION ticket.start_compensation(order_id bigint, reason text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	o ticket.orders;
BEGIN
	IF order_id IS NULL THEN
		RAISE EXCEPTION 'order_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	PERFORM ticket._check_text('reason', reason, 1000);
	SELECT * INTO o FROM ticket.orders AS x WHERE x.order_id = order_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'order % does not exist', order_id USING ERRCODE = 'P0002';
	END IF;
	IF o.state IN ('cancelled', 'refunded')
	   AND NOT EXISTS (SELECT FROM ticket.saga AS g WHERE g.order_id = order_id AND g.state = 'running') THEN
		RETURN NULL;	/* undone already */
	END IF;
	RETURN ticket._start_saga(order_id, reason, false);
END
$$;
COMMENT ON FUNCTION ticket.start_compensation(bigint, text) IS
	'Starts (or finds) the compensation of an order and returns its saga_id; NULL when the order is undone already. ticket.compensate runs it.';

/*
 * One step of a compensation, in the caller's transaction.  Each step is
 * done at most once (its saga_step row is written with its effects), and
 * each is harmless to repeat anyway.  Returns false when the saga is over.
 */
CREATE FUNCTION ticket.compensation_step(saga_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	g ticket.saga;
	o ticket.orders;
	p ticket.payment;
	step text;
	detail text;
	n integer;
BEGIN
	IF saga_id IS NULL THEN
		RAISE EXCEPTION 'saga_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	SELECT * INTO g FROM ticket.saga AS x WHERE x.saga_id = saga_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'compensation % does not exist', saga_id USING ERRCODE = 'P0002';
	END IF;
	IF g.state <> 'running' THEN
		RETURN false;
	END IF;
	SELECT * INTO o FROM ticket.orders AS x WHERE x.order_id = g.order_id FOR UPDATE;
	SELECT s.name INTO step FROM unnest(ARRAY['cancel_order', 'release_seats', 'refund']) WITH ORDINALITY AS s(name, i)
	 WHERE NOT EXISTS (SELECT FROM ticket.saga_step AS x WHERE x.saga_id = saga_id AND x.step = s.name)
	 ORDER BY s.i LIMIT 1;

	IF step IS NULL THEN
		UPDATE ticket.saga AS x SET state = 'done', finished_at = now() WHERE x.saga_id = saga_id;
		PERFORM ticket._event(o.concert_id, 'compensation_done', o.order_id, o.user_id,
			jsonb_build_object('saga_id', saga_id, 'order_state', o.state));
		PERFORM ticket._bump_counter('compensations_done', 1);
		RETURN false;
	END IF;

	IF step = 'cancel_order' THEN
		IF g.if_unpaid AND o.state = 'paid' THEN
			/* The payment won the race: nothing to undo. */
			UPDATE ticket.saga AS x SET state = 'skipped', finished_at = now() WHERE x.saga_id = saga_id;
			RETURN false;
		END IF;
		IF o.state IN ('pending', 'paid') THEN
			UPDATE ticket.orders AS x SET state = 'cancelled', cancelled_at = now(), cancel_reason = g.reason
			 WHERE x.order_id = o.order_id;
			PERFORM ticket._event(o.concert_id, 'order_cancelled', o.order_id, o.user_id,
				jsonb_build_object('reason', g.reason, 'was', o.state));
		END IF;
		/* A charge still in flight is called off; if it succeeds anyway, it is refunded or re-sold. */
		n := ticket._call_off_charges(o.order_id, 'cancelled: ' || g.reason);
		detail := format('order was %s; %s charge(s) called off', o.state, n);
	ELSIF step = 'release_seats' THEN
		PERFORM ticket._lock_seats(o.concert_id, o.seat_ids);
		n := ticket._free_seats(o.concert_id, o.seat_ids, o.hold_id);
		UPDATE ticket.hold AS x SET state = 'released', ended_at = coalesce(x.ended_at, now())
		 WHERE x.hold_id = o.hold_id AND x.state IN ('active', 'checking_out', 'confirmed');
		detail := format('%s seat(s) released', n);
	ELSE
		n := 0;
		FOR p IN SELECT * FROM ticket.payment AS x
				  WHERE x.order_id = o.order_id AND x.kind = 'charge' AND x.state = 'succeeded' LOOP
			IF ticket._request_refund(p, p.provider_ref, g.reason) IS NOT NULL THEN
				n := n + 1;
			END IF;
		END LOOP;
		detail := format('%s refund(s) requested', n);
	END IF;
	INSERT INTO ticket.saga_step AS x (saga_id, step, detail) VALUES (saga_id, step, detail);
	RETURN true;
END
$$;
COMMENT ON FUNCTION ticket.compensation_step(bigint) IS
	'Runs the next step of a compensation (cancel_order, release_seats, refund) and logs it in ticket.saga_step; false when the saga is over.';

/*
 * COMMIT after each step: a crash leaves the saga log saying how far it got,
 * and running it again (or the worker) carries on from there.  Like
 * ticket.run_admission: SECURITY INVOKER without SET, every name qualified.
 */
CREATE PROCEDURE ticket.compensate(order_id bigint, reason text)
LANGUAGE plpgsql
AS $$
DECLARE
	id bigint;
BEGIN
	id := ticket.start_compensation(order_id, reason);
	COMMIT;
	WHILE id IS NOT NULL AND ticket.compensation_step(id) LOOP
		COMMIT;
	END LOOP;
END
$$;
COMMENT ON PROCEDURE ticket.compensate(bigint, text) IS
	'Undoes an order: cancels it, releases its seats and requests refunds for anything captured, committing and logging each step; running it again, or after a crash, ends as running it once. Call it outside a transaction block.';

/* ------------------------------------------------------------ maintenance */

CREATE FUNCTION ticket.maintenance(task text, batch_size integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	n integer := 0;
	r record;
	t timestamptz := now();
BEGIN
	PERFORM ticket._check_range('batch_size', batch_size, 1, 100000);
	IF task IS NULL THEN
		RAISE EXCEPTION 'task must not be NULL' USING ERRCODE = '22004';
	END IF;
	CASE task
	WHEN 'expire_holds' THEN
		/*
		 * Holds a checkout has locked are skipped (the checkout decides), and
		 * so are holds with a seat a buyer is trying right now: the worker
		 * never waits, so it cannot deadlock with anyone.  Skipped holds are
		 * free to buyers anyway and are tidied on the next round.
		 */
		FOR r IN SELECT h.hold_id, h.concert_id, h.user_id, h.seat_ids FROM ticket.hold AS h
				  WHERE h.state = 'active' AND h.expires_at <= t
				  ORDER BY h.expires_at LIMIT batch_size
					FOR UPDATE SKIP LOCKED LOOP
			CONTINUE WHEN NOT ticket._try_lock_seats(r.concert_id, r.seat_ids);
			PERFORM ticket._free_seats(r.concert_id, r.seat_ids, r.hold_id);
			UPDATE ticket.hold AS h SET state = 'expired', ended_at = t WHERE h.hold_id = r.hold_id;
			PERFORM ticket._event(r.concert_id, 'hold_expired', r.hold_id, r.user_id, NULL);
			n := n + 1;
		END LOOP;
		PERFORM ticket._bump_counter('holds_expired', n);
	WHEN 'expire_admissions' THEN
		WITH x AS (
			SELECT e.concert_id, e.user_id FROM ticket.queue_entry AS e
			 WHERE e.state = 'admitted' AND e.expires_at <= t
			 ORDER BY e.expires_at LIMIT batch_size
			   FOR UPDATE SKIP LOCKED
		), done AS (
			UPDATE ticket.queue_entry AS e SET state = 'expired', left_at = t
			  FROM x WHERE e.concert_id = x.concert_id AND e.user_id = x.user_id
			RETURNING e.concert_id, e.user_id
		), ev AS (
			INSERT INTO ticket.event (concert_id, kind, user_id)
			SELECT done.concert_id, 'admission_expired', done.user_id FROM done
			RETURNING 1
		)
		SELECT count(*) INTO n FROM ev;
	WHEN 'timeout_payments' THEN
		/* Charges whose order is past pay_by: dead-letter them, compensate the order. */
		FOR r IN SELECT o.order_id, o.concert_id, o.user_id FROM ticket.orders AS o
				  WHERE o.state = 'pending' AND o.pay_by <= t
				  ORDER BY o.pay_by LIMIT batch_size
					FOR UPDATE SKIP LOCKED LOOP
			PERFORM ticket._call_off_charges(r.order_id, 'timed out');
			PERFORM ticket._event(r.concert_id, 'payment_timed_out', r.order_id, r.user_id, NULL);
			PERFORM ticket._start_saga(r.order_id, 'payment timed out', true);
			n := n + 1;
		END LOOP;
		PERFORM ticket._bump_counter('payments_timed_out', n);
	WHEN 'compensate' THEN
		/* Whole sagas, oldest first; each step is logged as it is done. */
		FOR r IN SELECT g.saga_id FROM ticket.saga AS g WHERE g.state = 'running'
				  ORDER BY g.saga_id LIMIT batch_size
					FOR UPDATE SKIP LOCKED LOOP
			WHILE ticket.compensation_step(r.saga_id) LOOP
			END LOOP;
			n := n + 1;
		END LOOP;
	WHEN 'publish_events' THEN
		n := ticket.publish_events(batch_size);
	WHEN 'purge' THEN
		WITH k AS (
			SELECT x.user_id, x.idempotency_key FROM ticket.idempotency AS x
			 WHERE x.created_at < t - make_interval(secs => ticket._setting_seconds('ticket.idempotency_ttl', 86400))
			 ORDER BY x.created_at LIMIT batch_size
		), d AS (
			DELETE FROM ticket.idempotency AS x USING k
			 WHERE x.user_id = k.user_id AND x.idempotency_key = k.idempotency_key
			RETURNING 1
		)
		SELECT count(*) INTO n FROM d;
	ELSE
		RAISE EXCEPTION 'unknown maintenance task "%"', task
			USING ERRCODE = '22023',
			HINT = 'The tasks are expire_holds, expire_admissions, timeout_payments, compensate, publish_events and purge.';
	END CASE;
	RETURN n;
END
$$;
COMMENT ON FUNCTION ticket.maintenance(text, integer) IS
	'Runs one batch of one of the worker''s tasks (expire_holds, expire_admissions, timeout_payments, compensate, publish_events, purge) and returns how many items it did: what the background worker does every interval, for psql when the worker is off.';

CREATE FUNCTION ticket._next_due()
RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT least((SELECT min(h.expires_at) FROM ticket.hold AS h WHERE h.state = 'active'),
				 (SELECT min(o.pay_by) FROM ticket.orders AS o WHERE o.state = 'pending'),
				 (SELECT min(e.expires_at) FROM ticket.queue_entry AS e WHERE e.state = 'admitted'));
$$;
CREATE FUNCTION ticket._reconcile_report()
RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	holds bigint;
	orders bigint;
	sagas bigint;
	leases bigint;
	events bigint;
BEGIN
	SELECT count(*) INTO holds FROM ticket.hold AS h WHERE h.state = 'active' AND h.expires_at <= now();
	SELECT count(*) INTO orders FROM ticket.orders AS o WHERE o.state = 'pending' AND o.pay_by <= now();
	SELECT count(*) INTO sagas FROM ticket.saga AS g WHERE g.state = 'running';
	SELECT count(*) INTO leases FROM ticket.payment AS p WHERE p.state = 'processing' AND p.lease_until > now();
	SELECT count(*) INTO events FROM ticket.event AS e WHERE e.event_id IS NULL;
	RAISE LOG 'ticket worker: in flight at start: % holds past expiry, % orders past pay_by, % compensations running, % payment jobs leased to adapters, % events unpublished',
		holds, orders, sagas, leases, events;
	RETURN holds + orders + sagas + events;
END
$$;
COMMENT ON FUNCTION ticket._reconcile_report() IS
	'Internal: logs what the worker finds in flight when it starts (the rounds that follow finish it).';

COMMENT ON FUNCTION ticket._next_due()
	IS 'Internal: when the next hold, payment or admission runs out (the worker sleeps no longer than that).';

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
	PERFORM ticket._check_text('user_id', user_id, 128);
	SELECT * INTO o FROM ticket.orders AS x WHERE x.order_id = order_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'order % does not exist', order_id USING ERRCODE = 'P0002';
	END IF;
	IF o.user_id <> user_id THEN
		RAISE EXCEPTION 'order % belongs to another user', order_id USING ERRCODE = '42501';
	END IF;
	RETURN ticket._order_result(order_id);
END
$$;
COMMENT ON FUNCTION ticket.order_status(bigint, text) IS
	'A user''s order as ticket.checkout returns it, with its state now (pending, paid, cancelled, refunded).';

CREATE FUNCTION ticket._try_lock_seats(concert_id bigint, seat_ids integer[])
RETURNS boolean
LANGUAGE c STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ticket_try_lock_seats';
COMMENT ON FUNCTION ticket._try_lock_seats(bigint, integer[]) IS
	'Internal: takes the seat locks of a concert in ascending order without waiting; false (holding none of them) when a buyer has one.';


/* ------------------------------------------------------------- invariants */

CREATE FUNCTION ticket.verify(concert_id bigint DEFAULT NULL)
RETURNS TABLE (concert_id bigint, violation text, detail text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	/* Live means live at this statement's start, when its snapshot was taken. */
	WITH live AS (
		SELECT h.* FROM ticket.hold AS h
		 WHERE ($1 IS NULL OR h.concert_id = $1)
		   AND (h.state = 'confirmed'
				OR (h.state IN ('active', 'checking_out') AND h.expires_at > statement_timestamp()))
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
		OR (ls.state IN ('active', 'checking_out') AND (t.state <> 'held' OR t.held_until IS DISTINCT FROM ls.expires_at))
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
	 WHERE t.state = 'held' AND t.held_until > statement_timestamp() AND h.state IN ('released', 'expired')
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

/* ------------------------------------------------------------- monitoring */

/*
 * One statement, so one snapshot: every column of every row is read as of
 * the same moment (as_of), under READ COMMITTED as under REPEATABLE READ.
 * Counts rows, but only through indexes on the concert or on what is still
 * in flight: a few milliseconds for a 50,000-seat sale, fine for \watch 1.
 */
CREATE VIEW ticket.dashboard AS
SELECT c.concert_id, c.title, c.state,
	   q.waiting, q.admitted,
	   h.active_holds,
	   c.seat_count AS capacity, s.available, s.held, s.sold,
	   o.orders_pending, o.orders_paid, o.revenue, o.sales_per_minute,
	   g.compensations, g.compensations_running, p.refunds, p.dead_letters,
	   CASE WHEN c.seat_count = 0 THEN NULL
			WHEN s.sold >= c.seat_count THEN interval '0'
			WHEN o.sales_per_minute > 0
			THEN pg_catalog.make_interval(secs => pg_catalog.ceil(60.0 * (c.seat_count - s.sold) / o.sales_per_minute)::double precision)
	   END AS sell_out_eta,
	   pg_catalog.now() AS as_of
  FROM ticket.concert AS c
  JOIN ticket.concerts AS s ON s.concert_id = c.concert_id
  LEFT JOIN LATERAL (
	SELECT ticket._waiting(x) AS waiting, x.admitted
	  FROM ticket.queue AS x WHERE x.concert_id = c.concert_id) AS q ON true
 CROSS JOIN LATERAL (
	SELECT count(*) AS active_holds FROM ticket.hold AS x
	 WHERE x.concert_id = c.concert_id AND x.state = 'active' AND x.expires_at > pg_catalog.now()) AS h
 CROSS JOIN LATERAL (
	SELECT count(*) FILTER (WHERE x.state = 'pending') AS orders_pending,
		   count(*) FILTER (WHERE x.state = 'paid') AS orders_paid,
		   coalesce(sum(x.amount) FILTER (WHERE x.state = 'paid'), 0)::numeric(14,2) AS revenue,
		   coalesce(sum(pg_catalog.cardinality(x.seat_ids))
					FILTER (WHERE x.state = 'paid' AND x.paid_at > pg_catalog.now() - interval '1 minute'), 0)::bigint
			   AS sales_per_minute
	  FROM ticket.orders AS x WHERE x.concert_id = c.concert_id) AS o
 CROSS JOIN LATERAL (
	SELECT count(*) FILTER (WHERE x.state = 'done') AS compensations,
		   count(*) FILTER (WHERE x.state = 'running') AS compensations_running
	  FROM ticket.saga AS x JOIN ticket.orders AS y ON y.order_id = x.order_id
	 WHERE y.concert_id = c.concert_id) AS g
 CROSS JOIN LATERAL (
	SELECT count(*) FILTER (WHERE x.kind = 'refund' AND x.state = 'succeeded') AS refunds,
		   count(*) FILTER (WHERE x.dead_at IS NOT NULL) AS dead_letters
	  FROM ticket.payment AS x JOIN ticket.orders AS y ON y.order_id = x.order_id
	 WHERE y.concert_id = c.concert_id) AS p;
COMMENT ON VIEW ticket.dashboard IS
	'One row per concert for an operator''s \watch 1: waiting and admitted (waiting rooms), active holds, seats available/held/sold of capacity, orders pending and paid, revenue (paid orders), sales_per_minute (seats paid in the last minute), compensations done and running, refunds paid back, dead-lettered payment jobs, sell_out_eta at the last minute''s pace; all read from one snapshot taken at as_of.';

CREATE FUNCTION ticket.metrics()
RETURNS TABLE (name text, kind text, labels jsonb, value double precision)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	/* Counters since the server started (shared memory: none when not preloaded). */
	IF ticket.preloaded() THEN
		RETURN QUERY
		SELECT 'ticket_' || k.counter || '_total', 'counter', '{}'::jsonb, k.value::double precision
		  FROM ticket.counters() AS k;
	END IF;
	RETURN QUERY
	/* Per concert on sale, from one read of the dashboard. */
	SELECT 'ticket_concert_' || m.key, m.kind,
		   pg_catalog.jsonb_build_object('concert_id', d.concert_id::text), m.value
	  FROM ticket.dashboard AS d
	 CROSS JOIN LATERAL (VALUES
		('waiting', 'gauge', d.waiting::double precision),
		('admitted_total', 'counter', d.admitted::double precision),
		('active_holds', 'gauge', d.active_holds::double precision),
		('capacity_seats', 'gauge', d.capacity::double precision),
		('available_seats', 'gauge', d.available::double precision),
		('held_seats', 'gauge', d.held::double precision),
		('sold_seats', 'gauge', d.sold::double precision),
		('orders_pending', 'gauge', d.orders_pending::double precision),
		('orders_paid', 'gauge', d.orders_paid::double precision),
		('revenue', 'gauge', d.revenue::double precision),
		('sales_per_minute', 'gauge', d.sales_per_minute::double precision),
		('compensations', 'gauge', d.compensations::double precision),
		('refunds', 'gauge', d.refunds::double precision),
		('dead_letters', 'gauge', d.dead_letters::double precision),
		('sell_out_eta_seconds', 'gauge', pg_catalog.date_part('epoch', d.sell_out_eta)))
		AS m (key, kind, value)
	 WHERE d.state = 'on_sale'
	UNION ALL
	/* What is in flight, for every concert. */
	SELECT 'ticket_payments_due', 'gauge', '{}'::jsonb, count(*)::double precision
	  FROM ticket.payment AS p WHERE p.state = 'processing' AND p.next_attempt_at <= pg_catalog.now()
	UNION ALL
	SELECT 'ticket_events_unpublished', 'gauge', '{}'::jsonb, count(*)::double precision
	  FROM ticket.event AS e WHERE e.event_id IS NULL
	UNION ALL
	SELECT 'ticket_worker_running', 'gauge', '{}'::jsonb, count(*)::double precision
	  FROM pg_catalog.pg_stat_activity AS a WHERE a.backend_type = 'ticket worker'
	UNION ALL
	SELECT 'ticket_preloaded', 'gauge', '{}'::jsonb, ticket.preloaded()::integer::double precision;
END
$$;
COMMENT ON FUNCTION ticket.metrics() IS
	'Every counter (ticket_<counter>_total, since server start) and gauge (per concert on sale: ticket_concert_*, labelled concert_id; payments due, unpublished events, worker running, preloaded) as name, kind, labels, value: what monitoring/postgres_exporter.yml turns into Prometheus metrics.';

/* ------------------------------------------------------------ privileges */

REVOKE ALL ON ALL TABLES IN SCHEMA ticket FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA ticket FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ticket FROM PUBLIC;
REVOKE ALL ON ALL PROCEDURES IN SCHEMA ticket FROM PUBLIC;

GRANT SELECT ON ticket.concert, ticket.section, ticket.seat, ticket.hold, ticket.blocked_user,
	ticket.concerts, ticket.sections, ticket.queues, ticket.orders, ticket.payment, ticket.saga,
	ticket.saga_step, ticket.event, ticket.event_head, ticket.dashboard TO ticket_admin;
GRANT SELECT ON ticket.dashboard TO ticket_monitor;
/* The views call it as whoever reads them (it only counts, as the owner). */
GRANT EXECUTE ON FUNCTION ticket._waiting(ticket.queue) TO ticket_admin, ticket_monitor;
GRANT EXECUTE ON FUNCTION ticket.metrics(), ticket.counters(), ticket.preloaded() TO ticket_monitor;
GRANT EXECUTE ON FUNCTION
	ticket.create_concert(text, timestamptz, timestamptz, text, timestamptz, interval, integer, integer, interval, integer, boolean, integer, interval, integer, boolean),
	ticket.update_concert(bigint, text, text, timestamptz, timestamptz, timestamptz, interval, integer, integer, interval, integer, boolean, integer, interval, integer, boolean),
	ticket.open_sale(bigint),
	ticket.close_sale(bigint),
	ticket.cancel_concert(bigint),
	ticket.add_section(bigint, text, text, numeric, integer, integer),
	ticket.add_standing(bigint, text, text, numeric, integer),
	ticket.seat_map(bigint, integer),
	ticket.counters(),
	ticket.metrics(),
	ticket.verify(bigint),
	ticket.rotate_pass_key(interval),
	ticket.check_pass(text, bigint, text),
	ticket.block_user(text, text),
	ticket.unblock_user(text),
	ticket.admit(bigint),
	ticket.admit_scheduled(),
	ticket.schedule_admission(bigint),
	ticket.unschedule_admission(bigint),
	ticket.draw_order(bigint, bytea),
	ticket.queue_status(bigint, text),
	ticket.start_compensation(bigint, text),
	ticket.compensation_step(bigint),
	ticket.maintenance(text, integer),
	ticket.publish_events(integer),
	ticket.events_since(bigint, integer, bigint),
	ticket.order_status(bigint, text)
TO ticket_admin;
GRANT EXECUTE ON PROCEDURE ticket.run_admission(integer), ticket.compensate(bigint, text) TO ticket_admin;
GRANT EXECUTE ON FUNCTION
	ticket.claim_payments(text, integer, interval),
	ticket.payment_succeeded(bigint, text),
	ticket.payment_failed(bigint, text, boolean),
	ticket.events_since(bigint, integer, bigint)
TO ticket_adapter;
GRANT EXECUTE ON FUNCTION
	ticket.hold(bigint, text, integer[], text, text, text),
	ticket.hold_best(bigint, text, integer, integer, boolean, text, text, text),
	ticket.release(bigint, text),
	ticket.check_pass(text, bigint, text),
	ticket.join_queue(bigint, text, text, text, text),
	ticket.queue_status(bigint, text),
	ticket.leave_queue(bigint, text),
	ticket.challenge(bigint, text),
	ticket.checkout(bigint, text, text),
	ticket.order_status(bigint, text)
TO ticket_customer;
GRANT EXECUTE ON FUNCTION ticket.preloaded() TO ticket_admin, ticket_customer, ticket_adapter;
