-- ticket.hold of one random seat among 200,000 of the concert :concert, by
-- one of 100,000 users: run on the shard itself (direct) and on the router.
\set seat random(1, 200000)
\set u random(1, 100000)
SELECT status FROM ticket.hold(:concert, 'u:u', '{:seat}');
