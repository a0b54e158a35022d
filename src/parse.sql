/*
 * src/parse.sql: the argument rules of the SQL functions (the C functions
 * check theirs in src/parse.c): present, not blank, short enough, no control
 * characters; numbers and intervals within a range.
 */

CREATE FUNCTION ticket._check_text(what text, value text, max_chars integer, required boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF value IS NULL THEN
		IF required THEN
			RAISE EXCEPTION '% must not be NULL', what USING ERRCODE = '22004';
		END IF;
		RETURN;
	END IF;
	IF value !~ '[^[:space:]\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]' THEN
		RAISE EXCEPTION '% must not be empty', what USING ERRCODE = '22023';
	END IF;
	IF char_length(value) > max_chars THEN
		RAISE EXCEPTION '% is too long', what
			USING ERRCODE = '22001',
			DETAIL = format('It has %s characters; the limit is %s.', char_length(value), max_chars);
	END IF;
	IF (what = 'reason' AND value ~ '[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]')
	   OR (what <> 'reason' AND value ~ '[\x01-\x1f\x7f-\x9f]') THEN
		IF what = 'reason' THEN
			RAISE EXCEPTION '% must not contain control characters', what
				USING ERRCODE = '22023',
				HINT = 'Tab, newline and carriage return are the only ones a reason may hold.';
		END IF;
		RAISE EXCEPTION '% must not contain control characters', what USING ERRCODE = '22023';
	END IF;
END
$$;
COMMENT ON FUNCTION ticket._check_text(text, text, integer, boolean) IS
	'Internal: raises 22004, 22023 or 22001 unless a text is present, not blank (only whitespace), short enough and free of control characters (a reason may hold tab, newline and carriage return).';

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
