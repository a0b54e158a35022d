-- The worker's tasks, run by hand (ticket.maintenance): expiring holds and
-- admissions, and its settings.  test/ticket.conf turns the worker off for
-- pg_regress; test/t/005_worker.pl checks the process itself.
\i test/regress_setup.sql

SELECT name, setting, unit, context FROM pg_settings
 WHERE name IN ('ticket.database', 'ticket.worker', 'ticket.worker_interval', 'ticket.worker_batch_size',
				'ticket.payment_retry_base', 'ticket.payment_retry_max', 'ticket.idempotency_ttl')
 ORDER BY name;

CREATE FUNCTION pg_temp.expire(h bigint) RETURNS void LANGUAGE sql AS $$
	UPDATE ticket.hold SET expires_at = now() - interval '1 second' WHERE hold_id = h;
	UPDATE ticket.seat SET held_until = now() - interval '1 second' WHERE hold_id = h;
$$;

SELECT ticket.create_concert('Worker Night', '2100-06-01 20:00+00', '2000-01-01 00:00+00', per_user_limit => 10) AS cid \gset
SELECT ticket.add_section(:cid, 'Floor', 'A', 10, 2, 10);
SELECT ticket.open_sale(:cid);

-- Five holds; three run out.  A batch of 2 expires the two oldest, the next the third.
SELECT hold_id AS h1 FROM ticket.hold(:cid, 'u1', ARRAY[1, 2]) \gset
SELECT hold_id AS h2 FROM ticket.hold(:cid, 'u2', ARRAY[3]) \gset
SELECT hold_id AS h3 FROM ticket.hold(:cid, 'u3', ARRAY[4]) \gset
SELECT hold_id AS h4 FROM ticket.hold(:cid, 'u4', ARRAY[5]) \gset
SELECT hold_id AS h5 FROM ticket.hold(:cid, 'u5', ARRAY[6]) \gset
SELECT pg_temp.expire(:h1), pg_temp.expire(:h2), pg_temp.expire(:h3);
SELECT ticket.maintenance('expire_holds', 2);
SELECT hold_id - :h1 AS h, state, ended_at IS NOT NULL AS ended FROM ticket.hold ORDER BY hold_id;
SELECT ticket.maintenance('expire_holds', 2);
SELECT ticket.maintenance('expire_holds', 2);
SELECT seat_id, state, hold_id IS NULL AS no_hold, held_until IS NULL AS no_expiry
  FROM ticket.seat WHERE seat_id <= 6 ORDER BY seat_id;
SELECT kind, subject_id - :h1 AS h FROM ticket.event WHERE kind = 'hold_expired' ORDER BY seq;
-- A seat an expired hold lost to a new buyer stays the new buyer's.
SELECT hold_id AS h6 FROM ticket.hold(:cid, 'u6', ARRAY[7]) \gset
SELECT pg_temp.expire(:h6);
SELECT hold_id AS h7 FROM ticket.hold(:cid, 'u7', ARRAY[7]) \gset
SELECT ticket.maintenance('expire_holds');
SELECT hold_id - :h1 AS h, state FROM ticket.hold WHERE hold_id IN (:h6, :h7) ORDER BY hold_id;
SELECT state, hold_id = :h7 AS new_buyers FROM ticket.seat WHERE seat_id = 7;
-- A hold in checkout does not expire: its payment times out instead.
SELECT hold_id AS h8 FROM ticket.hold(:cid, 'u8', ARRAY[8]) \gset
SELECT status FROM ticket.checkout(:h8, 'u8', 'k8');
UPDATE ticket.hold SET expires_at = now() - interval '1 second' WHERE hold_id = :h8;
SELECT ticket.maintenance('expire_holds');
SELECT state FROM ticket.hold WHERE hold_id = :h8;
UPDATE ticket.hold SET expires_at = (SELECT pay_by FROM ticket.orders WHERE hold_id = :h8) WHERE hold_id = :h8;
SELECT ticket._next_due() = (SELECT min(expires_at) FROM ticket.hold WHERE state = 'active') AS next_is_a_hold;

-- Admissions that ran out: expired, with an event each; the user may join again (at the back).
SELECT ticket.create_concert('Queue Night', '2100-06-01 20:00+00', '2100-01-01 00:00+00', queue => true,
	admit_rate => 100) AS qid \gset
SELECT ticket.add_section(:qid, 'Floor', 'A', 10, 1, 10);
SELECT (ticket.join_queue(:qid, 'q' || i)).state FROM generate_series(1, 3) AS i;
SELECT ticket.update_concert(:qid, sale_opens_at => now());
SELECT ticket.open_sale(:qid);
UPDATE ticket.queue SET last_tick = now() - interval '1 second' WHERE concert_id = :qid;
SELECT ticket.admit(:qid);
UPDATE ticket.queue_entry SET expires_at = now() - interval '1 second' WHERE user_id IN ('q1', 'q2');
SELECT ticket.maintenance('expire_admissions');
SELECT user_id, state FROM ticket.queue_entry ORDER BY user_id;
SELECT user_id, state FROM ticket.queue_status(:qid, 'q1');
SELECT kind, user_id FROM ticket.event WHERE kind = 'admission_expired' ORDER BY user_id;
SELECT kind, detail FROM ticket.event WHERE kind = 'admitted';
SELECT (ticket.join_queue(:qid, 'q1')).state;
SELECT ticket.maintenance('expire_admissions');

-- Nothing to do: every task returns 0.
SELECT t, ticket.maintenance(t) FROM unnest(ARRAY['expire_holds', 'expire_admissions', 'timeout_payments', 'compensate', 'purge']) AS t;
SELECT * FROM ticket.verify();
