#!/usr/bin/env bash
# up.sh DIR -- start a throw-away mail stack on 127.0.0.1 for tests:
#   Dovecot 2.3 (IMAP, IMAPS, LMTP, SASL auth)  +  Postfix 3.7 (SMTP, submission, smtps)
# Mail sent over SMTP to <user>@example.test is handed by Postfix to Dovecot
# over LMTP, stored in the user's Maildir under DIR, and readable over IMAP.
# up.sh --install-only -- only install the Debian packages (if missing) and exit 0.
#
# ticketd's copy of the shared mailstack reference (kept in the repository so
# that the tests pass on a machine that has only the project). Used by
# scripts/test.sh (--install-only) and by the Go harness in e2e/harness.go.
#
# Needs root (Postfix always does). Touches nothing outside DIR except:
#   - installs Debian packages if missing (dovecot-imapd dovecot-lmtpd postfix openssl),
#     unattended (DEBIAN_FRONTEND=noninteractive, no stdin needed), serialized by a
#     lock file so that parallel callers don't fight over apt, and with a temporary
#     /usr/sbin/policy-rc.d so the system-wide daemons are never started;
#   - if DIR or one of its parents is not world-traversable (e.g. Go's t.TempDir(),
#     whose parent is 0700) or DIR's path is long (unix socket paths max 107
#     bytes), the runtime data (sockets, queue, maildirs) goes to
#     /tmp/mailstack.XXXXXX, and DIR/var is a symlink to it (down.sh removes both).
# Never reads or edits /etc/dovecot or /etc/postfix/main.cf; binds only 127.0.0.1.
# Idempotent: if this DIR's stack is already running it only prints its info.
# Stop with: down.sh DIR
#
# Environment (all optional):
#   MAILSTACK_PORT_BASE=10000   ports are BASE+143 (IMAP), +993 (IMAPS), +25 (SMTP),
#                               +587 (submission), +465 (SMTPS); one stack per BASE
#   MAILSTACK_IMAP_PORT MAILSTACK_IMAPS_PORT MAILSTACK_SMTP_PORT
#   MAILSTACK_SUBMISSION_PORT MAILSTACK_SMTPS_PORT   override single ports
#   MAILSTACK_USERS="support agent customer"   (entries: local[@domain][:password])
#   MAILSTACK_GHOSTS="ghost"    addresses Postfix accepts but Dovecot does not
#                               know: Postfix bounces them with a real DSN
#                               (default "ghost"; "" for none)
#   MAILSTACK_ALIASES="loan:support"   Postfix virtual aliases, each ALIAS:USER
#                               (local parts, or full addresses): mail to the
#                               alias lands in the user's INBOX, its To intact
#                               (default "" for none)
#   MAILSTACK_DOMAIN=example.test  MAILSTACK_PASSWORD=secret
#   MAILSTACK_FOLDERS="Archive Processed"   folders that exist (auto-created and
#                               subscribed) for every user, besides INBOX, Drafts, Sent,
#                               Trash and Junk; Archive gets \Archive special-use
#   MAILSTACK_NO_INSTALL=1      fail instead of running apt-get
#   MAILSTACK_POSTFIX_CHECK=1   run Postfix's own (slow, ~2 s) start-up integrity checks
#   MAILSTACK_OAUTH_INTROSPECTION_URL=http://127.0.0.1:PORT/introspect
#                               OAuth mode: IMAP, submission and SMTPS also take
#                               XOAUTH2 and OAUTHBEARER, the tokens checked by
#                               Dovecot's oauth2 passdb against this RFC 7662
#                               introspection endpoint (POST; "active": true and
#                               "username" the login address)
# Output: a summary on stdout, and DIR/env (KEY=VALUE lines, shell-sourceable).
# shellcheck disable=SC2015 # 'test && test || die' is used on purpose
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Dovecot and Postfix live in /usr/sbin, which a minimal or sudo-less PATH may lack.
export PATH="${PATH:-/usr/bin:/bin}:/usr/local/sbin:/usr/sbin:/sbin"
STARTED='' MADE_POLICY='' DIR='' LOG=''
die() {
  echo "up.sh: $*" >&2
  if [ -n "$STARTED" ]; then   # don't leave half a stack running
    tail -n 20 "$LOG/start.log" "$LOG/dovecot.log" "$LOG/postfix.log" >&2 2>/dev/null || true
    "$HERE/down.sh" --keep "$DIR" || true
  fi
  exit 1
}
on_exit() {   # never leave our temporary policy-rc.d behind (even on SIGTERM)
  if [ -n "$MADE_POLICY" ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap on_exit EXIT
trap 'die "terminated (SIGTERM)"' TERM
trap 'die "interrupted (SIGINT)"' INT
trap 'die "failed at line $LINENO: $BASH_COMMAND"' ERR
usage() { echo "usage: up.sh DIR | up.sh --install-only" >&2; exit 2; }
[ $# -ge 1 ] && [ -n "$1" ] || usage
INSTALL_ONLY=
if [ "$1" = --install-only ]; then INSTALL_ONLY=1; fi
[ "$(id -u)" = 0 ] || die "must run as root (Postfix requires it); try: sudo $0 $*"

BASE=${MAILSTACK_PORT_BASE:-10000}
[[ $BASE =~ ^[0-9]+$ ]] && [ "$BASE" -le 64000 ] || die "bad MAILSTACK_PORT_BASE: $BASE"
IMAP_PORT=${MAILSTACK_IMAP_PORT:-$((BASE + 143))}
IMAPS_PORT=${MAILSTACK_IMAPS_PORT:-$((BASE + 993))}
SMTP_PORT=${MAILSTACK_SMTP_PORT:-$((BASE + 25))}
SUBMISSION_PORT=${MAILSTACK_SUBMISSION_PORT:-$((BASE + 587))}
SMTPS_PORT=${MAILSTACK_SMTPS_PORT:-$((BASE + 465))}
DOMAIN=${MAILSTACK_DOMAIN:-example.test}
PASSWORD=${MAILSTACK_PASSWORD:-secret}
USERS=${MAILSTACK_USERS:-support agent customer}
GHOSTS=${MAILSTACK_GHOSTS-ghost}
ALIASES=${MAILSTACK_ALIASES:-}
FOLDERS=${MAILSTACK_FOLDERS:-Archive Processed}
OAUTH_URL=${MAILSTACK_OAUTH_INTROSPECTION_URL:-}
[ -z "$OAUTH_URL" ] || [[ $OAUTH_URL =~ ^http://127\.0\.0\.1:[0-9]+/[^[:space:]]*$ ]] ||
  die "MAILSTACK_OAUTH_INTROSPECTION_URL must be http://127.0.0.1:PORT/...: $OAUTH_URL"
HOST=127.0.0.1
PORTS="$IMAP_PORT $IMAPS_PORT $SMTP_PORT $SUBMISSION_PORT $SMTPS_PORT"
for p in $PORTS; do
  [[ $p =~ ^[0-9]+$ ]] && [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die "bad port: $p"
done
# shellcheck disable=SC2086 # word splitting of the port list is intended
[ "$(printf '%s\n' $PORTS | sort -u | wc -l)" -eq 5 ] || die "ports must differ: $PORTS"
for f in $FOLDERS; do
  [[ $f =~ ^[A-Za-z0-9._-]+$ ]] && [ "${f,,}" != inbox ] || die "bad folder name in MAILSTACK_FOLDERS: $f"
done

# ---------------------------------------------------------------- packages
PKGS=(dovecot-imapd dovecot-lmtpd postfix openssl)
missing_packages() {
  local p
  for p in "${PKGS[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" = installed ] || echo "$p"
  done
  # the binaries this script runs must be there too (a package can be half-removed)
  [ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/imap ] && [ -x /usr/lib/dovecot/lmtp ] || echo dovecot-core
  [ -x /usr/sbin/postfix ] && [ -x /usr/lib/postfix/sbin/master ] || echo postfix
  command -v openssl >/dev/null || echo openssl
}
apt_install() {   # one attempt: apt-get update + install "$@"
  apt-get -qq -o Acquire::Retries=3 -o DPkg::Lock::Timeout=600 update &&
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}
POLICY_MARK='made by ticketd scripts/mailstack/up.sh'
install_packages() {
  local missing=() lockfile lockdir=/run/lock attempt rc=0 t0=$SECONDS leftover=''
  mapfile -t missing < <(missing_packages | sort -u)
  # a policy-rc.d with our mark was left by an up.sh that got SIGKILLed mid-install
  grep -qs "$POLICY_MARK" /usr/sbin/policy-rc.d && leftover=1
  [ ${#missing[@]} -eq 0 ] && [ -z "$leftover" ] && return 0
  [ ${#missing[@]} -eq 0 ] || [ -z "${MAILSTACK_NO_INSTALL:-}" ] ||
    die "missing packages: ${missing[*]} (MAILSTACK_NO_INSTALL is set)"
  command -v apt-get >/dev/null || die "missing packages: ${missing[*]}, and no apt-get to install them"
  # Parallel callers (e.g. several Go test packages each starting a stack)
  # install one at a time; the others then find everything installed.
  [ -d "$lockdir" ] && [ -w "$lockdir" ] || lockdir=/tmp
  lockfile=$lockdir/ticketd-mailstack-install.lock
  exec 9>>"$lockfile"
  flock -w 1200 9 || die "timed out waiting for $lockfile (another install still running?)"
  grep -qs "$POLICY_MARK" /usr/sbin/policy-rc.d && MADE_POLICY=1   # ours: removed below / on exit
  mapfile -t missing < <(missing_packages | sort -u)
  if [ ${#missing[@]} -eq 0 ]; then
    if [ -n "$MADE_POLICY" ]; then rm -f /usr/sbin/policy-rc.d; MADE_POLICY=''; fi
    exec 9>&-
    return 0
  fi
  echo "up.sh: installing ${missing[*]} (unattended) ..." >&2
  export DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true UCF_FORCE_CONFFOLD=1 \
    APT_LISTCHANGES_FRONTEND=none NEEDRESTART_MODE=a
  # Postfix: don't create /etc/postfix/main.cf, i.e. configure no system MTA.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  # Keep the maintainer scripts from starting the system-wide daemons (they
  # would bind 0.0.0.0:25/143/993). Docker-style images already have this file.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    MADE_POLICY=1
    printf '#!/bin/sh\n# temporary, %s\nexit 101\n' "$POLICY_MARK" >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
  fi
  # finish a dpkg run that was interrupted (apt-get refuses to work until then)
  if [ -n "$(dpkg --audit 2>/dev/null || true)" ]; then
    dpkg --configure -a </dev/null >&2 || true
  fi
  for attempt in 1 2 3; do
    rc=0
    apt_install "${missing[@]}" </dev/null >&2 || rc=$?
    [ $rc -ne 0 ] || break
    echo "up.sh: apt-get failed (rc=$rc, attempt $attempt of 3)" >&2
    [ "$attempt" -lt 3 ] || break
    dpkg --configure -a </dev/null >&2 || true
    sleep $((attempt * 5))
  done
  if [ -n "$MADE_POLICY" ]; then rm -f /usr/sbin/policy-rc.d; MADE_POLICY=''; fi
  exec 9>&-
  [ $rc -eq 0 ] || die "apt-get install ${missing[*]} failed (rc=$rc)"
  mapfile -t missing < <(missing_packages | sort -u)
  [ ${#missing[@]} -eq 0 ] || die "still missing after apt-get install: ${missing[*]}"
  echo "up.sh: installed in $((SECONDS - t0)) s" >&2
}
install_packages
if [ -n "$INSTALL_ONLY" ]; then exit 0; fi

# ---------------------------------------------------------------- helpers
alive() { [ -n "${1:-}" ] && [ -d "/proc/$1" ] && [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$2" ]; }
pidof_file() { [ -r "$1" ] && tr -dc 0-9 <"$1" || true; }
listening() {     # is a TCP socket (any address, v4/v6) listening on port $1?
  local hex f files=()  # (reads /proc instead of connecting: no spurious sessions)
  printf -v hex '%04X' "$1"
  for f in /proc/net/tcp /proc/net/tcp6; do [ -r "$f" ] && files+=("$f"); done
  awk -v h=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == h { found = 1 }
                    END { exit !found }' "${files[@]}"
}
world_traversable() {                        # every ancestor of $1 has o+x
  local p=$1 m
  while [ "$p" != / ]; do
    p=$(dirname "$p"); m=$(stat -Lc %a "$p")
    (( 8#$m & 1 )) || return 1
  done
}
user_list() {                                # -> "address password" lines
  local e a pw
  for e in $USERS; do
    a=${e%%:*}; pw=$PASSWORD; [ "$e" = "$a" ] || pw=${e#*:}
    [[ $a == *@* ]] || a=$a@$DOMAIN
    echo "${a,,} $pw"
  done
}

folder_conf() {                              # dovecot 'mailbox' blocks for $FOLDERS
  local f
  for f in $FOLDERS; do
    echo "  mailbox $f {"
    [ "$f" != Archive ] || echo '    special_use = \Archive'
    echo "    auto = subscribe"
    echo "  }"
  done
}

oauth_mechs() {                              # the OAuth mechanisms, in OAuth mode
  [ -z "$OAUTH_URL" ] || echo " xoauth2 oauthbearer"
}
oauth_passdb() {                             # closes the passwd-file passdb
  # The passwd-file passdb stays open to every mechanism: LMTP's user
  # lookups need it (a passdb limited to mechanisms is skipped for them),
  # and a token checked against it fails and falls through (result_failure
  # = continue) to the oauth2 passdb, which takes only the OAuth mechanisms.
  echo "}"
  [ -n "$OAUTH_URL" ] || return 0
  echo "passdb {"
  echo "  driver = oauth2"
  echo "  mechanisms = xoauth2 oauthbearer"
  echo "  args = $VAR/oauth2.conf.ext"
  echo "}"
}

# ---------------------------------------------------------------- layout
mkdir -p "$1"
DIR=$(cd "$1" && pwd -P)
touch "$DIR/.mailstack"                      # marker: down.sh only deletes dirs that have it
chmod 755 "$DIR"
ETC=$DIR/etc LOG=$DIR/log PF=$DIR/etc/postfix
mkdir -p "$PF" "$ETC/tls" "$LOG"
DOVECOT_BIN=$(readlink -f /usr/sbin/dovecot)
POSTFIX_MASTER=/usr/lib/postfix/sbin/master

VAR=
if [ -L "$DIR/var" ]; then
  VAR=$(readlink "$DIR/var"); [ -d "$VAR" ] || { rm -f "$DIR/var"; VAR=; }
elif [ -d "$DIR/var" ]; then
  VAR=$DIR/var
fi

write_env() {
  cat >"$DIR/env" <<EOF
MAILSTACK_DIR='$DIR'
MAILSTACK_HOST=$HOST
MAILSTACK_IMAP_PORT=$IMAP_PORT
MAILSTACK_IMAPS_PORT=$IMAPS_PORT
MAILSTACK_SMTP_PORT=$SMTP_PORT
MAILSTACK_SUBMISSION_PORT=$SUBMISSION_PORT
MAILSTACK_SMTPS_PORT=$SMTPS_PORT
MAILSTACK_CA_CERT='$ETC/tls/cert.pem'
MAILSTACK_DOMAIN=$DOMAIN
MAILSTACK_USERS='$(user_list | awk '{print $1}' | paste -sd' ')'
MAILSTACK_PASSWORD='$PASSWORD'
MAILSTACK_FOLDERS='INBOX $FOLDERS'
MAILSTACK_MAIL_ROOT='$VAR/mail'
MAILSTACK_DOVECOT_CONF='$ETC/dovecot.conf'
MAILSTACK_POSTFIX_DIR='$PF'
MAILSTACK_DOVECOT_PID=$(pidof_file "$VAR/run/master.pid")
MAILSTACK_POSTFIX_PID=$(pidof_file "$VAR/spool/pid/master.pid")
EOF
}
print_info() {
  cat <<EOF
mailstack up in $DIR  (data: $VAR)
  IMAP        $HOST:$IMAP_PORT   plain; STARTTLS offered
  IMAPS       $HOST:$IMAPS_PORT   implicit TLS
  SMTP        $HOST:$SMTP_PORT   no AUTH needed from 127.0.0.1; STARTTLS and AUTH PLAIN/LOGIN offered
  Submission  $HOST:$SUBMISSION_PORT   STARTTLS and AUTH required
  SMTPS       $HOST:$SMTPS_PORT   implicit TLS, AUTH required
  TLS cert    $ETC/tls/cert.pem  (self-signed; SAN localhost, 127.0.0.1)
  users (login = full address, password):
$(user_list | sed 's/^/    /')
  maildirs    $VAR/mail/<domain>/<user>/Maildir
  logs        $LOG/dovecot.log $LOG/postfix.log
  env file    $DIR/env
EOF
}

if [ -n "$VAR" ]; then
  if alive "$(pidof_file "$VAR/run/master.pid")" "$DOVECOT_BIN" &&
     alive "$(pidof_file "$VAR/spool/pid/master.pid")" "$POSTFIX_MASTER"; then
    cat "$DIR/info" 2>/dev/null || true      # already up: show how it was started
    exit 0
  fi
  "$HERE/down.sh" --keep "$DIR"              # half-up leftovers: stop them (by pid), keep data
fi

for p in $PORTS; do
  ! listening "$p" || die "TCP port $p is already in use (set MAILSTACK_PORT_BASE)"
done

if [ -z "$VAR" ]; then
  if [ ${#DIR} -le 56 ] && world_traversable "$DIR"; then
    VAR=$DIR/var; mkdir -p "$VAR"
  else
    VAR=$(mktemp -d /tmp/mailstack.XXXXXX); ln -sfn "$VAR" "$DIR/var"
  fi
fi
chmod 755 "$VAR"
RUN=$VAR/run      # Dovecot base_dir: its unix sockets, master.pid
MAIL=$VAR/mail    # Maildirs, owned by the system user 'mail'
SPOOL=$VAR/spool  # Postfix queue_directory
# Postfix's log lives under VAR too (world-traversable), linked from LOG:
# postsuper, run as mail_owner while 'postfix start' tidies the queue, opens
# it itself, and a DIR under a private temp directory is out of its reach
# (it then fails the start: "open logfile ... Permission denied").
PFLOG=$VAR/log/postfix.log
mkdir -p "$VAR/log"; chmod 755 "$VAR/log"
touch "$PFLOG"; chown postfix "$PFLOG"; chmod 644 "$PFLOG"
ln -sfn "$PFLOG" "$LOG/postfix.log"

# ---------------------------------------------------------------- TLS
if [ ! -s "$ETC/tls/cert.pem" ] || [ ! -s "$ETC/tls/key.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:mail.$DOMAIN" \
    -keyout "$ETC/tls/key.pem" -out "$ETC/tls/cert.pem" 2>/dev/null
  chmod 600 "$ETC/tls/key.pem"
fi

# ---------------------------------------------------------------- users
mkdir -p "$MAIL" "$RUN"
chown mail:mail "$MAIL"; chmod 750 "$MAIL"
# passwd-file: read by Dovecot's auth process (user dovecot), so it lives under
# VAR (always world-traversable), not under DIR/etc (whose parents may be 0700)
user_list | awk '{print $1 ":{PLAIN}" $2}' >"$VAR/users"
chown root:dovecot "$VAR/users"; chmod 640 "$VAR/users"
{ user_list | awk '{print $1 " OK"}'
  for g in $GHOSTS; do [[ $g == *@* ]] || g=$g@$DOMAIN; echo "${g,,} OK"; done
} >"$PF/vmailbox"
for a in $ALIASES; do
  from=${a%%:*} to=${a#*:}
  [[ $from == *@* ]] || from=$from@$DOMAIN
  [[ $to == *@* ]] || to=$to@$DOMAIN
  echo "${from,,} ${to,,}"
done >"$PF/virtual"
DOMAINS=$(user_list | awk '{sub(/.*@/,"",$1); print $1}' | sort -u | paste -sd' ')

if [ -n "$OAUTH_URL" ]; then
  cat >"$VAR/oauth2.conf.ext" <<EOF
# generated by up.sh: tokens are checked at the test authorization server
introspection_mode = post
introspection_url = $OAUTH_URL
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
EOF
  chown root:dovecot "$VAR/oauth2.conf.ext"; chmod 640 "$VAR/oauth2.conf.ext"
fi

# ---------------------------------------------------------------- dovecot
cat >"$ETC/dovecot.conf" <<EOF
# generated by up.sh -- standalone config for 'dovecot -c'; /etc/dovecot is not read
instance_name = mailstack-$(echo "$DIR" | cksum | cut -d' ' -f1)
base_dir = $RUN
state_dir = $VAR/state
log_path = $LOG/dovecot.log
protocols = imap lmtp
listen = $HOST
verbose_proctitle = yes
shutdown_clients = yes

ssl = yes
ssl_cert = <$ETC/tls/cert.pem
ssl_key = <$ETC/tls/key.pem
ssl_min_protocol = TLSv1.2

# test-friendly auth: cleartext allowed on the plain port; note that failed
# logins still answer after ~0.5 s (auth process flushes failures on a timer)
disable_plaintext_auth = no
auth_mechanisms = plain login$(oauth_mechs)
auth_username_format = %Lu
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu $VAR/users
$(oauth_passdb)
userdb {
  driver = static
  args = uid=mail gid=mail home=$MAIL/%d/%n
}

# every mailbox belongs to the system user 'mail' (Dovecot refuses uid 0)
first_valid_uid = $(id -u mail)
first_valid_gid = $(id -g mail)
mail_uid = mail
mail_gid = mail
mail_location = maildir:~/Maildir
mail_fsync = never
mail_max_userip_connections = 1000
default_login_user = dovenull
default_internal_user = dovecot
recipient_delimiter = +
postmaster_address = postmaster@$DOMAIN
hostname = mail.$DOMAIN

namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
$(folder_conf)
}

service imap-login {
  inet_listener imap {
    address = $HOST
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = $HOST
    port = $IMAPS_PORT
    ssl = yes
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
service auth {
  unix_listener auth-postfix {
    mode = 0666
  }
}
# no brute-force "auth penalty": otherwise after one failed login from
# 127.0.0.1 every later login (good ones too) waits 2..15 s
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
EOF

# ---------------------------------------------------------------- postfix
cat >"$PF/main.cf" <<EOF
# generated by up.sh -- for 'postfix -c $PF'; /etc/postfix/main.cf is not read
compatibility_level = 3.6
queue_directory = $SPOOL
data_directory = $VAR/postfix-lib
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = $PFLOG
maillog_file_prefixes = /
myhostname = mail.$DOMAIN
mydomain = $DOMAIN
myorigin = \$mydomain
inet_interfaces = $HOST
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_banner = \$myhostname ESMTP mailstack
biff = no

# every domain is virtual and goes to Dovecot over LMTP; nothing is local
mydestination =
local_recipient_maps =
local_transport = error:local delivery is disabled
alias_maps =
alias_database =
virtual_mailbox_domains = $DOMAINS
virtual_mailbox_maps = texthash:$PF/vmailbox
virtual_alias_maps = texthash:$PF/virtual
virtual_transport = lmtp:unix:$RUN/lmtp
recipient_delimiter = +
# nothing ever leaves this machine: other domains are refused at RCPT time
relay_domains =
default_transport = error:outbound mail is disabled in the test mail stack
relay_transport = error:outbound mail is disabled in the test mail stack
smtp_dns_support_level = disabled

# Dovecot 2.3's LMTP has no SMTPUTF8, and Postfix bounces a message that asked
# for SMTPUTF8 and has UTF-8 headers ("SMTPUTF8 is required, but was not offered")
# when the next hop lacks it. Go's net/smtp (and other clients) ask for SMTPUTF8
# whenever it is offered, so don't offer it: raw 8-bit headers then pass through
# unchanged (8BITMIME), as they do from clients that never ask for SMTPUTF8.
smtputf8_enable = no
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
message_size_limit = 52428800
smtpd_error_sleep_time = 0
in_flow_delay = 0
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 10s
delay_warning_time = 0

smtpd_tls_cert_file = $ETC/tls/cert.pem
smtpd_tls_key_file = $ETC/tls/key.pem
smtpd_tls_security_level = may
smtpd_tls_auth_only = no
smtp_tls_security_level = none
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $RUN/auth-postfix
smtpd_sasl_authenticated_header = no
EOF

SUBMIT_OPTS="-o smtpd_sasl_auth_enable=yes -o smtpd_tls_auth_only=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject"
cat >"$PF/master.cf" <<EOF
# generated by up.sh -- no chroot anywhere (sockets and certs live under $DIR)
# service type  private unpriv  chroot  wakeup  maxproc command + args
$HOST:$SMTP_PORT inet n - n - - smtpd
$HOST:$SUBMISSION_PORT inet n - n - - smtpd
  -o syslog_name=postfix/submission -o smtpd_tls_security_level=encrypt
  $SUBMIT_OPTS
$HOST:$SMTPS_PORT inet n - n - - smtpd
  -o syslog_name=postfix/smtps -o smtpd_tls_wrappermode=yes
  $SUBMIT_OPTS
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
# Postfix re-reads a config file younger than ~2 s until it "settles down"
# (300 ms naps, ~1.8 s per start), so backdate the files just written.
touch -d "@$(( $(date +%s) - 60 ))" "$PF/main.cf" "$PF/master.cf" "$PF/vmailbox" "$PF/virtual"

# Postfix queue layout as in /etc/postfix/postfix-files, plus a 'quick-start'
# flag so 'postfix start' skips its ~2 s of integrity checks.
install -d -o root -g root -m 755 "$SPOOL" "$SPOOL/pid"
install -d -o postfix -g root -m 700 "$VAR/postfix-lib" \
  "$SPOOL"/{active,bounce,corrupt,defer,deferred,flush,hold,incoming,private,saved,trace}
install -d -o postfix -g postdrop -m 730 "$SPOOL/maildrop"
install -d -o postfix -g postdrop -m 710 "$SPOOL/public"
[ -n "${MAILSTACK_POSTFIX_CHECK:-}" ] || touch "$SPOOL/quick-start"

# ---------------------------------------------------------------- start
# Both masters daemonize and call setsid(). Their stdio must not be the
# caller's (a Go exec.Cmd capturing output would wait for EOF forever).
STARTED=1
dovecot -c "$ETC/dovecot.conf" </dev/null >>"$LOG/start.log" 2>&1 || die "dovecot failed to start"
postfix -c "$PF" start </dev/null >>"$LOG/start.log" 2>&1 || die "postfix failed to start"

deadline=$((SECONDS + 20))
for p in $PORTS; do
  until listening "$p"; do
    [ $SECONDS -lt $deadline ] || die "port $HOST:$p did not open"
    sleep 0.02
  done
done
until [ -S "$RUN/lmtp" ] && [ -S "$RUN/auth-postfix" ]; do
  [ $SECONDS -lt $deadline ] || die "dovecot sockets did not appear"; sleep 0.02
done

write_env
print_info | tee "$DIR/info"
