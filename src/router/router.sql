/*
 * src/router/router.sql: the router's own objects.  A router database has
 * no tables of a sale: schema ticket holds functions of the same names,
 * signatures and grants as extension ticket's, written by
 * src/router/generate from ticket's catalog (src/router/api.sql), each of
 * which PL/Proxy runs on the shard that owns its concert or id, or on every
 * shard.  Here: the directory of concerts, the routing rules, and the
 * shards, which are the partitions of the foreign server ticket_shards
 * (docs/scaling.md shows how to define it).
 *
 * Shard k hands out ids from k * 10^12 + 1 (ticket.set_shard on the shard),
 * so a hold, order, payment, compensation or event cursor names its shard:
 * ticket_router.shard_of_id, which src/router/generate copies from
 * ticket._shard_of_id (src/shard.sql) into api.sql, so the rule has one
 * definition.
 * Concerts are in the directory, so that a concert could move; one missing
 * from it goes by its id too.
 */

DO $schema$
BEGIN
	IF EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname OPERATOR(pg_catalog.=) 'ticket') THEN
		RAISE EXCEPTION 'schema "ticket" already exists in this database'
			USING ERRCODE = '42P06',
			DETAIL = 'A router database holds the router''s schema ticket, not extension ticket: the shards hold the sale.',
			HINT = 'Create the router in a database of its own.';
	END IF;
END
$schema$;
CREATE SCHEMA ticket;

DO $roles$
BEGIN
	/* The same roles as ticket's; a login role is a member of one of them on the router and on every shard. */
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'ticket_admin') THEN
		CREATE ROLE ticket_admin NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'ticket_customer') THEN
		CREATE ROLE ticket_customer NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'ticket_adapter') THEN
		CREATE ROLE ticket_adapter NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'ticket_monitor') THEN
		CREATE ROLE ticket_monitor NOLOGIN;
	END IF;
END
$roles$;
REVOKE ALL ON SCHEMA ticket, ticket_router FROM PUBLIC;
GRANT USAGE ON SCHEMA ticket, ticket_router TO ticket_admin, ticket_customer, ticket_adapter, ticket_monitor;

CREATE TABLE ticket_router.concert_shard (
	concert_id bigint PRIMARY KEY,
	shard integer NOT NULL CHECK (shard >= 0),
	created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ticket_router.concert_shard IS
	'The directory: the shard of each concert, written by ticket.create_concert (the shard with the fewest concerts) and ticket.delete_concert.';
SELECT pg_catalog.pg_extension_config_dump('ticket_router.concert_shard', '');

CREATE FUNCTION ticket_router.shard_count()
RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n integer;
BEGIN
	SELECT pg_catalog.count(*)::integer INTO n
	  FROM pg_catalog.pg_foreign_server AS s, pg_catalog.unnest(s.srvoptions) AS o(opt)
	 WHERE s.srvname = 'ticket_shards' AND o.opt ~ '^p[0-9]+=';
	IF NOT FOUND OR n = 0 THEN
		RAISE EXCEPTION 'the router has no shards'
			USING ERRCODE = '55000',
			HINT = 'CREATE SERVER ticket_shards FOREIGN DATA WRAPPER plproxy OPTIONS (modular_mapping ''1'', p0 ''host=... dbname=...'', ...) and CREATE USER MAPPING FOR PUBLIC SERVER ticket_shards (docs/scaling.md).';
	END IF;
	RETURN n;
END
$$;
COMMENT ON FUNCTION ticket_router.shard_count() IS
	'How many shards the router has: the partitions p0, p1, ... of the foreign server ticket_shards (55000 when it has none).';

CREATE FUNCTION ticket_router.shards()
RETURNS SETOF integer
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_catalog.generate_series(0, ticket_router.shard_count() - 1) $$;
COMMENT ON FUNCTION ticket_router.shards() IS
	'The shards'' numbers, 0 to shard_count() - 1.';

CREATE FUNCTION ticket_router.shard_of_concert(concert_id bigint)
RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	s integer;
BEGIN
	SELECT d.shard INTO s FROM ticket_router.concert_shard AS d WHERE d.concert_id = concert_id;
	RETURN COALESCE(s, ticket_router.shard_of_id(concert_id));
END
$$;
COMMENT ON FUNCTION ticket_router.shard_of_concert(bigint) IS
	'A concert''s shard: from the directory, else from its id''s range (a concert the directory does not know gets its error from that shard).';

CREATE FUNCTION ticket_router.shard_of_feed(after_id bigint, of_concert bigint)
RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF of_concert IS NOT NULL THEN
		RETURN ticket_router.shard_of_concert(of_concert);
	END IF;
	RETURN ticket_router.shard_of_id(after_id);
END
$$;
COMMENT ON FUNCTION ticket_router.shard_of_feed(bigint, bigint) IS
	'Where events_since reads: the concert''s shard when one is named, else the shard of the cursor (one cursor per shard; shard k''s starts at k * 10^12).';

CREATE FUNCTION ticket_router.pick_shard()
RETURNS integer
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT (SELECT s FROM ticket_router.shards() AS s
	 ORDER BY (SELECT pg_catalog.count(*) FROM ticket_router.concert_shard AS d WHERE d.shard = s), s LIMIT 1) $$;
COMMENT ON FUNCTION ticket_router.pick_shard() IS
	'The shard a new concert goes to: the one with the fewest concerts in the directory (the lowest number on a tie).';

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

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ticket_router FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket_router.shard_count(), ticket_router.shards(),
	ticket_router.shard_of_concert(bigint), ticket_router.shard_of_feed(bigint, bigint)
	TO ticket_admin, ticket_customer, ticket_adapter, ticket_monitor;
GRANT EXECUTE ON FUNCTION ticket_router.pick_shard(), ticket_router.check_partition(integer) TO ticket_admin;
GRANT EXECUTE ON FUNCTION ticket_router.shard_on(integer) TO ticket_admin, ticket_monitor;
REVOKE ALL ON ticket_router.concert_shard FROM PUBLIC;
GRANT SELECT ON ticket_router.concert_shard TO ticket_admin, ticket_customer, ticket_adapter, ticket_monitor;
GRANT INSERT, DELETE ON ticket_router.concert_shard TO ticket_admin;

/*
 * PL/Proxy looks for a cluster in these functions when no foreign server
 * defines it: before the DBA has created server ticket_shards, every call
 * then says so (55000, with the commands) instead of PL/Proxy's internal
 * error.  Once the server exists, PL/Proxy never calls them.
 */
CREATE SCHEMA plproxy;
CREATE FUNCTION plproxy.get_cluster_version(cluster_name text)
RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF cluster_name = 'ticket_shards' THEN
		PERFORM ticket_router.shard_count();
	END IF;
	RAISE EXCEPTION 'no PL/Proxy cluster %', cluster_name USING ERRCODE = '42704';
END
$$;
COMMENT ON FUNCTION plproxy.get_cluster_version(text) IS
	'PL/Proxy''s configuration function, called only while server ticket_shards is missing: raises 55000 saying how to create it.';
CREATE FUNCTION plproxy.get_cluster_partitions(cluster_name text)
RETURNS SETOF text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT NULL::text WHERE plproxy.get_cluster_version(cluster_name) IS NULL $$;
COMMENT ON FUNCTION plproxy.get_cluster_partitions(text) IS
	'PL/Proxy''s configuration function, never reached: get_cluster_version raises first.';
CREATE FUNCTION plproxy.get_cluster_config(cluster_name text, OUT key text, OUT val text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT NULL::text, NULL::text WHERE plproxy.get_cluster_version(cluster_name) IS NULL $$;
COMMENT ON FUNCTION plproxy.get_cluster_config(text) IS
	'PL/Proxy''s configuration function, never reached: get_cluster_version raises first.';
REVOKE ALL ON SCHEMA plproxy FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA plproxy FROM PUBLIC;
GRANT USAGE ON SCHEMA plproxy TO ticket_admin, ticket_customer, ticket_adapter, ticket_monitor;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA plproxy TO ticket_admin, ticket_customer, ticket_adapter, ticket_monitor;
