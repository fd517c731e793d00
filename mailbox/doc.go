// Package mailbox is ticketd's mail wire: it turns IMAP folders into
// ticket.Incoming and ticket.Outgoing into SMTP transactions, and parses
// MIME. It implements ticket.Sender and drives a *ticket.Service.
//
// # Basics
//
//   - [Poller] fetches the mail above a folder's cursor (UIDVALIDITY and
//     last committed UID, kept by the ticket service) with streaming
//     UID FETCH BODY.PEEK[], asks RFC822.SIZE first so a mail over the
//     limit is never downloaded, and feeds a [Pipe]: mails are parsed on
//     every core and committed in order, in batches bounded by bytes, each
//     mail's cursor in its batch's transaction; the raw bytes in flight
//     are bounded too. The post-action (\Seen, or a move) is applied only
//     to mails committed. [Poller.Watch] adds IMAP IDLE on a second
//     connection.
//   - [Parse] reads one RFC 5322 mail best-effort: every charset Korean
//     mail uses (EUC-KR, ks_c_5601-1987, CP949, ISO-2022-KR) and the other
//     common ones, RFC 2047/2231, HTML-only bodies rendered to text, quote
//     stripping ([HTMLVisibleText], ticket.Visible), bounces, and broken
//     MIME with warnings instead of errors; its multipart splitter works on
//     the mail in memory (parts are slices of it) and matches delimiters
//     by prefix, innermost boundary first (RFC 2046 section 5.1.1). A
//     forwarded message (message/rfc822) stays an attachment and its text
//     is shown as a forwarded section. [ExtractAttachments] returns the
//     decoded attachments of a stored mail.
//   - [SMTPSender] sends an Outgoing with go-mail: STARTTLS or implicit TLS
//     (plain only to loopback), one RCPT per recipient so a refused one
//     does not stop the others, 5xx marked permanent.
//   - [Deliver] is the path from raw bytes to the store used by
//     `ticketd ingest` and quarantine retries, as [Pipe] is the poller's;
//     neither loses a mail: what cannot be parsed, stored or handled is
//     quarantined.
//
// # Caveats
//
// The go-imap client's MOVE fallback is not used (it can lose mail): a
// move is UID MOVE, or COPY then \Deleted and UID EXPUNGE of exactly those
// UIDs when the server has UIDPLUS; without UIDPLUS the originals stay
// flagged \Deleted.
package mailbox
