#!/usr/bin/env bash
# down.sh [--keep] DIR -- stop the mail stack that `up.sh DIR` started, then
# remove DIR (and its /tmp/mailstack.* data dir, if any). --keep: stop only.
# (ticketd's copy of the shared mailstack reference; see up.sh.)
#
# Only this stack's processes are signalled, by pid: the Dovecot and Postfix
# master pids recorded under DIR (each checked to still run the expected
# binary), then the members of their sessions (both masters call setsid(),
# so each child of theirs has session id == its master's pid).
# SIGTERM first; whatever is left after MAILSTACK_STOP_TIMEOUT_MS (default 500)
# gets SIGKILL. (A graceful exit takes Dovecot 1-3 s and Postfix ~1 s, which
# buys nothing for a throw-away stack.)
# Idempotent: a missing DIR is fine; a DIR without up.sh's marker is refused.
# shellcheck disable=SC2015 # 'test && test || die' is used on purpose
set -Euo pipefail

KEEP=
[ "${1:-}" = --keep ] && { KEEP=1; shift; }
[ $# -ge 1 ] && [ -n "$1" ] || { echo "usage: down.sh [--keep] DIR" >&2; exit 2; }
[ -d "$1" ] || exit 0
DIR=$(cd "$1" && pwd -P)
[ -e "$DIR/.mailstack" ] || { echo "down.sh: $DIR has no .mailstack marker (not made by up.sh); not touching it" >&2; exit 1; }
TIMEOUT_MS=${MAILSTACK_STOP_TIMEOUT_MS:-500}

VAR=$DIR/var
[ -L "$VAR" ] && VAR=$(readlink "$VAR")

pidof_file() { [ -r "$1" ] && tr -dc 0-9 <"$1" || true; }
alive() { [ -n "${1:-}" ] && [ -d "/proc/$1" ] && [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$2" ]; }
session_members() {   # live (non-zombie) pids whose session id is one of "$@"
  local p line f s
  for p in /proc/[0-9]*; do
    { read -r line <"$p/stat"; } 2>/dev/null || continue   # process may vanish
    read -r -a f <<<"${line##*) }"                          # state ppid pgrp session ...
    [ "${f[0]}" = Z ] && continue
    for s in "$@"; do [ "${f[3]}" = "$s" ] && { echo "${p#/proc/}"; break; }; done
  done
}

masters=()
pid=$(pidof_file "$VAR/spool/pid/master.pid"); alive "$pid" /usr/lib/postfix/sbin/master && masters+=("$pid")
pid=$(pidof_file "$VAR/run/master.pid");       alive "$pid" "$(readlink -f /usr/sbin/dovecot)" && masters+=("$pid")

if [ ${#masters[@]} -gt 0 ]; then
  kill -TERM "${masters[@]}" 2>/dev/null || true
  end=$(( ${EPOCHREALTIME/./} + TIMEOUT_MS * 1000 ))
  while left=$(session_members "${masters[@]}"); [ -n "$left" ]; do
    if [ "${EPOCHREALTIME/./}" -ge "$end" ]; then
      # shellcheck disable=SC2086 # $left is a list of pids
      kill -KILL $left 2>/dev/null || true
      sleep 0.05
      left=$(session_members "${masters[@]}")
      [ -z "$left" ] || echo "down.sh: warning: still running after SIGKILL: $left" >&2
      break
    fi
    sleep 0.05
  done
fi

[ -n "$KEEP" ] && exit 0
if [ -L "$DIR/var" ] && [[ $VAR == /tmp/mailstack.* ]]; then rm -rf -- "$VAR"; fi
rm -rf -- "$DIR"
