-- bench/demo_setup.sql: the opening-night sale of `make demo` (bench/demo).
--
-- psql variables: seats (about how many seats, a multiple of 50 works
-- best), users (pre-queue size), rate (admissions per second), max_active
-- (fans admitted at once), hold_ttl (seconds), abandon (share of buyers who
-- walk away from their hold).
--
-- Builds concert 1 with four seated sections and a standing pit, a waiting
-- room admitted by pg_cron, and schema demo: the simulated users' step
-- function (demo.step, run by pgbench as demo_buyer, a ticket_customer),
-- their latency samples, and the login roles of the simulation.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION pg_cron;
CREATE EXTENSION ticket;

SELECT ticket.create_concert('Stadium Tour: Opening Night',
	starts_at => date_trunc('day', now()) + interval '30 days 20 hours',
	sale_opens_at => date_trunc('minute', now()) + interval '1 minute',
	venue => 'Riverside Stadium', hold_ttl => make_interval(secs => :hold_ttl),
	per_user_limit => 6, admit_rate => :rate, admission_ttl => '20 seconds', max_active => :max_active,
	queue => true, payment_timeout => '1 minute', payment_attempts => 4) AS cid \gset

-- Rows of 50: floor 8 % + 8 %, bowls 36 % each, the pit 12 %.
SELECT greatest(round(:seats * 0.08 / 50), 1)::int AS floor_rows,
	   greatest(round(:seats * 0.36 / 50), 1)::int AS bowl_rows,
	   greatest(round(:seats * 0.12), 1)::int AS pit \gset
SELECT ticket.add_section(:cid, 'Floor A', 'A', 180.00, :floor_rows, 50) AS s1,
	   ticket.add_section(:cid, 'Floor B', 'A', 160.00, :floor_rows, 50) AS s2,
	   ticket.add_section(:cid, 'Lower Bowl', 'B', 120.00, :bowl_rows, 50) AS s3,
	   ticket.add_section(:cid, 'Upper Bowl', 'C', 65.00, :bowl_rows, 50) AS s4,
	   ticket.add_standing(:cid, 'Pit', 'GA', 95.00, :pit) AS s5 \gset

-- pg_cron admits (pg_cron 1.4: one job a minute that steps every second).
SELECT ticket.schedule_admission(:cid) AS job \gset

CREATE SCHEMA demo;
CREATE TABLE demo.control (
	concert_id bigint NOT NULL,
	users bigint NOT NULL,
	abandon double precision NOT NULL,
	over boolean NOT NULL DEFAULT false
);
INSERT INTO demo.control VALUES (:cid, :users, :abandon);
CREATE SEQUENCE demo.fan;
CREATE SEQUENCE demo.next_place;
-- Who stands at which place, copied from the queue after the draw (a real
-- client knows its own user id; the simulation needs the mapping).
CREATE TABLE demo.place (seq bigint PRIMARY KEY, user_id text NOT NULL);
CREATE TABLE demo.section AS
	SELECT section_id, seated, first_seat_id, seat_rows, seats_per_row, capacity
	  FROM ticket.section WHERE concert_id = :cid;
-- Latency samples: op, status, milliseconds.  "hold" and "checkout" are the
-- time inside the call (server side); "hold+commit" and "checkout+commit"
-- run from the call's start to the client's next request (the commit, the
-- round trip and the client's own turn on the CPU included).
CREATE UNLOGGED TABLE demo.sample (at timestamptz NOT NULL, op text NOT NULL, status text, ms double precision NOT NULL);

-- One join of the pre-queue (pgbench bench/demo_join.sql).
CREATE FUNCTION demo.join() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	c demo.control;
	n bigint := nextval('demo.fan');
BEGIN
	SELECT * INTO c FROM demo.control;
	IF n > c.users THEN
		RETURN 'full';
	END IF;
	RETURN (ticket.join_queue(c.concert_id, 'fan-' || n)).state;
END
$$;

-- The best free seats for n: this section first, then two others at random.
CREATE FUNCTION demo.best(c bigint, u text, first integer, n integer, pass text)
RETURNS ticket.hold_result LANGUAGE plpgsql AS $$
DECLARE
	r ticket.hold_result;
	s integer;
	t timestamptz;
BEGIN
	FOR s IN SELECT section_id FROM demo.section ORDER BY section_id <> first, random() LIMIT 3 LOOP
		t := clock_timestamp();
		r := ticket.hold_best(c, u, s, n, adjacent => n > 1, pass => pass);
		INSERT INTO demo.sample VALUES (t, 'hold', r.status, 1000 * extract(epoch FROM clock_timestamp() - t));
		EXIT WHEN r.status NOT IN ('sold_out', 'no_adjacent');
	END LOOP;
	RETURN r;
END
$$;

/*
 * One step of the simulated user a pgbench client is playing.  The client
 * keeps (place, hold, mark, op) in pgbench variables between steps:
 *   place 0: take the next place in the line;
 *   waiting: poll queue_status (nap 100 ms);
 *   admitted: hold - named seats (40 %), best available (45 %) or standing
 *     (15 %), 1 to 4 of them; a named seat someone took sends the user to
 *     best available;
 *   holding: walk away (abandon share: the worker expires the hold, and the
 *     admission runs out after admission_ttl) or check out (the admission
 *     ends when the order is paid: the slot goes to the next in line);
 *   then the next place (a fan who got nothing leaves the line, freeing the
 *     slot, and the client waits 250 ms: a fan who
 *   sees "sold out" takes a moment to leave, and the simulation's clients
 *   must not crowd out the payment adapters on the same two cores).
 * mark/op: when the previous step made a timed call, its start (epoch
 * seconds) and name, so this step can record the call's round trip.
 */
CREATE FUNCTION demo.step(INOUT place bigint, INOUT hold bigint, INOUT mark double precision, INOUT op text,
						  OUT nap integer)
LANGUAGE plpgsql AS $$
DECLARE
	c demo.control;
	u text;
	q ticket.queue_status;
	r ticket.hold_result;
	k ticket.checkout_result;
	sec demo.section;
	n integer;
	first integer;
	roll double precision;
	t timestamptz;
BEGIN
	t := clock_timestamp();
	SELECT * INTO c FROM demo.control;
	IF c.over THEN
		RAISE EXCEPTION 'demo over: the concert is sold out' USING ERRCODE = 'P0001';
	END IF;
	IF op <> '-' THEN
		INSERT INTO demo.sample VALUES (to_timestamp(mark), op || '+commit', NULL,
			1000 * (extract(epoch FROM t) - mark));
	END IF;
	op := '-';
	mark := 0;
	nap := 0;

	IF hold > 0 THEN
		/* Holding: pay, or walk away and let the hold expire. */
		u := (SELECT p.user_id FROM demo.place AS p WHERE p.seq = place);
		IF random() >= c.abandon THEN
			t := clock_timestamp();
			k := ticket.checkout(hold, u, 'demo-' || hold);
			INSERT INTO demo.sample VALUES (t, 'checkout', k.status, 1000 * extract(epoch FROM clock_timestamp() - t));
			mark := extract(epoch FROM t);
			op := 'checkout';
		END IF;
		hold := 0;
		place := 0;
		RETURN;
	END IF;

	IF place = 0 THEN
		place := nextval('demo.next_place');
	END IF;
	u := (SELECT p.user_id FROM demo.place AS p WHERE p.seq = place);
	IF u IS NULL THEN
		/* Nobody left in line. */
		place := 0;
		nap := 1000;
		RETURN;
	END IF;
	q := ticket.queue_status(c.concert_id, u);
	IF q.state IN ('waiting', 'prequeue') THEN
		nap := 100;
		RETURN;
	ELSIF q.state <> 'admitted' THEN
		/* sold_out, expired, closed: this user is done. */
		place := 0;
		nap := CASE WHEN q.state = 'sold_out' THEN 500 ELSE 0 END;
		RETURN;
	END IF;

	/* Admitted: choose seats. */
	roll := random();
	n := (ARRAY[1, 2, 2, 2, 3, 4, 4, 2, 3, 1])[1 + floor(random() * 10)::int];
	IF roll < 0.15 THEN
		first := (SELECT s.section_id FROM demo.section AS s WHERE NOT s.seated LIMIT 1);
	ELSE
		SELECT * INTO sec FROM demo.section AS s WHERE s.seated ORDER BY random() LIMIT 1;
		first := sec.section_id;
	END IF;
	t := clock_timestamp();
	/*
	 * A pass expires with its admission (admission_ttl): a fan whose slot
	 * ran out while this client was busy elsewhere gets 28000 "pass
	 * refused", as a real client would.  Like one, go back to the line.
	 */
	BEGIN
	IF roll >= 0.60 THEN
		/* Named seats: n side by side somewhere in a row of the section. */
		r := ticket.hold(c.concert_id, u,
			(SELECT array_agg(sec.first_seat_id + x.row_no * sec.seats_per_row + x.first_seat + i)
			   FROM (SELECT floor(random() * sec.seat_rows)::int AS row_no,
							floor(random() * (sec.seats_per_row - n + 1))::int AS first_seat) AS x,
					generate_series(0, n - 1) AS i),
			pass => q.pass_token);
		INSERT INTO demo.sample VALUES (t, 'hold', r.status, 1000 * extract(epoch FROM clock_timestamp() - t));
		IF r.status = 'taken' THEN
			r := demo.best(c.concert_id, u, first, n, q.pass_token);
		END IF;
	ELSE
		r := demo.best(c.concert_id, u, first, n, q.pass_token);
	END IF;
	IF r.status IN ('sold_out', 'no_adjacent') AND n > 1 THEN
		/* Fewer, then: one seat anywhere. */
		r := demo.best(c.concert_id, u, first, 1, q.pass_token);
	END IF;
	EXCEPTION WHEN invalid_authorization_specification THEN
		r := NULL;
		r.status := 'pass_refused';
		INSERT INTO demo.sample VALUES (t, 'hold', r.status, 1000 * extract(epoch FROM clock_timestamp() - t));
	END;
	IF r.status = 'held' THEN
		hold := r.hold_id;
		mark := extract(epoch FROM t);
		op := 'hold';
	ELSE
		/* Nothing for this fan: they leave, and their slot goes to the next. */
		PERFORM ticket.leave_queue(c.concert_id, u);
		place := 0;
		nap := 250;
	END IF;
END
$$;

-- The simulation's login roles: buyers are ticket_customer, the payment
-- simulator ticket_adapter; neither can read a ticket table.
CREATE ROLE demo_buyer LOGIN IN ROLE ticket_customer;
CREATE ROLE demo_adapter LOGIN IN ROLE ticket_adapter;
GRANT USAGE ON SCHEMA demo TO demo_buyer;
GRANT SELECT ON demo.control, demo.place, demo.section TO demo_buyer;
GRANT INSERT ON demo.sample TO demo_buyer;
GRANT USAGE ON demo.fan, demo.next_place TO demo_buyer;
