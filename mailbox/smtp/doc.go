// Package smtp sends the outbox's mail: a [Sender] implements
// ticket.Sender over SMTP submission with go-mail.
//
// # Basics
//
//   - [BuildMessage] turns a ticket.Outgoing into the bytes sent: our
//     Message-ID, the loop and auto-reply headers, text and HTML parts, the
//     attachments the outbox resolved.
//   - [Sender.Send] dials with STARTTLS (mandatory) or implicit TLS, or
//     plain only to a loopback host, authenticates, and runs the
//     transaction itself: one RCPT per recipient, so a refused one is
//     reported as a ticket.Refusal while the others get the mail.
//   - Failures before the server has the mail are a [*ConnectError] naming
//     the stage (connect, TLS, greeting, auth), which /healthz reports;
//     5xx answers to the message are permanent, everything else is tried
//     again.
//
// # Caveats
//
// Certificate verification cannot be turned off: a TLSConfig with
// InsecureSkipVerify is refused. Config takes every value as given; the
// defaults are the configuration's, in cmd/ticketd.
package smtp
