// Package mailbox is ticketd's mail wire: it turns IMAP folders into
// ticket.Incoming and ticket.Outgoing into SMTP transactions, and parses
// MIME. It implements ticket.Sender and drives a *ticket.Service.
//
// # Basics
//
//   - [Poller] fetches the mail above a folder's cursor (UIDVALIDITY and
//     last committed UID, kept by the ticket service) with streaming
//     UID FETCH BODY.PEEK[], asks RFC822.SIZE first so a mail over the
//     limit is never downloaded, hands each mail to [Deliver], and applies
//     the post-action (\Seen, or a move) only after the mail is committed.
//     [Poller.Watch] adds IMAP IDLE on a second connection.
//   - [Parse] reads one RFC 5322 mail best-effort: every charset Korean
//     mail uses (EUC-KR, ks_c_5601-1987, CP949, ISO-2022-KR) and the other
//     common ones, RFC 2047/2231, HTML-only bodies rendered to text, quote
//     stripping ([HTMLVisibleText], ticket.Visible), bounces, and broken
//     MIME with warnings instead of errors. [ExtractAttachments] returns the
//     decoded attachments of a stored mail.
//   - [SMTPSender] sends an Outgoing with go-mail: STARTTLS or implicit TLS
//     (plain only to loopback), one RCPT per recipient so a refused one
//     does not stop the others, 5xx marked permanent.
//   - [Deliver] is the one path from raw bytes to the store used by the
//     poller, `ticketd ingest` and quarantine retries; it never loses a
//     mail: what cannot be parsed, stored or handled is quarantined.
//
// # Caveats
//
// The go-imap client's MOVE fallback is not used (it can lose mail): a
// move is UID MOVE, or COPY then \Deleted and UID EXPUNGE of exactly those
// UIDs when the server has UIDPLUS; without UIDPLUS the originals stay
// flagged \Deleted. go-message's multipart reader matches a boundary
// exactly, not by prefix (RFC 2046 section 5.1.1).
package mailbox
