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

#include "catalog.h"
#include "input.h"
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

/* The schema map (src/catalog.c), set by each entry point. */
static Catalog *cat;

/* The relations one call works on, opened and locked for the transaction. */
typedef struct Tables
{
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
	bool		durable;		/* the concert's durable_holds */
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
	t->seat = table_open(cat->seat, RowExclusiveLock);
	t->seat_pkey = index_open(cat->seat_pkey, RowExclusiveLock);
}

static void
open_hold(Tables *t)
{
	if (t->hold == NULL)
	{
		t->hold = table_open(cat->hold, RowExclusiveLock);
		t->hold_buyer = index_open(cat->hold_buyer, RowExclusiveLock);
		t->hold_key = index_open(cat->hold_key, RowExclusiveLock);
	}
}

static void
open_blocked(Tables *t)
{
	if (t->blocked == NULL)
	{
		t->blocked = table_open(cat->blocked, AccessShareLock);
		t->blocked_pkey = index_open(cat->blocked_pkey, AccessShareLock);
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

/*
 * Read the sale (and, for hold_best, the section), raising P0002 when the
 * concert or section does not exist.  A hold lasts hold_ttl from the moment
 * it is made, even in a transaction that began long before.
 */
static void
read_sale(int64 concert_id, bool with_section, int32 section_id, Sale *sale)
{
	TicketConcert c;

	ticket_concert(concert_id, &c);

	sale->open = c.on_sale && c.sale_closes_at > GetCurrentTransactionStartTimestamp();
	sale->queue = c.queue;
	sale->per_user_limit = c.per_user_limit;
	sale->seat_count = c.seat_count;
	sale->durable = c.durable_holds;
	sale->made_at = GetCurrentTimestamp();
	sale->expires_at = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
															   TimestampTzGetDatum(sale->made_at),
															   IntervalPGetDatum(&c.hold_ttl)));
	if (with_section)
	{
		TicketSection x;

		ticket_section(concert_id, section_id, &x);
		sale->first_seat_id = x.first_seat_id;
		sale->capacity = x.capacity;
		sale->seated = x.seated;
	}
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
		char	   *stored = TextDatumGetCString(get(slot, cat->h_request, &isnull));
		Oid			state = DatumGetObjectId(get(slot, cat->h_state, &isnull));

		replay->hold_id = DatumGetInt64(get(slot, cat->h_hold_id, &isnull));
		if (strcmp(stored, request) != 0)
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("idempotency key \"%s\" was already used for a different request",
						   text_to_cstring(key)),
					errdetail("It made hold " INT64_FORMAT " for %s; this call asks for %s.",
							  replay->hold_id, stored, request),
					errhint("Use a new key for a new request."));
		replay->expires_at = DatumGetTimestampTz(get(slot, cat->h_expires_at, &isnull));
		replay->seat_ids = datumCopy(get(slot, cat->h_seat_ids, &isnull), false, -1);
		/* An active hold past its expiry is expired, whatever the cleaner did. */
		if (state == cat->active)
			replay->status = ticket_hold_is_live(slot, GetCurrentTransactionStartTimestamp()) ? "held" : "expired";
		else
			replay->status = DatumGetCString(DirectFunctionCall1(enum_out, ObjectIdGetDatum(state)));
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
}

/*
 * Is the row in slot the seat (concert_id, seat_id)?  A row fetched by a
 * remembered TID is checked, since its line pointer may have been reused.
 */
static bool
is_seat(TupleTableSlot *slot, int64 concert_id, int32 seat_id)
{
	bool		isnull;

	return DatumGetInt64(slot_getattr(slot, cat->s_concert_id, &isnull)) == concert_id &&
		DatumGetInt32(slot_getattr(slot, cat->s_seat_id, &isnull)) == seat_id;
}

/*
 * Read the given seats (ascending) under snap.  Returns true when every one
 * is free; then, if rows is not NULL, rows[i] is a copy of seat i's row for
 * writing it.  Without rows, a seat that does not exist counts as free (the
 * caller only wants to know whether one is visibly taken).
 *
 * tids, when not NULL, carries the seats' index entries from the first read
 * to the second: the first read (rows NULL) stores the TID its index probe
 * found (the root of the row's HOT chain), and the second fetches each seat
 * from there, following the chain to the version snap sees, instead of
 * descending the primary key again.  Seat updates are HOT (no indexed
 * column changes), so the chain leads to the seat; a seat whose TID finds
 * nothing, or finds another row, is looked up in the index after all.
 */
static bool
read_seats(Tables *t, Snapshot snap, int64 concert_id, int32 *seats, int n, HeapTuple *rows,
		   ItemPointerData *tids)
{
	ScanKeyData key[2];
	IndexScanDesc scan = NULL;
	IndexFetchTableData *fetch = NULL;
	TupleTableSlot *slot = table_slot_create(t->seat, NULL);
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	bool		all_free = true;
	bool		refetch = tids != NULL && rows != NULL;

	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(concert_id));
	for (int i = 0; i < n && all_free; i++)
	{
		bool		found = false;

		if (refetch && ItemPointerIsValid(&tids[i]))
		{
			bool		call_again = false;
			bool		all_dead = false;
			ItemPointerData tid = tids[i];

			if (fetch == NULL)
				fetch = table_index_fetch_begin(t->seat);
			found = table_index_fetch_tuple(fetch, &tid, snap, slot, &call_again, &all_dead) &&
				is_seat(slot, concert_id, seats[i]);
		}
		if (!found)
		{
			if (scan == NULL)
				scan = index_beginscan(t->seat, t->seat_pkey, snap, 2, 0);
			ScanKeyInit(&key[1], 2, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(seats[i]));
			index_rescan(scan, key, 2, NULL, 0);
			found = index_getnext_slot(scan, ForwardScanDirection, slot);
			if (tids != NULL && rows == NULL)
			{
				if (found)
					tids[i] = scan->xs_heaptid;
				else
					ItemPointerSetInvalid(&tids[i]);
			}
		}
		if (!found)
		{
			if (rows == NULL)
				continue;
			elog(ERROR, "seat %d of concert " INT64_FORMAT " is missing", seats[i], concert_id);
		}
		all_free = ticket_seat_is_free(slot, now);
		if (rows)
			rows[i] = ExecCopySlotHeapTuple(slot);
	}
	if (fetch)
		table_index_fetch_end(fetch);
	if (scan)
		index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	return all_free;
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
	Relation	event = NULL;
	bool		from_holds;
	TupleDesc	hold_desc;
	TupleDesc	seat_desc = RelationGetDescr(t->seat);
	TupleTableSlot *slot;
	TupleTableSlot *search;
	EPQState	epq;
	int64		hold_id;

	/* Locked first: a change of the install (0.7's update) is seen before the id is taken. */
	open_hold(t);
	hold_id = ticket_next_hold_id(&from_holds);
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
	/* Before 0.7's update the hold's event is an outbox row. */
	if (!from_holds)
	{
		event = table_open(cat->event, RowExclusiveLock);
		rte_event->rtekind = RTE_RELATION;
		rte_event->relid = cat->event;
		rte_event->relkind = RELKIND_RELATION;
		rte_event->rellockmode = RowExclusiveLock;
	}
	ExecInitRangeTable(estate, event ? list_make3(rte_seat, rte_hold, rte_event) : list_make2(rte_seat, rte_hold));
	InitResultRelInfo(seat_rri, t->seat, 1, NULL, 0);
	InitResultRelInfo(hold_rri, t->hold, 2, NULL, 0);
	estate->es_output_cid = GetCurrentCommandId(true);
	ExecOpenIndices(seat_rri, false);
	ExecOpenIndices(hold_rri, false);
	if (event)
	{
		InitResultRelInfo(event_rri, event, 3, NULL, 0);
		ExecOpenIndices(event_rri, false);
	}
	EvalPlanQualInit(&epq, estate, NULL, NIL, -1);
	AfterTriggerBeginQuery();

	/* The hold. */
	slot = ExecInitExtraTupleSlot(estate, hold_desc, &TTSOpsVirtual);
	ExecClearTuple(slot);
	for (int i = 0; i < hold_desc->natts; i++)
		slot->tts_isnull[i] = true;
#define SET(attnum, value) (slot->tts_values[(attnum) - 1] = (value), slot->tts_isnull[(attnum) - 1] = false)
	SET(cat->h_hold_id, Int64GetDatum(hold_id));
	SET(cat->h_concert_id, Int64GetDatum(concert_id));
	SET(cat->h_user_id, PointerGetDatum(user_id));
	SET(cat->h_seat_ids, int4_array(seats, n));
	SET(cat->h_state, ObjectIdGetDatum(cat->active));
	SET(cat->h_created_at, TimestampTzGetDatum(sale->made_at));
	SET(cat->h_expires_at, TimestampTzGetDatum(expires_at));
	if (key)
		SET(cat->h_idempotency_key, PointerGetDatum(key));
	SET(cat->h_request, CStringGetTextDatum(request));
#undef SET
	ExecStoreVirtualTuple(slot);
	ExecSimpleRelationInsert(hold_rri, estate, slot);

	/*
	 * Its event: ticket.publish_events reads it from ticket.hold (src/sale.c,
	 * "hold events"), or, before 0.7, numbers its outbox row after commit.
	 */
	if (event)
		ticket_insert_event(estate, event_rri, concert_id, "hold", hold_id, user_id, (Datum) 0, sale->made_at);

	/* Its seats. */
	slot = ExecInitExtraTupleSlot(estate, seat_desc, &TTSOpsVirtual);
	search = ExecInitExtraTupleSlot(estate, seat_desc, &TTSOpsHeapTuple);
	for (int i = 0; i < n; i++)
	{
		ExecClearTuple(slot);
		heap_deform_tuple(rows[i], seat_desc, slot->tts_values, slot->tts_isnull);
		slot->tts_values[cat->s_state - 1] = ObjectIdGetDatum(cat->held);
		slot->tts_values[cat->s_hold_id - 1] = Int64GetDatum(hold_id);
		slot->tts_isnull[cat->s_hold_id - 1] = false;
		slot->tts_values[cat->s_held_until - 1] = TimestampTzGetDatum(expires_at);
		slot->tts_isnull[cat->s_held_until - 1] = false;
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
	if (event)
	{
		ExecCloseIndices(event_rri);
		table_close(event, NoLock);
	}
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);

	/* Later reads in this transaction, even in the same statement, see it. */
	CommandCounterIncrement();
	if (!sale->durable)
		ticket_hold_async();
	return hold_id;
}

static void
unlock_seats(int64 concert_id, int32 *seats, int n)
{
	for (int i = 0; i < n; i++)
		ticket_unlock_seat(concert_id, seats[i]);
}

/*
 * The seats of a hold as a buyer sees them, from the seat rows the hold
 * read (refs, before the tables are closed) or, for a replayed key, looked
 * up by id.
 */
static TicketSeatRef *
refs_of_rows(Tables *t, HeapTuple *rows, int n)
{
	TicketSeatRef *refs = palloc(sizeof(TicketSeatRef) * n);

	for (int i = 0; i < n; i++)
		ticket_seat_ref(rows[i], RelationGetDescr(t->seat), &refs[i]);
	return refs;
}

/*
 * Build the ticket.hold_result row and count the outcome.  A hold carries
 * its seats with their labels and prices, and their total.
 */
static Datum
finish(FunctionCallInfo fcinfo, HoldStatus status, const char *replay_status,
	   int64 hold_id, TimestampTz expires_at, Datum seat_ids,
	   int64 concert_id, TicketSeatRef *refs)
{
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	/* before 0.6 the result had no total and seats (4 attributes) */
	Assert(tupdesc->natts == 4 || tupdesc->natts == lengthof(values));
	tupdesc = BlessTupleDesc(tupdesc);

	values[1] = CStringGetTextDatum(replay_status ? replay_status : hold_status_names[status]);
	if (hold_id == 0)
		nulls[0] = nulls[2] = nulls[3] = nulls[4] = nulls[5] = true;
	else
	{
		values[0] = Int64GetDatum(hold_id);
		values[2] = TimestampTzGetDatum(expires_at);
		values[3] = seat_ids;
		if (tupdesc->natts == lengthof(values))
		{
			ArrayType  *arr = DatumGetArrayTypeP(seat_ids);
			int			n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
			int64		total;

			if (refs == NULL)
			{
				refs = palloc(sizeof(TicketSeatRef) * Max(n, 1));
				ticket_seat_refs(concert_id, (int32 *) ARR_DATA_PTR(arr), n, refs);
			}
			values[5] = ticket_seats_json(concert_id, refs, n, &total);
			values[4] = ticket_cents_numeric(total);
		}
	}

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
	TicketSeatRef *refs;
	StringInfoData request;
	Tables		t;
	Snapshot	snap;
	HeapTuple  *rows;
	ItemPointerData *tids;
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
	ticket_check_user_and_key(user_id, key);
	ticket_check_client_key(client_key);
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(2);
		int			items = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));

		ticket_check_seat_count(items, "hold");
		seats = ticket_sorted_seat_ids(arr, &n);
	}
	begin_hold("ticket.hold()");

	initStringInfo(&request);
	appendStringInfoString(&request, "seats ");
	for (int i = 0; i < n; i++)
		appendStringInfo(&request, i ? ",%d" : "%d", seats[i]);

	cat = ticket_catalog();
	tables_open(&t);
	tids = palloc(sizeof(ItemPointerData) * n);
	for (int i = 0; i < n; i++)
		ItemPointerSetInvalid(&tids[i]);

	read_sale(concert_id, false, 0, &sale);
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
		return finish(fcinfo, HOLD_RATE_LIMITED, NULL, 0, 0, 0, 0, NULL);
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
		 (ActiveSnapshotSet() && !read_seats(&t, GetActiveSnapshot(), concert_id, seats, n, NULL, tids))))
	{
		tables_close(&t);
		return finish(fcinfo, sale.open ? HOLD_TAKEN : HOLD_CLOSED, NULL, 0, 0, 0, 0, NULL);
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
							  replay.expires_at, replay.seat_ids, concert_id, NULL);
			return finish(fcinfo, HOLD_CLOSED, NULL, 0, 0, 0, 0, NULL);
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
			return finish(fcinfo, HOLD_TAKEN, NULL, 0, 0, 0, 0, NULL);
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
	else if (!read_seats(&t, snap, concert_id, seats, n, rows, key == NULL ? tids : NULL))
		status = HOLD_TAKEN;
	else
		status = HOLD_HELD;
	UnregisterSnapshot(snap);
	if (status != HOLD_HELD)
	{
		unlock_seats(concert_id, seats, n);
		tables_close(&t);
		return finish(fcinfo, status, NULL, 0, 0, 0, 0, NULL);
	}

	/* 5. Insert the hold and mark its seats held. */
	hold_id = write_hold(&t, concert_id, user_id, seats, rows, n, &sale, key, request.data);
	refs = refs_of_rows(&t, rows, n);
	tables_close(&t);
	return finish(fcinfo, HOLD_HELD, NULL, hold_id, sale.expires_at, int4_array(seats, n), concert_id, refs);
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
			  int64 *free_seen, int *longest_run, int32 *sold_below)
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
		int32		seat_id;

		/* The sold seats the scan began with, for the hint (src/catalogue.c). */
		if (sold_below != NULL)
		{
			if (DatumGetObjectId(get(slot, cat->s_state, &isnull)) == cat->sold)
				*sold_below = DatumGetInt32(get(slot, cat->s_seat_id, &isnull)) + 1;
			else
				sold_below = NULL;
		}
		if (!ticket_seat_is_free(slot, now))
			continue;
		seat_id = DatumGetInt32(get(slot, cat->s_seat_id, &isnull));
		(*free_seen)++;
		if (adjacent)
		{
			int32		row_no = DatumGetInt32(get(slot, cat->s_row_no, &isnull));
			int32		seat_no = DatumGetInt32(get(slot, cat->s_seat_no, &isnull));

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
	TicketSeatRef *refs;
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
	ticket_check_user_and_key(user_id, key);
	ticket_check_client_key(client_key);
	if (quantity <= 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("quantity must be positive"),
				errdetail("It was %d.", quantity));
	ticket_check_seat_count(quantity, "hold");
	begin_hold("ticket.hold_best()");
	snprintf(request, sizeof(request), "best section %d quantity %d%s",
			 section_id, quantity, adjacent ? " adjacent" : "");

	cat = ticket_catalog();
	tables_open(&t);
	read_sale(concert_id, true, section_id, &sale);
	if (quantity > sale.per_user_limit)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("cannot hold %d seats: the limit per user is %d", quantity, sale.per_user_limit));
	if (!rate_allows(user_id, client_key))
	{
		tables_close(&t);
		return finish(fcinfo, HOLD_RATE_LIMITED, NULL, 0, 0, 0, 0, NULL);
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
						  replay.expires_at, replay.seat_ids, concert_id, NULL);
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
		return finish(fcinfo, status, NULL, 0, 0, 0, 0, NULL);
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
		{
			/*
			 * Seats are best first: a section sold from the front is
			 * scanned from the hint past its sold seats (src/catalogue.c).
			 */
			bool		fresh;
			int32		start = ticket_sold_hint(concert_id, section_id, first, &fresh);
			int32		sold_below = start;
			TimestampTz scanned_at = GetCurrentTimestamp();

			ngot = scan_and_lock(&t, snap, concert_id, start, last, quantity, adjacent,
								 got, 0, &free_seen, &longest_run, &sold_below);
			if (sold_below > start || !fresh)
				ticket_sold_hint_note(concert_id, section_id, start == first, sold_below, scanned_at);
		}
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
								 got, 0, &free_seen, &longest_run, NULL);
			ngot = scan_and_lock(&t, snap, concert_id, first, start - 1, quantity, false,
								 got, ngot, &free_seen, &longest_run, NULL);
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
		still_free = read_seats(&t, snap, concert_id, got, ngot, rows, NULL);
		if (still_free)
		{
			int64		hold_id;

			UnregisterSnapshot(snap);
			hold_id = write_hold(&t, concert_id, user_id, got, rows, ngot, &sale, key, request);
			refs = refs_of_rows(&t, rows, ngot);
			tables_close(&t);
			return finish(fcinfo, HOLD_HELD, NULL, hold_id, sale.expires_at, int4_array(got, ngot),
						  concert_id, refs);
		}
		unlock_seats(concert_id, got, ngot);
		if (attempt == TICKET_SCAN_RETRIES - 1)
			UnregisterSnapshot(snap);
	}
	tables_close(&t);
	return finish(fcinfo, status, NULL, 0, 0, 0, 0, NULL);
}
