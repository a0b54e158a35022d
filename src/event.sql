/*
 * src/event.sql: the event outbox.  Every change a consumer may want (holds,
 * orders, payments, compensations) is a row written in the same transaction;
 * publish_events numbers them after commit and events_since reads them.
 */

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

CREATE UNIQUE INDEX event_id_idx ON ticket.event (event_id) WHERE event_id IS NOT NULL;

CREATE INDEX event_unpublished_idx ON ticket.event (seq) WHERE event_id IS NULL;
COMMENT ON TABLE ticket.event IS
	'Outbox: one row per state change (kind: hold, hold_released, hold_expired, admitted, admission_expired, admission_done, order_created, order_paid, order_cancelled, order_refunded, payment_succeeded, payment_failed, payment_dead, payment_timed_out, refund_requested, refund_succeeded, compensation_started, compensation_done). event_id is NULL until ticket.publish_events numbers it.';
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
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_event_sql';
COMMENT ON FUNCTION ticket._event(bigint, text, bigint, text, jsonb) IS
	'Internal: appends an event to the outbox in the caller''s transaction, through the C function every event of the extension goes through (src/sale.c).';

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
