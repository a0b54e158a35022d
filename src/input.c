/*
 * input.c
 *		The argument rules of the C functions (src/input.h).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "input.h"
#include "parse.h"

/*
 * Check a text input, for the C functions and for the SQL ones (through
 * ticket._check_text below): 22023 when it is blank (nothing but
 * whitespace), 22001 when it has more than max characters, 22023 when it
 * holds a control character.  The rules are ticket_check_text's and
 * ticket_text_rule's (src/parse.c); the characters are counted here, in the
 * database's encoding, and classified when that is UTF-8.
 */
static void
check_text(text *t, const char *name, int max, const char *blank_hint)
{
	const char *p = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);
	/* no more bytes than the limit means no more characters: count only past it */
	int			nchars = len <= max ? len : pg_mbstrlen_with_len(p, len);
	const TicketTextRule *rule = ticket_text_rule(name);
	bool		layout = rule != NULL && rule->layout;

	switch (ticket_check_text(p, len, nchars, max, GetDatabaseEncoding() == PG_UTF8, layout))
	{
		case TICKET_PARSE_OK:
			break;
		case TICKET_PARSE_BLANK:
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("%s must not be empty", name),
					blank_hint ? errhint("%s", blank_hint) : 0);
			break;
		case TICKET_PARSE_CONTROL:
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("%s must not contain control characters", name),
					layout ? errhint("Tab, newline and carriage return are the only ones a %s may hold.", name) : 0);
			break;
		default:
			ereport(ERROR,
					errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
					errmsg("%s is too long", name),
					errdetail("It has %d characters; the limit is %d.", nchars, max));
			break;
	}
}

void
ticket_check_arg(text *t, const char *name, int max, const char *blank_hint)
{
	check_text(t, name, max, blank_hint);
}

PG_FUNCTION_INFO_V1(ticket_check_text_sql);

/*
 * ticket._check_text(what, value, max_chars, required): the same rules for
 * the SQL functions.  max_chars NULL takes the limit of what from
 * src/parse.c (user_id, idempotency_key, client_key, provider_ref,
 * solution); 22004 for a NULL value that is required.
 */
Datum
ticket_check_text_sql(PG_FUNCTION_ARGS)
{
	char	   *what;
	const TicketTextRule *rule;
	int			max;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("what must not be NULL"),
				errhint("Name the argument that is checked."));
	what = text_to_cstring(PG_GETARG_TEXT_PP(0));
	rule = ticket_text_rule(what);
	if (!PG_ARGISNULL(2))
		max = PG_GETARG_INT32(2);
	else if (rule != NULL && rule->max_chars > 0)
		max = rule->max_chars;
	else
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("%s has no length limit of its own", what),
				errhint("Pass max_chars."));
	if (PG_ARGISNULL(1))
	{
		/* NULL for required counts as not required, as an IF in PL/pgSQL does */
		if (!PG_ARGISNULL(3) && PG_GETARG_BOOL(3))
			ereport(ERROR,
					errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					errmsg("%s must not be NULL", what));
		PG_RETURN_VOID();
	}
	check_text(PG_GETARG_TEXT_PP(1), what, max, NULL);
	PG_RETURN_VOID();
}

/*
 * Check the buyer's id and optional idempotency key.
 */
void
ticket_check_user_and_key(text *user_id, text *key)
{
	check_text(user_id, "user_id", TICKET_MAX_USER_ID, NULL);
	if (key != NULL)
		check_text(key, "idempotency_key", TICKET_MAX_KEY, "Pass NULL for a call without a key.");
}

/* Check a user id as the SQL functions do (22023, 22001). */
void
ticket_check_user_id(text *user_id)
{
	ticket_check_user_and_key(user_id, NULL);
}

/*
 * Check the optional client key (an address or device id the application
 * passes for rate limiting).
 */
void
ticket_check_client_key(text *client_key)
{
	if (client_key != NULL)
		check_text(client_key, "client_key", TICKET_MAX_KEY, "Pass NULL for a call without one.");
}

/*
 * Return the seat ids of an int[] sorted ascending, raising 22004 or 22023
 * for a NULL element, a non-positive id, a duplicate, an empty or
 * multi-dimensional array (the rules are ticket_normalise_seat_ids's, in
 * src/parse.c).
 */
int32 *
ticket_sorted_seat_ids(ArrayType *arr, int *n)
{
	int			ndim = ARR_NDIM(arr);
	bool		has_nulls = array_contains_nulls(arr);
	int32	   *seats;
	int32		bad = 0;

	if (ARR_ELEMTYPE(arr) != INT4OID)
		elog(ERROR, "seat_ids must be an int[], not of type %u", ARR_ELEMTYPE(arr));
	*n = ArrayGetNItems(ndim, ARR_DIMS(arr));
	seats = palloc(sizeof(int32) * Max(*n, 1));
	/* Only a one-dimensional array without NULLs is n int4s in a row. */
	if (ndim == 1 && !has_nulls)
		memcpy(seats, ARR_DATA_PTR(arr), sizeof(int32) * *n);

	switch (ticket_normalise_seat_ids(seats, *n, ndim, has_nulls, &bad))
	{
		case TICKET_PARSE_OK:
			break;
		case TICKET_PARSE_SEATS_NOT_1D:
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("seat_ids must be a one-dimensional array"));
			break;
		case TICKET_PARSE_SEATS_EMPTY:
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("seat_ids must not be empty"));
			break;
		case TICKET_PARSE_SEATS_NULL:
			ereport(ERROR,
					errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					errmsg("seat_ids must not contain NULL"));
			break;
		case TICKET_PARSE_SEAT_INVALID:
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("seat id %d is not valid", bad),
					errdetail("Seat ids are positive."));
			break;
		default:
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("seat %d is listed twice", bad));
			break;
	}
	return seats;
}

/*
 * Refuse a call for more seats than one user may ever have (22023), before
 * the list is sorted: a million ids would cost seconds to refuse.
 */
void
ticket_check_seat_count(int items, const char *verb)
{
	if (items > TICKET_MAX_SEATS_PER_CALL)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("cannot %s %d seats in one call", verb, items),
				errdetail("The limit per user is at most %d.", TICKET_MAX_SEATS_PER_CALL));
}

PG_FUNCTION_INFO_V1(ticket_seat_list_sql);

/*
 * ticket._seat_list(seat_ids, verb): the seat ids sorted, by the rules of
 * hold's list (22004, 22023), for SQL callers such as cancel_order.
 */
Datum
ticket_seat_list_sql(PG_FUNCTION_ARGS)
{
	ArrayType  *arr;
	int			n;
	int32	   *seats;
	Datum	   *elems;

	if (PG_ARGISNULL(0))
		ereport(ERROR, errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("seat_ids must not be NULL"));
	arr = PG_GETARG_ARRAYTYPE_P(0);
	ticket_check_seat_count(ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)),
							PG_ARGISNULL(1) ? "ask for" : text_to_cstring(PG_GETARG_TEXT_PP(1)));
	seats = ticket_sorted_seat_ids(arr, &n);
	elems = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
		elems[i] = Int32GetDatum(seats[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, INT4OID, sizeof(int32), true, TYPALIGN_INT));
}
