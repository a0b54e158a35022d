-- Bad input to ticket.add_standing: every argument's bad values, sizes over
-- the limits, a name already used, states that forbid it, and roles
-- without the grant; each ends in its SQLSTATE, nothing written.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.add_standing(%s, 'S', 'A', 10, 1)$$);
SELECT * FROM pg_temp.each('name', 'text', $$SELECT ticket.add_standing(4, %s, 'A', 10, 1)$$);
SELECT * FROM pg_temp.each('grade', 'text', $$SELECT ticket.add_standing(4, 'S', %s, 10, 1)$$);
SELECT * FROM pg_temp.each('price', 'numeric', $$SELECT ticket.add_standing(4, 'S', 'A', %s, 1)$$);
SELECT * FROM pg_temp.each('capacity', 'int4', $$SELECT ticket.add_standing(4, 'S', 'A', 10, %s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',               $$SELECT ticket.add_standing(999, 'S', 'A', 10, 1)$$),
	('cancelled concert',             $$SELECT ticket.add_standing(5, 'S', 'A', 10, 1)$$),
	('name already used',             $$SELECT ticket.add_standing(4, 'Floor', 'A', 10, 1)$$),
	('capacity 1,000,001',            $$SELECT ticket.add_standing(4, 'S', 'A', 10, 1000001)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.add_standing(bigint, text, text, numeric, int)',
	$$SELECT ticket.add_standing(4, 'S', 'A', 10, 1)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
