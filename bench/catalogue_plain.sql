-- The baseline: a plain index scan of the same 20,000 seats, as the table's owner.
SELECT seat_id, row_no, seat_no, state, held_until FROM ticket.seat
 WHERE concert_id = 1 AND seat_id BETWEEN 1 AND 20000 ORDER BY seat_id;
