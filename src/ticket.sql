\echo Use "CREATE EXTENSION ticket" to load this file. \quit

/*
 * src/ticket.sql: the head of the install script.  make builds
 * ticket--<default_version>.sql from the files named in the Makefile's
 * SQL_SOURCES, in that order, each beside the C of its capability: this one
 * is the schema guard, the roles, and the entry points of src/ticket.c (the
 * preload guard, the shared-memory counters, the trigger that drops every
 * backend's caches when a table they cache changes).
 */

/*
 * Conventions of this script
 *
 * - Every table is written only through the functions below.  They are
 *   SECURITY DEFINER, owned by the superuser who ran CREATE EXTENSION, and
 *   pin search_path = pg_catalog, pg_temp: built-in functions and operators
 *   resolve in pg_catalog, and nothing from a caller's schema is ever
 *   looked up (pg_temp is searched for relations only, and named last).
 *   Relations and the extension's own functions are always schema-qualified.
 * - Catalogue functions use "#variable_conflict use_variable": an unqualified
 *   name is the parameter, a column is always written with its table alias.
 * - Bad input raises a specific SQLSTATE before anything is written:
 *   22004 NULL where a value is required, 22023 a value out of range,
 *   22001 a text too long, P0002 an unknown concert or section,
 *   23505 a duplicate name, 55000 a change the concert's state forbids.
 */

/*
 * The schema must be new.  CREATE EXTENSION creates schema ticket when it is
 * missing but quietly uses one that already exists, and whoever owns that
 * schema (or may create in it) could drop, shadow or overload what this
 * script puts there.  So: owned by the role installing, nobody else may
 * create in it, and empty.
 */
DO $schema$
DECLARE
	s pg_catalog.pg_namespace;
BEGIN
	SELECT * INTO s FROM pg_catalog.pg_namespace AS n WHERE n.nspname OPERATOR(pg_catalog.=) 'ticket';
	IF s.nspowner OPERATOR(pg_catalog.<>) (SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)
	   OR EXISTS (SELECT FROM pg_catalog.aclexplode(s.nspacl) AS a
	              WHERE a.privilege_type OPERATOR(pg_catalog.=) 'CREATE' AND a.grantee OPERATOR(pg_catalog.<>) s.nspowner)
	   OR EXISTS (SELECT FROM pg_catalog.pg_class AS c WHERE c.relnamespace OPERATOR(pg_catalog.=) s.oid)
	   OR EXISTS (SELECT FROM pg_catalog.pg_proc AS p WHERE p.pronamespace OPERATOR(pg_catalog.=) s.oid)
	   OR EXISTS (SELECT FROM pg_catalog.pg_type AS t WHERE t.typnamespace OPERATOR(pg_catalog.=) s.oid)
	   OR EXISTS (SELECT FROM pg_catalog.pg_operator AS o WHERE o.oprnamespace OPERATOR(pg_catalog.=) s.oid) THEN
		RAISE EXCEPTION 'schema "ticket" already exists and was not made for this extension'
			USING ERRCODE = '42P06',
			DETAIL = pg_catalog.format('It is owned by %s; CREATE EXTENSION ticket needs an empty schema "ticket" owned by the installing role, in which no other role may create.',
				s.nspowner::pg_catalog.regrole),
			HINT = 'Find out who made it and why; then drop or rename it, and run CREATE EXTENSION ticket again.';
	END IF;
END
$schema$;
DO $roles$
BEGIN
	/* Roles are cluster-wide: create them once, keep them across DROP EXTENSION. */
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
REVOKE ALL ON SCHEMA ticket FROM PUBLIC;
GRANT USAGE ON SCHEMA ticket TO ticket_admin, ticket_customer, ticket_adapter, ticket_monitor;

CREATE FUNCTION ticket.preloaded()
RETURNS boolean
LANGUAGE c STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ticket_preloaded';
COMMENT ON FUNCTION ticket.preloaded() IS
	'Reports whether the ticket library was loaded through shared_preload_libraries.';

CREATE FUNCTION ticket._require_preloaded(function_name text)
RETURNS void
LANGUAGE c STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ticket_require_preloaded';
COMMENT ON FUNCTION ticket._require_preloaded(text) IS
	'Internal: raises 55000 naming the function unless the library is preloaded.';

CREATE FUNCTION ticket._bump_counter(counter text, n bigint)
RETURNS void
LANGUAGE c STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ticket_bump_counter';
COMMENT ON FUNCTION ticket._bump_counter(text, bigint) IS
	'Internal: adds n to a shared-memory counter (a no-op when not preloaded).';

/*
 * A customer call from the user's rate-limit bucket (src/ratelimit.c): a
 * poll a tenth of a token, any other call one; a refusal is counted as
 * calls_rate_limited.  false: the caller answers rate_limited.
 */
CREATE FUNCTION ticket._take_call(user_id text, poll boolean)
RETURNS boolean
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_take_call_sql';
COMMENT ON FUNCTION ticket._take_call(text, boolean) IS
	'Internal: takes a customer call (a poll: a tenth) from the user''s rate-limit bucket; false, counted as calls_rate_limited, when the bucket has too little.';

CREATE FUNCTION ticket._relation_changed()
RETURNS trigger
LANGUAGE c
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ticket_relation_changed';
COMMENT ON FUNCTION ticket._relation_changed() IS
	'Internal trigger: at commit, makes every backend forget what it cached from the table (sale settings, pass keys).';

CREATE FUNCTION ticket.counters(OUT counter text, OUT value bigint, OUT since timestamptz)
RETURNS SETOF record
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ticket_counters';
COMMENT ON FUNCTION ticket.counters() IS
	'Lists the shared-memory counters since the server started; needs the library preloaded.';
