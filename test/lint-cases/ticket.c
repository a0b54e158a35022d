/*
 * Cases for test/lint --self-test: the counters the names rule checks the
 * ticket._bump_counter() calls of names*.sql against (it reads the
 * ticket.c beside a SQL file, else src/ticket.c).
 */
static const char *const ticket_counter_names[3] = {
	"seats_generated",
	"holds_expired",	/* a "comment" with a string is not a name */
	"queue_admitted",
};
