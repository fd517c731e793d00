// Package e2e holds ticketd's end-to-end tests and their harness.
//
// The tests run against a real Dovecot (IMAP, IMAPS, LMTP) and Postfix (SMTP,
// submission, SMTPS) bound to 127.0.0.1, started for each test by
// scripts/mailstack/up.sh into a temporary directory and stopped again by
// scripts/mailstack/down.sh. They need root (Postfix does) and are skipped
// unless TICKETD_E2E=1 is set; the way to run them is the project's test
// command, which installs the mail packages first when they are missing:
//
//	sudo scripts/test.sh
//
// or, for this package alone (as root):
//
//	TICKETD_E2E=1 go test -count=1 -v ./e2e/
//
// Harness (harness.go, usable from any _test.go file of this package):
//
//	s := e2e.Start(t, 23000)   // own MAILSTACK_PORT_BASE per test/package
//	s.SendMail("customer@example.test", []string{"support@example.test"}, raw)
//	raw, err := s.WaitMessage("support", "INBOX", e2e.HasMessageID("<id@x>"), 10*time.Second)
//
// Users support@, agent@ and customer@example.test exist with the password
// "secret"; every user has the folders INBOX, Archive (\Archive) and
// Processed, besides Drafts, Sent, Trash and Junk. Ports are BASE+143 (IMAP),
// BASE+993 (IMAPS), BASE+25 (SMTP, no auth needed from 127.0.0.1), BASE+587
// (submission: STARTTLS and AUTH required) and BASE+465 (SMTPS). The TLS
// certificate is self-signed (SAN localhost and 127.0.0.1): use RootCAs or
// TLSConfig.
//
// Pick port bases at least 1000 apart (e.g. 20000, 21000, ...), one per test
// that runs a stack at the same time as others: go test runs packages in
// parallel. Two stacks with the same base in one machine are serialized by
// a lock file, not run at once.
package e2e
