/*
 * Cases for test/lint --self-test: the tasks the names rule checks
 * ticket.maintenance of names*.sql against (it reads the worker.c beside a
 * SQL file, else src/worker.c).
 */
typedef struct WorkerTask
{
	const char *name;
	bool		since_0_3;
} WorkerTask;

static const WorkerTask worker_tasks[] = {
	{"expire_holds", false},
	{"purge", false},
	{"admit", true},
};
