-- Security: least privilege for the three roles, pinned search_path, and a
-- search_path hijack that must change nothing.
\i test/regress_setup.sql

-- The roles exist and cannot log in; DBAs grant them to login roles.
SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb
  FROM pg_roles WHERE rolname LIKE 'ticket\_%' ORDER BY rolname;

-- Lint over every object of the extension.
-- No function may be executed by PUBLIC (a NULL acl means PUBLIC may).
SELECT p.oid::regprocedure AS executable_by_public
  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ticket')
   AND (p.proacl IS NULL OR EXISTS (SELECT FROM aclexplode(p.proacl) a WHERE a.grantee = 0));
-- Every SECURITY DEFINER function and every function in SQL or PL/pgSQL pins
-- search_path to pg_catalog, pg_temp.
SELECT p.oid::regprocedure AS unpinned
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'ticket'::regnamespace
   AND (p.prosecdef OR l.lanname <> 'c') AND p.prokind <> 'p'
   AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false);
-- Procedures can do neither and still COMMIT; they are SECURITY INVOKER and
-- qualify every name and operator (the hijack below calls them).
SELECT p.oid::regprocedure AS procedure, p.prosecdef AS definer, p.proconfig
  FROM pg_proc p WHERE p.pronamespace = 'ticket'::regnamespace AND p.prokind = 'p' ORDER BY 1::text;
-- The C functions that do neither: they resolve no name through search_path
-- and use no privilege of the caller (src/hold.c, src/checkout.c, src/pass.c); the hijack
-- below calls them.
SELECT p.oid::regprocedure AS c_invoker
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'ticket'::regnamespace AND l.lanname = 'c'
   AND NOT p.prosecdef AND p.proconfig IS NULL
 ORDER BY 1;
-- No table, view or sequence grants anything to PUBLIC; nobody but the owner writes.
SELECT c.oid::regclass AS public_or_writable
  FROM pg_class c
 WHERE c.relnamespace = 'ticket'::regnamespace AND c.relkind IN ('r', 'v', 'S', 'p')
   AND (c.relacl IS NULL
		OR EXISTS (SELECT FROM aclexplode(c.relacl) a
				    WHERE a.grantee = 0
					   OR (a.grantee <> c.relowner AND a.privilege_type <> 'SELECT')));
-- PUBLIC may not use the schema.
SELECT has_schema_privilege('public', 'ticket', 'USAGE') AS public_usage;
-- Which functions each role may call.
SELECT r.rolname, string_agg(p.proname, ', ' ORDER BY p.proname) AS may_execute
  FROM pg_proc p CROSS JOIN pg_roles r
 WHERE p.pronamespace = 'ticket'::regnamespace
   AND r.rolname IN ('ticket_admin', 'ticket_customer', 'ticket_adapter', 'ticket_monitor')
   AND has_function_privilege(r.oid, p.oid, 'EXECUTE')
 GROUP BY r.rolname ORDER BY r.rolname;

-- A role with no grants at all gets 42501 everywhere.
CREATE ROLE ticket_test_nobody;
SET ROLE ticket_test_nobody;
SELECT pg_temp.err($$SELECT ticket.create_concert('x', '2100-06-01', '2100-05-01')$$);
SELECT pg_temp.err($$SELECT ticket.preloaded()$$);
SELECT pg_temp.err($$SELECT * FROM ticket.concerts$$);
SELECT pg_temp.err($$SELECT * FROM ticket.seat$$);
RESET ROLE;

-- The customer and the payment adapter cannot touch the catalogue.
SET ROLE ticket_customer;
SELECT ticket.preloaded();
SELECT pg_temp.err($$SELECT ticket.create_concert('x', '2100-06-01', '2100-05-01')$$);
SELECT pg_temp.err($$SELECT ticket.add_section(1, 'x', 'A', 10, 1, 1)$$);
SELECT pg_temp.err($$SELECT ticket.open_sale(1)$$);
SELECT pg_temp.err($$SELECT * FROM ticket.concerts$$);
SELECT pg_temp.err($$SELECT * FROM ticket.concert$$);
SELECT pg_temp.err($$UPDATE ticket.seat SET state = 'sold'$$);
SELECT pg_temp.err($$SELECT ticket._bump_counter('seats_generated', 1)$$);
RESET ROLE;
SET ROLE ticket_adapter;
SELECT pg_temp.err($$SELECT ticket.cancel_concert(1)$$);
SELECT pg_temp.err($$SELECT * FROM ticket.counters()$$);
SELECT pg_temp.err($$DELETE FROM ticket.seat$$);
RESET ROLE;

-- The admin works through the functions only.
SET ROLE ticket_admin;
SELECT ticket.create_concert('Admin Night', '2100-06-01 20:00+00', '2100-05-01 10:00+00') AS cid \gset
SELECT ticket.add_section(:cid, 'Floor', 'A', 50, 2, 10);
SELECT title, capacity, available FROM ticket.concerts WHERE concert_id = :cid;
SELECT pg_temp.err($$INSERT INTO ticket.concert (title, starts_at, sale_opens_at, sale_closes_at, hold_ttl, per_user_limit, admit_rate, admission_ttl) VALUES ('x', now(), now(), now(), '1 minute', 1, 1, '1 minute')$$);
SELECT pg_temp.err(format($$UPDATE ticket.seat SET state = 'sold' WHERE concert_id = %s$$, :cid));
SELECT pg_temp.err(format($$DELETE FROM ticket.section WHERE concert_id = %s$$, :cid));
SELECT pg_temp.err($$TRUNCATE ticket.seat$$);
SELECT pg_temp.err($$SELECT nextval('ticket.concert_concert_id_seq')$$);
SELECT pg_temp.err(format($$SELECT ticket._add_seats(%s, 'Sneaky', 'A', 1, NULL, NULL, 5)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket._lock_concert(%s)$$, :cid));
SELECT pg_temp.err($$SELECT ticket._bump_counter('seats_generated', 1)$$);
SELECT pg_temp.err($$CREATE TABLE ticket.mine (x int)$$);
SELECT count(*) AS seats FROM ticket.seat WHERE concert_id = :cid;
RESET ROLE;

-- search_path hijack: hostile look-alikes of the built-ins the functions use,
-- in a schema placed before pg_catalog.  Each records that it ran.
CREATE SCHEMA evil;
CREATE TABLE evil.log (what text);
GRANT USAGE ON SCHEMA evil TO ticket_admin, ticket_customer, ticket_adapter;
GRANT INSERT ON evil.log TO PUBLIC;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE sql
	AS $$ INSERT INTO evil.log VALUES ('now'); SELECT '1999-01-01'::timestamptz $$;
CREATE FUNCTION evil.btrim(text) RETURNS text LANGUAGE sql
	AS $$ INSERT INTO evil.log VALUES ('btrim'); SELECT 'x' $$;
CREATE FUNCTION evil.char_length(text) RETURNS integer LANGUAGE sql
	AS $$ INSERT INTO evil.log VALUES ('char_length'); SELECT 1 $$;
CREATE FUNCTION evil.round(numeric, integer) RETURNS numeric LANGUAGE sql
	AS $$ INSERT INTO evil.log VALUES ('round'); SELECT $1 $$;
CREATE FUNCTION evil.generate_series(integer, integer) RETURNS SETOF integer LANGUAGE sql
	AS $$ INSERT INTO evil.log VALUES ('generate_series'); SELECT 1 $$;
CREATE FUNCTION evil.eq(bigint, bigint) RETURNS boolean LANGUAGE sql
	AS $$ INSERT INTO evil.log VALUES ('= bigint'); SELECT true $$;
CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.eq);
CREATE FUNCTION evil.lt(integer, integer) RETURNS boolean LANGUAGE sql
	AS $$ INSERT INTO evil.log VALUES ('< integer'); SELECT false $$;
CREATE OPERATOR evil.< (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.lt);
CREATE OPERATOR evil.> (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.lt);
CREATE FUNCTION evil.plus(integer, integer) RETURNS integer LANGUAGE sql
	AS $$ INSERT INTO evil.log VALUES ('+ integer'); SELECT 0 $$;
CREATE OPERATOR evil.+ (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.plus);
CREATE FUNCTION evil.le(timestamptz, timestamptz) RETURNS boolean LANGUAGE sql
	AS $$ INSERT INTO evil.log VALUES ('<= timestamptz'); SELECT true $$;
CREATE OPERATOR evil.<= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.le);
-- A temporary table may not stand in for the extension's tables either.
CREATE TEMP TABLE concert (concert_id bigint, title text);

SET ROLE ticket_admin;
SET search_path = evil, pg_catalog, public;
-- Proof that the look-alikes win for unqualified names on this path:
SELECT 1 + 1 AS hostile_plus, now() AS hostile_now;
SELECT ticket.create_concert('Hijack', '2100-06-01 20:00+00', '2100-05-01 10:00+00') AS hid \gset
SELECT ticket.add_section(:hid, 'Floor', 'A', 99.99, 3, 4);
SELECT ticket.add_standing(:hid, 'Pit', 'GA', 20, 7);
SELECT ticket.update_concert(:hid, title => 'Hijack 2', admit_rate => 7);
SELECT ticket.open_sale(:hid);
RESET ROLE;
SELECT ticket._sign_pass(:hid, 'eve', 1, pg_catalog.now() + interval '1 minute') AS hpass \gset
SET ROLE ticket_customer;
SELECT ticket.check_pass(:'hpass', :hid, 'eve') AS place;
SELECT status, seat_ids FROM ticket.hold(:hid, 'eve', ARRAY[2, 1]);
SELECT status, cardinality(seat_ids) FROM ticket.hold_best(:hid, 'eve', 2, 2);
SELECT status FROM ticket.hold(:hid, 'eve', ARRAY[1]);
SELECT ticket.release(h.hold_id, 'frank') FROM ticket.hold(:hid, 'frank', ARRAY[3], 'k') AS h;
RESET ROLE;
SET ROLE ticket_admin;
SELECT ticket.close_sale(:hid);
-- The waiting room under the same path: create, join, draw, admit, status,
-- hold with the pass, leave, and the procedure pg_cron calls.
SELECT ticket.create_concert('Hijack Queue', '2100-06-01 20:00+00', '2100-05-01 10:00+00',
	queue => true, admit_rate => 5) AS hq \gset
SELECT ticket.add_section(:hq, 'Floor', 'A', 10, 1, 4);
RESET ROLE;
SET ROLE ticket_customer;
SELECT state FROM ticket.join_queue(:hq, 'eve');
SELECT state FROM ticket.join_queue(:hq, 'frank');
RESET ROLE;
SET ROLE ticket_admin;
SELECT ticket.open_sale(:hq);
RESET ROLE;
UPDATE ticket.queue SET last_tick = pg_catalog.clock_timestamp() - interval '1 second', scheduled = true
 WHERE concert_id = :hq;
SET ROLE ticket_admin;
CALL ticket.run_admission(1);
SELECT ticket.admit(:hq) AS admitted_again;
SELECT ticket.pause_admission(:hq) AS paused, ticket.resume_admission(:hq) AS resumed;
RESET ROLE;
SET ROLE ticket_customer;
SELECT state, place IS NOT NULL AS has_place FROM ticket.queue_status(:hq, 'eve');
SELECT status FROM ticket.hold(:hq, 'eve', ARRAY[1], pass => (SELECT pass_token FROM ticket.queue_status(:hq, 'eve')));
SELECT state FROM ticket.leave_queue(:hq, 'frank');
-- Checkout, the adapter's calls, compensation and the worker's tasks.
SELECT hold_id AS eh FROM ticket.hold(:hq, 'eve', ARRAY[2], pass => (SELECT pass_token FROM ticket.queue_status(:hq, 'eve'))) \gset
SELECT status, amount FROM ticket.checkout(:eh, 'eve', 'hijack-key');
SELECT status FROM ticket.checkout(:eh, 'eve', 'hijack-key');
SELECT order_id AS eo FROM ticket.checkout(:eh, 'eve', 'hijack-key') \gset
SELECT status FROM ticket.order_status(:eo, 'eve');
-- The buyer's reads under the same path.
SELECT title, state, waiting_room, available FROM ticket.browse_concerts();
SELECT name, price, available FROM ticket.browse_sections(:hq);
SELECT count(*) AS seats, count(*) FILTER (WHERE free) AS free, min(label) AS first_label FROM ticket.browse_seats(:hq, 1);
SELECT state, total, json_array_length(seats) AS seats FROM ticket.my_holds('eve');
SELECT state, amount, seats->0->>'label' AS label FROM ticket.my_orders('eve');
SELECT status, order_state FROM ticket.cancel_order(:eo, 'eve', 'hijack-cancel');
SELECT count(*) >= 0 AS feed FROM ticket.my_events('eve');
RESET ROLE;
SET ROLE ticket_adapter;
SELECT payment_id AS ep, kind FROM ticket.claim_payments('hijacked', 5, '1 minute') \gset
SELECT ticket.payment_failed(:ep, 'network', true);
SELECT ticket.payment_succeeded(:ep, 'ch_hijack');
SELECT * FROM ticket.report_payments(format('[{"payment_id": %s, "outcome": "succeeded", "provider_ref": "ch_hijack"}]', :ep)::jsonb);
RESET ROLE;
SET ROLE ticket_admin;
CALL ticket.compensate(:eo, 'hijack test');
SELECT t, ticket.maintenance(t) FROM unnest(ARRAY['expire_holds', 'expire_admissions', 'timeout_payments', 'compensate', 'purge',
	'notify_payments']) AS t;
-- (A step for the scheduled queue, or none when its last step is recent.)
SELECT ticket.maintenance('admit') OPERATOR(pg_catalog.<=) 1 AS admit_task;
SELECT effective_rate, rate_reason, payments_due FROM ticket.dashboard WHERE concert_id = :hq;
SELECT count(*) > 0 AS has_metrics FROM ticket.metrics();
SELECT ticket.publish_events() OPERATOR(pg_catalog.>) 0 AS published;
SELECT count(*) > 0 AS has_events FROM ticket.events_since(0);
-- The holds' events, which publish_events reads from ticket.hold (0.7).
SELECT count(*) AS hold_events FROM ticket.events_since(0)
 WHERE kind OPERATOR(pg_catalog.=) 'hold' AND concert_id OPERATOR(pg_catalog.=) ANY (ARRAY[:hid, :hq]::bigint[]);
SELECT waiting, admitted, departed FROM ticket.queues WHERE concert_id = :hq;
SELECT title, state, sections, capacity, available FROM ticket.concerts WHERE concert_id = :hid;
SELECT * FROM ticket.seat_map(:hid, 1);
-- The box office's tools under the same path.
SELECT ticket.update_section(:hid, 1, name => 'Floor 2', grade => 'B');
SELECT ticket.retry_dead_refunds(:hq) AS redriven;
SELECT ticket.retry_dead(max(payment_id)) AS not_dead FROM ticket.payment WHERE kind = 'refund';
SELECT name, sold, revenue, given_back FROM ticket.sales_by_section(:hq);
SELECT sum(orders) AS orders, sum(revenue) AS revenue FROM ticket.sales_by_hour(:hq);
SELECT what FROM ticket.user_history('eve') ORDER BY what LIMIT 3;
SELECT ticket.create_concert('Hijack Draft', '2100-06-01 20:00+00', '2100-05-01 10:00+00') AS hd \gset
SELECT ticket.add_section(:hd, 'A', 'A', 10, 1, 2), ticket.add_section(:hd, 'B', 'B', 10, 1, 2);
SELECT ticket.remove_section(:hd, 1);
SELECT ticket.delete_concert(:hd);
RESET search_path;
RESET ROLE;
SELECT what, count(*) AS hostile_calls FROM evil.log GROUP BY what ORDER BY what;
SELECT count(*) AS seats, min(seat_id), max(seat_id) FROM ticket.seat WHERE concert_id = :hid;

DROP SCHEMA evil CASCADE;
DROP TABLE pg_temp.concert;
DROP ROLE ticket_test_nobody;
