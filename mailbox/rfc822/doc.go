// Package rfc822 reads mail: one RFC 5322 message, best-effort, into a
// [Message] of its own types. It imports nothing else of ticketd; package
// mailbox turns a Message into the core's ticket.Mail.
//
// # Basics
//
//   - [Parse] reads the header with go-message's textproto and the body with
//     a multipart splitter of its own (multipart.go) that works on the mail
//     in memory: parts are slices of it, delimiters match by prefix,
//     innermost boundary first (RFC 2046 section 5.1.1), an outer delimiter
//     ends an unclosed inner multipart, a part cut off by the end of the mail
//     keeps its text.
//   - Text is decoded from every charset Korean mail uses (EUC-KR,
//     ks_c_5601-1987, CP949, ISO-2022-KR) and the other common ones
//     (charset.go); header words per RFC 2047 and parameters per RFC 2231;
//     addresses, Message-IDs and dates leniently; base64, quoted-printable
//     and uuencode by decoders of its own that keep what is readable.
//   - HTML-only mail is rendered as text ([HTMLToText]); stored HTML is
//     sanitised ([SanitizeHTML]).
//   - A forwarded message (message/rfc822) stays one attachment and is
//     rendered as a section ([Message.Forwarded], [WithSections]).
//   - Delivery failure reports, RFC 3464 and the common non-standard ones,
//     are recognised (bounce.go: [Message.Bounce]).
//   - [ExtractAttachments] returns the decoded attachments of a stored mail.
//
// # Caveats
//
// Broken MIME never fails the parse: every readable part is kept and a
// warning recorded. Only input that is not a mail at all is an error
// ([ErrNotMail]). One mail's cost is bounded: header size, MIME depth and
// parts are limited, decoded parts cannot exceed the mail.
package rfc822
