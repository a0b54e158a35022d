-- ticket.hold_best of one standing place among 200,000.
\set u random(1, 100000)
SELECT status FROM ticket.hold_best(3, 'u:u', 1, 1);
