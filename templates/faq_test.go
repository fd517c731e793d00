package templates

import (
	"os"
	"strings"
	"testing"

	"github.com/ticketd/ticketd/ticket"
)

// TestAckWithFAQ: the acknowledgement lists the suggested entries (question,
// the excerpt's two lines, the url) in its text and HTML, in both
// languages, above the receipt; without suggestions there is no trace of
// the block.
func TestAckWithFAQ(t *testing.T) {
	r, err := New("")
	tcheck(t, err, "new")
	d := data(t)
	d.Suggestions = []ticket.Suggestion{
		{ID: "repay-date", Question: "대출 상환일을 변경할 수 있나요?", URL: "https://faq.example.test/12", Score: 0.8,
			Excerpt: []string{"상환일은 대출 실행 후 1회 변경할 수 있습니다.", "앱의 [MY > 대출관리] 메뉴에서 신청하세요. …"}},
		{ID: "evil", Question: "<b>굵게</b> & 질문", URL: "javascript:alert(1)", Score: 0.5, Excerpt: []string{"한 줄"}},
	}
	for _, lang := range []string{"ko", "en"} {
		out, err := r.Render("ack", lang, d)
		tcheck(t, err, "render "+lang)
		if os.Getenv("TICKETD_SHOW") != "" {
			t.Logf("%s text:\n%s\nhtml:\n%s", lang, out.Text, out.HTML)
		}
		for what, body := range map[string]string{"text": out.Text, "html": out.HTML} {
			mustContain(t, lang+" "+what, body, "대출 상환일을 변경할 수 있나요?", "상환일은 대출 실행 후 1회 변경할 수 있습니다.",
				"메뉴에서 신청하세요. …", "https://faq.example.test/12")
			faq, receipt := strings.Index(body, "대출 상환일을"), strings.Index(body, map[string]string{"ko": "접수번호", "en": "Ticket"}[lang])
			if faq < 0 || receipt < 0 || faq > receipt {
				t.Errorf("%s %s: the FAQ block is not above the receipt (at %d, receipt at %d)", lang, what, faq, receipt)
			}
		}
		mustContain(t, lang+" html", out.HTML, "&lt;b&gt;굵게&lt;/b&gt; &amp; 질문", `href="https://faq.example.test/12"`)
		mustNotContain(t, lang+" html", out.HTML, "javascript:", "<b>굵게") // the loader accepts http(s) only; html/template checks again
		mustContain(t, lang+" text", out.Text, "1. 대출 상환일을", "2. <b>굵게</b> & 질문")
	}
	d.Suggestions = nil
	for _, lang := range []string{"ko", "en"} {
		out, err := r.Render("ack", lang, d)
		tcheck(t, err, "render "+lang)
		mustNotContain(t, lang, out.Text+out.HTML, "자주 묻는 질문", "FAQ", "자세히 보기", "Read more")
	}
}
