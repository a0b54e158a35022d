-- Included by every file in sql/ (\i test/regress_setup.sql): a fresh
-- extension, so that each file runs alone or in any order, and err(sql),
-- which runs one statement and shows its SQLSTATE and message, so that each
-- bad input prints the code an application would branch on.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS ticket CASCADE;
CREATE EXTENSION ticket;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE FUNCTION pg_temp.err(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.err(text) TO PUBLIC;
