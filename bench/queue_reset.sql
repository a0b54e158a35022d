-- Between runs of `bench/run queue`: no holds, every place free, an empty line to join.
DELETE FROM ticket.hold WHERE concert_id IN (5, 6);
UPDATE ticket.seat SET state = 'available', hold_id = NULL, held_until = NULL
 WHERE concert_id IN (5, 6) AND state <> 'available';
DELETE FROM ticket.queue_entry WHERE concert_id = 1;
UPDATE ticket.queue SET last_place = 0 WHERE concert_id = 1;
VACUUM ANALYZE ticket.seat, ticket.hold, ticket.queue_entry, ticket.queue;
CHECKPOINT;
