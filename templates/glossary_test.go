package templates

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"time"

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
	mustContain(t, "ko", out.Text, "새 문의(접수번호 #1234)가 접수되었습니다.", "상태: 처리 중", "(이미지, 12.0 KB)", "(텍스트, 300 B)")
	mustNotContain(t, "ko", out.Text, "bytes", "상태: open", "#1234가")
	d.FollowUp = true
	out, err = r.Render("notify", "ko", d)
	tcheck(t, err, "render ko follow-up")
	mustContain(t, "ko follow-up", out.Text, "문의(접수번호 #1234)에 고객의 추가 메일이 도착했습니다.")
	out, err = r.Render("notify", "en", d)
	tcheck(t, err, "render en")
	mustContain(t, "en", out.Text, "Status: open", "(image, 12.0 KB)")
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
		{ticket.CommandError{Command: "assign", Problem: ticket.ProblemNeedsAgent}, "#assign 뒤에 상담원의 이름이나 메일 주소를 써 주십시오", "#assign needs an agent's name or address"},
		{ticket.CommandError{Command: "assign", Problem: ticket.ProblemNotAgent, Arg: "x@example.org"}, "x@example.org: 등록된 상담원이 아닙니다.", "x@example.org is not a configured agent."},
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

// TestEveryMailInOneLanguage renders every template of both languages, all
// parts, with every field set, and reads them as their reader would: the
// Korean ones hold no English word but names, addresses, the mail commands
// and units; the English ones no Hangul at all.
func TestEveryMailInOneLanguage(t *testing.T) {
	rd, err := New("")
	tcheck(t, err, "new")
	email := regexp.MustCompile(`[\w.+-]+@[\w.-]+`)
	url := regexp.MustCompile(`https?://\S+`)
	tags := regexp.MustCompile(`(?s)<style.*?</style>|<[^>]*>`)
	word := regexp.MustCompile(`[A-Za-z]{2,}`)
	hangul := regexp.MustCompile(`\p{Hangul}`)
	// Words a Korean reader meets in Korean mail: the commands agents type,
	// their arguments, units and zones.
	allowed := map[string]bool{"note": true, "solve": true, "close": true, "pending": true, "open": true, "assign": true,
		"priority": true, "low": true, "normal": true, "high": true, "KB": true, "MB": true, "KST": true, "UTC": true,
		"asign": true, "PDF": true, "send": true, "anyway": true, "group": true, "merge": true,
		// Names: the program, protocols and providers.
		"ticketd": true, "OAuth": true, "Google": true, "Microsoft": true}
	// Commands an operator is told to run, quoted as typed.
	commands := regexp.MustCompile("`[^`]*`|/healthz")
	for _, lang := range []string{"ko", "en"} {
		d := data(t)
		d.CenterPhone, d.ReceivedAt, d.Now = "1397", time.Date(2026, 12, 2, 5, 7, 0, 0, time.UTC), time.Date(2026, 12, 2, 5, 7, 0, 0, time.UTC)
		d.AgentName, d.ReplyText, d.TicketSubject = "김상담", "답변드립니다.", "[#1234] 연말정산 환급금 문의"
		d.CustomerText, d.Status, d.Size, d.Limit = "고객의 문의 내용", ticket.StatusOpen, 30<<20, 25<<20
		d.Attachments = []ticket.Attachment{{Filename: "신분증사본", ContentType: "image/jpeg", Size: 12252}}
		d.Tickets = []ticket.TicketRef{{ID: 1234, Subject: d.Subject, CreatedAt: d.ReceivedAt}}
		d.CommandError = &ticket.CommandError{Command: "asign", Problem: ticket.ProblemUnknown}
		d.Change = &ticket.Change{Command: "assign", By: ticket.Address{Name: "김상담", Email: "kim@example.test"}, Status: ticket.StatusOpen,
			Priority: ticket.PriorityHigh, Assignee: ticket.Address{Name: "이상담", Email: "lee@example.test"}}
		d.AckReason, d.AckDue = &ticket.Reason{Code: ticket.ReasonPerHour, Count: 3}, d.ReceivedAt.Add(time.Hour)
		// Closed for a holiday: the sentence that says until when.
		d.OpenNow, d.NextOpen = false, d.ReceivedAt.Add(72*time.Hour)
		d.Closure = &ticket.Closure{Holiday: ticket.Holiday{Date: "2026-09-24", Name: "추석", NameEn: "Chuseok"},
			From: d.ReceivedAt.Add(24 * time.Hour), To: d.ReceivedAt.Add(48 * time.Hour), Days: 2}
		// The operator's alert names a credential, a command and the
		// server's error: names and words of others.
		d.Credential, d.Command, d.Error = "m365", "ticketd oauth login m365", "invalid_grant"
		d.Digest = []ticket.DigestLine{{TicketID: 7, Subject: d.Subject, Due: "first_response", At: d.ReceivedAt, Assignee: "lee@example.test"},
			{TicketID: 8, Due: "resolution", At: d.ReceivedAt}}
		if lang == "en" {
			d.Subject, d.TicketSubject, d.ReplyText, d.CustomerText = "Tax refund question", "[#1234] Tax refund question", "Here is our answer.", "The customer's text"
			d.Customer.Name, d.CenterName, d.AgentName = "Gildong Hong", "Help Center", "Sangdam Kim"
			d.Change.By.Name, d.Change.Assignee.Name = "Sangdam Kim", "Sangdam Lee"
			d.Attachments[0].Filename, d.Tickets[0].Subject = "id.jpg", d.Subject
		}
		d.Digest[0].Subject = d.Subject
		savedReason := d.AckReason
		for name := range rd.langs[lang] {
			if name == "failed" {
				d.Error = "550 5.1.1" // the server's words are quoted as they came
			}
			var outs []ticket.Rendered
			if name == "notice" {
				// Every kind of notice, with the words of others
				// (a server's refusal) as numbers.
				for _, sd := range sampleData()[2:] {
					n, r := *sd.Notice, *sd.AckReason
					n.Subject, n.Text, n.Reason.Text, n.Bounces[0].Diagnostic = d.Subject, "550 5.1.1", "5.1.1", "5.1.1"
					n.CommandError = &ticket.CommandError{Command: "asign", Problem: ticket.ProblemUnknown}
					d.Notice, d.AckReason = &n, &r
					out, err := rd.Render(name, lang, d)
					tcheck(t, err, lang+"/notice "+n.Kind)
					outs = append(outs, out)
				}
				d.AckReason, d.Notice = savedReason, nil
			} else {
				out, err := rd.Render(name, lang, d)
				tcheck(t, err, lang+"/"+name)
				outs = append(outs, out)
			}
			d.Error = "invalid_grant"
			for _, out := range outs {
				for part, s := range map[string]string{"subject": out.Subject, "txt": out.Text, "html": out.HTML} {
					s = url.ReplaceAllString(email.ReplaceAllString(tags.ReplaceAllString(s, " "), " "), " ")
					s = commands.ReplaceAllString(strings.NewReplacer(d.Command, " ", d.Error, " ").Replace(s), " ")
					s = strings.NewReplacer("&#39;", "'", "&lt;", "<", "&gt;", ">", "&amp;", "&", "&#34;", `"`).Replace(s)
					if lang == "en" {
						if loc := hangul.FindStringIndex(s); loc != nil {
							t.Errorf("en/%s.%s holds Hangul: %q", name, part, s[max(0, loc[0]-30):min(len(s), loc[1]+30)])
						}
						continue
					}
					for _, w := range word.FindAllString(s, -1) {
						if !allowed[w] {
							t.Errorf("ko/%s.%s holds the English word %q", name, part, w)
						}
					}
				}
			}
		}
	}
}
