#!/usr/bin/env bash
# down.sh DIR -- stop the PostgreSQL that up.sh DIR started (and its standby) (fast: -m immediate,
# it is a throw-away) and remove its run directory. Safe to call twice.
set -Eeuo pipefail
[ $# -eq 1 ] && [ -n "$1" ] || { echo "usage: down.sh DIR" >&2; exit 2; }
DIR=$1
[ -f "$DIR/env" ] || exit 0
# shellcheck disable=SC1091
. "$DIR/env"
if [ -n "${PG_STANDBY_DATA:-}" ] && [ -d "$PG_STANDBY_DATA" ]; then
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_STANDBY_DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
fi
if [ -d "$PG_DATA" ]; then
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
fi
case "$PG_RUN" in /tmp/ticketd-pg.*) rm -rf "$PG_RUN" ;; esac
rm -f "$DIR/env" "$DIR/run"
