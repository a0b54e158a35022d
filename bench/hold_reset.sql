-- Between runs of `bench/run hold`: every workload starts from the same state.
DELETE FROM ticket.hold WHERE concert_id IN (1, 3, 4);
UPDATE ticket.seat SET state = 'available', hold_id = NULL, held_until = NULL
 WHERE concert_id IN (1, 3, 4) AND state <> 'available';
TRUNCATE naive.hold;
UPDATE naive.seat SET state = 'available', holder = NULL, held_until = NULL WHERE state <> 'available';
UPDATE naive.standing SET sold = 0;
VACUUM ANALYZE ticket.seat, ticket.hold, naive.seat, naive.hold, naive.standing, naive.one;
CHECKPOINT;
