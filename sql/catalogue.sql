-- Catalogue: concerts, sections, seats, sale state, and every bad input.
\i test/regress_setup.sql

-- How many rows the catalogue holds: bad input must leave this unchanged.
CREATE FUNCTION pg_temp.footprint() RETURNS text LANGUAGE sql AS $$
	SELECT format('concerts=%s sections=%s seats=%s next_id=%s',
		(SELECT count(*) FROM ticket.concert),
		(SELECT count(*) FROM ticket.section),
		(SELECT count(*) FROM ticket.seat),
		(SELECT last_value FROM ticket.concert_concert_id_seq))
$$;

SELECT ticket.preloaded();

-- A concert with defaults, then sections of both kinds.
SELECT ticket.create_concert('Opening Night', '2100-06-01 20:00+00', '2100-05-01 10:00+00',
	venue => 'Riverside Arena') AS cid \gset
SELECT title, venue, state, starts_at, sale_opens_at, sale_closes_at, hold_ttl, per_user_limit,
	admit_rate, admission_ttl, max_active, section_count, seat_count
  FROM ticket.concert WHERE concert_id = :cid;

SELECT ticket.add_section(:cid, 'Floor', 'A', 150.00, 4, 5) AS floor_id;
SELECT ticket.add_section(:cid, 'Balcony', 'B', 89.50, 2, 3) AS balcony_id;
SELECT ticket.add_standing(:cid, 'Pit', 'GA', 60, 120) AS pit_id;

-- Seat ids run on across sections; rows and seat numbers restart in each.
SELECT section_id, min(seat_id), max(seat_id), count(*), count(DISTINCT row_no) AS rows,
	min(seat_no), max(seat_no), bool_and(state = 'available') AS all_available
  FROM ticket.seat WHERE concert_id = :cid GROUP BY section_id ORDER BY section_id;
SELECT section_id, name, grade, price, seated, seat_rows, seats_per_row, capacity, first_seat_id
  FROM ticket.section WHERE concert_id = :cid ORDER BY section_id;

SELECT title, state, sections, capacity, available, held, sold, revenue
  FROM ticket.concerts WHERE concert_id = :cid;
SELECT section_id, name, price, capacity, available, held, sold
  FROM ticket.sections WHERE concert_id = :cid ORDER BY section_id;
SELECT * FROM ticket.seat_map(:cid, 1);
SELECT * FROM ticket.seat_map(:cid, 3);

-- The views count a held seat as available once its hold has expired.
UPDATE ticket.seat SET state = 'held', held_until = now() + interval '1 hour' WHERE concert_id = :cid AND seat_id IN (1, 2);
UPDATE ticket.seat SET state = 'held', held_until = now() - interval '1 second' WHERE concert_id = :cid AND seat_id = 3;
UPDATE ticket.seat SET state = 'sold' WHERE concert_id = :cid AND seat_id IN (4, 21);
SELECT section_id, available, held, sold FROM ticket.sections WHERE concert_id = :cid ORDER BY section_id;
SELECT available, held, sold, revenue FROM ticket.concerts WHERE concert_id = :cid;
SELECT * FROM ticket.seat_map(:cid, 1) LIMIT 1;
UPDATE ticket.seat SET state = 'available', held_until = NULL WHERE concert_id = :cid;

-- Sale state machine.
SELECT ticket.open_sale(:cid);
SELECT state, opened_at IS NOT NULL AS opened FROM ticket.concert WHERE concert_id = :cid;
SELECT ticket.open_sale(:cid);			-- already on sale: a notice, no change
SELECT ticket.close_sale(:cid);
SELECT ticket.close_sale(:cid);			-- already closed: a notice
SELECT ticket.open_sale(:cid);			-- a closed sale can reopen
SELECT state, closed_at FROM ticket.concert WHERE concert_id = :cid;

-- Changing a concert on sale: settings buyers do not depend on may change.
SELECT ticket.update_concert(:cid, admit_rate => 500, max_active => 2000, hold_ttl => '5 minutes',
	per_user_limit => 6, title => 'Opening Night (extra date)');
SELECT title, admit_rate, max_active, hold_ttl, per_user_limit FROM ticket.concert WHERE concert_id = :cid;
SELECT ticket.update_concert(:cid, max_active => 0);	-- 0 removes the cap
SELECT max_active FROM ticket.concert WHERE concert_id = :cid;
-- Sections may still be added while on sale.
SELECT ticket.add_section(:cid, 'Gallery', 'C', 45, 1, 10);

-- Counters in shared memory (the library is preloaded in this cluster).
SELECT counter, value > 0 AS counted FROM ticket.counters()
 WHERE counter IN ('concerts_created', 'sections_added', 'seats_generated', 'sales_opened') ORDER BY counter;

SELECT pg_temp.footprint() AS before \gset

-- Bad input: each raises a specific SQLSTATE and writes nothing.
SELECT pg_temp.err($$SELECT ticket.create_concert(NULL, '2100-06-01', '2100-05-01')$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('', '2100-06-01', '2100-05-01')$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('   ', '2100-06-01', '2100-05-01')$$);
SELECT pg_temp.err($$SELECT ticket.create_concert(repeat('x', 201), '2100-06-01', '2100-05-01')$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('t', '2100-06-01', '2100-05-01', venue => repeat('v', 201))$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('t', '2100-06-01', '2100-05-01', venue => '')$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('t', NULL, '2100-05-01')$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('t', '2100-06-01', NULL)$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('t', '2000-06-01', '1999-05-01')$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('t', 'infinity', '2100-05-01')$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('t', '2100-06-01', '2100-07-01')$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('t', '2100-06-01', '2100-05-01', sale_closes_at => '2100-06-02')$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('t', '2100-06-01', '2100-05-01', sale_closes_at => '2100-04-01')$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('t', '2100-06-01', '2100-05-01', hold_ttl => NULL)$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('t', '2100-06-01', '2100-05-01', hold_ttl => '0 seconds')$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('t', '2100-06-01', '2100-05-01', hold_ttl => '2 days')$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('t', '2100-06-01', '2100-05-01', per_user_limit => 0)$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('t', '2100-06-01', '2100-05-01', per_user_limit => 101)$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('t', '2100-06-01', '2100-05-01', admit_rate => -1)$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('t', '2100-06-01', '2100-05-01', admit_rate => NULL)$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('t', '2100-06-01', '2100-05-01', admission_ttl => '-1 minute')$$);
SELECT pg_temp.err($$SELECT ticket.create_concert('t', '2100-06-01', '2100-05-01', max_active => 0)$$);

SELECT pg_temp.err(format($$SELECT ticket.add_section(%s, NULL, 'A', 10, 1, 1)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.add_section(%s, '', 'A', 10, 1, 1)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.add_section(%s, repeat('n', 65), 'A', 10, 1, 1)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.add_section(%s, 'Floor', 'A', 10, 1, 1)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.add_section(%s, 'New', NULL, 10, 1, 1)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.add_section(%s, 'New', repeat('g', 33), 10, 1, 1)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.add_section(%s, 'New', 'A', NULL, 1, 1)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.add_section(%s, 'New', 'A', 0, 1, 1)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.add_section(%s, 'New', 'A', -5, 1, 1)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.add_section(%s, 'New', 'A', 1000000.01, 1, 1)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.add_section(%s, 'New', 'A', 10.005, 1, 1)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.add_section(%s, 'New', 'A', 'NaN', 1, 1)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.add_section(%s, 'New', 'A', 10, NULL, 1)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.add_section(%s, 'New', 'A', 10, 0, 1)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.add_section(%s, 'New', 'A', 10, 1, -3)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.add_section(%s, 'New', 'A', 10, 10001, 1)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.add_section(%s, 'New', 'A', 10, 2000, 1000)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.add_standing(%s, 'New', 'A', 10, 0)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.add_standing(%s, 'New', 'A', 10, NULL)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.add_standing(%s, 'New', 'A', 10, 1000001)$$, :cid));
SELECT pg_temp.err($$SELECT ticket.add_section(NULL, 'New', 'A', 10, 1, 1)$$);
SELECT pg_temp.err($$SELECT ticket.add_section(987654, 'New', 'A', 10, 1, 1)$$);
SELECT pg_temp.err($$SELECT ticket.add_standing(987654, 'New', 'A', 10, 5)$$);

SELECT pg_temp.err($$SELECT ticket.update_concert(987654, title => 'x')$$);
SELECT pg_temp.err($$SELECT ticket.update_concert(NULL, title => 'x')$$);
SELECT pg_temp.err(format($$SELECT ticket.update_concert(%s, title => '')$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.update_concert(%s, admit_rate => 0)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.update_concert(%s, starts_at => now() - interval '1 day')$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.update_concert(%s, sale_closes_at => '2100-07-01')$$, :cid));
-- on sale: the opening time and a lower per-user limit would break what buyers hold
SELECT pg_temp.err(format($$SELECT ticket.update_concert(%s, sale_opens_at => '2100-04-01')$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.update_concert(%s, per_user_limit => 2)$$, :cid));

SELECT pg_temp.err($$SELECT ticket.open_sale(987654)$$);
SELECT pg_temp.err($$SELECT ticket.open_sale(NULL)$$);
SELECT pg_temp.err($$SELECT ticket.close_sale(987654)$$);
SELECT pg_temp.err($$SELECT ticket.cancel_concert(987654)$$);
SELECT pg_temp.err($$SELECT ticket.cancel_concert(NULL)$$);
SELECT pg_temp.err(format($$SELECT * FROM ticket.seat_map(%s, 99)$$, :cid));
SELECT pg_temp.err($$SELECT * FROM ticket.seat_map(NULL, 1)$$);

-- Tables are written only through the functions; the CHECKs are a last line.
SELECT pg_temp.err(format($$UPDATE ticket.concert SET per_user_limit = 0 WHERE concert_id = %s$$, :cid));

SELECT pg_temp.footprint() = :'before' AS nothing_written;

-- A draft without seats cannot open; a concert whose window has passed cannot open.
SELECT ticket.create_concert('Empty', '2100-06-01 20:00+00', '2100-05-01 10:00+00') AS empty_id \gset
SELECT pg_temp.err(format($$SELECT ticket.open_sale(%s)$$, :empty_id));
SELECT pg_temp.err(format($$SELECT ticket.close_sale(%s)$$, :empty_id));
SELECT ticket.create_concert('Missed', now() + interval '1 day', now() - interval '2 days',
	sale_closes_at => now() - interval '1 day') AS soon_id \gset
SELECT ticket.add_standing(:soon_id, 'Pit', 'GA', 10, 5);
SELECT pg_temp.err(format($$SELECT ticket.open_sale(%s)$$, :soon_id));
SELECT state FROM ticket.concert WHERE concert_id = :soon_id;

-- Cancelling is final.
SELECT ticket.cancel_concert(:cid);
SELECT ticket.cancel_concert(:cid);		-- a notice, no change
SELECT state, cancelled_at IS NOT NULL AS cancelled FROM ticket.concert WHERE concert_id = :cid;
SELECT pg_temp.err(format($$SELECT ticket.open_sale(%s)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.close_sale(%s)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.update_concert(%s, title => 'x')$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.add_section(%s, 'Late', 'A', 10, 1, 1)$$, :cid));

-- A 50,000-seat concert as in the README, built from psql.
SELECT ticket.create_concert('Stadium Tour', '2100-07-01 19:00+00', '2100-06-01 10:00+00',
	hold_ttl => '8 minutes', per_user_limit => 6, admit_rate => 250) AS big \gset
SELECT ticket.add_section(:big, 'Floor', 'A', 180, 50, 100);
SELECT ticket.add_section(:big, 'Lower', 'B', 120, 100, 200);
SELECT ticket.add_section(:big, 'Upper', 'C', 70, 100, 200);
SELECT ticket.add_standing(:big, 'Pit', 'GA', 90, 5000);
SELECT title, sections, capacity, available FROM ticket.concerts WHERE concert_id = :big;
SELECT count(*) AS seats, count(DISTINCT seat_id) AS distinct_ids, min(seat_id), max(seat_id)
  FROM ticket.seat WHERE concert_id = :big;
