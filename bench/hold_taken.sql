-- ticket.hold on a sold-out concert: every attempt answers "taken".
\set seat random(1, 1000)
\set u random(1, 100000)
SELECT status FROM ticket.hold(2, 'u:u', '{:seat}');
