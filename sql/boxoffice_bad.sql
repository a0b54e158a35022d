-- Bad input to the public functions of src/boxoffice.sql, one part per
-- function: retry_dead, retry_dead_refunds, sales_by_section,
-- sales_by_hour, user_history.  The fixture (test/bad_setup.sql) is loaded
-- once for all of them: each part checks that it wrote nothing.
\i test/bad_setup.sql

-- ticket.retry_dead(payment_id): bad ids, a charge (payments 1 and 2 are
-- the fixture's charges), and roles without the grant.
SELECT * FROM pg_temp.each('payment_id', 'int8', $$SELECT ticket.retry_dead(%s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown payment',   $$SELECT ticket.retry_dead(999)$$),
	('a charge',          $$SELECT ticket.retry_dead(1)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.retry_dead(bigint)', $$SELECT ticket.retry_dead(1)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- ticket.retry_dead_refunds(concert_id).
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.retry_dead_refunds(%s)$$);
SELECT * FROM pg_temp.no_grant('ticket.retry_dead_refunds(bigint)', $$SELECT ticket.retry_dead_refunds(1)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- ticket.sales_by_section(concert_id) and ticket.sales_by_hour(concert_id).
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT count(*) FROM ticket.sales_by_section(%s)$$);
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT count(*) FROM ticket.sales_by_hour(%s)$$);
SELECT * FROM pg_temp.no_grant('ticket.sales_by_section(bigint)', $$SELECT count(*) FROM ticket.sales_by_section(1)$$);
SELECT * FROM pg_temp.no_grant('ticket.sales_by_hour(bigint)', $$SELECT count(*) FROM ticket.sales_by_hour(1)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- ticket.user_history(user_id, max_rows).
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT count(*) FROM ticket.user_history(%s)$$);
SELECT * FROM pg_temp.each('max_rows', 'int4', $$SELECT count(*) FROM ticket.user_history('alice', %s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('user_id 129 characters',  $$SELECT count(*) FROM ticket.user_history(repeat('é', 129))$$),
	('max_rows 10001',          $$SELECT count(*) FROM ticket.user_history('alice', 10001)$$),
	('a user with no history',  $$SELECT count(*) FROM ticket.user_history('nobody')$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.user_history(text, int)', $$SELECT count(*) FROM ticket.user_history('alice')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
