/* ticket--0.1--0.2.sql: from the released 0.1 to 0.2 (hardening) */

\echo Use "ALTER EXTENSION ticket UPDATE TO '0.2'" to load this file. \quit

/*
 * How this project versions its SQL (the way pg_cron does):
 *
 * - ticket--0.1.sql is released and never edited again.  A new install of
 *   0.2 runs it and then this file, so a new install and an upgraded one are
 *   the same by construction; test/t/010_upgrade.pl upgrades one with a sale
 *   in it and checks that nothing was lost.
 * - A change to a function is CREATE OR REPLACE FUNCTION with the same
 *   signature: grants and comments stay.  That is the one place OR REPLACE
 *   is allowed, for a function the earlier scripts created (the extension
 *   already owns it); test/lint checks both.
 * - The same conventions as ticket--0.1.sql: relations and the extension's
 *   functions schema-qualified, SECURITY DEFINER with
 *   search_path = pg_catalog, pg_temp, no SQL built from strings.
 */

/* ---------------------------------------------------------------------------
 * Bad-input table (sql/bad_*.sql, one file per public function): findings.
 * ------------------------------------------------------------------------ */

/*
 * Finding: a text of only tabs or newlines passed as "not empty" (btrim
 * strips spaces only), and titles, names, user ids, keys, adapter names and
 * provider references accepted control characters (U+0001-U+001F, DEL,
 * C1).  Blank now means nothing but whitespace (ASCII and Unicode spaces);
 * control characters are refused with 22023, except tab, newline and
 * carriage return in a free-text reason (block_user, payment_failed,
 * compensate), which may come from a payment provider's message.  The C
 * functions (hold, hold_best, queue_status, check_pass) apply the same rules
 * (src/hold.c, check_text_arg).
 */
CREATE OR REPLACE FUNCTION ticket._check_text(what text, value text, max_chars integer, required boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF value IS NULL THEN
		IF required THEN
			RAISE EXCEPTION '% must not be NULL', what USING ERRCODE = '22004';
		END IF;
		RETURN;
	END IF;
	IF value !~ '[^[:space:]\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]' THEN
		RAISE EXCEPTION '% must not be empty', what USING ERRCODE = '22023';
	END IF;
	IF char_length(value) > max_chars THEN
		RAISE EXCEPTION '% is too long', what
			USING ERRCODE = '22001',
			DETAIL = format('It has %s characters; the limit is %s.', char_length(value), max_chars);
	END IF;
	IF (what = 'reason' AND value ~ '[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]')
	   OR (what <> 'reason' AND value ~ '[\x01-\x1f\x7f-\x9f]') THEN
		IF what = 'reason' THEN
			RAISE EXCEPTION '% must not contain control characters', what
				USING ERRCODE = '22023',
				HINT = 'Tab, newline and carriage return are the only ones a reason may hold.';
		END IF;
		RAISE EXCEPTION '% must not contain control characters', what USING ERRCODE = '22023';
	END IF;
END
$$;
COMMENT ON FUNCTION ticket._check_text(text, text, integer, boolean) IS
	'Internal: raises 22004, 22023 or 22001 unless a text is present, not blank (only whitespace), short enough and free of control characters (a reason may hold tab, newline and carriage return).';

/*
 * Finding: release did not check user_id, so an empty or 10,000-character
 * user id answered 42501 ("belongs to another user") instead of 22023 /
 * 22001 as everywhere else.
 */
CREATE OR REPLACE FUNCTION ticket.release(hold_id bigint, user_id text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	h ticket.hold;
	outcome ticket.hold_state;
BEGIN
	IF hold_id IS NULL OR user_id IS NULL THEN
		RAISE EXCEPTION 'hold_id and user_id must not be NULL' USING ERRCODE = '22004';
	END IF;
	PERFORM ticket._check_text('user_id', user_id, 128);
	SELECT * INTO h FROM ticket.hold AS x WHERE x.hold_id = hold_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'hold % does not exist', hold_id USING ERRCODE = 'P0002';
	END IF;
	IF h.user_id <> user_id THEN
		RAISE EXCEPTION 'hold % belongs to another user', hold_id
			USING ERRCODE = '42501', HINT = 'Only the user who made a hold may release it.';
	END IF;
	IF h.state IN ('checking_out', 'confirmed') THEN
		RAISE EXCEPTION 'hold % is %', hold_id, h.state
			USING ERRCODE = '55000', HINT = 'A hold in checkout or paid for is undone by compensation, not release.';
	END IF;
	IF h.state <> 'active' THEN
		RETURN h.state::text;
	END IF;

	PERFORM ticket._lock_seats(h.concert_id, h.seat_ids);
	PERFORM ticket._free_seats(h.concert_id, h.seat_ids, h.hold_id);
	outcome := CASE WHEN h.expires_at <= now() THEN 'expired' ELSE 'released' END;
	UPDATE ticket.hold AS x SET state = outcome, ended_at = now() WHERE x.hold_id = hold_id;
	PERFORM ticket._event(h.concert_id, 'hold_' || outcome::text, hold_id, user_id, NULL);
	RETURN outcome::text;
END
$$;

/*
 * Finding: CALL ticket.run_admission(NULL) said "steps must be between 1 and
 * 60" (22023); a NULL is 22004 everywhere else.
 */
CREATE OR REPLACE PROCEDURE ticket.run_admission(steps integer DEFAULT 60)
LANGUAGE plpgsql
AS $$
DECLARE
	started timestamptz := pg_catalog.clock_timestamp();
	stop_at timestamptz := pg_catalog.date_trunc('minute', started) OPERATOR(pg_catalog.+) interval '59.5 seconds';
	i integer := 0;
	s double precision;
BEGIN
	IF steps IS NULL THEN
		RAISE EXCEPTION 'steps must not be NULL' USING ERRCODE = '22004';
	END IF;
	IF steps OPERATOR(pg_catalog.<) 1 OR steps OPERATOR(pg_catalog.>) 60 THEN
		RAISE EXCEPTION 'steps must be between 1 and 60' USING ERRCODE = '22023';
	END IF;
	LOOP
		PERFORM ticket.admit_scheduled();
		COMMIT;
		i := i OPERATOR(pg_catalog.+) 1;
		EXIT WHEN i OPERATOR(pg_catalog.>=) steps
			OR pg_catalog.clock_timestamp() OPERATOR(pg_catalog.>=) stop_at;
		/* Sleep to the next whole second. */
		s := pg_catalog.date_part('epoch', pg_catalog.clock_timestamp());
		PERFORM pg_catalog.pg_sleep(1 OPERATOR(pg_catalog.-) (s OPERATOR(pg_catalog.-) pg_catalog.floor(s)));
	END LOOP;
END
$$;

/*
 * Finding (test/t/008_chaos.pl, under load): the worker could deadlock with
 * ticket.payment_succeeded, which locks the charge, then the order, then the
 * order's running saga.  maintenance('timeout_payments') held the order and
 * waited for the charge; maintenance('compensate') held the saga and waited
 * for the order.  When the adapter lost, a captured payment's report was
 * refused (40P01).  Both tasks now try-lock what an adapter may hold and
 * leave a busy order to the next round: the worker never waits.
 */
CREATE FUNCTION ticket._try_lock_payments(order_id bigint)
RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	/*
	 * Every payment row of the order, whatever its state: an adapter locks
	 * the job it reports on before the order (a late or a second capture of
	 * a settled charge too), and a refund's foreign key needs its charge.
	 * One snapshot: a row locked by someone else is counted but not locked.
	 */
	SELECT (SELECT count(*) FROM ticket.payment AS p WHERE p.order_id = $1)
		 = (SELECT count(*) FROM (SELECT FROM ticket.payment AS p WHERE p.order_id = $1
									 FOR UPDATE SKIP LOCKED) AS l);
$$;
COMMENT ON FUNCTION ticket._try_lock_payments(bigint) IS
	'Internal: locks every payment job of an order without waiting; false when another transaction holds one (the worker then skips the order).';
REVOKE ALL ON FUNCTION ticket._try_lock_payments(bigint) FROM PUBLIC;

/*
 * Finding: ticket.maintenance echoed an unknown task whole in its message
 * (a 10,000-character task made a 10,000-character error and log line), and
 * a task of tabs or control characters was "unknown" rather than bad text.
 * The task is now checked as text (22004, 22023, 22001 over 32 characters)
 * before anything else.
 */
CREATE OR REPLACE FUNCTION ticket.maintenance(task text, batch_size integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	n integer := 0;
	r record;
	t timestamptz := now();
BEGIN
	PERFORM ticket._check_range('batch_size', batch_size, 1, 100000);
	/* NULL, blank, control characters, over 32 characters: before the message echoes it. */
	PERFORM ticket._check_text('task', task, 32);
	CASE task
	WHEN 'expire_holds' THEN
		/*
		 * Holds a checkout has locked are skipped (the checkout decides), and
		 * so are holds with a seat a buyer is trying right now: the worker
		 * never waits (nor in timeout_payments and compensate below), so it
		 * cannot deadlock with anyone.  Skipped holds are
		 * free to buyers anyway and are tidied on the next round.
		 */
		FOR r IN SELECT h.hold_id, h.concert_id, h.user_id, h.seat_ids FROM ticket.hold AS h
				  WHERE h.state = 'active' AND h.expires_at <= t
				  ORDER BY h.expires_at LIMIT batch_size
					FOR UPDATE SKIP LOCKED LOOP
			CONTINUE WHEN NOT ticket._try_lock_seats(r.concert_id, r.seat_ids);
			PERFORM ticket._free_seats(r.concert_id, r.seat_ids, r.hold_id);
			UPDATE ticket.hold AS h SET state = 'expired', ended_at = t WHERE h.hold_id = r.hold_id;
			PERFORM ticket._event(r.concert_id, 'hold_expired', r.hold_id, r.user_id, NULL);
			n := n + 1;
		END LOOP;
		PERFORM ticket._bump_counter('holds_expired', n);
	WHEN 'expire_admissions' THEN
		WITH x AS (
			SELECT e.concert_id, e.user_id FROM ticket.queue_entry AS e
			 WHERE e.state = 'admitted' AND e.expires_at <= t
			 ORDER BY e.expires_at LIMIT batch_size
			   FOR UPDATE SKIP LOCKED
		), done AS (
			UPDATE ticket.queue_entry AS e SET state = 'expired', left_at = t
			  FROM x WHERE e.concert_id = x.concert_id AND e.user_id = x.user_id
			RETURNING e.concert_id, e.user_id
		), ev AS (
			INSERT INTO ticket.event (concert_id, kind, user_id)
			SELECT done.concert_id, 'admission_expired', done.user_id FROM done
			RETURNING 1
		)
		SELECT count(*) INTO n FROM ev;
	WHEN 'timeout_payments' THEN
		/* Charges whose order is past pay_by: dead-letter them, compensate the order. */
		FOR r IN SELECT o.order_id, o.concert_id, o.user_id FROM ticket.orders AS o
				  WHERE o.state = 'pending' AND o.pay_by <= t
				  ORDER BY o.pay_by LIMIT batch_size
					FOR UPDATE SKIP LOCKED LOOP
			/*
			 * An adapter reporting this order's charge right now holds the
			 * charge and waits for the order, which this batch holds: waiting
			 * for the charge would close a deadlock.  Such an order is left
			 * to the adapter's report (or the next round).
			 */
			CONTINUE WHEN NOT ticket._try_lock_payments(r.order_id);
			PERFORM ticket._call_off_charges(r.order_id, 'timed out');
			PERFORM ticket._event(r.concert_id, 'payment_timed_out', r.order_id, r.user_id, NULL);
			PERFORM ticket._start_saga(r.order_id, 'payment timed out', true);
			n := n + 1;
		END LOOP;
		PERFORM ticket._bump_counter('payments_timed_out', n);
	WHEN 'compensate' THEN
		/* Whole sagas, oldest first; each step is logged as it is done. */
		FOR r IN SELECT g.saga_id, g.order_id FROM ticket.saga AS g WHERE g.state = 'running'
				  ORDER BY g.saga_id LIMIT batch_size
					FOR UPDATE SKIP LOCKED LOOP
			/*
			 * The order and its payments first, without waiting: an adapter
			 * reporting a payment holds it and the order and then waits for
			 * this saga, which this batch holds.  A saga whose order is busy
			 * is run on the next round.
			 */
			CONTINUE WHEN NOT EXISTS (SELECT FROM ticket.orders AS o WHERE o.order_id = r.order_id
										 FOR UPDATE SKIP LOCKED)
					   OR NOT ticket._try_lock_payments(r.order_id);
			WHILE ticket.compensation_step(r.saga_id) LOOP
			END LOOP;
			n := n + 1;
		END LOOP;
	WHEN 'publish_events' THEN
		n := ticket.publish_events(batch_size);
	WHEN 'purge' THEN
		WITH k AS (
			SELECT x.user_id, x.idempotency_key FROM ticket.idempotency AS x
			 WHERE x.created_at < t - make_interval(secs => ticket._setting_seconds('ticket.idempotency_ttl', 86400))
			 ORDER BY x.created_at LIMIT batch_size
		), d AS (
			DELETE FROM ticket.idempotency AS x USING k
			 WHERE x.user_id = k.user_id AND x.idempotency_key = k.idempotency_key
			RETURNING 1
		)
		SELECT count(*) INTO n FROM d;
	ELSE
		RAISE EXCEPTION 'unknown maintenance task "%"', task
			USING ERRCODE = '22023',
			HINT = 'The tasks are expire_holds, expire_admissions, timeout_payments, compensate, publish_events and purge.';
	END CASE;
	RETURN n;
END
$$;

/*
 * Finding: ticket.draw_order answered anything at all: a NULL or unknown
 * concert, or a concert without a waiting room, gave no rows, and a NULL
 * seed gave an order (NULL hashes sort as equal, so by user id) that looked
 * like a draw.  Now 22004 for NULL, P0002 for an unknown concert, 55000
 * without a waiting room and 22023 for an empty seed.  Any other seed gives
 * its order (anyone may try seeds; only the real one matches the draw).
 * (LANGUAGE sql becomes plpgsql to raise; the result is the same.)
 */
CREATE OR REPLACE FUNCTION ticket.draw_order(concert_id bigint, seed bytea)
RETURNS TABLE (place bigint, user_id text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	IF concert_id IS NULL OR seed IS NULL THEN
		RAISE EXCEPTION 'concert_id and seed must not be NULL' USING ERRCODE = '22004';
	END IF;
	IF NOT EXISTS (SELECT FROM ticket.concert AS c WHERE c.concert_id = concert_id) THEN
		RAISE EXCEPTION 'concert % does not exist', concert_id USING ERRCODE = 'P0002';
	END IF;
	IF NOT EXISTS (SELECT FROM ticket.queue AS q WHERE q.concert_id = concert_id) THEN
		RAISE EXCEPTION 'concert % has no waiting room', concert_id USING ERRCODE = '55000';
	END IF;
	IF octet_length(seed) = 0 THEN
		RAISE EXCEPTION 'seed must not be empty'
			USING ERRCODE = '22023',
			HINT = 'The draw''s seed is ticket.queues.seed of the concert (32 bytes), shown after the draw.';
	END IF;
	RETURN QUERY
	SELECT row_number() OVER w, e.user_id
	  FROM ticket.queue_entry AS e
	 WHERE e.concert_id = concert_id AND e.draw_place IS NOT NULL
	WINDOW w AS (ORDER BY sha256(seed || convert_to(e.user_id, 'UTF8')), e.user_id)
	 ORDER BY 1;
END
$$;
