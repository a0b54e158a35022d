/*
 * catalog.h
 *		The schema map (where the extension's tables, columns, enum labels and
 *		internal functions are) and the per-backend caches of what a sale
 *		reads on every call: a concert's and a section's settings.  One
 *		invalidation callback (src/catalog.c) serves them all, and tells the
 *		pass-key cache (src/pass.c) when ticket.pass_key changed.
 */
#ifndef TICKET_CATALOG_H
#define TICKET_CATALOG_H

#include "access/attnum.h"
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
	bool		hold_buyer_user_first;	/* hold_user_idx (0.6), else hold_buyer_idx */
	Oid			blocked, blocked_pkey;
	Oid			event, event_seq;
	Oid			event_head;
	bool		hold_events_from_holds;	/* 0.7: event_head.hold_mark; before, an outbox row per hold */
	Oid			orders, orders_pkey, orders_hold_key, orders_seq;
	Oid			payment, payment_order, payment_seq;
	Oid			idempotency, idempotency_pkey;
	Oid			entry, entry_pkey, queue, queue_pkey, departure, departure_pkey;
	Oid			pass_key;
	AttrNumber	c_state, c_sale_closes_at, c_hold_ttl, c_per_user_limit, c_seat_count,
				c_queue, c_pow_bits, c_admit_rate, c_payment_timeout, c_payment_attempts;
	AttrNumber	c_durable_holds;	/* 0.6: InvalidAttrNumber before */
	AttrNumber	x_first_seat_id, x_capacity, x_seated, x_price, x_name;
	AttrNumber	s_concert_id, s_seat_id, s_section_id, s_row_no, s_seat_no, s_state, s_hold_id, s_held_until;
	AttrNumber	h_hold_id, h_concert_id, h_user_id, h_seat_ids, h_state, h_created_at,
				h_expires_at, h_ended_at, h_idempotency_key, h_request;
	AttrNumber	e_seq, e_concert_id, e_kind, e_subject_id, e_user_id, e_detail, e_created_at;
	AttrNumber	o_order_id, o_concert_id, o_user_id, o_hold_id, o_seat_ids, o_amount, o_state,
				o_created_at, o_pay_by, o_paid_at, o_cancelled_at, o_cancel_reason;
	AttrNumber	p_payment_id, p_order_id, p_kind, p_amount, p_state, p_attempts, p_max_attempts,
				p_next_attempt_at, p_created_at;
	AttrNumber	i_user_id, i_key, i_request, i_order_id, i_status, i_created_at;
	AttrNumber	qe_state, qe_seq, qe_expires_at;	/* queue_entry */
	AttrNumber	q_admitted_through, q_sold_out_at, q_gaps;	/* queue */
	AttrNumber	q_rate_reason, q_eta_rate;	/* 0.3: InvalidAttrNumber before */
	AttrNumber	k_key_id, k_secret, k_retired_at;	/* pass_key */
	Oid			draft, on_sale, closed, cancelled;	/* concert_state */
	Oid			available, held, sold;	/* seat_state */
	Oid			active, checking_out, confirmed, expired, released;	/* hold_state */
	Oid			order_pending, order_paid;	/* order_state */
	Oid			charge;			/* payment_kind */
	Oid			processing;		/* payment_state */
	Oid			qe_prequeue, qe_waiting, qe_admitted, qe_expired, qe_left, qe_blocked;	/* queue_entry_state */
	Oid			qe_done;		/* queue_entry_state, 0.3: InvalidOid before */
	Oid			end_admission;	/* ticket._end_admission (0.3), InvalidOid before */
	Oid			listed_concert; /* ticket._listed_concert (0.6), InvalidOid before */
} Catalog;

extern Catalog *ticket_catalog(void);
extern Oid	ticket_relation_oid(Oid nsp, const char *name);
extern AttrNumber ticket_column(Oid relid, const char *name);
extern Oid	ticket_enum_label(Oid relid, AttrNumber attnum, const char *label);

/*
 * How many times ticket.pass_key changed (or the caches were reset) since
 * the backend started: a cache of its rows is good while this is what it
 * was when the cache was filled.
 */
extern uint64 ticket_pass_key_epoch(void);

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
	bool		durable_holds;	/* false: a hold's transaction commits asynchronously */
} TicketConcert;

extern void ticket_concert(int64 concert_id, TicketConcert *out);
/* A section's name: at most 64 characters (ticket._add_seats), 4 bytes each in UTF-8. */
#define TICKET_SECTION_NAME_BYTES (64 * 4 + 1)

/* A section's seats, price and name, from the same cache. */
typedef struct TicketSection
{
	int32		first_seat_id;
	int32		capacity;
	bool		seated;
	int64		price_cents;	/* numeric(12,2) in cents */
	char		name[TICKET_SECTION_NAME_BYTES];	/* as a buyer sees it */
} TicketSection;

extern void ticket_section(int64 concert_id, int32 section_id, TicketSection *out);
extern int64 ticket_section_price_cents(int64 concert_id, int32 section_id);

/* What the waiting room needs to know of a concert, from the same cache. */
typedef struct TicketConcertInfo
{
	bool		draft;
	bool		ended;			/* closed or cancelled */
	bool		queue;
	int32		pow_bits;
	int32		admit_rate;
} TicketConcertInfo;

extern void ticket_concert_info(int64 concert_id, TicketConcertInfo *info);

#endif							/* TICKET_CATALOG_H */
