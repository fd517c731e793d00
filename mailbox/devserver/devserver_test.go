package devserver

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	gosmtp "github.com/emersion/go-smtp"
)

func tcheck(t *testing.T, err error, msg string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", msg, err)
	}
}

func start(t *testing.T, tlsOn bool) *Server {
	t.Helper()
	s, err := Start(Options{
		Users: map[string]string{
			"support@example.test": "secret",
			"Agent@Example.test":   "agentpw",
		},
		Folders: []string{"Processed"},
		TLS:     tlsOn,
	})
	tcheck(t, err, "start")
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

const testMail = "From: Customer <customer@example.org>\r\n" +
	"To: support@example.test\r\n" +
	"Subject: =?UTF-8?B?7ZmY6riJIOusuOydmA==?=\r\n" +
	"Message-ID: <c1@example.org>\r\n" +
	"\r\n" +
	"hello\r\n.leading dot\r\n"

func sendMail(t *testing.T, addr string, rcpts ...string) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	tcheck(t, err, "dial smtp")
	defer c.Close()
	if err := c.Mail("customer@example.org"); err != nil {
		return err
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(testMail)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func TestSMTPToIMAP(t *testing.T) {
	s := start(t, false)
	tcheck(t, sendMail(t, s.SMTPAddr(), "support@example.test", "AGENT@example.TEST"), "send")

	// Read back with an independent IMAP client.
	c, err := imapclient.DialInsecure(s.IMAPAddr(), nil)
	tcheck(t, err, "dial imap")
	defer c.Close()
	tcheck(t, c.Login("support@example.test", "secret").Wait(), "login")
	sel, err := c.Select("INBOX", nil).Wait()
	tcheck(t, err, "select")
	if sel.NumMessages != 1 {
		t.Fatalf("INBOX has %d messages, want 1", sel.NumMessages)
	}
	section := &imap.FetchItemBodySection{Peek: true}
	bufs, err := c.Fetch(imap.UIDSetNum(1), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	tcheck(t, err, "fetch")
	if len(bufs) != 1 {
		t.Fatalf("fetched %d messages", len(bufs))
	}
	raw := bufs[0].FindBodySection(section)
	if !bytes.HasSuffix(raw, []byte(testMail)) {
		t.Errorf("delivered bytes do not end with the sent message:\n%s", raw)
	}
	if !bytes.HasPrefix(raw, []byte("Return-Path: <customer@example.org>\r\nReceived: from ")) {
		t.Errorf("missing Return-Path/Received trace:\n%s", raw)
	}

	// The second recipient, matched case-insensitively, got its own copy;
	// IMAP login uses the spelling from Options.Users.
	msgs, err := s.Messages("agent@example.test", "INBOX")
	tcheck(t, err, "messages agent")
	if len(msgs) != 1 || !bytes.HasSuffix(msgs[0], []byte(testMail)) {
		t.Errorf("agent INBOX: %q", msgs)
	}
	processed, err := s.Messages("support@example.test", "Processed")
	tcheck(t, err, "messages processed")
	if len(processed) != 0 {
		t.Errorf("Processed has %d messages", len(processed))
	}
}

func TestUnknownRecipient(t *testing.T) {
	s := start(t, false)
	err := sendMail(t, s.SMTPAddr(), "nobody@example.test")
	var te *textproto.Error
	if !errors.As(err, &te) || te.Code != 550 || !strings.Contains(te.Msg, "5.1.1") {
		t.Fatalf("want 550 5.1.1, got %v", err)
	}
	msgs, err := s.Messages("support@example.test", "INBOX")
	tcheck(t, err, "messages")
	if len(msgs) != 0 {
		t.Errorf("INBOX has %d messages", len(msgs))
	}
}

func TestAppendMessagesRoundTrip(t *testing.T) {
	s := start(t, false)
	mails := [][]byte{[]byte(testMail), []byte("Subject: two\r\n\r\nsecond\r\n"), []byte("Subject: 3\r\n\r\n\xb0\xa1 raw 8-bit\r\n")}
	for _, m := range mails {
		tcheck(t, s.Append("support@example.test", "Processed", m), "append")
	}
	got, err := s.Messages("support@example.test", "Processed")
	tcheck(t, err, "messages")
	if len(got) != len(mails) {
		t.Fatalf("got %d messages, want %d", len(got), len(mails))
	}
	for i := range mails {
		if !bytes.Equal(got[i], mails[i]) {
			t.Errorf("message %d: got %q, want %q", i, got[i], mails[i])
		}
	}
	if err := s.Append("support@example.test", "NoSuchFolder", mails[0]); err == nil {
		t.Error("append to a missing folder: no error")
	}
	if err := s.Append("nobody@example.test", "INBOX", mails[0]); err == nil {
		t.Error("append for an unknown user: no error")
	}
}

func TestSMTPAuth(t *testing.T) {
	s := start(t, false)
	c, err := smtp.Dial(s.SMTPAddr())
	tcheck(t, err, "dial")
	defer c.Close()
	// net/smtp sends PLAIN without TLS only to localhost/127.0.0.1.
	if err := c.Auth(smtp.PlainAuth("", "support@example.test", "wrong", "127.0.0.1")); err == nil {
		t.Fatal("bad password accepted")
	}
	// net/smtp quits after a failed AUTH; start over.
	c, err = smtp.Dial(s.SMTPAddr())
	tcheck(t, err, "dial")
	defer c.Close()
	tcheck(t, c.Auth(smtp.PlainAuth("", "SUPPORT@example.test", "secret", "127.0.0.1")), "auth")
}

func TestHook(t *testing.T) {
	s := start(t, false)
	var seen []string
	s.SetSMTPHook(func(from string, rcpts []string, data []byte) error {
		if data == nil {
			seen = append(seen, "rcpt "+strings.Join(rcpts, ","))
			if rcpts[0] == "agent@example.test" {
				return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 2, 0}, Message: "try later"}
			}
			return nil
		}
		seen = append(seen, "data")
		return errors.New("plain error")
	})
	err := sendMail(t, s.SMTPAddr(), "agent@example.test")
	var te *textproto.Error
	if !errors.As(err, &te) || te.Code != 451 {
		t.Fatalf("rcpt hook: want 451, got %v", err)
	}
	err = sendMail(t, s.SMTPAddr(), "support@example.test")
	if !errors.As(err, &te) || te.Code != 451 || !strings.Contains(te.Msg, "plain error") {
		t.Fatalf("data hook: want 451, got %v", err)
	}
	if got := strings.Join(seen, ";"); got != "rcpt agent@example.test;rcpt support@example.test;data" {
		t.Errorf("hook calls: %s", got)
	}
	s.SetSMTPHook(nil)
	tcheck(t, sendMail(t, s.SMTPAddr(), "support@example.test"), "send without hook")
}

func TestTLS(t *testing.T) {
	s := start(t, true)
	if s.RootCAs() == nil || s.IMAPTLSAddr() == "" || s.SMTPTLSAddr() == "" {
		t.Fatal("TLS on but no RootCAs, IMAPTLSAddr or SMTPTLSAddr")
	}

	// SMTP STARTTLS with verification against RootCAs.
	c, err := smtp.Dial(s.SMTPAddr())
	tcheck(t, err, "dial smtp")
	tcheck(t, c.StartTLS(&tls.Config{ServerName: "127.0.0.1", RootCAs: s.RootCAs()}), "starttls")
	tcheck(t, c.Quit(), "quit")

	// The same certificate is not trusted by the system roots.
	c, err = smtp.Dial(s.SMTPAddr())
	tcheck(t, err, "dial smtp")
	if err := c.StartTLS(&tls.Config{ServerName: "127.0.0.1"}); err == nil {
		t.Error("STARTTLS verified a self-signed certificate without RootCAs")
	}
	c.Close()

	// Implicit-TLS SMTP.
	conn, err := tls.Dial("tcp", s.SMTPTLSAddr(), &tls.Config{ServerName: "127.0.0.1", RootCAs: s.RootCAs()})
	tcheck(t, err, "dial smtps")
	c, err = smtp.NewClient(conn, "127.0.0.1")
	tcheck(t, err, "smtps greeting")
	tcheck(t, c.Auth(smtp.PlainAuth("", "support@example.test", "secret", "127.0.0.1")), "smtps auth")
	tcheck(t, c.Quit(), "smtps quit")

	tcheck(t, s.Append("support@example.test", "INBOX", []byte(testMail)), "append")
	for name, dial := range map[string]func() (*imapclient.Client, error){
		"imaps": func() (*imapclient.Client, error) {
			return imapclient.DialTLS(s.IMAPTLSAddr(), &imapclient.Options{TLSConfig: &tls.Config{RootCAs: s.RootCAs()}})
		},
		"starttls": func() (*imapclient.Client, error) {
			return imapclient.DialStartTLS(s.IMAPAddr(), &imapclient.Options{TLSConfig: &tls.Config{RootCAs: s.RootCAs()}})
		},
	} {
		ic, err := dial()
		tcheck(t, err, name)
		tcheck(t, ic.Login("support@example.test", "secret").Wait(), name+" login")
		sel, err := ic.Select("INBOX", nil).Wait()
		tcheck(t, err, name+" select")
		if sel.NumMessages != 1 {
			t.Errorf("%s: %d messages", name, sel.NumMessages)
		}
		ic.Close()
	}
}

func TestNoTLS(t *testing.T) {
	s := start(t, false)
	if s.RootCAs() != nil || s.IMAPTLSAddr() != "" || s.SMTPTLSAddr() != "" {
		t.Error("TLS off but TLS addresses or RootCAs set")
	}
}

func TestStartErrors(t *testing.T) {
	if _, err := Start(Options{SMTPListen: "0.0.0.0:0"}); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("non-loopback listen: %v", err)
	}
	if _, err := Start(Options{Users: map[string]string{"a@x.test": "1", "A@x.test": "2"}}); err == nil {
		t.Error("duplicate user accepted")
	}
	if _, err := Start(Options{Users: map[string]string{"support": "1"}}); err == nil {
		t.Error("user without @ accepted")
	}
}

func TestIMAP4rev1Only(t *testing.T) {
	s, err := Start(Options{Users: map[string]string{"support@example.test": "pw"}, Caps: imap.CapSet{imap.CapIMAP4rev1: {}}})
	tcheck(t, err, "start")
	defer s.Close()
	c, err := imapclient.DialInsecure(s.IMAPAddr(), nil)
	tcheck(t, err, "dial")
	defer c.Close()
	tcheck(t, c.Login("support@example.test", "pw").Wait(), "login")
	if c.Caps().Has(imap.CapMove) {
		t.Error("MOVE advertised with IMAP4rev1 only")
	}
}
