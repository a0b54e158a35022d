/*
 * worker.c
 *		The background worker: expires holds and admissions, times out
 *		payments, runs compensations, publishes events, purges old keys.
 *
 * One static worker, registered from _PG_init when the library is
 * preloaded, connected to ticket.database.  Every interval it runs one batch
 * of each task of ticket.maintenance() (ticket--0.1.sql), each in its own
 * transaction, and goes round again at once while a task filled its batch.
 * It sleeps until the next interval or the next hold, payment or admission
 * deadline, whichever is sooner, and a latch set wakes it earlier.
 *
 * Correctness never depends on it: an expired hold is free to buyers in the
 * same snapshot, a payment past its deadline leaves its seats free.  The
 * worker tidies up (seat rows, states, compensations) and numbers events.
 *
 * Failure handling: an error in a task is logged, counted (worker_errors)
 * and rolled back, and the next task runs; the worker never exits on one.
 * SIGTERM ends it (die); exit code 1 makes the postmaster start it again
 * after bgw_restart_time, without touching the rest of the cluster.  Until
 * the database exists the connection fails and the postmaster retries; until
 * the extension exists in it, the worker idles.  On start it logs what was in
 * flight (reconciliation) and works through it before it first sleeps.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "ticket.h"

PGDLLEXPORT void ticket_worker_main(Datum main_arg);

static char *ticket_database = NULL;
static bool ticket_worker_enabled = true;
static int	ticket_worker_interval = 1000;	/* ms */
static int	ticket_worker_batch = 1000;
static int	ticket_payment_retry_base = 1000;	/* ms */
static int	ticket_payment_retry_max = 60000;	/* ms */
static double ticket_payment_lifo_at = 0.75;
static int	ticket_idempotency_ttl = 86400; /* s */

/*
 * The tasks of ticket.maintenance(), in the order one round runs them, and
 * whether the task came with 0.3 (run only once the extension is 0.3 or
 * later: the library may be newer than the installed SQL).
 */
typedef struct WorkerTask
{
	const char *name;
	bool		since_0_3;
	bool		signal;			/* a notification, not work: never asks for another round */
} WorkerTask;

static const WorkerTask worker_tasks[] = {
	{"admit", true, false},
	{"expire_holds", false, false},
	{"expire_admissions", false, false},
	{"timeout_payments", false, false},
	{"compensate", false, false},
	{"notify_payments", true, true},
	{"publish_events", false, false},
	{"purge", false, false},
};

/*
 * Define the worker's settings and those the SQL functions read; called in
 * every backend that loads the library.
 */
void
ticket_worker_define_gucs(void)
{
	if (process_shared_preload_libraries_in_progress)
		DefineCustomStringVariable("ticket.database",
								   "Database the ticket worker connects to (where CREATE EXTENSION ticket was run).",
								   NULL, &ticket_database, "postgres",
								   PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("ticket.worker",
							 "Whether the ticket worker expires holds, times out payments, compensates and publishes events.",
							 "When off the worker idles; ticket.maintenance() does the same work by hand.",
							 &ticket_worker_enabled, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("ticket.worker_interval",
							"Longest time the ticket worker sleeps between rounds.",
							NULL, &ticket_worker_interval, 1000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("ticket.worker_batch_size",
							"Most items one task of the ticket worker handles in one transaction.",
							NULL, &ticket_worker_batch, 1000, 1, 100000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("ticket.payment_retry_base",
							"Delay before the first retry of a failed payment; each further retry doubles it (half of it random).",
							NULL, &ticket_payment_retry_base, 1000, 1, 3600 * 1000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("ticket.payment_retry_max",
							"Longest delay between two attempts at a payment.",
							NULL, &ticket_payment_retry_max, 60000, 1, 24 * 3600 * 1000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomRealVariable("ticket.payment_lifo_at",
							 "Share of its time (checkout to pay_by, less the lease) the oldest due charge may use before ticket.claim_payments serves the freshest first (adaptive LIFO).",
							 "0 serves the freshest first always, 1 never.",
							 &ticket_payment_lifo_at, 0.75, 0.0, 1.0,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("ticket.idempotency_ttl",
							"How long checkout idempotency keys are kept before the worker purges them.",
							NULL, &ticket_idempotency_ttl, 86400, 86400, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
}

/*
 * Register the static worker (from _PG_init, while preloading).
 */
void
ticket_worker_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "ticket");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "ticket_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "ticket worker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "ticket worker");
	RegisterBackgroundWorker(&worker);
}

/*
 * Run one SQL statement that returns one bigint (or nothing: -1) in a
 * transaction of its own.  An error is logged and rolled back; *failed says
 * so.  Without the extension in the database nothing is run (-2).
 */
static int64
run_in_transaction(const char *activity, const char *sql, int nargs, Oid *types, Datum *args,
				   bool *failed)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile int64 result = -1;

	*failed = false;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		if (!OidIsValid(get_extension_oid("ticket", true)))
			result = -2;
		else
		{
			pgstat_report_activity(STATE_RUNNING, activity);
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			if (SPI_execute_with_args(sql, nargs, types, args, NULL, false, 1) != SPI_OK_SELECT)
				elog(ERROR, "ticket worker: \"%s\" did not run", sql);
			if (SPI_processed == 1)
			{
				bool		isnull;
				Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

				if (!isnull)
					result = DatumGetInt64(d);
			}
			SPI_finish();
		}
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		/* Log it, roll back, carry on: one bad batch must not stop the rest. */
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		ticket_count(TICKET_COUNTER_WORKER_ERRORS, 1);
		*failed = true;
		result = -1;
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	/*
	 * Commit and abort leave TopMemoryContext current: go back to the
	 * round's context, or what the next task allocates is never freed.
	 */
	MemoryContextSwitchTo(cxt);
	return result;
}

/*
 * Interrupts between tasks.  A cancel (pg_cancel_backend) is for the task
 * that runs; arriving between two, it would raise an error outside any
 * transaction, which ends the worker: let it go, the next task runs.
 */
static void
check_for_interrupts(void)
{
	if (QueryCancelPending)
	{
		QueryCancelPending = false;
		elog(LOG, "ticket worker: cancel request between tasks ignored (it cancels the task that runs)");
	}
	CHECK_FOR_INTERRUPTS();
}

/*
 * One round: a batch of every task.  Returns true when a task filled its
 * batch (go round again at once), and sets *present to whether the
 * extension exists.
 */
static bool
run_round(bool *present)
{
	bool		more = false;

	*present = true;
	for (int i = 0; i < lengthof(worker_tasks); i++)
	{
		Oid			types[2] = {TEXTOID, INT4OID};
		Datum		args[2];
		bool		failed;
		int64		n;

		check_for_interrupts();
		args[0] = CStringGetTextDatum(worker_tasks[i].name);
		args[1] = Int32GetDatum(ticket_worker_batch);
		if (worker_tasks[i].since_0_3)
			n = run_in_transaction(worker_tasks[i].name,
								   "SELECT ticket.maintenance($1, $2)::bigint FROM pg_catalog.pg_extension AS x"
								   " WHERE x.extname OPERATOR(pg_catalog.=) 'ticket'"
								   " AND pg_catalog.string_to_array(x.extversion, '.')::pg_catalog.int4[]"
								   " OPERATOR(pg_catalog.>=) '{0,3}'::pg_catalog.int4[]",
								   2, types, args, &failed);
		else
			n = run_in_transaction(worker_tasks[i].name, "SELECT ticket.maintenance($1, $2)::bigint",
								   2, types, args, &failed);
		if (n == -2)
		{
			*present = false;
			return false;
		}
		if (n >= ticket_worker_batch && !worker_tasks[i].signal)
			more = true;
	}
	return more;
}

/*
 * Milliseconds until the next deadline (hold, payment, admission), at most
 * the interval.
 */
static long
time_to_next_due(void)
{
	bool		failed;
	int64		ms = run_in_transaction("next deadline",
										"SELECT ceil(extract(epoch FROM ticket._next_due() - clock_timestamp()) * 1000)::bigint",
										0, NULL, NULL, &failed);

	if (failed || ms < 0 || ms > ticket_worker_interval)
		return ticket_worker_interval;
	/* a few ms past the deadline, so that what is due is due */
	return (long) ms + 5;
}

/*
 * Log what a restart left in flight; the rounds that follow finish it.
 */
static void
reconcile(void)
{
	bool		failed;

	(void) run_in_transaction("reconcile",
							  "SELECT ticket._reconcile_report()",
							  0, NULL, NULL, &failed);
}

/*
 * Entry point of the worker.
 */
void
ticket_worker_main(Datum main_arg)
{
	MemoryContext round_cxt;
	bool		reconciled = false;
	bool		said_missing = false;	/* logged that ticket.database lacks the extension */

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(ticket_database, NULL, 0);

	/*
	 * The worker runs as the bootstrap superuser.  Its statements name
	 * built-ins without a schema (ceil, clock_timestamp, operators), so the
	 * database's or a role's search_path must not let anyone's schema offer
	 * a closer match: pin it, above any ALTER DATABASE ... SET.
	 */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	/* publish_events numbers the holds' events only under READ COMMITTED (src/event.sql). */
	SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);
	pgstat_report_appname("ticket worker");
	round_cxt = AllocSetContextCreate(TopMemoryContext, "ticket worker round", ALLOCSET_DEFAULT_SIZES);
	elog(LOG, "ticket worker started in database \"%s\"", ticket_database);

	for (;;)
	{
		long		sleep_ms = ticket_worker_interval;
		bool		more = false;

		check_for_interrupts();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (ticket_worker_enabled)
		{
			MemoryContext old = MemoryContextSwitchTo(round_cxt);
			bool		present;

			if (!reconciled)
			{
				reconcile();
				reconciled = true;
			}
			more = run_round(&present);
			if (!present && !said_missing)
				elog(LOG, "ticket worker: extension \"ticket\" is not installed in database \"%s\" (ticket.database); "
					 "nothing to do until it is", ticket_database);
			else if (present && said_missing)
				elog(LOG, "ticket worker: extension \"ticket\" found in database \"%s\"", ticket_database);
			said_missing = !present;
			if (!present)
				reconciled = false;	/* report again once it is created */
			else if (!more)
				sleep_ms = time_to_next_due();
			MemoryContextSwitchTo(old);
			MemoryContextReset(round_cxt);
		}

		if (!more)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 sleep_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
}
