package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestTrustAgainstDovecotAndPostfix, through the real mail stack: a
// customer's second inquiry within the minimum interval gets its number a
// little later, in its own acknowledgement; a stranger who knows the
// customer's Message-ID opens a ticket of their own; an address Postfix
// refuses as unknown (5.1.1) is suppressed, and only that one.
func TestTrustAgainstDovecotAndPostfix(t *testing.T) {
	s := Start(t, 22000)
	bin := buildTicketd(t, s.RepoRoot())
	cfg, _ := writeConfig(t, s, "limits: {auto_min_interval: 3s}")
	poll := func(want string) {
		t.Helper()
		if code, out := runTicketd(t, bin, cfg, "poll"); code != 0 || !strings.Contains(out, want) {
			t.Fatalf("poll: exit %d, want %q:\n%s", code, want, out)
		}
	}
	// send delivers a mail to support through Postfix, from the address
	// addr (envelope and From, with a display name).
	send := func(addr, msgid, subject, extra string) {
		t.Helper()
		raw := fmt.Sprintf("From: Sender <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\nDate: %s\r\n%sContent-Type: text/plain; charset=utf-8\r\n\r\n문의드립니다.\r\n",
			addr, s.Address("support"), subject, msgid, time.Now().Format(time.RFC1123Z), extra)
		if err := s.SendMail(addr, []string{s.Address("support")}, []byte(raw)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.WaitMessage("support", "INBOX", HasMessageID(msgid), 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	customer := s.Address("customer")
	acks := func() int {
		msgs, _ := s.Messages("customer", "INBOX")
		n := 0
		for _, m := range msgs {
			if Contains("Auto-Submitted: auto-replied")(m) {
				n++
			}
		}
		return n
	}

	// Two inquiries a moment apart: the second acknowledgement is held,
	// then sent.
	send(customer, "trust-1@example.test", "햇살론 문의", "")
	poll("new tickets 1")
	send(customer, "trust-2@example.test", "채무조정 문의", "")
	poll("new tickets 1")
	if _, err := s.WaitMessage("customer", "INBOX", Contains("[#1]"), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := acks(); n != 1 {
		t.Fatalf("%d acknowledgements right after the second inquiry, want 1 (the second is held)", n)
	}
	code, out := runTicketd(t, bin, cfg, "tickets", "show", "2", "--json")
	if code != 0 || !strings.Contains(out, "접수 안내 메일을 잠시 보류했습니다") {
		t.Fatalf("ticket #2 does not record the held acknowledgement: %s", out)
	}
	time.Sleep(3500 * time.Millisecond)
	poll("support/INBOX") // releases what is due, then sends it
	if _, err := s.WaitMessage("customer", "INBOX", Contains("[#2]"), 30*time.Second); err != nil {
		t.Fatalf("the held acknowledgement of #2 never came: %v", err)
	}

	// A stranger who names the customer's mail in References.
	send("mallory@elsewhere.example", "trust-3@elsewhere.example", "Re: 햇살론 문의", "References: <trust-1@example.test>\r\n")
	poll("new tickets 1")
	code, out = runTicketd(t, bin, cfg, "tickets", "show", "1", "--json")
	if code != 0 || strings.Contains(out, "mallory@") {
		t.Fatalf("the stranger got onto #1: %s", out)
	}
	code, out = runTicketd(t, bin, cfg, "tickets", "list", "--json")
	var list []struct {
		ID        int `json:"id"`
		Requester struct {
			Email string `json:"email"`
		} `json:"requester"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 3 || list[2].Requester.Email != "mallory@elsewhere.example" {
		t.Fatalf("tickets after the stranger's mail: %s", out)
	}

	// A sender whose address Postfix does not know: the acknowledgement is
	// refused at RCPT with 5.1.1, so that address (and only it) is
	// suppressed, and the failure is on its ticket.
	unknown := "nobody-here@" + strings.SplitN(s.Address("support"), "@", 2)[1]
	send(unknown, "trust-4@example.test", "없는 주소", "")
	poll("new tickets 1")
	code, out = runTicketd(t, bin, cfg, "suppressions", "list")
	if code != 0 || !strings.Contains(out, unknown) || !strings.Contains(out, "5.1.1") || strings.Contains(out, customer) {
		t.Fatalf("suppressions: %s", out)
	}
	code, show := runTicketd(t, bin, cfg, "tickets", "show", "4", "--json")
	if code != 0 || !strings.Contains(show, `"delivery": "failed"`) {
		t.Fatalf("ticket #4 does not record the refused acknowledgement: %s", show)
	}
	fmt.Printf("trust e2e: held acknowledgement of #2 sent after the interval; the stranger's reference opened #%d; suppressed: %s\n",
		list[2].ID, strings.Join(strings.Fields(out), " "))
}
