-- The box office edits a catalogue without touching a table: rename,
-- regrade and re-price a section before its seats sell, remove a section
-- or delete a concert while it is a draft.
\i test/regress_setup.sql

SELECT ticket.create_concert('Draft', now() + interval '30 days', now() + interval '1 day',
	queue => true) AS d \gset
SELECT ticket.add_section(:d, 'A', 'A', 10, 2, 5) AS a,
	   ticket.add_section(:d, 'B', 'B', 20, 1, 3) AS b,
	   ticket.add_standing(:d, 'Pit', 'GA', 30, 4) AS pit \gset
SELECT state FROM ticket.join_queue(:d, 'early');

-- Remove the middle section: seat ids stay 1 .. seat_count, the Pit's
-- places move down by 3, section ids are kept.
SELECT ticket.remove_section(:d, :b);
SELECT section_id, name, first_seat_id, capacity FROM ticket.section WHERE concert_id = :d ORDER BY section_id;
SELECT min(seat_id), max(seat_id), count(*) FROM ticket.seat WHERE concert_id = :d;
SELECT seat_id, section_id, row_no, seat_no FROM ticket.seat WHERE concert_id = :d AND seat_id > 8 ORDER BY seat_id;
SELECT sections, capacity FROM ticket.concerts WHERE concert_id = :d;
-- A new section takes the next id, after the removed one.
SELECT ticket.add_section(:d, 'C', 'C', 40, 1, 2) AS c \gset
SELECT :c AS new_section_id, (SELECT seat_count FROM ticket.concert WHERE concert_id = :d) AS seat_count;
SELECT count(*) AS violations FROM ticket.verify(:d);

-- Rename, regrade and re-price; NULL keeps a setting.
SELECT ticket.update_section(:d, :a, name => 'Floor', price => 12.50);
SELECT ticket.update_section(:d, :a, grade => 'A+');
SELECT name, grade, price FROM ticket.section WHERE concert_id = :d AND section_id = :a;

-- Delete the draft: sections, seats and its pre-queue go.
SELECT ticket.delete_concert(:d);
SELECT (SELECT count(*) FROM ticket.concert WHERE concert_id = :d) AS concerts,
	   (SELECT count(*) FROM ticket.section WHERE concert_id = :d) AS sections,
	   (SELECT count(*) FROM ticket.seat WHERE concert_id = :d) AS seats,
	   (SELECT count(*) FROM ticket.queue_entry WHERE concert_id = :d) AS entries,
	   (SELECT count(*) FROM ticket.queue WHERE concert_id = :d) AS queues;

-- On sale: re-pricing waits for a section without live holds, renaming
-- and re-pricing for one without sold seats; the new price is what the
-- next buyer sees and pays.
SELECT ticket.create_concert('Live', now() + interval '30 days', now() - interval '1 day') AS l \gset
SELECT ticket.add_section(:l, 'Front', 'A', 100, 1, 5) AS f, ticket.add_section(:l, 'Back', 'B', 50, 1, 5) AS bk \gset
SELECT ticket.open_sale(:l);
SELECT hold_id AS h FROM ticket.hold(:l, 'ann', ARRAY[1]) \gset
SELECT pg_temp.err(format('SELECT ticket.update_section(%s, %s, price => 120)', :l, :f)) AS reprice_held;
SELECT ticket.update_section(:l, :f, name => 'Front Row');
SELECT ticket.release(:h, 'ann');
SELECT ticket.update_section(:l, :f, price => 120);
SELECT status, total, seats->0->>'label' AS label FROM ticket.hold(:l, 'bob', ARRAY[2]);
SELECT amount FROM ticket.checkout((SELECT hold_id FROM ticket.hold WHERE user_id = 'bob'), 'bob', 'k');
SELECT ticket.payment_succeeded(payment_id, 'ch') FROM ticket.claim_payments('psp');
SELECT pg_temp.err(format('SELECT ticket.update_section(%s, %s, name => %L)', :l, :f, 'Front 2')) AS rename_sold;
SELECT pg_temp.err(format('SELECT ticket.remove_section(%s, %s)', :l, :bk)) AS remove_on_sale;
SELECT pg_temp.err(format('SELECT ticket.delete_concert(%s)', :l)) AS delete_on_sale;
SELECT ticket.update_section(:l, :bk, price => 55) AS back_has_none_sold;
SELECT count(*) AS violations FROM ticket.verify();
