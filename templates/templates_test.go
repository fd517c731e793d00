package templates

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ticketd/ticketd/ticket"
)

func tcheck(t *testing.T, err error, msg string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", msg, err)
	}
}

func seoul(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		return time.FixedZone("KST", 9*3600)
	}
	return loc
}

func data(t *testing.T) ticket.TemplateData {
	return ticket.TemplateData{
		TicketID:     1234,
		Subject:      "연말정산 환급금 문의",
		Customer:     ticket.Address{Name: "홍길동", Email: "gildong@example.org"},
		CenterName:   "한국재정정보원 고객지원센터",
		SupportEmail: "support@example.test",
		Hours:        weekdayHours(seoul(t)),
		OpenNow:      true,
	}
}

func mustContain(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, s)
		}
	}
}

func mustNotContain(t *testing.T, what, s string, nots ...string) {
	t.Helper()
	for _, n := range nots {
		if strings.Contains(s, n) {
			t.Errorf("%s contains %q:\n%s", what, n, s)
		}
	}
}

func TestRenderKorean(t *testing.T) {
	r, err := New("")
	tcheck(t, err, "new")
	d := data(t)
	for _, lang := range []string{"ko", "", "ko-KR", "KO"} {
		out, err := r.Render("ack", lang, d)
		tcheck(t, err, "render "+lang)
		if out.Subject != "[#1234] 연말정산 환급금 문의" {
			t.Errorf("lang %q: subject %q", lang, out.Subject)
		}
		for what, body := range map[string]string{"text": out.Text, "html": out.HTML} {
			mustContain(t, what, body, "#1234", "[#1234]", "연말정산 환급금 문의", "평일 09:00-18:00",
				"홍길동 고객님", "한국재정정보원 고객지원센터 드림", "접수되었습니다")
			mustNotContain(t, what, body, "운영시간이 아니므로", "<no value>")
		}
	}

	d.OpenNow = false
	out, err := r.Render("ack", "ko", d)
	tcheck(t, err, "render closed")
	mustContain(t, "text", out.Text, "현재는 상담 운영시간이 아니므로")
	mustContain(t, "html", out.HTML, "현재는 상담 운영시간이 아니므로")
}

func TestRenderEnglish(t *testing.T) {
	r, err := New("")
	tcheck(t, err, "new")
	d := data(t)
	d.Subject = "Refund status"
	d.Customer.Name = "Jane Doe"
	out, err := r.Render("ack", "en", d)
	tcheck(t, err, "render")
	if out.Subject != "[#1234] Refund status" {
		t.Errorf("subject %q", out.Subject)
	}
	for what, body := range map[string]string{"text": out.Text, "html": out.HTML} {
		mustContain(t, what, body, "#1234", "[#1234]", "Refund status", "weekdays 09:00-18:00", "Jane Doe")
		mustNotContain(t, what, body, "currently closed", "<no value>")
	}

	d.OpenNow = false
	out, err = r.Render("ack", "en-US", d)
	tcheck(t, err, "render closed")
	mustContain(t, "text", out.Text, "We are currently closed")
	mustContain(t, "html", out.HTML, "We are currently closed")
}

func TestEmptySubjectAndNames(t *testing.T) {
	r, err := New("")
	tcheck(t, err, "new")
	d := ticket.TemplateData{TicketID: 7, Hours: weekdayHours(time.UTC), OpenNow: true}
	out, err := r.Render("ack", "ko", d)
	tcheck(t, err, "render ko")
	if out.Subject != "[#7] 문의하신 내용" {
		t.Errorf("ko subject %q", out.Subject)
	}
	mustContain(t, "ko text", out.Text, "고객님, 안녕하십니까.", "고객센터 드림")
	out, err = r.Render("ack", "en", d)
	tcheck(t, err, "render en")
	if out.Subject != "[#7] your inquiry" {
		t.Errorf("en subject %q", out.Subject)
	}
	mustContain(t, "en text", out.Text, "Dear customer,", "Customer Center")
}

func TestHours(t *testing.T) {
	r, err := New("")
	tcheck(t, err, "new")
	d := data(t)
	d.Hours.Days = []time.Weekday{time.Saturday, time.Monday, time.Wednesday}
	d.Hours.Open = 8*time.Hour + 30*time.Minute
	d.Hours.Close = 17 * time.Hour
	ko, err := r.Render("ack", "ko", d)
	tcheck(t, err, "render ko")
	mustContain(t, "ko text", ko.Text, "월, 수, 토 08:30-17:00")
	mustContain(t, "ko html", ko.HTML, "월, 수, 토 08:30-17:00")
	mustNotContain(t, "ko text", ko.Text, "평일")
	en, err := r.Render("ack", "en", d)
	tcheck(t, err, "render en")
	mustContain(t, "en text", en.Text, "Mon, Wed, Sat 08:30-17:00")

	tests := []struct {
		days   string
		ko, en string
	}{
		{"mon-fri", "평일 09:00-18:00", "weekdays 09:00-18:00"},
		{"fri,mon-thu", "평일 09:00-18:00", "weekdays 09:00-18:00"},
		{"sun-sat", "매일 09:00-18:00", "daily 09:00-18:00"},
		{"sun,sat", "토, 일 09:00-18:00", "Sat, Sun 09:00-18:00"},
		{"tue", "화 09:00-18:00", "Tue 09:00-18:00"},
	}
	for _, tc := range tests {
		days, err := ticket.ParseDays(tc.days)
		tcheck(t, err, "parse days")
		h := weekdayHours(time.UTC)
		h.Days = days
		if got := formatHours(h, true); got != tc.ko {
			t.Errorf("%s ko: got %q, want %q", tc.days, got, tc.ko)
		}
		if got := formatHours(h, false); got != tc.en {
			t.Errorf("%s en: got %q, want %q", tc.days, got, tc.en)
		}
	}
}

func TestHTMLEscaping(t *testing.T) {
	r, err := New("")
	tcheck(t, err, "new")
	d := data(t)
	d.Subject = `<script>alert("x")</script> & 환급`
	d.Customer.Name = `<b>Mallory</b>`
	for _, lang := range []string{"ko", "en"} {
		out, err := r.Render("ack", lang, d)
		tcheck(t, err, "render")
		mustNotContain(t, lang+" html", out.HTML, "<script>", "<b>Mallory")
		mustContain(t, lang+" html", out.HTML, "&lt;script&gt;", "&lt;b&gt;Mallory")
		// Plain text and subject are not HTML and keep the text as written.
		mustContain(t, lang+" text", out.Text, `<script>alert("x")</script> & 환급`)
		if out.Subject != `[#1234] <script>alert("x")</script> & 환급` {
			t.Errorf("%s subject %q", lang, out.Subject)
		}
	}
}

func TestSubjectOneLine(t *testing.T) {
	r, err := New("")
	tcheck(t, err, "new")
	d := data(t)
	d.Subject = "환급\r\nBcc: evil@example.org\t\x00 문의\u2028끝"
	out, err := r.Render("ack", "ko", d)
	tcheck(t, err, "render")
	if out.Subject != "[#1234] 환급 Bcc: evil@example.org 문의 끝" {
		t.Errorf("subject %q", out.Subject)
	}
}

func TestUnknownLanguageAndTemplate(t *testing.T) {
	r, err := New("")
	tcheck(t, err, "new")
	if _, err := r.Render("ack", "fr", data(t)); err == nil || !strings.Contains(err.Error(), `"fr"`) {
		t.Errorf("unknown language: %v", err)
	}
	if _, err := r.Render("nosuch", "ko", data(t)); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("unknown template: %v", err)
	}
	if got := strings.Join(r.Languages(), ","); got != "en,ko" {
		t.Errorf("languages %q", got)
	}
}

func writeFile(t *testing.T, dir, rel, body string) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	tcheck(t, os.MkdirAll(filepath.Dir(p), 0o755), "mkdir")
	tcheck(t, os.WriteFile(p, []byte(body), 0o644), "write")
	return p
}

func TestOverrideDir(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "ko/ack.txt.tmpl", "맞춤 안내 #{{.TicketID}} {{hours .Hours}}")
	writeFile(t, dir, "ja/ack.subject.tmpl", "[#{{.TicketID}}] {{.Subject}}")
	writeFile(t, dir, "ja/ack.txt.tmpl", "受付 #{{.TicketID}}")
	writeFile(t, dir, "README.md", "not a template")
	r, err := New(dir)
	tcheck(t, err, "new")
	out, err := r.Render("ack", "ko", data(t))
	tcheck(t, err, "render")
	if out.Text != "맞춤 안내 #1234 평일 09:00-18:00" {
		t.Errorf("text not overridden: %q", out.Text)
	}
	// The other parts stay embedded.
	if out.Subject != "[#1234] 연말정산 환급금 문의" || !strings.Contains(out.HTML, "접수되었습니다") {
		t.Errorf("embedded parts changed: %q / %q", out.Subject, out.HTML)
	}
	ja, err := r.Render("ack", "ja", data(t))
	tcheck(t, err, "render ja")
	if ja.Text != "受付 #1234" || ja.HTML != "" {
		t.Errorf("ja: %+v", ja)
	}
}

func TestOverrideErrors(t *testing.T) {
	tests := []struct {
		rel, body string
		want      []string
	}{
		{"ko/ack.txt.tmpl", "{{.TicketID", []string{"ack.txt.tmpl", "parse"}},
		{"en/ack.html.tmpl", "<p>{{if .OpenNow}}</p>", []string{"ack.html.tmpl"}},
		{"ko/ack.subject.tmpl", "{{.NoSuchField}}", []string{"ack.subject.tmpl", "NoSuchField"}},
		{"ko/ack.subject.tmpl", "{{nosuchfunc .Subject}}", []string{"ack.subject.tmpl", "nosuchfunc"}},
		{"ko/ack.text.tmpl", "x", []string{"ack.text.tmpl", "unknown part"}},
		{"ack.txt.tmpl", "x", []string{"ack.txt.tmpl", "<lang>/<name>.<part>.tmpl"}},
		{"ja/ack.txt.tmpl", "x", []string{"ja/ack.subject.tmpl is missing"}},
	}
	for _, tc := range tests {
		dir := t.TempDir()
		p := writeFile(t, dir, tc.rel, tc.body)
		_, err := New(dir)
		if err == nil {
			t.Errorf("%s: no error", tc.rel)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tc.rel, err, w)
			}
		}
		if !strings.Contains(tc.want[0], "missing") && !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not name the file %s", tc.rel, err, p)
		}
	}

	if _, err := New(filepath.Join(t.TempDir(), "nonexistent")); err == nil {
		t.Error("missing override directory: no error")
	}
}

func TestEmbeddedAllParse(t *testing.T) {
	r, err := New("")
	tcheck(t, err, "new")
	for _, lang := range []string{"ko", "en"} {
		st := r.langs[lang]["ack"]
		if st == nil || st.subject == nil || st.text == nil || st.html == nil {
			t.Fatalf("%s/ack incomplete: %+v", lang, st)
		}
	}
}

// weekdayHours are Monday to Friday, 09:00-18:00 in loc.
func weekdayHours(loc *time.Location) ticket.Hours {
	return ticket.Hours{Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
		Open: 9 * time.Hour, Close: 18 * time.Hour, Loc: loc}
}

// Days with hours of their own are listed after the others.
func TestHoursWithOwnDays(t *testing.T) {
	h := weekdayHours(seoul(t))
	h.Days = append(h.Days, time.Saturday)
	h.Week = map[time.Weekday][]ticket.Span{time.Saturday: {{Open: 9 * time.Hour, Close: 12 * time.Hour}}}
	if got := formatHours(h, true); got != "평일 09:00-18:00, 토 09:00-12:00" {
		t.Errorf("ko: %q", got)
	}
	if got := formatHours(h, false); got != "weekdays 09:00-18:00, Sat 09:00-12:00" {
		t.Errorf("en: %q", got)
	}
}
