/* Cases for test/lint --self-test: SQL handed to SPI from C. */
#include "postgres.h"
#include "executor/spi.h"

static void
run(const char *what, const char *sql)
{
	SPI_execute(sql, false, 0);
}

static void
run_literal(void)
{
	SPI_execute("SELECT ticket.maintenance()", false, 0);
	run("maintenance", "SELECT ticket.maintenance()");
	run("reconcile",
		"SELECT ticket._reconcile_report()");
}

static void
run_built(const char *table)
{
	char	   *q = psprintf("DELETE FROM %s", table);	/* expect: dynamic-sql */

	SPI_execute(q, false, 0);	/* expect: dynamic-sql */
	run("built", q);	/* expect: dynamic-sql */
	SPI_exec(psprintf("SELECT %d", 1), 0);	/* expect: dynamic-sql dynamic-sql */
}
