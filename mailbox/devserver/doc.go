// Package devserver runs a throw-away IMAP and SMTP server inside the
// process, for `ticketd demo` and for integration tests. Nothing is written
// to disk; everything is lost on Close.
//
// # Basics
//
// [Start] listens on 127.0.0.1 (random ports unless given) with:
//
//   - an IMAP server (go-imap/v2 imapserver over imapmemserver). Users log in
//     with their full email address and the password from [Options.Users];
//     LOGIN and AUTHENTICATE PLAIN are allowed without TLS. Every user has an
//     INBOX plus the folders in [Options.Folders].
//   - an SMTP server (go-smtp) that accepts mail from anyone, with or without
//     AUTH (AUTH PLAIN is offered and checked against the same passwords),
//     and delivers each accepted message into the INBOX of every recipient.
//     A recipient that is not a known user is refused at RCPT with
//     550 5.1.1. The delivered bytes are the received bytes with a
//     Return-Path and a Received header prepended, as a real MTA would.
//
// With [Options.TLS], a self-signed certificate for 127.0.0.1, ::1 and
// localhost is generated in memory: IMAP and SMTP then offer STARTTLS, extra
// IMAP and SMTP listeners speak implicit TLS ([Server.IMAPTLSAddr],
// [Server.SMTPTLSAddr]), and
// [Server.RootCAs] returns a pool that trusts the certificate, so clients
// can keep verification on.
//
// # Test hooks
//
// [Server.SetSMTPHook] installs a function that sees every RCPT (data nil)
// and every message (data set) before it is accepted; returning an
// *smtp.SMTPError (for example Code 550 or 451) makes the server answer
// with it. This is how tests produce permanent and temporary SMTP failures.
//
// # Caveats
//
//   - Listen addresses must be loopback: the server offers plain-text
//     authentication and accepts mail from anyone.
//   - Users are keyed by email address. SMTP recipients and AUTH user names
//     match case-insensitively; IMAP login names must be spelt as in
//     [Options.Users] (imapmemserver compares them exactly).
//   - The underlying imapmemserver keeps nothing across a restart, and
//     answers a MOVE with two EXPUNGE responses for the moved message.
package devserver
