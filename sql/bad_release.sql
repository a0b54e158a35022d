-- Bad input to ticket.release(hold_id, user_id): bad ids and texts, other
-- users' holds, holds in checkout, and roles without the grant.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('hold_id', 'int8', $$SELECT ticket.release(%s, 'alice')$$);
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT ticket.release(1, %s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown hold',                    $$SELECT ticket.release(999, 'alice')$$),
	('bob''s hold released by alice',    $$SELECT ticket.release(2, 'alice')$$),
	('carol''s hold (concert 2) by alice', $$SELECT ticket.release(4, 'alice')$$),
	('bob''s hold in checkout, by bob',  $$SELECT ticket.release(3, 'bob')$$),
	('bob''s hold in checkout, by alice', $$SELECT ticket.release(3, 'alice')$$),
	('user_id 129 characters',          $$SELECT ticket.release(1, repeat('é', 129))$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.release(bigint, text)', $$SELECT ticket.release(1, 'alice')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
