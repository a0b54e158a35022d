-- Between hold runs of `bench/run payment`: concert 1's free seats free again.
DELETE FROM ticket.hold WHERE concert_id = 1 AND user_id LIKE 'h%';
UPDATE ticket.seat SET state = 'available', hold_id = NULL, held_until = NULL
 WHERE concert_id = 1 AND seat_id > 200000 AND state <> 'available';
VACUUM ANALYZE ticket.seat, ticket.hold;
CHECKPOINT;
