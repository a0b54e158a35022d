# ticket: PGXS build, tests and demo.
#
#   make            build the module
#   make install    install it into the PostgreSQL found by $(PG_CONFIG)
#   make test       install missing packages, build, install, and run every test
#                   against throwaway clusters, then fuzz each parser 10 s (test/run)
#   make demo       build, start a throwaway cluster and run the opening-night sale
#                   (bench/demo); sizes: make demo SEATS=50000 USERS=100000 ... (make help)
#   make bench      every benchmark scenario (bench/run), writing bench/RESULTS.md and plots
#   make lint       the security lint of the SQL scripts and C (test/lint)
#   make sqlsmith   random SQL, longer than in make test: SQLSMITH_QUERIES=20000 SQLSMITH_LOOPS=10
#   make fuzz       fuzz every parser of src/parse.c longer: FUZZ_SECONDS=300 per
#                   target (test/fuzz/run; clang, ASan, UBSan; no server)
#   make help       this text and the demo's and the benchmarks' variables
#
# The installcheck-* targets are what test/run calls, as an unprivileged user.

EXTENSION = ticket
EXTVERSION = $(shell sed -n "s/^default_version = '\\(.*\\)'/\\1/p" ticket.control)
MODULE_big = ticket
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# The install script of the current version is built from the SQL beside the
# C, one file per capability, in this order (each may use what an earlier one
# made).  The released scripts (ticket--0.1.sql and the update scripts) are
# frozen: a change to src/*.sql goes with an update script from the last
# release, and test/t/010_upgrade.pl checks that the two give the same objects.
SQL_SOURCES = src/ticket.sql src/parse.sql src/catalogue.sql src/hold.sql src/blocklist.sql \
	src/pass.sql src/queue.sql src/event.sql src/checkout.sql src/payment.sql \
	src/compensation.sql src/buyer.sql src/boxoffice.sql src/worker.sql src/verify.sql src/monitoring.sql src/shard.sql src/privileges.sql
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
DATA = $(filter-out $(DATA_built),$(sort $(wildcard ticket--*.sql)))

# The router of a sharded sale (docs/scaling.md), a second extension with its
# own version (src/router/ticket_router.control): src/router/router.sql by
# hand, then src/router/api.sql,
# written from ticket's catalog by src/router/generate (test/t/017_router.pl
# fails when it is behind).
ROUTER_VERSION = $(shell sed -n "s/^default_version = '\\(.*\\)'/\\1/p" src/router/ticket_router.control)
ROUTER_SCRIPT = ticket_router--$(ROUTER_VERSION).sql
DATA_built += $(ROUTER_SCRIPT)
DATA += src/router/ticket_router.control $(sort $(wildcard src/router/ticket_router--*.sql))

# Tests are picked up by wildcard: adding a file registers it.
REGRESS ?= $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --temp-instance=./tmp_regress --temp-config=test/ticket.conf
ISOLATION ?= $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation --temp-instance=./tmp_isolation \
	--temp-config=test/ticket.conf --temp-config=test/isolation.conf
TAP_TESTS = 1
PROVE_TESTS ?= $(sort $(wildcard test/t/*.pl))
PROVE_FLAGS = -I test/t

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -I$(srcdir)/src
# -Wextra minus the warnings that PostgreSQL's own headers trigger (array.h: sign-compare)
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers \
	-Wno-sign-compare
EXTRA_CLEAN = tmp_regress tmp_isolation output_iso output_bouncer

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_SOURCES) ticket.control
	{ printf '/* %s: built by make from the SQL files in src (Makefile, SQL_SOURCES): edit those */\n' $@; \
	  for f in $(SQL_SOURCES); do printf '\n/* ================================ %s */\n\n' $$f; cat $$f; done; } >$@

$(ROUTER_SCRIPT): src/router/router.sql src/router/api.sql src/router/ticket_router.control
	{ printf '/* %s: built by make from src/router/router.sql and src/router/api.sql: edit those (api.sql: src/router/generate) */\n\n' $@; \
	  printf '\\echo Use "CREATE EXTENSION ticket_router" to load this file. \\quit\n\n'; \
	  cat src/router/router.sql; printf '\n'; cat src/router/api.sql; } >$@

# Every C file includes the shared header; PGXS does not track headers.
$(OBJS): src/ticket.h src/parse.h src/sale.h src/catalog.h src/input.h

# Two programs outside the module (docs/adapter.md): the payment adapter,
# src/adapter/ticket-adapter (libpq, libcurl; installed into pg_config
# --bindir), and the fake payment provider the tests and the demo run,
# test/fake-psp/fake-psp (not installed).
TOOLS = src/adapter/ticket-adapter test/fake-psp/fake-psp
TOOLS_CFLAGS = -O2 -g -std=gnu11 -Wall -Wextra -Werror
EXTRA_CLEAN += $(TOOLS)
all: $(TOOLS)
install: install-adapter
src/adapter/ticket-adapter: src/adapter/ticket_adapter.c
	$(CC) $(TOOLS_CFLAGS) -I$(shell $(PG_CONFIG) --includedir) -o $@ $< \
		-L$(shell $(PG_CONFIG) --libdir) -lpq -lcurl -lm
test/fake-psp/fake-psp: test/fake-psp/fake_psp.c
	$(CC) $(TOOLS_CFLAGS) -o $@ $< -lm
.PHONY: install-adapter
install-adapter: src/adapter/ticket-adapter
	$(MKDIR_P) '$(DESTDIR)$(bindir)'
	$(INSTALL_PROGRAM) src/adapter/ticket-adapter '$(DESTDIR)$(bindir)/ticket-adapter'

.PHONY: test demo bench help lint sqlsmith fuzz installcheck-regress installcheck-isolation installcheck-tap \
	installcheck-bouncer

test:
	bash test/run

demo:
	SEATS=$(SEATS) USERS=$(USERS) RATE=$(RATE) MAX_ACTIVE=$(MAX_ACTIVE) PSP_LATENCY=$(PSP_LATENCY) PSP_SLOWDOWN=$(PSP_SLOWDOWN) BUSY=$(BUSY) BUYERS=$(BUYERS) ABANDON=$(ABANDON) FAIL=$(FAIL) HOLD_TTL=$(HOLD_TTL) TIMEOUT=$(TIMEOUT) OUT=$(OUT) KEEP=$(KEEP) bash bench/demo

bench:
	bash bench/run

lint:
	perl test/lint

SQLSMITH_QUERIES ?= 20000
SQLSMITH_LOOPS ?= 10
sqlsmith:
	bash test/sqlsmith $(SQLSMITH_QUERIES) $(SQLSMITH_LOOPS)

FUZZ_SECONDS ?= 300
fuzz:
	bash test/fuzz/run $(FUZZ_SECONDS)

help:
	@sed -n '3,16p' Makefile | sed 's/^# \{0,1\}//'
	@echo
	@bash bench/demo --help
	@echo
	@bash bench/run --help

installcheck-regress:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)

installcheck-isolation:
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)

installcheck-tap:
	$(prove_installcheck)

# The isolation specs again, through pgbouncer in transaction pooling.
installcheck-bouncer:
	PG_CONFIG=$(PG_CONFIG) bash test/bouncer-isolation $(ISOLATION)
