/*
 * ratelimit.c
 *		Token buckets in shared memory: how often one user, and one client
 *		key (an address the application passes), may call.  Every customer
 *		entry point draws on the user's bucket (ticket_take_call): a call
 *		takes one token, a poll of a state a tenth; hold, hold_best and
 *		join_queue also draw on the client key's.
 *
 * A bucket holds up to burst tokens and gains rate tokens per second; a
 * call without enough tokens is answered "rate_limited" (53400 where there
 * is no status) without touching any table.  Buckets are created full on
 * first use.
 *
 * Locking rules: the buckets live in one shared hash table, split into
 * TICKET_RATE_PARTITIONS partitions, each guarded by one LWLock of the
 * "ticket_rate_limit" tranche; a bucket is read and written only under the
 * exclusive lock of its partition.  The sweep that makes room takes every
 * partition lock, in order.
 *
 * When the table is full, a sweep removes every bucket that has refilled to
 * its burst (it is the same as no bucket at all); if none can go, the
 * request is let through and counted in ticket.counters() as
 * rate_limit_table_full, so that a flood of distinct keys cannot lock honest
 * buyers out.  After a restart every bucket starts full.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "ticket.h"

#define TICKET_RATE_PARTITIONS	64
#define TICKET_RATE_TRANCHE		"ticket_rate_limit"

typedef struct RateKey
{
	uint64		hash;			/* of the user id or client key */
	int32		kind;			/* TicketRateKind */
	int32		pad;
} RateKey;

typedef struct RateBucket
{
	RateKey		key;
	double		tokens;
	TimestampTz updated;
} RateBucket;

/* Settings (ticket.* in postgresql.conf). */
double		ticket_user_rate = 5.0;
int			ticket_user_burst = 10;
double		ticket_client_rate = 50.0;
int			ticket_client_burst = 100;
int			ticket_rate_buckets = 100000;

static HTAB *buckets = NULL;
static LWLockPadded *locks = NULL;

/*
 * Define the rate-limit settings (from _PG_init).
 */
void
ticket_ratelimit_define_gucs(void)
{
	DefineCustomRealVariable("ticket.user_rate",
							 "Calls per second one user may make (a poll counts a tenth); 0 turns the limit off.",
							 NULL, &ticket_user_rate, 5.0, 0.0, 1000000.0,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("ticket.user_burst",
							"Requests one user may make at once before ticket.user_rate applies.",
							NULL, &ticket_user_burst, 10, 1, 1000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("ticket.client_rate",
							 "Requests per second one client key may make; 0 turns the limit off.",
							 NULL, &ticket_client_rate, 50.0, 0.0, 1000000.0,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("ticket.client_burst",
							"Requests one client key may make at once before ticket.client_rate applies.",
							NULL, &ticket_client_burst, 100, 1, 1000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	/* A postmaster setting may only be defined while preloading. */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("ticket.rate_buckets",
								"Most rate-limit buckets kept in shared memory.",
								NULL, &ticket_rate_buckets, 100000, 1000, 10000000,
								PGC_POSTMASTER, 0, NULL, NULL, NULL);
}

/*
 * Shared memory the buckets need (from the shmem_request hook).
 */
void
ticket_ratelimit_shmem_request(void)
{
	RequestAddinShmemSpace(hash_estimate_size(ticket_rate_buckets, sizeof(RateBucket)));
	RequestNamedLWLockTranche(TICKET_RATE_TRANCHE, TICKET_RATE_PARTITIONS);
}

/*
 * Attach to (or create) the bucket table (from the shmem_startup hook,
 * under AddinShmemInitLock).
 */
void
ticket_ratelimit_shmem_startup(void)
{
	HASHCTL		info;

	info.keysize = sizeof(RateKey);
	info.entrysize = sizeof(RateBucket);
	info.num_partitions = TICKET_RATE_PARTITIONS;
	buckets = ShmemInitHash("ticket rate-limit buckets", ticket_rate_buckets, ticket_rate_buckets,
							&info, HASH_ELEM | HASH_BLOBS | HASH_PARTITION | HASH_FIXED_SIZE);
	locks = GetNamedLWLockTranche(TICKET_RATE_TRANCHE);
}

/* Tokens a bucket has at now, with what it gained since it was last used. */
static double
refill(RateBucket *b, TimestampTz now, double rate, int burst)
{
	double		gained = (double) (now - b->updated) / USECS_PER_SEC * rate;

	return Min((double) burst, b->tokens + Max(gained, 0.0));
}

static void
settings_of(TicketRateKind kind, double *rate, int *burst)
{
	*rate = kind == TICKET_RATE_USER ? ticket_user_rate : ticket_client_rate;
	*burst = kind == TICKET_RATE_USER ? ticket_user_burst : ticket_client_burst;
}

/*
 * Remove every bucket that has refilled to its burst.  Returns how many.
 */
static long
sweep(TimestampTz now)
{
	HASH_SEQ_STATUS status;
	RateBucket *b;
	long		removed = 0;

	for (int i = 0; i < TICKET_RATE_PARTITIONS; i++)
		LWLockAcquire(&locks[i].lock, LW_EXCLUSIVE);
	hash_seq_init(&status, buckets);
	while ((b = hash_seq_search(&status)) != NULL)
	{
		double		rate;
		int			burst;

		settings_of((TicketRateKind) b->key.kind, &rate, &burst);
		if (refill(b, now, rate, burst) >= burst)
		{
			hash_search(buckets, &b->key, HASH_REMOVE, NULL);
			removed++;
		}
	}
	for (int i = TICKET_RATE_PARTITIONS - 1; i >= 0; i--)
		LWLockRelease(&locks[i].lock);
	return removed;
}

/*
 * Take a token for this user or client key; false when there is none.
 */
bool
ticket_rate_allow(TicketRateKind kind, const char *key, int len)
{
	return ticket_rate_take(kind, key, len, TICKET_COST_CALL);
}

/*
 * Take cost tokens (a call 1, a poll TICKET_COST_POLL): every customer entry
 * point draws on the same buckets, priced by what it costs the server.
 */
bool
ticket_rate_take(TicketRateKind kind, const char *key, int len, double cost)
{
	RateKey		k = {0};
	uint32		hashcode;
	LWLock	   *lock;
	RateBucket *b;
	bool		found;
	bool		allowed;
	double		rate;
	int			burst;
	TimestampTz now = GetCurrentTimestamp();

	settings_of(kind, &rate, &burst);
	if (rate <= 0 || buckets == NULL)
		return true;

	k.hash = hash_bytes_extended((const unsigned char *) key, len, (uint64) kind);
	k.kind = kind;
	hashcode = get_hash_value(buckets, &k);
	lock = &locks[hashcode % TICKET_RATE_PARTITIONS].lock;

	for (int attempt = 0;; attempt++)
	{
		LWLockAcquire(lock, LW_EXCLUSIVE);
		b = hash_search_with_hash_value(buckets, &k, hashcode, HASH_ENTER_NULL, &found);
		if (b != NULL)
			break;
		LWLockRelease(lock);
		if (attempt > 0 || sweep(now) == 0)
		{
			ticket_count(TICKET_COUNTER_RATE_TABLE_FULL, 1);
			return true;
		}
	}
	if (!found)
	{
		b->tokens = burst;
		b->updated = now;
	}
	b->tokens = refill(b, now, rate, burst);
	b->updated = now;
	allowed = b->tokens >= cost;
	if (allowed)
		b->tokens -= cost;
	LWLockRelease(lock);
	return allowed;
}

/*
 * A customer call from the user's bucket: a poll (a state read) a tenth of
 * a token, any other call one.  A refusal is counted as calls_rate_limited;
 * the caller answers rate_limited (or 53400 where it has no status).
 */
bool
ticket_take_call(text *user_id, bool poll)
{
	if (ticket_rate_take(TICKET_RATE_USER, VARDATA_ANY(user_id), VARSIZE_ANY_EXHDR(user_id),
						 poll ? TICKET_COST_POLL : TICKET_COST_CALL))
		return true;
	ticket_count(TICKET_COUNTER_CALLS_RATE_LIMITED, 1);
	return false;
}

PG_FUNCTION_INFO_V1(ticket_take_call_sql);

/* SQL (internal): ticket._take_call(user_id, poll). */
Datum
ticket_take_call_sql(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("user_id and poll must not be NULL"));
	PG_RETURN_BOOL(ticket_take_call(PG_GETARG_TEXT_PP(0), PG_GETARG_BOOL(1)));
}
