/*
 * ticket.c
 *		Module load, shared memory and the preload guard.
 *
 * Locking rules: the shared state holds only atomic counters and values
 * written once by the postmaster before any backend starts, so it needs no
 * LWLock.  The rate-limit buckets (src/ratelimit.c) and the section counts
 * (src/catalogue.c) have a tranche of their own each, documented there.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"

#include "sale.h"
#include "ticket.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

TicketSharedState *ticket_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* SQL-visible names of TicketCounter, in enum order */
static const char *const ticket_counter_names[] = {
	"concerts_created",
	"sections_added",
	"seats_generated",
	"sales_opened",
	"holds_held",
	"holds_taken",
	"holds_limit",
	"holds_closed",
	"holds_sold_out",
	"holds_no_adjacent",
	"holds_rate_limited",
	"holds_blocked",
	"queue_joined",
	"queue_rate_limited",
	"queue_blocked",
	"queue_left",
	"queue_admitted",
	"queue_polls",
	"holds_expired",
	"orders_created",
	"orders_paid",
	"payments_succeeded",
	"payments_retried",
	"payments_dead",
	"payments_timed_out",
	"refunds_requested",
	"refunds_succeeded",
	"compensations_done",
	"worker_errors",
	"rate_limit_table_full",
	"buyer_cancellations",
	"calls_rate_limited",
};

StaticAssertDecl(lengthof(ticket_counter_names) == TICKET_NUM_COUNTERS,
				 "one SQL-visible name per counter");

static void ticket_shmem_request(void);
static void ticket_shmem_startup(void);

/*
 * Set up the module: settings first (so that they exist in every backend),
 * then, only when loaded from shared_preload_libraries, shared memory.
 */
void
_PG_init(void)
{
	/* pg_upgrade loads libraries to check them; nothing of ours may run */
	if (IsBinaryUpgrade)
		return;

	ticket_ratelimit_define_gucs();
	ticket_worker_define_gucs();
	ticket_catalogue_define_gucs();

	/*
	 * Loaded later, by a backend calling one of our functions: the functions
	 * that need shared memory refuse with ticket_require_preload().
	 */
	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = ticket_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = ticket_shmem_startup;

	MarkGUCPrefixReserved("ticket");
	ticket_worker_register();
}

/*
 * Ask for the shared memory of ticket_shared; in PostgreSQL 15 a request
 * made anywhere but this hook is an error.
 */
static void
ticket_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	RequestAddinShmemSpace(MAXALIGN(sizeof(TicketSharedState)));
	ticket_ratelimit_shmem_request();
	ticket_catalogue_shmem_request();
	ticket_hold_events_shmem_request();
}

/*
 * Attach to (or, in the postmaster, create) the shared state.  Runs again
 * after a crash restart, which starts every counter from zero.
 */
static void
ticket_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ticket_shared = ShmemInitStruct("ticket", sizeof(TicketSharedState), &found);
	if (!found)
	{
		ticket_shared->started_at = GetCurrentTimestamp();
		for (int i = 0; i < TICKET_NUM_COUNTERS; i++)
			pg_atomic_init_u64(&ticket_shared->counters[i], 0);
	}
	ticket_ratelimit_shmem_startup();
	ticket_catalogue_shmem_startup();
	ticket_hold_events_shmem_startup();
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Refuse to go on unless the library was preloaded, naming the setting that
 * fixes it.
 */
void
ticket_require_preload(const char *function_name)
{
	if (ticket_shared == NULL)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("%s requires the ticket library to be preloaded", function_name),
				errdetail("The library was not loaded through shared_preload_libraries, so its shared memory does not exist."),
				errhint("Add ticket to shared_preload_libraries in postgresql.conf, for example shared_preload_libraries = 'ticket, pg_cron', and restart the server."));
}

/*
 * Add n to a shared counter; a no-op without shared memory, so that work
 * allowed without preloading (building the catalogue) still succeeds.
 */
void
ticket_count(TicketCounter counter, uint64 n)
{
	if (ticket_shared != NULL)
		pg_atomic_fetch_add_u64(&ticket_shared->counters[counter], n);
}

PG_FUNCTION_INFO_V1(ticket_in_transaction_block);

/*
 * Is the caller inside BEGIN ... COMMIT (or a multi-statement query)?  The
 * procedures that COMMIT as they go check it first, to explain why they
 * cannot run there.  Inside a subtransaction (a savepoint, or a PL/pgSQL
 * block with EXCEPTION) it answers false: there the procedure's own checks
 * and COMMIT's error speak.
 */
Datum
ticket_in_transaction_block(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(IsTransactionBlock() && !IsSubTransaction());
}

PG_FUNCTION_INFO_V1(ticket_preloaded);

/*
 * Report whether the library was loaded through shared_preload_libraries.
 */
Datum
ticket_preloaded(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(ticket_shared != NULL);
}

PG_FUNCTION_INFO_V1(ticket_require_preloaded);

/*
 * Raise 55000 unless preloaded; lets SQL functions state the requirement.
 */
Datum
ticket_require_preloaded(PG_FUNCTION_ARGS)
{
	ticket_require_preload(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(ticket_bump_counter);

/*
 * Add to a named counter (for the SQL-written catalogue functions).
 */
Datum
ticket_bump_counter(PG_FUNCTION_ARGS)
{
	const char *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int64		n = PG_GETARG_INT64(1);

	if (n < 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("counters only go up"),
				errdetail("The increment was %lld.", (long long) n));

	for (int i = 0; i < TICKET_NUM_COUNTERS; i++)
	{
		if (strcmp(name, ticket_counter_names[i]) == 0)
		{
			ticket_count((TicketCounter) i, (uint64) n);
			PG_RETURN_VOID();
		}
	}
	ereport(ERROR,
			errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			errmsg("unknown counter \"%s\"", name));
}

PG_FUNCTION_INFO_V1(ticket_counters);

/*
 * Return every shared counter as (counter, value, since).
 */
Datum
ticket_counters(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	ticket_require_preload("ticket.counters()");

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < TICKET_NUM_COUNTERS; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = CStringGetTextDatum(ticket_counter_names[i]);
		values[1] = Int64GetDatum((int64) pg_atomic_read_u64(&ticket_shared->counters[i]));
		values[2] = TimestampTzGetDatum(ticket_shared->started_at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(ticket_relation_changed);

/*
 * Statement trigger: when this transaction commits, tell every backend that
 * the table changed, so that what it cached from the table (sale settings in
 * src/hold.c, pass keys in src/pass.c) is read again.
 */
Datum
ticket_relation_changed(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("ticket._relation_changed() must be called as a trigger"));
	CacheInvalidateRelcache(((TriggerData *) fcinfo->context)->tg_relation);
	return PointerGetDatum(NULL);
}
