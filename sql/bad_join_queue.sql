-- Bad input to ticket.join_queue(concert_id, user_id, client_key,
-- challenge, solution): bad ids and texts, concerts without a waiting room,
-- forged, expired and other users' proof-of-work challenges, and roles
-- without the grant.  Concert 6 asks for proof of work (8 bits).
\i test/bad_setup.sql
SELECT ticket.create_concert('PoW', '2100-06-01 20:00+00', now() + interval '1 day', queue => true, pow_bits => 8) AS pw \gset
SELECT ticket.add_section(:pw, 'Floor', 'A', 10, 1, 5) AS pw_floor \gset
INSERT INTO pg_temp.fixture VALUES ('ch_alice', ticket.challenge(6, 'alice')), ('ch_bob', ticket.challenge(6, 'bob'));
SELECT pg_temp.fp() AS fp0 \gset
SELECT * FROM pg_temp.each('concert_id', 'int8', $$SELECT (ticket.join_queue(%s, 'dave')).state$$);
SELECT * FROM pg_temp.each('user_id', 'text', $$SELECT (ticket.join_queue(3, %s)).state$$);
SELECT * FROM pg_temp.each('client_key', 'text', $$SELECT (ticket.join_queue(3, 'dave', client_key => %s)).state$$, '{"NULL"}');
SELECT * FROM pg_temp.each('challenge', 'text', $$SELECT (ticket.join_queue(6, 'alice', challenge => %s, solution => '1')).state$$);
SELECT * FROM pg_temp.each('solution', 'text', $$SELECT (ticket.join_queue(6, 'alice', challenge => pg_temp.v('ch_alice'), solution => %s)).state$$);
SELECT c AS bad_input, pg_temp.bad(s) AS result FROM (VALUES
	('unknown concert',                $$SELECT (ticket.join_queue(999, 'dave')).state$$),
	('concert without a waiting room', $$SELECT (ticket.join_queue(1, 'dave')).state$$),
	('cancelled concert',              $$SELECT (ticket.join_queue(5, 'dave')).state$$),
	('user_id 129 characters',         $$SELECT (ticket.join_queue(3, repeat('é', 129))).state$$),
	('client_key 256 characters',      $$SELECT (ticket.join_queue(3, 'dave', client_key => repeat('c', 256))).state$$),
	('solution 65 characters',         $$SELECT (ticket.join_queue(6, 'alice', challenge => pg_temp.v('ch_alice'), solution => repeat('1', 65))).state$$),
	('solution without challenge',     $$SELECT (ticket.join_queue(6, 'alice', solution => '1')).state$$),
	('challenge without solution',     $$SELECT (ticket.join_queue(6, 'alice', challenge => pg_temp.v('ch_alice'))).state$$),
	('bob''s challenge used by alice',  $$SELECT (ticket.join_queue(6, 'alice', challenge => pg_temp.v('ch_bob'), solution => '1')).state$$),
	('challenge forged',               $$SELECT (ticket.join_queue(6, 'alice', challenge => left(pg_temp.v('ch_alice'), -1) || 'x', solution => '1')).state$$),
	('challenge truncated',            $$SELECT (ticket.join_queue(6, 'alice', challenge => left(pg_temp.v('ch_alice'), 20), solution => '1')).state$$),
	('challenge of concert 6 at 3',    $$SELECT (ticket.join_queue(3, 'alice', challenge => pg_temp.v('ch_alice'), solution => '1')).state$$),
	('a pass as the challenge',        $$SELECT (ticket.join_queue(6, 'alice', challenge => pg_temp.v('pass_alice'), solution => '1')).state$$)
) AS t(c, s);
SELECT * FROM pg_temp.no_grant('ticket.join_queue(bigint, text, text, text, text)', $$SELECT (ticket.join_queue(3, 'dave')).state$$);
SELECT pg_temp.fp() = :'fp0' AS nothing_written;
