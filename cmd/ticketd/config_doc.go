package main

import (
	"fmt"
	"io"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// configHeader opens the example config.
const configHeader = `# ticketd configuration. Every key is listed here with its default value,
# except where the text says the value shown is an example.
# Written by ticketd config example; check a file with:
#   ticketd --config FILE check-config
# ticketd reads --config FILE, else $TICKETD_CONFIG, else ./ticketd.yaml.
# Relative paths are relative to this file's directory. A key left out
# takes its default; a key present keeps its value, 0 and "" included.
`

// configDocs documents every key of Config, by its path ("limits",
// "mailboxes.idle"), in the words config.example.yaml shows. A test
// holds it and the structs to each other.
func configDocs() map[string]string {
	return map[string]string{
		"data_dir": `Directory for the database (ticketd.db) and the admin socket. Required
(the value shown is an example). Back it up; it holds every ticket and
every raw mail.`,
		"store": `Where the tickets are kept. bbolt (the default): one file in data_dir, for
one host. postgres: a PostgreSQL 15 or newer database that several ticketd
nodes share (its schema is migrated at start, or with ticketd migrate).
With postgres, backup, restore and compact are PostgreSQL's own tools
(pg_dump, pg_basebackup); privacy.key_file encrypts the rows, and every
node needs the same key.`,
		"store.driver": `bbolt or postgres.`,
		"store.dsn": `The PostgreSQL connection string, e.g.
postgres://ticketd:PASSWORD@db.example.com:5432/ticketd?sslmode=verify-full
(several hosts, host=a,b with target_session_attrs=read-write, follow a
failover). It holds a password: prefer dsn_file (mode 0600) or dsn_env.
A host that is not a loopback one needs sslmode=verify-full or verify-ca.`,
		"store.dsn_file": ``,
		"store.dsn_env":  ``,
		"store.lease": `With postgres and several nodes: each mailbox is polled by the node that
holds its lease, renewed every third of this; when a node dies, another
takes its mailboxes over after this (at once when it stops cleanly). While
several nodes run, each holds at most its share of the mailboxes.`,
		"timezone": `Time zone of the cron schedules and the opening hours.`,

		"log":        ``,
		"log.format": `text or json.`,
		"log.level":  `debug, info, warn or error.`,

		"admin": ``,
		"admin.socket": `Unix socket (mode 0600) the CLI uses while ` + "`ticketd serve`" + ` runs.
"": <data_dir>/ticketd.sock. At most 104 bytes long.`,

		"http": `Monitoring over HTTP while ` + "`ticketd serve`" + ` runs: GET /healthz (JSON; 200
when healthy, 503 when not) and GET /metrics (Prometheus text format).`,
		"http.listen": `Neither has authentication, so only a loopback address is accepted
(127.0.0.1, [::1], localhost); scrape it locally or through a proxy.
"off" (or "") turns it off. serve does not start when the port is taken.`,

		"web": `The agents' web view (read-only): GET /t/N shows a ticket whole (every
message, quoted text behind a toggle, inline images, attachments,
delivery states, notes), / the agent's queue and search. Each agent
notification links the ticket and the queue, signed for that agent
under the threading secret. Off by default.`,
		"web.listen": `host:port to serve on, or "off". Without cert_file and key_file only
a loopback address is accepted (plain HTTP; put a TLS proxy in front).`,
		"web.url": `The base URL the links in notifications use, as agents reach the view
("": http(s)://listen). An https URL with a loopback listen is a TLS proxy
in front.`,
		"web.cert_file": `TLS certificate (PEM, with its chain) and key; both or neither. With
them the view speaks HTTPS and its cookie is Secure.`,
		"web.key_file":      ``,
		"web.link_lifetime": `How long the links in a notification open the view.`,
		"web.session_lifetime": `How long the session a queue link starts lasts (a cookie: HttpOnly,
SameSite=Strict, Secure with TLS).`,
		"web.trusted_header": `For single sign-on: a request header naming the signed-in agent by
address (X-Forwarded-Email from oauth2-proxy), believed only from
trusted_proxies. "": none.`,
		"web.trusted_proxies": `The addresses (IP or CIDR) of the proxy that sets trusted_header.`,

		"health": ``,
		"health.fail_after": `A mailbox is unhealthy (/healthz answers 503, ticketd_mailbox_up is 0)
after this many failed polls in a row; one successful poll clears it.`,
		"health.outbox_max_age": `Sending is unhealthy (/healthz answers 503 naming the keys to check,
ticketd_smtp_up is 0) while the SMTP server cannot be reached, does not
answer, fails TLS or refuses the login, and when the oldest mail in the
outbox has waited longer than this.`,

		"center": ``,
		"center.name": `Display name of the support address in the mails ticketd sends (the
value shown is an example; "": 고객센터, or Customer Center in English).`,
		"center.address": `The support address customers write to; acknowledgements come from it,
and our Message-IDs use its domain. Required (the value shown is an
example).`,
		"center.language": `Language of the mail templates: ko or en.`,
		"center.hours": `Opening hours, shown in the acknowledgement (and whether the center is
open right now).`,
		"center.hours.days":  `A list or ranges of sun mon tue wed thu fri sat.`,
		"center.hours.open":  ``,
		"center.hours.close": ``,
		"center.hours.by_day": `Weekdays with other hours than open-close, each "DAY SPANS" ("sat
09:00-13:00"); the day must also be in days.`,
		"center.hours.breaks": `Closed spans inside every open day, e.g. ["12:00-13:00"] for a lunch
break: the SLA clock stops and the acknowledgement says the center opens
after it.`,
		"center.hours.special": `Days with other hours than their weekday's, each "DATE SPANS"
("2026-12-24 09:00-13:00", "2027-01-02 10:00-12:00, 13:00-16:00"); a day
closed for good is a center.holidays entry, with its name.`,
		"sla": `Service levels, counted in business time (center.hours less the
holidays): a ticket's first answer and its resolution are due that long
after it opens; the resolution clock stops while a ticket is pending.
tickets list --overdue shows the ones past due; the acknowledgement of an
inquiry in hours says by when the answer comes. 0: none.`,
		"sla.first_response":  `Business hours until the first answer is due (8h: one working day).`,
		"sla.resolution_days": `Business days until the ticket should be solved.`,
		"sla.remind_before": `The assignee (or the agents, or notify.address) gets one digest of the
tickets due within this much business time (0: no reminders).`,
		"sla.escalate_to": `An address that gets one digest of the tickets past a due time (each
ticket once per due time); empty: no escalation.`,
		"sla.schedule": `When reminders, escalations and the pending follow-up are looked at
(cron, in timezone); they are sent in business hours only, so what came
due at night goes out at the next opening.`,
		"pending": `Tickets waiting for the customer (#pending): after remind_after_days
business days one reminder to the customer, after close_after_days the
ticket is solved with a closing mail, unless the customer wrote
meanwhile. Automatic mail, under its rate limits, noted on the ticket.
ticketd pending run --dry-run shows what would happen. 0: never.`,
		"pending.remind_after_days": ``,
		"pending.close_after_days":  ``,
		"privacy": `Personal data (주민등록번호, card, account, phone, passport and driver's
licence numbers) is found in every mail and masked wherever it leaves the
database: notifications, the CLI and its JSON, the admin API and the logs
(tickets show --unmask --reason shows it, and writes an audit record).`,
		"privacy.key_file": `The key that encrypts the database at rest (AES-256-GCM): a file with 32
random bytes (as made by ticketd privacy keygen FILE: base64 on one line),
readable by ticketd only (mode 0400). Without a key (key_file and key_env
empty) mail is stored unencrypted and check-config warns. A database with
records from before the key is encrypted in place when serve starts. Keep
a copy of the key with the backups: without it they cannot be read.`,
		"privacy.key_env": `An environment variable that holds the key instead (base64 or hex).`,
		"privacy.old_key_files": `Earlier keys, during a key rotation: put the new key in key_file and the
old one here; serve re-encrypts every record with the new key in the
background while it runs (or ticketd privacy rotate-key NEW with serve
stopped), and logs when it is done; then remove the old key from here.`,
		"privacy.retention": `How long closed tickets keep what they hold (0: for ever). A job on
schedule (cron, in timezone; by default 10:00 on weekdays, when people are
there to see its log) purges and anonymises in batches; ticketd privacy
purge [--dry-run] runs it by hand. Each run is in the audit log.`,
		"privacy.retention.raw_after_close": `Raw mail (with its attachments) is purged this long after the ticket was
closed (8760h: 365 days); texts and the ticket stay.`,
		"privacy.retention.anonymise_after_close": `The ticket is anonymised this long after it was closed (26280h: 3 years):
names, addresses and texts go, the skeleton stays for statistics.`,
		"privacy.retention.schedule": ``,
		"privacy.notify_attachments": `Attach the customer's files to the agents' notifications (false: list
them only; they stay on the ticket).`,
		"privacy.hold_rrn_replies": `Hold an agent's reply that holds a resident registration number and mail
the agent a warning; a reply with #send-anyway on its first line is sent
as written.`,
		"center.public_holidays": `The built-in table of public holidays the center is closed on: kr (Korean
public holidays with 대체공휴일 and election days, 2024-2030) or none.`,
		"center.holidays": `More closed days, each "DATE NAME" or "FIRST..LAST NAME" (2026-12-31 연말
휴무, 2027-01-02..2027-01-03 시스템 점검): 임시공휴일 the government declares,
the center's own closures. They show in ticketd hours and in the
acknowledgement ("… 휴무이므로 … 부터 답변드리겠습니다").`,
		"center.holidays_ics": `An iCalendar file of more closed days (a holiday calendar exported as
.ics): every day each event covers, named by its SUMMARY.`,
		"center.phone": `The center's main telephone number (대표전화), shown in the footer of
every mail it sends; empty: none.`,
		"center.footer": `Lines for the footer of the center's mails, each shown as written: its
postal address, its privacy line, a web address. The center's name, phone,
hours and support address are always shown; with no lines, the HTML mails
end with a built-in privacy line instead.`,

		"operator": ``,
		"operator.address": `The operator's address: told by mail (once) when an OAuth credential
breaks, so that someone logs in again before mail waits long. "": no
mail (the log, /healthz and ticketd_oauth_up still say it).`,

		"oauth": `OAuth 2.0 credentials, for mailboxes that take no password (Google
Workspace, Microsoft 365): a mailbox or smtp with auth xoauth2 or
oauthbearer names one with its oauth key, and one credential may serve
both. Tokens are kept in the database, refreshed before they expire,
and never logged; ` + "`ticketd oauth status`" + ` shows them. None by default;
the values shown are an example (see the README, "Signing in to Google
and Microsoft 365").`,
		"oauth.name":     `Named by mailboxes[].oauth and smtp.oauth, and by ` + "`ticketd oauth login NAME`" + `.`,
		"oauth.provider": `google, microsoft, or custom (token_url, device_url and scopes below).`,
		"oauth.tenant":   `Microsoft's directory: the tenant ID or its domain. Required for microsoft.`,
		"oauth.flow": `device: a person approves once with ` + "`ticketd oauth login NAME`" + ` (a code
to enter at the provider's page; no redirect URL is needed), and the
refresh token is kept. client_credentials (microsoft, custom): app-only
access with the app's secret, no person at all.`,
		"oauth.client_id": `The app's (client's) ID. Required.`,
		"oauth.client_secret_file": `The client secret, from a file (trailing newline removed) or an
environment variable. Required for client_credentials; a public client
(device flow) may have none.`,
		"oauth.client_secret_env": ``,
		"oauth.client_secret_expires": `The secret's expiry date (YYYY-MM-DD), when the provider sets one:
check-config, serve and /healthz warn from 14 days before.`,
		"oauth.scopes": `[]: the provider's mail scopes (google: https://mail.google.com/;
microsoft device: IMAP.AccessAsUser.All, SMTP.Send and offline_access
of https://outlook.office.com/; microsoft client_credentials:
https://outlook.office365.com/.default).`,
		"oauth.token_url":  `custom only: the token endpoint (https, or http to a loopback host).`,
		"oauth.device_url": `custom only: the device authorization endpoint (flow device).`,
		"oauth.ca_file":    `Extra CA certificate (PEM) for the token endpoints.`,

		"mailboxes": `IMAP folders to poll. At least one; the values shown are an example.`,
		"mailboxes.name": `Names the mailbox in logs and in the cursor ("": mailbox1, mailbox2,
...).`,
		"mailboxes.host": `Required.`,
		"mailboxes.port": `0: 993 for tls, 143 for starttls and plain.`,
		"mailboxes.security": `tls (implicit TLS), starttls, or plain (only to a loopback host such as
127.0.0.1). Certificates are always verified.`,
		"mailboxes.ca_file": `Extra CA certificate (PEM) to trust besides the system roots, e.g. for a
self-signed server certificate. Verification is never turned off.`,
		"mailboxes.auth": `login, plain (AUTHENTICATE PLAIN), or xoauth2 or oauthbearer (RFC 7628)
with the access token of the oauth credential below instead of a
password.`,
		"mailboxes.oauth": `The oauth credential (its name) of auth xoauth2 or oauthbearer. For a
shared mailbox, username is the shared mailbox's address and the token
a user's (or the app's) with access to it.`,
		"mailboxes.username": `Required.`,
		"mailboxes.password_file": `The password, from the first of these that is set: a file (trailing
newline removed), an environment variable, or inline (not recommended).`,
		"mailboxes.password_env": ``,
		"mailboxes.password":     ``,
		"mailboxes.folder":       ``,
		"mailboxes.schedule": `When to poll: a 5-field cron spec ("*/5 * * * *"), optionally with a
leading seconds field, or a descriptor ("@every 1m", "@hourly").
A poll never overlaps itself; a slow one makes the next tick skip.`,
		"mailboxes.idle": `IMAP IDLE (RFC 2177): keep one more, read-only connection open and poll
as soon as the server announces new mail, within seconds. The schedule
stays as the safety net, so it can be slower (e.g. "*/15 * * * *").`,
		"mailboxes.idle_restart": `Every idle_restart (at most 29m) IDLE is stopped and a NOOP sent, so a
dead connection is noticed; it reconnects with backoff (1s to 60s),
logging an outage once. A server without IDLE is logged once and
polled on the schedule only.`,
		"mailboxes.post_action": `After a mail is committed: seen (add \Seen) or move (to move_to; UID
MOVE, or COPY + \Deleted + UID EXPUNGE with UIDPLUS).`,
		"mailboxes.move_to":    ``,
		"mailboxes.batch_size": `Mails per UID FETCH; the post-action is applied after each.`,
		"mailboxes.timeout": `Every IMAP command and read: a server that owes an answer and sends
nothing for this long (it stopped answering, or the connection went
half-open after a NAT or firewall timeout), or does not take what we
write, fails the poll; it is logged once, counts as a failed poll in
/healthz, and the next tick reconnects. A mail's body may take this
plus 1 s per 32 KiB in all, as long as every read brings something.
Time spent committing on our side never counts. Also bounds
connecting and logging in, and each IDLE command.`,
		"mailboxes.max_message_bytes": `Overrides limits.max_message_bytes for this mailbox (0: use that).`,

		"smtp": `The server acknowledgements and replies are sent through. Required; the
values shown are an example.`,
		"smtp.host": ``,
		"smtp.port": `0: 587 for starttls, 465 for tls, 25 for plain.`,
		"smtp.security": `starttls (mandatory STARTTLS), tls (implicit TLS), or plain (only to a
loopback host).`,
		"smtp.ca_file":       `As mailboxes' ca_file.`,
		"smtp.auth":          `plain or login (used when username is set), or xoauth2 or oauthbearer.`,
		"smtp.oauth":         `As mailboxes' oauth.`,
		"smtp.username":      `"": no AUTH.`,
		"smtp.password_file": `As mailboxes' password_file, password_env, password.`,
		"smtp.password_env":  ``,
		"smtp.password":      ``,
		"smtp.timeout":       `Bounds connecting and logging in, then each step of a send.`,
		"smtp.helo":          `Name sent in EHLO ("": the local host name).`,

		"agents": `Agents answer tickets. They are notified of new tickets and customer
follow-ups and answer by replying to the notification from their own mail
client; the reply is relayed to the customer from the support address.
A mail from an agent's address counts as the agent's only with a token
bound to that agent or a reference to a notification sent to them.
The values shown are an example; none by default.`,
		"agents.name":  `"": the address.`,
		"agents.email": ``,

		"groups": `Groups of agents (a desk: 대출팀, 채무조정팀). A ticket routed or moved
(#group NAME, ticketd assign --group) to a group notifies the group's
address, or when it has none its members; an assigned ticket notifies its
assignee alone. A member may answer a notification sent to the group's
address. The values shown are an example; none by default.`,
		"groups.name":    `Unique; what #group and routing name.`,
		"groups.address": `"": the members are notified one by one.`,
		"groups.members": `Agents' addresses (each must be in agents).`,

		"routing": `Rules that give a new ticket its category and group, tried in order; the
first that matches wins (a follow-up keeps its ticket's). A rule matches
when one of its to addresses is a recipient of the mail (To, Cc,
Delivered-To, X-Original-To) and, when it has words, one of its subject
words is in the subject or one of its body words in what the customer
wrote (the quoted history left out). Either half may be left out. Words
match inside words, as Korean glues particles on (대출 matches
대출신청이), after NFC normalisation; Latin case-insensitively and at
the start of a word only. The values shown are an example; none by
default. A rule by words, for mail to any address:
  - name: debt
    category: 채무조정
    group: 채무조정팀
    match: {subject: [채무조정, 워크아웃], body: [채무조정, 워크아웃, 개인회생]}`,
		"routing.name":     `Shown on the ticket (its route) and in the logs.`,
		"routing.category": `"": default_category.`,
		"routing.group":    `A group's name, or "" for none.`,
		"routing.match":    ``,
		"routing.match.to": `Addresses or patterns: loan@example.com (and its plus-addresses
loan+x@example.com), loan@ (that local part at any domain),
*+card@example.com, *@loan.example.com ('*' and '?' as in shell
patterns).`,
		"routing.match.subject": ``,
		"routing.match.body":    ``,
		"default_category":      `The category of a ticket no rule matched ("": none).`,

		"faq": `FAQ suggestions: the acknowledgement of a new ticket (not of follow-ups,
automatic mail or spam) lists the FAQ entries that best answer the mail,
each with two lines of its answer and its url, in text and HTML; the
suggestions and their scores are kept on the ticket and shown to the
agents. ticketd faq test FILE.eml prints what a mail would be offered.`,
		"faq.file": `A YAML list of entries, each {id, question, answer, url} (url http or
https). Read again when it changes (checked every check_every) and on
SIGHUP; a file that does not load keeps the last good one, and the log
and check-config say why. "": no suggestions.`,
		"faq.suggest": `At most this many suggestions.`,
		"faq.min_score": `Suggest only entries scoring this much or more (0 to 1; a wrong
suggestion is worse than none). The README states the figures of this
default on the project's test set.`,
		"faq.synonyms": `More words customers write for the FAQ's words, each "WRITTEN = FAQ
WORD" ("공인인증 = 공동인증서"), added to the built-in ones (비번 =
비밀번호, 로긴 = 로그인, 어플 = 앱, ...).`,
		"faq.check_every": ``,
		"center.identities": `More addresses ticketd may send as (aliases of the support mailbox, such
as loan@ and card@), each with the display name of its mails. A ticket's
acknowledgement and replies come from the identity the customer wrote to
(the first of Delivered-To, X-Original-To, To and Cc that is one), else
from the support address; never from an address not listed. The SMTP
account must be allowed to send as each. The values shown are an
example; none by default.`,
		"center.identities.address": ``,
		"center.identities.name":    `"": center.name.`,

		"notify": ``,
		"notify.address": `Send notifications of tickets in no group to this group address instead
of to every agent (a ticket's assignee is always notified alone).`,
		"notify.disabled": ``,

		"replies": ``,
		"replies.from_name": `Display name of the support address on relayed agent replies;
{agent} and {center} are replaced.`,
		"replies.cc_participants": `Cc the ticket's participants (customers Cc'd on the inquiry).`,
		"replies.require_auth_from": `The authserv-id of your receiving MX (its Authentication-Results, RFC
8601; the MX must strip such fields claiming its id from incoming mail).
When set, an agent's reply also needs a dkim, spf or dmarc pass there
for the agent's domain; and a mail whose From domain failed there
(dmarc, or dkim and spf) counts as a stranger's for the evidence that
rests on the From address (the [#N] subject tag, references to the
customer's mail): it opens a new ticket instead. See the README, "Who
may write into a ticket".`,

		"threading": ``,
		"threading.plus_addressing": `Put a signed token in the Reply-To of our mails (support+t1024-SIG@...).
Turn on only if the mailbox delivers plus-addresses to support.`,
		"threading.secret_file": `The HMAC secret that signs tokens (at least 16 bytes). "": 32 random
bytes generated into the database on first start. Set it here to share
it between installations or keep it across a database rebuild.`,
		"threading.secret_env": ``,
		"threading.reopen_within": `A customer's follow-up reopens a closed ticket within this time after it
was closed; later ones open a new ticket that links to the old (0:
never reopen).`,

		"limits": ``,
		"limits.max_message_bytes": `Largest mail downloaded (by RFC822.SIZE, asked before downloading;
25 MiB). A larger one stays on the server (moved to oversized_folder
when set, else marked \Seen); a ticket is opened from its header with a
note, and the sender gets one polite "too large" reply.`,
		"limits.oversized_folder": ``,
		"limits.auto_per_hour": `Automatic mail (acknowledgements, "too large" replies) to one address:
at most auto_per_hour and auto_per_day (each 1 or more), and not twice
within auto_min_interval (RFC 3834 section 2). An acknowledgement held
back by these is noted on its ticket and in the agents' notification,
and sent once they allow it: one mail per address, a summary of the
numbers when several were held. A new ticket within auto_min_interval
of such a mail gets none (a loop with an auto-responder ends there).`,
		"limits.auto_per_day":      ``,
		"limits.auto_min_interval": `0 turns it off.`,
		"limits.suppress_for": `An address that is dead keeps all mail from us this long: a bounce or a
refusal at RCPT TO with status 5.1.x (no such user, bad domain) or 5.2.x
(mailbox disabled or full). Nothing else suppresses: not a mail refused
for its content (554 at the end of DATA), not one that cannot be built,
not a policy refusal (5.7.x); those are recorded on the ticket and
reported to the agents. Agents' addresses and notify.address are never
suppressed (logged, and counted in ticketd_alerts_total).
` + "`ticketd suppressions list|remove EMAIL`" + ` shows and lifts it.`,
		"limits.max_participants": `Customers in To/Cc of the customer's mail become participants (our
replies Cc them), at most this many per ticket (0: none); addresses in
our own domains (the support address's, the mailboxes' logins') never
do. The rest is recorded on the ticket and gets no replies.`,
		"limits.ingest_workers": `A backlog is ingested by a pipeline: mails are parsed on
ingest_workers goroutines (0: one per core) and committed in batches,
with at most ingest_in_flight_bytes of raw mail (per mailbox; 8 MiB)
fetched but not yet committed; a larger mail is let in alone. This
bounds memory whatever the backlog size.`,
		"limits.ingest_in_flight_bytes": ``,

		"spam": `Mail the upstream spam filter flagged: a ticket marked spam, with no
acknowledgement and no notification (action: ticket), and with action move
also moved to folder on the server.`,
		"spam.header": ``,
		"spam.value":  `Matched case-insensitively as a substring.`,
		"spam.action": `ticket or move.`,
		"spam.folder": ``,

		"templates": `Directory of template overrides; files there replace the embedded ones
with the same name, e.g. ko/ack.txt.tmpl, en/ack.subject.tmpl. Templates:
ack (to the customer), ack_summary (held acknowledgements of several
tickets in one mail), notify (to agents), reply (an agent's reply to the
customer), agent_error (a bad command), failed (to agents: a mail to the
customer was not delivered), toolarge (a mail over the size limit),
oauth_broken (to operator.address: a sign-in stopped working), assigned
(to a new assignee), history and notice (the notes ticketd writes on a
ticket); parts: subject, txt, html. layout.txt.tmpl and layout.html.tmpl
hold the partials every mail of a language shares (the HTML frame with
header and footer, the text signature, the reasons of notices).`,
		"templates.dir": ``,

		"outbox": `Retries of outgoing mail: exponential backoff with ±20% jitter from
min_backoff to max_backoff; a 5xx answer or max_age ends the retries and
records the failure on the ticket.`,
		"outbox.max_age": ``,
		"outbox.lease": `A mail being sent when the process dies is tried again after this (so a
crash can cause at most one more copy of each mail in flight).`,
		"outbox.connections": `How many mails are sent at once when several are due, each on its own
SMTP connection (1 to 20). Mails to the same address go one after the
other, in order. A server that takes fewer connections at once refuses the
others for now (4xx): those stop until the next pass, the rest go on, and
it is not counted as an outage. A crash leaves at most this many mails in
doubt, each sent once more after the lease.`,
		"outbox.min_backoff": ``,
		"outbox.max_backoff": ``,
	}
}

// writeExampleConfig writes the documented example configuration: every
// key with its doc, and its example or default value.
func writeExampleConfig(w io.Writer) error {
	var b strings.Builder
	b.WriteString(configHeader)
	if err := exampleStruct(&b, reflect.TypeOf(Config{}), "", "", false, configDocs()); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// exampleStruct writes the keys of the config struct t at indent; path is
// its key prefix ("mailboxes."). In a list element (item) the first key
// is written after "- ", two columns to the left.
func exampleStruct(b *strings.Builder, t reflect.Type, indent, path string, item bool, docs map[string]string) error {
	for i, f := range configFields(t) {
		doc, ok := docs[path+f.key]
		if !ok {
			return fmt.Errorf("config key %s%s has no documentation", path, f.key)
		}
		if indent == "" {
			b.WriteString("\n") // a blank line before each top-level key
		}
		lead, docIndent := indent, indent
		if item && i == 0 {
			docIndent = indent[:len(indent)-2]
			lead = docIndent + "- "
		}
		writeComment(b, docIndent, doc)
		switch {
		case f.section:
			fmt.Fprintf(b, "%s%s:\n", lead, f.key)
			if err := exampleStruct(b, f.typ, indent+"  ", path+f.key+".", false, docs); err != nil {
				return err
			}
		case f.list:
			fmt.Fprintf(b, "%s%s:\n", lead, f.key)
			if err := exampleStruct(b, f.typ.Elem(), indent+"    ", path+f.key+".", true, docs); err != nil {
				return err
			}
		default:
			v, err := exampleValue(f)
			if err != nil {
				return fmt.Errorf("config key %s%s: %w", path, f.key, err)
			}
			fmt.Fprintf(b, "%s%s: %s\n", lead, f.key, v)
		}
	}
	return nil
}

// writeComment writes doc as comment lines at indent.
func writeComment(b *strings.Builder, indent, doc string) {
	if doc == "" {
		return
	}
	for _, line := range strings.Split(doc, "\n") {
		fmt.Fprintf(b, "%s# %s\n", indent, line)
	}
}

// exampleValue is f's value in the example: its example tag, else its
// default tag, else its zero value, written as YAML.
func exampleValue(f configField) (string, error) {
	v, ok := f.example, f.hasExample
	if !ok {
		v, ok = f.def, f.hasDefault
	}
	if f.typ.Kind() != reflect.String {
		if !ok {
			return "", fmt.Errorf("no default or example value")
		}
		return v, nil
	}
	out, err := yaml.Marshal(v)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(out), "\n"), nil
}
