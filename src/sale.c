/*
 * sale.c
 *		The rules of a sale that every C path shares (src/sale.h): when a
 *		seat is free, when a hold is live and counts toward the per-user
 *		limit, how an event enters the outbox, and how a caller's own hold or
 *		order is found.  The SQL functions call the same code
 *		(ticket._seat_is_free, ticket._hold_is_live, ticket._event,
 *		ticket._own_hold, ticket._own_order), so each rule is written once.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_sequence.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "port/atomics.h"
#include "storage/backendid.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/json.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "catalog.h"
#include "input.h"
#include "sale.h"
#include "ticket.h"

/*
 * The rule of a free seat: available, or held past its held_until (an
 * expired hold frees its seats without a cleaner).  A held seat without a
 * held_until is not free.
 */
static bool
seat_free(Catalog *cat, Oid state, bool held_until_null, TimestampTz held_until, TimestampTz now)
{
	return state == cat->available ||
		(state == cat->held && !held_until_null && held_until <= now);
}

/*
 * The rule of a live hold: paid (confirmed), or active or in checkout until
 * its expires_at (a checkout keeps its seats until pay_by, its expires_at).
 * Live holds own their seats and count toward the per-user limit.
 */
static bool
hold_live(Catalog *cat, Oid state, bool expires_at_null, TimestampTz expires_at, TimestampTz now)
{
	if (state == cat->confirmed)
		return true;
	return (state == cat->active || state == cat->checking_out) &&
		!expires_at_null && expires_at > now;
}

/* Is this seat tuple free? */
bool
ticket_seat_is_free(TupleTableSlot *slot, TimestampTz now)
{
	Catalog    *cat = ticket_catalog();
	bool		state_null;
	bool		until_null = true;
	Oid			state = DatumGetObjectId(slot_getattr(slot, cat->s_state, &state_null));
	Datum		until = 0;

	/* held_until only matters for a held seat (and is the last column to deform) */
	if (state == cat->held)
		until = slot_getattr(slot, cat->s_held_until, &until_null);
	return seat_free(cat, state, until_null, until_null ? 0 : DatumGetTimestampTz(until), now);
}

/* Is this hold tuple live? */
bool
ticket_hold_is_live(TupleTableSlot *slot, TimestampTz now)
{
	Catalog    *cat = ticket_catalog();
	bool		state_null;
	bool		expires_null;
	Oid			state = DatumGetObjectId(slot_getattr(slot, cat->h_state, &state_null));
	Datum		expires = slot_getattr(slot, cat->h_expires_at, &expires_null);

	return hold_live(cat, state, expires_null, expires_null ? 0 : DatumGetTimestampTz(expires), now);
}

PG_FUNCTION_INFO_V1(ticket_seat_is_free_sql);

/* ticket._seat_is_free(state, held_until, at): the same rule for SQL (NULL state: NULL). */
Datum
ticket_seat_is_free_sql(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	PG_RETURN_BOOL(seat_free(ticket_catalog(), PG_GETARG_OID(0), PG_ARGISNULL(1),
							 PG_ARGISNULL(1) ? 0 : PG_GETARG_TIMESTAMPTZ(1), PG_GETARG_TIMESTAMPTZ(2)));
}

PG_FUNCTION_INFO_V1(ticket_hold_is_live_sql);

/* ticket._hold_is_live(state, expires_at, at): the same rule for SQL (NULL state: NULL). */
Datum
ticket_hold_is_live_sql(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	PG_RETURN_BOOL(hold_live(ticket_catalog(), PG_GETARG_OID(0), PG_ARGISNULL(1),
							 PG_ARGISNULL(1) ? 0 : PG_GETARG_TIMESTAMPTZ(1), PG_GETARG_TIMESTAMPTZ(2)));
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
	Catalog    *cat = ticket_catalog();
	/* hold_user_idx is (user_id, concert_id); 0.5's hold_buyer_idx, (concert_id, user_id) */
	int			u = cat->hold_buyer_user_first ? 0 : 1;

	slot = table_slot_create(hold, NULL);
	ScanKeyEntryInitialize(&key[u], 0, u + 1, BTEqualStrategyNumber, InvalidOid,
						   hold_buyer->rd_indcollation[u], F_TEXTEQ, PointerGetDatum(user_id));
	ScanKeyInit(&key[1 - u], 2 - u, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(concert_id));
	scan = index_beginscan(hold, hold_buyer, snap, 2, 0);
	index_rescan(scan, key, 2, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		ArrayType  *arr;

		if (!ticket_hold_is_live(slot, now) ||
			(except_hold != 0 && DatumGetInt64(slot_getattr(slot, cat->h_hold_id, &isnull)) == except_hold))
			continue;
		arr = DatumGetArrayTypeP(slot_getattr(slot, cat->h_seat_ids, &isnull));
		seats += ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	return seats;
}

/*
 * Write an event into the outbox (ticket.publish_events numbers it after
 * commit): every event of the extension enters here, from C and, through
 * ticket._event, from SQL.  concert_id, subject_id and user_id may be NULL
 * (the pointers), detail is a jsonb or 0 for none.
 */
static void
insert_event(EState *estate, ResultRelInfo *rri, const int64 *concert_id, const char *kind,
			 const int64 *subject_id, text *user_id, Datum detail, TimestampTz at)
{
	TupleDesc	desc = RelationGetDescr(rri->ri_RelationDesc);
	TupleTableSlot *slot = ExecInitExtraTupleSlot(estate, desc, &TTSOpsVirtual);
	Catalog    *cat = ticket_catalog();

	ExecClearTuple(slot);
	for (int i = 0; i < desc->natts; i++)
		slot->tts_isnull[i] = true;
#define SET(attnum, value) (slot->tts_values[(attnum) - 1] = (value), slot->tts_isnull[(attnum) - 1] = false)
	SET(cat->e_seq, Int64GetDatum(nextval_internal(cat->event_seq, false)));
	if (concert_id)
		SET(cat->e_concert_id, Int64GetDatum(*concert_id));
	SET(cat->e_kind, CStringGetTextDatum(kind));
	if (subject_id)
		SET(cat->e_subject_id, Int64GetDatum(*subject_id));
	if (user_id)
		SET(cat->e_user_id, PointerGetDatum(user_id));
	if (detail != (Datum) 0)
		SET(cat->e_detail, detail);
	SET(cat->e_created_at, TimestampTzGetDatum(at));
#undef SET
	ExecStoreVirtualTuple(slot);
	ExecSimpleRelationInsert(rri, estate, slot);
}

void
ticket_insert_event(EState *estate, ResultRelInfo *rri, int64 concert_id, const char *kind,
					int64 subject_id, text *user_id, Datum detail, TimestampTz at)
{
	insert_event(estate, rri, &concert_id, kind, &subject_id, user_id, detail, at);
}

/*
 * The executor state of the single-row writes of one call (checkout,
 * _sell, ticket._event): indexes, constraints and AFTER triggers (foreign
 * keys) kept as an INSERT or UPDATE keeps them, without the parse, plan and
 * executor start-up of a statement.
 */
/* Set up the writes to rels[0..n-1]; a NULL entry is a table this call does not write. */
void
ticket_writer_begin(TicketWriter *w, Relation *rels, int n)
{
	List	   *rtable = NIL;
	Index		rti = 0;

	Assert(n <= TICKET_WRITER_MAX);
	w->estate = CreateExecutorState();
	w->n = n;
	for (int i = 0; i < n; i++)
	{
		RangeTblEntry *rte;

		if (rels[i] == NULL)
			continue;
		rte = makeNode(RangeTblEntry);
		rte->rtekind = RTE_RELATION;
		rte->relid = RelationGetRelid(rels[i]);
		rte->relkind = RELKIND_RELATION;
		rte->rellockmode = RowExclusiveLock;
		rtable = lappend(rtable, rte);
	}
	ExecInitRangeTable(w->estate, rtable);
	for (int i = 0; i < n; i++)
	{
		w->rri[i] = NULL;
		if (rels[i] == NULL)
			continue;
		w->rri[i] = makeNode(ResultRelInfo);
		InitResultRelInfo(w->rri[i], rels[i], ++rti, NULL, 0);
	}
	w->open = -1;
	w->estate->es_output_cid = GetCurrentCommandId(true);
	EvalPlanQualInit(&w->epq, w->estate, NULL, NIL, -1);
	AfterTriggerBeginQuery();
}

/* Fire the queued AFTER triggers (foreign keys) and free the state. */
void
ticket_writer_end(TicketWriter *w)
{
	AfterTriggerEndQuery(w->estate);
	/* what the foreign-key triggers opened */
	ExecCloseResultRelations(w->estate);
	EvalPlanQualEnd(&w->epq);
	if (w->open >= 0)
		ExecCloseIndices(w->rri[w->open]);
	w->open = -1;
	ExecResetTupleTable(w->estate->es_tupleTable, false);
	FreeExecutorState(w->estate);
	/* Later reads in this transaction, even in the same statement, see it. */
	CommandCounterIncrement();
}

/*
 * Leave out the foreign-key checks of the rows this writer inserts into
 * table i, for a caller whose rows satisfy every foreign key of that table
 * by construction: the checkout's charge names the order it inserted a
 * moment before in the same command (invisible to everyone else, so nobody
 * can delete it), and its other references (refund_of, cancellation_id) are
 * NULL. The check would run a statement and lock the new order's row FOR
 * KEY SHARE (a WAL record) to learn what the caller already knows; it was
 * 13 % of a checkout's CPU (bench/RESULTS.md). Only the checks of this
 * table's own foreign keys go: any other trigger on it, and the keys of
 * the tables that reference it, are kept, and the constraint stays in the
 * schema for every other writer.
 */
void
ticket_writer_trust_fks(TicketWriter *w, int i)
{
	ResultRelInfo *rri = w->rri[i];
	TriggerDesc *kept;
	int			n = 0;

	if (rri == NULL || rri->ri_TrigDesc == NULL)
		return;
	kept = CopyTriggerDesc(rri->ri_TrigDesc);
	for (int t = 0; t < kept->numtriggers; t++)
	{
		Trigger    *trigger = &kept->triggers[t];

		if (trigger->tgisinternal && OidIsValid(trigger->tgconstrrelid) &&
			RI_FKey_trigger_type(trigger->tgfoid) == RI_TRIGGER_FK)
			continue;
		kept->triggers[n++] = *trigger;
	}
	if (n == 0)
		rri->ri_TrigDesc = NULL;
	else
	{
		/* The flags may still say "after insert row": harmless, none matches. */
		kept->numtriggers = n;
		rri->ri_TrigDesc = kept;
	}
}

/*
 * Table i of the writer, ready for ExecSimpleRelationInsert / Update: its
 * indexes open, and those of the table written before closed. A call
 * writes its tables one after the other, so one table's indexes at a time
 * are enough; and they are what keeps the call's relation locks within a
 * backend's 16 fast-path slots. A checkout writes six tables with 18
 * indexes: opened all at once, a dozen of their locks (and the three
 * sequences') went through the shared lock table, where 50 backends queue
 * on the same lock partitions (bench/RESULTS.md). Closing an index drops
 * the lock that opening it took, as ExecCloseIndices does at the end of
 * every statement; the table's own lock, which DROP INDEX and REINDEX
 * (concurrently or not) wait for, is held until the transaction ends.
 */
ResultRelInfo *
ticket_writer_rri(TicketWriter *w, int i)
{
	Assert(i >= 0 && i < w->n && w->rri[i] != NULL);
	if (w->open != i)
	{
		if (w->open >= 0)
			ExecCloseIndices(w->rri[w->open]);
		w->open = -1;
		ExecOpenIndices(w->rri[i], false);
		w->open = i;
	}
	return w->rri[i];
}

/* An empty row of table i of the writer, every column NULL. */
TupleTableSlot *
ticket_new_row(TicketWriter *w, int i)
{
	TupleDesc	desc = RelationGetDescr(w->rri[i]->ri_RelationDesc);
	TupleTableSlot *slot = ExecInitExtraTupleSlot(w->estate, desc, &TTSOpsVirtual);

	ExecClearTuple(slot);
	for (int a = 0; a < desc->natts; a++)
		slot->tts_isnull[a] = true;
	return slot;
}

/* A row of table i of the writer with the values of old, to change. */
TupleTableSlot *
ticket_changed_row(TicketWriter *w, int i, TupleTableSlot *old)
{
	TupleDesc	desc = RelationGetDescr(w->rri[i]->ri_RelationDesc);
	TupleTableSlot *slot = ExecInitExtraTupleSlot(w->estate, desc, &TTSOpsVirtual);

	ExecClearTuple(slot);
	slot_getallattrs(old);
	memcpy(slot->tts_values, old->tts_values, sizeof(Datum) * desc->natts);
	memcpy(slot->tts_isnull, old->tts_isnull, sizeof(bool) * desc->natts);
	return slot;
}

PG_FUNCTION_INFO_V1(ticket_event_sql);

/*
 * ticket._event(concert_id, kind, subject_id, user_id, detail): an event
 * from a SQL function, in its transaction, through the same single-row
 * insert.
 */
Datum
ticket_event_sql(PG_FUNCTION_ARGS)
{
	Catalog    *cat = ticket_catalog();
	int64		concert_id = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);
	int64		subject_id = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT64(2);
	Relation	event;
	TicketWriter w;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("kind must not be NULL"));
	event = table_open(cat->event, RowExclusiveLock);
	ticket_writer_begin(&w, &event, 1);
	insert_event(w.estate, ticket_writer_rri(&w, 0), PG_ARGISNULL(0) ? NULL : &concert_id, text_to_cstring(PG_GETARG_TEXT_PP(1)),
				 PG_ARGISNULL(2) ? NULL : &subject_id, PG_ARGISNULL(3) ? NULL : PG_GETARG_TEXT_PP(3),
				 PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4), GetCurrentTransactionStartTimestamp());
	ticket_writer_end(&w);
	table_close(event, NoLock);
	PG_RETURN_VOID();
}

/*
 * Find a row by its bigint key through a unique index, as the caller's
 * snapshot sees it; with lock, lock it as SELECT ... FOR UPDATE does.  NULL
 * when there is none.
 *
 * The lock follows the isolation level, as the executor's row locks do.  In
 * READ COMMITTED it waits for a writer and then takes the row as it is now
 * (the newest committed version; none if it was deleted).  In REPEATABLE
 * READ and SERIALIZABLE a row another transaction changed or deleted since
 * the snapshot is 40001, so that a retry sees the change.
 */
TupleTableSlot *
ticket_find_row(Relation rel, Oid index, AttrNumber keyatt, int64 key, bool lock)
{
	TupleTableSlot *row = table_slot_create(rel, NULL);
	Relation	idx = index_open(index, AccessShareLock);
	/*
	 * To lock, the snapshot a new statement would take (in REPEATABLE READ
	 * the transaction's, seeing this transaction's own changes so far); to
	 * read, the calling statement's.
	 */
	Snapshot	snap = RegisterSnapshot(lock ? GetTransactionSnapshot() : GetActiveSnapshot());
	ScanKeyData skey;
	IndexScanDesc scan;
	bool		found;

	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(key));
	scan = index_beginscan(rel, idx, snap, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, row);
	index_endscan(scan);
	index_close(idx, NoLock);
	if (found && lock)
	{
		bool		xact_snapshot = IsolationUsesXactSnapshot();
		TM_FailureData tmfd;
		TM_Result	res;

		res = table_tuple_lock(rel, &row->tts_tid, snap, row, GetCurrentCommandId(false),
							   LockTupleExclusive, LockWaitBlock,
							   xact_snapshot ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd);
		switch (res)
		{
			case TM_Ok:
				break;
			case TM_Updated:
			case TM_Deleted:
				if (xact_snapshot)
					ereport(ERROR,
							errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
							errmsg("could not serialize access due to concurrent %s",
								   res == TM_Updated ? "update" : "delete"),
							errhint("Retry the transaction."));
				/* READ COMMITTED: deleted meanwhile, so there is none */
				found = false;
				break;
			default:
				elog(ERROR, "unexpected result %d locking a row of %s", (int) res, RelationGetRelationName(rel));
		}
	}
	UnregisterSnapshot(snap);
	if (!found)
	{
		ExecDropSingleTupleTableSlot(row);
		return NULL;
	}
	return row;
}

/*
 * A buyer's own row (a hold, an order) by its key: P0002 when there is none,
 * 42501 when it belongs to another user (with hint, if any).  The one rule
 * of "my hold" and "my order", for checkout (C) and release and
 * order_status (SQL, through ticket._own_hold and ticket._own_order).
 */
TupleTableSlot *
ticket_own_row(Relation rel, Oid index, AttrNumber keyatt, AttrNumber useratt, int64 key, text *user_id,
			   bool lock, const char *what, const char *hint)
{
	TupleTableSlot *row = ticket_find_row(rel, index, keyatt, key, lock);
	bool		isnull;
	text	   *owner;

	if (row == NULL)
		ereport(ERROR,
				errcode(ERRCODE_NO_DATA_FOUND),
				errmsg("%s " INT64_FORMAT " does not exist", what, key));
	owner = DatumGetTextPP(slot_getattr(row, useratt, &isnull));
	if (isnull || VARSIZE_ANY_EXHDR(owner) != VARSIZE_ANY_EXHDR(user_id) ||
		memcmp(VARDATA_ANY(owner), VARDATA_ANY(user_id), VARSIZE_ANY_EXHDR(user_id)) != 0)
		ereport(ERROR,
				errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				errmsg("%s " INT64_FORMAT " belongs to another user", what, key),
				hint ? errhint("%s", hint) : 0);
	return row;
}

PG_FUNCTION_INFO_V1(ticket_own_hold_sql);

/*
 * ticket._own_hold(hold_id, user_id, verb): the caller's hold, locked FOR
 * UPDATE; the hint of the 42501 says the caller may not <verb> it.
 */
Datum
ticket_own_hold_sql(PG_FUNCTION_ARGS)
{
	Catalog    *cat = ticket_catalog();
	Relation	hold;
	TupleTableSlot *row;
	Datum		result;
	char	   *hint;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("hold_id and user_id must not be NULL"));
	hint = PG_ARGISNULL(2) ? NULL :
		psprintf("Only the user who made a hold may %s.", text_to_cstring(PG_GETARG_TEXT_PP(2)));
	hold = table_open(cat->hold, RowShareLock);
	row = ticket_own_row(hold, cat->hold_pkey, cat->h_hold_id, cat->h_user_id, PG_GETARG_INT64(0),
						 PG_GETARG_TEXT_PP(1), true, "hold", hint);
	result = ExecFetchSlotHeapTupleDatum(row);
	ExecDropSingleTupleTableSlot(row);
	table_close(hold, NoLock);
	PG_RETURN_DATUM(result);
}

PG_FUNCTION_INFO_V1(ticket_own_order_sql);

/* ticket._own_order(order_id, user_id): the caller's order, as the statement sees it. */
Datum
ticket_own_order_sql(PG_FUNCTION_ARGS)
{
	Catalog    *cat = ticket_catalog();
	Relation	orders;
	TupleTableSlot *row;
	Datum		result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("order_id and user_id must not be NULL"));
	orders = table_open(cat->orders, AccessShareLock);
	row = ticket_own_row(orders, cat->orders_pkey, cat->o_order_id, cat->o_user_id, PG_GETARG_INT64(0),
						 PG_GETARG_TEXT_PP(1), false, "order", NULL);
	result = ExecFetchSlotHeapTupleDatum(row);
	ExecDropSingleTupleTableSlot(row);
	table_close(orders, NoLock);
	PG_RETURN_DATUM(result);
}

/*
 * How a buyer sees a seat: its section's name, and row and seat number, or
 * place number for a standing section.  "Floor A, row 3, seat 12",
 * "Pit, place 17".  Every result that shows seats to a buyer (holds,
 * checkouts, orders, ticket.browse_seats) prints them with this one rule.
 */
void
ticket_seat_label(StringInfo buf, const char *section, bool seated, int32 row_no, int32 seat_no)
{
	char		num[12];

	/* appends, not a format: browse_seats labels 20,000 seats a call */
	appendStringInfoString(buf, section);
	if (seated)
	{
		appendBinaryStringInfo(buf, ", row ", 6);
		appendBinaryStringInfo(buf, num, pg_ltoa(row_no, num));
		appendBinaryStringInfo(buf, ", seat ", 7);
	}
	else
		appendBinaryStringInfo(buf, ", place ", 8);
	appendBinaryStringInfo(buf, num, pg_ltoa(seat_no, num));
}

/* A seat row's section, row and number (row 0 for a standing place). */
void
ticket_seat_ref(HeapTuple row, TupleDesc desc, TicketSeatRef *out)
{
	Catalog    *cat = ticket_catalog();
	bool		isnull;
	Datum		row_no;

	out->seat_id = DatumGetInt32(heap_getattr(row, cat->s_seat_id, desc, &isnull));
	out->section_id = DatumGetInt32(heap_getattr(row, cat->s_section_id, desc, &isnull));
	row_no = heap_getattr(row, cat->s_row_no, desc, &isnull);
	out->row_no = isnull ? 0 : DatumGetInt32(row_no);
	out->seat_no = DatumGetInt32(heap_getattr(row, cat->s_seat_no, desc, &isnull));
}

/*
 * The same for seats by id, as the calling statement sees them; a seat id
 * the concert does not have is P0002.
 */
void
ticket_seat_refs(int64 concert_id, const int32 *seat_ids, int n, TicketSeatRef *out)
{
	Catalog    *cat = ticket_catalog();
	Relation	seat = table_open(cat->seat, AccessShareLock);
	Relation	pkey = index_open(cat->seat_pkey, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(seat, NULL);
	Snapshot	snap = RegisterSnapshot(GetActiveSnapshot() ? GetActiveSnapshot() : GetTransactionSnapshot());
	IndexScanDesc scan = index_beginscan(seat, pkey, snap, 2, 0);

	for (int i = 0; i < n; i++)
	{
		ScanKeyData key[2];
		bool		should_free;
		HeapTuple	row;

		ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(concert_id));
		ScanKeyInit(&key[1], 2, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(seat_ids[i]));
		index_rescan(scan, key, 2, NULL, 0);
		if (!index_getnext_slot(scan, ForwardScanDirection, slot))
			ereport(ERROR,
					errcode(ERRCODE_NO_DATA_FOUND),
					errmsg("concert " INT64_FORMAT " has no seat %d", concert_id, seat_ids[i]));
		row = ExecFetchSlotHeapTuple(slot, false, &should_free);
		ticket_seat_ref(row, RelationGetDescr(seat), &out[i]);
		if (should_free)
			heap_freetuple(row);
	}
	index_endscan(scan);
	UnregisterSnapshot(snap);
	ExecDropSingleTupleTableSlot(slot);
	index_close(pkey, NoLock);
	table_close(seat, NoLock);
}

/*
 * The seats as a buyer sees them, a JSON array of objects with seat_id,
 * section_id, section, row (null standing), seat, label and price, and
 * their total in cents (what checkout charges).  json, not a composite
 * array: every driver turns it into its own objects.
 */
Datum
ticket_seats_json(int64 concert_id, const TicketSeatRef *seats, int n, int64 *total_cents)
{
	StringInfoData buf;
	StringInfoData label;
	int64		total = 0;

	initStringInfo(&buf);
	initStringInfo(&label);
	appendStringInfoChar(&buf, '[');
	for (int i = 0; i < n; i++)
	{
		TicketSection s;

		ticket_section(concert_id, seats[i].section_id, &s);
		total += s.price_cents;
		resetStringInfo(&label);
		ticket_seat_label(&label, s.name, s.seated, seats[i].row_no, seats[i].seat_no);
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfo(&buf, "{\"seat_id\": %d, \"section_id\": %d, \"section\": ",
						 seats[i].seat_id, seats[i].section_id);
		escape_json(&buf, s.name);
		if (s.seated)
			appendStringInfo(&buf, ", \"row\": %d", seats[i].row_no);
		else
			appendStringInfoString(&buf, ", \"row\": null");
		appendStringInfo(&buf, ", \"seat\": %d, \"label\": ", seats[i].seat_no);
		escape_json(&buf, label.data);
		appendStringInfo(&buf, ", \"price\": " INT64_FORMAT ".%02d}",
						 s.price_cents / 100, (int) (s.price_cents % 100));
	}
	pfree(label.data);
	appendStringInfoChar(&buf, ']');
	if (total_cents)
		*total_cents = total;
	return PointerGetDatum(cstring_to_text_with_len(buf.data, buf.len));
}

/* An amount in cents as numeric(12,2) (22003 past its ten digits before the point). */
Datum
ticket_cents_numeric(int64 cents)
{
	char		buf[32];

	snprintf(buf, sizeof(buf), INT64_FORMAT ".%02d", cents / 100, (int) (cents % 100));
	return DirectFunctionCall3(numeric_in, CStringGetDatum(buf), ObjectIdGetDatum(InvalidOid),
							   Int32GetDatum(((12 << 16) | 2) + VARHDRSZ));
}

PG_FUNCTION_INFO_V1(ticket_seats_json_sql);

/*
 * ticket._seats_json(concert_id, seat_ids): the seats as a buyer sees them
 * (the same JSON as hold and checkout return).
 */
Datum
ticket_seats_json_sql(PG_FUNCTION_ARGS)
{
	int			n;
	int32	   *ids;
	TicketSeatRef *refs;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	ids = ticket_sorted_seat_ids(PG_GETARG_ARRAYTYPE_P(1), &n);
	refs = palloc(sizeof(TicketSeatRef) * n);
	ticket_seat_refs(PG_GETARG_INT64(0), ids, n, refs);
	PG_RETURN_DATUM(ticket_seats_json(PG_GETARG_INT64(0), refs, n, NULL));
}

PG_FUNCTION_INFO_V1(ticket_seats_total_sql);

/* ticket._seats_total(concert_id, seat_ids): what the seats cost together, as checkout charges them. */
Datum
ticket_seats_total_sql(PG_FUNCTION_ARGS)
{
	int			n;
	int32	   *ids;
	int64		total;
	TicketSeatRef *refs;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	ids = ticket_sorted_seat_ids(PG_GETARG_ARRAYTYPE_P(1), &n);
	refs = palloc(sizeof(TicketSeatRef) * n);
	ticket_seat_refs(PG_GETARG_INT64(0), ids, n, refs);
	(void) ticket_seats_json(PG_GETARG_INT64(0), refs, n, &total);
	PG_RETURN_DATUM(ticket_cents_numeric(total));
}

/*
 * A hold of a concert with durable_holds = false: this transaction commits
 * without waiting for its WAL to reach disk (synchronous_commit = off, for
 * this transaction only, as SET LOCAL would).  A crash may lose the hold,
 * its seat updates and its outbox row together, never one without the
 * others: the buyer holds again.  The setting it replaced is kept, so that
 * ticket_require_durable can put it back.
 */
static TransactionId async_hold_xact = InvalidTransactionId;
static char *async_hold_saved = NULL;
/* A transaction that wrote something durable: no later hold in it turns that off. */
static TransactionId durable_xact = InvalidTransactionId;

void
ticket_hold_async(void)
{
	TransactionId xid = GetTopTransactionId();

	/*
	 * Once per transaction: a second hold in it finds the setting made (a
	 * SET LOCAL per hold cost 12 us, a GUC stack entry each).
	 */
	if (xid == durable_xact || xid == async_hold_xact)
		return;
	if (async_hold_saved)
		pfree(async_hold_saved);
	async_hold_saved = MemoryContextStrdup(TopMemoryContext,
										   GetConfigOption("synchronous_commit", false, false));
	async_hold_xact = xid;
	(void) set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * A write that must survive a crash (an order, a sale): this transaction
 * commits durably, with the setting a non-durable hold before it found, and
 * a non-durable hold after it in the same transaction changes nothing.
 */
void
ticket_require_durable(void)
{
	TransactionId xid = GetTopTransactionId();

	durable_xact = xid;
	if (xid != async_hold_xact)
		return;
	(void) set_config_option("synchronous_commit", async_hold_saved, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	async_hold_xact = InvalidTransactionId;
}

/* ------------------------------------------------------------ hold events */

/*
 * A hold's event is read from ticket.hold itself (0.7): the hold path writes
 * no outbox row, and ticket.publish_events numbers the holds' events from
 * the table, in hold_id order, up to a bound below which every hold has
 * committed or rolled back.  That bound is what makes the table a safe
 * cursor, as numbering after commit makes the outbox one: a hold that
 * commits late must not land below ticket.event_head.hold_mark.
 *
 * The rule: before a transaction takes its first hold_id, it marks its
 * backend's slot "taking one"; once it has the id, the slot says "ids from
 * this one up may be open"; the slot is emptied when the transaction's end
 * is visible to new snapshots.  The publisher reads what the sequence has
 * handed out, then the slots of its database: the bound is the lowest open
 * id less one, or what was handed out; a slot still "taking one" means no
 * bound this time.  An id at or below the bound was then taken by a
 * transaction that had ended (its hold is visible to a snapshot taken after,
 * or rolled back): one that took it before the sequence was read had
 * marked its slot first, and one that marked its slot after the slots were
 * read takes an id above what was handed out.  ticket.hold_id_seq must
 * hand out ids in order to every backend: a hold refuses a cached one.
 * Only hold and hold_best write ticket.hold (a hand-written INSERT takes no
 * slot, and its event may be lost).
 *
 * Locking rules: a backend writes only its own slot, the database before
 * the state, with barriers; readers use barriers too.  After a restart
 * every slot is empty.
 */
#define HOLD_SLOT_TAKING	PG_UINT64_MAX

typedef struct HoldSlot
{
	pg_atomic_uint64 open;		/* 0, HOLD_SLOT_TAKING, or the lowest id its transaction took */
	Oid			database;
} HoldSlot;

static HoldSlot *hold_slots = NULL;
static bool hold_slot_set = false;
static bool hold_callback_registered = false;

static Size
hold_slots_size(void)
{
	return mul_size(MaxBackends, sizeof(HoldSlot));
}

void
ticket_hold_events_shmem_request(void)
{
	RequestAddinShmemSpace(hold_slots_size());
}

/* From the shmem_startup hook, under AddinShmemInitLock. */
void
ticket_hold_events_shmem_startup(void)
{
	bool		found;

	hold_slots = ShmemInitStruct("ticket hold events", hold_slots_size(), &found);
	if (!found)
	{
		for (int i = 0; i < MaxBackends; i++)
		{
			pg_atomic_init_u64(&hold_slots[i].open, 0);
			hold_slots[i].database = InvalidOid;
		}
	}
}

static void
hold_events_xact(XactEvent event, void *arg)
{
	if (!hold_slot_set)
		return;
	if (event == XACT_EVENT_PRE_PREPARE)
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("cannot PREPARE a transaction that made a hold"),
				errdetail("A prepared hold would hold back every later hold's event until it is committed."));
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		pg_atomic_write_u64(&hold_slots[MyBackendId - 1].open, 0);
		hold_slot_set = false;
	}
}

/*
 * The next hold_id.  *from_holds says whether ticket.publish_events reads
 * the hold's event from ticket.hold; before 0.7's update it does not, and
 * the caller writes an outbox row.  A cached sequence is refused (55000).
 */
int64
ticket_next_hold_id(bool *from_holds)
{
	Catalog    *cat = ticket_catalog();
	int64		hold_id;
	HoldSlot   *slot;

	/* before 0.7's update, or a later hold of this transaction (its slot is set) */
	*from_holds = cat->hold_events_from_holds;
	if (!*from_holds || hold_slot_set)
		return nextval_internal(cat->hold_seq, false);
	if (hold_slots == NULL || MyBackendId == InvalidBackendId || MyBackendId > MaxBackends)
		elog(ERROR, "this process has no hold slot");
	/* A cached sequence hands ids out of order between backends. */
	{
		HeapTuple	seq = SearchSysCache1(SEQRELID, ObjectIdGetDatum(cat->hold_seq));
		bool		cached = !HeapTupleIsValid(seq) || ((Form_pg_sequence) GETSTRUCT(seq))->seqcache != 1;

		if (HeapTupleIsValid(seq))
			ReleaseSysCache(seq);
		if (cached)
			ereport(ERROR,
					errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					errmsg("ticket.hold_id_seq must have CACHE 1"),
					errdetail("The holds' events are numbered in hold_id order, which needs every backend to take ids from the sequence in turn."),
					errhint("ALTER SEQUENCE ticket.hold_id_seq CACHE 1; then restart the server, so that no backend keeps ids it cached."));
	}

	if (!hold_callback_registered)
	{
		RegisterXactCallback(hold_events_xact, NULL);
		hold_callback_registered = true;
	}
	slot = &hold_slots[MyBackendId - 1];
	slot->database = MyDatabaseId;
	pg_write_barrier();
	pg_atomic_write_u64(&slot->open, HOLD_SLOT_TAKING);
	hold_slot_set = true;
	pg_memory_barrier();
	PG_TRY();
	{
		hold_id = nextval_internal(cat->hold_seq, false);
	}
	PG_CATCH();
	{
		/* no id taken: a savepoint that catches this leaves the slot empty */
		pg_atomic_write_u64(&slot->open, 0);
		hold_slot_set = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
	pg_atomic_write_u64(&slot->open, (uint64) hold_id);
	return hold_id;
}

PG_FUNCTION_INFO_V1(ticket_hold_event_bound);

/*
 * ticket._hold_event_bound(handed_out): the highest hold_id at or below which
 * every hold's transaction in this database has ended, or 0 when one is
 * taking its id right now.  handed_out is ticket.hold_id_seq's last value
 * (0 before its first call), read by the caller first.
 */
Datum
ticket_hold_event_bound(PG_FUNCTION_ARGS)
{
	int64		bound;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("handed_out must not be NULL"));
	bound = PG_GETARG_INT64(0);
	if (bound < 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("handed_out must not be negative"),
				errdetail("It is what ticket.hold_id_seq has handed out: its last value, or 0."));
	/* Not preloaded: no hold can be under way (hold needs the library), all have ended. */
	if (hold_slots == NULL)
		PG_RETURN_INT64(bound);
	pg_memory_barrier();
	for (int i = 0; i < MaxBackends; i++)
	{
		uint64		open = pg_atomic_read_u64(&hold_slots[i].open);

		if (open == 0)
			continue;
		pg_read_barrier();
		if (hold_slots[i].database != MyDatabaseId)
			continue;
		/* taking its id: that lasts one nextval, so wait a little for it */
		for (int spin = 0; open == HOLD_SLOT_TAKING && spin < 1000; spin++)
		{
			pg_spin_delay();
			open = pg_atomic_read_u64(&hold_slots[i].open);
		}
		if (open == HOLD_SLOT_TAKING)
			PG_RETURN_INT64(0);
		if (open != 0)
			bound = Min(bound, (int64) open - 1);
	}
	PG_RETURN_INT64(bound);
}
