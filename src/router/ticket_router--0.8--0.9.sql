/* ticket_router--0.8--0.9.sql: from 0.8 to 0.9 */

\echo Use "ALTER EXTENSION ticket_router UPDATE TO '0.9'" to load this file. \quit

/*
 * 0.9: the router checks that partition pk of server ticket_shards is the
 * database of ticket.set_shard(k) (ticket 0.9's ticket.shard()): create_concert
 * refuses a partition out of order (55000) before it creates anything, and
 * ticket.health() has a row per partition.  The shards need ticket 0.9.
 */

CREATE FUNCTION ticket_router.shard_on(shard integer)
RETURNS integer
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$ CLUSTER 'ticket_shards'; RUN ON shard; SELECT ticket.shard(); $$;
COMMENT ON FUNCTION ticket_router.shard_on(integer) IS
	'Which shard partition pk of server ticket_shards says it is (ticket.shard() there): k when the partitions are in shard order.';

CREATE FUNCTION ticket_router.check_partition(shard integer)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k integer := ticket_router.shard_on(shard);
BEGIN
	IF k IS DISTINCT FROM shard THEN
		RAISE EXCEPTION 'partition p% of server ticket_shards is shard %, not shard %', shard, k, shard
			USING ERRCODE = '55000',
			DETAIL = 'An id names its shard (id / 10^12), so a concert made there would be routed to another database.',
			HINT = 'List the partitions in shard order: pk is the database where ticket.set_shard(k) ran (p0: a database that never called it). SELECT * FROM ticket.health() on the router checks every partition.';
	END IF;
END
$$;
COMMENT ON FUNCTION ticket_router.check_partition(integer) IS
	'Raises 55000 unless partition pk of server ticket_shards is shard k (ticket.shard() there).';

REVOKE ALL ON FUNCTION ticket_router.shard_on(integer), ticket_router.check_partition(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.check_partition(integer) TO ticket_admin;
GRANT EXECUTE ON FUNCTION ticket_router.shard_on(integer) TO ticket_admin, ticket_monitor;

CREATE OR REPLACE FUNCTION ticket.create_concert(title text, starts_at timestamp with time zone, sale_opens_at timestamp with time zone, venue text DEFAULT NULL::text, sale_closes_at timestamp with time zone DEFAULT NULL::timestamp with time zone, hold_ttl interval DEFAULT '00:10:00'::interval, per_user_limit integer DEFAULT 4, admit_rate integer DEFAULT 100, admission_ttl interval DEFAULT '00:15:00'::interval, max_active integer DEFAULT NULL::integer, queue boolean DEFAULT false, pow_bits integer DEFAULT 0, payment_timeout interval DEFAULT '00:10:00'::interval, payment_attempts integer DEFAULT 5, accept_late_payments boolean DEFAULT true, announce_at timestamp with time zone DEFAULT NULL::timestamp with time zone, cancellable boolean DEFAULT false, cancel_until interval DEFAULT '48:00:00'::interval, cancel_fee_percent numeric DEFAULT 0, cancel_fee_fixed numeric DEFAULT 0, durable_holds boolean DEFAULT true)
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

CREATE OR REPLACE FUNCTION ticket.health()
RETURNS TABLE(check_name text, ok boolean, detail text)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT h.check_name, h.ok, pg_catalog.format('shard %s: %s', s, h.detail) FROM ticket_router.shards() AS s, LATERAL ticket_router.health_on(s) AS h UNION ALL SELECT 'partition is its shard', k IS NOT DISTINCT FROM s, pg_catalog.format('shard %s: partition p%s is the database of set_shard(%s)', s, s, k) FROM ticket_router.shards() AS s, LATERAL ticket_router.shard_on(s) AS k $$;
COMMENT ON FUNCTION ticket.health() IS 'Router: runs on every shard, merged (docs/scaling.md); and one row per partition pK of server ticket_shards, true when it is the database of set_shard(K) (ticket.shard() there). Each shard''s rows as its own health() gives them. One row per check, for an operator or a probe: library preloaded, a ticket worker serving this database, each scheduled admission''s last step (and the pg_cron job), the payment backlog, unpublished events. Answers as the owner, so ticket_admin and ticket_monitor need no access to pg_stat_activity or pg_cron.';
