/*
 * src/parse.sql: the argument rules of the SQL functions: present, not
 * blank, short enough, no control characters (ticket._check_text, the C
 * functions' own rules and limits from src/parse.c through src/input.c, so
 * the fuzzed rules are the only rules); numbers and intervals within a
 * range.
 */

CREATE FUNCTION ticket._check_text(what text, value text, max_chars integer DEFAULT NULL, required boolean DEFAULT true)
RETURNS void
LANGUAGE c IMMUTABLE
AS 'MODULE_PATHNAME', 'ticket_check_text_sql';
COMMENT ON FUNCTION ticket._check_text(text, text, integer, boolean) IS
	'Internal: raises 22004, 22023 or 22001 unless a text is present, not blank (only whitespace), short enough and free of control characters (a reason may hold tab, newline and carriage return). The rules are the C functions'' (src/parse.c); max_chars NULL takes the limit src/parse.c gives what (user_id, idempotency_key, client_key, provider_ref, solution, reason).';

CREATE FUNCTION ticket._check_range(what text, value numeric, lo numeric, hi numeric)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF value IS NULL THEN
		RAISE EXCEPTION '% must not be NULL', what USING ERRCODE = '22004';
	END IF;
	IF value < lo OR value > hi THEN
		RAISE EXCEPTION '% must be between % and %', what, lo, hi
			USING ERRCODE = '22023', DETAIL = format('It was %s.', value);
	END IF;
END
$$;
COMMENT ON FUNCTION ticket._check_range(text, numeric, numeric, numeric) IS
	'Internal: raises 22004 or 22023 unless a number is present and within [lo, hi].';

CREATE FUNCTION ticket._check_interval(what text, value interval, lo interval, hi interval)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF value IS NULL THEN
		RAISE EXCEPTION '% must not be NULL', what USING ERRCODE = '22004';
	END IF;
	IF value < lo OR value > hi THEN
		RAISE EXCEPTION '% must be between % and %', what, lo, hi
			USING ERRCODE = '22023', DETAIL = format('It was %s.', value);
	END IF;
END
$$;
COMMENT ON FUNCTION ticket._check_interval(text, interval, interval, interval) IS
	'Internal: raises 22004 or 22023 unless an interval is present and within [lo, hi].';

CREATE FUNCTION ticket._seat_list(seat_ids integer[], verb text)
RETURNS integer[]
LANGUAGE c IMMUTABLE
AS 'MODULE_PATHNAME', 'ticket_seat_list_sql';
COMMENT ON FUNCTION ticket._seat_list(integer[], text) IS
	'Internal: the seat ids sorted, by the rules of hold''s list (src/input.c): 22004 for NULL, 22023 for an empty, multi-dimensional or repeated list, a seat id below 1, or more than 100 seats ("cannot <verb> n seats").';
