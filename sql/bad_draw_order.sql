-- Bad input to ticket.draw_order(concert_id, seed): bad ids, NULL and empty
-- seeds (any other seed gives its order),
-- concerts without a waiting room, and roles without the grant.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT count(*) FROM ticket.draw_order(%s, decode(repeat('00', 32), 'hex'))$$);
SELECT * FROM pg_temp.each('seed', 'bytea', $$SELECT count(*) FROM ticket.draw_order(3, %s)$$, '{"31 bytes","1 MB"}');
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                $$SELECT count(*) FROM ticket.draw_order(999, decode(repeat('00', 32), 'hex'))$$),
	('concert without a waiting room', $$SELECT count(*) FROM ticket.draw_order(1, decode(repeat('00', 32), 'hex'))$$),
	('draft concert, no waiting room', $$SELECT count(*) FROM ticket.draw_order(4, decode(repeat('00', 32), 'hex'))$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.draw_order(bigint, bytea)', $$SELECT count(*) FROM ticket.draw_order(3, decode(repeat('00', 32), 'hex'))$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
