package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ticketd/ticketd/mailbox"
)

// TestPersonalDataMaskedAgainstDovecotAndPostfix: a customer writes their
// resident registration, card, account and phone numbers; the agent's
// notification, read back from the agent's mailbox, the acknowledgement,
// tickets list and show (text and JSON) and the poll's log show them
// masked, and the JSON counts them by kind.
func TestPersonalDataMaskedAgainstDovecotAndPostfix(t *testing.T) {
	s := Start(t, 34000)
	bin := buildTicketd(t, s.RepoRoot())
	cfg, _ := writeConfig(t, s, "agents: [{name: 김상담, email: agent@example.test}]", "log: {level: debug}")
	secrets := []string{"900101-1234568", "1234568", "4111-1111-1111-1111", "110-123-456789", "010-9876-5432", "9876"}
	body := "안녕하세요. 본인 확인용 주민등록번호는 900101-1234568 입니다.\r\n" +
		"결제 카드 4111-1111-1111-1111, 환불 계좌는 신한은행 110-123-456789 입니다.\r\n연락처 010-9876-5432\r\n"
	raw := fmt.Sprintf("From: 김민수 <customer@example.test>\r\nTo: support@example.test\r\nSubject: 주민번호 900101-1234568 본인 확인 문의\r\n"+
		"Message-ID: <pii-1@example.test>\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"+
		"Content-Transfer-Encoding: 8bit\r\n\r\n%s", time.Now().Format(time.RFC1123Z), body)
	if err := s.SendMail("customer@example.test", []string{"support@example.test"}, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	s.WaitMessage("support", "INBOX", HasMessageID("pii-1@example.test"), 30*time.Second)
	code, pollOut := runTicketd(t, bin, cfg, "poll")
	if code != 0 || !strings.Contains(pollOut, "new tickets 1") {
		t.Fatalf("poll: exit %d\n%s", code, pollOut)
	}
	leaks := func(what, s string) {
		t.Helper()
		for _, v := range secrets {
			if strings.Contains(s, v) {
				t.Errorf("%s holds %q:\n%s", what, v, s)
			}
		}
	}
	leaks("the poll's output and log", pollOut)

	n, err := s.WaitMessage("agent", "INBOX", Contains("Auto-Submitted: auto-generated"), 30*time.Second)
	if err != nil {
		t.Fatalf("agent was not notified: %v", err)
	}
	nm, _ := mailbox.Parse(n)
	leaks("the notification's subject", nm.Subject)
	leaks("the notification's text", nm.Text)
	for _, want := range []string{"900101-1******", "****-****-****-1111", "***-***-**6789", "010-****-5432"} {
		if !strings.Contains(nm.Subject+nm.Text, want) {
			t.Errorf("the notification lacks the masked %q:\n%s\n%s", want, nm.Subject, nm.Text)
		}
	}
	ack, err := s.WaitMessage("customer", "INBOX", Contains("Auto-Submitted: auto-replied"), 30*time.Second)
	if err != nil {
		t.Fatalf("no acknowledgement: %v", err)
	}
	am, _ := mailbox.Parse(ack)
	leaks("the acknowledgement", am.Subject+am.Text+am.HTML)

	_, list := runTicketd(t, bin, cfg, "tickets", "list")
	leaks("tickets list", list)
	_, listJSON := runTicketd(t, bin, cfg, "tickets", "list", "--json")
	leaks("tickets list --json", listJSON)
	_, show := runTicketd(t, bin, cfg, "tickets", "show", "1")
	leaks("tickets show", show)
	code, showJSON := runTicketd(t, bin, cfg, "tickets", "show", "1", "--json")
	leaks("tickets show --json", showJSON)
	var v struct {
		Messages []struct {
			PersonalData []struct {
				Kind  string `json:"kind"`
				Count int    `json:"count"`
			} `json:"personal_data"`
		} `json:"messages"`
	}
	if code != 0 || json.Unmarshal([]byte(showJSON), &v) != nil || len(v.Messages) == 0 {
		t.Fatalf("tickets show --json: exit %d\n%s", code, showJSON)
	}
	got := fmt.Sprint(v.Messages[0].PersonalData)
	if got != "[{rrn 2} {card 1} {account 1} {phone 1}]" {
		t.Errorf("personal_data of the customer's mail: %s, want the RRN twice (subject and body) and one of each other kind", got)
	}

	// The agent answers with the customer's number: held, and the agent
	// is told; sent again with #send-anyway, it reaches the customer.
	answer := func(id, first string) {
		t.Helper()
		r := fmt.Sprintf("From: 김상담 <agent@example.test>\r\nTo: %s\r\nSubject: Re: %s\r\nMessage-ID: <%s>\r\n"+
			"In-Reply-To: <%s>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s확인된 주민등록번호 900101-1234568 로 처리했습니다.\r\n",
			nm.ReplyTo[0].Email, nm.Subject, id, nm.MessageID, first)
		if err := s.SendMail("agent@example.test", []string{nm.ReplyTo[0].Email}, []byte(r)); err != nil {
			t.Fatal(err)
		}
		s.WaitMessage("support", "INBOX", HasMessageID(id), 30*time.Second)
		if code, out := runTicketd(t, bin, cfg, "poll"); code != 0 {
			t.Fatalf("poll: exit %d\n%s", code, out)
		}
	}
	answer("pii-agent-1@example.test", "")
	warn, err := s.WaitMessage("agent", "INBOX", Contains("#send-anyway"), 30*time.Second)
	if err != nil {
		t.Fatalf("the agent was not told the reply was held: %v", err)
	}
	leaks("the warning to the agent", string(warn))
	if raws, _ := s.Messages("customer", "INBOX"); len(raws) != 1 {
		t.Fatalf("the customer has %d mails, want only the acknowledgement (the reply is held)", len(raws))
	}
	answer("pii-agent-2@example.test", "#send-anyway\r\n")
	sent, err := s.WaitMessage("customer", "INBOX", func(raw []byte) bool {
		m, err := mailbox.Parse(raw)
		return err == nil && strings.Contains(m.Text, "900101-1234568 로 처리했습니다")
	}, 30*time.Second)
	if err != nil {
		t.Fatalf("the reply sent anyway never came: %v", err)
	}
	if m, _ := mailbox.Parse(sent); strings.Contains(m.Text, "#send-anyway") {
		t.Errorf("the command reached the customer:\n%s", m.Text)
	}
}
