-- A buyer checks out their hold (hold n is user n's). Client c checks out
-- holds c+1+clients*n for n = s, s+1, s+2, ... (bench/run passes -D n=s,
-- where round k of PAYMENT_ROUNDS starts at s = (k-1) * 200,000 / clients /
-- rounds, and -D clients=N): every call is a new order, none a replay of
-- a key, as long as a client stays within its share of a round (bench/run
-- says so when more than 1 % of a round's calls made no order). The buyer
-- and the key are literals, as a client sends them ('u:h' is 'u' and the
-- number: pgbench puts variables into quoted text too), not 'u' || :h,
-- whose text || integer operator is an SQL function that the planner would
-- parse and inline on every call (5 % of the run's CPU, bench/RESULTS.md).
\set h 1 + (:client_id + :clients * :n) % 200000
\set n :n + 1
SELECT status FROM ticket.checkout(:h, 'u:h', 'k:h');
