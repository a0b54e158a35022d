/*
 * ticket.h
 *		Shared declarations of the ticket extension.
 *
 * Every capability lives in a file of its own under src/; this header holds
 * what more than one of them needs: the shared-memory state created by
 * _PG_init (src/ticket.c) and the guard that refuses to run without it.
 */
#ifndef TICKET_H
#define TICKET_H

#include "access/attnum.h"
#include "port/atomics.h"
#include "utils/array.h"
#include "utils/timestamp.h"

/*
 * Counters kept in shared memory since the server started.  They count what
 * leaves no row behind (or what a scraper wants without scanning tables); a
 * counter bumped by a transaction that later aborts stays bumped, as in
 * pg_stat_statements.  Names are in ticket_counter_names (src/ticket.c), in
 * the same order.
 */
typedef enum TicketCounter
{
	TICKET_COUNTER_CONCERTS_CREATED,
	TICKET_COUNTER_SECTIONS_ADDED,
	TICKET_COUNTER_SEATS_GENERATED,
	TICKET_COUNTER_SALES_OPENED,
	/* one per outcome of ticket.hold / ticket.hold_best, in HoldStatus order */
	TICKET_COUNTER_HOLD_HELD,
	TICKET_COUNTER_HOLD_TAKEN,
	TICKET_COUNTER_HOLD_LIMIT,
	TICKET_COUNTER_HOLD_CLOSED,
	TICKET_COUNTER_HOLD_SOLD_OUT,
	TICKET_COUNTER_HOLD_NO_ADJACENT,
	TICKET_COUNTER_HOLD_RATE_LIMITED,
	TICKET_COUNTER_HOLD_BLOCKED,
	/* the waiting room */
	TICKET_COUNTER_QUEUE_JOINED,
	TICKET_COUNTER_QUEUE_RATE_LIMITED,
	TICKET_COUNTER_QUEUE_BLOCKED,
	TICKET_COUNTER_QUEUE_LEFT,
	TICKET_COUNTER_QUEUE_ADMITTED,
	TICKET_COUNTER_QUEUE_POLLS,
	/* checkout, payments, compensation and the worker */
	TICKET_COUNTER_HOLDS_EXPIRED,
	TICKET_COUNTER_ORDERS_CREATED,
	TICKET_COUNTER_ORDERS_PAID,
	TICKET_COUNTER_PAYMENTS_SUCCEEDED,
	TICKET_COUNTER_PAYMENTS_RETRIED,
	TICKET_COUNTER_PAYMENTS_DEAD,
	TICKET_COUNTER_PAYMENTS_TIMED_OUT,
	TICKET_COUNTER_REFUNDS_REQUESTED,
	TICKET_COUNTER_REFUNDS_SUCCEEDED,
	TICKET_COUNTER_COMPENSATIONS_DONE,
	TICKET_COUNTER_WORKER_ERRORS,
	/* requests let through because the rate-limit table was full */
	TICKET_COUNTER_RATE_TABLE_FULL,
	TICKET_COUNTER_BUYER_CANCELLATIONS,
	/* checkout, order_status, cancel_order, release, queue_status, my_* refused by a rate limit */
	TICKET_COUNTER_CALLS_RATE_LIMITED,
	TICKET_NUM_COUNTERS
} TicketCounter;

typedef struct TicketSharedState
{
	TimestampTz started_at;		/* when shared memory was (re)initialised */
	pg_atomic_uint64 counters[TICKET_NUM_COUNTERS];
} TicketSharedState;

/* NULL unless the library was loaded through shared_preload_libraries */
extern TicketSharedState *ticket_shared;

extern void ticket_require_preload(const char *function_name);
extern void ticket_count(TicketCounter counter, uint64 n);

/* src/lock.c */
extern bool ticket_try_lock_seat(int64 concert_id, int32 seat_id);
extern void ticket_lock_seat(int64 concert_id, int32 seat_id);
extern void ticket_unlock_seat(int64 concert_id, int32 seat_id);
extern void ticket_lock_user(int64 concert_id, const char *user_id, int len);
extern void ticket_lock_key(const char *user_id, int user_len, const char *key, int key_len);

/* src/ratelimit.c */
typedef enum TicketRateKind
{
	TICKET_RATE_USER = 1,
	TICKET_RATE_CLIENT = 2
} TicketRateKind;

extern void ticket_ratelimit_define_gucs(void);
extern void ticket_ratelimit_shmem_request(void);
extern void ticket_ratelimit_shmem_startup(void);
/* What a call costs in tokens: a write or a list 1, a poll of a state a tenth. */
#define TICKET_COST_CALL 1.0
#define TICKET_COST_POLL 0.1

extern bool ticket_rate_allow(TicketRateKind kind, const char *key, int len);
extern bool ticket_rate_take(TicketRateKind kind, const char *key, int len, double cost);
extern bool ticket_take_call(text *user_id, bool poll);

/* src/pass.c */
extern char *ticket_sign_pass(int64 concert_id, const char *user_id, int user_len, int64 place,
							  TimestampTz expires_at);
extern int64 ticket_check_pass(text *pass, int64 concert_id, const char *user_id, int user_len);
extern char *ticket_sign_challenge(int64 concert_id, const char *user_id, int user_len, int bits);
extern void ticket_check_work(text *challenge, text *solution, int64 concert_id,
							  const char *user_id, int user_len, int min_bits);

/* src/catalogue.c */
extern void ticket_catalogue_define_gucs(void);
extern void ticket_catalogue_shmem_request(void);
extern void ticket_catalogue_shmem_startup(void);
extern int32 ticket_sold_hint(int64 concert_id, int32 section_id, int32 first_seat_id, bool *fresh);
extern void ticket_sold_hint_note(int64 concert_id, int32 section_id, bool from_first_seat,
								  int32 sold_below, TimestampTz scanned_at);

/* src/worker.c */
extern void ticket_worker_define_gucs(void);
extern void ticket_worker_register(void);

/* src/queue.c */
extern void ticket_admission_check(int64 concert_id, text *user_id, int64 place);

#endif							/* TICKET_H */
