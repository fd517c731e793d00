#!/usr/bin/env bash
# standby.sh DIR -- start a streaming standby of the PostgreSQL that up.sh DIR
# started, on the next port (PG_PORT+1), synchronous: the primary commits only
# once the standby has the WAL (synchronous_standby_names), so a promotion
# loses no committed transaction. For tests of a failover; promote it with
#   runuser -u postgres -- $PG_BIN/pg_ctl -D $PG_STANDBY_DATA promote
# down.sh DIR stops it too. Writes PG_STANDBY_PORT and PG_STANDBY_DATA to DIR/env.
set -Eeuo pipefail
die() { echo "pgstack/standby.sh: $*" >&2; exit 1; }
trap 'die "failed at line $LINENO: $BASH_COMMAND"' ERR
[ $# -eq 1 ] && [ -f "$1/env" ] || { echo "usage: standby.sh DIR (after up.sh DIR)" >&2; exit 2; }
DIR=$(cd "$1" && pwd)
# shellcheck disable=SC1091
. "$DIR/env"
[ -z "${PG_STANDBY_DATA:-}" ] || die "DIR already has a standby ($PG_STANDBY_DATA)"
as_pg() { runuser -u postgres -- "$@"; }
SPORT=$((PG_PORT + 1))
SDATA=$PG_RUN/standby
PASS=$PG_RUN/pgpass
install -m 600 -o postgres /dev/null "$PASS"
printf '127.0.0.1:%s:*:postgres:%s\n' "$PG_PORT" "$(cat "$PG_ADMIN_PASSWORD_FILE")" >"$PASS"
as_pg env PGPASSFILE="$PASS" "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PORT" -U postgres \
  -D "$SDATA" -X stream -R -c fast >"$PG_RUN/basebackup.log" 2>&1 || { cat "$PG_RUN/basebackup.log" >&2; die "pg_basebackup failed"; }
# down.sh stops what env names, even if the rest fails.
printf 'PG_STANDBY_PORT=%s\nPG_STANDBY_DATA=%s\n' "$SPORT" "$SDATA" >>"$DIR/env"
echo "port = $SPORT" >>"$SDATA/postgresql.conf"
# after pg_basebackup -R's own line: the last one counts
echo "primary_conninfo = 'host=127.0.0.1 port=$PG_PORT user=postgres passfile=$PASS application_name=ticketd_standby'" >>"$SDATA/postgresql.auto.conf"
as_pg "$PG_BIN/pg_ctl" -D "$SDATA" -l "$PG_RUN/standby.log" -w -t 60 start >/dev/null ||
  { tail -n 30 "$PG_RUN/standby.log" >&2; die "the standby did not start"; }
as_pg "$PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$PG_PORT" -U postgres -d postgres \
  -c "ALTER SYSTEM SET synchronous_standby_names = 'ticketd_standby'" -c "SELECT pg_reload_conf()" >/dev/null
# Wait until the standby streams synchronously.
for _ in $(seq 1 100); do
  state=$(as_pg "$PG_BIN/psql" -tAX -h "$PG_RUN" -p "$PG_PORT" -U postgres -d postgres \
    -c "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'ticketd_standby'")
  [ "$state" = sync ] && break
  sleep 0.1
done
[ "$state" = sync ] || die "the standby is not synchronous (state: ${state:-none})"
echo "pgstack: synchronous standby on 127.0.0.1:$SPORT"
