/*
 * src/hold.sql: seat holds (src/hold.c).  A hold keeps seats for one buyer
 * until expires_at; hold and hold_best take them, release gives them back,
 * the worker expires the rest (src/worker.sql).  The hold row, the seat rows
 * and the locks of src/lock.c are what make a seat impossible to sell twice.
 */

CREATE TYPE ticket.hold_state AS ENUM ('active', 'checking_out', 'confirmed', 'expired', 'released');
COMMENT ON TYPE ticket.hold_state IS
	'Life of a hold: active until expires_at (an active hold past it is expired, whether or not a cleaner has said so), then released, expired, or through checkout to confirmed.';

CREATE TYPE ticket.hold_result AS (
	hold_id bigint,
	status text,
	expires_at timestamptz,
	seat_ids integer[],
	total numeric(12,2),
	seats json
);
COMMENT ON TYPE ticket.hold_result IS
	'Result of ticket.hold and ticket.hold_best: status held (with hold_id, expires_at, seat_ids, their total price and seats: a JSON array of seat_id, section_id, section, row, seat, label, price), or taken, limit, closed, sold_out, no_adjacent, rate_limited, blocked (the rest NULL); a replayed idempotency key returns its hold with its current state.';

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

/* A buyer's holds, of one concert (the per-user limit) or of all (ticket.my_holds). */
CREATE INDEX hold_user_idx ON ticket.hold (user_id, concert_id);

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

/*
 * The caller's own hold, locked FOR UPDATE: P0002 when there is none, 42501
 * when it belongs to another user.  The rule checkout uses too (src/sale.c).
 */
CREATE FUNCTION ticket._own_hold(hold_id bigint, user_id text, verb text)
RETURNS ticket.hold
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_own_hold_sql';
COMMENT ON FUNCTION ticket._own_hold(bigint, text, text) IS
	'Internal: the caller''s hold, locked FOR UPDATE; P0002 when there is none, 42501 (hint: only its user may <verb>) when it is another user''s.';

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

/*
 * When a hold is live, for SQL: the C paths' rule itself (src/sale.c).
 */
CREATE FUNCTION ticket._hold_is_live(state ticket.hold_state, expires_at timestamptz, at timestamptz)
RETURNS boolean
LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ticket_hold_is_live_sql';
COMMENT ON FUNCTION ticket._hold_is_live(ticket.hold_state, timestamptz, timestamptz) IS
	'Internal: whether a hold in this state and expires_at is live at the given time (paid, or active or in checkout until expires_at): it owns its seats and counts toward the per-user limit. The rule the C paths use.';

CREATE FUNCTION ticket._buyer_seats(concert_id bigint, user_id text, except_hold bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	/* Seats a buyer holds or owns: paid holds, and live holds (active or in checkout, not past expires_at). */
	SELECT coalesce(sum(pg_catalog.cardinality(x.seat_ids)), 0)::bigint FROM ticket.hold AS x
	 WHERE x.concert_id = $1 AND x.user_id = $2 AND x.hold_id IS DISTINCT FROM $3
	   AND ticket._hold_is_live(x.state, x.expires_at, pg_catalog.now());
$$;
COMMENT ON FUNCTION ticket._buyer_seats(bigint, text, bigint) IS
	'Internal: how many seats of a concert a user holds or owns (what the per-user limit counts), leaving out one hold.';
