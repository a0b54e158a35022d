-- Bad input to the public functions of src/compensation.sql, one part per
-- function: cancel_order, compensate, start_compensation,
-- compensation_step.  The fixture (test/bad_setup.sql) is loaded once for
-- all of them: each part checks that it wrote nothing, so the next finds the
-- fixture as it was.  compensation_step first starts a saga for order 2 and
-- takes a new fp0, so it comes last.
\i test/bad_setup.sql

-- Bad input to ticket.cancel_order(order_id, user_id, idempotency_key,
-- seat_ids): bad ids, texts and seat lists, seats the order does not have,
-- other users' orders, a key used for another request, and roles without
-- the grant.  (The fixture's orders are pending: a good call would answer
-- the status not_paid and keep its key, so every case here must be an
-- error, and write nothing.)
SELECT * FROM pg_temp.each('order_id', 'int8', $$SELECT status FROM ticket.cancel_order(%s, 'alice', 'x1')$$);
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT status FROM ticket.cancel_order(2, %s, 'x1')$$);
SELECT * FROM pg_temp.each('idempotency_key', 'text', $$SELECT status FROM ticket.cancel_order(2, 'alice', %s)$$);
SELECT * FROM pg_temp.each('seat_ids', 'int4[]', $$SELECT status FROM ticket.cancel_order(2, 'alice', 'x1', %s)$$, ARRAY['NULL']);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown order',                       $$SELECT status FROM ticket.cancel_order(999, 'alice', 'x1')$$),
	('bob''s order cancelled by alice',      $$SELECT status FROM ticket.cancel_order(1, 'alice', 'x1')$$),
	('a seat of another order (bob''s 4)',   $$SELECT status FROM ticket.cancel_order(2, 'alice', 'x1', ARRAY[4])$$),
	('a seat it has and one it has not',    $$SELECT status FROM ticket.cancel_order(2, 'alice', 'x1', ARRAY[5, 6])$$),
	('101 seats',                           $$SELECT status FROM ticket.cancel_order(2, 'alice', 'x1', array(SELECT generate_series(1, 101)))$$),
	('alice''s checkout key kc',             $$SELECT status FROM ticket.cancel_order(2, 'alice', 'kc')$$),
	('key 256 characters',                  $$SELECT status FROM ticket.cancel_order(2, 'alice', repeat('k', 256))$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.cancel_order(bigint, text, text, int[])', $$SELECT status FROM ticket.cancel_order(2, 'alice', 'x1')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to CALL ticket.compensate(order_id, reason): bad ids and texts,
-- and roles without the grant; no order is undone.  (The procedure commits
-- between its steps, so a valid call cannot run inside pg_temp.err; every
-- case here must be refused before the first step.)
-- (A reason may hold a newline or a tab: a provider's message.)
SELECT * FROM pg_temp.each('order_id', 'int8', $$CALL ticket.compensate(%s, 'r')$$);
SELECT * FROM pg_temp.each('reason', 'text', $$CALL ticket.compensate(1, %s)$$, '{"newline inside","tab inside"}');
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown order',             $$CALL ticket.compensate(999, 'r')$$),
	('reason 1,001 characters',   $$CALL ticket.compensate(1, repeat('r', 1001))$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.compensate(bigint, text)', $$CALL ticket.compensate(1, 'r')$$);
-- Inside a transaction block it cannot commit its steps: 2D000 with a hint,
-- before anything is written (issue 15: a bare "invalid transaction
-- termination" at its first COMMIT).
BEGIN;
CALL ticket.compensate(1, 'inside BEGIN');
ROLLBACK;
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.start_compensation(order_id, reason): bad ids and
-- texts, and roles without the grant; no saga starts.
-- (A reason may hold a newline or a tab: a provider's message.)
SELECT * FROM pg_temp.each('order_id', 'int8', $$SELECT ticket.start_compensation(%s, 'r')$$);
SELECT * FROM pg_temp.each('reason', 'text', $$SELECT ticket.start_compensation(1, %s)$$, '{"newline inside","tab inside"}');
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown order',             $$SELECT ticket.start_compensation(999, 'r')$$),
	('reason 1,001 characters',   $$SELECT ticket.start_compensation(1, repeat('r', 1001))$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.start_compensation(bigint, text)', $$SELECT ticket.start_compensation(1, 'r')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.compensation_step(saga_id): bad ids, a finished saga,
-- and roles without the grant.  A saga for order 2 is started first.
SELECT ticket.start_compensation(2, 'test') AS saga \gset
SELECT pg_temp.fp() AS fp0 \gset
SELECT * FROM pg_temp.each('saga_id', 'int8', $$SELECT ticket.compensation_step(%s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown saga',              $$SELECT ticket.compensation_step(999)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.compensation_step(bigint)', $$SELECT ticket.compensation_step(1)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
