-- Bad input to the public functions of src/buyer.sql, one part per
-- function: my_holds, my_orders.  The fixture (test/bad_setup.sql) is
-- loaded once for all of them: each part checks that it wrote nothing.
\i test/bad_setup.sql

-- Bad input to ticket.my_holds(user_id, concert_id, before_hold_id,
-- max_rows).  A concert or a hold id that matches nothing is an empty page,
-- not an error (ok: 0); another user's rows never appear.
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT count(*) FROM ticket.my_holds(%s)$$);
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT count(*) FROM ticket.my_holds('alice', %s)$$);
SELECT * FROM pg_temp.each('before_hold_id', 'int8', $$SELECT count(*) FROM ticket.my_holds('alice', 1, %s)$$);
SELECT * FROM pg_temp.each('max_rows', 'int4', $$SELECT count(*) FROM ticket.my_holds('alice', max_rows => %s)$$);
SELECT c AS bad_input, pg_temp.bad(s, 'ticket_customer') AS result FROM (VALUES
	('user_id 129 characters',              $$SELECT count(*) FROM ticket.my_holds(repeat('é', 129))$$),
	('a user with no holds',                $$SELECT count(*) FROM ticket.my_holds('nobody')$$),
	('alice''s holds as ALICE',              $$SELECT count(*) FROM ticket.my_holds('ALICE')$$),
	('carol''s holds at concert 1 (hers are at 2)', $$SELECT count(*) FROM ticket.my_holds('carol', 1)$$),
	('max_rows 1001',                       $$SELECT count(*) FROM ticket.my_holds('alice', max_rows => 1001)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.my_holds(text, bigint, bigint, int)', $$SELECT count(*) FROM ticket.my_holds('alice')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.my_orders(user_id, concert_id, before_order_id,
-- max_rows), the same way.
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT count(*) FROM ticket.my_orders(%s)$$);
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT count(*) FROM ticket.my_orders('bob', %s)$$);
SELECT * FROM pg_temp.each('before_order_id', 'int8', $$SELECT count(*) FROM ticket.my_orders('bob', 1, %s)$$);
SELECT * FROM pg_temp.each('max_rows', 'int4', $$SELECT count(*) FROM ticket.my_orders('bob', max_rows => %s)$$);
SELECT c AS bad_input, pg_temp.bad(s, 'ticket_customer') AS result FROM (VALUES
	('user_id 129 characters',              $$SELECT count(*) FROM ticket.my_orders(repeat('é', 129))$$),
	('a user with no orders',               $$SELECT count(*) FROM ticket.my_orders('carol')$$),
	('bob''s orders as Bob',                 $$SELECT count(*) FROM ticket.my_orders('Bob')$$),
	('max_rows 1001',                       $$SELECT count(*) FROM ticket.my_orders('bob', max_rows => 1001)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.my_orders(text, bigint, bigint, int)', $$SELECT count(*) FROM ticket.my_orders('bob')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
SELECT count(*) AS violations FROM ticket.verify();

-- Bad input to ticket.my_events(user_id, after_id, max_rows).
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT count(*) FROM ticket.my_events(%s)$$);
SELECT * FROM pg_temp.each('after_id', 'int8', $$SELECT count(*) FROM ticket.my_events('alice', %s)$$);
SELECT * FROM pg_temp.each('max_rows', 'int4', $$SELECT count(*) FROM ticket.my_events('alice', 0, %s)$$);
SELECT c AS bad_input, pg_temp.bad(s, 'ticket_customer') AS result FROM (VALUES
	('max_rows 1001',                       $$SELECT count(*) FROM ticket.my_events('alice', 0, 1001)$$),
	('user_id 129 characters',              $$SELECT count(*) FROM ticket.my_events(repeat('é', 129))$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.my_events(text, bigint, int)', $$SELECT count(*) FROM ticket.my_events('alice')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
