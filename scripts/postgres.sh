#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL server for the tests.
#
# Usage:
#   scripts/postgres.sh start   # prints the DSN on stdout (and nothing else)
#   scripts/postgres.sh stop
#   scripts/postgres.sh install # only install Debian's postgresql if missing
#
# start: when VERIFYKIT_TEST_POSTGRES is already set, prints it and does
# nothing else. Otherwise it installs Debian's postgresql package if initdb is
# missing (root only), creates a fresh data dir under ${TMPDIR:-/tmp}, runs
# initdb and the server on 127.0.0.1:${VERIFYKIT_PG_PORT:-55432} (socket in the
# data dir), creates the database verifykit_test, writes the DSN to tmp/pg.dsn
# and prints it. If a server this script started is still running, it prints
# that server's DSN instead of starting a second one.
#
# stop: stops the server this script started (pg_ctl stop -m fast) and removes
# its data dir. Stopping when nothing runs is not an error.
#
# PostgreSQL refuses to run as root, so under root (as in CI) every server
# command runs as the unprivileged postgres user.
#
# Progress goes to stderr, so `dsn=$(scripts/postgres.sh start)` gets the DSN.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state_dir=$root/tmp
state=$state_dir/pg.state
dsn_file=$state_dir/pg.dsn
db=verifykit_test

log() { echo "postgres.sh: $*" >&2; }
die() {
	log "$*"
	exit 1
}

# as_pg runs a command as the postgres user when we are root.
as_pg() {
	if [[ $EUID -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# find_bin prints the bin dir of the newest PostgreSQL major version that has
# initdb.
find_bin() {
	local initdb
	initdb=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
	[[ -x $initdb ]] || return 1
	dirname "$initdb"
}

ensure_installed() {
	if pgbin=$(find_bin); then
		return
	fi
	[[ $EUID -eq 0 ]] || die "PostgreSQL is not installed; run as root or: sudo apt-get install -y postgresql"
	log "installing PostgreSQL from Debian's packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >&2
	apt-get install -y -q --no-install-recommends postgresql >&2
	pgbin=$(find_bin) || die "initdb still missing after installing postgresql"
}

# read_state sets datadir and port from the state file.
read_state() {
	datadir='' port=''
	[[ -f $state ]] || return 1
	# shellcheck disable=SC1090
	source "$state"
	[[ -n $datadir && -n $port ]]
}

running() {
	[[ -d $datadir/data ]] && as_pg "$pgbin/pg_ctl" -D "$datadir/data" status >/dev/null 2>&1
}

cleanup_dir() {
	# Only ever remove a dir this script made.
	case $datadir in
	*/verifykit-pg.*) rm -rf -- "$datadir" ;;
	esac
}

start() {
	if [[ -n ${VERIFYKIT_TEST_POSTGRES:-} ]]; then
		log "VERIFYKIT_TEST_POSTGRES is set; using that server"
		echo "$VERIFYKIT_TEST_POSTGRES"
		return
	fi
	ensure_installed
	mkdir -p "$state_dir"

	if read_state; then
		if running && [[ -s $dsn_file ]]; then
			log "already running (data dir $datadir)"
			cat "$dsn_file"
			return
		fi
		log "removing stale state from an earlier run"
		cleanup_dir
		rm -f "$state" "$dsn_file"
	fi

	port=${VERIFYKIT_PG_PORT:-55432}
	local parent=${TMPDIR:-/tmp}
	datadir=$(mktemp -d "$parent/verifykit-pg.XXXXXX")
	if [[ $EUID -eq 0 ]]; then
		chown postgres:postgres "$datadir"
		if ! runuser -u postgres -- test -w "$datadir"; then
			# The postgres user cannot reach $TMPDIR (say, under /root).
			rm -rf -- "$datadir"
			datadir=$(mktemp -d /tmp/verifykit-pg.XXXXXX)
			chown postgres:postgres "$datadir"
		fi
	fi
	chmod 700 "$datadir"
	printf 'datadir=%q\nport=%q\n' "$datadir" "$port" >"$state"

	log "initdb in $datadir/data ($pgbin)"
	if ! as_pg "$pgbin/initdb" -D "$datadir/data" -U postgres --auth=trust \
		--encoding=UTF8 --no-locale --no-sync >"$datadir/initdb.log" 2>&1; then
		cat "$datadir/initdb.log" >&2
		cleanup_dir
		rm -f "$state"
		die "initdb failed"
	fi

	# A throwaway test server: durability settings off for speed.
	local opts="-c listen_addresses=127.0.0.1 -p $port -k $datadir"
	opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	log "starting on 127.0.0.1:$port"
	if ! as_pg "$pgbin/pg_ctl" -D "$datadir/data" -l "$datadir/server.log" \
		-o "$opts" -w -t 60 start >&2; then
		cat "$datadir/server.log" >&2 || true
		cleanup_dir
		rm -f "$state"
		die "pg_ctl start failed (is port $port in use? set VERIFYKIT_PG_PORT)"
	fi

	as_pg "$pgbin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$db"

	local dsn="postgres://postgres@127.0.0.1:$port/$db?sslmode=disable"
	echo "$dsn" >"$dsn_file"
	log "ready: $dsn (stop with scripts/postgres.sh stop)"
	echo "$dsn"
}

stop() {
	if ! read_state; then
		log "not running (no $state)"
		return
	fi
	pgbin=$(find_bin) || die "PostgreSQL binaries not found"
	if running; then
		log "stopping (data dir $datadir)"
		as_pg "$pgbin/pg_ctl" -D "$datadir/data" -m fast -w stop >&2
	fi
	cleanup_dir
	rm -f "$state" "$dsn_file"
	log "stopped"
}

case ${1:-} in
start) start ;;
stop) stop ;;
install)
	ensure_installed
	log "PostgreSQL binaries in $pgbin"
	;;
*)
	echo "usage: $0 start|stop|install" >&2
	exit 2
	;;
esac
