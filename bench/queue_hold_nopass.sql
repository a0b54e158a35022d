-- A hold of one standing place without a queue; the pass is fetched (as in
-- queue_hold_pass.sql) and ignored, so that only checking it differs.
\set u random(1, 100000)
SELECT status FROM ticket.hold_best(5, 'h:u', 1, 1, pass => (SELECT pass FROM public.bench_pass WHERE g = :u));
