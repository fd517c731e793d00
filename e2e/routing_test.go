package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ticketd/ticketd/mailbox"
)

// TestRoutingAgainstDovecotAndPostfix: a customer writes to loan@, a
// Postfix alias of the support mailbox. The ticket is routed to the loan
// desk; the acknowledgement comes from loan@ with the FAQ entry that
// answers the question; the desk's member is notified and answers; the
// answer reaches the customer from loan@, and the customer's reply to its
// Reply-To (a token on loan@, through the alias) threads into the same
// ticket. A mail to the support address with no topic, from another customer, gets the default
// category, the support address as its sender, and no FAQ entry.
func TestRoutingAgainstDovecotAndPostfix(t *testing.T) {
	s := StartWith(t, 36000, "MAILSTACK_ALIASES=loan:support", "MAILSTACK_USERS=support agent customer other")
	bin := buildTicketd(t, s.RepoRoot())
	faq := filepath.Join(t.TempDir(), "faq.yaml")
	writeFile(t, faq, `- id: repay-date
  question: 대출 상환일(납입일)을 변경할 수 있나요?
  answer: |
    상환일은 대출 실행 후 1회 변경할 수 있습니다.
    앱의 [MY > 대출관리 > 상환일 변경]에서 신청하세요.
  url: https://faq.example.test/12
- id: password
  question: 비밀번호를 잊어버렸어요.
  answer: 로그인 화면의 [비밀번호 재설정]에서 휴대폰 본인인증 후 새 비밀번호를 설정하세요.
  url: https://faq.example.test/3
`)
	cfg, _ := writeConfig(t, s, "agents: [{name: 김상담, email: agent@example.test}]",
		"groups: [{name: 대출팀, members: [agent@example.test]}]",
		"routing: [{name: loan, category: 대출, group: 대출팀, match: {to: [loan@example.test]}}]",
		"default_category: 기타", "faq: {file: "+faq+"}", "threading: {plus_addressing: true}")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, cfg, strings.Replace(string(b), "  name: 서민금융 고객센터\n",
		"  name: 서민금융 고객센터\n  identities: [{address: loan@example.test, name: 서민금융 대출상담}]\n", 1))
	poll := func(want string) {
		t.Helper()
		if code, out := runTicketd(t, bin, cfg, "poll"); code != 0 || !strings.Contains(out, want) {
			t.Fatalf("poll: exit %d, want %q:\n%s", code, want, out)
		}
	}
	subject := "=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte("납입일 문의")) + "?="
	first := "From: =?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte("김고객")) + "?= <customer@example.test>\r\nTo: loan@example.test\r\n" +
		"Subject: " + subject + "\r\nMessage-ID: <rt-1@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n\r\n안녕하세요.\r\n월급날이 바뀌어서 매달 상환일을바꾸고 싶은데 가능한가요?\r\n"
	if err := s.SendMail("customer@example.test", []string{"loan@example.test"}, []byte(first)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitMessage("support", "INBOX", HasMessageID("rt-1@example.test"), 30*time.Second); err != nil {
		t.Fatalf("the alias did not deliver to the support mailbox: %v", err)
	}
	poll("new tickets 1")

	raw, err := s.WaitMessage("customer", "INBOX", Contains("Auto-Submitted: auto-replied"), 30*time.Second)
	if err != nil {
		t.Fatalf("no acknowledgement: %v", err)
	}
	ack, _ := mailbox.Parse(raw)
	if ack.From.Email != "loan@example.test" || ack.From.Name != "서민금융 대출상담" {
		t.Fatalf("the acknowledgement comes from %v, want 서민금융 대출상담 <loan@example.test>", ack.From)
	}
	for what, body := range map[string]string{"text": ack.Text, "html": ack.HTML} {
		for _, want := range []string{"자주 묻는 질문", "대출 상환일(납입일)을 변경할 수 있나요?", "상환일은 대출 실행 후 1회", "https://faq.example.test/12"} {
			if !strings.Contains(body, want) {
				t.Errorf("the acknowledgement's %s lacks %q:\n%s", what, want, body)
			}
		}
		if strings.Contains(body, "비밀번호를 잊어버렸어요") {
			t.Errorf("the acknowledgement's %s offers an entry that does not answer:\n%s", what, body)
		}
	}

	raw, err = s.WaitMessage("agent", "INBOX", Contains("Auto-Submitted: auto-generated"), 30*time.Second)
	if err != nil {
		t.Fatalf("the desk's member was not notified: %v", err)
	}
	n, _ := mailbox.Parse(raw)
	if !strings.Contains(n.Text, "담당 그룹: 대출팀") || !strings.Contains(n.Text, "분류: 대출") || !strings.Contains(n.Text, "고객에게 안내한 자주 묻는 질문") {
		t.Errorf("the notification does not say the desk and what was offered:\n%s", n.Text)
	}
	reply := fmt.Sprintf("From: 김상담 <agent@example.test>\r\nTo: %s\r\nSubject: Re: %s\r\nMessage-ID: <rt-agent-1@example.test>\r\n"+
		"In-Reply-To: <%s>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"+
		"앱에서 상환일 변경을 신청하시면 됩니다.\r\n", n.ReplyTo[0].Email, n.Subject, n.MessageID)
	r := agentAnswers(t, s, n.ReplyTo[0].Email, "rt-agent-1@example.test", []byte(reply), "rt-1@example.test", func() { poll("follow-ups 1") })
	if r.From.Email != "loan@example.test" || r.From.Name != "김상담 (서민금융 대출상담)" || len(r.ReplyTo) != 1 || !strings.HasPrefix(r.ReplyTo[0].Email, "loan+t1-") {
		t.Fatalf("the answer comes from %v, Reply-To %v; want loan@ and a token on it", r.From, r.ReplyTo)
	}

	// The customer answers to the token on the alias: Postfix hands it to
	// the support mailbox with the token kept, and it joins ticket 1.
	again := fmt.Sprintf("From: customer@example.test\r\nTo: %s\r\nSubject: =?UTF-8?B?%s?=\r\nMessage-ID: <rt-2@example.test>\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n감사합니다. 신청했습니다.\r\n",
		r.ReplyTo[0].Email, base64.StdEncoding.EncodeToString([]byte("고맙습니다")))
	if err := s.SendMail("customer@example.test", []string{r.ReplyTo[0].Email}, []byte(again)); err != nil {
		t.Fatal(err)
	}
	s.WaitMessage("support", "INBOX", HasMessageID("rt-2@example.test"), 30*time.Second)
	poll("follow-ups 1")

	// Another customer (the first one's acknowledgements are rate-limited).
	other := "From: other@example.test\r\nTo: support@example.test\r\nSubject: hello\r\nMessage-ID: <rt-3@example.test>\r\n\r\nthank you for the kind help last week\r\n"
	if err := s.SendMail("other@example.test", []string{"support@example.test"}, []byte(other)); err != nil {
		t.Fatal(err)
	}
	s.WaitMessage("support", "INBOX", HasMessageID("rt-3@example.test"), 30*time.Second)
	poll("new tickets 1")
	raw, err = s.WaitMessage("other", "INBOX", Contains("Auto-Submitted: auto-replied"), 30*time.Second)
	if err != nil {
		t.Fatalf("no acknowledgement of #2: %v", err)
	}
	if a2, _ := mailbox.Parse(raw); a2.From.Email != "support@example.test" || strings.Contains(a2.Text, "자주 묻는 질문") {
		t.Fatalf("#2's acknowledgement from %v:\n%s", a2.From, a2.Text)
	}

	for id, want := range map[string]string{"1": "대출/대출팀/loan@example.test/repay-date", "2": "기타///"} {
		var v struct {
			Category, Group, Identity string
			Suggested                 []struct{ ID string }
			Messages                  []struct{ Kind string }
		}
		code, out := runTicketd(t, bin, cfg, "tickets", "show", id, "--json")
		if code != 0 || json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &v) != nil {
			t.Fatalf("tickets show %s: exit %d %s", id, code, out)
		}
		got := v.Category + "/" + v.Group + "/" + v.Identity + "/"
		if len(v.Suggested) > 0 {
			got += v.Suggested[0].ID
		}
		if got != want {
			t.Errorf("ticket %s: %s, want %s", id, got, want)
		}
		if id == "1" && len(v.Messages) < 4 {
			t.Errorf("ticket 1 has %d messages; the customer's answer to the alias's token did not join it", len(v.Messages))
		}
	}

	// The mails that came through Postfix and Dovecot are found by search:
	// the customer's words glued (상환일을바꾸고), the agent's answer, the
	// other customer's English.
	for q, want := range map[string]string{"월급날 상환일": "#1", "상환일 바꾸고": "#1", "상환일 변경을 신청": "#1", "kind help": "#2"} {
		code, out := runTicketd(t, bin, cfg, "tickets", "search", q)
		other := map[string]string{"#1": "#2 ", "#2": "#1 "}[want]
		if code != 0 || !strings.Contains(out, want+" ") || strings.Contains(out, other) {
			t.Errorf("tickets search %s: exit %d, want %s alone:\n%s", q, code, want, out)
		}
	}
}
