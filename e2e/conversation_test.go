package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ticketd/ticketd/mailbox"
)

// TestConversationAgainstDovecotAndPostfix: a customer mails, the agent is
// notified, the agent replies by SMTP, the customer receives the reply in
// their INBOX and replies again; everything lands on one ticket.
func TestConversationAgainstDovecotAndPostfix(t *testing.T) {
	s := Start(t, 25000)
	bin := buildTicketd(t, s.RepoRoot())
	cfg, _ := writeConfig(t, s, "agents: [{name: 김상담, email: agent@example.test}]", "threading: {plus_addressing: true}")
	poll := func(want string) {
		t.Helper()
		if code, out := runTicketd(t, bin, cfg, "poll"); code != 0 || !strings.Contains(out, want) {
			t.Fatalf("poll: exit %d, want %q:\n%s", code, want, out)
		}
	}

	if err := s.SendMail("customer@example.test", []string{"support@example.test"}, euckrMail(t, "conv-1@example.test")); err != nil {
		t.Fatal(err)
	}
	s.WaitMessage("support", "INBOX", HasMessageID("conv-1@example.test"), 30*time.Second)
	poll("new tickets 1")

	raw, err := s.WaitMessage("agent", "INBOX", Contains("Auto-Submitted: auto-generated"), 30*time.Second)
	if err != nil {
		t.Fatalf("agent was not notified: %v", err)
	}
	n, _ := mailbox.Parse(raw)
	if n.Subject != "[#1] 햇살론 상환 문의" || len(n.ReplyTo) != 1 || !strings.HasPrefix(n.ReplyTo[0].Email, "support+t1a-") || len(n.Attachments) != 1 {
		t.Fatalf("notification: subject %q reply-to %v attachments %v", n.Subject, n.ReplyTo, n.Attachments)
	}

	// The agent replies through Postfix to the token address; Postfix and
	// Dovecot deliver support+token@ to the support INBOX.
	reply := fmt.Sprintf("From: agent@example.test\r\nTo: %s\r\nSubject: Re: %s\r\nMessage-ID: <conv-agent-1@example.test>\r\n"+
		"In-Reply-To: <%s>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n상환일을 25일로 변경했습니다.\r\n\r\n"+
		"-----Original Message-----\r\nFrom: support@example.test\r\nSent: Tuesday, November 24, 2026 7:00 PM\r\nTo: agent@example.test\r\nSubject: %s\r\n\r\n새 문의 #1\r\n",
		n.ReplyTo[0].Email, n.Subject, n.MessageID, n.Subject)
	if err := s.SendMail("agent@example.test", []string{n.ReplyTo[0].Email}, []byte(reply)); err != nil {
		t.Fatal(err)
	}
	s.WaitMessage("support", "INBOX", HasMessageID("conv-agent-1@example.test"), 30*time.Second)
	poll("follow-ups 1")

	// The relayed reply: threaded to the customer's mail, like the
	// acknowledgement, but not automatic.
	raw, err = s.WaitMessage("customer", "INBOX", func(raw []byte) bool {
		return Contains("In-Reply-To: <conv-1@example.test>")(raw) && !Contains("Auto-Submitted:")(raw)
	}, 30*time.Second)
	if err != nil {
		t.Fatalf("customer never got the agent's reply: %v", err)
	}
	r, _ := mailbox.Parse(raw)
	if r.Subject != "[#1] Re: 햇살론 상환 문의" || r.InReplyTo != "conv-1@example.test" || r.From.Name != "김상담 (서민금융 고객센터)" ||
		!strings.Contains(r.Text, "상환일을 25일로 변경했습니다.") || strings.Contains(r.Text, "Original Message") {
		t.Fatalf("reply in the customer's INBOX: %+v", r)
	}

	// The customer replies again, to the signed Reply-To.
	back := fmt.Sprintf("From: customer@example.test\r\nTo: %s\r\nSubject: Re: %s\r\nMessage-ID: <conv-2@example.test>\r\n"+
		"In-Reply-To: <%s>\r\n\r\n확인했습니다. 감사합니다.\r\n", r.ReplyTo[0].Email, r.Subject, r.MessageID)
	s.SendMail("customer@example.test", []string{r.ReplyTo[0].Email}, []byte(back))
	s.WaitMessage("support", "INBOX", HasMessageID("conv-2@example.test"), 30*time.Second)
	poll("follow-ups 1")

	code, out := runTicketd(t, bin, cfg, "tickets", "list", "--json")
	if code != 0 || strings.Count(out, `"id"`) != 1 {
		t.Fatalf("want exactly one ticket:\n%s", out)
	}
	code, out = runTicketd(t, bin, cfg, "tickets", "show", "1")
	for _, want := range []string{"받음/고객", "보냄/자동 안내", "보냄/상담원", "상환일을 25일로 변경했습니다.", "확인했습니다. 감사합니다."} {
		if !strings.Contains(out, want) {
			t.Errorf("ticket #1 lacks %q:\n%s", want, out)
		}
	}
}
