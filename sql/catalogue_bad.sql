-- Bad input to the public functions of src/catalogue.sql, one part per
-- function: create_concert, update_concert, close_sale, cancel_concert,
-- add_section, add_standing, seat_map, open_sale.  The fixture
-- (test/bad_setup.sql) is loaded once for all of them: each part checks that
-- it wrote nothing, so the next finds the fixture as it was.  open_sale first
-- adds concerts of its own (6 and 7) and takes a new fp0, so it comes last.
\i test/bad_setup.sql

-- Bad input to ticket.create_concert: every argument's bad values, then
-- windows that do not fit and roles without the grant.  Each case ends in
-- its SQLSTATE and writes nothing (a [WROTE] would say otherwise).
SELECT * FROM pg_temp.each('title', 'text', $$SELECT ticket.create_concert(%s, '2100-01-01', '2000-01-01')$$);
SELECT * FROM pg_temp.each('venue', 'text', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', venue => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('starts_at', 'timestamptz', $$SELECT ticket.create_concert('t', %s, '2000-01-01')$$, '{year 294276}');
SELECT * FROM pg_temp.each('sale_opens_at', 'timestamptz', $$SELECT ticket.create_concert('t', '2100-01-01', %s)$$, '{in the past}');
SELECT * FROM pg_temp.each('sale_closes_at', 'timestamptz', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', sale_closes_at => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('hold_ttl', 'interval', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', hold_ttl => %s)$$);
SELECT * FROM pg_temp.each('per_user_limit', 'int4', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', per_user_limit => %s)$$);
SELECT * FROM pg_temp.each('admit_rate', 'int4', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', admit_rate => %s)$$);
SELECT * FROM pg_temp.each('admission_ttl', 'interval', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', admission_ttl => %s)$$);
SELECT * FROM pg_temp.each('max_active', 'int4', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', max_active => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('queue', 'bool', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', queue => %s)$$);
SELECT * FROM pg_temp.each('pow_bits', 'int4', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', queue => true, pow_bits => %s)$$, '{0}');
SELECT * FROM pg_temp.each('payment_timeout', 'interval', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', payment_timeout => %s)$$);
SELECT * FROM pg_temp.each('payment_attempts', 'int4', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', payment_attempts => %s)$$);
SELECT * FROM pg_temp.each('accept_late_payments', 'bool', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', accept_late_payments => %s)$$);
SELECT * FROM pg_temp.each('announce_at', 'timestamptz', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', announce_at => %s)$$, '{"NULL", "in the past", "year 294276"}');
SELECT * FROM pg_temp.each('cancellable', 'bool', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', cancellable => %s)$$);
SELECT * FROM pg_temp.each('cancel_until', 'interval', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', cancel_until => %s)$$, '{0, 1 microsecond}');
SELECT * FROM pg_temp.each('cancel_fee_percent', 'numeric', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', cancel_fee_percent => %s)$$, '{0}');
SELECT * FROM pg_temp.each('cancel_fee_fixed', 'numeric', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', cancel_fee_fixed => %s)$$, '{0}');
SELECT * FROM pg_temp.each('durable_holds', 'bool', $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', durable_holds => %s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('opens after it starts',      $$SELECT ticket.create_concert('t', '2100-01-01', '2100-02-01')$$),
	('opens when it starts',       $$SELECT ticket.create_concert('t', '2100-01-01', '2100-01-01')$$),
	('closes before it opens',     $$SELECT ticket.create_concert('t', '2100-01-01', '2099-01-01', sale_closes_at => '2098-01-01')$$),
	('closes after it starts',     $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', sale_closes_at => '2100-01-02')$$),
	('hold_ttl over a day',        $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', hold_ttl => '1 day 1 second')$$),
	('hold_ttl 1 month',           $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', hold_ttl => '1 month')$$),
	('per_user_limit 101',         $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', per_user_limit => 101)$$),
	('admit_rate 100,001',         $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', admit_rate => 100001)$$),
	('max_active 10,000,001',      $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', max_active => 10000001)$$),
	('pow_bits without queue',     $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', pow_bits => 8)$$),
	('pow_bits 33',                $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', queue => true, pow_bits => 33)$$),
	('payment_attempts 21',        $$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01', payment_attempts => 21)$$),
	('title 201 characters',       $$SELECT ticket.create_concert(repeat('é', 201), '2100-01-01', '2000-01-01')$$),
	('title \x7f',                 $$SELECT ticket.create_concert(E'a\x7fb', '2100-01-01', '2000-01-01')$$),
	('title no-break spaces only', $$SELECT ticket.create_concert(E'\u00a0\u00a0', '2100-01-01', '2000-01-01')$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.create_concert(text, timestamptz, timestamptz, text, timestamptz, interval, int, int, interval, int, boolean, int, interval, int, boolean, timestamptz, boolean, interval, numeric, numeric, boolean)',
	$$SELECT ticket.create_concert('t', '2100-01-01', '2000-01-01')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.update_concert (NULL keeps a setting, so it is not
-- bad here): every argument's bad values on the draft concert 4, changes
-- its state forbids, and roles without the grant.
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.update_concert(%s, title => 't')$$);
SELECT * FROM pg_temp.each('title', 'text', $$SELECT ticket.update_concert(4, title => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('venue', 'text', $$SELECT ticket.update_concert(4, venue => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('starts_at', 'timestamptz', $$SELECT ticket.update_concert(4, starts_at => %s)$$, '{"NULL","year 294276"}');
SELECT * FROM pg_temp.each('sale_opens_at', 'timestamptz', $$SELECT ticket.update_concert(4, sale_opens_at => %s)$$, '{"NULL","in the past"}');
SELECT * FROM pg_temp.each('sale_closes_at', 'timestamptz', $$SELECT ticket.update_concert(4, sale_closes_at => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('hold_ttl', 'interval', $$SELECT ticket.update_concert(4, hold_ttl => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('per_user_limit', 'int4', $$SELECT ticket.update_concert(4, per_user_limit => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('admit_rate', 'int4', $$SELECT ticket.update_concert(4, admit_rate => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('admission_ttl', 'interval', $$SELECT ticket.update_concert(4, admission_ttl => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('max_active', 'int4', $$SELECT ticket.update_concert(4, max_active => %s)$$, '{"NULL","0"}');
SELECT * FROM pg_temp.each('pow_bits', 'int4', $$SELECT ticket.update_concert(3, pow_bits => %s)$$, '{"NULL","0"}');
SELECT * FROM pg_temp.each('payment_timeout', 'interval', $$SELECT ticket.update_concert(4, payment_timeout => %s)$$, '{"NULL"}');
SELECT * FROM pg_temp.each('payment_attempts', 'int4', $$SELECT ticket.update_concert(4, payment_attempts => %s)$$, '{"NULL"}');
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                 $$SELECT ticket.update_concert(999, title => 't')$$),
	('cancelled concert',               $$SELECT ticket.update_concert(5, title => 't')$$),
	('on sale: sale_opens_at',          $$SELECT ticket.update_concert(1, sale_opens_at => '2001-01-01')$$),
	('on sale: per_user_limit down',    $$SELECT ticket.update_concert(1, per_user_limit => 3)$$),
	('on sale: queue turned on',        $$SELECT ticket.update_concert(1, queue => true)$$),
	('on sale: queue turned off',       $$SELECT ticket.update_concert(3, queue => false)$$),
	('pow_bits without queue',          $$SELECT ticket.update_concert(4, pow_bits => 8)$$),
	('max_active -1 (0 removes the cap)', $$SELECT ticket.update_concert(4, max_active => -1)$$),
	('opens after it starts',           $$SELECT ticket.update_concert(4, sale_opens_at => '2100-07-01')$$),
	('closes after it starts',          $$SELECT ticket.update_concert(4, sale_closes_at => '2100-07-01')$$),
	('starts before the sale closes',   $$SELECT ticket.update_concert(4, starts_at => '2099-01-01', sale_closes_at => '2099-06-01')$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.update_concert(bigint, text, text, timestamptz, timestamptz, timestamptz, interval, int, int, interval, int, boolean, int, interval, int, boolean, timestamptz, boolean, interval, numeric, numeric, boolean)',
	$$SELECT ticket.update_concert(4, title => 't')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.close_sale(concert_id): bad ids, states, and roles without
-- the grant; each ends in its SQLSTATE, nothing written.
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.close_sale(%s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',           $$SELECT ticket.close_sale(999)$$),
	('cancelled concert',         $$SELECT ticket.close_sale(5)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.close_sale(bigint)', $$SELECT ticket.close_sale(4)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.cancel_concert(concert_id): bad ids, states, and roles without
-- the grant; each ends in its SQLSTATE, nothing written.
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.cancel_concert(%s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',           $$SELECT ticket.cancel_concert(999)$$),
	('cancelled concert',         $$SELECT ticket.cancel_concert(5)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.cancel_concert(bigint)', $$SELECT ticket.cancel_concert(4)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.add_section: every argument's bad values, sizes over
-- the limits, a name already used, states that forbid it, and roles
-- without the grant; each ends in its SQLSTATE, nothing written.
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

-- Bad input to ticket.add_standing: every argument's bad values, sizes over
-- the limits, a name already used, states that forbid it, and roles
-- without the grant; each ends in its SQLSTATE, nothing written.
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

-- Bad input to ticket.seat_map(concert_id, section_id): bad ids, another
-- concert's section, and roles without the grant.
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT count(*) FROM ticket.seat_map(%s, 1)$$);
SELECT * FROM pg_temp.each('section_id', 'int4', $$SELECT count(*) FROM ticket.seat_map(1, %s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                 $$SELECT count(*) FROM ticket.seat_map(999, 1)$$),
	('section 2 of concert 1 asked of concert 2', $$SELECT count(*) FROM ticket.seat_map(2, 2)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.seat_map(bigint, int)', $$SELECT count(*) FROM ticket.seat_map(1, 1)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.open_sale(concert_id): bad ids, states that forbid
-- opening, and roles without the grant; each ends in its SQLSTATE, nothing
-- written.
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

-- Bad input to the buyers' catalogue: ticket.browse_concerts(),
-- ticket.browse_sections(concert_id), ticket.browse_seats(concert_id,
-- section_id, only_free).  A concert buyers may not see (a draft not
-- announced, cancelled, its sale ended, none at all) answers the same
-- P0002, so that nothing about it leaks; nothing is written.
SELECT pg_temp.fp() AS fp0 \gset
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT count(*) FROM ticket.browse_sections(%s)$$);
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT count(*) FROM ticket.browse_seats(%s, 1)$$);
SELECT * FROM pg_temp.each('section_id', 'int4', $$SELECT count(*) FROM ticket.browse_seats(1, %s)$$);
SELECT * FROM pg_temp.each('only_free', 'bool', $$SELECT count(*) FROM ticket.browse_seats(1, 1, %s)$$);
SELECT c AS bad_input, pg_temp.bad(s, 'ticket_customer') AS result FROM (VALUES
	('sections of a draft not announced',  $$SELECT count(*) FROM ticket.browse_sections(4)$$),
	('sections of a cancelled concert',    $$SELECT count(*) FROM ticket.browse_sections(5)$$),
	('sections of a concert without seats', $$SELECT count(*) FROM ticket.browse_sections(6)$$),
	('sections once the sale has ended',   $$SELECT count(*) FROM ticket.browse_sections(7)$$),
	('sections of no concert',             $$SELECT count(*) FROM ticket.browse_sections(999)$$),
	('seats of a draft not announced',     $$SELECT count(*) FROM ticket.browse_seats(4, 1)$$),
	('seats once the sale has ended',      $$SELECT count(*) FROM ticket.browse_seats(7, 1)$$),
	('section 2 asked of concert 2',       $$SELECT count(*) FROM ticket.browse_seats(2, 2)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.browse_concerts()', $$SELECT count(*) FROM ticket.browse_concerts()$$);
SELECT * FROM pg_temp.no_grant('ticket.browse_sections(bigint)', $$SELECT count(*) FROM ticket.browse_sections(1)$$);
SELECT * FROM pg_temp.no_grant('ticket.browse_seats(bigint, int, boolean)', $$SELECT count(*) FROM ticket.browse_seats(1, 1)$$);
-- The internal functions they use are not for callers.
SELECT * FROM pg_temp.no_grant('ticket._section_counts(bigint, int)', $$SELECT ticket._section_counts(1, 1)$$);
SELECT * FROM pg_temp.no_grant('ticket._seats_json(bigint, int[])', $$SELECT ticket._seats_json(1, ARRAY[1])$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;

-- Bad input to ticket.update_section(concert_id, section_id, name, grade,
-- price), ticket.remove_section(concert_id, section_id) and
-- ticket.delete_concert(concert_id): bad ids, names, grades and prices,
-- states that forbid the change, and roles without the grant.  (Concert 1
-- has held and checked-out seats in its section 1; concert 4 is a draft.)
SELECT pg_temp.fp() AS fp0 \gset
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.update_section(%s, 1, grade => 'B')$$);
SELECT * FROM pg_temp.each('section_id', 'int4', $$SELECT ticket.update_section(4, %s, grade => 'B')$$);
SELECT * FROM pg_temp.each('name', 'text', $$SELECT ticket.update_section(4, 1, name => %s)$$, ARRAY['NULL']);
SELECT * FROM pg_temp.each('grade', 'text', $$SELECT ticket.update_section(4, 1, grade => %s)$$, ARRAY['NULL']);
SELECT * FROM pg_temp.each('price', 'numeric', $$SELECT ticket.update_section(4, 1, price => %s)$$, ARRAY['NULL']);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('re-price with orders',            $$SELECT ticket.update_section(1, 1, price => 99)$$),
	('re-price with held seats',        $$SELECT ticket.update_section(2, 1, price => 99)$$),
	('rename the Pit to Floor',         $$SELECT ticket.update_section(1, 2, name => 'Floor')$$),
	('a cancelled concert',             $$SELECT ticket.update_section(5, 1, grade => 'B')$$),
	('price with three decimals',       $$SELECT ticket.update_section(4, 1, price => 1.005)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.update_section(bigint, int, text, text, numeric)', $$SELECT ticket.update_section(4, 1, grade => 'B')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.remove_section(%s, 1)$$);
SELECT * FROM pg_temp.each('section_id', 'int4', $$SELECT ticket.remove_section(4, %s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('a concert on sale',               $$SELECT ticket.remove_section(1, 2)$$),
	('a cancelled concert',             $$SELECT ticket.remove_section(5, 1)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.remove_section(bigint, int)', $$SELECT ticket.remove_section(4, 1)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT ticket.delete_concert(%s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('a concert on sale',               $$SELECT ticket.delete_concert(1)$$),
	('a cancelled concert',             $$SELECT ticket.delete_concert(5)$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.delete_concert(bigint)', $$SELECT ticket.delete_concert(4)$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
