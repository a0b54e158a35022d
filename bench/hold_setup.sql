-- Setup of `bench/run hold`: the concerts ticket sells, and the naive
-- PL/pgSQL a developer would write instead, on tables of the same shape.

CREATE EXTENSION IF NOT EXISTS ticket;

-- ticket: 1 = 500,000 seats to hold; 2 = 1,000 seats, all held (every
-- attempt is "taken"); 3 = 200,000 standing places.
SELECT ticket.create_concert('bench: named seats', now() + interval '30 days', now() - interval '1 day',
	per_user_limit => 100, hold_ttl => '1 hour');
SELECT ticket.add_section(1, 'S', 'A', 50, 500, 1000);
SELECT ticket.create_concert('bench: sold out', now() + interval '30 days', now() - interval '1 day',
	hold_ttl => '1 day');
SELECT ticket.add_section(2, 'S', 'A', 50, 10, 100);
SELECT ticket.create_concert('bench: standing', now() + interval '30 days', now() - interval '1 day',
	per_user_limit => 100, hold_ttl => '1 hour');
SELECT ticket.add_standing(3, 'Pit', 'GA', 50, 200000);
-- 4 = concert 1 again with durable_holds = false (issue 18).
SELECT ticket.create_concert('bench: named seats, holds not durable', now() + interval '30 days',
	now() - interval '1 day', per_user_limit => 100, hold_ttl => '1 hour', durable_holds => false);
SELECT ticket.add_section(4, 'S', 'A', 50, 500, 1000);
-- 5 = hold_best's scan: two sections of 20,000 seats, the second 95 % sold
-- from its best seats down (the state a popular section reaches).
SELECT ticket.create_concert('bench: hold_best, 95 % sold', now() + interval '30 days',
	now() - interval '1 day', per_user_limit => 100, hold_ttl => '1 hour');
SELECT ticket.add_section(5, 'Empty', 'A', 50, 100, 200);
SELECT ticket.add_section(5, 'Sold 95 %', 'B', 50, 100, 200);
UPDATE ticket.seat SET state = 'sold' WHERE concert_id = 5 AND seat_id BETWEEN 20001 AND 39000;
SELECT ticket.open_sale(1), ticket.open_sale(2), ticket.open_sale(3), ticket.open_sale(4), ticket.open_sale(5);
SELECT count(*) FILTER (WHERE (ticket.hold(2, 'owner' || g, ARRAY[g])).status = 'held') AS sold_out_seats
  FROM generate_series(1, 1000) AS g;

-- The naive versions: one table of seats (a concert per variant), a table of
-- holds, a hot counter row for standing places, and rows for a bare UPDATE.
CREATE SCHEMA naive;
CREATE TABLE naive.seat (
	concert_id bigint,
	seat_id integer,
	state text NOT NULL DEFAULT 'available',
	holder text,
	held_until timestamptz,
	PRIMARY KEY (concert_id, seat_id)
) WITH (fillfactor = 80);
INSERT INTO naive.seat (concert_id, seat_id)
SELECT c, g FROM generate_series(1, 4) AS c, generate_series(1, 500000) AS g;
CREATE TABLE naive.hold (
	hold_id bigserial PRIMARY KEY,
	concert_id bigint NOT NULL,
	user_id text NOT NULL,
	seat_id integer,
	expires_at timestamptz NOT NULL
);
CREATE TABLE naive.standing (concert_id bigint PRIMARY KEY, capacity integer, sold integer);
INSERT INTO naive.standing VALUES (1, 200000, 0);
CREATE TABLE naive.one (id integer PRIMARY KEY, n bigint NOT NULL DEFAULT 0);
INSERT INTO naive.one (id) SELECT generate_series(1, 100000);

-- 1. A conditional UPDATE: waits for whoever is updating the row first.
CREATE FUNCTION naive.hold_update(c bigint, u text, s integer) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	UPDATE naive.seat SET state = 'held', holder = u, held_until = now() + interval '10 minutes'
	 WHERE concert_id = c AND seat_id = s
	   AND (state = 'available' OR (state = 'held' AND held_until <= now()));
	IF NOT FOUND THEN
		RETURN 'taken';
	END IF;
	INSERT INTO naive.hold (concert_id, user_id, seat_id, expires_at) VALUES (c, u, s, now() + interval '10 minutes');
	RETURN 'held';
END
$$;

-- 2. The full strategy of the systems ticket replaces: SELECT ... FOR UPDATE
-- NOWAIT (the lock error caught in a subtransaction), check the seat, insert
-- a reservation row with its expiry, mark the seat held.
CREATE FUNCTION naive.hold_nowait(c bigint, u text, s integer) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	hu timestamptz;
BEGIN
	BEGIN
		SELECT state, held_until INTO st, hu FROM naive.seat WHERE concert_id = c AND seat_id = s
		   FOR UPDATE NOWAIT;
	EXCEPTION WHEN lock_not_available THEN
		RETURN 'taken';
	END;
	IF st = 'held' AND hu > now() THEN
		RETURN 'taken';
	END IF;
	UPDATE naive.seat SET state = 'held', holder = u, held_until = now() + interval '10 minutes'
	 WHERE concert_id = c AND seat_id = s;
	INSERT INTO naive.hold (concert_id, user_id, seat_id, expires_at) VALUES (c, u, s, now() + interval '10 minutes');
	RETURN 'held';
END
$$;

-- 2b. The bare-seat variant of 2: the seat is locked, checked and marked,
-- and nothing else is written (no reservation row, so no expiry of its own).
CREATE FUNCTION naive.hold_bare(c bigint, u text, s integer) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	hu timestamptz;
BEGIN
	BEGIN
		SELECT state, held_until INTO st, hu FROM naive.seat WHERE concert_id = c AND seat_id = s
		   FOR UPDATE NOWAIT;
	EXCEPTION WHEN lock_not_available THEN
		RETURN 'taken';
	END;
	IF st = 'held' AND hu > now() THEN
		RETURN 'taken';
	END IF;
	UPDATE naive.seat SET state = 'held', holder = u, held_until = now() + interval '10 minutes'
	 WHERE concert_id = c AND seat_id = s;
	RETURN 'held';
END
$$;

-- 3. pg_try_advisory_xact_lock, then look and update.
CREATE FUNCTION naive.hold_advisory(c bigint, u text, s integer) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	hu timestamptz;
BEGIN
	IF NOT pg_try_advisory_xact_lock(c::integer, s) THEN
		RETURN 'taken';
	END IF;
	SELECT state, held_until INTO st, hu FROM naive.seat WHERE concert_id = c AND seat_id = s;
	IF st = 'held' AND hu > now() THEN
		RETURN 'taken';
	END IF;
	UPDATE naive.seat SET state = 'held', holder = u, held_until = now() + interval '10 minutes'
	 WHERE concert_id = c AND seat_id = s;
	INSERT INTO naive.hold (concert_id, user_id, seat_id, expires_at) VALUES (c, u, s, now() + interval '10 minutes');
	RETURN 'held';
END
$$;

-- 4. Standing places as one counter row: every buyer queues on it.
CREATE FUNCTION naive.hold_counter(c bigint, u text, q integer) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	UPDATE naive.standing SET sold = sold + q WHERE concert_id = c AND sold + q <= capacity;
	IF NOT FOUND THEN
		RETURN 'sold_out';
	END IF;
	INSERT INTO naive.hold (concert_id, user_id, expires_at) VALUES (c + 100, u, now() + interval '10 minutes');
	RETURN 'held';
END
$$;

VACUUM ANALYZE;
