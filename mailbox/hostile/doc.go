// Package hostile is a scripted IMAP server for tests: it speaks enough
// IMAP4rev1 for ticketd's poller and IDLE watch (LOGIN, SELECT, EXAMINE,
// UID SEARCH, UID FETCH of UID, RFC822.SIZE, BODY.PEEK[] and
// BODY.PEEK[HEADER], UID STORE/COPY/MOVE/EXPUNGE, NOOP, IDLE, LOGOUT), and
// misbehaves as its [Plan] says: it stops answering at a chosen command or
// in the middle of a literal (as a server that hangs, or a connection gone
// half-open), lies about RFC822.SIZE, sends huge or unasked literals,
// refuses or leaves out a mail.
//
// It listens on 127.0.0.1 only and closes itself after Options.Lifetime,
// so a test that forgets it leaves nothing running.
package hostile
