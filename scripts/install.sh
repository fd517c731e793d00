#!/usr/bin/env bash
# Install ticketd as a system service:
#   - builds the binary and installs it as /usr/local/bin/ticketd;
#   - creates the system user ticketd;
#   - /etc/ticketd (0750, root:ticketd) with config.yaml from
#     config.example.yaml and the empty secret files it names
#     (imap-password, smtp-password; 0640 root:ticketd, never overwritten)
#     and a new database key, db-key (0400 ticketd; privacy.key_file);
#   - /var/lib/ticketd (0700, ticketd);
#   - the systemd unit, enabled but not started (the config needs your
#     values first);
# and prints the next steps.
#
#   sudo bash scripts/install.sh              install
#   sudo bash scripts/install.sh --uninstall  remove the binary, the unit and
#                                             the user; keeps /etc/ticketd and
#                                             /var/lib/ticketd (your data)
#
# DESTDIR=/some/root installs into that tree instead, without creating the
# user, changing owners or calling systemctl (for packaging and tests);
# TICKETD_BIN=/path/to/ticketd installs that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."

root=${DESTDIR:-}
bin=$root/usr/local/bin/ticketd
etc=$root/etc/ticketd
state=$root/var/lib/ticketd
unit=$root/etc/systemd/system/ticketd.service
real=true
[ -n "$root" ] && real=false

if [ "${1:-}" = "--uninstall" ]; then
  if $real; then
    systemctl disable --now ticketd 2>/dev/null || true
  fi
  rm -f "$bin" "$unit"
  if $real; then
    systemctl daemon-reload 2>/dev/null || true
    userdel ticketd 2>/dev/null || true
  fi
  echo "install.sh: ticketd removed; $etc and $state are kept (remove them to delete the configuration and the tickets)"
  exit 0
fi

if $real && [ "$(id -u)" != 0 ]; then
  echo "install.sh: run as root (sudo bash scripts/install.sh), or set DESTDIR" >&2
  exit 1
fi

built=${TICKETD_BIN:-}
if [ -z "$built" ]; then
  echo "install.sh: building"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  go build -trimpath -o "$tmp/ticketd" ./cmd/ticketd
  built=$tmp/ticketd
fi

install -d "$(dirname "$bin")" "$(dirname "$unit")"
install -m 0755 "$built" "$bin"

if $real && ! id ticketd >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/ticketd --no-create-home --shell /usr/sbin/nologin ticketd
fi
owner() { # owner USER:GROUP PATH...
  if $real; then chown "$@"; fi
}

install -d -m 0750 "$etc"
owner root:ticketd "$etc"
if [ ! -e "$etc/config.yaml" ]; then
  install -m 0640 config.example.yaml "$etc/config.yaml"
  owner root:ticketd "$etc/config.yaml"
  created_config=true
else
  created_config=false
fi
# The secret files the example names, empty, for the operator to fill.
for f in imap-password smtp-password; do
  if [ ! -e "$etc/$f" ]; then
    install -m 0640 /dev/null "$etc/$f"
    owner root:ticketd "$etc/$f"
  fi
done

# The database key (privacy.key_file in the example), made once, never
# overwritten: 32 random bytes, readable by ticketd only.
if [ ! -e "$etc/db-key" ]; then
  "$built" privacy keygen "$etc/db-key" >/dev/null
  owner ticketd:ticketd "$etc/db-key"
fi

install -d -m 0700 "$state"
owner ticketd:ticketd "$state"

install -m 0644 scripts/ticketd.service "$unit"
if $real; then
  systemctl daemon-reload 2>/dev/null || true
  systemctl enable ticketd 2>/dev/null || echo "install.sh: systemctl enable failed (no systemd?); enable the unit yourself"
fi

echo "install.sh: installed $bin, $unit, $etc, $state"
$created_config || echo "install.sh: $etc/config.yaml was there already and is unchanged"
cat <<EOF

Next:
  1. Edit $etc/config.yaml: the center, the mailboxes, smtp, agents.
     Put the passwords into $etc/imap-password and $etc/smtp-password
     (one line each), or use oauth (README: Signing in to Google and Microsoft 365).
     Keep a copy of $etc/db-key with the backups: the database is encrypted with it.
  2. Check it: sudo -u ticketd ticketd check-config
  3. Start it: sudo systemctl start ticketd; then: journalctl -u ticketd -f
     and curl http://127.0.0.1:9180/healthz
EOF
