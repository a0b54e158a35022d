-- Bad input to ticket.seat_map(concert_id, section_id): bad ids, another
-- concert's section, and roles without the grant.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT count(*) FROM ticket.seat_map(%s, 1)$$);
SELECT * FROM pg_temp.each('section_id', 'int4', $$SELECT count(*) FROM ticket.seat_map(1, %s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                 $$SELECT count(*) FROM ticket.seat_map(999, 1)$$),
	('section 2 of concert 1 asked of concert 2', $$SELECT count(*) FROM ticket.seat_map(2, 2)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.seat_map(bigint, int)', $$SELECT count(*) FROM ticket.seat_map(1, 1)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
