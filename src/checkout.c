/*
 * checkout.c
 *		ticket.checkout: a live hold becomes a pending order with its charge
 *		job, its seats kept until the order's pay_by.
 *
 * The order of locks, which release, expiry and the payment path share:
 *
 *	1. The caller's idempotency key (src/lock.c): a second call with the
 *	   same key waits here for the first to commit, then finds the row the
 *	   first stored in ticket.idempotency and answers what it answered.
 *	2. The hold row, FOR UPDATE: a concurrent release, expiry or second
 *	   checkout of the hold waits, then sees what this one did.
 *	3. The hold's seats, in ascending order (every writer of a seat row
 *	   holds its lock, src/lock.c).
 *
 * What it reads after the locks it reads under a snapshot taken after them.
 * The writes go through the executor's single-row paths, as the hold path
 * does (src/hold.c): indexes, constraints and the foreign-key triggers are
 * kept as an INSERT or UPDATE keeps them, without the parse, plan and
 * executor start-up of a dozen statements.
 *
 * Expected outcomes come back as a status: released, expired (the hold ran
 * out, including when its seats went to another buyer while this call
 * waited for them), closed (the concert was cancelled).  Only bad input and
 * misuse raise an error, and they raise it before anything is written.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "catalog.h"
#include "input.h"
#include "parse.h"
#include "sale.h"
#include "ticket.h"

/* The tables a checkout writes, in the order of their range table entries. */
enum
{
	W_SEAT,
	W_HOLD,
	W_ORDERS,
	W_PAYMENT,
	W_IDEMPOTENCY,
	W_EVENT,
	W_COUNT
};

StaticAssertDecl(W_COUNT <= TICKET_WRITER_MAX, "a checkout's tables fit in a TicketWriter");

#define SET(slot, attnum, value) \
	((slot)->tts_values[(attnum) - 1] = (value), (slot)->tts_isnull[(attnum) - 1] = false)

static void
push_key(JsonbParseState **st, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) key;
	v.val.string.len = strlen(key);
	(void) pushJsonbValue(st, WJB_KEY, &v);
}

static void
push_numeric(JsonbParseState **st, const char *key, Numeric n)
{
	JsonbValue	v;

	push_key(st, key);
	v.type = jbvNumeric;
	v.val.numeric = n;
	(void) pushJsonbValue(st, WJB_VALUE, &v);
}

/* The order_created event's detail, as jsonb_build_object would write it. */
static Datum
order_created_detail(int64 hold_id, int64 payment_id, Datum amount, TimestampTz pay_by)
{
	JsonbParseState *st = NULL;
	JsonbValue	v;
	JsonbValue *res;
	char		buf[MAXDATELEN + 1];

	(void) pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	push_numeric(&st, "hold_id", int64_to_numeric(hold_id));
	push_numeric(&st, "payment_id", int64_to_numeric(payment_id));
	push_numeric(&st, "amount", DatumGetNumeric(amount));
	push_key(&st, "pay_by");
	JsonEncodeDateTime(buf, TimestampTzGetDatum(pay_by), TIMESTAMPTZOID, NULL);
	v.type = jbvString;
	v.val.string.val = buf;
	v.val.string.len = strlen(buf);
	(void) pushJsonbValue(&st, WJB_VALUE, &v);
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(res));
}

/* What a checkout stored under its key, if anything. */
typedef struct Stored
{
	bool		found;
	char	   *request;
	bool		has_order;
	int64		order_id;
	char	   *status;
} Stored;

static void
find_key(Catalog *cat, Relation idem, text *user_id, text *key, Stored *stored)
{
	Relation	pkey = index_open(cat->idempotency_pkey, RowExclusiveLock);
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
	TupleTableSlot *slot = table_slot_create(idem, NULL);
	ScanKeyData skey[2];
	IndexScanDesc scan;
	bool		isnull;

	ScanKeyEntryInitialize(&skey[0], 0, 1, BTEqualStrategyNumber, InvalidOid,
						   pkey->rd_indcollation[0], F_TEXTEQ, PointerGetDatum(user_id));
	ScanKeyEntryInitialize(&skey[1], 0, 2, BTEqualStrategyNumber, InvalidOid,
						   pkey->rd_indcollation[1], F_TEXTEQ, PointerGetDatum(key));
	scan = index_beginscan(idem, pkey, snap, 2, 0);
	index_rescan(scan, skey, 2, NULL, 0);
	stored->found = index_getnext_slot(scan, ForwardScanDirection, slot);
	if (stored->found)
	{
		Datum		order_id = slot_getattr(slot, cat->i_order_id, &isnull);

		stored->has_order = !isnull;
		stored->order_id = isnull ? 0 : DatumGetInt64(order_id);
		stored->request = TextDatumGetCString(slot_getattr(slot, cat->i_request, &isnull));
		stored->status = TextDatumGetCString(slot_getattr(slot, cat->i_status, &isnull));
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snap);
	index_close(pkey, NoLock);
}

/* The order made for a hold (0 if none), for the message of a second checkout. */
static int64
order_of_hold(Catalog *cat, int64 hold_id)
{
	Relation	orders = table_open(cat->orders, AccessShareLock);
	Relation	idx = index_open(cat->orders_hold_key, AccessShareLock);
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
	TupleTableSlot *slot = table_slot_create(orders, NULL);
	ScanKeyData skey;
	IndexScanDesc scan;
	int64		order_id = 0;
	bool		isnull;

	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(hold_id));
	scan = index_beginscan(orders, idx, snap, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	if (index_getnext_slot(scan, ForwardScanDirection, slot))
		order_id = DatumGetInt64(slot_getattr(slot, cat->o_order_id, &isnull));
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snap);
	index_close(idx, NoLock);
	table_close(orders, NoLock);
	return order_id;
}

/* The ticket.checkout_result row type of the installed version. */
static void
result_type(FunctionCallInfo fcinfo, TupleDesc *tupdesc)
{
	if (get_call_result_type(fcinfo, NULL, tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	/* before 0.6 the result had no seats (5 attributes): heap_form_tuple takes the first 5 */
	Assert((*tupdesc)->natts == 5 || (*tupdesc)->natts == 6);
}

/* The ticket.checkout_result of a call that made no order. */
static Datum
status_result(FunctionCallInfo fcinfo, const char *status)
{
	TupleDesc	tupdesc;
	Datum		values[6] = {0};
	bool		nulls[6] = {true, true, false, true, true, true};

	result_type(fcinfo, &tupdesc);
	values[2] = CStringGetTextDatum(status);
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls));
}

/* Store what a call answered without an order under its key, and answer it. */
static Datum
store_status(FunctionCallInfo fcinfo, Catalog *cat, Relation idem, text *user_id, text *key,
			 const char *request, const char *status)
{
	TicketWriter w;
	TupleTableSlot *row;

	ticket_writer_begin(&w, &idem, 1);
	row = ticket_new_row(&w, 0);
	SET(row, cat->i_user_id, PointerGetDatum(user_id));
	SET(row, cat->i_key, PointerGetDatum(key));
	SET(row, cat->i_request, CStringGetTextDatum(request));
	SET(row, cat->i_status, CStringGetTextDatum(status));
	SET(row, cat->i_created_at, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()));
	ExecStoreVirtualTuple(row);
	ExecSimpleRelationInsert(ticket_writer_rri(&w, 0), w.estate, row);
	ticket_writer_end(&w);
	return status_result(fcinfo, status);
}

/*
 * The ticket.checkout_result of an order as it is now (a repeated call):
 * the order's state, amount and pay_by, and its charge job.  Read under a
 * snapshot taken now, which sees the first call's commit this one waited for.
 */
static Datum
order_result(FunctionCallInfo fcinfo, Catalog *cat, int64 order_id)
{
	Relation	orders = table_open(cat->orders, AccessShareLock);
	Relation	orders_pkey = index_open(cat->orders_pkey, AccessShareLock);
	Relation	payment = table_open(cat->payment, AccessShareLock);
	Relation	payment_order = index_open(cat->payment_order, AccessShareLock);
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
	TupleTableSlot *slot = table_slot_create(orders, NULL);
	TupleTableSlot *pslot = table_slot_create(payment, NULL);
	ScanKeyData skey;
	IndexScanDesc scan;
	TupleDesc	tupdesc;
	Datum		values[6] = {0};
	bool		nulls[6] = {false, true, false, false, false, false};
	bool		isnull;
	ArrayType  *seat_ids;
	int64		concert_id;
	int			n;
	TicketSeatRef *refs;

	result_type(fcinfo, &tupdesc);
	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(order_id));
	scan = index_beginscan(orders, orders_pkey, snap, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	if (!index_getnext_slot(scan, ForwardScanDirection, slot))
		elog(ERROR, "order " INT64_FORMAT " of an idempotency key is missing", order_id);
	values[0] = Int64GetDatum(order_id);
	values[2] = DirectFunctionCall1(enum_out, slot_getattr(slot, cat->o_state, &isnull));
	values[2] = CStringGetTextDatum(DatumGetCString(values[2]));
	values[3] = datumCopy(slot_getattr(slot, cat->o_amount, &isnull), false, -1);
	values[4] = TimestampTzGetDatum(DatumGetTimestampTz(slot_getattr(slot, cat->o_pay_by, &isnull)));
	concert_id = DatumGetInt64(slot_getattr(slot, cat->o_concert_id, &isnull));
	seat_ids = DatumGetArrayTypePCopy(slot_getattr(slot, cat->o_seat_ids, &isnull));
	index_endscan(scan);
	n = ArrayGetNItems(ARR_NDIM(seat_ids), ARR_DIMS(seat_ids));
	refs = palloc(sizeof(TicketSeatRef) * Max(n, 1));
	ticket_seat_refs(concert_id, (int32 *) ARR_DATA_PTR(seat_ids), n, refs);
	values[5] = ticket_seats_json(concert_id, refs, n, NULL);

	scan = index_beginscan(payment, payment_order, snap, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, pslot))
	{
		if (DatumGetObjectId(slot_getattr(pslot, cat->p_kind, &isnull)) == cat->charge)
		{
			values[1] = Int64GetDatum(DatumGetInt64(slot_getattr(pslot, cat->p_payment_id, &isnull)));
			nulls[1] = false;
			break;
		}
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(pslot);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snap);
	index_close(payment_order, NoLock);
	table_close(payment, NoLock);
	index_close(orders_pkey, NoLock);
	table_close(orders, NoLock);
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls));
}

/* Close what a call opened (the locks stay until the transaction ends). */
static void
close_all(Relation *rels, TupleTableSlot *hold_row, TupleTableSlot *order_row)
{
	if (hold_row)
		ExecDropSingleTupleTableSlot(hold_row);
	if (order_row)
		ExecDropSingleTupleTableSlot(order_row);
	for (int i = 0; i < W_COUNT; i++)
		if (rels[i])
			table_close(rels[i], NoLock);
}

/*
 * Read the given seats (ascending, locked by the caller) under a snapshot
 * taken now, after the locks: rows[i] is a copy of seat i's row, to check
 * and then write.  Each row is checked by the caller with a slot holding it.
 */
static void
read_locked_seats(Catalog *cat, Relation seat, int64 concert_id, int32 *seats, int n, HeapTuple *rows)
{
	Relation	seat_pkey = index_open(cat->seat_pkey, RowExclusiveLock);
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
	TupleTableSlot *slot = table_slot_create(seat, NULL);
	ScanKeyData skey[2];
	IndexScanDesc scan;

	ScanKeyInit(&skey[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(concert_id));
	scan = index_beginscan(seat, seat_pkey, snap, 2, 0);
	for (int i = 0; i < n; i++)
	{
		ScanKeyInit(&skey[1], 2, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(seats[i]));
		index_rescan(scan, skey, 2, NULL, 0);
		if (!index_getnext_slot(scan, ForwardScanDirection, slot))
			elog(ERROR, "seat %d of concert " INT64_FORMAT " is missing", seats[i], concert_id);
		rows[i] = ExecCopySlotHeapTuple(slot);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snap);
	index_close(seat_pkey, NoLock);
}

PG_FUNCTION_INFO_V1(ticket_checkout);

/*
 * ticket.checkout(hold_id, user_id, idempotency_key): the hold becomes an
 * order to pay by now + payment_timeout, with its charge job.
 */
Datum
ticket_checkout(PG_FUNCTION_ARGS)
{
	int64		hold_id;
	text	   *user_id;
	text	   *key;
	char	   *request;
	Catalog    *cat;
	Stored		stored;
	Relation	rels[W_COUNT] = {0};
	Relation	hold_buyer;
	TupleTableSlot *hold_row = NULL;
	TupleTableSlot *seat_row;
	TupleTableSlot *row;
	TicketConcert concert;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	TimestampTz pay_by;
	TimestampTz expires_at;
	Oid			state;
	int64		concert_id;
	Datum		seat_ids_datum;
	int32	   *seats;
	int			n;
	HeapTuple  *seat_rows;
	TicketSeatRef *refs;
	Datum		seats_json;
	Snapshot	snap;
	bool		owned = true;
	int64		cents = 0;
	Datum		amount;
	int64		order_id;
	int64		payment_id;
	TicketWriter w;
	bool		isnull;
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	/* In the order the SQL version checked: each argument whole, one after the other. */
	if (PG_ARGISNULL(0))
		ereport(ERROR, errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("hold_id must not be NULL"));
	if (PG_ARGISNULL(1))
		ereport(ERROR, errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("user_id must not be NULL"));
	hold_id = PG_GETARG_INT64(0);
	user_id = PG_GETARG_TEXT_PP(1);
	ticket_check_arg(user_id, "user_id", TICKET_MAX_USER_ID, NULL);
	if (PG_ARGISNULL(2))
		ereport(ERROR, errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("idempotency_key must not be NULL"));
	key = PG_GETARG_TEXT_PP(2);
	ticket_check_arg(key, "idempotency_key", TICKET_MAX_KEY, NULL);
	PreventCommandIfReadOnly("ticket.checkout()");
	/* an order is durable, even after a non-durable hold in this transaction */
	ticket_require_durable();
	request = psprintf("checkout of hold " INT64_FORMAT, hold_id);
	cat = ticket_catalog();

	/* A call from the user's bucket, before anything is locked or written. */
	if (!ticket_take_call(user_id, false))
		return status_result(fcinfo, "rate_limited");

	/* 1. The key: a repeated call answers what the first answered. */
	ticket_lock_key(VARDATA_ANY(user_id), VARSIZE_ANY_EXHDR(user_id),
					VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key));
	rels[W_IDEMPOTENCY] = table_open(cat->idempotency, RowExclusiveLock);
	find_key(cat, rels[W_IDEMPOTENCY], user_id, key, &stored);
	if (stored.found)
	{
		if (strcmp(stored.request, request) != 0)
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("idempotency key \"%s\" was already used for a different request",
						   text_to_cstring(key)),
					errdetail("It was used for the %s; this call asks for the %s.", stored.request, request),
					errhint("Use a new key for a new request."));
		close_all(rels, NULL, NULL);
		if (stored.has_order)
			return order_result(fcinfo, cat, stored.order_id);
		return status_result(fcinfo, stored.status);
	}

	/* 2. The caller's hold, locked as SELECT ... FOR UPDATE locks it. */
	rels[W_HOLD] = table_open(cat->hold, RowExclusiveLock);
	hold_row = ticket_own_row(rels[W_HOLD], cat->hold_pkey, cat->h_hold_id, cat->h_user_id, hold_id, user_id,
							  true, "hold", "Only the user who made a hold may check it out.");
	state = DatumGetObjectId(slot_getattr(hold_row, cat->h_state, &isnull));
	if (state == cat->checking_out || state == cat->confirmed)
	{
		int64		order_id = order_of_hold(cat, hold_id);

		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("hold " INT64_FORMAT " is already checked out", hold_id),
				errdetail("Order " INT64_FORMAT " was created for it.", order_id),
				errhint("Repeat the first checkout with its idempotency key to get its order."));
	}

	concert_id = DatumGetInt64(slot_getattr(hold_row, cat->h_concert_id, &isnull));
	expires_at = DatumGetTimestampTz(slot_getattr(hold_row, cat->h_expires_at, &isnull));
	/* A cancel_concert that committed while this call waited reaches the cache. */
	AcceptInvalidationMessages();
	ticket_concert(concert_id, &concert);
	/* Not checked out nor paid (above), so live means active until expires_at. */
	if (!ticket_hold_is_live(hold_row, now) || concert.state == cat->cancelled)
	{
		const char *status = state == cat->released ? "released" :
			!ticket_hold_is_live(hold_row, now) ? "expired" : "closed";
		Datum		result = store_status(fcinfo, cat, rels[W_IDEMPOTENCY], user_id, key, request, status);

		close_all(rels, hold_row, NULL);
		return result;
	}

	/* 3. The seats, in ascending order, then read after the locks. */
	seat_ids_datum = slot_getattr(hold_row, cat->h_seat_ids, &isnull);
	seats = ticket_sorted_seat_ids(DatumGetArrayTypeP(seat_ids_datum), &n);
	for (int i = 0; i < n; i++)
		ticket_lock_seat(concert_id, seats[i]);
	rels[W_SEAT] = table_open(cat->seat, RowExclusiveLock);
	seat_rows = palloc(sizeof(HeapTuple) * n);
	refs = palloc(sizeof(TicketSeatRef) * n);
	read_locked_seats(cat, rels[W_SEAT], concert_id, seats, n, seat_rows);
	seat_row = MakeSingleTupleTableSlot(RelationGetDescr(rels[W_SEAT]), &TTSOpsHeapTuple);
	for (int i = 0; i < n; i++)
	{
		Datum		holder;

		ExecStoreHeapTuple(seat_rows[i], seat_row, false);
		holder = slot_getattr(seat_row, cat->s_hold_id, &isnull);
		owned = owned && !isnull && DatumGetInt64(holder) == hold_id &&
			DatumGetObjectId(slot_getattr(seat_row, cat->s_state, &isnull)) == cat->held;
		ticket_seat_ref(seat_rows[i], RelationGetDescr(rels[W_SEAT]), &refs[i]);
	}
	ExecDropSingleTupleTableSlot(seat_row);
	/* What a buyer sees, and the amount: the sum of the seats' prices. */
	seats_json = ticket_seats_json(concert_id, refs, n, &cents);
	if (!owned)
	{
		/*
		 * The hold ran out while this call waited, and another buyer took a
		 * seat (expiry is judged by the transaction's start, the seats by
		 * the clock): expired, as it would have answered a moment later.
		 */
		if (expires_at <= GetCurrentTimestamp())
		{
			Datum		result = store_status(fcinfo, cat, rels[W_IDEMPOTENCY], user_id, key, request, "expired");

			close_all(rels, hold_row, NULL);
			return result;
		}
		ereport(ERROR,
				errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("hold " INT64_FORMAT " does not own its seats", hold_id),
				errhint("Run ticket.verify() and report this."));
	}

	/* 4. The writes: the seats and the hold until pay_by, the order, its charge, the key, the event. */
	pay_by = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(now),
													 IntervalPGetDatum(&concert.payment_timeout)));
	amount = ticket_cents_numeric(cents);
	rels[W_ORDERS] = table_open(cat->orders, RowExclusiveLock);
	rels[W_PAYMENT] = table_open(cat->payment, RowExclusiveLock);
	rels[W_EVENT] = table_open(cat->event, RowExclusiveLock);
	ticket_writer_begin(&w, rels, W_COUNT);
	/* The charge references the order inserted below, and nothing else. */
	ticket_writer_trust_fks(&w, W_PAYMENT);
	{
		TupleTableSlot *old = ExecInitExtraTupleSlot(w.estate, RelationGetDescr(rels[W_SEAT]), &TTSOpsHeapTuple);

		for (int i = 0; i < n; i++)
		{
			ExecStoreHeapTuple(seat_rows[i], old, false);
			row = ticket_changed_row(&w, W_SEAT, old);
			SET(row, cat->s_held_until, TimestampTzGetDatum(pay_by));
			ExecStoreVirtualTuple(row);
			ExecSimpleRelationUpdate(ticket_writer_rri(&w, W_SEAT), w.estate, &w.epq, old, row);
		}
	}
	row = ticket_changed_row(&w, W_HOLD, hold_row);
	SET(row, cat->h_state, ObjectIdGetDatum(cat->checking_out));
	SET(row, cat->h_expires_at, TimestampTzGetDatum(pay_by));
	ExecStoreVirtualTuple(row);
	ExecSimpleRelationUpdate(ticket_writer_rri(&w, W_HOLD), w.estate, &w.epq, hold_row, row);

	order_id = nextval_internal(cat->orders_seq, false);
	row = ticket_new_row(&w, W_ORDERS);
	SET(row, cat->o_order_id, Int64GetDatum(order_id));
	SET(row, cat->o_concert_id, Int64GetDatum(concert_id));
	SET(row, cat->o_user_id, PointerGetDatum(user_id));
	SET(row, cat->o_hold_id, Int64GetDatum(hold_id));
	SET(row, cat->o_seat_ids, seat_ids_datum);
	SET(row, cat->o_amount, amount);
	SET(row, cat->o_state, ObjectIdGetDatum(cat->order_pending));
	SET(row, cat->o_created_at, TimestampTzGetDatum(now));
	SET(row, cat->o_pay_by, TimestampTzGetDatum(pay_by));
	ExecStoreVirtualTuple(row);
	ExecSimpleRelationInsert(ticket_writer_rri(&w, W_ORDERS), w.estate, row);

	payment_id = nextval_internal(cat->payment_seq, false);
	row = ticket_new_row(&w, W_PAYMENT);
	SET(row, cat->p_payment_id, Int64GetDatum(payment_id));
	SET(row, cat->p_order_id, Int64GetDatum(order_id));
	SET(row, cat->p_kind, ObjectIdGetDatum(cat->charge));
	SET(row, cat->p_amount, amount);
	SET(row, cat->p_state, ObjectIdGetDatum(cat->processing));
	SET(row, cat->p_attempts, Int32GetDatum(0));
	SET(row, cat->p_max_attempts, Int32GetDatum(concert.payment_attempts));
	SET(row, cat->p_next_attempt_at, TimestampTzGetDatum(now));
	SET(row, cat->p_created_at, TimestampTzGetDatum(now));
	ExecStoreVirtualTuple(row);
	ExecSimpleRelationInsert(ticket_writer_rri(&w, W_PAYMENT), w.estate, row);

	row = ticket_new_row(&w, W_IDEMPOTENCY);
	SET(row, cat->i_user_id, PointerGetDatum(user_id));
	SET(row, cat->i_key, PointerGetDatum(key));
	SET(row, cat->i_request, CStringGetTextDatum(request));
	SET(row, cat->i_order_id, Int64GetDatum(order_id));
	SET(row, cat->i_status, CStringGetTextDatum("pending"));
	SET(row, cat->i_created_at, TimestampTzGetDatum(now));
	ExecStoreVirtualTuple(row);
	ExecSimpleRelationInsert(ticket_writer_rri(&w, W_IDEMPOTENCY), w.estate, row);

	ticket_insert_event(w.estate, ticket_writer_rri(&w, W_EVENT), concert_id, "order_created", order_id, user_id,
						order_created_detail(hold_id, payment_id, amount, pay_by), now);
	ticket_writer_end(&w);
	ticket_count(TICKET_COUNTER_ORDERS_CREATED, 1);

	/* Out of allowance: nothing more to hold, the slot goes to the next in line. */
	if (concert.queue && OidIsValid(cat->end_admission))
	{
		hold_buyer = index_open(cat->hold_buyer, AccessShareLock);
		snap = RegisterSnapshot(GetLatestSnapshot());
		if (ticket_buyer_seats(rels[W_HOLD], hold_buyer, snap, concert_id, user_id, 0) >= concert.per_user_limit)
			(void) OidFunctionCall2(cat->end_admission, Int64GetDatum(concert_id), PointerGetDatum(user_id));
		UnregisterSnapshot(snap);
		index_close(hold_buyer, NoLock);
	}
	close_all(rels, hold_row, NULL);

	result_type(fcinfo, &tupdesc);
	values[0] = Int64GetDatum(order_id);
	values[1] = Int64GetDatum(payment_id);
	values[2] = CStringGetTextDatum("pending");
	values[3] = amount;
	values[4] = TimestampTzGetDatum(pay_by);
	values[5] = seats_json;
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls));
}

/* The order_paid event's detail: {"amount": ..., "seat_ids": [...]}. */
static Datum
order_paid_detail(Datum amount, ArrayType *seat_ids)
{
	JsonbParseState *st = NULL;
	Datum	   *elems;
	int			n;
	JsonbValue *res;

	deconstruct_array(seat_ids, INT4OID, sizeof(int32), true, TYPALIGN_INT, &elems, NULL, &n);
	(void) pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	push_numeric(&st, "amount", DatumGetNumeric(amount));
	push_key(&st, "seat_ids");
	(void) pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < n; i++)
	{
		JsonbValue	v;

		v.type = jbvNumeric;
		v.val.numeric = int64_to_numeric(DatumGetInt32(elems[i]));
		(void) pushJsonbValue(&st, WJB_ELEM, &v);
	}
	(void) pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(res));
}

PG_FUNCTION_INFO_V1(ticket_sell);

/*
 * ticket._sell(o ticket.orders): the order's seats become sold and the order
 * paid, unless a seat went to another buyer or the buyer would go over the
 * per-user limit (false, nothing written).  For ticket.payment_succeeded,
 * which has locked the order.
 *
 * Locks: the hold row, then the buyer (src/lock.c: the lock ticket.hold
 * takes to count a user's seats one call at a time, so that a late payment
 * and a new hold of the same buyer cannot both pass the limit), then the
 * seats in ascending order.
 */
Datum
ticket_sell(PG_FUNCTION_ARGS)
{
	HeapTupleHeader o = PG_GETARG_HEAPTUPLEHEADER(0);
	Catalog    *cat = ticket_catalog();
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	bool		isnull;
	int64		order_id = DatumGetInt64(GetAttributeByNum(o, cat->o_order_id, &isnull));
	int64		concert_id = DatumGetInt64(GetAttributeByNum(o, cat->o_concert_id, &isnull));
	text	   *user_id = DatumGetTextPP(GetAttributeByNum(o, cat->o_user_id, &isnull));
	int64		hold_id = DatumGetInt64(GetAttributeByNum(o, cat->o_hold_id, &isnull));
	ArrayType  *seat_ids = DatumGetArrayTypeP(GetAttributeByNum(o, cat->o_seat_ids, &isnull));
	Datum		amount = GetAttributeByNum(o, cat->o_amount, &isnull);
	Relation	rels[W_COUNT] = {0};
	Relation	hold_buyer;
	TupleTableSlot *hold_row;
	TupleTableSlot *order_row;
	TupleTableSlot *seat_row;
	TupleTableSlot *row;
	TicketConcert concert;
	HeapTuple  *seat_rows;
	Snapshot	snap;
	int32	   *seats;
	int			n;
	bool		ok = true;
	TicketWriter w;

	/* a sale is durable, even after a non-durable hold in this transaction */
	ticket_require_durable();
	rels[W_HOLD] = table_open(cat->hold, RowExclusiveLock);
	hold_row = ticket_find_row(rels[W_HOLD], cat->hold_pkey, cat->h_hold_id, hold_id, true);
	if (hold_row == NULL)
		elog(ERROR, "hold " INT64_FORMAT " of order " INT64_FORMAT " is missing", hold_id, order_id);
	ticket_lock_user(concert_id, VARDATA_ANY(user_id), VARSIZE_ANY_EXHDR(user_id));
	seats = ticket_sorted_seat_ids(seat_ids, &n);
	for (int i = 0; i < n; i++)
		ticket_lock_seat(concert_id, seats[i]);

	/* Read after the locks: the seats must be this hold's or free. */
	rels[W_SEAT] = table_open(cat->seat, RowExclusiveLock);
	seat_rows = palloc(sizeof(HeapTuple) * n);
	read_locked_seats(cat, rels[W_SEAT], concert_id, seats, n, seat_rows);
	seat_row = MakeSingleTupleTableSlot(RelationGetDescr(rels[W_SEAT]), &TTSOpsHeapTuple);
	for (int i = 0; i < n && ok; i++)
	{
		Datum		holder;

		ExecStoreHeapTuple(seat_rows[i], seat_row, false);
		holder = slot_getattr(seat_row, cat->s_hold_id, &isnull);
		if (isnull || DatumGetInt64(holder) != hold_id)
			ok = ticket_seat_is_free(seat_row, now);
	}
	ExecDropSingleTupleTableSlot(seat_row);

	hold_buyer = index_open(cat->hold_buyer, RowExclusiveLock);
	snap = RegisterSnapshot(GetLatestSnapshot());
	/* A hold past pay_by (or revived after compensation) no longer counts against the limit. */
	if (ok)
	{
		AcceptInvalidationMessages();
		ticket_concert(concert_id, &concert);
		ok = ticket_buyer_seats(rels[W_HOLD], hold_buyer, snap, concert_id, user_id, hold_id) + n <=
			concert.per_user_limit;
	}
	UnregisterSnapshot(snap);
	index_close(hold_buyer, NoLock);
	if (!ok)
	{
		ExecDropSingleTupleTableSlot(hold_row);
		table_close(rels[W_SEAT], NoLock);
		table_close(rels[W_HOLD], NoLock);
		PG_RETURN_BOOL(false);
	}

	rels[W_ORDERS] = table_open(cat->orders, RowExclusiveLock);
	order_row = ticket_find_row(rels[W_ORDERS], cat->orders_pkey, cat->o_order_id, order_id, true);
	if (order_row == NULL)
		elog(ERROR, "order " INT64_FORMAT " is missing", order_id);
	rels[W_EVENT] = table_open(cat->event, RowExclusiveLock);
	ticket_writer_begin(&w, rels, W_COUNT);
	{
		TupleTableSlot *old = ExecInitExtraTupleSlot(w.estate, RelationGetDescr(rels[W_SEAT]), &TTSOpsHeapTuple);

		for (int i = 0; i < n; i++)
		{
			ExecStoreHeapTuple(seat_rows[i], old, false);
			row = ticket_changed_row(&w, W_SEAT, old);
			SET(row, cat->s_state, ObjectIdGetDatum(cat->sold));
			SET(row, cat->s_hold_id, Int64GetDatum(hold_id));
			row->tts_isnull[cat->s_held_until - 1] = true;
			ExecStoreVirtualTuple(row);
			ExecSimpleRelationUpdate(ticket_writer_rri(&w, W_SEAT), w.estate, &w.epq, old, row);
		}
	}
	row = ticket_changed_row(&w, W_HOLD, hold_row);
	SET(row, cat->h_state, ObjectIdGetDatum(cat->confirmed));
	SET(row, cat->h_ended_at, TimestampTzGetDatum(now));
	ExecStoreVirtualTuple(row);
	ExecSimpleRelationUpdate(ticket_writer_rri(&w, W_HOLD), w.estate, &w.epq, hold_row, row);

	row = ticket_changed_row(&w, W_ORDERS, order_row);
	SET(row, cat->o_state, ObjectIdGetDatum(cat->order_paid));
	SET(row, cat->o_paid_at, TimestampTzGetDatum(now));
	row->tts_isnull[cat->o_cancelled_at - 1] = true;
	row->tts_isnull[cat->o_cancel_reason - 1] = true;
	ExecStoreVirtualTuple(row);
	ExecSimpleRelationUpdate(ticket_writer_rri(&w, W_ORDERS), w.estate, &w.epq, order_row, row);

	ticket_insert_event(w.estate, ticket_writer_rri(&w, W_EVENT), concert_id, "order_paid", order_id, user_id,
						order_paid_detail(amount, seat_ids), now);
	ticket_writer_end(&w);
	ticket_count(TICKET_COUNTER_ORDERS_PAID, 1);

	/* Paid: the buyer is done; their slot goes to the next in line. */
	if (OidIsValid(cat->end_admission))
		(void) OidFunctionCall2(cat->end_admission, Int64GetDatum(concert_id), PointerGetDatum(user_id));
	close_all(rels, hold_row, order_row);
	PG_RETURN_BOOL(true);
}
