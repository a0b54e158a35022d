/*
 * catalog.c
 *		The schema map and the settings cache (src/catalog.h).
 *
 * Every C path finds the extension's tables, indexes, columns, enum labels
 * and internal functions here, looked up by name once per backend: DROP and
 * CREATE EXTENSION give them new OIDs, and an update may add columns, so
 * the map is dropped whenever the relcache says one of them changed and is
 * looked up again on next use.  The same callback marks the settings cache
 * stale and counts the changes of ticket.pass_key for src/pass.c.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "catalog.h"

static Catalog cat;
static bool cat_callback_registered = false;
static uint64 pass_key_epoch = 0;
static uint64 catalog_changes = 0;	/* invalidations taken in, for a reload to tell it raced one */

/*
 * Each backend keeps the sale settings of the concerts and sections it has
 * sold from, so that a buyer's call reads no concert row: a spike of a
 * thousand backends would otherwise all pin the same page.  Every change to
 * ticket.concert or ticket.section, through the functions or by hand, fires
 * a statement trigger (ticket._relation_changed, src/ticket.c) that sends a
 * relcache invalidation of that table at commit.  The callback below marks the
 * caches stale and the next look-up empties them before it looks anything up; a
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
	TicketSection s;
} SectionEntry;

static HTAB *concert_cache = NULL;
static HTAB *section_cache = NULL;
static bool settings_stale = false;

static Datum
get(TupleTableSlot *slot, AttrNumber attnum, bool *isnull)
{
	return slot_getattr(slot, attnum, isnull);
}

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
		relid == cat.seat || relid == cat.hold || relid == cat.event || relid == cat.event_head ||
		relid == cat.blocked || relid == cat.orders || relid == cat.payment ||
		relid == cat.idempotency || relid == cat.entry || relid == cat.queue ||
		relid == cat.departure || relid == cat.pass_key)
	{
		cat.valid = false;
		catalog_changes++;
	}
	if (relid == InvalidOid || relid == cat.concert || relid == cat.section)
		settings_stale = true;
	if (relid == InvalidOid || relid == cat.pass_key)
		pass_key_epoch++;
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
	uint64		changes_before;

	if (cat.valid)
		return &cat;
	if (!cat_callback_registered)
	{
		CacheRegisterRelcacheCallback(catalog_invalidate, (Datum) 0);
		cat_callback_registered = true;
	}

	changes_before = catalog_changes;
	nsp = get_namespace_oid("ticket", false);
	cat.concert = ticket_relation_oid(nsp, "concert");
	cat.concert_pkey = ticket_relation_oid(nsp, "concert_pkey");
	cat.section = ticket_relation_oid(nsp, "section");
	cat.section_pkey = ticket_relation_oid(nsp, "section_pkey");
	cat.seat = ticket_relation_oid(nsp, "seat");
	cat.seat_pkey = ticket_relation_oid(nsp, "seat_pkey");
	cat.hold = ticket_relation_oid(nsp, "hold");
	cat.hold_pkey = ticket_relation_oid(nsp, "hold_pkey");
	/* 0.6 keys a buyer's holds by (user_id, concert_id); before, (concert_id, user_id) */
	cat.hold_buyer = get_relname_relid("hold_user_idx", nsp);
	cat.hold_buyer_user_first = OidIsValid(cat.hold_buyer);
	if (!cat.hold_buyer_user_first)
		cat.hold_buyer = ticket_relation_oid(nsp, "hold_buyer_idx");
	cat.hold_key = ticket_relation_oid(nsp, "hold_idempotency_idx");
	cat.hold_seq = ticket_relation_oid(nsp, "hold_id_seq");
	cat.blocked = ticket_relation_oid(nsp, "blocked_user");
	cat.blocked_pkey = ticket_relation_oid(nsp, "blocked_user_pkey");
	cat.event = ticket_relation_oid(nsp, "event");
	cat.event_seq = ticket_relation_oid(nsp, "event_seq");
	cat.event_head = ticket_relation_oid(nsp, "event_head");
	/* 0.7: holds' events read from ticket.hold (src/sale.c) */
	cat.hold_events_from_holds = get_attnum(cat.event_head, "hold_mark") != InvalidAttrNumber;
	cat.orders = ticket_relation_oid(nsp, "orders");
	cat.orders_pkey = ticket_relation_oid(nsp, "orders_pkey");
	cat.orders_hold_key = ticket_relation_oid(nsp, "orders_hold_id_key");
	cat.orders_seq = ticket_relation_oid(nsp, "orders_order_id_seq");
	cat.payment = ticket_relation_oid(nsp, "payment");
	cat.payment_order = ticket_relation_oid(nsp, "payment_order_idx");
	cat.payment_seq = ticket_relation_oid(nsp, "payment_payment_id_seq");
	cat.idempotency = ticket_relation_oid(nsp, "idempotency");
	cat.idempotency_pkey = ticket_relation_oid(nsp, "idempotency_pkey");
	cat.entry = ticket_relation_oid(nsp, "queue_entry");
	cat.entry_pkey = ticket_relation_oid(nsp, "queue_entry_pkey");
	cat.queue = ticket_relation_oid(nsp, "queue");
	cat.queue_pkey = ticket_relation_oid(nsp, "queue_pkey");
	cat.departure = ticket_relation_oid(nsp, "queue_departure");
	cat.departure_pkey = ticket_relation_oid(nsp, "queue_departure_pkey");
	cat.pass_key = ticket_relation_oid(nsp, "pass_key");

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
	cat.c_durable_holds = get_attnum(cat.concert, "durable_holds");
	cat.x_first_seat_id = ticket_column(cat.section, "first_seat_id");
	cat.x_capacity = ticket_column(cat.section, "capacity");
	cat.x_seated = ticket_column(cat.section, "seated");
	cat.x_price = ticket_column(cat.section, "price");
	cat.x_name = ticket_column(cat.section, "name");
	cat.s_concert_id = ticket_column(cat.seat, "concert_id");
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
	cat.qe_state = ticket_column(cat.entry, "state");
	cat.qe_seq = ticket_column(cat.entry, "seq");
	cat.qe_expires_at = ticket_column(cat.entry, "expires_at");
	cat.q_admitted_through = ticket_column(cat.queue, "admitted_through");
	cat.q_sold_out_at = ticket_column(cat.queue, "sold_out_at");
	cat.q_gaps = ticket_column(cat.queue, "gaps");
	/* Added by 0.3: absent until ALTER EXTENSION ticket UPDATE. */
	cat.q_rate_reason = get_attnum(cat.queue, "rate_reason");
	cat.q_eta_rate = get_attnum(cat.queue, "eta_rate");
	cat.k_key_id = ticket_column(cat.pass_key, "key_id");
	cat.k_secret = ticket_column(cat.pass_key, "secret");
	cat.k_retired_at = ticket_column(cat.pass_key, "retired_at");

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
	cat.qe_prequeue = ticket_enum_label(cat.entry, cat.qe_state, "prequeue");
	cat.qe_waiting = ticket_enum_label(cat.entry, cat.qe_state, "waiting");
	cat.qe_admitted = ticket_enum_label(cat.entry, cat.qe_state, "admitted");
	cat.qe_expired = ticket_enum_label(cat.entry, cat.qe_state, "expired");
	cat.qe_left = ticket_enum_label(cat.entry, cat.qe_state, "left");
	cat.qe_blocked = ticket_enum_label(cat.entry, cat.qe_state, "blocked");
	/* Added by 0.3. */
	cat.qe_done = GetSysCacheOid2(ENUMTYPOIDNAME, Anum_pg_enum_oid,
							   ObjectIdGetDatum(get_atttype(cat.entry, cat.qe_state)),
							   CStringGetDatum("done"));
	cat.end_admission = ticket_function_oid("_end_admission", 2, (Oid[]) {INT8OID, TEXTOID});
	/* Added by 0.6. */
	cat.listed_concert = ticket_function_oid("_listed_concert", 1, (Oid[]) {INT8OID});

	/* Valid unless an invalidation came in while the lookups ran: then look up again next time. */
	cat.valid = catalog_changes == changes_before;
	return &cat;
}

Catalog *
ticket_catalog(void)
{
	return catalog();
}

uint64
ticket_pass_key_epoch(void)
{
	(void) catalog();
	return pass_key_epoch;
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
concert_settings(int64 concert_id)
{
	ConcertEntry *e;
	ConcertEntry result;
	Relation	concert;
	Relation	concert_pkey;
	ScanKeyData key;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	Snapshot	snap;
	bool		isnull;

	forget_stale_settings();
	if (concert_cache && (e = hash_search(concert_cache, &concert_id, HASH_FIND, NULL)))
		return *e;

	concert = table_open(cat.concert, AccessShareLock);
	concert_pkey = index_open(cat.concert_pkey, AccessShareLock);
	forget_stale_settings();
	if (concert_cache == NULL)
	{
		HASHCTL		ctl = {.keysize = sizeof(int64), .entrysize = sizeof(ConcertEntry)};

		concert_cache = hash_create("ticket concerts", 16, &ctl, HASH_ELEM | HASH_BLOBS);
	}

	snap = RegisterSnapshot(GetLatestSnapshot());
	slot = table_slot_create(concert, NULL);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(concert_id));
	scan = index_beginscan(concert, concert_pkey, snap, 1, 0);
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
	e->durable_holds = cat.c_durable_holds == InvalidAttrNumber ||
		DatumGetBool(get(slot, cat.c_durable_holds, &isnull));
	result = *e;
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snap);
	/* Their locks stay until the transaction ends. */
	index_close(concert_pkey, NoLock);
	table_close(concert, NoLock);
	return result;
}

/*
 * Look up a section's seats, from the backend's cache or its row, as
 * concert_settings does.
 */
static TicketSection
section_settings(int64 concert_id, int32 section_id)
{
	SectionEntry *e;
	SectionKey	k;
	TicketSection result;
	Relation	section;
	Relation	section_pkey;
	ScanKeyData key[2];
	IndexScanDesc scan;
	TupleTableSlot *slot;
	Snapshot	snap;
	bool		isnull;

	/* HASH_BLOBS hashes every byte of the key: its padding too */
	memset(&k, 0, sizeof(k));
	k.concert_id = concert_id;
	k.section_id = section_id;
	forget_stale_settings();
	if (section_cache && (e = hash_search(section_cache, &k, HASH_FIND, NULL)))
		return e->s;

	section = table_open(cat.section, AccessShareLock);
	section_pkey = index_open(cat.section_pkey, AccessShareLock);
	forget_stale_settings();
	if (section_cache == NULL)
	{
		HASHCTL		ctl = {.keysize = sizeof(SectionKey), .entrysize = sizeof(SectionEntry)};

		section_cache = hash_create("ticket sections", 16, &ctl, HASH_ELEM | HASH_BLOBS);
	}

	snap = RegisterSnapshot(GetLatestSnapshot());
	slot = table_slot_create(section, NULL);
	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(concert_id));
	ScanKeyInit(&key[1], 2, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(section_id));
	scan = index_beginscan(section, section_pkey, snap, 2, 0);
	index_rescan(scan, key, 2, NULL, 0);
	if (!index_getnext_slot(scan, ForwardScanDirection, slot))
		ereport(ERROR,
				errcode(ERRCODE_NO_DATA_FOUND),
				errmsg("concert " INT64_FORMAT " has no section %d", concert_id, section_id));
	e = hash_search(section_cache, &k, HASH_ENTER, NULL);
	e->s.first_seat_id = DatumGetInt32(get(slot, cat.x_first_seat_id, &isnull));
	e->s.capacity = DatumGetInt32(get(slot, cat.x_capacity, &isnull));
	e->s.seated = DatumGetBool(get(slot, cat.x_seated, &isnull));
	e->s.price_cents = DatumGetInt64(DirectFunctionCall1(numeric_int8,
		DirectFunctionCall2(numeric_mul, get(slot, cat.x_price, &isnull),
							DirectFunctionCall1(int8_numeric, Int64GetDatum(100)))));
	text_to_cstring_buffer(DatumGetTextPP(get(slot, cat.x_name, &isnull)), e->s.name, sizeof(e->s.name));
	result = e->s;
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snap);
	index_close(section_pkey, NoLock);
	table_close(section, NoLock);
	return result;
}

/*
 * The waiting room's view of a concert, from the same cache; raises P0002
 * when there is no such concert.
 */
void
ticket_concert_info(int64 concert_id, TicketConcertInfo *info)
{
	ConcertEntry c;

	(void) catalog();
	c = concert_settings(concert_id);
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
	(void) catalog();
	*out = concert_settings(concert_id);
}

/* A section's seats and price, from the same cache; P0002 when there is none. */
void
ticket_section(int64 concert_id, int32 section_id, TicketSection *out)
{
	(void) catalog();
	*out = section_settings(concert_id, section_id);
}

/* A section's price in cents, from the same cache. */
int64
ticket_section_price_cents(int64 concert_id, int32 section_id)
{
	TicketSection x;

	ticket_section(concert_id, section_id, &x);
	return x.price_cents;
}

