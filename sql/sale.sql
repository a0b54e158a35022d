-- The rules of a sale are written once (src/sale.c, src/parse.c) and the SQL
-- reads them through ticket._seat_is_free, ticket._hold_is_live and
-- ticket._check_text.  Here the C paths and the SQL functions judge the same
-- rows and strings, and must agree: a seat the SQL calls free is one that
-- ticket.hold takes; a hold the SQL calls live is one that counts toward the
-- limit in ticket.hold; a text the SQL refuses, the C refuses with the same
-- SQLSTATE.
\i test/regress_setup.sql

SELECT ticket.create_concert('Rules', now() + interval '30 days', now() - interval '1 day',
	hold_ttl => '10 minutes', per_user_limit => 1) AS c \gset
SELECT ticket.add_section(:c, 'Floor', 'A', 10, 4, 10) AS x \gset
SELECT ticket.open_sale(:c);

-- Seats in every state: available (1-2), held and live (3), held past its
-- held_until (4), held without a held_until (5), sold (6).
SELECT (ticket.hold(:c, 'h' || i, ARRAY[i])).status FROM generate_series(3, 6) AS i;
UPDATE ticket.seat SET held_until = now() - interval '1 second' WHERE concert_id = :c AND seat_id = 4;
UPDATE ticket.seat SET held_until = NULL WHERE concert_id = :c AND seat_id = 5;
UPDATE ticket.seat SET state = 'sold' WHERE concert_id = :c AND seat_id = 6;

-- The SQL's answer and ticket.hold's, seat by seat (each by a new buyer).
BEGIN;
SELECT s.seat_id, s.state, s.held_until <= now() AS past_held_until,
	   ticket._seat_is_free(s.state, s.held_until, now()) AS sql_free,
	   (ticket.hold(:c, 'probe' || s.seat_id, ARRAY[s.seat_id])).status AS c_answer
  FROM ticket.seat AS s WHERE s.concert_id = :c AND s.seat_id <= 6 ORDER BY s.seat_id;
ROLLBACK;
-- The sections view counts with the same rule: of 40 seats, 3 and 5 are held
-- (4's hold is over), 6 is sold.
SELECT available, held, sold FROM ticket.sections WHERE concert_id = :c AND section_id = :x;
SELECT count(*) AS disagreements FROM (
	SELECT ticket._seat_is_free(s.state, s.held_until, now()) AS sql_free,
		   (ticket.hold(:c, 'probe2-' || s.seat_id, ARRAY[s.seat_id])).status = 'held' AS c_free
	  FROM ticket.seat AS s WHERE s.concert_id = :c AND s.seat_id <= 6) AS x
 WHERE sql_free IS DISTINCT FROM c_free;

-- Holds in every state, one per buyer (limit 1): the SQL's answer and
-- whether ticket.hold counts it toward the limit of its buyer.
SELECT ticket.create_concert('Rules 2', now() + interval '30 days', now() - interval '1 day',
	hold_ttl => '10 minutes', per_user_limit => 1) AS d \gset
SELECT ticket.add_section(:d, 'Floor', 'A', 10, 4, 10) AS y \gset
SELECT ticket.open_sale(:d);
SELECT count(*) FROM generate_series(1, 8) AS i WHERE (ticket.hold(:d, 'b' || i, ARRAY[i])).status = 'held';
UPDATE ticket.hold AS h SET state = v.state::ticket.hold_state, expires_at = now() + v.shift
  FROM (VALUES ('b1', 'active', interval '1 minute'), ('b2', 'active', interval '-1 minute'),
			   ('b3', 'checking_out', interval '1 minute'), ('b4', 'checking_out', interval '-1 minute'),
			   ('b5', 'confirmed', interval '-1 minute'), ('b6', 'released', interval '1 minute'),
			   ('b7', 'expired', interval '1 minute'), ('b8', 'active', interval '0')) AS v (user_id, state, shift)
 WHERE h.concert_id = :d AND h.user_id = v.user_id;
BEGIN;
SELECT h.user_id, h.state, h.expires_at > now() AS before_expiry,
	   ticket._hold_is_live(h.state, h.expires_at, now()) AS sql_live,
	   (ticket.hold(:d, h.user_id, ARRAY[20 + substr(h.user_id, 2)::int])).status AS c_answer
  FROM ticket.hold AS h WHERE h.concert_id = :d ORDER BY h.user_id;
ROLLBACK;
-- What the SQL counts toward each buyer's limit (ticket._buyer_seats).
SELECT ticket._buyer_seats(:d, 'b' || i) AS seats, 'b' || i AS user_id FROM generate_series(1, 8) AS i ORDER BY i;
SELECT count(*) AS disagreements FROM (
	SELECT ticket._hold_is_live(h.state, h.expires_at, now()) AS sql_live,
		   (ticket.hold(:d, h.user_id, ARRAY[30 + substr(h.user_id, 2)::int])).status = 'limit' AS c_counts
	  FROM ticket.hold AS h WHERE h.concert_id = :d AND h.seat_ids[1] <= 8) AS x
 WHERE sql_live IS DISTINCT FROM c_counts;

-- Texts: the SQLSTATE of ticket._check_text('user_id', s) and of
-- ticket.hold(..., user_id => s), which checks it in C.
CREATE FUNCTION pg_temp.state_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$$;
SELECT t.label,
	   pg_temp.state_of(format('SELECT ticket._check_text(%L, %L)', 'user_id', t.s)) AS sql_state,
	   pg_temp.state_of(format('SELECT ticket.hold(%s, %L, ARRAY[40])', :c, t.s)) AS c_state
  FROM (VALUES ('plain', 'fan'), ('empty', ''), ('spaces', '   '), ('no-break space', E'\u00a0'),
			   ('ideographic space', E'\u3000x'), ('tab inside', E'a\tb'), ('newline', E'a\nb'),
			   ('C1 control', E'a\u0085b'), ('DEL', E'a\u007fb'), ('128 characters', repeat('é', 128)),
			   ('129 characters', repeat('é', 129))) AS t (label, s)
 ORDER BY t.label;
-- A reason may hold tab, newline and carriage return, and nothing else of the kind.
SELECT pg_temp.state_of($$SELECT ticket._check_text('reason', E'line one\n\tline two\r\n')$$) AS layout,
	   pg_temp.state_of($$SELECT ticket._check_text('reason', E'bell \u0007')$$) AS bell,
	   pg_temp.state_of($$SELECT ticket._check_text('reason', repeat('r', 1001))$$) AS too_long,
	   pg_temp.state_of($$SELECT ticket._check_text('reason', NULL)$$) AS missing,
	   pg_temp.state_of($$SELECT ticket._check_text('reason', NULL, required => false)$$) AS optional;
-- A name without a limit of its own needs one (22023), and a name (22004).
SELECT pg_temp.state_of($$SELECT ticket._check_text('title', 'x')$$) AS no_limit,
	   pg_temp.state_of($$SELECT ticket._check_text(NULL, 'x', 10)$$) AS no_name;

-- "The caller's own hold or order" is one rule (src/sale.c): checkout (C),
-- release and order_status (SQL) answer alike for a missing row and for
-- another user's.
SELECT (ticket.hold(:c, 'owner', ARRAY[39])).hold_id AS own_hold \gset
SELECT ticket.checkout(:own_hold, 'owner', 'k-own') IS NOT NULL AS checked_out;
SELECT (ticket.hold(:c, 'owner2', ARRAY[38])).hold_id AS own_hold2 \gset
SELECT pg_temp.state_of(format('SELECT ticket.checkout(%s, %L, %L)', :own_hold2, 'intruder', 'k1')) AS checkout_other,
	   pg_temp.state_of(format('SELECT ticket.release(%s, %L)', :own_hold2, 'intruder')) AS release_other,
	   pg_temp.state_of(format('SELECT ticket.order_status(%s, %L)', (SELECT order_id FROM ticket.orders WHERE hold_id = :own_hold), 'intruder')) AS order_other,
	   pg_temp.state_of('SELECT ticket.checkout(999999, ''owner'', ''k2'')') AS checkout_missing,
	   pg_temp.state_of('SELECT ticket.release(999999, ''owner'')') AS release_missing,
	   pg_temp.state_of('SELECT ticket.order_status(999999, ''owner'')') AS order_missing;
SELECT pg_temp.state_of(format('SELECT ticket.release(%s, %L)', :own_hold2, 'owner2')) AS release_own;
SELECT state FROM ticket.hold WHERE hold_id = :own_hold2;

-- Every event enters the outbox through one function: no SQL function
-- inserts into ticket.event but publish_events, which writes the holds'
-- events, read from ticket.hold (0.7).  And no function or view keeps a copy of the
-- seat or hold rule: none compares held_until with a time or lists the live
-- hold states; they call ticket._seat_is_free and ticket._hold_is_live.
SELECT p.proname FROM pg_proc AS p
 WHERE p.pronamespace = 'ticket'::regnamespace AND p.prosrc ~* 'insert\s+into\s+ticket\.event\M'
 ORDER BY 1;
SELECT p.proname FROM pg_proc AS p
 WHERE p.pronamespace = 'ticket'::regnamespace
   AND (p.prosrc ~ 'held_until\s*(<|>|<=|>=)\s' OR p.prosrc ~ 'IN \(''active'', ''checking_out''\)')
 ORDER BY 1;
SELECT c.relname FROM pg_class AS c
 WHERE c.relnamespace = 'ticket'::regnamespace AND c.relkind = 'v'
   AND pg_get_viewdef(c.oid) ~ 'held_until\s*(<|>|<=|>=)\s'
 ORDER BY 1;
