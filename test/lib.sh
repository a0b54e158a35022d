# test/lib.sh: shell helpers shared by test/run, bench/demo and bench/run.
#
# Source it; it defines functions and changes nothing by itself.  The
# throwaway clusters it starts run as an unprivileged OS user (the server
# refuses root), listen on no TCP address and keep their socket in their own
# directory, so they never meet another server on the machine.

TICKET_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=15
# PG_CONFIG may name a relocated copy of the server (cp -a of
# /usr/lib/postgresql/15 and /usr/share/postgresql/15 under one prefix): the
# extension is then built, installed and tested there, beside the system's.
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
export PG_CONFIG
PG_BIN=$("$PG_CONFIG" --bindir 2>/dev/null || echo /usr/lib/postgresql/$PG_MAJOR/bin)

ticket_say() { printf '== %s\n' "$*"; }
ticket_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ticket_packages PKG...: install the Debian packages that are missing.
ticket_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || ticket_die "missing packages: ${missing[*]} (run as root, or install them with apt-get)"
	ticket_say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || ticket_die "apt-get update failed"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		ticket_die "apt-get install ${missing[*]} failed"
}

# The packages every command needs: server, headers, pg_cron, a compiler.
TICKET_BASE_PACKAGES=(postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-$PG_MAJOR-cron
	make gcc libc6-dev libpq-dev libcurl4-openssl-dev)

# ticket_build_install: build with warnings as errors and install the extension.
ticket_build_install() {
	ticket_say "building and installing ticket"
	make -C "$TICKET_ROOT" -s PG_CONFIG="$PG_CONFIG" >/dev/null || ticket_die "build failed"
	if ! make -C "$TICKET_ROOT" -s PG_CONFIG="$PG_CONFIG" install >/dev/null; then
		ticket_die "make install failed (it writes into $($PG_CONFIG --pkglibdir): run as root)"
	fi
}

# ticket_runas USER CMD...: run a command as USER (as is, when not root).
ticket_runas() {
	local user=$1
	shift
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$user" -- "$@"
	else
		"$@"
	fi
}

# The unprivileged OS user that owns throwaway clusters: postgres when root.
if [ "$(id -u)" -eq 0 ]; then TICKET_OS_USER=postgres; else TICKET_OS_USER=$(id -un); fi

# ticket_cluster_start DIR [CONF_LINES]: initdb and start a cluster in DIR with
# the extension and pg_cron preloaded, its socket in DIR.  Sets PGHOST, PGPORT,
# PGUSER, PGDATABASE for psql and pgbench.
ticket_cluster_start() {
	local dir=$1 extra=${2:-}
	mkdir -p "$dir"
	[ "$(id -u)" -eq 0 ] && chown "$TICKET_OS_USER" "$dir"
	ticket_runas "$TICKET_OS_USER" "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
		--locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; ticket_die "initdb failed"; }
	ticket_runas "$TICKET_OS_USER" tee -a "$dir/data/postgresql.conf" >/dev/null <<CONF
# throwaway cluster of ticket
listen_addresses = ''
unix_socket_directories = '$dir'
port = 5432
shared_preload_libraries = 'ticket, pg_cron'
cron.database_name = 'postgres'
$extra
CONF
	ticket_cluster_up "$dir"
	export PGHOST=$dir PGPORT=5432 PGUSER=postgres PGDATABASE=postgres
}

# ticket_cluster_up DIR / ticket_cluster_down DIR: start / stop (fast) the
# cluster that ticket_cluster_start made in DIR, keeping its data.
ticket_cluster_up() {
	ticket_runas "$TICKET_OS_USER" "$PG_BIN/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 60 start \
		>/dev/null || { tail -n 30 "$1/server.log"; ticket_die "the server did not start"; }
}
ticket_cluster_down() {
	ticket_runas "$TICKET_OS_USER" "$PG_BIN/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null 2>&1
}

# ticket_cluster_stop DIR: stop the cluster in DIR and remove DIR.
ticket_cluster_stop() {
	local dir=$1
	[ -d "$dir/data" ] && ticket_cluster_down "$dir"
	rm -rf "$dir"
}
