package main

import (
	"fmt"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/ticket"
)

// latest returns the newest mail in user's INBOX, parsed, and how many
// there are.
func (s *testStack) latest(t *testing.T, user string) (*ticket.Mail, []byte, int) {
	t.Helper()
	msgs, err := s.srv.Messages(user, "INBOX")
	if err != nil || len(msgs) == 0 {
		t.Fatalf("%s has no mail (%v)", user, err)
	}
	m, err := mailbox.Parse(msgs[len(msgs)-1])
	if err != nil {
		t.Fatal(err)
	}
	return m, msgs[len(msgs)-1], len(msgs)
}

func (s *testStack) send(t *testing.T, from string, to []string, raw string) {
	t.Helper()
	if err := smtp.SendMail(s.srv.SMTPAddr(), nil, from, to, []byte(raw)); err != nil {
		t.Fatalf("send from %s: %v", from, err)
	}
}

func (s *testStack) mustPoll(t *testing.T, want string) {
	t.Helper()
	if code, out, errs := s.ticketd(t, nil, "poll"); code != 0 || !strings.Contains(out, want) {
		t.Fatalf("poll: exit %d, want %q in:\n%s%s", code, want, out, errs)
	}
}

func TestAgentConversationByEmailAndCLI(t *testing.T) {
	s := newStack(t, `agents: [{name: 김상담, email: agent@example.test}]`, `threading: {plus_addressing: true}`)
	s.srv.Append("support@example.test", "INBOX", []byte(inquiry))
	s.mustPoll(t, "new tickets 1")

	// The agent is notified, with the customer's attachment and a Reply-To
	// token bound to them.
	n, nraw, _ := s.latest(t, "agent@example.test")
	if n.Subject != "[#1] 대출 상환일 문의" || len(n.Attachments) != 1 || n.Attachments[0].Filename != "screen.png" ||
		len(n.ReplyTo) != 1 || !strings.HasPrefix(n.ReplyTo[0].Email, "support+t1a-") ||
		n.Headers["Auto-Submitted"] != "auto-generated" || !strings.Contains(n.Text, "상환일을 바꾸고 싶습니다.") {
		t.Fatalf("notification: %+v\n%s", n, nraw)
	}

	// The agent replies from a mail client, quoting in the Korean Gmail form.
	reply := fmt.Sprintf("From: 김상담 <agent@example.test>\r\nTo: %s\r\nSubject: Re: %s\r\nMessage-ID: <agent-r1@example.test>\r\n"+
		"In-Reply-To: <%s>\r\nReferences: <%s>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
		"안녕하세요, 다음 달부터 25일로 변경해 드렸습니다.\r\n\r\n"+
		"2026년 11월 24일 (화) 오후 7:00, 서민금융 고객센터 <support@example.test>님이 작성:\r\n> 새 문의 #1\r\n> 상환일을 바꾸고 싶습니다.\r\n",
		n.ReplyTo[0].Email, n.Subject, n.MessageID, n.MessageID)
	s.send(t, "agent@example.test", []string{n.ReplyTo[0].Email}, reply)
	s.mustPoll(t, "follow-ups 1")

	r, rraw, count := s.latest(t, "kim@example.test")
	if count != 2 { // the acknowledgement, then the reply
		t.Fatalf("customer has %d mails, want 2", count)
	}
	if r.Subject != "[#1] Re: 대출 상환일 문의" || r.From.Name != "김상담 (서민금융 고객센터)" || r.From.Email != "support@example.test" ||
		r.InReplyTo != "inq-1@example.test" || !strings.Contains(r.Text, "25일로 변경해 드렸습니다") ||
		strings.Contains(r.Text, "새 문의 #1") || len(r.Cc) != 1 || r.Cc[0].Email != "lee@example.org" {
		t.Fatalf("relayed reply: %+v\n%s", r, rraw)
	}
	if got, _ := s.srv.Messages("lee@example.org", "INBOX"); len(got) != 1 {
		t.Fatalf("the Cc'd participant got %d mails, want the reply", len(got))
	}

	// The customer answers the reply: it lands on #1 and the agent hears of it.
	back := fmt.Sprintf("From: kim@example.test\r\nTo: %s\r\nSubject: Re: %s\r\nMessage-ID: <inq-2@example.test>\r\n"+
		"In-Reply-To: <%s>\r\n\r\n감사합니다!\r\n\r\n2026. 11. 24. 오후 8:00, 김상담 (서민금융 고객센터) <support@example.test> 작성:\r\n> 안녕하세요\r\n",
		r.ReplyTo[0].Email, r.Subject, r.MessageID)
	s.send(t, "kim@example.test", []string{r.ReplyTo[0].Email}, back)
	s.mustPoll(t, "follow-ups 1")
	if n2, _, c := s.latest(t, "agent@example.test"); c != 2 || !strings.Contains(n2.Text, "감사합니다!") {
		t.Fatalf("agent's second notification (%d mails): %+v", c, n2)
	}

	// From the CLI: a reply with an attachment, a note, and closing.
	file := filepath.Join(t.TempDir(), "안내문.pdf")
	os.WriteFile(file, []byte("%PDF-1.4 test"), 0o600)
	if code, out, errs := s.ticketd(t, []byte("첨부한 안내문을 확인해 주세요."), "reply", "1", "--as", "agent@example.test", "--attach", file); code != 0 {
		t.Fatalf("reply: exit %d %s %s", code, out, errs)
	}
	cli, _, _ := s.latest(t, "kim@example.test")
	if len(cli.Attachments) != 1 || cli.Attachments[0].Filename != "안내문.pdf" || !strings.Contains(cli.Text, "안내문을 확인해") {
		t.Fatalf("CLI reply: %+v", cli)
	}
	if code, _, errs := s.ticketd(t, nil, "reply", "1", "--as", "kim@example.test", "--file", file); code == 0 || !strings.Contains(errs, "kim@example.test: 등록된 상담원이 아닙니다.") {
		t.Fatalf("reply as a customer: exit %d %s", code, errs)
	}
	if code, _, errs := s.ticketd(t, nil, "note", "1", "--as", "agent@example.test", "변경 완료 확인"); code != 0 {
		t.Fatalf("note: %s", errs)
	}
	if code, _, errs := s.ticketd(t, nil, "close", "1", "--as", "agent@example.test"); code != 0 {
		t.Fatalf("close: %s", errs)
	}
	v := s.show(t, 1)
	if v["status"] != "closed" {
		t.Fatalf("status %v, want closed", v["status"])
	}
	kinds := []string{}
	for _, m := range v["messages"].([]any) {
		kinds = append(kinds, m.(map[string]any)["kind"].(string))
	}
	want := "customer auto agent customer agent note note"
	if strings.Join(kinds, " ") != want {
		t.Fatalf("message kinds %v, want %s", kinds, want)
	}
	agentMsg := v["messages"].([]any)[2].(map[string]any)
	if agentMsg["visible"] != "안녕하세요, 다음 달부터 25일로 변경해 드렸습니다." || !strings.Contains(agentMsg["body"].(string), "님이 작성:") {
		t.Fatalf("agent message visible %q body %q", agentMsg["visible"], agentMsg["body"])
	}
}
