/*
 * src/shard.sql: a database as one shard of a sale that spans servers
 * (docs/scaling.md).  The router (extension ticket_router, src/router/)
 * sends each call to the shard that owns its concert, hold, order, payment
 * or compensation; it knows the shard from the id itself.  Shard k hands out
 * ids from k * 10^12 + 1: concert, hold, order, payment, saga and
 * cancellation ids, and the published events' event_id.  Shard 0 is what a
 * single server has always been (ids from 1), so a lone server needs none of
 * this.  Ids stay below 2^53 (shard <= 8999), so that JavaScript's numbers
 * hold them exactly.
 */

CREATE FUNCTION ticket._shard_of_id(id bigint)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT CASE WHEN id IS NULL OR id < 0 THEN 0 ELSE (id / 1000000000000)::integer END $$;
COMMENT ON FUNCTION ticket._shard_of_id(bigint) IS
	'Internal: the shard whose range holds an id (from k * 10^12 to below (k + 1) * 10^12); 0 for NULL or a negative id. The router routes by the same rule.';

CREATE FUNCTION ticket.set_shard(shard integer)
RETURNS TABLE(id text, next_value bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	lo bigint;
	seqs regclass[] := ARRAY['ticket.concert_concert_id_seq', 'ticket.hold_id_seq', 'ticket.orders_order_id_seq',
		'ticket.payment_payment_id_seq', 'ticket.saga_saga_id_seq',
		'ticket.cancellation_cancellation_id_seq']::regclass[];
	names text[] := ARRAY['concert_id', 'hold_id', 'order_id', 'payment_id', 'saga_id', 'cancellation_id'];
	i integer;
	s regclass;
	v bigint;
	head bigint;
BEGIN
	PERFORM ticket._check_range('shard', shard, 0, 8999);
	lo := shard::bigint * 1000000000000;
	/* Nothing may have been handed out outside the new range: those ids
	 * would name another shard. */
	FOREACH s IN ARRAY seqs LOOP
		v := pg_catalog.pg_sequence_last_value(s);
		IF v IS NOT NULL AND ticket._shard_of_id(v) <> shard THEN
			RAISE EXCEPTION 'this database has already handed out ids of shard %', ticket._shard_of_id(v)
				USING ERRCODE = '55000',
					DETAIL = pg_catalog.format('%s is at %s; shard %s hands out ids from %s.', s, v, shard, lo + 1),
					HINT = 'Make a database a shard before its first concert.';
		END IF;
	END LOOP;
	SELECT e.last_event_id INTO head FROM ticket.event_head AS e FOR UPDATE;
	IF EXISTS (SELECT FROM ticket.event AS x WHERE x.event_id IS NOT NULL AND ticket._shard_of_id(x.event_id) <> shard) THEN
		RAISE EXCEPTION 'this database has already published events outside shard %', shard
			USING ERRCODE = '55000', HINT = 'Make a database a shard before its first concert.';
	END IF;
	FOR i IN 1 .. pg_catalog.array_length(seqs, 1) LOOP
		s := seqs[i];
		IF pg_catalog.pg_sequence_last_value(s) IS NULL THEN
			PERFORM pg_catalog.setval(s, lo + 1, false);
		END IF;
		id := names[i];
		next_value := COALESCE(pg_catalog.pg_sequence_last_value(s) + 1, lo + 1);
		RETURN NEXT;
	END LOOP;
	IF ticket._shard_of_id(head) <> shard THEN
		UPDATE ticket.event_head AS e SET last_event_id = lo;
		head := lo;
	END IF;
	id := 'event_id';
	next_value := head + 1;
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION ticket.set_shard(integer) IS
	'Makes this database shard k of a sale routed by ticket_router: its concert, hold, order, payment, saga, cancellation and event ids start at k * 10^12 + 1. Refused (55000) once it has handed out ids of another shard. Returns the next id of each kind. For the database owner only.';

CREATE FUNCTION ticket.shard()
RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ticket._shard_of_id(s.last_value) FROM ticket.concert_concert_id_seq AS s $$;
COMMENT ON FUNCTION ticket.shard() IS
	'Which shard this database is: the k of its ticket.set_shard(k), 0 for a database that never called it. The router checks with it that its partition pk is shard k.';
