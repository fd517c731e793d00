#!/usr/bin/env bash
# up.sh DIR -- start a throw-away PostgreSQL (Debian's postgresql, 15 or newer)
# on 127.0.0.1 for tests, as the postgres user (the server refuses to run as
# root). Password (SCRAM-SHA-256) authentication over TCP; a role and a
# database for ticketd, owned by it.
# up.sh --install-only -- only install the Debian package (if missing) and exit 0.
#
# Used by scripts/test.sh (--install-only) and by the Go harness in e2e/pg.go.
# Needs root (to install and to become postgres). Touches nothing outside DIR
# and its run directory /tmp/ticketd-pg.XXXXXX (the cluster, its socket and
# log; DIR/run points there) except installing the package, with a temporary
# /usr/sbin/policy-rc.d so that Debian's own cluster is never started.
# Idempotent: if DIR's cluster is running it only prints its info.
# Stop with: down.sh DIR
#
# Environment (all optional):
#   PGSTACK_PORT_BASE=10000   the port is BASE+432 (PGSTACK_PORT overrides it)
#   PGSTACK_DB=ticketd  PGSTACK_USER=ticketd
#   PGSTACK_NO_INSTALL=1      fail instead of running apt-get
# Output: a summary on stdout, and DIR/env (KEY=VALUE lines, shell-sourceable):
#   PG_HOST PG_PORT PG_DB PG_USER PG_PASSWORD_FILE PG_DSN (password not in it)
#   PG_ADMIN_USER PG_ADMIN_PASSWORD_FILE PG_BIN PG_DATA PG_RUN
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PATH="${PATH:-/usr/bin:/bin}:/usr/local/sbin:/usr/sbin:/sbin"
MADE_POLICY=''
die() { echo "pgstack/up.sh: $*" >&2; exit 1; }
on_exit() { if [ -n "$MADE_POLICY" ]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap on_exit EXIT
trap 'die "failed at line $LINENO: $BASH_COMMAND"' ERR
[ $# -eq 1 ] && [ -n "$1" ] || { echo "usage: up.sh DIR | up.sh --install-only" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "must run as root (it installs the package and runs the server as postgres); try: sudo $0 $*"

# ---------------------------------------------------------------- package
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
install_package() {
  [ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ] && id postgres >/dev/null 2>&1 && return 0
  [ -z "${PGSTACK_NO_INSTALL:-}" ] || die "PostgreSQL is not installed (PGSTACK_NO_INSTALL is set)"
  command -v apt-get >/dev/null || die "PostgreSQL is not installed, and there is no apt-get to install it"
  local lockdir=/run/lock
  [ -d "$lockdir" ] && [ -w "$lockdir" ] || lockdir=/tmp
  exec 9>>"$lockdir/ticketd-pgstack-install.lock"
  flock -w 1200 9 || die "timed out waiting for another install"
  if [ -z "$(pg_bin)" ]; then
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\n# made by ticketd scripts/pgstack/up.sh\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod 755 /usr/sbin/policy-rc.d
      MADE_POLICY=1
    fi
    echo "pgstack: installing postgresql (apt-get)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get -qq -o Acquire::Retries=3 -o DPkg::Lock::Timeout=600 update
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold postgresql </dev/null >&2
  fi
  exec 9>&-
  [ -x "$(pg_bin)/initdb" ] || die "postgresql installed, but no initdb under /usr/lib/postgresql/*/bin"
}
install_package
[ "$1" = --install-only ] && exit 0

BIN=$(pg_bin)
VERSION=$("$BIN/postgres" --version | sed -E 's/[^0-9]*([0-9]+).*/\1/')
[ "$VERSION" -ge 15 ] || die "PostgreSQL $VERSION found, 15 or newer needed"
BASE=${PGSTACK_PORT_BASE:-10000}
[[ $BASE =~ ^[0-9]+$ ]] && [ "$BASE" -le 64000 ] || die "bad PGSTACK_PORT_BASE: $BASE"
PORT=${PGSTACK_PORT:-$((BASE + 432))}
[[ $PORT =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || die "bad port: $PORT"
DB=${PGSTACK_DB:-ticketd}
USER_=${PGSTACK_USER:-ticketd}
[[ $DB =~ ^[a-z_][a-z0-9_]*$ ]] && [[ $USER_ =~ ^[a-z_][a-z0-9_]*$ ]] || die "PGSTACK_DB and PGSTACK_USER must be lower-case SQL names"

mkdir -p "$1"
DIR=$(cd "$1" && pwd)
as_pg() { runuser -u postgres -- "$@"; }
if [ -f "$DIR/env" ]; then
  # shellcheck disable=SC1091
  . "$DIR/env"
  if as_pg "$BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    echo "pgstack: already running on $PG_HOST:$PG_PORT (data $PG_DATA)"
    exit 0
  fi
fi

# The cluster lives where the postgres user can reach it (a test's TempDir
# is under a 0700 directory).
RUN=$(mktemp -d /tmp/ticketd-pg.XXXXXX)
chmod 700 "$RUN"
chown postgres:postgres "$RUN"
ln -sfn "$RUN" "$DIR/run"
secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
ADMIN_PW=$(secret)
USER_PW=$(secret)
install -m 600 -o postgres /dev/null "$RUN/admin-password"
printf '%s\n' "$ADMIN_PW" >"$RUN/admin-password"
printf '%s\n' "$ADMIN_PW" >"$DIR/admin-password"
printf '%s\n' "$USER_PW" >"$DIR/password"
chmod 600 "$DIR/admin-password" "$DIR/password"

as_pg "$BIN/initdb" -D "$RUN/data" -U postgres --pwfile="$RUN/admin-password" -A scram-sha-256 \
  -E UTF8 --locale=C.UTF-8 >"$RUN/initdb.log" 2>&1 || { cat "$RUN/initdb.log" >&2; die "initdb failed"; }
rm -f "$RUN/admin-password"
cat >>"$RUN/data/postgresql.conf" <<CONF
# ticketd scripts/pgstack/up.sh
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$RUN'
max_connections = 200
shared_buffers = 64MB
wal_level = replica
max_wal_senders = 4
logging_collector = off
CONF
# TCP from 127.0.0.1 only, with SCRAM; replication too (for a standby).
cat >"$RUN/data/pg_hba.conf" <<HBA
local   all          postgres                 peer
host    all          all         127.0.0.1/32 scram-sha-256
host    replication  all         127.0.0.1/32 scram-sha-256
HBA
as_pg "$BIN/pg_ctl" -D "$RUN/data" -l "$RUN/postgres.log" -w -t 60 start >/dev/null ||
  { tail -n 30 "$RUN/postgres.log" >&2; die "the server did not start"; }
as_pg "$BIN/psql" -q -X -v ON_ERROR_STOP=1 -h "$RUN" -p "$PORT" -U postgres -d postgres \
  -c "CREATE ROLE $USER_ LOGIN PASSWORD '$USER_PW'" -c "CREATE DATABASE $DB OWNER $USER_" >/dev/null

cat >"$DIR/env" <<ENV
PG_HOST=127.0.0.1
PG_PORT=$PORT
PG_DB=$DB
PG_USER=$USER_
PG_PASSWORD_FILE=$DIR/password
PG_DSN=postgres://$USER_@127.0.0.1:$PORT/$DB?sslmode=disable
PG_ADMIN_USER=postgres
PG_ADMIN_PASSWORD_FILE=$DIR/admin-password
PG_BIN=$BIN
PG_DATA=$RUN/data
PG_RUN=$RUN
ENV
echo "pgstack: PostgreSQL $VERSION on 127.0.0.1:$PORT, database $DB owned by $USER_ (password in $DIR/password); stop with $HERE/down.sh $DIR"
