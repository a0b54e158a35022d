-- Bad input to ticket.add_section: every argument's bad values, sizes over
-- the limits, a name already used, states that forbid it, and roles
-- without the grant; each ends in its SQLSTATE, nothing written.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.add_section(%s, 'S', 'A', 10, 1, 1)$$);
SELECT * FROM pg_temp.each('name', 'text', $$SELECT ticket.add_section(4, %s, 'A', 10, 1, 1)$$);
SELECT * FROM pg_temp.each('grade', 'text', $$SELECT ticket.add_section(4, 'S', %s, 10, 1, 1)$$);
SELECT * FROM pg_temp.each('price', 'numeric', $$SELECT ticket.add_section(4, 'S', 'A', %s, 1, 1)$$);
SELECT * FROM pg_temp.each('seat_rows', 'int4', $$SELECT ticket.add_section(4, 'S', 'A', 10, %s, 1)$$);
SELECT * FROM pg_temp.each('seats_per_row', 'int4', $$SELECT ticket.add_section(4, 'S', 'A', 10, 1, %s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',               $$SELECT ticket.add_section(999, 'S', 'A', 10, 1, 1)$$),
	('cancelled concert',             $$SELECT ticket.add_section(5, 'S', 'A', 10, 1, 1)$$),
	('name already used',             $$SELECT ticket.add_section(4, 'Floor', 'A', 10, 1, 1)$$),
	('name 65 characters',            $$SELECT ticket.add_section(4, repeat('n', 65), 'A', 10, 1, 1)$$),
	('grade 33 characters',           $$SELECT ticket.add_section(4, 'S', repeat('g', 33), 10, 1, 1)$$),
	('price 1,000,000.01',            $$SELECT ticket.add_section(4, 'S', 'A', 1000000.01, 1, 1)$$),
	('price 0.005',                   $$SELECT ticket.add_section(4, 'S', 'A', 0.005, 1, 1)$$),
	('seat_rows 10,001',              $$SELECT ticket.add_section(4, 'S', 'A', 10, 10001, 1)$$),
	('10,000 x 10,000 seats',         $$SELECT ticket.add_section(4, 'S', 'A', 10, 10000, 10000)$$),
	('int4 max x int4 max seats',     $$SELECT ticket.add_section(4, 'S', 'A', 10, 2147483647, 2147483647)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.add_section(bigint, text, text, numeric, int, int)',
	$$SELECT ticket.add_section(4, 'S', 'A', 10, 1, 1)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
