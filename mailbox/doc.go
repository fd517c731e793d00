// Package mailbox is the ingest glue between the mail packages and the
// ticket core: it turns a raw mail into a ticket.Mail and runs the
// pipeline that stores a stream of mails. Reading mail is package rfc822,
// what the author wrote is package quote, fetching is package imap,
// sending is package smtp; this package ties the first two to the core
// and is driven by the third.
//
// # Basics
//
//   - [Parse] and [ParseWith] read one mail: rfc822.Parse copies the header
//     fields the core's rules need (ticket.RuleHeaders, or the service's
//     HeaderFields with the configured spam header), quote.Visible finds
//     the author's own text, and the result becomes a ticket.Mail.
//   - A [Pipe] is the typed engine below the poller: a caller (imap.Poller)
//     reserves room for each mail's bytes, submits [Job]s in order, and
//     Takes what was [Committed]. Mails are parsed on Workers goroutines and
//     committed in order, in batches bounded by mails and bytes, each with
//     its [Folder] cursor in the same transaction; the raw bytes in flight
//     are bounded too. A batch that fails is stored one mail at a time; a
//     mail that cannot be stored is quarantined.
//   - [Deliver] is the same path for one mail (`ticketd ingest`, the
//     oversized note), [Retry] for a quarantined one. [Attachments] gives
//     the outbox the files of a stored mail to send with a reply.
//
// # Caveats
//
// Each mail is one unit of work with its own panic boundaries, reading
// (parseJob) and storing (deliverParsed), and a batch has one (ingestBatch):
// a panic quarantines the mail it belongs to and is logged once with its
// stack; the pipe goes on. Nothing here opens a connection.
package mailbox
