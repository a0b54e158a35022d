-- A buyer checks out their hold (hold n is user n's); a hold drawn twice is
-- a replay of the same key, which returns the stored order.
\set h random(1, 200000)
SELECT status FROM ticket.checkout(:h, 'u' || :h, 'k' || :h);
