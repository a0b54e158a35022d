/*
 * src/pass.sql: signed passes and proof-of-work challenges (src/pass.c).  An
 * admitted buyer's pass is an HMAC over (concert, user, admission) that hold
 * checks without a table read; keys rotate.
 */

/*
 * Keys that sign passes (src/pass.c).  Nobody but the owner, a superuser,
 * can read this table; the C functions below read it directly.
 */
CREATE TABLE ticket.pass_key (
	key_id integer PRIMARY KEY,
	secret bytea NOT NULL CHECK (length(secret) OPERATOR(pg_catalog.=) 32),
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	retired_at timestamptz
);
COMMENT ON TABLE ticket.pass_key IS
	'Secrets that sign passes (HMAC-SHA256); the newest signs, older ones check passes until retired_at. Superusers only.';

CREATE FUNCTION ticket._random_secret()
RETURNS bytea
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ticket_random_secret';
COMMENT ON FUNCTION ticket._random_secret() IS
	'Internal: 32 bytes from the operating system''s strong random source.';
INSERT INTO ticket.pass_key (key_id, secret) VALUES (1, ticket._random_secret());

/* Key 1 is made by CREATE EXTENSION: a restore makes its own, and keeps the rest. */
SELECT pg_catalog.pg_extension_config_dump('ticket.pass_key', 'WHERE key_id OPERATOR(pg_catalog.>) 1');

CREATE TRIGGER pass_key_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ticket.pass_key
	FOR EACH STATEMENT EXECUTE FUNCTION ticket._relation_changed();

/* In every session_replication_role, as the catalogue's (src/catalogue.sql). */
ALTER TABLE ticket.pass_key ENABLE ALWAYS TRIGGER pass_key_changed;

CREATE FUNCTION ticket._sign_pass(concert_id bigint, user_id text, place bigint, expires_at timestamptz)
RETURNS text
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'ticket_sign_pass_sql';
COMMENT ON FUNCTION ticket._sign_pass(bigint, text, bigint, timestamptz) IS
	'Internal: signs a pass for a user''s place in a concert''s line with the newest key.';

CREATE FUNCTION ticket.check_pass(pass text, concert_id bigint, user_id text)
RETURNS bigint
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'ticket_check_pass_sql';
COMMENT ON FUNCTION ticket.check_pass(text, bigint, text) IS
	'Checks a pass for a concert and user and returns its place in line; raises 28000 for a malformed, forged, expired or foreign pass.';

CREATE FUNCTION ticket.rotate_pass_key(retire_after interval DEFAULT '1 hour')
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	new_id integer;
BEGIN
	PERFORM ticket._check_interval('retire_after', retire_after, '0 seconds', '7 days');
	/* One rotation at a time; passes are checked meanwhile (ROW EXCLUSIVE allows reads). */
	LOCK TABLE ticket.pass_key IN SHARE ROW EXCLUSIVE MODE;
	UPDATE ticket.pass_key AS k SET retired_at = now() + retire_after
	 WHERE k.retired_at IS NULL OR k.retired_at > now() + retire_after;
	INSERT INTO ticket.pass_key (key_id, secret)
	SELECT coalesce(max(k.key_id), 0) + 1, ticket._random_secret() FROM ticket.pass_key AS k
	RETURNING key_id INTO new_id;
	DELETE FROM ticket.pass_key AS k WHERE k.retired_at < now() - interval '1 day';
	RETURN new_id;
END
$$;
COMMENT ON FUNCTION ticket.rotate_pass_key(interval) IS
	'Adds a new pass key that signs from now on; the older keys keep checking their passes for retire_after, then are refused. Deletes the keys retired more than a day before.';
