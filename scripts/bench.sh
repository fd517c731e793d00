#!/usr/bin/env bash
# scripts/bench.sh -- ticketd's benchmark (issue 7) against a real Dovecot + Postfix:
#
#   sudo scripts/bench.sh [flags]      e.g.  sudo scripts/bench.sh -mails 200 -runs 1
#
# Installs Dovecot + Postfix if missing (scripts/mailstack/up.sh --install-only),
# then runs go run ./cmd/ticketd-bench "$@", which starts its own throw-away mail
# stack on 127.0.0.1 (port base 30000), prints a Markdown table on stdout and its
# progress on stderr, and stops the stack on exit and on Ctrl-C. A benchmark, not
# a test: it fails only when it cannot measure, never on a figure.
# Flags: go run ./cmd/ticketd-bench -h. Needs root: Postfix does, and so does apt-get.
set -Eeuo pipefail
trap 'echo "scripts/bench.sh: FAILED (line $LINENO: $BASH_COMMAND)" >&2' ERR

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/bench.sh: must run as root: the benchmark starts Postfix and Dovecot" >&2
  echo "(and installs them with apt-get if missing). Run:  sudo scripts/bench.sh" >&2
  exit 1
fi
# sudo's secure_path usually lacks Go's default install location
command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "scripts/bench.sh: go not found (looked in PATH and /usr/local/go/bin)" >&2; exit 1; }

bash scripts/mailstack/up.sh --install-only
case " $* " in
  *" -stores "*|*" --stores "*|*" -stores=true "*) bash scripts/pgstack/up.sh --install-only ;;  # the store comparison's PostgreSQL
esac
trap - ERR
exec go run ./cmd/ticketd-bench "$@"
