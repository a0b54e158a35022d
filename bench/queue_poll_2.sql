-- A status poll by one of the users in line at concert 2.
\set u random(1, 1000)
SELECT state, "position", eta, pass_token FROM ticket.queue_status(2, 'p:u');
