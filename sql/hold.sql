-- Holds: every status of ticket.hold / ticket.hold_best / ticket.release,
-- every bad input, expiry, idempotency keys, and ticket.verify().
\i test/regress_setup.sql

-- Holds, held seats and used hold ids: bad input must leave these unchanged.
CREATE FUNCTION pg_temp.footprint() RETURNS text LANGUAGE sql AS $$
	SELECT format('holds=%s held_seats=%s seq=%s',
		(SELECT count(*) FROM ticket.hold),
		(SELECT count(*) FROM ticket.seat WHERE state <> 'available'),
		(SELECT last_value FROM ticket.hold_id_seq))
$$;

-- Pretend a hold's time ran out: what the clock would do after hold_ttl.
CREATE FUNCTION pg_temp.expire(h bigint) RETURNS void LANGUAGE sql AS $$
	UPDATE ticket.hold SET expires_at = now() - interval '1 second' WHERE hold_id = h;
	UPDATE ticket.seat SET held_until = now() - interval '1 second' WHERE hold_id = h;
$$;

-- A concert: Floor 3 rows x 5 seats (ids 1-15), Pit 20 places (ids 16-35, for
-- hold_best, which picks places at random), Balcony 2 x 10 (ids 36-55), limit 4.
SELECT ticket.create_concert('Hold Night', '2100-06-01 20:00+00', '2000-01-01 00:00+00',
	per_user_limit => 4) AS cid \gset
SELECT ticket.add_section(:cid, 'Floor', 'A', 100, 3, 5) AS floor \gset
SELECT ticket.add_standing(:cid, 'Pit', 'GA', 50, 20) AS pit \gset
SELECT ticket.add_section(:cid, 'Balcony', 'B', 80, 2, 10) AS balcony \gset

-- Not on sale yet: closed.
SELECT status FROM ticket.hold(:cid, 'alice', ARRAY[1]);
SELECT status FROM ticket.hold_best(:cid, 'alice', :floor, 1);
SELECT ticket.open_sale(:cid);

-- Held: all seats, sorted, for hold_ttl.
SELECT hold_id IS NOT NULL AS has_id, status, seat_ids, expires_at > now() + interval '9 minutes' AS ttl
  FROM ticket.hold(:cid, 'alice', ARRAY[2, 1]);
SELECT user_id, seat_ids, state, request, expires_at - created_at AS lives FROM ticket.hold ORDER BY hold_id;
SELECT seat_id, state, hold_id IS NOT NULL AS has_hold FROM ticket.seat WHERE concert_id = :cid AND seat_id <= 3 ORDER BY seat_id;

-- Taken: one seat of the set is held; all or nothing, so seat 3 stays free.
SELECT status, hold_id, seat_ids FROM ticket.hold(:cid, 'bob', ARRAY[2, 3]);
SELECT state FROM ticket.seat WHERE concert_id = :cid AND seat_id = 3;

-- Limit: alice has 2, the limit is 4.
SELECT status FROM ticket.hold(:cid, 'alice', ARRAY[3, 4, 5]);
SELECT status, seat_ids FROM ticket.hold(:cid, 'alice', ARRAY[3, 4]);
SELECT status FROM ticket.hold(:cid, 'alice', ARRAY[5]);
SELECT status FROM ticket.hold_best(:cid, 'alice', :pit, 1);

-- Best available: lowest row first; adjacent means side by side in one row.
SELECT status, seat_ids FROM ticket.hold_best(:cid, 'carol', :floor, 1);
SELECT status, seat_ids FROM ticket.hold_best(:cid, 'dave', :floor, 3, adjacent => true);
SELECT status, seat_ids FROM ticket.hold_best(:cid, 'erin', :floor, 3, adjacent => true);
SELECT * FROM ticket.seat_map(:cid, :floor);
-- Three free seats remain (14, 15 and none side by side with a third): no_adjacent, then sold_out.
SELECT status FROM ticket.hold_best(:cid, 'frank', :floor, 3, adjacent => true);
SELECT status, seat_ids FROM ticket.hold_best(:cid, 'frank', :floor, 2, adjacent => true);
SELECT status FROM ticket.hold_best(:cid, 'gina', :floor, 2);
SELECT status FROM ticket.hold(:cid, 'gina', ARRAY[15]);
SELECT status FROM ticket.hold_best(:cid, 'gina', :floor, 1);

-- Standing places: any free ones.
SELECT status, cardinality(seat_ids) AS places, seat_ids <@ ARRAY(SELECT generate_series(16, 35)) AS in_pit
  FROM ticket.hold_best(:cid, 'hank', :pit, 4);
SELECT status, cardinality(seat_ids) AS places FROM ticket.hold_best(:cid, 'ivy', :pit, 4, adjacent => true);
SELECT available, held FROM ticket.sections WHERE concert_id = :cid AND section_id = :pit;

SELECT * FROM ticket.verify(:cid);

-- Idempotency keys: a retried call returns the same hold, not a second one.
SELECT hold_id AS kh, status, seat_ids FROM ticket.hold(:cid, 'judy', ARRAY[40, 41], 'order-1') \gset
SELECT :'status' AS status, :'seat_ids' AS seat_ids;
SELECT hold_id = :kh AS same_hold, status, seat_ids FROM ticket.hold(:cid, 'judy', ARRAY[41, 40], 'order-1');
SELECT count(*) AS judys_holds FROM ticket.hold WHERE user_id = 'judy';
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, 'judy', ARRAY[42], 'order-1')$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold_best(%s, 'judy', %s, 2, false, 'order-1')$$, :cid, :pit));
-- Keys belong to a user: another user's same key is a new hold.
SELECT status, seat_ids FROM ticket.hold(:cid, 'kim', ARRAY[42], 'order-1');
-- hold_best replays the seats it chose.
SELECT seat_ids AS best_seats FROM ticket.hold_best(:cid, 'liam', :pit, 2, false, 'best-1') \gset
SELECT seat_ids = :'best_seats'::int[] AS same_seats, status FROM ticket.hold_best(:cid, 'liam', :pit, 2, false, 'best-1');

-- Release: only the holder, once; the seats are free at once.
SELECT pg_temp.err(format($$SELECT ticket.release(%s, 'mallory')$$, :kh));
SELECT ticket.release(:kh, 'judy');
SELECT ticket.release(:kh, 'judy');
SELECT count(*) AS still_held FROM ticket.seat WHERE concert_id = :cid AND seat_id IN (40, 41) AND state <> 'available';
-- A replay after release says so, and makes nothing new.
SELECT hold_id = :kh AS same_hold, status, seat_ids FROM ticket.hold(:cid, 'judy', ARRAY[40, 41], 'order-1');
SELECT status, seat_ids FROM ticket.hold(:cid, 'nina', ARRAY[40, 41]);

-- Expiry: an expired hold's seats are free to the next buyer at once, no
-- cleaner needed; the old hold is expired and does not count to the limit.
SELECT hold_id AS oh FROM ticket.hold(:cid, 'oscar', ARRAY[45, 46]) \gset
SELECT pg_temp.expire(:oh);
SELECT available, held FROM ticket.sections WHERE concert_id = :cid AND section_id = :balcony;
SELECT status, seat_ids FROM ticket.hold(:cid, 'pat', ARRAY[46]);
SELECT status, seat_ids FROM ticket.hold(:cid, 'oscar', ARRAY[47, 48, 49, 50]);
SELECT * FROM ticket.verify(:cid);
-- Releasing the expired hold frees only the seat nobody took since.
SELECT ticket.release(:oh, 'oscar');
SELECT seat_id, state, hold_id = :oh AS old_hold FROM ticket.seat WHERE concert_id = :cid AND seat_id IN (45, 46) ORDER BY seat_id;

-- A real hold_ttl runs out by itself.
SELECT ticket.create_concert('Short Holds', '2100-06-01 20:00+00', '2000-01-01 00:00+00',
	hold_ttl => '1 second') AS sid \gset
SELECT ticket.add_standing(:sid, 'Pit', 'GA', 10, 1);
SELECT ticket.open_sale(:sid);
SELECT status FROM ticket.hold(:sid, 'quinn', ARRAY[1]);
SELECT status FROM ticket.hold(:sid, 'rita', ARRAY[1]);
SELECT pg_sleep(1.2);
SELECT status FROM ticket.hold(:sid, 'rita', ARRAY[1]);
SELECT * FROM ticket.verify(:sid);

-- A hold that rolls back leaves nothing.
BEGIN;
SELECT status FROM ticket.hold(:cid, 'sam', ARRAY[52, 53]);
-- the seat locks show in pg_locks under the extension's own lock class
SELECT locktype, objid AS seat_id, objsubid AS lock_class, mode
  FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND objsubid = 11 ORDER BY objid;
ROLLBACK;
SELECT count(*) FROM ticket.hold WHERE user_id = 'sam';

-- Closed and cancelled sales hold nothing.
SELECT ticket.close_sale(:cid);
SELECT status FROM ticket.hold(:cid, 'tom', ARRAY[53]);
SELECT status FROM ticket.hold_best(:cid, 'tom', :pit, 1);
SELECT ticket.open_sale(:cid);
SELECT ticket.create_concert('Ended', now() + interval '1 day', now() - interval '2 days') AS eid \gset
SELECT ticket.add_standing(:eid, 'Pit', 'GA', 10, 5);
SELECT ticket.open_sale(:eid);
SELECT status FROM ticket.hold(:eid, 'tom', ARRAY[1]);
-- the sale window passes while the concert is still marked on sale
UPDATE ticket.concert SET sale_closes_at = now() - interval '1 second' WHERE concert_id = :eid;
SELECT status FROM ticket.hold(:eid, 'uma', ARRAY[2]);
SELECT ticket.cancel_concert(:eid);
SELECT status FROM ticket.hold(:eid, 'uma', ARRAY[2]);

SELECT pg_temp.footprint() AS before \gset

-- Bad input: a specific SQLSTATE, nothing written.
SELECT pg_temp.err($$SELECT ticket.hold(NULL, 'u', ARRAY[1])$$);
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, NULL, ARRAY[1])$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, 'u', NULL)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, 'u', '{}')$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, 'u', ARRAY[1, NULL])$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, 'u', ARRAY[3, 3])$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, 'u', ARRAY[0])$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, 'u', ARRAY[-7])$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, 'u', ARRAY[[1, 2], [3, 4]])$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, 'u', ARRAY[1, 2, 3, 4, 5])$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, 'u', ARRAY[56])$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, 'u', ARRAY[2147483647])$$, :cid));
SELECT pg_temp.err($$SELECT ticket.hold(987654, 'u', ARRAY[1])$$);
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, '', ARRAY[1])$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, '   ', ARRAY[1])$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, 'u', ARRAY[1], '  ')$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, repeat('u', 129), ARRAY[1])$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, 'u', ARRAY[1], '')$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, 'u', ARRAY[1], repeat('k', 256))$$, :cid));
SELECT pg_temp.err($$SELECT ticket.hold_best(NULL, 'u', 1, 1)$$);
SELECT pg_temp.err(format($$SELECT ticket.hold_best(%s, NULL, 1, 1)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold_best(%s, 'u', NULL, 1)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold_best(%s, 'u', 1, NULL)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold_best(%s, 'u', 1, 1, NULL)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold_best(%s, 'u', 1, 0)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold_best(%s, 'u', 1, -2)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold_best(%s, 'u', 1, 5)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold_best(%s, 'u', 99, 1)$$, :cid));
SELECT pg_temp.err($$SELECT ticket.hold_best(987654, 'u', 1, 1)$$);
SELECT pg_temp.err(format($$SELECT ticket.hold_best(%s, repeat('u', 129), 1, 1)$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold_best(%s, 'u', 1, 1, false, repeat('k', 256))$$, :cid));
SELECT pg_temp.err($$SELECT ticket.release(NULL, 'u')$$);
SELECT pg_temp.err($$SELECT ticket.release(1, NULL)$$);
SELECT pg_temp.err($$SELECT ticket.release(987654, 'u')$$);

SELECT pg_temp.footprint() = :'before' AS nothing_written;

-- A user id is any text up to 128 characters, multibyte included.
SELECT status FROM ticket.hold(:cid, repeat('ü', 128), ARRAY[54]);

-- verify() finds what is wrong; each corruption is undone after.
SELECT * FROM ticket.verify(:cid);
SELECT * FROM ticket.verify();
BEGIN;
UPDATE ticket.seat SET state = 'available', hold_id = NULL, held_until = NULL WHERE concert_id = :cid AND seat_id = 1;
SELECT violation, detail FROM ticket.verify(:cid);
ROLLBACK;
BEGIN;
INSERT INTO ticket.hold (concert_id, user_id, seat_ids, created_at, expires_at, request)
VALUES (:cid, 'ghost', ARRAY[1], now(), now() + interval '1 hour', 'seats 1');
SELECT violation FROM ticket.verify(:cid) ORDER BY 1;
ROLLBACK;
BEGIN;
UPDATE ticket.hold SET seat_ids = ARRAY[6, 7, 8, 9, 10] WHERE user_id = 'dave';
UPDATE ticket.seat SET hold_id = (SELECT hold_id FROM ticket.hold WHERE user_id = 'dave'),
	held_until = (SELECT expires_at FROM ticket.hold WHERE user_id = 'dave'), state = 'held'
 WHERE concert_id = :cid AND seat_id IN (9, 10);
SELECT violation, detail FROM ticket.verify(:cid) ORDER BY 1, 2;
ROLLBACK;
BEGIN;
DELETE FROM ticket.seat WHERE concert_id = :cid AND seat_id = 55;
SELECT violation, detail FROM ticket.verify(:cid);
ROLLBACK;
BEGIN;
UPDATE ticket.hold SET state = 'released' WHERE user_id = 'carol';
SELECT violation, detail FROM ticket.verify(:cid);
ROLLBACK;
BEGIN;
UPDATE ticket.seat SET state = 'sold' WHERE concert_id = :cid AND seat_id = 5;
SELECT violation, detail FROM ticket.verify(:cid) ORDER BY 1;
ROLLBACK;
SELECT count(*) AS violations FROM ticket.verify();

-- Outcome counters.
SELECT counter, value > 0 AS seen FROM ticket.counters()
 WHERE counter IN ('holds_held', 'holds_taken', 'holds_limit', 'holds_closed', 'holds_sold_out',
				   'holds_no_adjacent') ORDER BY counter;

-- Issue 15: a huge seat_ids array is refused before it is sorted (3 million
-- ids cost 1.6 s of CPU), and a closed sale with a waiting room answers
-- closed, not 28000 "pass refused".
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, 'big', (SELECT array_agg(g) FROM generate_series(1, 3000000) AS g))$$, :cid));
SELECT pg_temp.err(format($$SELECT ticket.hold_best(%s, 'big', 1, 101)$$, :cid));
SELECT ticket.create_concert('Closed Queue', '2100-06-01 20:00+00', '2000-01-01 00:00+00', queue => true) AS cq \gset
SELECT ticket.add_section(:cq, 'Floor', 'A', 50, 1, 4);
SELECT ticket.open_sale(:cq);
SELECT ticket.close_sale(:cq);
SELECT status FROM ticket.hold(:cq, 'late', ARRAY[1]);
SELECT status FROM ticket.hold_best(:cq, 'late', 1, 1);

-- Issue 18: hold_best starts its scan past a section's sold front, from a
-- hint that a scan from the first seat renews every ticket.catalogue_refresh.
-- It never offers a sold seat; a sold seat given back is offered once the
-- hint is renewed (here: at once, with the setting at 0).
SELECT ticket.create_concert('Hint', '2100-06-01 20:00+00', '2000-01-01 00:00+00', per_user_limit => 10) AS hc \gset
SELECT ticket.add_section(:hc, 'Stalls', 'A', 50, 10, 10);
SELECT ticket.open_sale(:hc);
UPDATE ticket.seat SET state = 'sold' WHERE concert_id = :hc AND seat_id <= 95;
SET ticket.catalogue_refresh = '1min';
SELECT status, seat_ids FROM ticket.hold_best(:hc, 'h1', 1, 2);
SELECT status, seat_ids FROM ticket.hold_best(:hc, 'h2', 1, 2, adjacent => true);
UPDATE ticket.seat SET state = 'available' WHERE concert_id = :hc AND seat_id = 10;
SELECT status, seat_ids FROM ticket.hold_best(:hc, 'h3', 1, 1);
SET ticket.catalogue_refresh = 0;
SELECT status, seat_ids FROM ticket.hold_best(:hc, 'h4', 1, 1);
SELECT status, seat_ids FROM ticket.hold_best(:hc, 'h5', 1, 1);
RESET ticket.catalogue_refresh;
SELECT count(*) AS sold_seats_held FROM ticket.hold AS h, unnest(h.seat_ids) AS s
 WHERE h.concert_id = :hc AND s <= 95 AND s <> 10;

-- Issue 18, 0.7: a hold's event is read from ticket.hold, in hold_id order,
-- up to the bound below which every hold's transaction has ended
-- (ticket._hold_event_bound, src/sale.c).  A cached sequence would hand ids
-- out of order between backends: a hold refuses it (55000).
SELECT ticket.create_concert('Events', '2100-06-01 20:00+00', '2000-01-01 00:00+00') AS ec \gset
SELECT ticket.add_section(:ec, 'Stalls', 'A', 50, 1, 4);
SELECT ticket.open_sale(:ec);
ALTER SEQUENCE ticket.hold_id_seq CACHE 10;
SELECT pg_temp.err(format($$SELECT ticket.hold(%s, 'cached', ARRAY[1])$$, :ec));
ALTER SEQUENCE ticket.hold_id_seq CACHE 1;
-- A hold whose id cannot be taken (the sequence at its maximum), in a
-- savepoint that catches the error, leaves its backend's slot empty: the
-- bound still reaches what the sequence handed out.
SELECT last_value AS handed_out FROM ticket.hold_id_seq \gset
ALTER SEQUENCE ticket.hold_id_seq MAXVALUE :handed_out;
BEGIN;
SELECT regexp_replace(pg_temp.err(format($$SELECT ticket.hold(%s, 'at-max', ARRAY[1])$$, :ec)), '\(\d+\)', '(n)') AS err;
SELECT ticket._hold_event_bound(:handed_out) = :handed_out AS bound_reaches_handed_out;
ROLLBACK;
ALTER SEQUENCE ticket.hold_id_seq NO MAXVALUE;
SELECT status FROM ticket.hold(:ec, 'after', ARRAY[1]);
-- Every hold of this file has its event once, after a publish.
SELECT ticket.publish_events(1000000) >= 0 AS published;
SELECT count(*) AS holds_without_event FROM ticket.hold AS h
 WHERE NOT EXISTS (SELECT FROM ticket.event AS e WHERE e.kind = 'hold' AND e.subject_id = h.hold_id);
SELECT count(*) AS doubles FROM (SELECT subject_id FROM ticket.event WHERE kind = 'hold'
								  GROUP BY subject_id HAVING count(*) > 1) AS d;
