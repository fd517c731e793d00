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
