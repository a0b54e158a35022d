/* src/router/api.sql: written by src/router/generate from ticket's catalog: do not edit. */

/* The shard of an id: ticket._shard_of_id (src/shard.sql), copied. */
CREATE FUNCTION ticket_router.shard_of_id(id bigint)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT CASE WHEN id IS NULL OR id < 0 THEN 0 ELSE (id / 1000000000000)::integer END $$;
COMMENT ON FUNCTION ticket_router.shard_of_id(bigint) IS 'The shard whose range holds an id: ticket._shard_of_id, copied from the shard by src/router/generate.';

/* Types of the results. */
CREATE TYPE ticket.concert_state AS ENUM ('draft', 'on_sale', 'closed', 'cancelled');
COMMENT ON TYPE ticket.concert_state IS 'Life of a concert: draft (being set up), on_sale, closed (sale over), cancelled.';
CREATE TYPE ticket.hold_state AS ENUM ('active', 'checking_out', 'confirmed', 'expired', 'released');
COMMENT ON TYPE ticket.hold_state IS 'Life of a hold: active until expires_at (an active hold past it is expired, whether or not a cleaner has said so), then released, expired, or through checkout to confirmed.';
CREATE TYPE ticket.order_state AS ENUM ('pending', 'paid', 'cancelled', 'refunded');
COMMENT ON TYPE ticket.order_state IS 'Life of an order: pending (payment in flight), then paid, or cancelled by compensation; a cancelled order whose captured money was given back is refunded.';
CREATE TYPE ticket.payment_kind AS ENUM ('charge', 'refund');
COMMENT ON TYPE ticket.payment_kind IS 'What a payment job asks of the provider: take the money, or give it back.';
CREATE TYPE ticket.payment_state AS ENUM ('processing', 'succeeded', 'failed', 'refunded');
COMMENT ON TYPE ticket.payment_state IS 'Life of a payment job: processing (due, claimed, or waiting to be retried), then succeeded or failed (dead-lettered, timed out or cancelled); a succeeded charge whose refund went through is refunded.';
CREATE TYPE ticket.queue_entry_state AS ENUM ('prequeue', 'waiting', 'admitted', 'expired', 'left', 'blocked', 'done');
COMMENT ON TYPE ticket.queue_entry_state IS 'Stored state of a queue entry (done: the admission ended because the buyer paid or reached their limit); ticket.queue_status derives expired, sold_out and closed from it.';
CREATE TYPE ticket.seat_state AS ENUM ('available', 'held', 'sold');
COMMENT ON TYPE ticket.seat_state IS 'State of one seat or standing place. A held seat whose held_until has passed counts as available.';
CREATE TYPE ticket.cancel_result AS (order_id bigint, status text, order_state text, seats json, amount numeric(12,2), fee numeric(12,2), refund numeric(12,2), refund_payment_id bigint);
COMMENT ON TYPE ticket.cancel_result IS 'Result of ticket.cancel_order: status cancelled (seats: the seats given back; amount = fee + refund; refund_payment_id: the refund job, NULL when the fee kept it all), or not_allowed (the concert takes no cancellations), too_late (past its deadline), not_paid (the order is pending, cancelled or refunded: order_state says which), compensating (being undone already), rate_limited (nothing done); order_state is the order''s state after the call.';
CREATE TYPE ticket.checkout_result AS (order_id bigint, payment_id bigint, status text, amount numeric(12,2), pay_by timestamp with time zone, seats json);
COMMENT ON TYPE ticket.checkout_result IS 'Result of ticket.checkout and ticket.order_status: status pending (order and payment created; pay_by is the deadline), or, for a replayed key, the order''s state now (pending, paid, cancelled, refunded); expired, released or closed when the hold could not be checked out (the rest NULL). seats: a JSON array of seat_id, section_id, section, row, seat, label, price.';
CREATE TYPE ticket.hold_result AS (hold_id bigint, status text, expires_at timestamp with time zone, seat_ids integer[], total numeric(12,2), seats json);
COMMENT ON TYPE ticket.hold_result IS 'Result of ticket.hold and ticket.hold_best: status held (with hold_id, expires_at, seat_ids, their total price and seats: a JSON array of seat_id, section_id, section, row, seat, label, price), or taken, limit, closed, sold_out, no_adjacent, rate_limited, blocked (the rest NULL); a replayed idempotency key returns its hold with its current state.';
CREATE TYPE ticket.payment_job AS (payment_id bigint, kind ticket.payment_kind, order_id bigint, concert_id bigint, user_id text, amount numeric(12,2), attempt integer, provider_key text, refund_ref text, lease_until timestamp with time zone);
COMMENT ON TYPE ticket.payment_job IS 'A claimed payment job: charge or refund amount for an order; provider_key is the idempotency key to give the provider (the same on every attempt of this job); refund_ref is the provider reference of the capture a refund gives back.';
CREATE TYPE ticket.queue_status AS (concert_id bigint, user_id text, state text, place bigint, "position" bigint, eta interval, pass_token text, expires_at timestamp with time zone, note text);
COMMENT ON TYPE ticket.queue_status IS 'A user''s place in a waiting room: state prequeue, waiting (with position = people ahead, eta, and note = why admission is slower than admit_rate: paused, payments behind, recovering, slots full, no seats free), admitted (with pass_token, the pass to give hold, and expires_at), done (paid or reached the limit), expired, sold_out, closed, left, blocked, none (never joined); join_queue may also answer rate_limited or challenge.';

CREATE FUNCTION ticket.add_section(concert_id bigint, name text, grade text, price numeric, seat_rows integer, seats_per_row integer)
RETURNS integer
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.add_section(concert_id bigint, name text, grade text, price numeric, seat_rows integer, seats_per_row integer) IS 'Router: runs on its concert''s shard. Adds a seated section of seat_rows x seats_per_row seats, generated in one statement; returns its section_id.';

CREATE FUNCTION ticket.add_standing(concert_id bigint, name text, grade text, price numeric, capacity integer)
RETURNS integer
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.add_standing(concert_id bigint, name text, grade text, price numeric, capacity integer) IS 'Router: runs on its concert''s shard. Adds a general-admission section of capacity standing places; returns its section_id.';

CREATE FUNCTION ticket.admit(concert_id bigint)
RETURNS integer
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.admit(concert_id bigint) IS 'Router: runs on its concert''s shard. One admission step: admits, in place order, at the effective rate (admit_rate, halved while payments are behind and grown back gradually) for the time since the last step, at most 1.25 seconds'' worth and at most max_active at once; nothing while paused (pause_admission) or while no seat is free; marks the queue sold out when none can come back; NOTIFY ticket_admission. Returns how many it admitted.';

CREATE FUNCTION ticket_router.admit_scheduled_all()
RETURNS SETOF integer
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ALL; SELECT * FROM ticket.admit_scheduled(); $$;
COMMENT ON FUNCTION ticket_router.admit_scheduled_all() IS 'ticket.admit_scheduled on every shard, for the router''s ticket.admit_scheduled.';
CREATE FUNCTION ticket.admit_scheduled()
RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT COALESCE(pg_catalog.sum(r)::integer, 0) FROM ticket_router.admit_scheduled_all() AS r $$;
COMMENT ON FUNCTION ticket.admit_scheduled() IS 'Router: runs on every shard; the sum of their answers. One admission step for every concert on sale whose admission is scheduled; returns how many it admitted.';

CREATE FUNCTION ticket_router.block_user_all(user_id text, reason text)
RETURNS SETOF integer
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ALL; SELECT * FROM ticket.block_user(user_id, reason); $$;
COMMENT ON FUNCTION ticket_router.block_user_all(user_id text, reason text) IS 'ticket.block_user on every shard, for the router''s ticket.block_user.';
CREATE FUNCTION ticket.block_user(user_id text, reason text DEFAULT NULL::text)
RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT COALESCE(pg_catalog.sum(r)::integer, 0) FROM ticket_router.block_user_all(user_id, reason) AS r $$;
COMMENT ON FUNCTION ticket.block_user(user_id text, reason text) IS 'Router: runs on every shard; the sum of their answers. Puts a user on the blocklist, takes them out of every waiting room and releases their active holds in the same transaction; returns how many holds.';

CREATE FUNCTION ticket_router.browse_concerts_all()
RETURNS TABLE(concert_id bigint, title text, venue text, starts_at timestamp with time zone, sale_opens_at timestamp with time zone, sale_closes_at timestamp with time zone, state text, min_price numeric, max_price numeric, waiting_room boolean, available bigint)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ALL; SELECT * FROM ticket.browse_concerts(); $$;
COMMENT ON FUNCTION ticket_router.browse_concerts_all() IS 'ticket.browse_concerts on every shard, for the router''s ticket.browse_concerts.';
CREATE FUNCTION ticket.browse_concerts()
RETURNS TABLE(concert_id bigint, title text, venue text, starts_at timestamp with time zone, sale_opens_at timestamp with time zone, sale_closes_at timestamp with time zone, state text, min_price numeric, max_price numeric, waiting_room boolean, available bigint)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM ticket_router.browse_concerts_all() AS r ORDER BY r.starts_at, r.concert_id $$;
COMMENT ON FUNCTION ticket.browse_concerts() IS 'Router: runs on every shard, merged (docs/scaling.md). For buyers: the concerts on sale and coming up (announced drafts), soonest first, with price range, whether a waiting room leads to the seats, and free seats (counted at most ticket.catalogue_refresh ago).';

CREATE FUNCTION ticket.browse_seats(concert_id bigint, section_id integer, only_free boolean DEFAULT false)
RETURNS TABLE(seat_id integer, row_no integer, seat_no integer, label text, price numeric, free boolean)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.browse_seats(concert_id bigint, section_id integer, only_free boolean) IS 'Router: runs on its concert''s shard. For buyers: the seats or places of a section in order, with row, number, printable label, price and whether each is free now (never who holds it); only_free leaves out the others. P0002 for a concert that is not listed or a section it does not have.';

CREATE FUNCTION ticket.browse_sections(concert_id bigint)
RETURNS TABLE(section_id integer, name text, grade text, price numeric, seated boolean, seat_rows integer, seats_per_row integer, capacity integer, available integer, counted_at timestamp with time zone)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.browse_sections(concert_id bigint) IS 'Router: runs on its concert''s shard. For buyers: the sections of a concert on sale or coming up, with grade, price, capacity and free seats (counted at most ticket.catalogue_refresh ago, at counted_at); P0002 for a concert that is not listed.';

CREATE FUNCTION ticket.cancel_concert(concert_id bigint)
RETURNS void
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.cancel_concert(concert_id bigint) IS 'Router: runs on its concert''s shard. Cancels a concert for good: its sale stops, it can no longer be changed, and every pending or paid order is compensated (seats released, money refunded).';

CREATE FUNCTION ticket.cancel_order(order_id bigint, user_id text, idempotency_key text, seat_ids integer[] DEFAULT NULL::integer[])
RETURNS ticket.cancel_result
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_id(order_id); $$;
COMMENT ON FUNCTION ticket.cancel_order(order_id bigint, user_id text, idempotency_key text, seat_ids integer[]) IS 'Router: runs on the shard named by order_id. For buyers: cancels a paid order, or the seats named, under the concert''s policy: the seats go back on sale and the price less the fee is refunded. Answers not_allowed, too_late, not_paid or compensating as a status; the same idempotency key gives the same answer.';

CREATE FUNCTION ticket.challenge(concert_id bigint, user_id text)
RETURNS text
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.challenge(concert_id bigint, user_id text) IS 'Router: runs on its concert''s shard. Gives a signed proof-of-work challenge for joining a concert''s queue, valid 10 minutes; NULL when the concert asks for none.';

CREATE FUNCTION ticket.check_pass(pass text, concert_id bigint, user_id text)
RETURNS bigint
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.check_pass(pass text, concert_id bigint, user_id text) IS 'Router: runs on its concert''s shard. Checks a pass for a concert and user and returns its place in line; raises 28000 for a malformed, forged, expired or foreign pass.';

CREATE FUNCTION ticket.checkout(hold_id bigint, user_id text, idempotency_key text)
RETURNS ticket.checkout_result
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_id(hold_id); $$;
COMMENT ON FUNCTION ticket.checkout(hold_id bigint, user_id text, idempotency_key text) IS 'Router: runs on the shard named by hold_id. Turns a live hold into an order and a payment job; the seats stay held until the payment succeeds, fails or times out (payment_timeout). Answers released, expired or closed (concert cancelled) without an order. The same idempotency key returns the same order; a different request with it is 22023.';

CREATE FUNCTION ticket.claim_payments(adapter text, max_jobs integer DEFAULT 10, lease interval DEFAULT '00:00:30'::interval)
RETURNS SETOF ticket.payment_job
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ALL; $$;
COMMENT ON FUNCTION ticket.claim_payments(adapter text, max_jobs integer, lease interval) IS 'Router: runs on every shard; the rows of all of them. For the payment adapter: claims up to max_jobs due payment jobs for lease (other adapters skip them; a job whose lease runs out is claimed again). Never hands out a charge whose order''s pay_by comes before the lease ends: such orders are called off and compensated at once. Oldest first, until the oldest due charge has used ticket.payment_lifo_at (3/4) of its time: then the freshest first (adaptive LIFO). Report with ticket.report_payments (or payment_succeeded / payment_failed).';

CREATE FUNCTION ticket.close_sale(concert_id bigint)
RETURNS void
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.close_sale(concert_id bigint) IS 'Router: runs on its concert''s shard. Ends the sale of a concert that is on sale; it can be reopened with ticket.open_sale.';

CREATE PROCEDURE ticket.compensate(IN order_id bigint, IN reason text)
LANGUAGE plpgsql
AS $$
#variable_conflict use_variable
DECLARE
	id bigint;
BEGIN
	IF order_id IS NULL OR reason IS NULL THEN
		PERFORM ticket.start_compensation(order_id, reason);  -- the shard's 22004, nothing written
	END IF;
	COMMIT;  -- inside a transaction block: 2D000 before anything is written, as in ticket
	id := ticket.start_compensation(order_id, reason);
	WHILE id IS NOT NULL AND ticket.compensation_step(id) LOOP
	END LOOP;
END
$$;
COMMENT ON PROCEDURE ticket.compensate(IN order_id bigint, IN reason text) IS 'Router: runs its steps on the order''s shard, each committed there. Undoes an order: cancels it, releases its seats and requests refunds for anything captured, committing and logging each step; running it again, or after a crash, ends as running it once. Call it outside a transaction block (inside one it raises 2D000 with a hint).';

CREATE FUNCTION ticket.compensation_step(saga_id bigint)
RETURNS boolean
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_id(saga_id); $$;
COMMENT ON FUNCTION ticket.compensation_step(saga_id bigint) IS 'Router: runs on the shard named by saga_id. Runs the next step of a compensation (cancel_order, release_seats, refund) and logs it in ticket.saga_step; false when the saga is over.';

CREATE FUNCTION ticket_router.counters_all(OUT counter text, OUT value bigint, OUT since timestamp with time zone)
RETURNS SETOF record
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ALL; SELECT * FROM ticket.counters(); $$;
COMMENT ON FUNCTION ticket_router.counters_all(OUT counter text, OUT value bigint, OUT since timestamp with time zone) IS 'ticket.counters on every shard, for the router''s ticket.counters.';
CREATE FUNCTION ticket.counters(OUT counter text, OUT value bigint, OUT since timestamp with time zone)
RETURNS SETOF record
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT c.counter, pg_catalog.sum(c.value)::bigint, pg_catalog.min(c.since) FROM ticket_router.counters_all() AS c GROUP BY c.counter ORDER BY c.counter $$;
COMMENT ON FUNCTION ticket.counters(OUT counter text, OUT value bigint, OUT since timestamp with time zone) IS 'Router: runs on every shard, merged (docs/scaling.md). Lists the shared-memory counters since the server started; needs the library preloaded.';

CREATE FUNCTION ticket_router.create_concert_on(shard integer, title text, starts_at timestamp with time zone, sale_opens_at timestamp with time zone, venue text, sale_closes_at timestamp with time zone, hold_ttl interval, per_user_limit integer, admit_rate integer, admission_ttl interval, max_active integer, queue boolean, pow_bits integer, payment_timeout interval, payment_attempts integer, accept_late_payments boolean, announce_at timestamp with time zone, cancellable boolean, cancel_until interval, cancel_fee_percent numeric, cancel_fee_fixed numeric, durable_holds boolean)
RETURNS bigint
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON shard; SELECT * FROM ticket.create_concert(title, starts_at, sale_opens_at, venue, sale_closes_at, hold_ttl, per_user_limit, admit_rate, admission_ttl, max_active, queue, pow_bits, payment_timeout, payment_attempts, accept_late_payments, announce_at, cancellable, cancel_until, cancel_fee_percent, cancel_fee_fixed, durable_holds); $$;
COMMENT ON FUNCTION ticket_router.create_concert_on(integer, title text, starts_at timestamp with time zone, sale_opens_at timestamp with time zone, venue text, sale_closes_at timestamp with time zone, hold_ttl interval, per_user_limit integer, admit_rate integer, admission_ttl interval, max_active integer, queue boolean, pow_bits integer, payment_timeout interval, payment_attempts integer, accept_late_payments boolean, announce_at timestamp with time zone, cancellable boolean, cancel_until interval, cancel_fee_percent numeric, cancel_fee_fixed numeric, durable_holds boolean) IS 'ticket.create_concert on one shard, for the router''s ticket.create_concert.';
CREATE FUNCTION ticket.create_concert(title text, starts_at timestamp with time zone, sale_opens_at timestamp with time zone, venue text DEFAULT NULL::text, sale_closes_at timestamp with time zone DEFAULT NULL::timestamp with time zone, hold_ttl interval DEFAULT '00:10:00'::interval, per_user_limit integer DEFAULT 4, admit_rate integer DEFAULT 100, admission_ttl interval DEFAULT '00:15:00'::interval, max_active integer DEFAULT NULL::integer, queue boolean DEFAULT false, pow_bits integer DEFAULT 0, payment_timeout interval DEFAULT '00:10:00'::interval, payment_attempts integer DEFAULT 5, accept_late_payments boolean DEFAULT true, announce_at timestamp with time zone DEFAULT NULL::timestamp with time zone, cancellable boolean DEFAULT false, cancel_until interval DEFAULT '48:00:00'::interval, cancel_fee_percent numeric DEFAULT 0, cancel_fee_fixed numeric DEFAULT 0, durable_holds boolean DEFAULT true)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	s integer := ticket_router.pick_shard();
	id bigint;
BEGIN
	PERFORM ticket_router.check_partition(s);
	id := ticket_router.create_concert_on(s, title, starts_at, sale_opens_at, venue, sale_closes_at, hold_ttl, per_user_limit, admit_rate, admission_ttl, max_active, queue, pow_bits, payment_timeout, payment_attempts, accept_late_payments, announce_at, cancellable, cancel_until, cancel_fee_percent, cancel_fee_fixed, durable_holds);
	INSERT INTO ticket_router.concert_shard AS d (concert_id, shard) VALUES (id, s);
	RETURN id;
END
$$;
COMMENT ON FUNCTION ticket.create_concert(title text, starts_at timestamp with time zone, sale_opens_at timestamp with time zone, venue text, sale_closes_at timestamp with time zone, hold_ttl interval, per_user_limit integer, admit_rate integer, admission_ttl interval, max_active integer, queue boolean, pow_bits integer, payment_timeout interval, payment_attempts integer, accept_late_payments boolean, announce_at timestamp with time zone, cancellable boolean, cancel_until interval, cancel_fee_percent numeric, cancel_fee_fixed numeric, durable_holds boolean) IS 'Router: runs on the shard with the fewest concerts in the directory, which records it. Creates a draft concert with its sale settings and returns its concert_id; buyers see it from announce_at (coming up), or once it is on sale, and may cancel paid orders if it is cancellable.';

CREATE FUNCTION ticket_router.delete_concert_on(shard integer, concert_id bigint)
RETURNS void
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON shard; SELECT * FROM ticket.delete_concert(concert_id); $$;
COMMENT ON FUNCTION ticket_router.delete_concert_on(integer, concert_id bigint) IS 'ticket.delete_concert on one shard, for the router''s ticket.delete_concert.';
CREATE FUNCTION ticket.delete_concert(concert_id bigint)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	PERFORM ticket_router.delete_concert_on(ticket_router.shard_of_concert(concert_id), concert_id);
	DELETE FROM ticket_router.concert_shard AS d WHERE d.concert_id = delete_concert.concert_id;
END
$$;
COMMENT ON FUNCTION ticket.delete_concert(concert_id bigint) IS 'Router: runs on its concert''s shard; the directory forgets it. Deletes a draft concert with its sections, seats and pre-queue; one that has been on sale is cancelled instead (ticket.cancel_concert).';

CREATE FUNCTION ticket.draw_order(concert_id bigint, seed bytea)
RETURNS TABLE(place bigint, user_id text)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.draw_order(concert_id bigint, seed bytea) IS 'Router: runs on its concert''s shard. Recomputes the pre-queue draw of a concert from a seed: everyone in the draw, ordered by SHA-256(seed || user_id).';

CREATE FUNCTION ticket.events_since(after_id bigint, max_events integer DEFAULT 1000, of_concert bigint DEFAULT NULL::bigint)
RETURNS TABLE(event_id bigint, concert_id bigint, kind text, subject_id bigint, user_id text, detail jsonb, created_at timestamp with time zone)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_feed(after_id, of_concert); $$;
COMMENT ON FUNCTION ticket.events_since(after_id bigint, max_events integer, of_concert bigint) IS 'Router: runs on of_concert''s shard, else on the shard named by after_id. Published events after after_id in order (optionally of one concert): how a consumer catches up after a disconnect. LISTEN ticket_event says when there is more.';

CREATE FUNCTION ticket_router.health_on(shard integer)
RETURNS TABLE(check_name text, ok boolean, detail text)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON shard; SELECT * FROM ticket.health(); $$;
COMMENT ON FUNCTION ticket_router.health_on(integer) IS 'ticket.health on one shard, for the router''s ticket.health.';
CREATE FUNCTION ticket.health()
RETURNS TABLE(check_name text, ok boolean, detail text)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT h.check_name, h.ok, pg_catalog.format('shard %s: %s', s, h.detail) FROM ticket_router.shards() AS s, LATERAL ticket_router.health_on(s) AS h UNION ALL SELECT 'partition is its shard', k IS NOT DISTINCT FROM s, pg_catalog.format('shard %s: partition p%s is the database of set_shard(%s)', s, s, k) FROM ticket_router.shards() AS s, LATERAL ticket_router.shard_on(s) AS k $$;
COMMENT ON FUNCTION ticket.health() IS 'Router: runs on every shard, merged (docs/scaling.md); and one row per partition pK of server ticket_shards, true when it is the database of set_shard(K) (ticket.shard() there). Each shard''s rows as its own health() gives them. One row per check, for an operator or a probe: library preloaded, a ticket worker serving this database, each scheduled admission''s last step (and the pg_cron job), the payment backlog, unpublished events. Answers as the owner, so ticket_admin and ticket_monitor need no access to pg_stat_activity or pg_cron.';

CREATE FUNCTION ticket.hold(concert_id bigint, user_id text, seat_ids integer[], idempotency_key text DEFAULT NULL::text, client_key text DEFAULT NULL::text, pass text DEFAULT NULL::text)
RETURNS ticket.hold_result
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.hold(concert_id bigint, user_id text, seat_ids integer[], idempotency_key text, client_key text, pass text) IS 'Router: runs on its concert''s shard. Holds the named seats for a user, all or none, without ever waiting for another buyer; expires after the concert''s hold_ttl. A concert with a waiting room needs the user''s pass (28000 without a valid one).';

CREATE FUNCTION ticket.hold_best(concert_id bigint, user_id text, section_id integer, quantity integer, adjacent boolean DEFAULT false, idempotency_key text DEFAULT NULL::text, client_key text DEFAULT NULL::text, pass text DEFAULT NULL::text)
RETURNS ticket.hold_result
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.hold_best(concert_id bigint, user_id text, section_id integer, quantity integer, adjacent boolean, idempotency_key text, client_key text, pass text) IS 'Router: runs on its concert''s shard. Holds the best quantity free seats of a section (lowest rows first, side by side if adjacent) or quantity standing places.';

CREATE FUNCTION ticket.join_queue(concert_id bigint, user_id text, client_key text DEFAULT NULL::text, challenge text DEFAULT NULL::text, solution text DEFAULT NULL::text)
RETURNS ticket.queue_status
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.join_queue(concert_id bigint, user_id text, client_key text, challenge text, solution text) IS 'Router: runs on its concert''s shard. Puts a user in a concert''s waiting room (the pre-queue before opening) and returns their status; joining again returns the same place.';

CREATE FUNCTION ticket.leave_queue(concert_id bigint, user_id text)
RETURNS ticket.queue_status
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.leave_queue(concert_id bigint, user_id text) IS 'Router: runs on its concert''s shard. Takes a user out of a concert''s waiting room (those behind move up; an admitted user frees a slot); joining again goes to the back.';

CREATE FUNCTION ticket_router.maintenance_all(task text, batch_size integer)
RETURNS SETOF integer
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ALL; SELECT * FROM ticket.maintenance(task, batch_size); $$;
COMMENT ON FUNCTION ticket_router.maintenance_all(task text, batch_size integer) IS 'ticket.maintenance on every shard, for the router''s ticket.maintenance.';
CREATE FUNCTION ticket.maintenance(task text, batch_size integer DEFAULT 1000)
RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT COALESCE(pg_catalog.sum(r)::integer, 0) FROM ticket_router.maintenance_all(task, batch_size) AS r $$;
COMMENT ON FUNCTION ticket.maintenance(task text, batch_size integer) IS 'Router: runs on every shard; the sum of their answers. Runs one batch of one of the worker''s tasks (expire_holds, expire_admissions, timeout_payments, compensate, publish_events, purge, admit, notify_payments) and returns how many items it did: what the background worker does every interval, for psql when the worker is off.';

CREATE FUNCTION ticket_router.metrics_on(shard integer)
RETURNS TABLE(name text, kind text, labels jsonb, value double precision)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON shard; SELECT * FROM ticket.metrics(); $$;
COMMENT ON FUNCTION ticket_router.metrics_on(integer) IS 'ticket.metrics on one shard, for the router''s ticket.metrics.';
CREATE FUNCTION ticket.metrics()
RETURNS TABLE(name text, kind text, labels jsonb, value double precision)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT m.name, m.kind, m.labels OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('shard', s), m.value FROM ticket_router.shards() AS s, LATERAL ticket_router.metrics_on(s) AS m $$;
COMMENT ON FUNCTION ticket.metrics() IS 'Router: runs on every shard, merged (docs/scaling.md). Every counter (ticket_<counter>_total, since server start) and gauge (per concert on sale: ticket_concert_*, labelled concert_id, among them admit_rate, admission_rate (effective), admission_paused / admission_throttled / admission_slots_full (why it is lower), payments_due and payment_backlog_seconds; payments due, unpublished events, the ticket workers serving this database, preloaded; planned with jit = off) as name, kind, labels, value: what monitoring/postgres_exporter.yml turns into Prometheus metrics.';

CREATE FUNCTION ticket.my_events(user_id text, after_id bigint DEFAULT 0, max_rows integer DEFAULT 100)
RETURNS TABLE(event_id bigint, concert_id bigint, kind text, subject_id bigint, detail jsonb, created_at timestamp with time zone)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_id(after_id); $$;
COMMENT ON FUNCTION ticket.my_events(user_id text, after_id bigint, max_rows integer) IS 'Router: runs on the shard named by after_id. For buyers: a user''s own published events after after_id, in order (admission_expired, hold_released, hold_expired, order_created, order_paid, order_cancelled, order_refunded, payment and refund outcomes, ...; not the hold events the buyer made): a poll, a tenth of a call from the rate limit. Never another user''s.';

CREATE FUNCTION ticket_router.my_holds_on(shard integer, user_id text, concert_id bigint, before_hold_id bigint, max_rows integer)
RETURNS TABLE(hold_id bigint, concert_id bigint, title text, starts_at timestamp with time zone, state text, created_at timestamp with time zone, expires_at timestamp with time zone, total numeric, seats json, order_id bigint)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON shard; SELECT * FROM ticket.my_holds(user_id, concert_id, before_hold_id, max_rows); $$;
COMMENT ON FUNCTION ticket_router.my_holds_on(integer, user_id text, concert_id bigint, before_hold_id bigint, max_rows integer) IS 'ticket.my_holds on one shard, for the router''s ticket.my_holds.';
CREATE FUNCTION ticket_router.my_holds_all(user_id text, concert_id bigint, before_hold_id bigint, max_rows integer)
RETURNS TABLE(hold_id bigint, concert_id bigint, title text, starts_at timestamp with time zone, state text, created_at timestamp with time zone, expires_at timestamp with time zone, total numeric, seats json, order_id bigint)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ALL; SELECT * FROM ticket.my_holds(user_id, concert_id, before_hold_id, max_rows); $$;
COMMENT ON FUNCTION ticket_router.my_holds_all(user_id text, concert_id bigint, before_hold_id bigint, max_rows integer) IS 'ticket.my_holds on every shard, for the router''s ticket.my_holds.';
CREATE FUNCTION ticket.my_holds(user_id text, concert_id bigint DEFAULT NULL::bigint, before_hold_id bigint DEFAULT NULL::bigint, max_rows integer DEFAULT 20)
RETURNS TABLE(hold_id bigint, concert_id bigint, title text, starts_at timestamp with time zone, state text, created_at timestamp with time zone, expires_at timestamp with time zone, total numeric, seats json, order_id bigint)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM ticket_router.my_holds_on(ticket_router.shard_of_concert(my_holds.concert_id), user_id, concert_id, before_hold_id, max_rows) WHERE my_holds.concert_id IS NOT NULL UNION ALL (SELECT * FROM ticket_router.my_holds_all(user_id, concert_id, before_hold_id, max_rows) AS r WHERE my_holds.concert_id IS NULL ORDER BY r.hold_id DESC LIMIT GREATEST(my_holds.max_rows, 1)) $$;
COMMENT ON FUNCTION ticket.my_holds(user_id text, concert_id bigint, before_hold_id bigint, max_rows integer) IS 'Router: runs on every shard, merged (docs/scaling.md). For buyers: a user''s holds, newest first (of one concert, or all), max_rows at a time (the next page: before_hold_id => the last hold_id), with state (an active hold past expires_at is expired), total, seats with labels and prices, and its order once checked out.';

CREATE FUNCTION ticket_router.my_orders_on(shard integer, user_id text, concert_id bigint, before_order_id bigint, max_rows integer)
RETURNS TABLE(order_id bigint, concert_id bigint, title text, starts_at timestamp with time zone, state text, amount numeric, seats json, created_at timestamp with time zone, pay_by timestamp with time zone, paid_at timestamp with time zone, cancelled_at timestamp with time zone, cancel_reason text, refund_state text, refunded numeric, cancelled_seats json, fees numeric)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON shard; SELECT * FROM ticket.my_orders(user_id, concert_id, before_order_id, max_rows); $$;
COMMENT ON FUNCTION ticket_router.my_orders_on(integer, user_id text, concert_id bigint, before_order_id bigint, max_rows integer) IS 'ticket.my_orders on one shard, for the router''s ticket.my_orders.';
CREATE FUNCTION ticket_router.my_orders_all(user_id text, concert_id bigint, before_order_id bigint, max_rows integer)
RETURNS TABLE(order_id bigint, concert_id bigint, title text, starts_at timestamp with time zone, state text, amount numeric, seats json, created_at timestamp with time zone, pay_by timestamp with time zone, paid_at timestamp with time zone, cancelled_at timestamp with time zone, cancel_reason text, refund_state text, refunded numeric, cancelled_seats json, fees numeric)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ALL; SELECT * FROM ticket.my_orders(user_id, concert_id, before_order_id, max_rows); $$;
COMMENT ON FUNCTION ticket_router.my_orders_all(user_id text, concert_id bigint, before_order_id bigint, max_rows integer) IS 'ticket.my_orders on every shard, for the router''s ticket.my_orders.';
CREATE FUNCTION ticket.my_orders(user_id text, concert_id bigint DEFAULT NULL::bigint, before_order_id bigint DEFAULT NULL::bigint, max_rows integer DEFAULT 20)
RETURNS TABLE(order_id bigint, concert_id bigint, title text, starts_at timestamp with time zone, state text, amount numeric, seats json, created_at timestamp with time zone, pay_by timestamp with time zone, paid_at timestamp with time zone, cancelled_at timestamp with time zone, cancel_reason text, refund_state text, refunded numeric, cancelled_seats json, fees numeric)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM ticket_router.my_orders_on(ticket_router.shard_of_concert(my_orders.concert_id), user_id, concert_id, before_order_id, max_rows) WHERE my_orders.concert_id IS NOT NULL UNION ALL (SELECT * FROM ticket_router.my_orders_all(user_id, concert_id, before_order_id, max_rows) AS r WHERE my_orders.concert_id IS NULL ORDER BY r.order_id DESC LIMIT GREATEST(my_orders.max_rows, 1)) $$;
COMMENT ON FUNCTION ticket.my_orders(user_id text, concert_id bigint, before_order_id bigint, max_rows integer) IS 'Router: runs on every shard, merged (docs/scaling.md). For buyers: a user''s orders, newest first (of one concert, or all), max_rows at a time (the next page: before_order_id => the last order_id), with state, amount, seats with labels and prices, when paid or cancelled and why, and the refund: requested, refunded or failed (NULL: none) and how much came back; the seats the buyer cancelled and the fees kept.';

CREATE FUNCTION ticket.open_sale(concert_id bigint)
RETURNS void
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.open_sale(concert_id bigint) IS 'Router: runs on its concert''s shard. Puts a draft or closed concert on sale now; needs the library preloaded.';

CREATE FUNCTION ticket.order_status(order_id bigint, user_id text)
RETURNS ticket.checkout_result
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_id(order_id); $$;
COMMENT ON FUNCTION ticket.order_status(order_id bigint, user_id text) IS 'Router: runs on the shard named by order_id. A user''s order as ticket.checkout returns it, with its state now (pending, paid, cancelled, refunded), or rate_limited.';

CREATE FUNCTION ticket.pause_admission(concert_id bigint)
RETURNS boolean
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.pause_admission(concert_id bigint) IS 'Router: runs on its concert''s shard. Stops admitting from a concert''s waiting room until ticket.resume_admission (those admitted keep their passes; waiting users see note paused and no ETA). Returns false when it was paused already.';

CREATE FUNCTION ticket.payment_failed(payment_id bigint, reason text, retryable boolean DEFAULT true)
RETURNS text
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_id(payment_id); $$;
COMMENT ON FUNCTION ticket.payment_failed(payment_id bigint, reason text, retryable boolean) IS 'Router: runs on the shard named by payment_id. For the payment adapter: the attempt failed. Retryable failures are retried with exponential backoff and jitter (returns retrying) until payment_attempts; then, or when not retryable, the job is dead-lettered (failed) and the order compensated. Reporting the same failure again changes nothing.';

CREATE FUNCTION ticket.payment_succeeded(payment_id bigint, provider_ref text)
RETURNS text
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_id(payment_id); $$;
COMMENT ON FUNCTION ticket.payment_succeeded(payment_id bigint, provider_ref text) IS 'Router: runs on the shard named by payment_id. For the payment adapter: the provider took the money (charge) or gave it back (refund). Returns paid, refunding (a late payment whose seats are gone, or a duplicate capture) or refunded. Reporting again is harmless.';

CREATE FUNCTION ticket_router.preloaded_all()
RETURNS SETOF boolean
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ALL; SELECT * FROM ticket.preloaded(); $$;
COMMENT ON FUNCTION ticket_router.preloaded_all() IS 'ticket.preloaded on every shard, for the router''s ticket.preloaded.';
CREATE FUNCTION ticket.preloaded()
RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_catalog.bool_and(r) FROM ticket_router.preloaded_all() AS r $$;
COMMENT ON FUNCTION ticket.preloaded() IS 'Router: runs on every shard; true if all are true of their answers. Reports whether the ticket library was loaded through shared_preload_libraries.';

CREATE FUNCTION ticket_router.publish_events_all(max_events integer)
RETURNS SETOF integer
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ALL; SELECT * FROM ticket.publish_events(max_events); $$;
COMMENT ON FUNCTION ticket_router.publish_events_all(max_events integer) IS 'ticket.publish_events on every shard, for the router''s ticket.publish_events.';
CREATE FUNCTION ticket.publish_events(max_events integer DEFAULT 10000)
RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT COALESCE(pg_catalog.sum(r)::integer, 0) FROM ticket_router.publish_events_all(max_events) AS r $$;
COMMENT ON FUNCTION ticket.publish_events(max_events integer) IS 'Router: runs on every shard; the sum of their answers. Numbers committed events in order (holds'' events from ticket.hold, then the outbox) and sends NOTIFY ticket_event {last_event_id, published}; the worker runs it every interval. Returns how many it numbered.';

CREATE FUNCTION ticket.queue_status(concert_id bigint, user_id text)
RETURNS ticket.queue_status
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.queue_status(concert_id bigint, user_id text) IS 'Router: runs on its concert''s shard. A user''s state in a concert''s waiting room: position and ETA while waiting, the signed pass once admitted, or rate_limited (a poll takes a tenth of a token from the user''s bucket). Reads two rows, whatever the length of the line.';

CREATE FUNCTION ticket.release(hold_id bigint, user_id text)
RETURNS text
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_id(hold_id); $$;
COMMENT ON FUNCTION ticket.release(hold_id bigint, user_id text) IS 'Router: runs on the shard named by hold_id. Gives a hold''s seats back at once (only its user may); returns released, or expired / the state it had already ended in, or rate_limited (nothing done).';

CREATE FUNCTION ticket.remove_section(concert_id bigint, section_id integer)
RETURNS void
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.remove_section(concert_id bigint, section_id integer) IS 'Router: runs on its concert''s shard. Removes a section and its seats from a draft concert not yet announced; later seats are renumbered so that seat ids stay 1 .. seat_count (section ids are kept).';

CREATE FUNCTION ticket_router.report_payments_on(shard integer, reports jsonb)
RETURNS TABLE(payment_id bigint, status text)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON shard; SELECT * FROM ticket.report_payments(reports); $$;
COMMENT ON FUNCTION ticket_router.report_payments_on(integer, reports jsonb) IS 'ticket.report_payments on one shard, for the router''s ticket.report_payments.';
CREATE FUNCTION ticket.report_payments(reports jsonb)
RETURNS TABLE(payment_id bigint, status text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	IF pg_catalog.jsonb_typeof(reports) IS DISTINCT FROM 'array'
	   OR pg_catalog.jsonb_array_length(reports) NOT BETWEEN 1 AND 1000
	   OR EXISTS (SELECT FROM pg_catalog.jsonb_array_elements(reports) AS e(v)
	               WHERE pg_catalog.jsonb_typeof(e.v) IS DISTINCT FROM 'object'
	                  OR COALESCE(e.v ->> 'payment_id', '') !~ '^[0-9]{1,18}$') THEN
		RETURN QUERY SELECT * FROM ticket_router.report_payments_on(0, reports);
		RETURN;
	END IF;
	RETURN QUERY
	SELECT r.* FROM (SELECT ticket_router.shard_of_id((e.v ->> 'payment_id')::bigint) AS s,
	                        pg_catalog.jsonb_agg(e.v ORDER BY e.n) AS j
	                   FROM pg_catalog.jsonb_array_elements(reports) WITH ORDINALITY AS e(v, n)
	                  GROUP BY 1) AS g,
	       LATERAL ticket_router.report_payments_on(g.s, g.j) AS r;
END
$$;
COMMENT ON FUNCTION ticket.report_payments(reports jsonb) IS 'Router: runs each result on the shard named by its payment_id, in one transaction per shard; a batch it cannot split goes whole to shard 0, which gives ticket''s error. For the payment adapter: many results in one call and one transaction, a JSON array of {"payment_id", "outcome": "succeeded", "provider_ref"} or {"payment_id", "outcome": "failed", "reason", "retryable"}, each optionally with "attempt" (the job''s attempt as claimed: a retryable failure of an earlier attempt is ignored). Each is what payment_succeeded / payment_failed does (idempotent); returns each job''s status. Bad input (22023, P0002) writes nothing.';

CREATE FUNCTION ticket.resume_admission(concert_id bigint)
RETURNS boolean
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.resume_admission(concert_id bigint) IS 'Router: runs on its concert''s shard. Admits again after ticket.pause_admission, at the rate and never in a burst. Returns false when it was not paused.';

CREATE FUNCTION ticket.retry_dead(payment_id bigint)
RETURNS text
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_id(payment_id); $$;
COMMENT ON FUNCTION ticket.retry_dead(payment_id bigint) IS 'Router: runs on the shard named by payment_id. Sends a dead-lettered refund back to the adapter with a fresh set of attempts (same provider idempotency key); returns retrying, or the state of one that is not dead. A charge is 55000.';

CREATE FUNCTION ticket.retry_dead_refunds(concert_id bigint)
RETURNS integer
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.retry_dead_refunds(concert_id bigint) IS 'Router: runs on its concert''s shard. Re-drives every dead-lettered refund of a concert (ticket.retry_dead); returns how many.';

CREATE FUNCTION ticket_router.rotate_pass_key_all(retire_after interval)
RETURNS SETOF integer
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ALL; SELECT * FROM ticket.rotate_pass_key(retire_after); $$;
COMMENT ON FUNCTION ticket_router.rotate_pass_key_all(retire_after interval) IS 'ticket.rotate_pass_key on every shard, for the router''s ticket.rotate_pass_key.';
CREATE FUNCTION ticket.rotate_pass_key(retire_after interval DEFAULT '01:00:00'::interval)
RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_catalog.max(r) FROM ticket_router.rotate_pass_key_all(retire_after) AS r $$;
COMMENT ON FUNCTION ticket.rotate_pass_key(retire_after interval) IS 'Router: runs on every shard; the highest of their answers. Adds a new pass key that signs from now on; the older keys keep checking their passes for retire_after, then are refused. Deletes the keys retired more than a day before.';

CREATE PROCEDURE ticket.run_admission(IN steps integer DEFAULT 60)
LANGUAGE plpgsql
AS $$
#variable_conflict use_variable
DECLARE
	stop_at timestamptz := pg_catalog.date_trunc('minute', pg_catalog.clock_timestamp()) OPERATOR(pg_catalog.+) interval '59.5 seconds';
	i integer := 0;
	s double precision;
BEGIN
	/* ticket's bounds (src/queue.sql, run_admission): a pg_cron job's minute */
	IF steps IS NULL THEN
		RAISE EXCEPTION 'steps must not be NULL' USING ERRCODE = '22004';
	END IF;
	IF steps OPERATOR(pg_catalog.<) 1 OR steps OPERATOR(pg_catalog.>) 60 THEN
		RAISE EXCEPTION 'steps must be between 1 and 60' USING ERRCODE = '22023';
	END IF;
	COMMIT;  -- inside a transaction block: 2D000, as the COMMITs of ticket's
	LOOP
		PERFORM ticket.admit_scheduled();
		COMMIT;
		i := i OPERATOR(pg_catalog.+) 1;
		EXIT WHEN i OPERATOR(pg_catalog.>=) steps OR pg_catalog.clock_timestamp() OPERATOR(pg_catalog.>=) stop_at;
		s := pg_catalog.date_part('epoch', pg_catalog.clock_timestamp());
		PERFORM pg_catalog.pg_sleep(1 OPERATOR(pg_catalog.-) (s OPERATOR(pg_catalog.-) pg_catalog.floor(s)));
	END LOOP;
END
$$;
COMMENT ON PROCEDURE ticket.run_admission(IN steps integer) IS 'Router: runs an admission step on every shard each second (each shard''s pg_cron job does the same for its own concerts). Runs an admission step for every scheduled concert each second, committing each, for steps seconds or to the end of the minute (what the pg_cron job calls).';

CREATE FUNCTION ticket.sales_by_hour(concert_id bigint)
RETURNS TABLE(hour timestamp with time zone, orders bigint, seats bigint, revenue numeric, refunds numeric, fees numeric)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.sales_by_hour(concert_id bigint) IS 'Router: runs on its concert''s shard. For the box office: per hour, orders paid, their seats and what they captured, refunds that went through, and fees kept by buyers'' cancellations.';

CREATE FUNCTION ticket.sales_by_section(concert_id bigint)
RETURNS TABLE(section_id integer, name text, price numeric, capacity integer, sold bigint, orders bigint, revenue numeric, given_back bigint, refunds numeric, fees numeric)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.sales_by_section(concert_id bigint) IS 'Router: runs on its concert''s shard. For the box office: per section, seats sold now, the orders they belong to and their revenue, and the buyers'' cancellations: seats given back, refunds and fees (each cancellation''s shared among its seats by price).';

CREATE FUNCTION ticket.schedule_admission(concert_id bigint)
RETURNS bigint
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.schedule_admission(concert_id bigint) IS 'Router: runs on its concert''s shard. Has pg_cron run a concert''s admission: one job, ticket-admission, steps every scheduled concert each second (pg_cron 1.4: a per-minute job that steps 60 times). Returns the job id.';

CREATE FUNCTION ticket.seat_map(concert_id bigint, section_id integer)
RETURNS TABLE(row_label text, seats text, available integer, held integer, sold integer)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.seat_map(concert_id bigint, section_id integer) IS 'Router: runs on its concert''s shard. Draws a section in psql: one line per row (standing: per 50 places), . available, h held, x sold.';

CREATE FUNCTION ticket.start_compensation(order_id bigint, reason text)
RETURNS bigint
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_id(order_id); $$;
COMMENT ON FUNCTION ticket.start_compensation(order_id bigint, reason text) IS 'Router: runs on the shard named by order_id. Starts (or finds) the compensation of an order and returns its saga_id; NULL when the order is undone already. ticket.compensate runs it.';

CREATE FUNCTION ticket_router.unblock_user_all(user_id text)
RETURNS SETOF boolean
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ALL; SELECT * FROM ticket.unblock_user(user_id); $$;
COMMENT ON FUNCTION ticket_router.unblock_user_all(user_id text) IS 'ticket.unblock_user on every shard, for the router''s ticket.unblock_user.';
CREATE FUNCTION ticket.unblock_user(user_id text)
RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_catalog.bool_or(r) FROM ticket_router.unblock_user_all(user_id) AS r $$;
COMMENT ON FUNCTION ticket.unblock_user(user_id text) IS 'Router: runs on every shard; true if any is true of their answers. Takes a user off the blocklist; returns false if they were not on it.';

CREATE FUNCTION ticket.unschedule_admission(concert_id bigint)
RETURNS boolean
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.unschedule_admission(concert_id bigint) IS 'Router: runs on its concert''s shard. Stops pg_cron admitting for a concert (removing the job when no concert needs it); returns whether it was scheduled.';

CREATE FUNCTION ticket.update_concert(concert_id bigint, title text DEFAULT NULL::text, venue text DEFAULT NULL::text, starts_at timestamp with time zone DEFAULT NULL::timestamp with time zone, sale_opens_at timestamp with time zone DEFAULT NULL::timestamp with time zone, sale_closes_at timestamp with time zone DEFAULT NULL::timestamp with time zone, hold_ttl interval DEFAULT NULL::interval, per_user_limit integer DEFAULT NULL::integer, admit_rate integer DEFAULT NULL::integer, admission_ttl interval DEFAULT NULL::interval, max_active integer DEFAULT NULL::integer, queue boolean DEFAULT NULL::boolean, pow_bits integer DEFAULT NULL::integer, payment_timeout interval DEFAULT NULL::interval, payment_attempts integer DEFAULT NULL::integer, accept_late_payments boolean DEFAULT NULL::boolean, announce_at timestamp with time zone DEFAULT NULL::timestamp with time zone, cancellable boolean DEFAULT NULL::boolean, cancel_until interval DEFAULT NULL::interval, cancel_fee_percent numeric DEFAULT NULL::numeric, cancel_fee_fixed numeric DEFAULT NULL::numeric, durable_holds boolean DEFAULT NULL::boolean)
RETURNS void
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.update_concert(concert_id bigint, title text, venue text, starts_at timestamp with time zone, sale_opens_at timestamp with time zone, sale_closes_at timestamp with time zone, hold_ttl interval, per_user_limit integer, admit_rate integer, admission_ttl interval, max_active integer, queue boolean, pow_bits integer, payment_timeout interval, payment_attempts integer, accept_late_payments boolean, announce_at timestamp with time zone, cancellable boolean, cancel_until interval, cancel_fee_percent numeric, cancel_fee_fixed numeric, durable_holds boolean) IS 'Router: runs on its concert''s shard. Changes a concert''s settings; NULL keeps a setting, max_active => 0 removes the cap.';

CREATE FUNCTION ticket.update_section(concert_id bigint, section_id integer, name text DEFAULT NULL::text, grade text DEFAULT NULL::text, price numeric DEFAULT NULL::numeric)
RETURNS void
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ticket_router.shard_of_concert(concert_id); $$;
COMMENT ON FUNCTION ticket.update_section(concert_id bigint, section_id integer, name text, grade text, price numeric) IS 'Router: runs on its concert''s shard. Renames, regrades or re-prices a section (NULL keeps a setting) while none of its seats is sold, and re-prices only while none is held or in an order.';

CREATE FUNCTION ticket_router.user_history_all(user_id text, max_rows integer)
RETURNS TABLE(at timestamp with time zone, concert_id bigint, what text, ref_id bigint, detail text)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ALL; SELECT * FROM ticket.user_history(user_id, max_rows); $$;
COMMENT ON FUNCTION ticket_router.user_history_all(user_id text, max_rows integer) IS 'ticket.user_history on every shard, for the router''s ticket.user_history.';
CREATE FUNCTION ticket.user_history(user_id text, max_rows integer DEFAULT 200)
RETURNS TABLE(at timestamp with time zone, concert_id bigint, what text, ref_id bigint, detail text)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM ticket_router.user_history_all(user_id, max_rows) AS r ORDER BY r.at DESC, r.ref_id DESC LIMIT GREATEST(user_history.max_rows, 1) $$;
COMMENT ON FUNCTION ticket.user_history(user_id text, max_rows integer) IS 'Router: runs on every shard, merged (docs/scaling.md). For support staff: one user''s holds, orders, payments, cancellations and block, across concerts, oldest first (max_rows of them).';

CREATE FUNCTION ticket.verify(concert_id bigint DEFAULT NULL::bigint)
RETURNS TABLE(concert_id bigint, violation text, detail text)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ALL; $$;
COMMENT ON FUNCTION ticket.verify(concert_id bigint) IS 'Router: runs on every shard; the rows of all of them. Checks the invariants of one concert (or all): returns one row per violation, none when all is well.';

/* Views: every shard's rows. */
CREATE FUNCTION ticket_router.concerts_all()
RETURNS TABLE(concert_id bigint, title text, venue text, state ticket.concert_state, starts_at timestamp with time zone, sale_opens_at timestamp with time zone, sale_closes_at timestamp with time zone, sections integer, capacity integer, available bigint, held bigint, sold bigint, revenue numeric(14,2))
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ALL; SELECT * FROM ticket.concerts; $$;
CREATE VIEW ticket.concerts AS SELECT r.concert_id::bigint AS concert_id, r.title::text AS title, r.venue::text AS venue, r.state::ticket.concert_state AS state, r.starts_at::timestamp with time zone AS starts_at, r.sale_opens_at::timestamp with time zone AS sale_opens_at, r.sale_closes_at::timestamp with time zone AS sale_closes_at, r.sections::integer AS sections, r.capacity::integer AS capacity, r.available::bigint AS available, r.held::bigint AS held, r.sold::bigint AS sold, r.revenue::numeric(14,2) AS revenue FROM ticket_router.concerts_all() AS r;
COMMENT ON FUNCTION ticket_router.concerts_all() IS 'The rows of view ticket.concerts on every shard.';
COMMENT ON VIEW ticket.concerts IS 'Router: every shard''s rows. Each concert with its state (closed once sale_closes_at has passed), sale window and capacity by seat state.';

CREATE FUNCTION ticket_router.dashboard_all()
RETURNS TABLE(concert_id bigint, title text, state ticket.concert_state, waiting bigint, admitted bigint, active_holds bigint, capacity integer, available bigint, held bigint, sold bigint, orders_pending bigint, orders_paid bigint, revenue numeric(14,2), sales_per_minute bigint, compensations bigint, compensations_running bigint, refunds bigint, dead_letters bigint, sell_out_eta interval, as_of timestamp with time zone, admit_rate integer, effective_rate numeric, rate_reason text, payments_due bigint, payment_backlog_seconds numeric)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ALL; SELECT * FROM ticket.dashboard; $$;
CREATE VIEW ticket.dashboard AS SELECT r.concert_id::bigint AS concert_id, r.title::text AS title, r.state::ticket.concert_state AS state, r.waiting::bigint AS waiting, r.admitted::bigint AS admitted, r.active_holds::bigint AS active_holds, r.capacity::integer AS capacity, r.available::bigint AS available, r.held::bigint AS held, r.sold::bigint AS sold, r.orders_pending::bigint AS orders_pending, r.orders_paid::bigint AS orders_paid, r.revenue::numeric(14,2) AS revenue, r.sales_per_minute::bigint AS sales_per_minute, r.compensations::bigint AS compensations, r.compensations_running::bigint AS compensations_running, r.refunds::bigint AS refunds, r.dead_letters::bigint AS dead_letters, r.sell_out_eta::interval AS sell_out_eta, r.as_of::timestamp with time zone AS as_of, r.admit_rate::integer AS admit_rate, r.effective_rate::numeric AS effective_rate, r.rate_reason::text AS rate_reason, r.payments_due::bigint AS payments_due, r.payment_backlog_seconds::numeric AS payment_backlog_seconds FROM ticket_router.dashboard_all() AS r;
COMMENT ON FUNCTION ticket_router.dashboard_all() IS 'The rows of view ticket.dashboard on every shard.';
COMMENT ON VIEW ticket.dashboard IS 'Router: every shard''s rows. One row per concert for an operator''s \watch 1: waiting and admitted (waiting rooms), active holds, seats available/held/sold of capacity, orders pending and paid, revenue (paid orders), sales_per_minute (seats paid in the last minute), compensations done and running, refunds paid back, dead-lettered payment jobs, sell_out_eta at the last minute''s pace; admit_rate (the ceiling), effective_rate and rate_reason (back-pressure, pause, cap), payments_due and payment_backlog_seconds (charges waiting for an adapter, and how long the oldest has waited); all read from one snapshot taken at as_of. Planned without JIT.';

CREATE FUNCTION ticket_router.queues_all()
RETURNS TABLE(concert_id bigint, title text, concert_state ticket.concert_state, scheduled boolean, entries bigint, prequeue bigint, waiting bigint, unplaced bigint, admitted_through bigint, admitted bigint, last_place bigint, departed bigint, admit_rate integer, max_active integer, last_tick timestamp with time zone, paused_since timestamp with time zone, sold_out_at timestamp with time zone, seed_hash text, seed text, drawn_at timestamp with time zone, drawn bigint, effective_rate numeric, rate_reason text, admission_paused_at timestamp with time zone, pace numeric)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ALL; SELECT * FROM ticket.queues; $$;
CREATE VIEW ticket.queues AS SELECT r.concert_id::bigint AS concert_id, r.title::text AS title, r.concert_state::ticket.concert_state AS concert_state, r.scheduled::boolean AS scheduled, r.entries::bigint AS entries, r.prequeue::bigint AS prequeue, r.waiting::bigint AS waiting, r.unplaced::bigint AS unplaced, r.admitted_through::bigint AS admitted_through, r.admitted::bigint AS admitted, r.last_place::bigint AS last_place, r.departed::bigint AS departed, r.admit_rate::integer AS admit_rate, r.max_active::integer AS max_active, r.last_tick::timestamp with time zone AS last_tick, r.paused_since::timestamp with time zone AS paused_since, r.sold_out_at::timestamp with time zone AS sold_out_at, r.seed_hash::text AS seed_hash, r.seed::text AS seed, r.drawn_at::timestamp with time zone AS drawn_at, r.drawn::bigint AS drawn, r.effective_rate::numeric AS effective_rate, r.rate_reason::text AS rate_reason, r.admission_paused_at::timestamp with time zone AS admission_paused_at, r.pace::numeric AS pace FROM ticket_router.queues_all() AS r;
COMMENT ON FUNCTION ticket_router.queues_all() IS 'The rows of view ticket.queues on every shard.';
COMMENT ON VIEW ticket.queues IS 'Router: every shard''s rows. One row per waiting room: entries, how many wait (unplaced: joined since the last admission step), were admitted; the draw''s seed hash (published before opening) and, once drawn, its seed; effective_rate (admissions/s the last step used: admit_rate, or less), rate_reason (why it is lower), admission_paused_at (pause_admission), pace (admitted/s actually, smoothed). Counts rows: an admin''s view.';

CREATE FUNCTION ticket_router.sections_all()
RETURNS TABLE(concert_id bigint, section_id integer, name text, grade text, price numeric(12,2), seated boolean, seat_rows integer, seats_per_row integer, capacity integer, available bigint, held bigint, sold bigint)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON ALL; SELECT * FROM ticket.sections; $$;
CREATE VIEW ticket.sections AS SELECT r.concert_id::bigint AS concert_id, r.section_id::integer AS section_id, r.name::text AS name, r.grade::text AS grade, r.price::numeric(12,2) AS price, r.seated::boolean AS seated, r.seat_rows::integer AS seat_rows, r.seats_per_row::integer AS seats_per_row, r.capacity::integer AS capacity, r.available::bigint AS available, r.held::bigint AS held, r.sold::bigint AS sold FROM ticket_router.sections_all() AS r;
COMMENT ON FUNCTION ticket_router.sections_all() IS 'The rows of view ticket.sections on every shard.';
COMMENT ON VIEW ticket.sections IS 'Router: every shard''s rows. Each section with its price and how many of its seats are available, held and sold (expired holds count as available).';

/* Grants: what ticket grants, to the same roles. */
REVOKE ALL ON FUNCTION ticket_router.shard_of_id(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.shard_of_id(bigint) TO ticket_adapter, ticket_admin, ticket_customer, ticket_monitor;
REVOKE ALL ON FUNCTION ticket.add_section(concert_id bigint, name text, grade text, price numeric, seat_rows integer, seats_per_row integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.add_section(concert_id bigint, name text, grade text, price numeric, seat_rows integer, seats_per_row integer) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.add_standing(concert_id bigint, name text, grade text, price numeric, capacity integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.add_standing(concert_id bigint, name text, grade text, price numeric, capacity integer) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.admit(concert_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.admit(concert_id bigint) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket_router.admit_scheduled_all() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.admit_scheduled_all() TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.admit_scheduled() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.admit_scheduled() TO ticket_admin;
REVOKE ALL ON FUNCTION ticket_router.block_user_all(user_id text, reason text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.block_user_all(user_id text, reason text) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.block_user(user_id text, reason text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.block_user(user_id text, reason text) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket_router.browse_concerts_all() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.browse_concerts_all() TO ticket_admin, ticket_customer;
REVOKE ALL ON FUNCTION ticket.browse_concerts() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.browse_concerts() TO ticket_admin, ticket_customer;
REVOKE ALL ON FUNCTION ticket.browse_seats(concert_id bigint, section_id integer, only_free boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.browse_seats(concert_id bigint, section_id integer, only_free boolean) TO ticket_admin, ticket_customer;
REVOKE ALL ON FUNCTION ticket.browse_sections(concert_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.browse_sections(concert_id bigint) TO ticket_admin, ticket_customer;
REVOKE ALL ON FUNCTION ticket.cancel_concert(concert_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.cancel_concert(concert_id bigint) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.cancel_order(order_id bigint, user_id text, idempotency_key text, seat_ids integer[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.cancel_order(order_id bigint, user_id text, idempotency_key text, seat_ids integer[]) TO ticket_customer;
REVOKE ALL ON FUNCTION ticket.challenge(concert_id bigint, user_id text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.challenge(concert_id bigint, user_id text) TO ticket_customer;
REVOKE ALL ON FUNCTION ticket.check_pass(pass text, concert_id bigint, user_id text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.check_pass(pass text, concert_id bigint, user_id text) TO ticket_admin, ticket_customer;
REVOKE ALL ON FUNCTION ticket.checkout(hold_id bigint, user_id text, idempotency_key text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.checkout(hold_id bigint, user_id text, idempotency_key text) TO ticket_customer;
REVOKE ALL ON FUNCTION ticket.claim_payments(adapter text, max_jobs integer, lease interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.claim_payments(adapter text, max_jobs integer, lease interval) TO ticket_adapter;
REVOKE ALL ON FUNCTION ticket.close_sale(concert_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.close_sale(concert_id bigint) TO ticket_admin;
REVOKE ALL ON PROCEDURE ticket.compensate(IN order_id bigint, IN reason text) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE ticket.compensate(IN order_id bigint, IN reason text) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.compensation_step(saga_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.compensation_step(saga_id bigint) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket_router.counters_all(OUT counter text, OUT value bigint, OUT since timestamp with time zone) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.counters_all(OUT counter text, OUT value bigint, OUT since timestamp with time zone) TO ticket_admin, ticket_monitor;
REVOKE ALL ON FUNCTION ticket.counters(OUT counter text, OUT value bigint, OUT since timestamp with time zone) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.counters(OUT counter text, OUT value bigint, OUT since timestamp with time zone) TO ticket_admin, ticket_monitor;
REVOKE ALL ON FUNCTION ticket_router.create_concert_on(integer, title text, starts_at timestamp with time zone, sale_opens_at timestamp with time zone, venue text, sale_closes_at timestamp with time zone, hold_ttl interval, per_user_limit integer, admit_rate integer, admission_ttl interval, max_active integer, queue boolean, pow_bits integer, payment_timeout interval, payment_attempts integer, accept_late_payments boolean, announce_at timestamp with time zone, cancellable boolean, cancel_until interval, cancel_fee_percent numeric, cancel_fee_fixed numeric, durable_holds boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.create_concert_on(integer, title text, starts_at timestamp with time zone, sale_opens_at timestamp with time zone, venue text, sale_closes_at timestamp with time zone, hold_ttl interval, per_user_limit integer, admit_rate integer, admission_ttl interval, max_active integer, queue boolean, pow_bits integer, payment_timeout interval, payment_attempts integer, accept_late_payments boolean, announce_at timestamp with time zone, cancellable boolean, cancel_until interval, cancel_fee_percent numeric, cancel_fee_fixed numeric, durable_holds boolean) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.create_concert(title text, starts_at timestamp with time zone, sale_opens_at timestamp with time zone, venue text, sale_closes_at timestamp with time zone, hold_ttl interval, per_user_limit integer, admit_rate integer, admission_ttl interval, max_active integer, queue boolean, pow_bits integer, payment_timeout interval, payment_attempts integer, accept_late_payments boolean, announce_at timestamp with time zone, cancellable boolean, cancel_until interval, cancel_fee_percent numeric, cancel_fee_fixed numeric, durable_holds boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.create_concert(title text, starts_at timestamp with time zone, sale_opens_at timestamp with time zone, venue text, sale_closes_at timestamp with time zone, hold_ttl interval, per_user_limit integer, admit_rate integer, admission_ttl interval, max_active integer, queue boolean, pow_bits integer, payment_timeout interval, payment_attempts integer, accept_late_payments boolean, announce_at timestamp with time zone, cancellable boolean, cancel_until interval, cancel_fee_percent numeric, cancel_fee_fixed numeric, durable_holds boolean) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket_router.delete_concert_on(integer, concert_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.delete_concert_on(integer, concert_id bigint) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.delete_concert(concert_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.delete_concert(concert_id bigint) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.draw_order(concert_id bigint, seed bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.draw_order(concert_id bigint, seed bytea) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.events_since(after_id bigint, max_events integer, of_concert bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.events_since(after_id bigint, max_events integer, of_concert bigint) TO ticket_adapter, ticket_admin;
REVOKE ALL ON FUNCTION ticket_router.health_on(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.health_on(integer) TO ticket_admin, ticket_monitor;
REVOKE ALL ON FUNCTION ticket.health() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.health() TO ticket_admin, ticket_monitor;
REVOKE ALL ON FUNCTION ticket.hold(concert_id bigint, user_id text, seat_ids integer[], idempotency_key text, client_key text, pass text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.hold(concert_id bigint, user_id text, seat_ids integer[], idempotency_key text, client_key text, pass text) TO ticket_customer;
REVOKE ALL ON FUNCTION ticket.hold_best(concert_id bigint, user_id text, section_id integer, quantity integer, adjacent boolean, idempotency_key text, client_key text, pass text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.hold_best(concert_id bigint, user_id text, section_id integer, quantity integer, adjacent boolean, idempotency_key text, client_key text, pass text) TO ticket_customer;
REVOKE ALL ON FUNCTION ticket.join_queue(concert_id bigint, user_id text, client_key text, challenge text, solution text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.join_queue(concert_id bigint, user_id text, client_key text, challenge text, solution text) TO ticket_customer;
REVOKE ALL ON FUNCTION ticket.leave_queue(concert_id bigint, user_id text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.leave_queue(concert_id bigint, user_id text) TO ticket_customer;
REVOKE ALL ON FUNCTION ticket_router.maintenance_all(task text, batch_size integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.maintenance_all(task text, batch_size integer) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.maintenance(task text, batch_size integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.maintenance(task text, batch_size integer) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket_router.metrics_on(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.metrics_on(integer) TO ticket_admin, ticket_monitor;
REVOKE ALL ON FUNCTION ticket.metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.metrics() TO ticket_admin, ticket_monitor;
REVOKE ALL ON FUNCTION ticket.my_events(user_id text, after_id bigint, max_rows integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.my_events(user_id text, after_id bigint, max_rows integer) TO ticket_admin, ticket_customer;
REVOKE ALL ON FUNCTION ticket_router.my_holds_on(integer, user_id text, concert_id bigint, before_hold_id bigint, max_rows integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.my_holds_on(integer, user_id text, concert_id bigint, before_hold_id bigint, max_rows integer) TO ticket_admin, ticket_customer;
REVOKE ALL ON FUNCTION ticket_router.my_holds_all(user_id text, concert_id bigint, before_hold_id bigint, max_rows integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.my_holds_all(user_id text, concert_id bigint, before_hold_id bigint, max_rows integer) TO ticket_admin, ticket_customer;
REVOKE ALL ON FUNCTION ticket.my_holds(user_id text, concert_id bigint, before_hold_id bigint, max_rows integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.my_holds(user_id text, concert_id bigint, before_hold_id bigint, max_rows integer) TO ticket_admin, ticket_customer;
REVOKE ALL ON FUNCTION ticket_router.my_orders_on(integer, user_id text, concert_id bigint, before_order_id bigint, max_rows integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.my_orders_on(integer, user_id text, concert_id bigint, before_order_id bigint, max_rows integer) TO ticket_admin, ticket_customer;
REVOKE ALL ON FUNCTION ticket_router.my_orders_all(user_id text, concert_id bigint, before_order_id bigint, max_rows integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.my_orders_all(user_id text, concert_id bigint, before_order_id bigint, max_rows integer) TO ticket_admin, ticket_customer;
REVOKE ALL ON FUNCTION ticket.my_orders(user_id text, concert_id bigint, before_order_id bigint, max_rows integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.my_orders(user_id text, concert_id bigint, before_order_id bigint, max_rows integer) TO ticket_admin, ticket_customer;
REVOKE ALL ON FUNCTION ticket.open_sale(concert_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.open_sale(concert_id bigint) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.order_status(order_id bigint, user_id text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.order_status(order_id bigint, user_id text) TO ticket_admin, ticket_customer;
REVOKE ALL ON FUNCTION ticket.pause_admission(concert_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.pause_admission(concert_id bigint) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.payment_failed(payment_id bigint, reason text, retryable boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.payment_failed(payment_id bigint, reason text, retryable boolean) TO ticket_adapter;
REVOKE ALL ON FUNCTION ticket.payment_succeeded(payment_id bigint, provider_ref text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.payment_succeeded(payment_id bigint, provider_ref text) TO ticket_adapter;
REVOKE ALL ON FUNCTION ticket_router.preloaded_all() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.preloaded_all() TO ticket_adapter, ticket_admin, ticket_customer, ticket_monitor;
REVOKE ALL ON FUNCTION ticket.preloaded() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.preloaded() TO ticket_adapter, ticket_admin, ticket_customer, ticket_monitor;
REVOKE ALL ON FUNCTION ticket_router.publish_events_all(max_events integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.publish_events_all(max_events integer) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.publish_events(max_events integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.publish_events(max_events integer) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.queue_status(concert_id bigint, user_id text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.queue_status(concert_id bigint, user_id text) TO ticket_admin, ticket_customer;
REVOKE ALL ON FUNCTION ticket.release(hold_id bigint, user_id text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.release(hold_id bigint, user_id text) TO ticket_customer;
REVOKE ALL ON FUNCTION ticket.remove_section(concert_id bigint, section_id integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.remove_section(concert_id bigint, section_id integer) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket_router.report_payments_on(integer, reports jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.report_payments_on(integer, reports jsonb) TO ticket_adapter;
REVOKE ALL ON FUNCTION ticket.report_payments(reports jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.report_payments(reports jsonb) TO ticket_adapter;
REVOKE ALL ON FUNCTION ticket.resume_admission(concert_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.resume_admission(concert_id bigint) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.retry_dead(payment_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.retry_dead(payment_id bigint) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.retry_dead_refunds(concert_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.retry_dead_refunds(concert_id bigint) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket_router.rotate_pass_key_all(retire_after interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.rotate_pass_key_all(retire_after interval) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.rotate_pass_key(retire_after interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.rotate_pass_key(retire_after interval) TO ticket_admin;
REVOKE ALL ON PROCEDURE ticket.run_admission(IN steps integer) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE ticket.run_admission(IN steps integer) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.sales_by_hour(concert_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.sales_by_hour(concert_id bigint) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.sales_by_section(concert_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.sales_by_section(concert_id bigint) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.schedule_admission(concert_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.schedule_admission(concert_id bigint) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.seat_map(concert_id bigint, section_id integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.seat_map(concert_id bigint, section_id integer) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.start_compensation(order_id bigint, reason text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.start_compensation(order_id bigint, reason text) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket_router.unblock_user_all(user_id text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.unblock_user_all(user_id text) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.unblock_user(user_id text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.unblock_user(user_id text) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.unschedule_admission(concert_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.unschedule_admission(concert_id bigint) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.update_concert(concert_id bigint, title text, venue text, starts_at timestamp with time zone, sale_opens_at timestamp with time zone, sale_closes_at timestamp with time zone, hold_ttl interval, per_user_limit integer, admit_rate integer, admission_ttl interval, max_active integer, queue boolean, pow_bits integer, payment_timeout interval, payment_attempts integer, accept_late_payments boolean, announce_at timestamp with time zone, cancellable boolean, cancel_until interval, cancel_fee_percent numeric, cancel_fee_fixed numeric, durable_holds boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.update_concert(concert_id bigint, title text, venue text, starts_at timestamp with time zone, sale_opens_at timestamp with time zone, sale_closes_at timestamp with time zone, hold_ttl interval, per_user_limit integer, admit_rate integer, admission_ttl interval, max_active integer, queue boolean, pow_bits integer, payment_timeout interval, payment_attempts integer, accept_late_payments boolean, announce_at timestamp with time zone, cancellable boolean, cancel_until interval, cancel_fee_percent numeric, cancel_fee_fixed numeric, durable_holds boolean) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.update_section(concert_id bigint, section_id integer, name text, grade text, price numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.update_section(concert_id bigint, section_id integer, name text, grade text, price numeric) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket_router.user_history_all(user_id text, max_rows integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.user_history_all(user_id text, max_rows integer) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.user_history(user_id text, max_rows integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.user_history(user_id text, max_rows integer) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket.verify(concert_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.verify(concert_id bigint) TO ticket_admin;
REVOKE ALL ON FUNCTION ticket_router.concerts_all() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.concerts_all() TO ticket_admin;
REVOKE ALL ON ticket.concerts FROM PUBLIC;
GRANT SELECT ON ticket.concerts TO ticket_admin;
REVOKE ALL ON FUNCTION ticket_router.dashboard_all() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.dashboard_all() TO ticket_admin, ticket_monitor;
REVOKE ALL ON ticket.dashboard FROM PUBLIC;
GRANT SELECT ON ticket.dashboard TO ticket_admin, ticket_monitor;
REVOKE ALL ON FUNCTION ticket_router.queues_all() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.queues_all() TO ticket_admin;
REVOKE ALL ON ticket.queues FROM PUBLIC;
GRANT SELECT ON ticket.queues TO ticket_admin;
REVOKE ALL ON FUNCTION ticket_router.sections_all() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.sections_all() TO ticket_admin;
REVOKE ALL ON ticket.sections FROM PUBLIC;
GRANT SELECT ON ticket.sections TO ticket_admin;
