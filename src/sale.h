/*
 * sale.h
 *		The rules of a sale that the C paths share (src/sale.c): a free
 *		seat, a live hold and what counts toward the per-user limit, the
 *		outbox row.  Internal to the module.
 */
#ifndef TICKET_SALE_H
#define TICKET_SALE_H

#include "access/attnum.h"
#include "access/htup.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "nodes/execnodes.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"
#include "utils/timestamp.h"

#include "catalog.h"

/* A seat is free when it is available or held past its held_until. */
extern bool ticket_seat_is_free(TupleTableSlot *slot, TimestampTz now);

/* A hold counts toward the per-user limit while it is live. */
extern bool ticket_hold_is_live(TupleTableSlot *slot, TimestampTz now);
extern int64 ticket_buyer_seats(Relation hold, Relation hold_buyer, Snapshot snap, int64 concert_id,
								text *user_id, int64 except_hold);

/* The outbox row of an event, written through the executor's single-row path. */
extern void ticket_insert_event(EState *estate, ResultRelInfo *rri, int64 concert_id, const char *kind,
								int64 subject_id, text *user_id, Datum detail, TimestampTz at);

/* The single-row writes of one call to up to TICKET_WRITER_MAX tables (src/sale.c). */
#define TICKET_WRITER_MAX 6

typedef struct TicketWriter
{
	EState	   *estate;
	EPQState	epq;
	int			n;
	int			open;			/* the table whose indexes are open, or -1 */
	/* Write to table i only through ticket_writer_rri(w, i): it opens its indexes. */
	ResultRelInfo *rri[TICKET_WRITER_MAX];
} TicketWriter;

extern void ticket_writer_begin(TicketWriter *w, Relation *rels, int n);
extern void ticket_writer_end(TicketWriter *w);
extern void ticket_writer_trust_fks(TicketWriter *w, int i);
extern ResultRelInfo *ticket_writer_rri(TicketWriter *w, int i);
extern TupleTableSlot *ticket_new_row(TicketWriter *w, int i);
extern TupleTableSlot *ticket_changed_row(TicketWriter *w, int i, TupleTableSlot *old);

/* A row by its bigint key (locked FOR UPDATE with lock); a buyer's own row (P0002, 42501). */
extern TupleTableSlot *ticket_find_row(Relation rel, Oid index, AttrNumber keyatt, int64 key, bool lock);
extern TupleTableSlot *ticket_own_row(Relation rel, Oid index, AttrNumber keyatt, AttrNumber useratt, int64 key,
									  text *user_id, bool lock, const char *what, const char *hint);

/*
 * durable_holds = false: the transaction that made a hold commits
 * asynchronously; a write that must be durable in the same transaction
 * (checkout, selling) puts the commit back as it was.
 */
extern void ticket_hold_async(void);
extern void ticket_require_durable(void);

/* Seats as a buyer sees them: labels, prices and the JSON every result carries. */
typedef struct TicketSeatRef
{
	int32		seat_id;
	int32		section_id;
	int32		row_no;			/* 0 for a standing place */
	int32		seat_no;		/* or place number */
} TicketSeatRef;

extern void ticket_seat_label(StringInfo buf, const char *section, bool seated, int32 row_no, int32 seat_no);
extern void ticket_seat_ref(HeapTuple row, TupleDesc desc, TicketSeatRef *out);
extern void ticket_seat_refs(int64 concert_id, const int32 *seat_ids, int n, TicketSeatRef *out);
extern Datum ticket_seats_json(int64 concert_id, const TicketSeatRef *seats, int n, int64 *total_cents);
extern Datum ticket_cents_numeric(int64 cents);

extern void ticket_hold_events_shmem_request(void);
extern void ticket_hold_events_shmem_startup(void);
extern int64 ticket_next_hold_id(bool *from_holds);

#endif							/* TICKET_SALE_H */
