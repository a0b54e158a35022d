-- Cases for test/lint --self-test: an install script.  Each line that must be
-- found says so; every other line must pass.
CREATE TABLE ticket.t (id bigint PRIMARY KEY, owner text);
CREATE TABLE t2 (id bigint); -- expect: unqualified
CREATE TABLE IF NOT EXISTS ticket.t3 (id bigint); -- expect: if-not-exists
CREATE INDEX t_owner_idx ON ticket.t (owner);
CREATE INDEX t_owner2_idx ON t (owner); -- expect: unqualified
CREATE VIEW ticket.v AS SELECT x.id FROM ticket.t AS x JOIN t AS y USING (id); -- expect: unqualified
CREATE OR REPLACE VIEW ticket.v2 AS SELECT 1 AS one; -- expect: or-replace

CREATE FUNCTION ticket.good(n bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM ticket.t AS x WHERE x.id = n) THEN
		INSERT INTO ticket.t (id) VALUES (n);
	END IF;
	RETURN extract(epoch FROM now())::bigint + (SELECT count(*) FROM ticket.t);
END
$$;

CREATE FUNCTION ticket.no_path(n bigint) RETURNS bigint -- expect: definer-path
LANGUAGE sql SECURITY DEFINER
AS $$ SELECT n $$;

CREATE FUNCTION ticket.other_path(n bigint) RETURNS bigint -- expect: definer-path
LANGUAGE sql
SET search_path = public, pg_catalog
AS $$ SELECT n $$;

CREATE FUNCTION ticket.leaky(n bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r bigint;
BEGIN
	SELECT count(*) INTO r FROM t; -- expect: unqualified
	UPDATE t SET owner = 'x'; -- expect: unqualified
	DELETE FROM t WHERE id = n; -- expect: unqualified
	EXECUTE format('DELETE FROM %I', 't'); -- expect: dynamic-sql
	RETURN r;
END
$$;

CREATE OR REPLACE FUNCTION ticket.replaced() RETURNS int -- expect: or-replace
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$ SELECT 1 $$;

CREATE PROCEDURE ticket.batches()
LANGUAGE plpgsql
AS $$
BEGIN
	PERFORM ticket.good(1);
	COMMIT;
	PERFORM pg_catalog.pg_sleep(0 OPERATOR(pg_catalog.+) 1);
	PERFORM pg_sleep(1); -- expect: do-operator
	PERFORM ticket.good(1 + 1); -- expect: do-operator
END
$$;

DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'x') THEN
		RAISE NOTICE 'x' USING ERRCODE = '22023';
	END IF;
	IF (SELECT count(*) FROM pg_catalog.pg_roles) > 0 THEN -- expect: do-operator do-operator
		CREATE ROLE y;
	END IF;
END
$$;

CREATE TRIGGER t_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ticket.t
	FOR EACH STATEMENT EXECUTE FUNCTION ticket.good();
COMMENT ON TABLE ticket.t IS 'a table';
COMMENT ON TABLE t IS 'a table'; -- expect: unqualified
REVOKE ALL ON ALL TABLES IN SCHEMA ticket FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.good(bigint), leaky(bigint) TO PUBLIC; -- expect: unqualified
GRANT SELECT ON ticket.t TO PUBLIC;
