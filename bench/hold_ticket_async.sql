-- ticket.hold of one random seat among 500,000, by one of 100,000 users, on
-- a concert with durable_holds = false: the hold commits asynchronously.
\set seat random(1, 500000)
\set u random(1, 100000)
SELECT status FROM ticket.hold(4, 'u:u', '{:seat}');
