package templates

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/ticketd/ticketd/ticket"
)

// TestGlossary: the Korean templates use the glossary's word for each
// thing, never another one.
func TestGlossary(t *testing.T) {
	err := fs.WalkDir(embedded, embeddedRoot+"/ko", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(embedded, p)
		if err != nil {
			return err
		}
		for bad, good := range notGlossary {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s says %q; the glossary's word is %q", p, bad, good)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestNotifyInTheReadersLanguage: the notification gives the status and
// sizes in the agent's language, and the ticket number needs no particle.
func TestNotifyInTheReadersLanguage(t *testing.T) {
	r, err := New("")
	tcheck(t, err, "new")
	d := data(t)
	d.Status = ticket.StatusOpen
	d.Attachments = []ticket.Attachment{{Filename: "신분증.jpg", ContentType: "image/jpeg", Size: 12252}, {Filename: "a.txt", ContentType: "text/plain", Size: 300}}
	out, err := r.Render("notify", "ko", d)
	tcheck(t, err, "render ko")
	mustContain(t, "ko", out.Text, "새 문의(접수번호 #1234)가 접수되었습니다.", "상태: 처리 중", "(image/jpeg, 12.0 KB)", "(text/plain, 300 B)")
	mustNotContain(t, "ko", out.Text, "bytes", "상태: open", "#1234가")
	d.FollowUp = true
	out, err = r.Render("notify", "ko", d)
	tcheck(t, err, "render ko follow-up")
	mustContain(t, "ko follow-up", out.Text, "문의(접수번호 #1234)에 고객의 추가 메일이 도착했습니다.")
	out, err = r.Render("notify", "en", d)
	tcheck(t, err, "render en")
	mustContain(t, "en", out.Text, "Status: open", "(image/jpeg, 12.0 KB)")
	for s, want := range map[ticket.Status]string{ticket.StatusNew: "신규", ticket.StatusPending: "고객 답변 대기",
		ticket.StatusSolved: "해결됨", ticket.StatusClosed: "종료"} {
		if got := statusName(s, true); got != want {
			t.Errorf("status %s: %q, want %q", s, got, want)
		}
	}
	if got := sizeText(3 << 20); got != "3.0 MB" {
		t.Errorf("3 MiB: %q", got)
	}
}

// TestAgentErrorInTheReadersLanguage: what was wrong with an agent's
// command is said in the agent's language, never in the log's English.
func TestAgentErrorInTheReadersLanguage(t *testing.T) {
	r, err := New("")
	tcheck(t, err, "new")
	d := data(t)
	d.AgentName = "김상담"
	for _, c := range []struct {
		ce     ticket.CommandError
		ko, en string
	}{
		{ticket.CommandError{Command: "clos", Problem: ticket.ProblemUnknown}, "알 수 없는 명령입니다: #clos", "#clos is not a command."},
		{ticket.CommandError{Command: "close", Problem: ticket.ProblemNoArgument, Arg: "now"}, `#close 명령 뒤에는 아무것도 쓰지 않습니다 (받은 내용: "now").`, `#close takes nothing after it (got "now").`},
		{ticket.CommandError{Command: "assign", Problem: ticket.ProblemNeedsAgent}, "#assign 뒤에 상담원의 메일 주소를 써 주십시오", "#assign needs an agent's address"},
		{ticket.CommandError{Command: "assign", Problem: ticket.ProblemNotAgent, Arg: "x@example.org"}, "x@example.org 주소는 등록된 상담원이 아닙니다.", "x@example.org is not a configured agent."},
		{ticket.CommandError{Command: "priority", Problem: ticket.ProblemPriority, Arg: "urgent"}, "#priority 뒤에는 low, normal, high 중 하나를", "#priority takes low, normal or high"},
	} {
		d.CommandError, d.Error = &c.ce, c.ce.Error()
		ko, err := r.Render("agent_error", "ko", d)
		tcheck(t, err, "render ko")
		mustContain(t, "ko", ko.Text, "원인: "+c.ko, "접수번호 #1234")
		mustNotContain(t, "ko", ko.Text, c.ce.Error())
		en, err := r.Render("agent_error", "en", d)
		tcheck(t, err, "render en")
		mustContain(t, "en", en.Text, "Reason: "+c.en)
	}
}

// TestReplySignatureDelimiter: the relayed reply's signature starts with
// "-- " (RFC 3676 section 4.3), so clients fold and strip it.
func TestReplySignatureDelimiter(t *testing.T) {
	r, err := New("")
	tcheck(t, err, "new")
	d := data(t)
	d.ReplyText = "답변입니다."
	for _, lang := range []string{"ko", "en"} {
		out, err := r.Render("reply", lang, d)
		tcheck(t, err, "render "+lang)
		mustContain(t, lang, out.Text, "\n-- \n")
	}
}
