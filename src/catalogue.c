/*
 * catalogue.c
 *		The catalogue as buyers read it (src/catalogue.sql): browse_seats,
 *		straight from the seat index, and the free-seat counts that every
 *		page load reads.  Counting a 20,000-seat section takes milliseconds;
 *		a spike loads the page thousands of times a second.  So the counts
 *		are kept in shared memory, one entry per section, and recounted at
 *		most every ticket.catalogue_refresh milliseconds, by the first caller
 *		who finds them older than that (the others meanwhile read the last
 *		count).  No write, no WAL: a hot standby serves them too.  A hold is
 *		still the only authority on whether a seat can be had.
 *
 * Locking rules: one LWLock of its own tranche guards the table.  Readers
 * take it shared; the caller who recounts marks the entry (counting_since)
 * under the exclusive lock, counts without the lock, and stores the result
 * under it again.  A recount that fails leaves the mark, which another
 * caller ignores after TICKET_RECOUNT_STUCK.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "sale.h"
#include "ticket.h"

#include "utils/memutils.h"
#include "utils/tuplestore.h"

#define TICKET_COUNTS_TRANCHE	"ticket section counts"
#define TICKET_COUNTS_SECTIONS	10000
#define TICKET_RECOUNT_STUCK	(5 * USECS_PER_SEC)
#define TICKET_COUNTS_FORGET	(60 * USECS_PER_SEC)

/*
 * Shared by the whole cluster: the database and the extension's seat table
 * (a new OID after DROP and CREATE EXTENSION) are part of the key.  Zeroed
 * before it is filled: HASH_BLOBS hashes the padding too.
 */
typedef struct CountKey
{
	int64		concert_id;
	int32		section_id;
	Oid			database;
	Oid			seat_table;
} CountKey;

typedef struct SectionCounts
{
	CountKey	key;			/* hash key */
	int32		available;
	int32		held;
	int32		sold;
	TimestampTz counted_at;		/* 0: never counted */
	TimestampTz counting_since; /* 0: nobody is recounting */
	int32		sold_below;		/* hold_best's hint: seats below it were sold */
	TimestampTz hinted_at;		/* when a scan from the first seat saw that; 0: no hint */
} SectionCounts;

static int	catalogue_refresh = 1000;
static HTAB *counts = NULL;
static LWLock *counts_lock = NULL;

void
ticket_catalogue_define_gucs(void)
{
	DefineCustomIntVariable("ticket.catalogue_refresh",
							"How old a section's free-seat count may be before a buyer's read recounts it, and how long hold_best trusts where a section's sold seats end.",
							"0 counts on every call (a seat scan per section), and hold_best scans from the first seat.",
							&catalogue_refresh, 1000, 0, 60000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
}

void
ticket_catalogue_shmem_request(void)
{
	RequestAddinShmemSpace(hash_estimate_size(TICKET_COUNTS_SECTIONS, sizeof(SectionCounts)));
	RequestNamedLWLockTranche(TICKET_COUNTS_TRANCHE, 1);
}

/* From the shmem_startup hook, under AddinShmemInitLock. */
void
ticket_catalogue_shmem_startup(void)
{
	HASHCTL		info;

	info.keysize = sizeof(CountKey);
	info.entrysize = sizeof(SectionCounts);
	counts = ShmemInitHash("ticket section counts", TICKET_COUNTS_SECTIONS, TICKET_COUNTS_SECTIONS,
						   &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
	counts_lock = &(GetNamedLWLockTranche(TICKET_COUNTS_TRANCHE))->lock;
}

/* A scan of a section's seats in seat order, as the calling statement sees them. */
typedef struct SectionScan
{
	Relation	seat;
	Relation	pkey;
	TupleTableSlot *slot;
	Snapshot	snap;
	IndexScanDesc scan;
} SectionScan;

static void
section_scan_begin(SectionScan *ss, int64 concert_id, const TicketSection *s)
{
	Catalog    *cat = ticket_catalog();
	ScanKeyData key[3];

	ss->seat = table_open(cat->seat, AccessShareLock);
	ss->pkey = index_open(cat->seat_pkey, AccessShareLock);
	ss->slot = table_slot_create(ss->seat, NULL);
	ss->snap = RegisterSnapshot(GetActiveSnapshot() ? GetActiveSnapshot() : GetTransactionSnapshot());
	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(concert_id));
	ScanKeyInit(&key[1], 2, BTGreaterEqualStrategyNumber, F_INT4GE, Int32GetDatum(s->first_seat_id));
	ScanKeyInit(&key[2], 2, BTLessEqualStrategyNumber, F_INT4LE,
				Int32GetDatum(s->first_seat_id + s->capacity - 1));
	ss->scan = index_beginscan(ss->seat, ss->pkey, ss->snap, 3, 0);
	index_rescan(ss->scan, key, 3, NULL, 0);
}

static void
section_scan_end(SectionScan *ss)
{
	index_endscan(ss->scan);
	UnregisterSnapshot(ss->snap);
	ExecDropSingleTupleTableSlot(ss->slot);
	index_close(ss->pkey, NoLock);
	table_close(ss->seat, NoLock);
}

/*
 * Count a section's seats by state, as the calling statement sees them, with
 * the free-seat rule of the hold paths (src/sale.c) at the time given.
 */
static void
count_section(int64 concert_id, const TicketSection *s, TimestampTz at, SectionCounts *out)
{
	Catalog    *cat = ticket_catalog();
	SectionScan ss;

	section_scan_begin(&ss, concert_id, s);
	out->available = out->held = out->sold = 0;
	while (index_getnext_slot(ss.scan, ForwardScanDirection, ss.slot))
	{
		bool		isnull;

		if (ticket_seat_is_free(ss.slot, at))
			out->available++;
		else if (DatumGetObjectId(slot_getattr(ss.slot, cat->s_state, &isnull)) == cat->sold)
			out->sold++;
		else
			out->held++;
	}
	out->counted_at = at;
	section_scan_end(&ss);
}

/* Make room: forget the sections nobody has counted for a minute. */
static void
forget_old_counts(TimestampTz now)
{
	HASH_SEQ_STATUS it;
	SectionCounts *e;

	hash_seq_init(&it, counts);
	while ((e = hash_seq_search(&it)) != NULL)
		if (Max(e->counted_at, e->hinted_at) < now - TICKET_COUNTS_FORGET &&
			(e->counting_since == 0 || e->counting_since < now - TICKET_RECOUNT_STUCK))
			(void) hash_search(counts, &e->key, HASH_REMOVE, NULL);
}

static void
entry_init(SectionCounts *e)
{
	e->available = e->held = e->sold = 0;
	e->counted_at = e->counting_since = 0;
	e->sold_below = 0;
	e->hinted_at = 0;
}

static void
count_key(CountKey *k, int64 concert_id, int32 section_id)
{
	memset(k, 0, sizeof(*k));
	k->concert_id = concert_id;
	k->section_id = section_id;
	k->database = MyDatabaseId;
	k->seat_table = ticket_catalog()->seat;
}

/* Take the recount mark off (a recount that failed), so another caller counts. */
static void
unmark(CountKey *k)
{
	SectionCounts *e;

	LWLockAcquire(counts_lock, LW_EXCLUSIVE);
	e = hash_search(counts, k, HASH_FIND, NULL);
	if (e != NULL)
		e->counting_since = 0;
	LWLockRelease(counts_lock);
}

/*
 * A section's counts no older than ticket.catalogue_refresh: from shared
 * memory, or counted now by this caller.  Without shared memory (no
 * preload) or with the setting at 0, every call counts.  A caller whose
 * count others must not see counts for itself only: under REPEATABLE READ
 * its snapshot may be old, and a transaction that has written sees its own
 * uncommitted holds.
 */
static void
section_counts(int64 concert_id, int32 section_id, SectionCounts *out)
{
	CountKey	k;
	TimestampTz now = GetCurrentTimestamp();
	int64		refresh = (int64) catalogue_refresh * 1000;
	SectionCounts *e;
	bool		found;
	bool		mine = false;
	TicketSection s;

	memset(out, 0, sizeof(*out));
	count_key(&k, concert_id, section_id);
	/* P0002 for a section that does not exist, before anything is marked */
	ticket_section(concert_id, section_id, &s);
	if (counts == NULL || refresh == 0 || IsolationUsesXactSnapshot() ||
		TransactionIdIsValid(GetTopTransactionIdIfAny()))
	{
		count_section(concert_id, &s, now, out);
		return;
	}

	LWLockAcquire(counts_lock, LW_SHARED);
	e = hash_search(counts, &k, HASH_FIND, NULL);
	if (e && e->counted_at != 0 && now - e->counted_at < refresh)
	{
		*out = *e;
		LWLockRelease(counts_lock);
		return;
	}
	LWLockRelease(counts_lock);

	LWLockAcquire(counts_lock, LW_EXCLUSIVE);
	e = hash_search(counts, &k, HASH_ENTER_NULL, &found);
	if (e == NULL)
	{
		forget_old_counts(now);
		e = hash_search(counts, &k, HASH_ENTER_NULL, &found);
	}
	if (e != NULL)
	{
		if (!found)
			entry_init(e);
		if (e->counted_at != 0 &&
			(now - e->counted_at < refresh ||
			 (e->counting_since != 0 && now - e->counting_since < TICKET_RECOUNT_STUCK)))
		{
			/* fresh after all, or another caller is recounting: the last count */
			*out = *e;
			LWLockRelease(counts_lock);
			return;
		}
		e->counting_since = now;
		mine = true;
	}
	LWLockRelease(counts_lock);

	if (!mine)
	{
		count_section(concert_id, &s, now, out);
		return;
	}
	PG_TRY();
	{
		count_section(concert_id, &s, now, out);
	}
	PG_CATCH();
	{
		unmark(&k);
		PG_RE_THROW();
	}
	PG_END_TRY();
	LWLockAcquire(counts_lock, LW_EXCLUSIVE);
	e = hash_search(counts, &k, HASH_FIND, NULL);
	/* a recounter taken over after TICKET_RECOUNT_STUCK may be late: keep the newer count */
	if (e != NULL && out->counted_at >= e->counted_at)
	{
		e->available = out->available;
		e->held = out->held;
		e->sold = out->sold;
		e->counted_at = out->counted_at;
		e->counting_since = 0;
	}
	LWLockRelease(counts_lock);
}

/*
 * hold_best's hint (src/hold.c): in a section sold from its best seats down,
 * the scan for free seats would read every sold seat first (19,000 of
 * 20,000 at 95 %).  A scan from the section's first seat records where the
 * seats stop being sold; for ticket.catalogue_refresh after it, scans start
 * there.  Only sold seats are skipped: a held seat frees itself when its
 * hold expires, a sold one only through ticket._free_seats (an order undone
 * or cancelled), and such a seat is found by the next scan from the first
 * seat, at most ticket.catalogue_refresh later (as the counts are).  A
 * caller whose snapshot others must not trust (REPEATABLE READ, or a
 * transaction that has written) records nothing.
 */
int32
ticket_sold_hint(int64 concert_id, int32 section_id, int32 first_seat_id, bool *fresh)
{
	CountKey	k;
	SectionCounts *e;
	int32		start = first_seat_id;
	TimestampTz now = GetCurrentTimestamp();

	*fresh = false;
	if (counts == NULL || catalogue_refresh == 0)
		return start;
	count_key(&k, concert_id, section_id);
	LWLockAcquire(counts_lock, LW_SHARED);
	e = hash_search(counts, &k, HASH_FIND, NULL);
	if (e && e->hinted_at != 0 && now - e->hinted_at < (int64) catalogue_refresh * 1000)
	{
		start = Max(start, e->sold_below);
		*fresh = true;
	}
	LWLockRelease(counts_lock);
	return start;
}

/*
 * Record what a scan saw: every seat from where it started up to sold_below
 * (exclusive) was sold under its snapshot, taken at scanned_at.  A scan from
 * the first seat renews the hint; one from the hint may only raise it.  The
 * caller records only what changes the hint (a stale one, or more sold
 * seats), so that a hold_best in a section with no sold front takes this
 * exclusive lock once per ticket.catalogue_refresh, not on every call.
 */
void
ticket_sold_hint_note(int64 concert_id, int32 section_id, bool from_first_seat,
					  int32 sold_below, TimestampTz scanned_at)
{
	CountKey	k;
	SectionCounts *e;
	bool		found;

	if (counts == NULL || catalogue_refresh == 0 || IsolationUsesXactSnapshot() ||
		TransactionIdIsValid(GetTopTransactionIdIfAny()))
		return;
	count_key(&k, concert_id, section_id);
	LWLockAcquire(counts_lock, LW_EXCLUSIVE);
	e = hash_search(counts, &k, from_first_seat ? HASH_ENTER_NULL : HASH_FIND, &found);
	if (e != NULL)
	{
		if (from_first_seat && !found)
			entry_init(e);
		if (from_first_seat && scanned_at >= e->hinted_at)
		{
			e->sold_below = sold_below;
			e->hinted_at = scanned_at;
		}
		else if (!from_first_seat && e->hinted_at != 0)
			e->sold_below = Max(e->sold_below, sold_below);
	}
	LWLockRelease(counts_lock);
}

PG_FUNCTION_INFO_V1(ticket_section_counts);

/*
 * ticket._section_counts(concert_id, section_id): available, held, sold and
 * when they were counted.  P0002 for a section that does not exist.
 */
Datum
ticket_section_counts(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	SectionCounts c;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("concert_id and section_id must not be NULL"));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	section_counts(PG_GETARG_INT64(0), PG_GETARG_INT32(1), &c);
	values[0] = Int32GetDatum(c.available);
	values[1] = Int32GetDatum(c.held);
	values[2] = Int32GetDatum(c.sold);
	values[3] = TimestampTzGetDatum(c.counted_at);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/*
 * Where browse_seats builds its result: a context that lives as long as
 * the backend, whose first 2 MB block survives each reset.  A 20,000-seat
 * section is about 1.5 MB of rows; built in the query's own context, each
 * call would map and unmap those megabytes and take the page faults (more
 * than half of what a call cost, bench/RESULTS.md, catalogue).  One call at
 * a time uses it (busy until the query that holds its rows ends); a second
 * in the same query builds in the query's context as usual.
 */
static MemoryContext browse_cxt = NULL;
static bool browse_cxt_busy = false;

static void
browse_cxt_done(void *arg)
{
	browse_cxt_busy = false;
}

/* The materialized result of a set-returning call, built in cxt (InitMaterializedSRF's checks). */
static void
materialize_in(FunctionCallInfo fcinfo, MemoryContext cxt)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext per_query = rsinfo ? rsinfo->econtext->ecxt_per_query_memory : NULL;
	MemoryContext old;
	TupleDesc	tupdesc;
	Tuplestorestate *store;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) || (rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("set-valued function called in context that cannot accept a set"));
	old = MemoryContextSwitchTo(per_query);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = CreateTupleDescCopy(tupdesc);
	MemoryContextSwitchTo(cxt);
	store = tuplestore_begin_heap((rsinfo->allowedModes & SFRM_Materialize_Random) != 0, false, work_mem);
	MemoryContextSwitchTo(old);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = tupdesc;
}

PG_FUNCTION_INFO_V1(ticket_browse_seats);

/*
 * ticket.browse_seats(concert_id, section_id, only_free): a section's seats
 * in order, each with row, number, label, price and whether it is free now
 * (never who holds it).  C, straight from the seat index into the result,
 * like the hold paths: a SQL function would copy 20,000 rows through its
 * own executor first, which cost more than the scan (bench/RESULTS.md,
 * catalogue).  Who may see the concert is ticket._listed_concert's rule
 * (P0002 otherwise), called as its owner.
 */
Datum
ticket_browse_seats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Catalog    *cat;
	int64		concert_id;
	int32		section_id;
	bool		only_free;
	TicketSection s;
	SectionScan ss;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	Datum		price;
	StringInfoData label;

	if (PG_ARGISNULL(0))
		ereport(ERROR, errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("concert_id must not be NULL"));
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR, errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("section_id and only_free must not be NULL"));
	concert_id = PG_GETARG_INT64(0);
	section_id = PG_GETARG_INT32(1);
	only_free = PG_GETARG_BOOL(2);
	cat = ticket_catalog();
	if (!OidIsValid(cat->listed_concert))
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("ticket.browse_seats needs version 0.6 of the extension"),
				errhint("Run ALTER EXTENSION ticket UPDATE."));
	/* P0002 for a concert buyers may not see (SECURITY DEFINER: it reads the concert as its owner) */
	(void) OidFunctionCall1(cat->listed_concert, Int64GetDatum(concert_id));
	ticket_section(concert_id, section_id, &s);

	if (browse_cxt == NULL)
		browse_cxt = AllocSetContextCreate(TopMemoryContext, "ticket browse_seats",
										   2 * 1024 * 1024, 2 * 1024 * 1024, 8 * 1024 * 1024);
	if (!browse_cxt_busy && rsinfo != NULL && IsA(rsinfo, ReturnSetInfo))
	{
		MemoryContextCallback *cb = MemoryContextAlloc(rsinfo->econtext->ecxt_per_query_memory,
													   sizeof(MemoryContextCallback));

		MemoryContextReset(browse_cxt);
		materialize_in(fcinfo, browse_cxt);
		cb->func = browse_cxt_done;
		cb->arg = NULL;
		MemoryContextRegisterResetCallback(rsinfo->econtext->ecxt_per_query_memory, cb);
		browse_cxt_busy = true;
	}
	else
		materialize_in(fcinfo, rsinfo ? rsinfo->econtext->ecxt_per_query_memory : CurrentMemoryContext);
	price = ticket_cents_numeric(s.price_cents);
	initStringInfo(&label);
	section_scan_begin(&ss, concert_id, &s);
	while (index_getnext_slot(ss.scan, ForwardScanDirection, ss.slot))
	{
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};
		bool		isnull;
		bool		free = ticket_seat_is_free(ss.slot, now);
		int32		row_no = 0;
		int32		seat_no;

		if (only_free && !free)
			continue;
		values[0] = slot_getattr(ss.slot, cat->s_seat_id, &isnull);
		values[1] = slot_getattr(ss.slot, cat->s_row_no, &nulls[1]);
		if (!nulls[1])
			row_no = DatumGetInt32(values[1]);
		values[2] = slot_getattr(ss.slot, cat->s_seat_no, &isnull);
		seat_no = DatumGetInt32(values[2]);
		resetStringInfo(&label);
		ticket_seat_label(&label, s.name, s.seated, row_no, seat_no);
		values[3] = PointerGetDatum(cstring_to_text_with_len(label.data, label.len));
		values[4] = price;
		values[5] = BoolGetDatum(free);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		pfree(DatumGetPointer(values[3]));
	}
	section_scan_end(&ss);
	return (Datum) 0;
}
