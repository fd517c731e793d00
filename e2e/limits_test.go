package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestBounceAndOversizedAgainstPostfix: a customer whose mailbox cannot be
// delivered to gets an acknowledgement, which Postfix accepts and then
// bounces with a real DSN to the support address; ticketd links
// the DSN to the ticket, marks the acknowledgement failed and suppresses
// the address. A mail over the size limit stays on the server, moved aside,
// with a ticket and a "too large" reply.
func TestBounceAndOversizedAgainstPostfix(t *testing.T) {
	s := Start(t, 26000)
	bin := buildTicketd(t, s.RepoRoot())
	cfg, _ := writeConfig(t, s, "limits: {max_message_bytes: 1048576, oversized_folder: Archive}")
	poll := func(want string) string {
		t.Helper()
		code, out := runTicketd(t, bin, cfg, "poll")
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("poll: exit %d, want %q:\n%s", code, want, out)
		}
		return out
	}

	// 1. The bounce: ghost@ is known to Postfix but not to Dovecot, so
	// Postfix accepts the acknowledgement and then bounces it.
	lost := "From: Ghost <ghost@example.test>\r\nTo: support@example.test\r\nSubject: from afar\r\n" +
		"Message-ID: <far-1@example.test>\r\n\r\nhello\r\n"
	if err := s.SendMail("ghost@example.test", []string{"support@example.test"}, []byte(lost)); err != nil {
		t.Fatal(err)
	}
	s.WaitMessage("support", "INBOX", HasMessageID("far-1@example.test"), 30*time.Second)
	poll("new tickets 1")
	// Postfix accepted the acknowledgement and bounced it to support@.
	if _, err := s.WaitMessage("support", "INBOX", Contains("report-type=delivery-status"), 30*time.Second); err != nil {
		t.Fatalf("no DSN from Postfix: %v", err)
	}
	poll("follow-ups 1")
	code, out := runTicketd(t, bin, cfg, "tickets", "show", "1", "--json")
	var v struct {
		Messages []struct {
			Kind, Delivery, Body string
		} `json:"messages"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
		t.Fatalf("show: %d %s", code, out)
	}
	var kinds []string
	for _, m := range v.Messages {
		kinds = append(kinds, m.Kind+"/"+m.Delivery)
	}
	if len(v.Messages) != 4 || v.Messages[1].Delivery != "failed" || v.Messages[2].Kind != "auto" || v.Messages[3].Kind != "note" ||
		!strings.Contains(v.Messages[3].Body, "ghost@example.test") {
		t.Fatalf("ticket #1 after the DSN: %v\n%s", kinds, out)
	}
	if code, out := runTicketd(t, bin, cfg, "suppressions", "list"); code != 0 || !strings.Contains(out, "ghost@example.test") {
		t.Fatalf("suppressions: %s", out)
	}
	if tickets := ticketCount(t, bin, cfg); tickets != 1 {
		t.Fatalf("%d tickets: the DSN opened a ticket of its own", tickets)
	}

	// 2. The oversized mail.
	big := fmt.Sprintf("From: customer@example.test\r\nTo: support@example.test\r\nSubject: big scan\r\nMessage-ID: <big-1@example.test>\r\n"+
		"Content-Type: application/octet-stream\r\n\r\n%s\r\n", bytes.Repeat([]byte("0123456789abcdef"), 80000))
	s.SendMail("customer@example.test", []string{"support@example.test"}, []byte(big))
	s.WaitMessage("support", "INBOX", HasMessageID("big-1@example.test"), 30*time.Second)
	poll("new tickets 1")
	if _, err := s.WaitMessage("support", "Archive", HasMessageID("big-1@example.test"), 10*time.Second); err != nil {
		t.Fatalf("oversized mail not moved to Archive: %v", err)
	}
	if _, err := s.WaitMessage("customer", "INBOX", Contains("In-Reply-To: <big-1@example.test>"), 30*time.Second); err != nil {
		t.Fatalf("no too-large reply: %v", err)
	}
}

func ticketCount(t *testing.T, bin, cfg string) int {
	code, out := runTicketd(t, bin, cfg, "tickets", "list", "--json")
	var list []any
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil {
		t.Fatalf("tickets list: %d %s", code, out)
	}
	return len(list)
}
