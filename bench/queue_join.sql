-- A burst of joins: a new user each time (client id and a random number).
\set u random(1, 1000000000)
SELECT state FROM ticket.join_queue(1, 'j:client_id.:u');
