/*
 * src/event.sql: the event outbox.  Every change a consumer may want (holds,
 * orders, payments, compensations) is a row written in the same transaction;
 * publish_events numbers them after commit and events_since reads them.
 */

/*
 * The outbox.  Writers insert a row with event_id NULL in their own
 * transaction (a hold writes none: its event is read from ticket.hold);
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
	published_at timestamptz,
	hold_mark bigint NOT NULL DEFAULT 0
);
INSERT INTO ticket.event_head DEFAULT VALUES;
COMMENT ON TABLE ticket.event_head IS
	'The last event_id handed out, and hold_mark: the holds up to that hold_id have their hold event. Its row lock makes publishers take turns.';
SELECT pg_catalog.pg_extension_config_dump('ticket.event_head', '');

CREATE FUNCTION ticket._event(concert_id bigint, kind text, subject_id bigint, user_id text, detail jsonb DEFAULT NULL)
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_event_sql';
COMMENT ON FUNCTION ticket._event(bigint, text, bigint, text, jsonb) IS
	'Internal: appends an event to the outbox in the caller''s transaction, through the C function every event of the extension goes through (src/sale.c).';

CREATE FUNCTION ticket._hold_event_bound(handed_out bigint)
RETURNS bigint
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_hold_event_bound';
COMMENT ON FUNCTION ticket._hold_event_bound(bigint) IS
	'Internal: the highest hold_id at or below which every hold''s transaction has ended (handed_out: what ticket.hold_id_seq has handed out, read first); publish_events numbers the holds'' events up to it (src/sale.c).';

CREATE FUNCTION ticket.publish_events(max_events integer DEFAULT 10000)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	head bigint;
	mark bigint;
	bound bigint;
	last_hold bigint;
	k integer := 0;
	n integer := 0;
	s bigint;
BEGIN
	PERFORM ticket._check_range('max_events', max_events, 1, 1000000);
	SELECT e.last_event_id, e.hold_mark INTO head, mark FROM ticket.event_head AS e FOR UPDATE;
	/*
	 * Holds' events come from ticket.hold itself (a hold writes no outbox
	 * row): in hold_id order, up to the bound below which every hold's
	 * transaction has ended, so that none commits below hold_mark later.
	 * The INSERT's own snapshot, taken after the bound, sees those holds:
	 * only under READ COMMITTED (the worker's), else the next run does it.
	 */
	IF pg_catalog.current_setting('transaction_isolation') = 'read committed' THEN
		bound := ticket._hold_event_bound(
			(SELECT CASE WHEN q.is_called THEN q.last_value ELSE 0 END FROM ticket.hold_id_seq AS q));
		IF bound > mark THEN
			WITH numbered AS (
				INSERT INTO ticket.event AS x (event_id, concert_id, kind, subject_id, user_id, created_at)
				SELECT head + pg_catalog.row_number() OVER (ORDER BY h.hold_id), h.concert_id, 'hold',
					   h.hold_id, h.user_id, h.created_at
				  FROM ticket.hold AS h
				 WHERE h.hold_id > mark AND h.hold_id <= bound
				 ORDER BY h.hold_id
				 LIMIT max_events
				RETURNING x.subject_id
			)
			SELECT count(*)::integer, max(numbered.subject_id) INTO k, last_hold FROM numbered;
			mark := CASE WHEN k >= max_events THEN last_hold ELSE bound END;
			head := head + k;
			UPDATE ticket.event_head AS e SET hold_mark = mark;
		END IF;
	ELSE
		RAISE WARNING 'publish_events numbers the holds'' events only under READ COMMITTED'
			USING DETAIL = pg_catalog.format('This transaction is %s; the worker''s next run numbers them.',
				pg_catalog.current_setting('transaction_isolation'));
	END IF;
	/*
	 * The outbox, row by row, each through the partial index on seq: the
	 * plan stays an index probe whatever the statistics say (a set-based
	 * UPDATE planned with stale statistics after a burst went quadratic).
	 */
	FOR s IN SELECT x.seq FROM ticket.event AS x WHERE x.event_id IS NULL ORDER BY x.seq LIMIT max_events - k LOOP
		UPDATE ticket.event AS x SET event_id = head + n + 1 WHERE x.seq = s AND x.event_id IS NULL;
		IF FOUND THEN
			n := n + 1;
		END IF;
	END LOOP;
	IF n + k > 0 THEN
		head := head + n;
		UPDATE ticket.event_head AS e SET last_event_id = head, published_at = now();
		PERFORM pg_catalog.pg_notify('ticket_event',
			pg_catalog.json_build_object('last_event_id', head, 'published', n + k)::text);
	END IF;
	RETURN n + k;
END
$$;
COMMENT ON FUNCTION ticket.publish_events(integer) IS
	'Numbers committed events in order (holds'' events from ticket.hold, then the outbox) and sends NOTIFY ticket_event {last_event_id, published}; the worker runs it every interval. Returns how many it numbered.';

CREATE FUNCTION ticket._unpublished(OUT events bigint, OUT oldest timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	/* The outbox's unnumbered rows, and the holds above the mark (0.7). */
	SELECT count(*), min(u.created_at)
	  FROM (SELECT e.created_at FROM ticket.event AS e WHERE e.event_id IS NULL
			UNION ALL
			SELECT h.created_at FROM ticket.hold AS h
			 WHERE h.hold_id > (SELECT x.hold_mark FROM ticket.event_head AS x)) AS u;
$$;
COMMENT ON FUNCTION ticket._unpublished() IS
	'Internal: how many events publish_events has yet to number (the outbox''s and the holds'' above event_head.hold_mark), and when the oldest was made; metrics, health and the worker''s start report read it.';

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
