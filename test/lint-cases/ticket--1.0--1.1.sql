-- Cases for test/lint --self-test: an update script.  OR REPLACE is allowed
-- for what ticket--1.0.sql created, with the same signature, and nothing else.
CREATE OR REPLACE FUNCTION ticket.good(n bigint) RETURNS bigint
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT n $$;

CREATE OR REPLACE FUNCTION ticket.good(n integer) RETURNS bigint -- expect: or-replace
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT n::bigint $$;

CREATE OR REPLACE FUNCTION ticket.newcomer() RETURNS int -- expect: or-replace
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$ SELECT 1 $$;

CREATE SEQUENCE IF NOT EXISTS ticket.s; -- expect: if-not-exists

-- A procedure that COMMITs may be replaced too; it still names everything.
CREATE OR REPLACE PROCEDURE ticket.batches()
LANGUAGE plpgsql
AS $$
BEGIN
	PERFORM ticket.good(1);
	COMMIT;
	PERFORM pg_sleep(1); -- expect: do-operator
END
$$;
