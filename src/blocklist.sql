/*
 * src/blocklist.sql: users who may not hold seats; blocking one also takes
 * them out of every waiting room and releases their holds.
 */

CREATE TABLE ticket.blocked_user (
	user_id text PRIMARY KEY,
	reason text,
	blocked_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	blocked_by name NOT NULL DEFAULT SESSION_USER
);
COMMENT ON TABLE ticket.blocked_user IS
	'Users who may not hold seats (ticket.block_user); ticket.hold and ticket.hold_best answer blocked.';
SELECT pg_catalog.pg_extension_config_dump('ticket.blocked_user', '');

CREATE FUNCTION ticket._lock_buyer(concert_id bigint, user_id text)
RETURNS void
LANGUAGE c STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ticket_lock_buyer';
COMMENT ON FUNCTION ticket._lock_buyer(bigint, text) IS
	'Internal: takes a user''s buyer lock for a concert, waiting for their holds in flight.';

CREATE FUNCTION ticket.block_user(user_id text, reason text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c bigint;
	h bigint;
	released integer := 0;
BEGIN
	PERFORM ticket._check_text('user_id', user_id);
	PERFORM ticket._check_text('reason', reason, 200, false);
	INSERT INTO ticket.blocked_user AS b (user_id, reason) VALUES (user_id, reason)
	ON CONFLICT ON CONSTRAINT blocked_user_pkey DO NOTHING;

	/*
	 * Wait for the user's holds and joins in flight (they hold the buyer
	 * lock), then take them out of every queue and release every active
	 * hold in the same transaction: a hold that commits
	 * before this one is released here, and one that starts after sees the
	 * blocklist.
	 */
	FOR c IN SELECT k.concert_id FROM ticket.concert AS k ORDER BY k.concert_id LOOP
		PERFORM ticket._lock_buyer(c, user_id);
		IF EXISTS (SELECT FROM ticket.queue AS q WHERE q.concert_id = c) THEN
			PERFORM ticket._leave(c, user_id, 'blocked');
		END IF;
		FOR h IN SELECT x.hold_id FROM ticket.hold AS x
				  WHERE x.concert_id = c AND x.user_id = user_id AND x.state = 'active'
				  ORDER BY x.hold_id LOOP
			PERFORM ticket.release(h, user_id);
			released := released + 1;
		END LOOP;
	END LOOP;
	RETURN released;
END
$$;
COMMENT ON FUNCTION ticket.block_user(text, text) IS
	'Puts a user on the blocklist, takes them out of every waiting room and releases their active holds in the same transaction; returns how many holds.';

CREATE FUNCTION ticket.unblock_user(user_id text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	PERFORM ticket._check_text('user_id', user_id);
	DELETE FROM ticket.blocked_user AS b WHERE b.user_id = user_id;
	RETURN FOUND;
END
$$;
COMMENT ON FUNCTION ticket.unblock_user(text) IS
	'Takes a user off the blocklist; returns false if they were not on it.';
