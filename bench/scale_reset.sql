-- Between runs of `bench/run scale`, on shard 1: every run starts with the
-- concert's seats free.
DELETE FROM ticket.hold;
UPDATE ticket.seat SET state = 'available', hold_id = NULL, held_until = NULL WHERE state <> 'available';
VACUUM ANALYZE ticket.seat, ticket.hold;
CHECKPOINT;
