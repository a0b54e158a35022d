/*
 * test/pooled-isolationtester.c: lets isolationtester run its specs through
 * pgbouncer in transaction pooling (LD_PRELOAD into pg_isolation_regress and
 * the isolationtester it starts; the bouncer suite builds and loads it).
 *
 * isolationtester itself relies on two pieces of session state, which
 * transaction pooling takes away:
 *
 * 1. It tells a step that waits for a lock from a slow one by asking
 *    pg_isolation_test_session_is_blocked(pid, pids) about the backend PIDs
 *    that PQbackendPID reported at connection time.  Through pgbouncer those
 *    are pgbouncer's own made-up numbers, and every transaction of a session
 *    may run in a different backend anyway.  Without this shim a step that
 *    really waits for a lock is never seen as waiting: isolationtester waits
 *    for it to finish, which needs a later step, so it cancels the step
 *    after PGISOLATIONTIMEOUT and the output differs.
 * 2. It asks that question through a named prepared statement
 *    (PQprepare once, PQexecPrepared on every poll) on its control
 *    connection.  pgbouncer 1.18 (Debian 12) does not carry named statements
 *    across server connections, so the poll fails ("prepared statement ...
 *    does not exist") as soon as it lands on another backend.
 *
 * What the shim changes, and only that:
 *
 * - PQbackendPID returns a small number per connection (1, 2, ...) instead
 *   of pgbouncer's made-up PID, so the lock-wait poll can name the session.
 * - isolationtester names each connection's application_name
 *   ".../<session>" with set_config at connection time; pgbouncer replays
 *   application_name on whichever backend serves the session's next
 *   transaction (it is one of the parameters pgbouncer tracks).  The shim
 *   records each connection's name from that set_config's result.
 * - The prepared lock-wait statement is not prepared; each poll runs one
 *   unnamed statement (safe in transaction pooling) that answers the same
 *   question by name: is a backend currently serving this session waiting
 *   for a lock held by a backend currently serving another session of the
 *   test?  Backends that served a session earlier and sit idle in the pool
 *   hold no locks, so they never make a step look blocked.
 *
 * Everything else (every step, every result, the specs and the expected
 * output) goes through libpq untouched.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libpq-fe.h"

#define WAIT_STATEMENT "isolationtester_waiting"
#define MAX_CONNS 64

static struct
{
	const PGconn *conn;
	char	   *appname;		/* NULL until its set_config was seen */
}			conns[MAX_CONNS];
static int	nconns;
static const PGconn *control;	/* where the lock-wait statement was "prepared" */

static void *
real(const char *name)
{
	void	   *f = dlsym(RTLD_NEXT, name);

	if (f == NULL)
	{
		fprintf(stderr, "pooled-isolationtester: no %s in libpq\n", name);
		exit(2);
	}
	return f;
}

static int
conn_index(const PGconn *conn)
{
	for (int i = 0; i < nconns; i++)
		if (conns[i].conn == conn)
			return i;
	if (nconns == MAX_CONNS)
	{
		fprintf(stderr, "pooled-isolationtester: more than %d connections\n", MAX_CONNS);
		exit(2);
	}
	conns[nconns].conn = conn;
	conns[nconns].appname = NULL;
	return nconns++;
}

int
PQbackendPID(const PGconn *conn)
{
	return conn_index(conn) + 1;
}

PGresult *
PQexecParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
			 const char *const *paramValues, const int *paramLengths,
			 const int *paramFormats, int resultFormat)
{
	static PGresult *(*next) (PGconn *, const char *, int, const Oid *, const char *const *,
							  const int *, const int *, int);
	PGresult   *res;

	if (next == NULL)
		next = real("PQexecParams");
	res = next(conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats,
			   resultFormat);
	/* isolationtester's naming of the session: remember the name it set */
	if (strncmp(command, "SELECT set_config('application_name'", 36) == 0 &&
		PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
	{
		int			i = conn_index(conn);

		free(conns[i].appname);
		conns[i].appname = strdup(PQgetvalue(res, 0, 0));
	}
	return res;
}

PGresult *
PQprepare(PGconn *conn, const char *stmtName, const char *query, int nParams,
		  const Oid *paramTypes)
{
	static PGresult *(*next) (PGconn *, const char *, const char *, int, const Oid *);

	if (strcmp(stmtName, WAIT_STATEMENT) == 0)
	{
		control = conn;
		return PQmakeEmptyPGresult(conn, PGRES_COMMAND_OK);
	}
	if (next == NULL)
		next = real("PQprepare");
	return next(conn, stmtName, query, nParams, paramTypes);
}

/* Append s to buf as one element of an array literal: "s" with \ and " escaped. */
static void
append_element(char *buf, size_t size, const char *s)
{
	size_t		n = strlen(buf);

	if (n + 1 < size)
		buf[n++] = '"';
	for (; *s && n + 3 < size; s++)
	{
		if (*s == '"' || *s == '\\')
			buf[n++] = '\\';
		buf[n++] = *s;
	}
	if (n + 1 < size)
		buf[n++] = '"';
	buf[n] = '\0';
}

PGresult *
PQexecPrepared(PGconn *conn, const char *stmtName, int nParams, const char *const *paramValues,
			   const int *paramLengths, const int *paramFormats, int resultFormat)
{
	static PGresult *(*next) (PGconn *, const char *, int, const char *const *, const int *,
							  const int *, int);
	char		sessions[8192] = "{";
	const char *values[2];
	int			asked;

	if (strcmp(stmtName, WAIT_STATEMENT) != 0 || conn != control || nParams != 1)
	{
		if (next == NULL)
			next = real("PQexecPrepared");
		return next(conn, stmtName, nParams, paramValues, paramLengths, paramFormats,
					resultFormat);
	}

	/* $1 is what PQbackendPID returned for the step's connection */
	asked = atoi(paramValues[0]) - 1;
	if (asked < 0 || asked >= nconns || conns[asked].appname == NULL)
	{
		fprintf(stderr, "pooled-isolationtester: lock-wait poll for unknown session %s\n",
				paramValues[0]);
		exit(2);
	}
	for (int i = 0; i < nconns; i++)
	{
		if (conns[i].conn == control || conns[i].appname == NULL)
			continue;
		if (strlen(sessions) > 1)
			strcat(sessions, ",");
		append_element(sessions, sizeof(sessions) - 2, conns[i].appname);
	}
	strcat(sessions, "}");
	values[0] = conns[asked].appname;
	values[1] = sessions;
	return PQexecParams(conn,
						"SELECT EXISTS (SELECT FROM pg_catalog.pg_stat_activity w, pg_catalog.pg_stat_activity b"
						" WHERE w.application_name = $1"
						" AND b.pid = ANY (pg_catalog.pg_blocking_pids(w.pid))"
						" AND b.application_name = ANY ($2::pg_catalog.text[]))",
						2, NULL, values, NULL, NULL, 0);
}
