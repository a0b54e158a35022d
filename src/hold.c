/*
 * hold.c
 *		Seat holds: ticket.hold (named seats) and ticket.hold_best (the best
 *		N seats of a section, or N standing places).
 *
 * A hold is all or nothing and never waits for another buyer:
 *
 *	1. Lock the buyer (src/lock.c): one user's concurrent calls queue here,
 *	   so the per-user limit and the idempotency key are checked one at a
 *	   time.  Other buyers never share this lock.
 *	2. One query reads the sale, the seats the buyer already has and, for
 *	   named seats, whether they look free; a seat already held or sold
 *	   answers "taken" here.
 *	3. Try-lock every seat in ascending order; a seat locked by another
 *	   buyer's transaction means "taken" at once, and the locks taken so far
 *	   are given back.
 *	4. One statement inserts the hold and marks the seats held, counting
 *	   those still free under a fresh snapshot; in the rare case that one
 *	   went between the first snapshot and its lock, both are undone.
 *
 * A seat is free when it is available or its hold has expired (held_until
 * <= now()): no cleaner needs to run first.  Expected outcomes come back as
 * a status in ticket.hold_result; only bad input raises an error.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "ticket.h"

#define TICKET_MAX_USER_ID		128
#define TICKET_MAX_KEY			255
#define TICKET_SCAN_BATCH		256
#define TICKET_SCAN_RETRIES		3

/* Outcomes of a hold; the names are what ticket.hold_result.status says. */
typedef enum HoldStatus
{
	HOLD_HELD,
	HOLD_TAKEN,
	HOLD_LIMIT,
	HOLD_CLOSED,
	HOLD_SOLD_OUT,
	HOLD_NO_ADJACENT
} HoldStatus;

static const char *const hold_status_names[] = {
	"held", "taken", "limit", "closed", "sold_out", "no_adjacent",
};

StaticAssertDecl(lengthof(hold_status_names) == TICKET_COUNTER_HOLD_NO_ADJACENT - TICKET_COUNTER_HOLD_HELD + 1,
				 "one counter per hold status");

/* What one call needs to know about the sale, read in one query. */
typedef struct Sale
{
	bool		open;			/* on sale and the window has not ended */
	int32		per_user_limit;
	int32		seat_count;
	TimestampTz expires_at;		/* now() + hold_ttl */
	int64		live;			/* seats the buyer holds or owns already */
	bool		taken;			/* hold: a requested seat is held or sold */
	int32		first_seat_id;	/* hold_best: the section's seats */
	int32		capacity;
	bool		seated;
} Sale;

/* A hold already made with the caller's idempotency key. */
typedef struct Replay
{
	bool		found;
	int64		hold_id;
	const char *status;
	TimestampTz expires_at;
	Datum		seat_ids;
} Replay;

static SPIPlanPtr plan_hold_sale = NULL;
static SPIPlanPtr plan_best_sale = NULL;
static SPIPlanPtr plan_replay = NULL;
static SPIPlanPtr plan_claim = NULL;
static SPIPlanPtr plan_unclaim = NULL;
static SPIPlanPtr plan_scan = NULL;

static Oid	argtypes_unclaim[2] = {INT8OID, INT8OID};

/*
 * Prepare a statement once per backend and keep it.
 */
static SPIPlanPtr
prepare_once(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*plan = p;
	}
	return *plan;
}

/*
 * Run a kept plan and fail loudly on anything but success.
 */
static void
run_plan(SPIPlanPtr plan, Datum *values, const char *nulls, int expected)
{
	int			rc = SPI_execute_plan(plan, values, nulls, false, 0);

	if (rc != expected)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
}

static bool
col_bool(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);

	return !isnull && DatumGetBool(d);
}

static Datum
col_datum(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

/*
 * Check the buyer's id and optional idempotency key.
 */
static void
check_user_and_key(text *user_id, text *key)
{
	int			len;

	len = pg_mbstrlen_with_len(VARDATA_ANY(user_id), VARSIZE_ANY_EXHDR(user_id));
	if (len == 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("user_id must not be empty"));
	if (len > TICKET_MAX_USER_ID)
		ereport(ERROR,
				errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				errmsg("user_id is too long"),
				errdetail("It has %d characters; the limit is %d.", len, TICKET_MAX_USER_ID));
	if (key == NULL)
		return;
	len = pg_mbstrlen_with_len(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key));
	if (len == 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("idempotency_key must not be empty"),
				errhint("Pass NULL for a call without a key."));
	if (len > TICKET_MAX_KEY)
		ereport(ERROR,
				errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				errmsg("idempotency_key is too long"),
				errdetail("It has %d characters; the limit is %d.", len, TICKET_MAX_KEY));
}

static int
cmp_int32(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

/*
 * Return the seat ids of an int[] sorted ascending, raising 22004 or 22023
 * for a NULL element, a non-positive id, a duplicate, an empty or
 * multi-dimensional array.
 */
int32 *
ticket_sorted_seat_ids(ArrayType *arr, int *n)
{
	int32	   *seats;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("seat_ids must be a one-dimensional array"));
	*n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	if (*n == 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("seat_ids must not be empty"));
	if (array_contains_nulls(arr))
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("seat_ids must not contain NULL"));

	seats = palloc(sizeof(int32) * *n);
	memcpy(seats, ARR_DATA_PTR(arr), sizeof(int32) * *n);
	qsort(seats, *n, sizeof(int32), cmp_int32);
	for (int i = 0; i < *n; i++)
	{
		if (seats[i] <= 0)
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("seat id %d is not valid", seats[i]),
					errdetail("Seat ids are positive."));
		if (i > 0 && seats[i] == seats[i - 1])
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("seat %d is listed twice", seats[i]));
	}
	return seats;
}

static Datum
int4_array(int32 *values, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * n);

	for (int i = 0; i < n; i++)
		d[i] = Int32GetDatum(values[i]);
	return PointerGetDatum(construct_array(d, n, INT4OID, sizeof(int32), true, TYPALIGN_INT));
}

/*
 * The part of the sale query both kinds of hold share: whether the sale is
 * open, the per-user limit, the concert's seat count, when a hold made now
 * expires, and how many seats the buyer ($3) holds or owns already.
 */
#define SALE_COLUMNS \
	"SELECT c.state = 'on_sale' AND c.sale_closes_at > now()," \
	"       c.per_user_limit, c.seat_count, now() + c.hold_ttl," \
	"       (SELECT coalesce(sum(cardinality(h.seat_ids)), 0) FROM ticket.hold h" \
	"         WHERE h.concert_id = c.concert_id AND h.user_id = $3" \
	"           AND (h.state IN ('checking_out', 'confirmed')" \
	"                OR (h.state = 'active' AND h.expires_at > now())))"

/* A seat is free when available or its hold has expired. */
#define SEAT_IS_FREE \
	"(s.state = 'available' OR (s.state = 'held' AND s.held_until <= now()))"

/*
 * Read the columns of SALE_COLUMNS from the current SPI result, raising
 * P0002 when there is no such concert.
 */
static void
read_sale(Sale *sale, int64 concert_id)
{
	bool		isnull;

	if (SPI_processed == 0)
		ereport(ERROR,
				errcode(ERRCODE_NO_DATA_FOUND),
				errmsg("concert " INT64_FORMAT " does not exist", concert_id));
	sale->open = col_bool(1);
	sale->per_user_limit = DatumGetInt32(col_datum(0, 2, &isnull));
	sale->seat_count = DatumGetInt32(col_datum(0, 3, &isnull));
	sale->expires_at = DatumGetTimestampTz(col_datum(0, 4, &isnull));
	sale->live = DatumGetInt64(col_datum(0, 5, &isnull));
}

/*
 * Find the hold this user made with this idempotency key, if any.  A key
 * reused for a different request is an error, as in payment APIs.  The
 * caller holds the buyer lock, so two calls with one key cannot both miss.
 */
static void
find_replay(int64 concert_id, text *user_id, text *key, const char *request, Replay *replay)
{
	Oid			argtypes[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];
	bool		isnull;
	char	   *stored;
	char	   *state;

	prepare_once(&plan_replay,
				 "SELECT h.hold_id, h.state::text, h.expires_at, h.seat_ids, h.request,"
				 "       h.expires_at > now()"
				 "  FROM ticket.hold h"
				 " WHERE h.concert_id = $1 AND h.user_id = $2 AND h.idempotency_key = $3",
				 3, argtypes);
	values[0] = Int64GetDatum(concert_id);
	values[1] = PointerGetDatum(user_id);
	values[2] = PointerGetDatum(key);
	run_plan(plan_replay, values, NULL, SPI_OK_SELECT);

	replay->found = SPI_processed > 0;
	if (!replay->found)
		return;
	replay->hold_id = DatumGetInt64(col_datum(0, 1, &isnull));
	stored = TextDatumGetCString(col_datum(0, 5, &isnull));
	if (strcmp(stored, request) != 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("idempotency key \"%s\" was already used for a different request",
					   text_to_cstring(key)),
				errdetail("It made hold " INT64_FORMAT " for %s; this call asks for %s.",
						  replay->hold_id, stored, request),
				errhint("Use a new key for a new request."));
	replay->expires_at = DatumGetTimestampTz(col_datum(0, 3, &isnull));
	replay->seat_ids = col_datum(0, 4, &isnull);
	state = TextDatumGetCString(col_datum(0, 2, &isnull));
	/* An active hold past its expiry is expired, whatever the cleaner did. */
	if (strcmp(state, "active") == 0)
		replay->status = col_bool(6) ? "held" : "expired";
	else
		replay->status = state;
}

/*
 * Insert the hold and mark its seats held in one statement, counting the
 * seats that were still free under a fresh snapshot.  If one was not (it
 * went between the first snapshot and its lock), undo both: the seats we
 * marked were free, so they go back to available.  Returns the new hold id,
 * or 0.
 */
static int64
claim(int64 concert_id, text *user_id, int32 *seats, int n, TimestampTz expires_at,
	  text *key, const char *request)
{
	Oid			argtypes[6] = {INT8OID, INT4ARRAYOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', key ? ' ' : 'n', ' '};
	bool		isnull;
	int64		hold_id;

	prepare_once(&plan_claim,
				 "WITH h AS (INSERT INTO ticket.hold (concert_id, user_id, seat_ids, created_at,"
				 "                                    expires_at, idempotency_key, request)"
				 "           VALUES ($1, $3, $2, now(), $4, $5, $6) RETURNING hold_id),"
				 " claimed AS (UPDATE ticket.seat s"
				 "                SET state = 'held', hold_id = h.hold_id, held_until = $4"
				 "               FROM h"
				 "              WHERE s.concert_id = $1 AND s.seat_id = ANY ($2) AND " SEAT_IS_FREE
				 "             RETURNING s.seat_id)"
				 " SELECT h.hold_id, claimed.seat_id FROM h LEFT JOIN claimed ON true",
				 6, argtypes);
	values[0] = Int64GetDatum(concert_id);
	values[1] = int4_array(seats, n);
	values[2] = PointerGetDatum(user_id);
	values[3] = TimestampTzGetDatum(expires_at);
	values[4] = key ? PointerGetDatum(key) : (Datum) 0;
	values[5] = CStringGetTextDatum(request);
	run_plan(plan_claim, values, nulls, SPI_OK_SELECT);

	/* One row per seat claimed (one row with no seat if none was). */
	hold_id = DatumGetInt64(col_datum(0, 1, &isnull));
	(void) col_datum(0, 2, &isnull);
	if (SPI_processed == n && !isnull)
		return hold_id;

	prepare_once(&plan_unclaim,
				 "WITH d AS (DELETE FROM ticket.hold WHERE hold_id = $2)"
				 " UPDATE ticket.seat SET state = 'available', hold_id = NULL, held_until = NULL"
				 "  WHERE concert_id = $1 AND hold_id = $2",
				 2, argtypes_unclaim);
	values[1] = Int64GetDatum(hold_id);
	run_plan(plan_unclaim, values, NULL, SPI_OK_UPDATE);
	return 0;
}

static void
unlock_seats(int64 concert_id, int32 *seats, int n)
{
	for (int i = 0; i < n; i++)
		ticket_unlock_seat(concert_id, seats[i]);
}

/*
 * Build the ticket.hold_result row in the caller's memory context (the
 * SPI context is about to go), count the outcome, and close SPI.
 */
static Datum
finish(FunctionCallInfo fcinfo, MemoryContext outer, HoldStatus status, const char *replay_status,
	   int64 hold_id, TimestampTz expires_at, Datum seat_ids)
{
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	HeapTuple	tuple;
	MemoryContext old = MemoryContextSwitchTo(outer);

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	values[1] = CStringGetTextDatum(replay_status ? replay_status : hold_status_names[status]);
	if (hold_id != 0)
	{
		values[0] = Int64GetDatum(hold_id);
		values[2] = TimestampTzGetDatum(expires_at);
		values[3] = datumCopy(seat_ids, false, -1);
	}
	else
		nulls[0] = nulls[2] = nulls[3] = true;
	tuple = heap_form_tuple(tupdesc, values, nulls);
	MemoryContextSwitchTo(old);

	if (replay_status == NULL)
		ticket_count(TICKET_COUNTER_HOLD_HELD + status, 1);
	SPI_finish();
	return HeapTupleGetDatum(tuple);
}

PG_FUNCTION_INFO_V1(ticket_hold);

/*
 * Hold the named seats of a concert for one user, all or none.
 */
Datum
ticket_hold(PG_FUNCTION_ARGS)
{
	MemoryContext outer = CurrentMemoryContext;
	int64		concert_id;
	text	   *user_id;
	text	   *key;
	int32	   *seats;
	int			n;
	Sale		sale;
	Replay		replay;
	StringInfoData request;
	Oid			argtypes[3] = {INT8OID, INT4ARRAYOID, TEXTOID};
	Datum		values[3];
	int64		hold_id;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("concert_id, user_id and seat_ids must not be NULL"));
	concert_id = PG_GETARG_INT64(0);
	user_id = PG_GETARG_TEXT_PP(1);
	key = PG_ARGISNULL(3) ? NULL : PG_GETARG_TEXT_PP(3);
	check_user_and_key(user_id, key);
	seats = ticket_sorted_seat_ids(PG_GETARG_ARRAYTYPE_P(2), &n);
	ticket_require_preload("ticket.hold()");

	initStringInfo(&request);
	appendStringInfoString(&request, "seats ");
	for (int i = 0; i < n; i++)
		appendStringInfo(&request, i ? ",%d" : "%d", seats[i]);

	SPI_connect();

	/*
	 * 1. Lock the buyer: their concurrent calls check the limit and the key
	 * one at a time.  A retried call finds its hold before anything else.
	 */
	ticket_lock_user(concert_id, VARDATA_ANY(user_id), VARSIZE_ANY_EXHDR(user_id));
	if (key != NULL)
	{
		find_replay(concert_id, user_id, key, request.data, &replay);
		if (replay.found)
			return finish(fcinfo, outer, HOLD_HELD, replay.status, replay.hold_id,
						  replay.expires_at, replay.seat_ids);
	}

	/* 2. The sale, the buyer's seats, and how many of these seats look free. */
	prepare_once(&plan_hold_sale,
				 SALE_COLUMNS ","
				 "       EXISTS (SELECT FROM ticket.seat s"
				 "                WHERE s.concert_id = c.concert_id AND s.seat_id = ANY ($2)"
				 "                  AND NOT " SEAT_IS_FREE ")"
				 "  FROM ticket.concert c WHERE c.concert_id = $1",
				 3, argtypes);
	values[0] = Int64GetDatum(concert_id);
	values[1] = int4_array(seats, n);
	values[2] = PointerGetDatum(user_id);
	run_plan(plan_hold_sale, values, NULL, SPI_OK_SELECT);
	read_sale(&sale, concert_id);
	sale.taken = col_bool(6);

	if (seats[n - 1] > sale.seat_count)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("seat %d does not belong to concert " INT64_FORMAT, seats[n - 1], concert_id),
				errdetail("Its seats are numbered 1 to %d.", sale.seat_count));
	if (n > sale.per_user_limit)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("cannot hold %d seats: the limit per user is %d", n, sale.per_user_limit));
	if (!sale.open)
		return finish(fcinfo, outer, HOLD_CLOSED, NULL, 0, 0, 0);
	if (sale.taken)
		return finish(fcinfo, outer, HOLD_TAKEN, NULL, 0, 0, 0);
	if (sale.live + n > sale.per_user_limit)
		return finish(fcinfo, outer, HOLD_LIMIT, NULL, 0, 0, 0);

	/* 3. Try-lock the seats in order; never wait for another buyer. */
	for (int i = 0; i < n; i++)
	{
		if (!ticket_try_lock_seat(concert_id, seats[i]))
		{
			unlock_seats(concert_id, seats, i);
			return finish(fcinfo, outer, HOLD_TAKEN, NULL, 0, 0, 0);
		}
	}

	/* 4. Re-check and write, or write nothing. */
	hold_id = claim(concert_id, user_id, seats, n, sale.expires_at, key, request.data);
	if (hold_id == 0)
	{
		unlock_seats(concert_id, seats, n);
		return finish(fcinfo, outer, HOLD_TAKEN, NULL, 0, 0, 0);
	}
	return finish(fcinfo, outer, HOLD_HELD, NULL, hold_id, sale.expires_at, int4_array(seats, n));
}

/*
 * Scan the free seats of a section from start to end (seat ids, inclusive)
 * and try-lock up to quantity of them; with adjacent, only a run of
 * consecutive seats in one row counts.  Returns how many it locked (all in
 * got[]) and adds to *free_seen and *longest_run what it saw.
 */
static int
scan_and_lock(int64 concert_id, int32 start, int32 end, int quantity, bool adjacent,
			  int32 *got, int ngot, int64 *free_seen, int *longest_run)
{
	Oid			argtypes[3] = {INT8OID, INT4OID, INT4OID};
	Datum		values[3];
	Portal		portal;
	int32		run_row = -1;
	int32		run_last = -1;
	int			run = 0;

	if (start > end)
		return ngot;
	prepare_once(&plan_scan,
				 "SELECT s.seat_id, s.row_no, s.seat_no FROM ticket.seat s"
				 " WHERE s.concert_id = $1 AND s.seat_id BETWEEN $2 AND $3"
				 "   AND (s.state = 'available'"
				 "        OR (s.state = 'held' AND s.held_until <= now()))"
				 " ORDER BY s.seat_id",
				 3, argtypes);
	values[0] = Int64GetDatum(concert_id);
	values[1] = Int32GetDatum(start);
	values[2] = Int32GetDatum(end);
	portal = SPI_cursor_open(NULL, plan_scan, values, NULL, false);

	while (ngot < quantity)
	{
		SPI_cursor_fetch(portal, true, TICKET_SCAN_BATCH);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed && ngot < quantity; i++)
		{
			bool		isnull;
			int32		seat_id = DatumGetInt32(col_datum(i, 1, &isnull));

			(*free_seen)++;
			if (adjacent)
			{
				int32		row_no = DatumGetInt32(col_datum(i, 2, &isnull));
				int32		seat_no = DatumGetInt32(col_datum(i, 3, &isnull));

				/* A gap or a new row ends the run, and the seats locked for it. */
				if (row_no != run_row || seat_no != run_last + 1)
				{
					unlock_seats(concert_id, got, ngot);
					ngot = 0;
					run = 0;
				}
				run_row = row_no;
				run_last = seat_no;
				run++;
				*longest_run = Max(*longest_run, run);
				if (ticket_try_lock_seat(concert_id, seat_id))
					got[ngot++] = seat_id;
				else
				{
					/* Locked by another buyer: a run can only start after it. */
					unlock_seats(concert_id, got, ngot);
					ngot = 0;
				}
			}
			else if (ticket_try_lock_seat(concert_id, seat_id))
				got[ngot++] = seat_id;
		}
	}
	SPI_cursor_close(portal);
	return ngot;
}

PG_FUNCTION_INFO_V1(ticket_hold_best);

/*
 * Hold the best quantity free seats of a section (lowest rows first,
 * optionally side by side in one row), or quantity standing places.
 */
Datum
ticket_hold_best(PG_FUNCTION_ARGS)
{
	MemoryContext outer = CurrentMemoryContext;
	int64		concert_id;
	text	   *user_id;
	int32		section_id;
	int32		quantity;
	bool		adjacent;
	text	   *key;
	Sale		sale;
	Replay		replay;
	char		request[64];
	Oid			argtypes[3] = {INT8OID, INT4OID, TEXTOID};
	Datum		values[3];
	bool		isnull;
	int32	   *got;

	for (int i = 0; i < 5; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					errmsg("concert_id, user_id, section_id, quantity and adjacent must not be NULL"));
	concert_id = PG_GETARG_INT64(0);
	user_id = PG_GETARG_TEXT_PP(1);
	section_id = PG_GETARG_INT32(2);
	quantity = PG_GETARG_INT32(3);
	adjacent = PG_GETARG_BOOL(4);
	key = PG_ARGISNULL(5) ? NULL : PG_GETARG_TEXT_PP(5);
	check_user_and_key(user_id, key);
	if (quantity <= 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("quantity must be positive"),
				errdetail("It was %d.", quantity));
	ticket_require_preload("ticket.hold_best()");
	snprintf(request, sizeof(request), "best section %d quantity %d%s",
			 section_id, quantity, adjacent ? " adjacent" : "");

	SPI_connect();

	ticket_lock_user(concert_id, VARDATA_ANY(user_id), VARSIZE_ANY_EXHDR(user_id));
	if (key != NULL)
	{
		find_replay(concert_id, user_id, key, request, &replay);
		if (replay.found)
			return finish(fcinfo, outer, HOLD_HELD, replay.status, replay.hold_id,
						  replay.expires_at, replay.seat_ids);
	}

	prepare_once(&plan_best_sale,
				 SALE_COLUMNS ","
				 "       s.first_seat_id, s.capacity, s.seated"
				 "  FROM ticket.concert c"
				 "  LEFT JOIN ticket.section s"
				 "    ON s.concert_id = c.concert_id AND s.section_id = $2"
				 " WHERE c.concert_id = $1",
				 3, argtypes);
	values[0] = Int64GetDatum(concert_id);
	values[1] = Int32GetDatum(section_id);
	values[2] = PointerGetDatum(user_id);
	run_plan(plan_best_sale, values, NULL, SPI_OK_SELECT);
	read_sale(&sale, concert_id);
	sale.first_seat_id = DatumGetInt32(col_datum(0, 6, &isnull));
	if (isnull)
		ereport(ERROR,
				errcode(ERRCODE_NO_DATA_FOUND),
				errmsg("concert " INT64_FORMAT " has no section %d", concert_id, section_id));
	sale.capacity = DatumGetInt32(col_datum(0, 7, &isnull));
	sale.seated = DatumGetBool(col_datum(0, 8, &isnull));
	if (quantity > sale.per_user_limit)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("cannot hold %d seats: the limit per user is %d", quantity, sale.per_user_limit));
	if (!sale.open)
		return finish(fcinfo, outer, HOLD_CLOSED, NULL, 0, 0, 0);
	if (sale.live + quantity > sale.per_user_limit)
		return finish(fcinfo, outer, HOLD_LIMIT, NULL, 0, 0, 0);

	got = palloc(sizeof(int32) * quantity);
	for (int attempt = 0; attempt < TICKET_SCAN_RETRIES; attempt++)
	{
		int32		first = sale.first_seat_id;
		int32		last = sale.first_seat_id + sale.capacity - 1;
		int64		free_seen = 0;
		int			longest_run = 0;
		int			ngot;
		int64		hold_id;

		if (sale.seated)
			ngot = scan_and_lock(concert_id, first, last, quantity, adjacent,
								 got, 0, &free_seen, &longest_run);
		else
		{
			/*
			 * Places are all alike: start at a random one so that a crowd
			 * of buyers spreads over the section instead of all trying the
			 * same first free places.
			 */
			int32		start = first + (int32) pg_prng_uint64_range(&pg_global_prng_state, 0,
																	 sale.capacity - 1);

			ngot = scan_and_lock(concert_id, start, last, quantity, false,
								 got, 0, &free_seen, &longest_run);
			ngot = scan_and_lock(concert_id, first, start - 1, quantity, false,
								 got, ngot, &free_seen, &longest_run);
		}

		if (ngot < quantity)
		{
			unlock_seats(concert_id, got, ngot);
			if (free_seen < quantity)
				return finish(fcinfo, outer, HOLD_SOLD_OUT, NULL, 0, 0, 0);
			if (adjacent && sale.seated && longest_run < quantity)
				return finish(fcinfo, outer, HOLD_NO_ADJACENT, NULL, 0, 0, 0);
			return finish(fcinfo, outer, HOLD_TAKEN, NULL, 0, 0, 0);
		}

		qsort(got, ngot, sizeof(int32), cmp_int32);
		hold_id = claim(concert_id, user_id, got, ngot, sale.expires_at, key, request);
		if (hold_id != 0)
			return finish(fcinfo, outer, HOLD_HELD, NULL, hold_id, sale.expires_at,
						  int4_array(got, ngot));

		/* A seat went between the scan's snapshot and its lock: look again. */
		unlock_seats(concert_id, got, ngot);
	}
	return finish(fcinfo, outer, HOLD_TAKEN, NULL, 0, 0, 0);
}
