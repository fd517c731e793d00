package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ticketd/ticketd/mailbox"
)

// TestMergeByAgentMailAgainstDovecotAndPostfix: two customers write about
// one matter; the agent answers the second's notification with "#merge 1"
// through Postfix. The second customer is told, in Korean, by a mail in
// their Dovecot INBOX; their reply to their first acknowledgement (our
// Message-ID and token for #2) joins #1.
func TestMergeByAgentMailAgainstDovecotAndPostfix(t *testing.T) {
	s := StartWith(t, 38000, "MAILSTACK_USERS=support agent customer other")
	bin := buildTicketd(t, s.RepoRoot())
	cfg, _ := writeConfig(t, s, "agents: [{name: 김상담, email: agent@example.test}]", "threading: {plus_addressing: true}")
	poll := func(want string) {
		t.Helper()
		if code, out := runTicketd(t, bin, cfg, "poll"); code != 0 || !strings.Contains(out, want) {
			t.Fatalf("poll: exit %d, want %q:\n%s", code, want, out)
		}
	}
	send := func(from, to, mid, subject, body string, extra ...string) {
		t.Helper()
		raw := "From: " + from + "\r\nTo: " + to + "\r\nSubject: =?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte(subject)) + "?=\r\n" +
			"Message-ID: <" + mid + ">\r\n" + strings.Join(extra, "") + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body + "\r\n"
		if err := s.SendMail(strings.Trim(from[strings.LastIndex(from, "<")+1:], "<>"), []string{strings.Trim(to[strings.LastIndex(to, "<")+1:], "<>")}, []byte(raw)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.WaitMessage("support", "INBOX", HasMessageID(mid), 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	send("customer@example.test", "support@example.test", "mg-1@example.test", "햇살론 상환일 문의", "상환일을 바꾸고 싶습니다.")
	poll("new tickets 1")
	send("other@example.test", "support@example.test", "mg-2@example.test", "상환일 변경", "가족이 대신 문의합니다. 상환일 변경이 되나요?")
	poll("new tickets 1")
	ack, err := s.WaitMessage("other", "INBOX", Contains("Auto-Submitted: auto-replied"), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := mailbox.Parse(ack)
	raw, err := s.WaitMessage("agent", "INBOX", Contains("[#2]"), 30*time.Second)
	if err != nil {
		t.Fatalf("no notification of #2: %v", err)
	}
	n, _ := mailbox.Parse(raw)
	send("김상담 <agent@example.test>", n.ReplyTo[0].Email, "mg-agent@example.test", "Re: "+n.Subject, "#merge 1",
		"In-Reply-To: <"+n.MessageID+">\r\n")
	poll("follow-ups 1")

	told, err := s.WaitMessage("other", "INBOX", func(raw []byte) bool {
		return Contains("In-Reply-To: <mg-2@example.test>")(raw) && Contains("Auto-Submitted: auto-generated")(raw)
	}, 30*time.Second)
	if err != nil {
		t.Fatalf("#2's customer was not told: %v", err)
	}
	m, _ := mailbox.Parse(told)
	if !strings.HasPrefix(m.Subject, "[#1] 문의가 하나로 합쳐졌습니다") || !strings.Contains(m.Text, "#2") || !strings.Contains(m.Text, "#1(으)로 합쳤습니다") {
		t.Errorf("the merge's mail: %q\n%s", m.Subject, m.Text)
	}
	if got, _ := s.Messages("customer", "INBOX"); len(got) != 1 {
		t.Errorf("#1's customer has %d mails, want the acknowledgement alone", len(got))
	}

	// The second customer answers their old acknowledgement: #1.
	send("other@example.test", a.ReplyTo[0].Email, "mg-3@example.test", "Re: "+a.Subject, "서류는 내일 보내겠습니다.",
		fmt.Sprintf("In-Reply-To: <%s>\r\n", a.MessageID))
	poll("follow-ups 1")
	_, out := runTicketd(t, bin, cfg, "tickets", "show", "1", "--json")
	var v struct {
		Merged   []uint64 `json:"merged"`
		Messages []struct {
			MessageID string `json:"message_id"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	ids := map[string]bool{}
	for _, m := range v.Messages {
		ids[m.MessageID] = true
	}
	if len(v.Merged) != 1 || v.Merged[0] != 2 || !ids["mg-1@example.test"] || !ids["mg-2@example.test"] || !ids["mg-3@example.test"] {
		t.Errorf("#1 after the merge and the reply: merged %v, messages %v", v.Merged, ids)
	}
}
