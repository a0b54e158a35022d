-- bench/run catalogue: a concert on sale with a 20,000-seat section (100
-- rows of 200), a 6,000-place pit and three smaller sections; a quarter of
-- the big section held (live) so that the free flag varies.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS ticket CASCADE;
RESET client_min_messages;
CREATE EXTENSION ticket;
SELECT ticket.create_concert('bench: catalogue', now() + interval '30 days', now() - interval '1 day');
SELECT ticket.add_section(1, 'Lower Bowl', 'B', 120, 100, 200);
SELECT ticket.add_standing(1, 'Pit', 'GA', 95, 6000);
SELECT ticket.add_section(1, 'Floor A', 'A', 180, 20, 100);
SELECT ticket.add_section(1, 'Floor B', 'A', 160, 20, 100);
SELECT ticket.add_section(1, 'Upper Bowl', 'C', 65, 100, 200);
SELECT ticket.open_sale(1);
UPDATE ticket.seat SET state = 'held', held_until = now() + interval '1 day'
 WHERE concert_id = 1 AND seat_id % 4 = 0 AND seat_id <= 20000;
VACUUM ANALYZE ticket.seat;
