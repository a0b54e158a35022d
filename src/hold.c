/*
 * hold.c
 *		Seat holds: ticket.hold (named seats) and ticket.hold_best (the best
 *		N seats of a section, or N standing places).
 *
 * A hold is all or nothing and never waits for another buyer:
 *
 *	1. Read the sale (cached per backend) and the seats under the calling
 *	   statement's snapshot: bad input raises an error here, and a seat
 *	   visibly held or sold answers "taken" without taking any lock (most
 *	   calls in a spike).
 *	2. Lock the buyer (src/lock.c): one user's concurrent calls queue here,
 *	   so the per-user limit and the idempotency key are checked one at a
 *	   time.  Other buyers never share this lock.  A retry with a key finds
 *	   its hold here.
 *	3. Try-lock every seat in ascending order; a seat locked by another
 *	   buyer's transaction means "taken" at once, and the locks taken so far
 *	   are given back.  (hold_best scans the section for seats that look
 *	   free, then locks those.)
 *	4. Read the buyer's holds and the seats again under a snapshot taken
 *	   after the locks, so that it sees whatever a previous holder
 *	   committed; then insert the hold and mark its seats held.
 *
 * Every writer of a seat row holds its lock (src/lock.c), so what step 4
 * reads cannot change before it writes.  The reads and writes go straight to
 * the tables and their indexes, as the logical replication apply worker
 * does, instead of through SQL: a hold then costs a few index probes and
 * row writes rather than the parse, plan and executor start-up of several
 * statements (bench/RESULTS.md has the figures).
 *
 * A seat is free when it is available or its hold has expired (held_until
 * <= now()): no cleaner needs to run first.  Expected outcomes come back as
 * a status in ticket.hold_result; only bad input raises an error.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/skey.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "common/pg_prng.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "parse.h"
#include "sale.h"
#include "ticket.h"

#define TICKET_SCAN_RETRIES		3

/* Outcomes of a hold; the names are what ticket.hold_result.status says. */
typedef enum HoldStatus
{
	HOLD_HELD,
	HOLD_TAKEN,
	HOLD_LIMIT,
	HOLD_CLOSED,
	HOLD_SOLD_OUT,
	HOLD_NO_ADJACENT,
	HOLD_RATE_LIMITED,
	HOLD_BLOCKED
} HoldStatus;

static const char *const hold_status_names[] = {
	"held", "taken", "limit", "closed", "sold_out", "no_adjacent", "rate_limited", "blocked",
};

StaticAssertDecl(lengthof(hold_status_names) == TICKET_COUNTER_HOLD_BLOCKED - TICKET_COUNTER_HOLD_HELD + 1,
				 "one counter per hold status");

static Catalog cat;
static bool cat_callback_registered = false;

/*
 * Each backend keeps the sale settings of the concerts and sections it has
 * sold from, so that a buyer's call reads no concert row: a spike of a
 * thousand backends would otherwise all pin the same page.  Every change to
 * ticket.concert or ticket.section, through the functions or by hand, fires
 * a statement trigger (ticket._relation_changed, src/ticket.c) that sends a
 * relcache invalidation of that table at commit.  The callback below marks the
 * caches stale and read_sale empties them before it looks anything up; a
 * backend takes such messages in at its next transaction start (and when it
 * first locks a table), and a missing entry is read under a snapshot taken
 * after that, so a setting is never older than the caller's transaction.
 */
typedef TicketConcert ConcertEntry;

typedef struct SectionKey
{
	int64		concert_id;
	int32		section_id;
} SectionKey;

typedef struct SectionEntry
{
	SectionKey	key;			/* hash key */
	int32		first_seat_id;
	int32		capacity;
	bool		seated;
	int64		price_cents;	/* numeric(12,2) in cents */
} SectionEntry;

static HTAB *concert_cache = NULL;
static HTAB *section_cache = NULL;
static bool settings_stale = false;

/* The relations one call works on, opened and locked for the transaction. */
typedef struct Tables
{
	Relation	concert, concert_pkey;
	Relation	section, section_pkey;
	Relation	seat, seat_pkey;
	Relation	hold, hold_buyer, hold_key;
	Relation	blocked, blocked_pkey;
} Tables;

/* What one call needs to know about the sale. */
typedef struct Sale
{
	bool		open;			/* on sale and the window has not ended */
	bool		queue;			/* buyers need a pass */
	int32		per_user_limit;
	int32		seat_count;
	TimestampTz made_at;		/* when this call makes its hold */
	TimestampTz expires_at;		/* made_at + hold_ttl */
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

static void
catalog_invalidate(Datum arg, Oid relid)
{
	/*
	 * Only flags: this runs whenever the backend takes in invalidations, for
	 * example in the middle of a hold when it first locks a table, so it
	 * must not free what a caller may be using.  VACUUM and ANALYZE of seat
	 * and hold send these too; they only make the OIDs be looked up again.
	 */
	if (relid == InvalidOid || relid == cat.concert || relid == cat.section ||
		relid == cat.seat || relid == cat.hold || relid == cat.event ||
		relid == cat.blocked || relid == cat.orders || relid == cat.payment ||
		relid == cat.idempotency)
		cat.valid = false;
	if (relid == InvalidOid || relid == cat.concert || relid == cat.section)
		settings_stale = true;
}

Oid
ticket_relation_oid(Oid nsp, const char *name)
{
	Oid			relid = get_relname_relid(name, nsp);

	if (!OidIsValid(relid))
		ereport(ERROR,
				errcode(ERRCODE_UNDEFINED_TABLE),
				errmsg("relation ticket.%s does not exist", name),
				errhint("Reinstall the extension: DROP EXTENSION ticket; CREATE EXTENSION ticket;"));
	return relid;
}

AttrNumber
ticket_column(Oid relid, const char *name)
{
	AttrNumber	attnum = get_attnum(relid, name);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				errcode(ERRCODE_UNDEFINED_COLUMN),
				errmsg("column %s of %s does not exist", name, get_rel_name(relid)));
	return attnum;
}

Oid
ticket_enum_label(Oid relid, AttrNumber attnum, const char *label)
{
	Oid			typid = get_atttype(relid, attnum);
	Oid			oid = GetSysCacheOid2(ENUMTYPOIDNAME, Anum_pg_enum_oid,
									  ObjectIdGetDatum(typid), CStringGetDatum(label));

	if (!OidIsValid(oid))
		elog(ERROR, "enum label \"%s\" of type %u does not exist", label, typid);
	return oid;
}

/* An internal function of schema ticket, by its name and argument types (InvalidOid in a version without it). */
static Oid
ticket_function_oid(const char *name, int nargs, Oid *argtypes)
{
	return LookupFuncName(list_make2(makeString("ticket"), makeString(pstrdup(name))),
						  nargs, argtypes, true);
}

/*
 * Return the catalog, looking it up if anything changed since last time.
 */
static Catalog *
catalog(void)
{
	Oid			nsp;

	if (cat.valid)
		return &cat;
	if (!cat_callback_registered)
	{
		CacheRegisterRelcacheCallback(catalog_invalidate, (Datum) 0);
		cat_callback_registered = true;
	}

	nsp = get_namespace_oid("ticket", false);
	cat.concert = ticket_relation_oid(nsp, "concert");
	cat.concert_pkey = ticket_relation_oid(nsp, "concert_pkey");
	cat.section = ticket_relation_oid(nsp, "section");
	cat.section_pkey = ticket_relation_oid(nsp, "section_pkey");
	cat.seat = ticket_relation_oid(nsp, "seat");
	cat.seat_pkey = ticket_relation_oid(nsp, "seat_pkey");
	cat.hold = ticket_relation_oid(nsp, "hold");
	cat.hold_pkey = ticket_relation_oid(nsp, "hold_pkey");
	cat.hold_buyer = ticket_relation_oid(nsp, "hold_buyer_idx");
	cat.hold_key = ticket_relation_oid(nsp, "hold_idempotency_idx");
	cat.hold_seq = ticket_relation_oid(nsp, "hold_id_seq");
	cat.blocked = ticket_relation_oid(nsp, "blocked_user");
	cat.blocked_pkey = ticket_relation_oid(nsp, "blocked_user_pkey");
	cat.event = ticket_relation_oid(nsp, "event");
	cat.event_seq = ticket_relation_oid(nsp, "event_seq");
	cat.orders = ticket_relation_oid(nsp, "orders");
	cat.orders_pkey = ticket_relation_oid(nsp, "orders_pkey");
	cat.orders_hold_key = ticket_relation_oid(nsp, "orders_hold_id_key");
	cat.orders_seq = ticket_relation_oid(nsp, "orders_order_id_seq");
	cat.payment = ticket_relation_oid(nsp, "payment");
	cat.payment_order = ticket_relation_oid(nsp, "payment_order_idx");
	cat.payment_seq = ticket_relation_oid(nsp, "payment_payment_id_seq");
	cat.idempotency = ticket_relation_oid(nsp, "idempotency");
	cat.idempotency_pkey = ticket_relation_oid(nsp, "idempotency_pkey");

	cat.c_state = ticket_column(cat.concert, "state");
	cat.c_sale_closes_at = ticket_column(cat.concert, "sale_closes_at");
	cat.c_hold_ttl = ticket_column(cat.concert, "hold_ttl");
	cat.c_per_user_limit = ticket_column(cat.concert, "per_user_limit");
	cat.c_seat_count = ticket_column(cat.concert, "seat_count");
	cat.c_queue = ticket_column(cat.concert, "queue");
	cat.c_pow_bits = ticket_column(cat.concert, "pow_bits");
	cat.c_admit_rate = ticket_column(cat.concert, "admit_rate");
	cat.c_payment_timeout = ticket_column(cat.concert, "payment_timeout");
	cat.c_payment_attempts = ticket_column(cat.concert, "payment_attempts");
	cat.x_first_seat_id = ticket_column(cat.section, "first_seat_id");
	cat.x_capacity = ticket_column(cat.section, "capacity");
	cat.x_seated = ticket_column(cat.section, "seated");
	cat.x_price = ticket_column(cat.section, "price");
	cat.s_seat_id = ticket_column(cat.seat, "seat_id");
	cat.s_section_id = ticket_column(cat.seat, "section_id");
	cat.s_row_no = ticket_column(cat.seat, "row_no");
	cat.s_seat_no = ticket_column(cat.seat, "seat_no");
	cat.s_state = ticket_column(cat.seat, "state");
	cat.s_hold_id = ticket_column(cat.seat, "hold_id");
	cat.s_held_until = ticket_column(cat.seat, "held_until");
	cat.h_hold_id = ticket_column(cat.hold, "hold_id");
	cat.h_concert_id = ticket_column(cat.hold, "concert_id");
	cat.h_user_id = ticket_column(cat.hold, "user_id");
	cat.h_seat_ids = ticket_column(cat.hold, "seat_ids");
	cat.h_state = ticket_column(cat.hold, "state");
	cat.h_created_at = ticket_column(cat.hold, "created_at");
	cat.h_expires_at = ticket_column(cat.hold, "expires_at");
	cat.h_ended_at = ticket_column(cat.hold, "ended_at");
	cat.h_idempotency_key = ticket_column(cat.hold, "idempotency_key");
	cat.h_request = ticket_column(cat.hold, "request");
	cat.e_seq = ticket_column(cat.event, "seq");
	cat.e_concert_id = ticket_column(cat.event, "concert_id");
	cat.e_kind = ticket_column(cat.event, "kind");
	cat.e_subject_id = ticket_column(cat.event, "subject_id");
	cat.e_user_id = ticket_column(cat.event, "user_id");
	cat.e_detail = ticket_column(cat.event, "detail");
	cat.e_created_at = ticket_column(cat.event, "created_at");
	cat.o_order_id = ticket_column(cat.orders, "order_id");
	cat.o_concert_id = ticket_column(cat.orders, "concert_id");
	cat.o_user_id = ticket_column(cat.orders, "user_id");
	cat.o_hold_id = ticket_column(cat.orders, "hold_id");
	cat.o_seat_ids = ticket_column(cat.orders, "seat_ids");
	cat.o_amount = ticket_column(cat.orders, "amount");
	cat.o_state = ticket_column(cat.orders, "state");
	cat.o_created_at = ticket_column(cat.orders, "created_at");
	cat.o_pay_by = ticket_column(cat.orders, "pay_by");
	cat.o_paid_at = ticket_column(cat.orders, "paid_at");
	cat.o_cancelled_at = ticket_column(cat.orders, "cancelled_at");
	cat.o_cancel_reason = ticket_column(cat.orders, "cancel_reason");
	cat.p_payment_id = ticket_column(cat.payment, "payment_id");
	cat.p_order_id = ticket_column(cat.payment, "order_id");
	cat.p_kind = ticket_column(cat.payment, "kind");
	cat.p_amount = ticket_column(cat.payment, "amount");
	cat.p_state = ticket_column(cat.payment, "state");
	cat.p_attempts = ticket_column(cat.payment, "attempts");
	cat.p_max_attempts = ticket_column(cat.payment, "max_attempts");
	cat.p_next_attempt_at = ticket_column(cat.payment, "next_attempt_at");
	cat.p_created_at = ticket_column(cat.payment, "created_at");
	cat.i_user_id = ticket_column(cat.idempotency, "user_id");
	cat.i_key = ticket_column(cat.idempotency, "idempotency_key");
	cat.i_request = ticket_column(cat.idempotency, "request");
	cat.i_order_id = ticket_column(cat.idempotency, "order_id");
	cat.i_status = ticket_column(cat.idempotency, "status");
	cat.i_created_at = ticket_column(cat.idempotency, "created_at");

	cat.draft = ticket_enum_label(cat.concert, cat.c_state, "draft");
	cat.on_sale = ticket_enum_label(cat.concert, cat.c_state, "on_sale");
	cat.closed = ticket_enum_label(cat.concert, cat.c_state, "closed");
	cat.cancelled = ticket_enum_label(cat.concert, cat.c_state, "cancelled");
	cat.available = ticket_enum_label(cat.seat, cat.s_state, "available");
	cat.held = ticket_enum_label(cat.seat, cat.s_state, "held");
	cat.sold = ticket_enum_label(cat.seat, cat.s_state, "sold");
	cat.active = ticket_enum_label(cat.hold, cat.h_state, "active");
	cat.checking_out = ticket_enum_label(cat.hold, cat.h_state, "checking_out");
	cat.confirmed = ticket_enum_label(cat.hold, cat.h_state, "confirmed");
	cat.expired = ticket_enum_label(cat.hold, cat.h_state, "expired");
	cat.released = ticket_enum_label(cat.hold, cat.h_state, "released");
	cat.order_pending = ticket_enum_label(cat.orders, cat.o_state, "pending");
	cat.order_paid = ticket_enum_label(cat.orders, cat.o_state, "paid");
	cat.charge = ticket_enum_label(cat.payment, cat.p_kind, "charge");
	cat.processing = ticket_enum_label(cat.payment, cat.p_state, "processing");
	cat.end_admission = ticket_function_oid("_end_admission", 2, (Oid[]) {INT8OID, TEXTOID});

	cat.valid = true;
	return &cat;
}

Catalog *
ticket_catalog(void)
{
	return catalog();
}

/* ------------------------------------------------------------ input */

/*
 * Check a text input as the SQL functions do (ticket._check_text): 22023
 * when it is blank (nothing but whitespace), 22001 when it has more than max
 * characters, 22023 when it holds a control character.  The rules are
 * ticket_check_text's (src/parse.c); the characters are counted here, in the
 * database's encoding, and classified when that is UTF-8.
 */
static void
check_text(text *t, const char *name, int max, const char *blank_hint)
{
	const char *p = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);
	/* no more bytes than the limit means no more characters: count only past it */
	int			nchars = len <= max ? len : pg_mbstrlen_with_len(p, len);

	switch (ticket_check_text(p, len, nchars, max, GetDatabaseEncoding() == PG_UTF8))
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
					errmsg("%s must not contain control characters", name));
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

/*
 * Check the buyer's id and optional idempotency key.
 */
static void
check_user_and_key(text *user_id, text *key)
{
	check_text(user_id, "user_id", TICKET_MAX_USER_ID, NULL);
	if (key != NULL)
		check_text(key, "idempotency_key", TICKET_MAX_KEY, "Pass NULL for a call without a key.");
}

/* Check a user id as the SQL functions do (22023, 22001). */
void
ticket_check_user_id(text *user_id)
{
	check_user_and_key(user_id, NULL);
}

/*
 * Check the optional client key (an address or device id the application
 * passes for rate limiting).
 */
static void
check_client_key(text *client_key)
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

static int
cmp_int32(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

static Datum
int4_array(int32 *values, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * n);

	for (int i = 0; i < n; i++)
		d[i] = Int32GetDatum(values[i]);
	return PointerGetDatum(construct_array(d, n, INT4OID, sizeof(int32), true, TYPALIGN_INT));
}

/* ---------------------------------------------------------- table access */

/*
 * Open the seat table; the others are opened when first needed, since most
 * calls in a spike ("taken") read nothing else.
 */
static void
tables_open(Tables *t)
{
	memset(t, 0, sizeof(Tables));
	t->seat = table_open(cat.seat, RowExclusiveLock);
	t->seat_pkey = index_open(cat.seat_pkey, RowExclusiveLock);
}

static void
open_concert(Tables *t)
{
	if (t->concert == NULL)
	{
		t->concert = table_open(cat.concert, AccessShareLock);
		t->concert_pkey = index_open(cat.concert_pkey, AccessShareLock);
	}
}

static void
open_section(Tables *t)
{
	if (t->section == NULL)
	{
		t->section = table_open(cat.section, AccessShareLock);
		t->section_pkey = index_open(cat.section_pkey, AccessShareLock);
	}
}

static void
open_hold(Tables *t)
{
	if (t->hold == NULL)
	{
		t->hold = table_open(cat.hold, RowExclusiveLock);
		t->hold_buyer = index_open(cat.hold_buyer, RowExclusiveLock);
		t->hold_key = index_open(cat.hold_key, RowExclusiveLock);
	}
}

static void
open_blocked(Tables *t)
{
	if (t->blocked == NULL)
	{
		t->blocked = table_open(cat.blocked, AccessShareLock);
		t->blocked_pkey = index_open(cat.blocked_pkey, AccessShareLock);
	}
}

/* Close the relations; their locks stay until the transaction ends. */
static void
tables_close(Tables *t)
{
	if (t->blocked)
	{
		index_close(t->blocked_pkey, NoLock);
		table_close(t->blocked, NoLock);
	}
	if (t->concert)
	{
		index_close(t->concert_pkey, NoLock);
		table_close(t->concert, NoLock);
	}
	if (t->section)
	{
		index_close(t->section_pkey, NoLock);
		table_close(t->section, NoLock);
	}
	if (t->hold)
	{
		index_close(t->hold_buyer, NoLock);
		index_close(t->hold_key, NoLock);
		table_close(t->hold, NoLock);
	}
	index_close(t->seat_pkey, NoLock);
	table_close(t->seat, NoLock);
}

static Datum
get(TupleTableSlot *slot, AttrNumber attnum, bool *isnull)
{
	return slot_getattr(slot, attnum, isnull);
}

/* Empty the settings caches if a concert changed since they were filled. */
static void
forget_stale_settings(void)
{
	if (!settings_stale)
		return;
	if (concert_cache)
		hash_destroy(concert_cache);
	if (section_cache)
		hash_destroy(section_cache);
	concert_cache = section_cache = NULL;
	settings_stale = false;
}

/*
 * Look up a concert's sale settings, from the backend's cache or its row.
 * A miss locks ticket.concert first (which takes in any invalidation still
 * waiting) and then reads under a snapshot taken after that, so what it
 * caches is at least as new as the last invalidation it took in.
 */
static ConcertEntry
concert_settings(Tables *t, int64 concert_id)
{
	ConcertEntry *e;
	ScanKeyData key;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	Snapshot	snap;
	bool		isnull;

	forget_stale_settings();
	if (concert_cache && (e = hash_search(concert_cache, &concert_id, HASH_FIND, NULL)))
		return *e;

	open_concert(t);
	forget_stale_settings();
	if (concert_cache == NULL)
	{
		HASHCTL		ctl = {.keysize = sizeof(int64), .entrysize = sizeof(ConcertEntry)};

		concert_cache = hash_create("ticket concerts", 16, &ctl, HASH_ELEM | HASH_BLOBS);
	}

	snap = RegisterSnapshot(GetLatestSnapshot());
	slot = table_slot_create(t->concert, NULL);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(concert_id));
	scan = index_beginscan(t->concert, t->concert_pkey, snap, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	if (!index_getnext_slot(scan, ForwardScanDirection, slot))
		ereport(ERROR,
				errcode(ERRCODE_NO_DATA_FOUND),
				errmsg("concert " INT64_FORMAT " does not exist", concert_id));
	e = hash_search(concert_cache, &concert_id, HASH_ENTER, NULL);
	e->state = DatumGetObjectId(get(slot, cat.c_state, &isnull));
	e->on_sale = e->state == cat.on_sale;
	e->queue = DatumGetBool(get(slot, cat.c_queue, &isnull));
	e->pow_bits = DatumGetInt32(get(slot, cat.c_pow_bits, &isnull));
	e->admit_rate = DatumGetInt32(get(slot, cat.c_admit_rate, &isnull));
	e->sale_closes_at = DatumGetTimestampTz(get(slot, cat.c_sale_closes_at, &isnull));
	e->hold_ttl = *DatumGetIntervalP(get(slot, cat.c_hold_ttl, &isnull));
	e->per_user_limit = DatumGetInt32(get(slot, cat.c_per_user_limit, &isnull));
	e->seat_count = DatumGetInt32(get(slot, cat.c_seat_count, &isnull));
	e->payment_timeout = *DatumGetIntervalP(get(slot, cat.c_payment_timeout, &isnull));
	e->payment_attempts = DatumGetInt32(get(slot, cat.c_payment_attempts, &isnull));
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snap);
	return *e;
}

/*
 * Look up a section's seats, from the backend's cache or its row, as
 * concert_settings does.
 */
static SectionEntry
section_settings(Tables *t, int64 concert_id, int32 section_id)
{
	SectionEntry *e;
	SectionKey	k = {.concert_id = concert_id, .section_id = section_id};
	ScanKeyData key[2];
	IndexScanDesc scan;
	TupleTableSlot *slot;
	Snapshot	snap;
	bool		isnull;

	forget_stale_settings();
	if (section_cache && (e = hash_search(section_cache, &k, HASH_FIND, NULL)))
		return *e;

	open_section(t);
	forget_stale_settings();
	if (section_cache == NULL)
	{
		HASHCTL		ctl = {.keysize = sizeof(SectionKey), .entrysize = sizeof(SectionEntry)};

		section_cache = hash_create("ticket sections", 16, &ctl, HASH_ELEM | HASH_BLOBS);
	}

	snap = RegisterSnapshot(GetLatestSnapshot());
	slot = table_slot_create(t->section, NULL);
	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(concert_id));
	ScanKeyInit(&key[1], 2, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(section_id));
	scan = index_beginscan(t->section, t->section_pkey, snap, 2, 0);
	index_rescan(scan, key, 2, NULL, 0);
	if (!index_getnext_slot(scan, ForwardScanDirection, slot))
		ereport(ERROR,
				errcode(ERRCODE_NO_DATA_FOUND),
				errmsg("concert " INT64_FORMAT " has no section %d", concert_id, section_id));
	e = hash_search(section_cache, &k, HASH_ENTER, NULL);
	e->first_seat_id = DatumGetInt32(get(slot, cat.x_first_seat_id, &isnull));
	e->capacity = DatumGetInt32(get(slot, cat.x_capacity, &isnull));
	e->seated = DatumGetBool(get(slot, cat.x_seated, &isnull));
	e->price_cents = DatumGetInt64(DirectFunctionCall1(numeric_int8,
		DirectFunctionCall2(numeric_mul, get(slot, cat.x_price, &isnull),
							DirectFunctionCall1(int8_numeric, Int64GetDatum(100)))));
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snap);
	return *e;
}

/*
 * Read the sale (and, for hold_best, the section), raising P0002 when the
 * concert or section does not exist.  A hold lasts hold_ttl from the moment
 * it is made, even in a transaction that began long before.
 */
static void
read_sale(Tables *t, int64 concert_id, bool with_section, int32 section_id, Sale *sale)
{
	ConcertEntry c = concert_settings(t, concert_id);

	sale->open = c.on_sale && c.sale_closes_at > GetCurrentTransactionStartTimestamp();
	sale->queue = c.queue;
	sale->per_user_limit = c.per_user_limit;
	sale->seat_count = c.seat_count;
	sale->made_at = GetCurrentTimestamp();
	sale->expires_at = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
															   TimestampTzGetDatum(sale->made_at),
															   IntervalPGetDatum(&c.hold_ttl)));
	if (with_section)
	{
		SectionEntry x = section_settings(t, concert_id, section_id);

		sale->first_seat_id = x.first_seat_id;
		sale->capacity = x.capacity;
		sale->seated = x.seated;
	}
}

/*
 * The waiting room's view of a concert, from the same cache; raises P0002
 * when there is no such concert.
 */
void
ticket_concert_info(int64 concert_id, TicketConcertInfo *info)
{
	Tables		t;
	ConcertEntry c;

	memset(&t, 0, sizeof(t));
	(void) catalog();
	c = concert_settings(&t, concert_id);
	if (t.concert)
	{
		index_close(t.concert_pkey, NoLock);
		table_close(t.concert, NoLock);
	}
	info->draft = c.state == cat.draft;
	info->ended = c.state == cat.closed || c.state == cat.cancelled ||
		(c.on_sale && c.sale_closes_at <= GetCurrentTransactionStartTimestamp());
	info->queue = c.queue;
	info->pow_bits = c.pow_bits;
	info->admit_rate = c.admit_rate;
}

/* A concert's sale settings, from the same cache; P0002 when there is none. */
void
ticket_concert(int64 concert_id, TicketConcert *out)
{
	Tables		t;

	memset(&t, 0, sizeof(t));
	(void) catalog();
	*out = concert_settings(&t, concert_id);
	if (t.concert)
	{
		index_close(t.concert_pkey, NoLock);
		table_close(t.concert, NoLock);
	}
}

/* A section's price in cents, from the same cache. */
int64
ticket_section_price_cents(int64 concert_id, int32 section_id)
{
	Tables		t;
	SectionEntry x;

	memset(&t, 0, sizeof(t));
	(void) catalog();
	x = section_settings(&t, concert_id, section_id);
	if (t.section)
	{
		index_close(t.section_pkey, NoLock);
		table_close(t.section, NoLock);
	}
	return x.price_cents;
}

/*
 * A concert with a waiting room sells only to users holding a pass: check
 * it (28000 when missing, forged, expired, or for another concert or user),
 * and that the admission it was issued for still runs (src/queue.c).
 */
static void
require_pass(Sale *sale, text *pass, int64 concert_id, text *user_id)
{
	if (!sale->queue)
		return;
	if (pass == NULL)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				errmsg("pass refused: concert " INT64_FORMAT " sells through its waiting room", concert_id),
				errhint("Pass the pass that ticket.queue_status gives an admitted user."));
	ticket_admission_check(concert_id, user_id,
						   ticket_check_pass(pass, concert_id, VARDATA_ANY(user_id), VARSIZE_ANY_EXHDR(user_id)));
}

/* Is this seat tuple free: available, or held past its held_until? */
bool
ticket_seat_is_free(TupleTableSlot *slot, TimestampTz now)
{
	bool		isnull;
	Oid			state = DatumGetObjectId(get(slot, cat.s_state, &isnull));

	return state == cat.available ||
		(state == cat.held && DatumGetTimestampTz(get(slot, cat.s_held_until, &isnull)) <= now);
}

/* Is this hold tuple live: in checkout, paid, or active and not expired? */
bool
ticket_hold_is_live(TupleTableSlot *slot, TimestampTz now)
{
	bool		isnull;
	Oid			state = DatumGetObjectId(get(slot, cat.h_state, &isnull));

	/* A checkout keeps its seats until pay_by (its expires_at); then they are free. */
	if (state == cat.confirmed)
		return true;
	return (state == cat.active || state == cat.checking_out) &&
		DatumGetTimestampTz(get(slot, cat.h_expires_at, &isnull)) > now;
}

/*
 * Is the user on the blocklist (ticket.block_user)?
 */
static bool
user_blocked(Tables *t, Snapshot snap, text *user_id)
{
	ScanKeyData key;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	bool		blocked;

	open_blocked(t);
	slot = table_slot_create(t->blocked, NULL);
	ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   t->blocked_pkey->rd_indcollation[0], F_TEXTEQ, PointerGetDatum(user_id));
	scan = index_beginscan(t->blocked, t->blocked_pkey, snap, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	blocked = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	return blocked;
}

/*
 * Count the seats the buyer holds or owns in live holds, leaving out one
 * hold (except_hold, 0 for none): what the per-user limit counts.
 */
int64
ticket_buyer_seats(Relation hold, Relation hold_buyer, Snapshot snap, int64 concert_id,
				   text *user_id, int64 except_hold)
{
	ScanKeyData key[2];
	IndexScanDesc scan;
	TupleTableSlot *slot;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	int64		seats = 0;

	(void) catalog();
	slot = table_slot_create(hold, NULL);
	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(concert_id));
	ScanKeyEntryInitialize(&key[1], 0, 2, BTEqualStrategyNumber, InvalidOid,
						   hold_buyer->rd_indcollation[1], F_TEXTEQ, PointerGetDatum(user_id));
	scan = index_beginscan(hold, hold_buyer, snap, 2, 0);
	index_rescan(scan, key, 2, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		ArrayType  *arr;

		if (!ticket_hold_is_live(slot, now) ||
			(except_hold != 0 && DatumGetInt64(get(slot, cat.h_hold_id, &isnull)) == except_hold))
			continue;
		arr = DatumGetArrayTypeP(get(slot, cat.h_seat_ids, &isnull));
		seats += ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	return seats;
}

static int64
buyer_seats(Tables *t, Snapshot snap, int64 concert_id, text *user_id)
{
	open_hold(t);
	return ticket_buyer_seats(t->hold, t->hold_buyer, snap, concert_id, user_id, 0);
}

/*
 * Find the hold this user made with this idempotency key, if any.  A key
 * reused for a different request is an error, as in payment APIs.  The
 * caller holds the buyer lock, so two calls with one key cannot both miss.
 */
static void
find_replay(Tables *t, Snapshot snap, int64 concert_id, text *user_id, text *key,
			const char *request, Replay *replay)
{
	ScanKeyData skey[3];
	IndexScanDesc scan;
	TupleTableSlot *slot;
	bool		isnull;

	open_hold(t);
	slot = table_slot_create(t->hold, NULL);
	ScanKeyInit(&skey[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(concert_id));
	ScanKeyEntryInitialize(&skey[1], 0, 2, BTEqualStrategyNumber, InvalidOid,
						   t->hold_key->rd_indcollation[1], F_TEXTEQ, PointerGetDatum(user_id));
	ScanKeyEntryInitialize(&skey[2], 0, 3, BTEqualStrategyNumber, InvalidOid,
						   t->hold_key->rd_indcollation[2], F_TEXTEQ, PointerGetDatum(key));
	scan = index_beginscan(t->hold, t->hold_key, snap, 3, 0);
	index_rescan(scan, skey, 3, NULL, 0);
	replay->found = index_getnext_slot(scan, ForwardScanDirection, slot);
	if (replay->found)
	{
		char	   *stored = TextDatumGetCString(get(slot, cat.h_request, &isnull));
		Oid			state = DatumGetObjectId(get(slot, cat.h_state, &isnull));

		replay->hold_id = DatumGetInt64(get(slot, cat.h_hold_id, &isnull));
		if (strcmp(stored, request) != 0)
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("idempotency key \"%s\" was already used for a different request",
						   text_to_cstring(key)),
					errdetail("It made hold " INT64_FORMAT " for %s; this call asks for %s.",
							  replay->hold_id, stored, request),
					errhint("Use a new key for a new request."));
		replay->expires_at = DatumGetTimestampTz(get(slot, cat.h_expires_at, &isnull));
		replay->seat_ids = datumCopy(get(slot, cat.h_seat_ids, &isnull), false, -1);
		/* An active hold past its expiry is expired, whatever the cleaner did. */
		if (state == cat.active)
			replay->status = ticket_hold_is_live(slot, GetCurrentTransactionStartTimestamp()) ? "held" : "expired";
		else
			replay->status = DatumGetCString(DirectFunctionCall1(enum_out, ObjectIdGetDatum(state)));
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
}

/*
 * Read the given seats (ascending) under snap.  Returns true when every one
 * is free; then, if rows is not NULL, rows[i] is a copy of seat i's row for
 * writing it.  Without rows, a seat that does not exist counts as free (the
 * caller only wants to know whether one is visibly taken).
 */
static bool
read_seats(Tables *t, Snapshot snap, int64 concert_id, int32 *seats, int n, HeapTuple *rows)
{
	ScanKeyData key[2];
	IndexScanDesc scan;
	TupleTableSlot *slot = table_slot_create(t->seat, NULL);
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	bool		all_free = true;

	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(concert_id));
	scan = index_beginscan(t->seat, t->seat_pkey, snap, 2, 0);
	for (int i = 0; i < n && all_free; i++)
	{

		ScanKeyInit(&key[1], 2, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(seats[i]));
		index_rescan(scan, key, 2, NULL, 0);
		if (!index_getnext_slot(scan, ForwardScanDirection, slot))
		{
			if (rows == NULL)
				continue;
			elog(ERROR, "seat %d of concert " INT64_FORMAT " is missing", seats[i], concert_id);
		}
		all_free = ticket_seat_is_free(slot, now);
		if (rows)
			rows[i] = ExecCopySlotHeapTuple(slot);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	return all_free;
}

/*
 * Write an event into the outbox (ticket.publish_events numbers it after
 * commit); detail is a jsonb or 0 for none.
 */
void
ticket_insert_event(EState *estate, ResultRelInfo *rri, int64 concert_id, const char *kind,
					int64 subject_id, text *user_id, Datum detail, TimestampTz at)
{
	TupleDesc	desc = RelationGetDescr(rri->ri_RelationDesc);
	TupleTableSlot *slot = ExecInitExtraTupleSlot(estate, desc, &TTSOpsVirtual);

	(void) catalog();
	ExecClearTuple(slot);
	for (int i = 0; i < desc->natts; i++)
		slot->tts_isnull[i] = true;
#define SET(attnum, value) (slot->tts_values[(attnum) - 1] = (value), slot->tts_isnull[(attnum) - 1] = false)
	SET(cat.e_seq, Int64GetDatum(nextval_internal(cat.event_seq, false)));
	SET(cat.e_concert_id, Int64GetDatum(concert_id));
	SET(cat.e_kind, CStringGetTextDatum(kind));
	SET(cat.e_subject_id, Int64GetDatum(subject_id));
	SET(cat.e_user_id, PointerGetDatum(user_id));
	if (detail != (Datum) 0)
		SET(cat.e_detail, detail);
	SET(cat.e_created_at, TimestampTzGetDatum(at));
#undef SET
	ExecStoreVirtualTuple(slot);
	ExecSimpleRelationInsert(rri, estate, slot);
}

/*
 * Insert the hold and mark its seats held (rows[] from read_seats), through
 * the executor's single-row paths so that indexes, constraints and any
 * triggers are kept as an INSERT and UPDATE would keep them.
 */
static int64
write_hold(Tables *t, int64 concert_id, text *user_id, int32 *seats, HeapTuple *rows, int n,
		   Sale *sale, text *key, const char *request)
{
	TimestampTz expires_at = sale->expires_at;
	EState	   *estate;
	RangeTblEntry *rte_seat = makeNode(RangeTblEntry);
	RangeTblEntry *rte_hold = makeNode(RangeTblEntry);
	RangeTblEntry *rte_event = makeNode(RangeTblEntry);
	ResultRelInfo *seat_rri = makeNode(ResultRelInfo);
	ResultRelInfo *hold_rri = makeNode(ResultRelInfo);
	ResultRelInfo *event_rri = makeNode(ResultRelInfo);
	Relation	event;
	TupleDesc	hold_desc;
	TupleDesc	seat_desc = RelationGetDescr(t->seat);
	TupleTableSlot *slot;
	TupleTableSlot *search;
	EPQState	epq;
	int64		hold_id = nextval_internal(cat.hold_seq, false);

	open_hold(t);
	hold_desc = RelationGetDescr(t->hold);
	estate = CreateExecutorState();
	rte_seat->rtekind = RTE_RELATION;
	rte_seat->relid = RelationGetRelid(t->seat);
	rte_seat->relkind = RELKIND_RELATION;
	rte_seat->rellockmode = RowExclusiveLock;
	rte_hold->rtekind = RTE_RELATION;
	rte_hold->relid = RelationGetRelid(t->hold);
	rte_hold->relkind = RELKIND_RELATION;
	rte_hold->rellockmode = RowExclusiveLock;
	event = table_open(cat.event, RowExclusiveLock);
	rte_event->rtekind = RTE_RELATION;
	rte_event->relid = cat.event;
	rte_event->relkind = RELKIND_RELATION;
	rte_event->rellockmode = RowExclusiveLock;
	ExecInitRangeTable(estate, list_make3(rte_seat, rte_hold, rte_event));
	InitResultRelInfo(seat_rri, t->seat, 1, NULL, 0);
	InitResultRelInfo(hold_rri, t->hold, 2, NULL, 0);
	InitResultRelInfo(event_rri, event, 3, NULL, 0);
	estate->es_output_cid = GetCurrentCommandId(true);
	ExecOpenIndices(seat_rri, false);
	ExecOpenIndices(hold_rri, false);
	ExecOpenIndices(event_rri, false);
	EvalPlanQualInit(&epq, estate, NULL, NIL, -1);
	AfterTriggerBeginQuery();

	/* The hold. */
	slot = ExecInitExtraTupleSlot(estate, hold_desc, &TTSOpsVirtual);
	ExecClearTuple(slot);
	for (int i = 0; i < hold_desc->natts; i++)
		slot->tts_isnull[i] = true;
#define SET(attnum, value) (slot->tts_values[(attnum) - 1] = (value), slot->tts_isnull[(attnum) - 1] = false)
	SET(cat.h_hold_id, Int64GetDatum(hold_id));
	SET(cat.h_concert_id, Int64GetDatum(concert_id));
	SET(cat.h_user_id, PointerGetDatum(user_id));
	SET(cat.h_seat_ids, int4_array(seats, n));
	SET(cat.h_state, ObjectIdGetDatum(cat.active));
	SET(cat.h_created_at, TimestampTzGetDatum(sale->made_at));
	SET(cat.h_expires_at, TimestampTzGetDatum(expires_at));
	if (key)
		SET(cat.h_idempotency_key, PointerGetDatum(key));
	SET(cat.h_request, CStringGetTextDatum(request));
#undef SET
	ExecStoreVirtualTuple(slot);
	ExecSimpleRelationInsert(hold_rri, estate, slot);

	/* Its event in the outbox (ticket.publish_events numbers it after commit). */
	ticket_insert_event(estate, event_rri, concert_id, "hold", hold_id, user_id, (Datum) 0, sale->made_at);

	/* Its seats. */
	slot = ExecInitExtraTupleSlot(estate, seat_desc, &TTSOpsVirtual);
	search = ExecInitExtraTupleSlot(estate, seat_desc, &TTSOpsHeapTuple);
	for (int i = 0; i < n; i++)
	{
		ExecClearTuple(slot);
		heap_deform_tuple(rows[i], seat_desc, slot->tts_values, slot->tts_isnull);
		slot->tts_values[cat.s_state - 1] = ObjectIdGetDatum(cat.held);
		slot->tts_values[cat.s_hold_id - 1] = Int64GetDatum(hold_id);
		slot->tts_isnull[cat.s_hold_id - 1] = false;
		slot->tts_values[cat.s_held_until - 1] = TimestampTzGetDatum(expires_at);
		slot->tts_isnull[cat.s_held_until - 1] = false;
		ExecStoreVirtualTuple(slot);
		ExecStoreHeapTuple(rows[i], search, false);
		ExecSimpleRelationUpdate(seat_rri, estate, &epq, search, slot);
	}

	AfterTriggerEndQuery(estate);
	/* the relations a DBA's AFTER triggers opened */
	ExecCloseResultRelations(estate);
	EvalPlanQualEnd(&epq);
	ExecCloseIndices(seat_rri);
	ExecCloseIndices(hold_rri);
	ExecCloseIndices(event_rri);
	table_close(event, NoLock);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);

	/* Later reads in this transaction, even in the same statement, see it. */
	CommandCounterIncrement();
	return hold_id;
}

static void
unlock_seats(int64 concert_id, int32 *seats, int n)
{
	for (int i = 0; i < n; i++)
		ticket_unlock_seat(concert_id, seats[i]);
}

/*
 * Build the ticket.hold_result row and count the outcome.
 */
static Datum
finish(FunctionCallInfo fcinfo, HoldStatus status, const char *replay_status,
	   int64 hold_id, TimestampTz expires_at, Datum seat_ids)
{
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	values[1] = CStringGetTextDatum(replay_status ? replay_status : hold_status_names[status]);
	if (hold_id != 0)
	{
		values[0] = Int64GetDatum(hold_id);
		values[2] = TimestampTzGetDatum(expires_at);
		values[3] = seat_ids;
	}
	else
		nulls[0] = nulls[2] = nulls[3] = true;

	if (replay_status == NULL)
		ticket_count(TICKET_COUNTER_HOLD_HELD + status, 1);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/*
 * Common start of both kinds of hold, before any table is touched: the
 * preload and read-only checks.
 */
static void
begin_hold(const char *function_name)
{
	ticket_require_preload(function_name);
	PreventCommandIfReadOnly(function_name);
}

/*
 * The user's and the client key's rate limits, once the input is known to
 * be good (bad input costs no token).  False when either bucket is empty.
 */
static bool
rate_allows(text *user_id, text *client_key)
{
	if (!ticket_rate_allow(TICKET_RATE_USER, VARDATA_ANY(user_id), VARSIZE_ANY_EXHDR(user_id)))
		return false;
	return client_key == NULL ||
		ticket_rate_allow(TICKET_RATE_CLIENT, VARDATA_ANY(client_key), VARSIZE_ANY_EXHDR(client_key));
}

PG_FUNCTION_INFO_V1(ticket_hold);

/*
 * Hold the named seats of a concert for one user, all or none.
 */
Datum
ticket_hold(PG_FUNCTION_ARGS)
{
	int64		concert_id;
	text	   *user_id;
	text	   *key;
	int32	   *seats;
	int			n;
	Sale		sale;
	Replay		replay;
	StringInfoData request;
	Tables		t;
	Snapshot	snap;
	HeapTuple  *rows;
	HoldStatus	status;
	int64		hold_id;
	text	   *client_key;
	text	   *pass;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("concert_id, user_id and seat_ids must not be NULL"));
	concert_id = PG_GETARG_INT64(0);
	user_id = PG_GETARG_TEXT_PP(1);
	key = PG_ARGISNULL(3) ? NULL : PG_GETARG_TEXT_PP(3);
	client_key = PG_ARGISNULL(4) ? NULL : PG_GETARG_TEXT_PP(4);
	pass = PG_ARGISNULL(5) ? NULL : PG_GETARG_TEXT_PP(5);
	check_user_and_key(user_id, key);
	check_client_key(client_key);
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(2);
		int			items = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));

		/* Before sorting: a million ids would cost seconds to refuse. */
		if (items > TICKET_MAX_SEATS_PER_CALL)
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("cannot hold %d seats in one call", items),
					errdetail("The limit per user is at most %d.", TICKET_MAX_SEATS_PER_CALL));
		seats = ticket_sorted_seat_ids(arr, &n);
	}
	begin_hold("ticket.hold()");

	initStringInfo(&request);
	appendStringInfoString(&request, "seats ");
	for (int i = 0; i < n; i++)
		appendStringInfo(&request, i ? ",%d" : "%d", seats[i]);

	(void) catalog();
	tables_open(&t);

	read_sale(&t, concert_id, false, 0, &sale);
	if (seats[n - 1] > sale.seat_count)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("seat %d does not belong to concert " INT64_FORMAT, seats[n - 1], concert_id),
				errdetail("Its seats are numbered 1 to %d.", sale.seat_count));
	if (n > sale.per_user_limit)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("cannot hold %d seats: the limit per user is %d", n, sale.per_user_limit));
	if (!rate_allows(user_id, client_key))
	{
		tables_close(&t);
		return finish(fcinfo, HOLD_RATE_LIMITED, NULL, 0, 0, 0);
	}
	/* A closed sale answers closed, pass or not (a waiting room ends with it). */
	if (sale.open)
		require_pass(&sale, pass, concert_id, user_id);

	/*
	 * 1. In a spike most calls are for seats sold or held long ago: the
	 * calling statement's snapshot shows that with one index probe per seat
	 * and no lock at all.  (Not for a retry with a key: the seats may be
	 * held by the very hold it is to return.)
	 */
	if (key == NULL &&
		(!sale.open ||
		 (ActiveSnapshotSet() && !read_seats(&t, GetActiveSnapshot(), concert_id, seats, n, NULL))))
	{
		tables_close(&t);
		return finish(fcinfo, sale.open ? HOLD_TAKEN : HOLD_CLOSED, NULL, 0, 0, 0);
	}

	/* 2. Lock the buyer; a retried call finds its hold before anything else. */
	ticket_lock_user(concert_id, VARDATA_ANY(user_id), VARSIZE_ANY_EXHDR(user_id));
	if (key != NULL)
	{
		snap = RegisterSnapshot(GetLatestSnapshot());
		find_replay(&t, snap, concert_id, user_id, key, request.data, &replay);
		UnregisterSnapshot(snap);
		if (replay.found || !sale.open)
		{
			tables_close(&t);
			if (replay.found)
				return finish(fcinfo, HOLD_HELD, replay.status, replay.hold_id,
							  replay.expires_at, replay.seat_ids);
			return finish(fcinfo, HOLD_CLOSED, NULL, 0, 0, 0);
		}
	}

	/*
	 * 3. Try-lock the seats in order: a seat another buyer's transaction
	 * holds means "taken" at once, without waiting.
	 */
	for (int i = 0; i < n; i++)
	{
		if (!ticket_try_lock_seat(concert_id, seats[i]))
		{
			unlock_seats(concert_id, seats, i);
			tables_close(&t);
			return finish(fcinfo, HOLD_TAKEN, NULL, 0, 0, 0);
		}
	}

	/*
	 * 4. Read again under a snapshot taken after the locks: it sees whatever
	 * the buyer's previous call and the seats' previous holders committed,
	 * and nobody else can change these seats until we are done.
	 */
	snap = RegisterSnapshot(GetLatestSnapshot());
	rows = palloc(sizeof(HeapTuple) * n);
	if (user_blocked(&t, snap, user_id))
		status = HOLD_BLOCKED;
	else if (buyer_seats(&t, snap, concert_id, user_id) + n > sale.per_user_limit)
		status = HOLD_LIMIT;
	else if (!read_seats(&t, snap, concert_id, seats, n, rows))
		status = HOLD_TAKEN;
	else
		status = HOLD_HELD;
	UnregisterSnapshot(snap);
	if (status != HOLD_HELD)
	{
		unlock_seats(concert_id, seats, n);
		tables_close(&t);
		return finish(fcinfo, status, NULL, 0, 0, 0);
	}

	/* 5. Insert the hold and mark its seats held. */
	hold_id = write_hold(&t, concert_id, user_id, seats, rows, n, &sale, key, request.data);
	tables_close(&t);
	return finish(fcinfo, HOLD_HELD, NULL, hold_id, sale.expires_at, int4_array(seats, n));
}

/*
 * Scan the free seats of a section from start to end (seat ids, inclusive)
 * and try-lock up to quantity of them; with adjacent, only a run of
 * consecutive seats in one row counts.  Returns how many it locked (all in
 * got[]) and adds to *free_seen and *longest_run what it saw.
 */
static int
scan_and_lock(Tables *t, Snapshot snap, int64 concert_id, int32 start, int32 end,
			  int quantity, bool adjacent, int32 *got, int ngot,
			  int64 *free_seen, int *longest_run)
{
	ScanKeyData key[3];
	IndexScanDesc scan;
	TupleTableSlot *slot;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	int32		run_row = -1;
	int32		run_last = -1;
	int			run = 0;

	if (start > end || ngot >= quantity)
		return ngot;
	slot = table_slot_create(t->seat, NULL);
	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(concert_id));
	ScanKeyInit(&key[1], 2, BTGreaterEqualStrategyNumber, F_INT4GE, Int32GetDatum(start));
	ScanKeyInit(&key[2], 2, BTLessEqualStrategyNumber, F_INT4LE, Int32GetDatum(end));
	scan = index_beginscan(t->seat, t->seat_pkey, snap, 3, 0);
	index_rescan(scan, key, 3, NULL, 0);

	while (ngot < quantity && index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Oid			state = DatumGetObjectId(get(slot, cat.s_state, &isnull));
		int32		seat_id;

		if (!(state == cat.available ||
			  (state == cat.held && DatumGetTimestampTz(get(slot, cat.s_held_until, &isnull)) <= now)))
			continue;
		seat_id = DatumGetInt32(get(slot, cat.s_seat_id, &isnull));
		(*free_seen)++;
		if (adjacent)
		{
			int32		row_no = DatumGetInt32(get(slot, cat.s_row_no, &isnull));
			int32		seat_no = DatumGetInt32(get(slot, cat.s_seat_no, &isnull));

			/* A gap or a new row ends the run, and the seats locked for it. */
			if (row_no != run_row || seat_no != run_last + 1)
			{
				unlock_seats(concert_id, got, ngot);
				ngot = 0;
				run = 0;
			}
			run_row = row_no;
			run_last = seat_no;
			if (ticket_try_lock_seat(concert_id, seat_id))
			{
				got[ngot++] = seat_id;
				run++;
				*longest_run = Max(*longest_run, run);
			}
			else
			{
				/*
				 * Locked by another buyer: a run can only start after it, and
				 * the seat counts in none (else a row with no run free of
				 * others' seats answered taken instead of no_adjacent).
				 */
				unlock_seats(concert_id, got, ngot);
				ngot = 0;
				run = 0;
			}
		}
		else if (ticket_try_lock_seat(concert_id, seat_id))
			got[ngot++] = seat_id;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
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
	int64		concert_id;
	text	   *user_id;
	int32		section_id;
	int32		quantity;
	bool		adjacent;
	text	   *key;
	Sale		sale;
	Replay		replay;
	char		request[64];
	Tables		t;
	Snapshot	snap;
	int32	   *got;
	HeapTuple  *rows;
	HoldStatus	status = HOLD_TAKEN;
	text	   *client_key;
	text	   *pass;

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
	client_key = PG_ARGISNULL(6) ? NULL : PG_GETARG_TEXT_PP(6);
	pass = PG_ARGISNULL(7) ? NULL : PG_GETARG_TEXT_PP(7);
	check_user_and_key(user_id, key);
	check_client_key(client_key);
	if (quantity <= 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("quantity must be positive"),
				errdetail("It was %d.", quantity));
	if (quantity > TICKET_MAX_SEATS_PER_CALL)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("cannot hold %d seats in one call", quantity),
				errdetail("The limit per user is at most %d.", TICKET_MAX_SEATS_PER_CALL));
	begin_hold("ticket.hold_best()");
	snprintf(request, sizeof(request), "best section %d quantity %d%s",
			 section_id, quantity, adjacent ? " adjacent" : "");

	(void) catalog();
	tables_open(&t);
	read_sale(&t, concert_id, true, section_id, &sale);
	if (quantity > sale.per_user_limit)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("cannot hold %d seats: the limit per user is %d", quantity, sale.per_user_limit));
	if (!rate_allows(user_id, client_key))
	{
		tables_close(&t);
		return finish(fcinfo, HOLD_RATE_LIMITED, NULL, 0, 0, 0);
	}
	ticket_lock_user(concert_id, VARDATA_ANY(user_id), VARSIZE_ANY_EXHDR(user_id));
	snap = RegisterSnapshot(GetLatestSnapshot());
	if (sale.open)
		require_pass(&sale, pass, concert_id, user_id);
	if (key != NULL)
	{
		find_replay(&t, snap, concert_id, user_id, key, request, &replay);
		if (replay.found)
		{
			UnregisterSnapshot(snap);
			tables_close(&t);
			return finish(fcinfo, HOLD_HELD, replay.status, replay.hold_id,
						  replay.expires_at, replay.seat_ids);
		}
	}
	if (!sale.open)
		status = HOLD_CLOSED;
	else if (user_blocked(&t, snap, user_id))
		status = HOLD_BLOCKED;
	else if (buyer_seats(&t, snap, concert_id, user_id) + quantity > sale.per_user_limit)
		status = HOLD_LIMIT;
	if (status != HOLD_TAKEN)
	{
		UnregisterSnapshot(snap);
		tables_close(&t);
		return finish(fcinfo, status, NULL, 0, 0, 0);
	}

	got = palloc(sizeof(int32) * quantity);
	rows = palloc(sizeof(HeapTuple) * quantity);
	for (int attempt = 0; attempt < TICKET_SCAN_RETRIES; attempt++)
	{
		int32		first = sale.first_seat_id;
		int32		last = sale.first_seat_id + sale.capacity - 1;
		int64		free_seen = 0;
		int			longest_run = 0;
		int			ngot;
		bool		still_free;

		if (sale.seated)
			ngot = scan_and_lock(&t, snap, concert_id, first, last, quantity, adjacent,
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

			ngot = scan_and_lock(&t, snap, concert_id, start, last, quantity, false,
								 got, 0, &free_seen, &longest_run);
			ngot = scan_and_lock(&t, snap, concert_id, first, start - 1, quantity, false,
								 got, ngot, &free_seen, &longest_run);
		}
		UnregisterSnapshot(snap);

		if (ngot < quantity)
		{
			unlock_seats(concert_id, got, ngot);
			if (free_seen < quantity)
				status = HOLD_SOLD_OUT;
			else if (adjacent && sale.seated && longest_run < quantity)
				status = HOLD_NO_ADJACENT;
			else
				status = HOLD_TAKEN;
			break;
		}

		/* Read the locked seats again; one may have gone since the scan. */
		qsort(got, ngot, sizeof(int32), cmp_int32);
		snap = RegisterSnapshot(GetLatestSnapshot());
		still_free = read_seats(&t, snap, concert_id, got, ngot, rows);
		if (still_free)
		{
			int64		hold_id;

			UnregisterSnapshot(snap);
			hold_id = write_hold(&t, concert_id, user_id, got, rows, ngot, &sale, key, request);
			tables_close(&t);
			return finish(fcinfo, HOLD_HELD, NULL, hold_id, sale.expires_at, int4_array(got, ngot));
		}
		unlock_seats(concert_id, got, ngot);
		if (attempt == TICKET_SCAN_RETRIES - 1)
			UnregisterSnapshot(snap);
	}
	tables_close(&t);
	return finish(fcinfo, status, NULL, 0, 0, 0);
}
