/*
 * sale.c
 *		The rules of a sale that every C path shares (src/sale.h): when a
 *		seat is free, when a hold is live and counts toward the per-user
 *		limit, and how an event enters the outbox.  The SQL functions call
 *		the same code (ticket._seat_is_free, ticket._hold_is_live,
 *		ticket._event), so each rule is written once.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "commands/sequence.h"
#include "executor/executor.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "catalog.h"
#include "sale.h"

/* Is this seat tuple free: available, or held past its held_until? */
bool
ticket_seat_is_free(TupleTableSlot *slot, TimestampTz now)
{
	Catalog    *cat = ticket_catalog();
	bool		isnull;
	Oid			state = DatumGetObjectId(slot_getattr(slot, cat->s_state, &isnull));

	return state == cat->available ||
		(state == cat->held && DatumGetTimestampTz(slot_getattr(slot, cat->s_held_until, &isnull)) <= now);
}

/* Is this hold tuple live: in checkout, paid, or active and not expired? */
bool
ticket_hold_is_live(TupleTableSlot *slot, TimestampTz now)
{
	Catalog    *cat = ticket_catalog();
	bool		isnull;
	Oid			state = DatumGetObjectId(slot_getattr(slot, cat->h_state, &isnull));

	/* A checkout keeps its seats until pay_by (its expires_at); then they are free. */
	if (state == cat->confirmed)
		return true;
	return (state == cat->active || state == cat->checking_out) &&
		DatumGetTimestampTz(slot_getattr(slot, cat->h_expires_at, &isnull)) > now;
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
 * commit); detail is a jsonb or 0 for none.
 */
void
ticket_insert_event(EState *estate, ResultRelInfo *rri, int64 concert_id, const char *kind,
					int64 subject_id, text *user_id, Datum detail, TimestampTz at)
{
	TupleDesc	desc = RelationGetDescr(rri->ri_RelationDesc);
	TupleTableSlot *slot = ExecInitExtraTupleSlot(estate, desc, &TTSOpsVirtual);
	Catalog    *cat = ticket_catalog();

	ExecClearTuple(slot);
	for (int i = 0; i < desc->natts; i++)
		slot->tts_isnull[i] = true;
#define SET(attnum, value) (slot->tts_values[(attnum) - 1] = (value), slot->tts_isnull[(attnum) - 1] = false)
	SET(cat->e_seq, Int64GetDatum(nextval_internal(cat->event_seq, false)));
	SET(cat->e_concert_id, Int64GetDatum(concert_id));
	SET(cat->e_kind, CStringGetTextDatum(kind));
	SET(cat->e_subject_id, Int64GetDatum(subject_id));
	SET(cat->e_user_id, PointerGetDatum(user_id));
	if (detail != (Datum) 0)
		SET(cat->e_detail, detail);
	SET(cat->e_created_at, TimestampTzGetDatum(at));
#undef SET
	ExecStoreVirtualTuple(slot);
	ExecSimpleRelationInsert(rri, estate, slot);
}

