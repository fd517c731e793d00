// Package ticket is the pure core of ticketd: tickets, messages and their
// statuses, the rules that turn an incoming mail into a new ticket or a
// follow-up, the acknowledgement policy, and the outbox worker.
//
// # Basics
//
// The package imports nothing else of ticketd. It owns the interfaces it
// consumes: [Store] (persistence, implemented by package store), [Sender]
// (SMTP, implemented by package mailbox) and [Renderer] (mail templates,
// implemented by package templates). Parsing MIME is not its job: callers hand
// it an already parsed [Mail] together with the raw bytes.
//
// [Service.Ingest] runs the whole decision for one mail inside a single
// [Store.Update] transaction: dedupe, threading, the ticket change, the
// message, its raw bytes, the mailbox cursor and any acknowledgement written
// to the outbox. Either all of it is committed or none of it is.
//
// # Invariants
//
//   - A mail is stored at most once: its dedupe key (the canonical Message-ID,
//     or the SHA-256 of the raw bytes when it has none) is written in the same
//     transaction as the message.
//   - A new ticket gets at most one acknowledgement, written to the outbox in
//     the transaction that creates the ticket; automatic mail never gets one.
//   - No network I/O happens inside a transaction. The outbox worker claims an
//     item (attempt count and next attempt time) in its own transaction,
//     committed before the end of the mail's data; it sends on several
//     connections at once (lanes by recipient), each leaving at most one mail
//     in doubt after a crash.
package ticket
