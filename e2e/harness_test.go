package e2e

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// TestStack proves the harness: SMTP in, Postfix -> LMTP -> Dovecot, IMAP out,
// with a raw UTF-8 Korean subject, and IMAPS with the stack's CA.
func TestStack(t *testing.T) {
	s := Start(t, 23000)

	if s.Host != "127.0.0.1" || s.IMAPPort != 23143 || s.IMAPSPort != 23993 || s.SMTPPort != 23025 ||
		s.SubmissionPort != 23587 || s.SMTPSPort != 23465 {
		t.Fatalf("unexpected stack addresses: %+v", s)
	}
	if s.Password != "secret" || s.Domain != "example.test" || len(s.Users) != 3 {
		t.Fatalf("unexpected stack users: %+v", s)
	}
	if _, err := FindRepoRoot(); err != nil || s.RepoRoot() == "" {
		t.Fatalf("RepoRoot: %q, %v", s.RepoRoot(), err)
	}

	const subject = "문의: 주문 번호 12345 배송 지연"
	msgID := fmt.Sprintf("<e2e-stack-%d@example.test>", time.Now().UnixNano())
	raw := []byte("From: Kim Customer <customer@example.test>\r\n" +
		"To: support@example.test\r\n" +
		"Subject: " + subject + "\r\n" +
		"Message-ID: " + msgID + "\r\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n" +
		"\r\n" +
		"안녕하세요. 주문한 물건이 아직 도착하지 않았습니다.\r\n")
	sent := time.Now()
	if err := s.SendMail("customer@example.test", []string{"support@example.test"}, raw); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	got, err := s.WaitMessage("support", "INBOX", HasMessageID(msgID), 30*time.Second)
	if err != nil {
		t.Fatalf("WaitMessage: %v", err)
	}
	t.Logf("delivered and visible over IMAP %v after SMTP returned", time.Since(sent).Round(time.Millisecond))
	for _, want := range []string{
		"Message-ID: " + msgID + "\r\n",
		"Subject: " + subject + "\r\n", // the raw 8-bit UTF-8 bytes, unchanged
		"안녕하세요. 주문한 물건이 아직 도착하지 않았습니다.",
	} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("delivered message lacks %q:\n%s", want, got)
		}
	}

	all, err := s.Messages("support@example.test", "INBOX")
	if err != nil {
		t.Fatalf("Messages: %v", err)
	}
	if n := countMatching(all, HasMessageID(msgID)); n != 1 {
		t.Errorf("Messages(support, INBOX): %d copies of %s among %d messages, want 1", n, msgID, len(all))
	}
	if other, err := s.Messages("customer", "INBOX"); err != nil || countMatching(other, HasMessageID(msgID)) != 0 {
		t.Errorf("Messages(customer, INBOX) = %d messages, %v; want none with %s", len(other), err, msgID)
	}

	// WaitMessage gives up after its timeout.
	start := time.Now()
	if _, err := s.WaitMessage("support", "INBOX", HasMessageID("<never@example.test>"), 300*time.Millisecond); err == nil {
		t.Error("WaitMessage for a message never sent: no error")
	} else if d := time.Since(start); d > 5*time.Second {
		t.Errorf("WaitMessage timeout 300ms took %v", d)
	}

	// The support user has the Archive and Processed folders.
	c, err := s.DialIMAP("support")
	if err != nil {
		t.Fatalf("DialIMAP: %v", err)
	}
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatalf("LIST: %v", err)
	}
	names := map[string]bool{}
	for _, b := range boxes {
		names[b.Mailbox] = true
	}
	for _, want := range []string{"INBOX", "Archive", "Processed"} {
		if !names[want] {
			t.Errorf("support has no folder %q (LIST: %v)", want, names)
		}
	}
	if err := c.Logout().Wait(); err != nil {
		t.Errorf("LOGOUT: %v", err)
	}
	if msgs, err := s.Messages("support", "Processed"); err != nil || len(msgs) != 0 {
		t.Errorf("Messages(support, Processed) = %d, %v; want an empty folder", len(msgs), err)
	}

	// IMAPS: the certificate verifies against the stack's CA...
	pool, err := s.RootCAs()
	if err != nil {
		t.Fatalf("RootCAs: %v", err)
	}
	tc, err := imapclient.DialTLS(s.Addr(s.IMAPSPort), &imapclient.Options{
		TLSConfig: &tls.Config{RootCAs: pool},
		Dialer:    &net.Dialer{Timeout: 10 * time.Second},
	})
	if err != nil {
		t.Fatalf("IMAPS dial with the stack's CA: %v", err)
	}
	if err := tc.Login(s.Address("support"), s.Password).Wait(); err != nil {
		t.Fatalf("IMAPS login: %v", err)
	}
	sel, err := tc.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil || sel.NumMessages < 1 {
		t.Errorf("IMAPS EXAMINE INBOX: %+v, %v", sel, err)
	}
	if err := tc.Logout().Wait(); err != nil {
		t.Errorf("IMAPS LOGOUT: %v", err)
	}
	// ... and not without it (so the check above really verified something).
	if bad, err := imapclient.DialTLS(s.Addr(s.IMAPSPort), &imapclient.Options{
		Dialer: &net.Dialer{Timeout: 10 * time.Second},
	}); err == nil {
		bad.Close()
		t.Error("IMAPS with the system roots accepted the self-signed certificate")
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("IMAPS without the CA: want a certificate error, got %v", err)
	}
	if c, err := s.DialIMAPS("agent"); err != nil {
		t.Errorf("DialIMAPS(agent): %v", err)
	} else {
		c.Close()
	}
}

func countMatching(raws [][]byte, match func([]byte) bool) int {
	n := 0
	for _, r := range raws {
		if match(r) {
			n++
		}
	}
	return n
}

// TestMatchers needs no mail stack.
func TestMatchers(t *testing.T) {
	raw := []byte("From: a@example.test\r\nMessage-Id:  <x1@example.test>\r\nSubject: hi\r\n\r\nbody\r\n")
	for id, want := range map[string]bool{
		"<x1@example.test>": true,
		"x1@example.test":   true,
		"<x2@example.test>": false,
	} {
		if got := HasMessageID(id)(raw); got != want {
			t.Errorf("HasMessageID(%q) = %v, want %v", id, got, want)
		}
	}
	if HasMessageID("<x1@example.test>")([]byte("not a message")) {
		t.Error("HasMessageID matched garbage")
	}
	if !Contains("body")(raw) || Contains("nope")(raw) {
		t.Error("Contains is wrong")
	}
}
