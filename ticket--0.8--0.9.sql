/* ticket--0.8--0.9.sql: from 0.8 to 0.9 */

\echo Use "ALTER EXTENSION ticket UPDATE TO '0.9'" to load this file. \quit

/*
 * 0.9 (issue 19): a shard says which shard it is, so that the router
 * (ticket_router 0.9) can refuse a partition list out of shard order
 * before it creates a concert on the wrong shard.
 */

CREATE FUNCTION ticket.shard()
RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ticket._shard_of_id(s.last_value) FROM ticket.concert_concert_id_seq AS s $$;
COMMENT ON FUNCTION ticket.shard() IS
	'Which shard this database is: the k of its ticket.set_shard(k), 0 for a database that never called it. The router checks with it that its partition pk is shard k.';
REVOKE ALL ON FUNCTION ticket.shard() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.shard() TO ticket_admin, ticket_monitor;
