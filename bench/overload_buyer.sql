-- A buyer of `bench/run overload` (pgbench -R sets the arrival rate): a new
-- user holds one or two standing places of concert :concert, then checks
-- them out (two transactions, as a real client makes them).
\set u random(1, 1000000000000)
\set n random(1, 2)
SELECT coalesce(hold_id, 0) AS h FROM ticket.hold_best(:concert, 'b' || :u, 1, :n) \gset
\if :h > 0
SELECT status FROM ticket.checkout(:h, 'b' || :u, 'k' || :u);
\endif
