/* ticket--0.3--0.4.sql: from 0.3 to 0.4 (a cheaper payment path: checkout in C) */

\echo Use "ALTER EXTENSION ticket UPDATE TO '0.4'" to load this file. \quit

/*
 * Same conventions as the earlier update scripts: CREATE OR REPLACE only for
 * a function an earlier script created, with the same signature; every name
 * qualified.
 *
 * What 0.4 changes (README, "Checkout"; bench/RESULTS.md, "payment"):
 *
 * - ticket.checkout is C (src/checkout.c) that reads and writes the tables
 *   directly, as ticket.hold does: the same answers, errors and locks, a
 *   fraction of the cost.  Like the hold functions it needs neither
 *   SECURITY DEFINER nor a pinned search_path (it resolves no name through
 *   search_path and uses no privilege of the caller); EXECUTE, granted to
 *   ticket_customer only, stays the gate.
 * - Its idempotency key is taken as a lock (src/lock.c) instead of an
 *   "in progress" row that was written and then rewritten: a checkout
 *   writes its ticket.idempotency row once, with what it answered.
 * - A checkout whose seats went to another buyer while it waited for them
 *   (its hold ran out in the meantime) answers expired instead of raising
 *   XX001.
 */
CREATE OR REPLACE FUNCTION ticket.checkout(hold_id bigint, user_id text, idempotency_key text)
RETURNS ticket.checkout_result
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_checkout';
COMMENT ON FUNCTION ticket.checkout(bigint, text, text) IS
	'Turns a live hold into an order and a payment job; the seats stay held until the payment succeeds, fails or times out (payment_timeout). Answers released, expired or closed (concert cancelled) without an order. The same idempotency key returns the same order; a different request with it is 22023.';

/*
 * The C checkout ends a buyer's admission (their limit reached) by calling
 * ticket._end_admission as the buyer: it runs as its owner, as the SQL
 * checkout's call did.  Nobody else may call it (no EXECUTE but the owner's).
 */
ALTER FUNCTION ticket._end_admission(bigint, text) SECURITY DEFINER;

/*
 * The outbox's event_id index leaves out the rows not yet numbered (event_id
 * NULL): every hold, checkout and payment wrote an entry at its right-hand
 * end, which all of them fought over, and which nothing reads.  Every query
 * by event_id compares it (event_id > n), which implies IS NOT NULL.
 */
DROP INDEX ticket.event_id_idx;
CREATE UNIQUE INDEX event_id_idx ON ticket.event (event_id) WHERE event_id IS NOT NULL;

/*
 * ticket._sell is C too (src/checkout.c), with the same answers.  It now
 * takes the buyer lock that ticket.hold takes before it counts a user's
 * seats: a late payment and a new hold of the same buyer used to pass the
 * per-user limit together (issue 15).
 */
CREATE OR REPLACE FUNCTION ticket._sell(o ticket.orders)
RETURNS boolean
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_sell';
COMMENT ON FUNCTION ticket._sell(ticket.orders) IS
	'Internal: marks an order''s seats sold and the order paid, unless a seat went to another buyer or the buyer would go over the limit (false). Takes the hold row, the buyer lock and the seat locks, in that order.';

/*
 * Pass keys (issue 15): nothing deleted old keys, and past 64 of them each
 * backend's cache broke (the first call raised an error, and every later
 * call signed with a retired key, which hold then refused).  The cache now
 * holds any number (src/pass.c), and a rotation deletes the keys retired
 * more than a day before: hourly rotation keeps about 25.
 */
CREATE OR REPLACE FUNCTION ticket.rotate_pass_key(retire_after interval DEFAULT '1 hour')
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
	DELETE FROM ticket.pass_key AS k WHERE k.retired_at < now() - interval '1 day';
	RETURN new_id;
END
$$;
COMMENT ON FUNCTION ticket.rotate_pass_key(interval) IS
	'Adds a new pass key that signs from now on; the older keys keep checking their passes for retire_after, then are refused. Deletes the keys retired more than a day before.';

/*
 * The triggers that tell every backend's cache of the sale settings and
 * pass keys that a table changed fire in every session_replication_role
 * (issue 15): a change made by pg_restore --disable-triggers, by logical
 * replication's apply or by hand in replica mode reached no cache, and
 * holds went on answering from the old settings.
 */
ALTER TABLE ticket.concert ENABLE ALWAYS TRIGGER concert_changed;
ALTER TABLE ticket.section ENABLE ALWAYS TRIGGER section_changed;
ALTER TABLE ticket.pass_key ENABLE ALWAYS TRIGGER pass_key_changed;

/*
 * JIT out of the monitoring paths (issue 15): over 5 concerts the dashboard
 * took 0.66-1.04 s with JIT on and 65 ms with jit = off; metrics() 117 ms
 * against 32 ms.  The plans cost past jit_above_cost, but they read a few
 * index ranges: compiling them costs more than it saves.  A view cannot
 * carry a setting, so the dashboard's query moves to ticket._dashboard_rows,
 * read by ticket._dashboard() with jit = off, and ticket.dashboard (same
 * columns, same grants) reads the function.
 */
ALTER VIEW ticket.dashboard RENAME TO _dashboard_rows;
REVOKE ALL ON ticket._dashboard_rows FROM ticket_admin, ticket_monitor;
COMMENT ON VIEW ticket._dashboard_rows IS
	'Internal: the query of ticket.dashboard, read through ticket._dashboard() (jit = off).';
CREATE FUNCTION ticket._dashboard()
RETURNS SETOF ticket._dashboard_rows
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
	SELECT * FROM ticket._dashboard_rows;
$$;
COMMENT ON FUNCTION ticket._dashboard() IS
	'Internal: the rows of ticket.dashboard, planned without JIT.';
REVOKE ALL ON FUNCTION ticket._dashboard() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket._dashboard() TO ticket_admin, ticket_monitor;
CREATE VIEW ticket.dashboard AS SELECT * FROM ticket._dashboard();
GRANT SELECT ON ticket.dashboard TO ticket_admin, ticket_monitor;
COMMENT ON VIEW ticket.dashboard IS
	'One row per concert for an operator''s \watch 1: waiting and admitted (waiting rooms), active holds, seats available/held/sold of capacity, orders pending and paid, revenue (paid orders), sales_per_minute (seats paid in the last minute), compensations done and running, refunds paid back, dead-lettered payment jobs, sell_out_eta at the last minute''s pace; admit_rate (the ceiling), effective_rate and rate_reason (back-pressure, pause, cap), payments_due and payment_backlog_seconds (charges waiting for an adapter, and how long the oldest has waited); all read from one snapshot taken at as_of. Planned without JIT.';
ALTER FUNCTION ticket.metrics() SET jit = off;
