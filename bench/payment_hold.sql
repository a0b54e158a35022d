-- Buyers holding one of the 200,000 free seats of concert 1, while the
-- worker expires (or does not) 100,000 abandoned holds of concert 2.
\set seat random(200001, 400000)
\set u random(1, 1000000)
SELECT status FROM ticket.hold(1, 'h' || :u, ARRAY[:seat]);
