/*
 * queue.c
 *		The waiting room's hot paths: ticket.queue_status (what every waiting
 *		user polls), the rate-limit and proof-of-work checks ticket.join_queue
 *		makes, and ticket.challenge.
 *
 * A status costs the same with a thousand or a million people waiting: it
 * reads the user's entry and the concert's queue row by primary key.
 * People ahead of a waiting user are
 *
 *		place - admitted_through - 1 - (places given up in between)
 *
 * because places are dense (each admission step numbers the users who
 * joined since the last one, after the last place) and admission goes in
 * place order.  A user who joined since the last step is waiting without a
 * place yet (position NULL) for at most a step.  Places given up while waiting
 * are rows of ticket.queue_departure; queue.gaps counts them per block of
 * 1,024 places, so the count in between adds whole blocks from the array
 * and reads departure rows only in the (at most two) partial blocks at its
 * ends, and none at all when nobody left.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "input.h"
#include "ticket.h"

#define GAP_BLOCK_BITS	10		/* departures are counted per 1,024 places */

/* The schema map (src/catalog.c), set by each entry point. */
static Catalog *cat;

/* One user's entry, as read. */
typedef struct Entry
{
	bool		found;
	Oid			state;
	bool		has_seq;
	int64		seq;
	TimestampTz expires_at;
} Entry;

static void
read_entry(Snapshot snap, int64 concert_id, text *user_id, Entry *e)
{
	Relation	rel = table_open(cat->entry, AccessShareLock);
	Relation	idx = index_open(cat->entry_pkey, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	ScanKeyData key[2];
	IndexScanDesc scan;
	bool		isnull;

	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(concert_id));
	ScanKeyEntryInitialize(&key[1], 0, 2, BTEqualStrategyNumber, InvalidOid,
						   idx->rd_indcollation[1], F_TEXTEQ, PointerGetDatum(user_id));
	scan = index_beginscan(rel, idx, snap, 2, 0);
	index_rescan(scan, key, 2, NULL, 0);
	e->found = index_getnext_slot(scan, ForwardScanDirection, slot);
	if (e->found)
	{
		Datum		d;

		e->state = DatumGetObjectId(slot_getattr(slot, cat->qe_state, &isnull));
		d = slot_getattr(slot, cat->qe_seq, &isnull);
		e->has_seq = !isnull;
		e->seq = isnull ? 0 : DatumGetInt64(d);
		d = slot_getattr(slot, cat->qe_expires_at, &isnull);
		e->expires_at = isnull ? DT_NOEND : DatumGetTimestampTz(d);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, NoLock);
	table_close(rel, NoLock);
}

/* Count departures with lo <= seq <= hi, reading their rows. */
static int64
count_departures(Snapshot snap, int64 concert_id, int64 lo, int64 hi)
{
	Relation	rel;
	Relation	idx;
	TupleTableSlot *slot;
	ScanKeyData key[3];
	IndexScanDesc scan;
	int64		n = 0;

	if (lo > hi)
		return 0;
	rel = table_open(cat->departure, AccessShareLock);
	idx = index_open(cat->departure_pkey, AccessShareLock);
	slot = table_slot_create(rel, NULL);
	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(concert_id));
	ScanKeyInit(&key[1], 2, BTGreaterEqualStrategyNumber, F_INT8GE, Int64GetDatum(lo));
	ScanKeyInit(&key[2], 2, BTLessEqualStrategyNumber, F_INT8LE, Int64GetDatum(hi));
	scan = index_beginscan(rel, idx, snap, 3, 0);
	index_rescan(scan, key, 3, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
		n++;
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, NoLock);
	table_close(rel, NoLock);
	return n;
}

/* Departures counted in block b of a gaps array (1-based: block b is gaps[b + 1]). */
static int64
gap_count(ArrayType *gaps, Datum *elems, bool *nulls, int nelems, int64 b)
{
	int64		i = b + 1 - ARR_LBOUND(gaps)[0];

	if (i < 0 || i >= nelems || nulls[i])
		return 0;
	return DatumGetInt32(elems[i]);
}

/*
 * People ahead of place seq: waiting places after admitted_through and
 * before seq, less those given up.
 */
static int64
people_ahead(Snapshot snap, int64 concert_id, int64 seq, int64 head, Datum gaps_datum, bool gaps_null)
{
	int64		lo = head + 1;
	int64		hi = seq - 1;
	int64		ahead;
	ArrayType  *gaps;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int64		blo, bhi;
	int64		gone = 0;

	if (hi < lo)
		return 0;
	ahead = hi - lo + 1;
	if (gaps_null)
		return ahead;			/* nobody ever left this line */

	gaps = DatumGetArrayTypeP(gaps_datum);
	if (ARR_NDIM(gaps) != 1)
		return ahead;
	deconstruct_array(gaps, INT4OID, sizeof(int32), true, TYPALIGN_INT, &elems, &nulls, &nelems);
	blo = lo >> GAP_BLOCK_BITS;
	bhi = hi >> GAP_BLOCK_BITS;
	if (blo == bhi)
	{
		if (gap_count(gaps, elems, nulls, nelems, blo) > 0)
			gone = count_departures(snap, concert_id, lo, hi);
	}
	else
	{
		if (gap_count(gaps, elems, nulls, nelems, blo) > 0)
			gone += count_departures(snap, concert_id, lo, ((blo + 1) << GAP_BLOCK_BITS) - 1);
		for (int64 b = blo + 1; b < bhi; b++)
			gone += gap_count(gaps, elems, nulls, nelems, b);
		if (gap_count(gaps, elems, nulls, nelems, bhi) > 0)
			gone += count_departures(snap, concert_id, bhi << GAP_BLOCK_BITS, hi);
	}
	return ahead - gone;
}

/*
 * The arguments (concert_id, user_id) that queue_status and challenge
 * share, checked, and the concert, which must have a waiting room.
 */
static void
queue_args(FunctionCallInfo fcinfo, int64 *concert_id, text **user_id, TicketConcertInfo *info)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("concert_id and user_id must not be NULL"));
	*concert_id = PG_GETARG_INT64(0);
	*user_id = PG_GETARG_TEXT_PP(1);
	ticket_check_user_id(*user_id);
	ticket_concert_info(*concert_id, info);
	if (!info->queue)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("concert " INT64_FORMAT " has no waiting room", *concert_id));
}

/*
 * A user's state in a concert's waiting room, as a ticket.queue_status row;
 * a poll (charge) first takes its tenth of a token from the user's bucket.
 */
static Datum
queue_status_row(FunctionCallInfo fcinfo, bool charge)
{
	int64		concert_id;
	text	   *user_id;
	TicketConcertInfo info;
	TupleDesc	tupdesc;
	Datum		values[9] = {0};
	bool		nulls[9] = {false, false, false, true, true, true, true, true, true};
	const char *state;
	Snapshot	snap;
	Entry		e;
	TimestampTz now = GetCurrentTimestamp();

	queue_args(fcinfo, &concert_id, &user_id, &info);
	/* The result type, looked up once per call site (a poll is the hot path). */
	tupdesc = (TupleDesc) fcinfo->flinfo->fn_extra;
	if (tupdesc == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "ticket.queue_status must return a composite type");
		tupdesc = BlessTupleDesc(tupdesc);
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = tupdesc;
	}
	cat = ticket_catalog();
	ticket_count(TICKET_COUNTER_QUEUE_POLLS, 1);
	values[0] = Int64GetDatum(concert_id);
	values[1] = PointerGetDatum(user_id);

	/* A poll costs a tenth of a call from the user's bucket. */
	if (charge && !ticket_take_call(user_id, true))
	{
		values[2] = CStringGetTextDatum("rate_limited");
		return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
	}

	snap = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
	read_entry(snap, concert_id, user_id, &e);
	if (e.found && e.has_seq)
	{
		values[3] = Int64GetDatum(e.seq);
		nulls[3] = false;
	}

	if (!e.found)
		state = "none";
	else if (e.state == cat->qe_left)
		state = "left";
	else if (e.state == cat->qe_blocked)
		state = "blocked";
	else if (OidIsValid(cat->qe_done) && e.state == cat->qe_done)
		state = "done";
	else if (info.ended)
		state = "closed";
	else if (e.state == cat->qe_prequeue && info.draft)
		state = "prequeue";
	else if (e.state == cat->qe_admitted || e.state == cat->qe_expired)
	{
		/* the worker marks lapsed admissions expired; until then it is derived */
		if (e.state == cat->qe_expired || e.expires_at <= now)
			state = "expired";
		else
		{
			state = "admitted";
			values[6] = CStringGetTextDatum(ticket_sign_pass(concert_id, VARDATA_ANY(user_id),
															 VARSIZE_ANY_EXHDR(user_id), e.seq,
															 e.expires_at));
			nulls[6] = false;
		}
		values[7] = TimestampTzGetDatum(e.expires_at);
		nulls[7] = false;
	}
	else
	{
		/* waiting (or joined at the opening, not yet placed): read the head of the line */
		Relation	rel = table_open(cat->queue, AccessShareLock);
		Relation	idx = index_open(cat->queue_pkey, AccessShareLock);
		TupleTableSlot *slot = table_slot_create(rel, NULL);
		ScanKeyData key;
		IndexScanDesc scan;
		bool		isnull;

		ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(concert_id));
		scan = index_beginscan(rel, idx, snap, 1, 0);
		index_rescan(scan, &key, 1, NULL, 0);
		if (!index_getnext_slot(scan, ForwardScanDirection, slot))
			elog(ERROR, "concert " INT64_FORMAT " has no queue row", concert_id);
		(void) slot_getattr(slot, cat->q_sold_out_at, &isnull);
		if (!isnull)
			state = "sold_out";
		else if (!e.has_seq)
			state = "waiting";	/* placed by the next admission step */
		else
		{
			int64		head = DatumGetInt64(slot_getattr(slot, cat->q_admitted_through, &isnull));
			bool		gaps_null;
			Datum		gaps = slot_getattr(slot, cat->q_gaps, &gaps_null);
			int64		ahead = people_ahead(snap, concert_id, e.seq, head, gaps, gaps_null);
			double		rate = info.admit_rate;

			state = "waiting";
			values[4] = Int64GetDatum(ahead);
			nulls[4] = false;

			/*
			 * Admitted at the rate the last step chose (admit_rate, less
			 * under back-pressure, the pace at which slots free up when
			 * max_active binds; 0 while paused or no seat is free: no ETA),
			 * and note says why it is below admit_rate.
			 */
			if (cat->q_eta_rate != InvalidAttrNumber)
			{
				Datum		d = slot_getattr(slot, cat->q_eta_rate, &isnull);

				if (!isnull)
					rate = DatumGetFloat8(d);
				d = slot_getattr(slot, cat->q_rate_reason, &isnull);
				if (!isnull)
				{
					/* copied: the slot and its buffer pin go before the result is formed */
					values[8] = datumCopy(d, false, -1);
					nulls[8] = false;
				}
			}
			if (rate > 0)
			{
				Interval   *eta = palloc0(sizeof(Interval));

				/* the one ahead of all waits a step */
				eta->time = (int64) ((ahead + 1) * (double) USECS_PER_SEC / Max(rate, 0.001));
				values[5] = IntervalPGetDatum(eta);
				nulls[5] = false;
			}
		}
		index_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		index_close(idx, NoLock);
		table_close(rel, NoLock);
	}
	values[2] = CStringGetTextDatum(state);
	/* 0.2's type has no note (the library may be newer than the SQL): heap_form_tuple reads natts values */
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * A pass dies with its admission: raise 28000 unless the user's entry is
 * still admitted, for the place the pass names, and not past its
 * admission_ttl.  Leaving the line, paying, reaching the limit (state done)
 * or the admission running out all end it.  One index probe, under the
 * calling statement's snapshot.
 */
void
ticket_admission_check(int64 concert_id, text *user_id, int64 place)
{
	Entry		e;
	Snapshot	snap = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
	const char *why = NULL;

	cat = ticket_catalog();
	read_entry(snap, concert_id, user_id, &e);
	if (!e.found)
		why = "the user is not in this concert's waiting room";
	else if (e.state == cat->qe_admitted && e.has_seq && e.seq == place && e.expires_at > GetCurrentTimestamp())
		return;
	else if (e.state == cat->qe_left)
		why = "the user left the waiting room";
	else if (OidIsValid(cat->qe_done) && e.state == cat->qe_done)
		why = "the admission ended: the user paid or reached the limit";
	else if (e.state == cat->qe_admitted && e.has_seq && e.seq != place)
		why = "it was issued for an earlier admission";
	else
		why = "the admission it was issued for has ended";
	ereport(ERROR,
			errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			errmsg("pass refused: %s", why),
			errhint("Join the waiting room again: ticket.join_queue, then ticket.queue_status for a new pass."));
}

PG_FUNCTION_INFO_V1(ticket_queue_status);

/* SQL: ticket.queue_status, the buyer's poll (rate-limited). */
Datum
ticket_queue_status(PG_FUNCTION_ARGS)
{
	return queue_status_row(fcinfo, true);
}

PG_FUNCTION_INFO_V1(ticket_queue_state);

/* SQL (internal): the same row for join_queue (which took a call's token) and leave_queue (not limited). */
Datum
ticket_queue_state(PG_FUNCTION_ARGS)
{
	return queue_status_row(fcinfo, false);
}

PG_FUNCTION_INFO_V1(ticket_rate_allow_sql);

/*
 * SQL (internal): take a token from the user's bucket and, when given, the
 * client key's.
 */
Datum
ticket_rate_allow_sql(PG_FUNCTION_ARGS)
{
	text	   *user_id;
	text	   *client_key;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("user_id must not be NULL"));
	user_id = PG_GETARG_TEXT_PP(0);
	if (!ticket_rate_allow(TICKET_RATE_USER, VARDATA_ANY(user_id), VARSIZE_ANY_EXHDR(user_id)))
		PG_RETURN_BOOL(false);
	if (PG_ARGISNULL(1))
		PG_RETURN_BOOL(true);
	client_key = PG_GETARG_TEXT_PP(1);
	PG_RETURN_BOOL(ticket_rate_allow(TICKET_RATE_CLIENT, VARDATA_ANY(client_key),
									 VARSIZE_ANY_EXHDR(client_key)));
}

PG_FUNCTION_INFO_V1(ticket_challenge);

/*
 * SQL: a proof-of-work challenge for joining a concert's queue, or NULL
 * when the concert asks for none.
 */
Datum
ticket_challenge(PG_FUNCTION_ARGS)
{
	int64		concert_id;
	text	   *user_id;
	TicketConcertInfo info;

	queue_args(fcinfo, &concert_id, &user_id, &info);
	if (info.pow_bits == 0)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(ticket_sign_challenge(concert_id, VARDATA_ANY(user_id),
														   VARSIZE_ANY_EXHDR(user_id),
														   info.pow_bits)));
}

PG_FUNCTION_INFO_V1(ticket_check_work_sql);

/*
 * SQL (internal): raise 28000 unless the solution solves the challenge for
 * this concert and user with at least bits of work.
 */
Datum
ticket_check_work_sql(PG_FUNCTION_ARGS)
{
	text	   *user_id;

	for (int i = 0; i < 5; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					errmsg("challenge, solution, concert_id, user_id and bits must not be NULL"));
	user_id = PG_GETARG_TEXT_PP(3);
	ticket_check_work(PG_GETARG_TEXT_PP(0), PG_GETARG_TEXT_PP(1), PG_GETARG_INT64(2),
					  VARDATA_ANY(user_id), VARSIZE_ANY_EXHDR(user_id), PG_GETARG_INT32(4));
	PG_RETURN_VOID();
}
