-- Bad input to ticket.maintenance(task, batch_size): unknown tasks, bad
-- sizes, and roles without the grant; nothing is tidied.
\i test/bad_setup.sql
SELECT * FROM pg_temp.each('task', 'text', $$SELECT ticket.maintenance(%s)$$);
SELECT * FROM pg_temp.each('batch_size', 'int4', $$SELECT ticket.maintenance('expire_holds', %s)$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown task',                   $$SELECT ticket.maintenance('drop_everything')$$),
	('task in capitals',               $$SELECT ticket.maintenance('EXPIRE_HOLDS')$$),
	('task with a trailing space',     $$SELECT ticket.maintenance('expire_holds ')$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.maintenance(text, int)', $$SELECT ticket.maintenance('expire_holds')$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
