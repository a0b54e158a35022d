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
