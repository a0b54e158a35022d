-- A buyer checks out their hold (hold n is user n's). Client c checks out
-- holds c+1, c+1+clients, c+1+2*clients, ... (bench/run passes -D n=0
-- -D clients=N): every call is a new order, none a replay of a key, until
-- a client has gone through 200,000 / clients holds. The buyer and the key
-- are literals, as a client sends them ('u:h' is 'u' and the number:
-- pgbench puts variables into quoted text too), not 'u' || :h, whose
-- text || integer operator is an SQL function that the planner would
-- parse and inline on every call (5 % of the run's CPU, bench/RESULTS.md).
\set h 1 + (:client_id + :clients * :n) % 200000
\set n :n + 1
SELECT status FROM ticket.checkout(:h, 'u:h', 'k:h');
