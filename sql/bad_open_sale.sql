-- Bad input to ticket.open_sale(concert_id): bad ids, states that forbid
-- opening, and roles without the grant; each ends in its SQLSTATE, nothing
-- written.
\i test/bad_setup.sql
SELECT ticket.create_concert('No seats', '2100-06-01 20:00+00', '2000-01-01 00:00+00') AS empty_concert,
	   ticket.create_concert('Ended', now() + interval '2 days', now() - interval '2 days', sale_closes_at => now() + interval '1 day') AS ended
\gset
UPDATE ticket.concert SET sale_closes_at = now() - interval '1 second' WHERE concert_id = :ended;
SELECT ticket.add_standing(:ended, 'Pit', 'GA', 10, 5) AS ended_pit \gset
SELECT pg_temp.fp() AS fp0 \gset
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.open_sale(%s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',           $$SELECT ticket.open_sale(999)$$),
	('cancelled concert',         $$SELECT ticket.open_sale(5)$$),
	('no seats',                  $$SELECT ticket.open_sale(6)$$),
	('sale window ended',         $$SELECT ticket.open_sale(7)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.open_sale(bigint)', $$SELECT ticket.open_sale(4)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
