-- A status poll by one of the users in line at concert 4.
\set u random(1, 1000000)
SELECT state, "position", eta, pass_token FROM ticket.queue_status(4, 'p:u');
