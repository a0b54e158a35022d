-- Bad input to CALL ticket.compensate(order_id, reason): bad ids and texts,
-- and roles without the grant; no order is undone.  (The procedure commits
-- between its steps, so a valid call cannot run inside pg_temp.err; every
-- case here must be refused before the first step.)
\i test/bad_setup.sql
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
