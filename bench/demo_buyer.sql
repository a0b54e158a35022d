-- One step of a simulated buyer (bench/demo, as demo_buyer): poll the queue,
-- hold, check out or walk away; see demo.step in bench/demo_setup.sql.
-- Start with -D place=0 -D hold=0 -D mark=0 -D op=-
SELECT place, hold, mark, op, nap FROM demo.step(:place, :hold, :mark, ':op') \gset
\sleep :nap ms
