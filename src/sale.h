/*
 * sale.h
 *		What the C paths of a sale share (src/hold.c, src/checkout.c): where
 *		the extension's tables, columns and enum labels are, the per-backend
 *		cache of sale settings, the argument rules and the rules of a live
 *		hold.  Internal to the module.
 */
#ifndef TICKET_SALE_H
#define TICKET_SALE_H

#include "access/attnum.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"
#include "utils/timestamp.h"

/*
 * Where the extension's tables, indexes, columns, enum labels and internal
 * functions are, looked up by name once per backend and forgotten when any
 * of them changes (DROP and CREATE EXTENSION give them new OIDs).
 */
typedef struct Catalog
{
	bool		valid;
	Oid			concert, concert_pkey, section, section_pkey;
	Oid			seat, seat_pkey, hold, hold_pkey, hold_buyer, hold_key, hold_seq;
	Oid			blocked, blocked_pkey;
	Oid			event, event_seq;
	Oid			orders, orders_pkey, orders_hold_key, orders_seq;
	Oid			payment, payment_order, payment_seq;
	Oid			idempotency, idempotency_pkey;
	AttrNumber	c_state, c_sale_closes_at, c_hold_ttl, c_per_user_limit, c_seat_count,
				c_queue, c_pow_bits, c_admit_rate, c_payment_timeout, c_payment_attempts;
	AttrNumber	x_first_seat_id, x_capacity, x_seated, x_price;
	AttrNumber	s_seat_id, s_section_id, s_row_no, s_seat_no, s_state, s_hold_id, s_held_until;
	AttrNumber	h_hold_id, h_concert_id, h_user_id, h_seat_ids, h_state, h_created_at,
				h_expires_at, h_ended_at, h_idempotency_key, h_request;
	AttrNumber	e_seq, e_concert_id, e_kind, e_subject_id, e_user_id, e_detail, e_created_at;
	AttrNumber	o_order_id, o_concert_id, o_user_id, o_hold_id, o_seat_ids, o_amount, o_state,
				o_created_at, o_pay_by, o_paid_at, o_cancelled_at, o_cancel_reason;
	AttrNumber	p_payment_id, p_order_id, p_kind, p_amount, p_state, p_attempts, p_max_attempts,
				p_next_attempt_at, p_created_at;
	AttrNumber	i_user_id, i_key, i_request, i_order_id, i_status, i_created_at;
	Oid			draft, on_sale, closed, cancelled;	/* concert_state */
	Oid			available, held, sold;	/* seat_state */
	Oid			active, checking_out, confirmed, expired, released;	/* hold_state */
	Oid			order_pending, order_paid;	/* order_state */
	Oid			charge;			/* payment_kind */
	Oid			processing;		/* payment_state */
	Oid			end_admission;	/* ticket._end_admission (0.3), InvalidOid before */
} Catalog;

extern Catalog *ticket_catalog(void);

/* A concert's sale settings, from the backend's cache. */
typedef struct TicketConcert
{
	int64		concert_id;		/* hash key */
	Oid			state;
	bool		on_sale;
	bool		queue;
	int32		pow_bits;
	int32		admit_rate;
	TimestampTz sale_closes_at;
	Interval	hold_ttl;
	int32		per_user_limit;
	int32		seat_count;
	Interval	payment_timeout;
	int32		payment_attempts;
} TicketConcert;

extern void ticket_concert(int64 concert_id, TicketConcert *out);
extern int64 ticket_section_price_cents(int64 concert_id, int32 section_id);

/* The argument rules of every text (22023 blank or control characters, 22001 too long). */
extern void ticket_check_arg(text *t, const char *name, int max, const char *blank_hint);

/* A seat is free when it is available or held past its held_until. */
extern bool ticket_seat_is_free(TupleTableSlot *slot, TimestampTz now);

/* A hold counts toward the per-user limit while it is live. */
extern bool ticket_hold_is_live(TupleTableSlot *slot, TimestampTz now);
extern int64 ticket_buyer_seats(Relation hold, Relation hold_buyer, Snapshot snap, int64 concert_id,
								text *user_id, int64 except_hold);

/* The outbox row of an event, written through the executor's single-row path. */
extern void ticket_insert_event(EState *estate, ResultRelInfo *rri, int64 concert_id, const char *kind,
								int64 subject_id, text *user_id, Datum detail, TimestampTz at);

#endif							/* TICKET_SALE_H */
