// Package imap fetches a support mailbox's new mail into the ticket
// service: a [Poller] per IMAP folder, polling on demand and watching with
// IDLE. It feeds the ingest pipeline of package mailbox and never parses
// or stores a mail itself.
//
// # Basics
//
//   - [Poller.Poll] logs in, SELECTs the folder, checks UIDVALIDITY against
//     the cursor the ticket service keeps, asks UID SEARCH for the UIDs
//     above it and their RFC822.SIZE (a mail over Config.MaxMessageBytes is
//     never downloaded: oversized.go opens a ticket from its header), and
//     streams UID FETCH BODY.PEEK[] in batches into a [mailbox.Pipe]. After
//     each batch the mails the pipe committed get the post-action: \Seen,
//     or a move (UID MOVE; else COPY, \Deleted and UID EXPUNGE of exactly
//     those UIDs with UIDPLUS; without UIDPLUS the originals stay flagged
//     \Deleted rather than risk a plain EXPUNGE).
//   - [Poller.Watch] keeps a second, read-only connection in IDLE and calls
//     its trigger when the server announces mail; the caller polls.
//   - Every command and read has a deadline (timedconn.go): a server that
//     stops answering, or a half-open connection, fails the poll within
//     Config.Timeout instead of hanging it; our own work never counts.
//
// # Caveats
//
// go-imap's client falls back from MOVE to COPY + STORE + EXPUNGE without
// waiting for the COPY, and with an unscoped EXPUNGE when the server lacks
// UIDPLUS: that fallback can lose mail, so it is never used. Config takes
// every value as given (the configuration's defaults are ticketd's, in
// cmd/ticketd): a missing one is an error of NewPoller.
package imap
