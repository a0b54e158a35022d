-- A hold of one standing place at a concert with a queue: the pass is checked.
\set u random(1, 100000)
SELECT status FROM ticket.hold_best(6, 'h:u', 1, 1, pass => (SELECT pass FROM public.bench_pass WHERE g = :u));
