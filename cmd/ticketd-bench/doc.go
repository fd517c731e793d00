// Command ticketd-bench measures ticketd against the real Dovecot and
// Postfix of scripts/mailstack (issue 7). It is a benchmark, not a test: it
// prints figures and never fails on one; it exits non-zero only when it
// could not measure at all (no root, the stack did not start, ticketd did
// not build).
//
// Run it as root from the repository (Postfix needs root):
//
//	sudo scripts/bench.sh                  # installs Dovecot + Postfix if missing
//	sudo go run ./cmd/ticketd-bench -mails 200 -runs 1 -skip-latency
//	sudo go run ./cmd/ticketd-bench -ticketd /path/to/other/ticketd   # compare a build
//
// What one run does:
//
//  1. Builds ticketd once (go build ./cmd/ticketd into a work directory)
//     and starts a throw-away mail stack (e2e.StartStack, port base 30000).
//  2. Fills support@'s INBOX by IMAP APPEND with a reproducible mix (-seed):
//     70% text mails of 2-8 KB built from the real corpus mails in
//     testdata/corpus/imap_tools and testdata/mail (new Message-ID, From,
//     To, Date and Subject; automatic-mail headers removed; plain text bodies
//     padded to the drawn size), 25% with a 100-300 KiB attachment and 5%
//     with a 2-5 MiB one (random bytes from a seeded ChaCha8, base64, 76
//     characters a line, CRLF) after a corpus mail as the text. The mails
//     stay there for every run.
//  3. For each of -runs rounds, each transport (-tls plain, imaps or
//     both) and each of encryption at rest off and on (-encrypt; on: a
//     fresh 32-byte key in privacy.key_file; the search index is on, as
//     always): the raw drain (go-imap, one UID FETCH 1:* BODY.PEEK[] read into
//     io.Discard), the durable ceiling (the same drain, each raw mail read
//     whole and hashed with SHA-256 and its bytes appended to a file by a
//     second goroutine, fdatasync'd every 4 MiB and at the end: what no
//     ingester that keeps mail safely can skip), then `ticketd poll` with a
//     fresh data directory (every
//     mail committed as a ticket, \Seen set, an acknowledgement queued for
//     each and then sent by the command through Postfix). The poll's speed
//     is taken from its own "poll done" log line (connect to logout, post
//     actions included); the whole command's wall time, including sending
//     the acknowledgements, is shown too. /proc/PID/status is sampled
//     every 10 ms for the child's VmHWM (its peak RSS; rusage.Maxrss would
//     also count the bench's own memory, which the child shares between
//     fork and exec) and the highest RssAnon (heap) and RssFile (mostly
//     bbolt's memory map, whose touched pages count in VmHWM). Each run is checked (tickets, \Seen,
//     acknowledgements delivered to the customer's INBOX) and loud warnings
//     are printed when something is missing. Between runs the flags are
//     reset, the delivered acknowledgements are deleted, and the next run
//     waits until Postfix has delivered them all, so it does not compete
//     with the deliveries. After each poll, the MTA's own rate: as many
//     mails of an acknowledgement's size sent over one plain SMTP
//     connection (RSET between) to the agent's mailbox, timed from the
//     first accepted to the last, once one command at a time and once with
//     PIPELINING (RSET, MAIL, RCPT and DATA in one write, as the outbox
//     sends to a server that offers it), beside the outbox's rate taken
//     from the poll's "outbox: sent" lines in the same way.
//  4. Latency with IDLE (-latency mails, unless -skip-latency): the support
//     INBOX is emptied, `ticketd serve` runs with idle: true over IMAPS and a
//     one-hour schedule, and mails are sent one at a time through Postfix.
//     For each: SMTP accept (250 to DATA) to the "imap: new ticket" line of
//     serve's log (written after the commit), and to the acknowledgement
//     readable in the customer's INBOX (asked every 50 ms over IMAP, as
//     e2e/idle_test.go does). This run and the next encrypt at rest.
//  5. Many mailboxes (-many N, with -many-mails each; off by default): the
//     stack gets N more users, each INBOX gets its mails (small Korean
//     inquiries), and `ticketd serve` runs with all of them (IMAPS, IDLE on
//     each, schedule 1h): the time from serve's start until every mail is a
//     ticket and until every acknowledgement is sent, then one mail through
//     Postfix to each mailbox in turn, timed from SMTP accept to the
//     "imap: new ticket" line, with every IDLE connection open.
//  6. The stores (-stores, off by default; before 4 and 5): a throw-away
//     PostgreSQL (scripts/pgstack, port base+432) and, for each of -runs
//     rounds, `ticketd serve` (IMAPS, IDLE, encrypted at rest) on a fresh
//     bbolt with one node, on a fresh PostgreSQL database with one node
//     and with -nodes nodes (their own data dirs, one database, one key):
//     the time from the nodes' start until every mail is a ticket and
//     until every acknowledgement is sent (the nodes' log lines summed),
//     the acknowledgements each node sent, the database's commits
//     (pg_stat_database) and the transactions refused for a conflict
//     (serve's last log line), then tickets and acknowledgements delivered
//     are checked. First on the support INBOX with the mix (one mailbox:
//     one node holds its lease, every node sends acknowledgements), then,
//     with -many, on the many mailboxes (their leases spread; the support
//     INBOX is emptied for it).
//  7. Prints Markdown tables: the machine, then each figure as the median
//     of the runs with [min-max], and the targets of issue 7 for reference.
//
// The stack is stopped on exit, on Ctrl-C and on SIGTERM (a second signal,
// or 20 s without the run winding down, stops it at once and exits).
package main
