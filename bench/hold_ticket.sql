-- ticket.hold of one random seat among 500,000, by a random user.
\set seat random(1, 500000)
\set u random(1, 1000000000)
SELECT status FROM ticket.hold(1, 'u:u', '{:seat}');
