-- A status poll by one of the 10,000 fans in line at the concert :concert:
-- run on the primary and on its hot standby.
\set u random(1, 10000)
SELECT state, "position", eta FROM ticket.queue_status(:concert, 'f:u');
