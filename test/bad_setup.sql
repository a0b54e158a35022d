\set ECHO none
-- Included once by every sql/*_bad.sql (\i test/bad_setup.sql): the
-- bad-input table, one file per capability (sql/hold_bad.sql for the
-- functions of src/hold.sql), one part per public function.  A fresh
-- extension (regress_setup), then the tools and the fixture every file
-- shares:
--
--   pg_temp.fp()             a fingerprint of everything the extension keeps
--                            in tables: per table of schema ticket its row
--                            count and the md5 of its ordered rows, per
--                            sequence its last_value; one md5 of all that.
--   pg_temp.bad(stmt [, role])  one bad input: runs stmt (as role, if given)
--                            through pg_temp.err and answers 'SQLSTATE:
--                            message' (or 'ok' and the first column, for a
--                            status); ' [WROTE]' is appended when the
--                            fingerprint changed, so every row also says
--                            that nothing was written.
--   pg_temp.no_grant(fn, stmt)  stmt as every ticket role, and a plain role,
--                            that lacks EXECUTE on fn: one row per role.
--   pg_temp.v(name)          a fixture value (passes) for statements in
--                            dollar quotes, where psql variables do not
--                            reach.
--
-- Fixture (ids are fixed: the extension is fresh):
--   concert 1 'A'  on sale, per_user_limit 4: section 1 Floor 2 x 5 (seats
--                  1-10, 100.00), section 2 Pit standing 10 (seats 11-20, 40.00)
--   concert 2 'B'  on sale: section 1 Floor 1 x 5 (seats 1-5)
--   concert 3 'Q'  on sale with a waiting room: section 1 Floor 1 x 5;
--                  alice and bob admitted (passes v('pass_alice'), v('pass_bob'))
--   concert 4 'D'  a draft: section 1 Floor 1 x 5
--   concert 5 'X'  cancelled: section 1 Floor 1 x 5
--   hold 1  alice, concert 1, seats {1,2}, key 'ka'          (live)
--   hold 2  bob,   concert 1, seat {3}                       (live)
--   hold 3  bob,   concert 1, seat {4}, checked out: order 1, payment 1 (key 'kb')
--   hold 4  carol, concert 2, seat {1}                       (live)
--   hold 5  alice, concert 3, seat {1}, with her pass        (live)
--   hold 6  alice, concert 1, seat {5}, checked out: order 2, payment 2 (key 'kc')
--   role bad_nobody: no ticket role at all
\i test/regress_setup.sql

CREATE FUNCTION pg_temp.fp() RETURNS text LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r record;
	h text;
	acc text := '';
BEGIN
	FOR r IN SELECT c.oid::regclass AS rel, c.relkind FROM pg_class AS c
			  WHERE c.relnamespace = 'ticket'::regnamespace AND c.relkind IN ('r', 'p', 'S')
			  ORDER BY c.relname LOOP
		IF r.relkind = 'S' THEN
			EXECUTE format('SELECT last_value || '' '' || is_called FROM %s', r.rel) INTO h;
		ELSE
			EXECUTE format('SELECT count(*) || '' '' || md5(coalesce(string_agg(t::text, E''\n'' ORDER BY t::text), '''')) FROM %s AS t', r.rel) INTO h;
		END IF;
		acc := acc || r.rel::text || ' ' || h || E'\n';
	END LOOP;
	RETURN md5(acc);
END
$$;

CREATE FUNCTION pg_temp.bad(stmt text, as_role text DEFAULT NULL) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	before text := pg_temp.fp();
	r text;
BEGIN
	IF as_role IS NOT NULL THEN
		EXECUTE format('SET ROLE %I', as_role);
	END IF;
	r := pg_temp.err(stmt);
	IF as_role IS NOT NULL THEN
		RESET ROLE;
	END IF;
	IF pg_temp.fp() <> before THEN
		r := r || ' [WROTE]';
	END IF;
	RETURN r;
END
$$;

-- err() with the first column of a statement that succeeded (a status).
CREATE OR REPLACE FUNCTION pg_temp.err(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v text;
BEGIN
	EXECUTE stmt INTO v;
	RETURN 'ok: ' || coalesce(v, '(null)');
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- The usual bad values of one type, as SQL literals: (label, literal).
CREATE FUNCTION pg_temp.values_of(kind text) RETURNS TABLE (label text, lit text) LANGUAGE sql AS $$
	SELECT v.label, v.lit FROM (VALUES
		('text', 1, 'NULL', 'NULL::text'),
		('text', 2, 'empty', $v$''$v$),
		('text', 3, 'spaces', $v$'   '$v$),
		('text', 4, 'tab+newline only', $v$E'\t\n'$v$),
		('text', 5, 'control \x01', $v$E'a\x01b'$v$),
		('text', 6, 'newline inside', $v$E'a\nb'$v$),
		('text', 7, 'tab inside', $v$E'a\tb'$v$),
		('text', 8, '10,000 chars', $v$repeat('x', 10000)$v$),
		('int4', 1, 'NULL', 'NULL::int4'),
		('int4', 2, '0', '0'),
		('int4', 3, '-1', '-1'),
		('int4', 4, 'int4 max', '2147483647'),
		('int4', 5, 'int4 min', '(-2147483648)::int4'),
		('int8', 1, 'NULL', 'NULL::int8'),
		('int8', 2, '0', '0::int8'),
		('int8', 3, '-1', '(-1)::int8'),
		('int8', 4, 'int8 max', '9223372036854775807'),
		('int8', 5, 'int8 min', '(-9223372036854775808)::int8'),
		('numeric', 1, 'NULL', 'NULL::numeric'),
		('numeric', 2, '0', '0::numeric'),
		('numeric', 3, '-1', '(-1)::numeric'),
		('numeric', 4, '0.001', '0.001'),
		('numeric', 5, '1e300', '1e300::numeric'),
		('numeric', 6, 'NaN', $v$'NaN'::numeric$v$),
		('numeric', 7, 'Infinity', $v$'Infinity'::numeric$v$),
		('numeric', 8, '-Infinity', $v$'-Infinity'::numeric$v$),
		('interval', 1, 'NULL', 'NULL::interval'),
		('interval', 2, '0', $v$'0'::interval$v$),
		('interval', 3, '-1 second', $v$'-1 second'::interval$v$),
		('interval', 4, '1 microsecond', $v$'1 microsecond'::interval$v$),
		('interval', 5, '178000000 years', $v$'178000000 years'::interval$v$),
		('interval', 6, '-178000000 years', $v$'-178000000 years'::interval$v$),
		('timestamptz', 1, 'NULL', 'NULL::timestamptz'),
		('timestamptz', 2, 'infinity', $v$'infinity'::timestamptz$v$),
		('timestamptz', 3, '-infinity', $v$'-infinity'::timestamptz$v$),
		('timestamptz', 4, 'in the past', $v$'2000-01-01 00:00+00'::timestamptz$v$),
		('timestamptz', 5, 'year 294276', $v$'294276-12-31 00:00+00'::timestamptz$v$),
		('bool', 1, 'NULL', 'NULL::boolean'),
		('int4[]', 1, 'NULL', 'NULL::int4[]'),
		('int4[]', 2, 'empty', $v$'{}'::int4[]$v$),
		('int4[]', 3, 'NULL element', 'ARRAY[6, NULL]'),
		('int4[]', 4, 'only NULL', 'ARRAY[NULL]::int4[]'),
		('int4[]', 5, 'duplicate', 'ARRAY[6, 6]'),
		('int4[]', 6, 'zero', 'ARRAY[0]'),
		('int4[]', 7, 'negative', 'ARRAY[-6]'),
		('int4[]', 8, 'int4 max', 'ARRAY[2147483647]'),
		('int4[]', 9, 'two-dimensional', 'ARRAY[[6, 7], [8, 9]]'),
		('int4[]', 11, '100,000 elements', 'array(SELECT generate_series(6, 100005))'),
		('int4[]', 12, '100,000 duplicates', 'array_fill(6, ARRAY[100000])'),
		('bytea', 1, 'NULL', 'NULL::bytea'),
		('bytea', 2, 'empty', $v$'\x'::bytea$v$),
		('bytea', 3, '31 bytes', $v$decode(repeat('00', 31), 'hex')$v$),
		('bytea', 4, '1 MB', $v$decode(repeat('ab', 1048576), 'hex')$v$)
	) AS v(kind, n, label, lit)
	 WHERE v.kind = values_of.kind
	 ORDER BY v.n
$$;

-- Every usual bad value of one argument: stmt with %s replaced by each
-- value's literal, one row per value.
-- skip: labels of values that are valid for this argument (NULL for a
-- default, a past timestamp for a sale's opening).
CREATE FUNCTION pg_temp.each(arg text, kind text, stmt text, skip text[] DEFAULT '{}')
RETURNS TABLE (bad_input text, result text) LANGUAGE sql AS $$
	SELECT arg || ': ' || v.label, pg_temp.bad(replace(stmt, '%s', v.lit))
	  FROM pg_temp.values_of(kind) AS v
	 WHERE v.label <> ALL (skip)
$$;

DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bad_nobody') THEN
		CREATE ROLE bad_nobody NOLOGIN;
	END IF;
END
$$;

CREATE FUNCTION pg_temp.no_grant(fn regprocedure, stmt text) RETURNS TABLE (role text, result text)
LANGUAGE sql AS $$
	SELECT r.rolname::text, pg_temp.bad(stmt, r.rolname)
	  FROM pg_roles AS r
	 WHERE r.rolname IN ('ticket_admin', 'ticket_customer', 'ticket_adapter', 'ticket_monitor', 'bad_nobody')
	   AND NOT has_function_privilege(r.oid, fn, 'EXECUTE')
	 ORDER BY r.rolname
$$;

CREATE TEMP TABLE fixture (name text PRIMARY KEY, value text);
GRANT SELECT ON fixture TO PUBLIC;
CREATE FUNCTION pg_temp.v(k text) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT value FROM pg_temp.fixture WHERE name = k
$$;

SET client_min_messages = warning;
SELECT ticket.create_concert('A', '2100-06-01 20:00+00', '2000-01-01 00:00+00', per_user_limit => 4) IS NOT NULL AS a,
	   ticket.add_section(1, 'Floor', 'A', 100, 2, 5) IS NOT NULL AS a1,
	   ticket.add_standing(1, 'Pit', 'GA', 40, 10) IS NOT NULL AS a2,
	   ticket.create_concert('B', '2100-06-01 20:00+00', '2000-01-01 00:00+00') IS NOT NULL AS b,
	   ticket.add_section(2, 'Floor', 'A', 100, 1, 5) IS NOT NULL AS b1,
	   ticket.create_concert('Q', '2100-06-01 20:00+00', now() + interval '1 day', queue => true) IS NOT NULL AS q,
	   ticket.add_section(3, 'Floor', 'A', 100, 1, 5) IS NOT NULL AS q1,
	   ticket.create_concert('D', '2100-06-01 20:00+00', '2000-01-01 00:00+00') IS NOT NULL AS d,
	   ticket.add_section(4, 'Floor', 'A', 100, 1, 5) IS NOT NULL AS d1,
	   ticket.create_concert('X', '2100-06-01 20:00+00', '2000-01-01 00:00+00') IS NOT NULL AS x,
	   ticket.add_section(5, 'Floor', 'A', 100, 1, 5) IS NOT NULL AS x1
\gset fx_
SELECT ticket.open_sale(1), ticket.open_sale(2), ticket.cancel_concert(5) \gset fx_
SELECT state FROM ticket.join_queue(3, 'alice') \gset fx_
SELECT state FROM ticket.join_queue(3, 'bob') \gset fx_
SELECT ticket.open_sale(3) \gset fx_
UPDATE ticket.queue SET last_tick = clock_timestamp() - interval '5 seconds' WHERE concert_id = 3;
SELECT ticket.admit(3) AS admitted \gset fx_
INSERT INTO pg_temp.fixture
SELECT 'pass_' || u, (ticket.queue_status(3, u)).pass_token FROM unnest(ARRAY['alice', 'bob']) AS u;
-- Bad passes for alice at concert 3: forged (last character changed),
-- truncated, expired, for another concert, for another place, garbage.
INSERT INTO pg_temp.fixture
SELECT 'pass_forged', left(p, -1) || CASE right(p, 1) WHEN 'A' THEN 'B' ELSE 'A' END FROM pg_temp.v('pass_alice') AS p
UNION ALL SELECT 'pass_truncated', left(p, -10) FROM pg_temp.v('pass_alice') AS p
UNION ALL SELECT 'pass_expired', ticket._sign_pass(3, 'alice', 1, now() - interval '1 second')
UNION ALL SELECT 'pass_concert_1', ticket._sign_pass(1, 'alice', 1, now() + interval '1 hour')
UNION ALL SELECT 'pass_place_changed', regexp_replace(p, '^(t1\.[0-9]+\.3\.)[0-9]+', '\199') FROM pg_temp.v('pass_alice') AS p;
SELECT (ticket.hold(1, 'alice', ARRAY[1, 2], 'ka')).status AS h1,
	   (ticket.hold(1, 'bob', ARRAY[3])).status AS h2,
	   (ticket.hold(1, 'bob', ARRAY[4])).status AS h3,
	   (ticket.hold(2, 'carol', ARRAY[1])).status AS h4,
	   (ticket.hold(3, 'alice', ARRAY[1], pass => pg_temp.v('pass_alice'))).status AS h5,
	   (ticket.hold(1, 'alice', ARRAY[5])).status AS h6
\gset fx_
SELECT (ticket.checkout(3, 'bob', 'kb')).status AS o1, (ticket.checkout(6, 'alice', 'kc')).status AS o2 \gset fx_
RESET client_min_messages;
-- The fixture as the bad inputs find it.
SELECT (SELECT string_agg(concert_id || ':' || state, ' ' ORDER BY concert_id) FROM ticket.concert) AS concerts,
	   (SELECT string_agg(hold_id || ':' || user_id || ':' || state, ' ' ORDER BY hold_id) FROM ticket.hold) AS holds,
	   (SELECT string_agg(o.order_id || ':' || o.state || ':' || p.payment_id, ' ' ORDER BY o.order_id)
		  FROM ticket.orders AS o JOIN ticket.payment AS p USING (order_id)) AS orders,
	   (SELECT count(*) FROM pg_temp.fixture WHERE value LIKE 't1.%') AS passes,
	   (SELECT count(DISTINCT value) FROM pg_temp.fixture) AS distinct_passes;
SELECT pg_temp.fp() AS fp0 \gset
\set ECHO all
