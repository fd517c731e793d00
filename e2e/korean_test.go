package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ticketd/ticketd/mailbox"
)

// TestKoreanMailsAgainstDovecotAndPostfix: what a Korean customer and agent
// read, through real Postfix and Dovecot. The acknowledgement comes with an
// HTML part in the center's frame (접수일시, 대표전화, the footer lines);
// an agent's HTML reply reaches the customer as the agent's own HTML
// without the quoted notification; a reply from the CLI with a file is
// delivered and its file stays on the ticket; the CLI answers in Korean.
func TestKoreanMailsAgainstDovecotAndPostfix(t *testing.T) {
	s := Start(t, 33000)
	bin := buildTicketd(t, s.RepoRoot())
	cfg, _ := writeConfig(t, s, "agents: [{name: 김상담, email: agent@example.test}]", "threading: {plus_addressing: true}", "timezone: Asia/Seoul")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	withFooter := strings.Replace(string(b), "  name: 서민금융 고객센터\n",
		"  name: 서민금융 고객센터\n  phone: 1588-0000\n  footer: [\"(04513) 서울특별시 중구 세종대로 124\", \"개인정보는 문의 처리에만 이용합니다.\"]\n", 1)
	if err := os.WriteFile(cfg, []byte(withFooter), 0o600); err != nil {
		t.Fatal(err)
	}
	poll := func(want string) {
		t.Helper()
		if code, out := runTicketd(t, bin, cfg, "poll"); code != 0 || !strings.Contains(out, want) {
			t.Fatalf("poll: exit %d, want %q:\n%s", code, want, out)
		}
	}

	if err := s.SendMail("customer@example.test", []string{"support@example.test"}, euckrMail(t, "ko-1@example.test")); err != nil {
		t.Fatal(err)
	}
	s.WaitMessage("support", "INBOX", HasMessageID("ko-1@example.test"), 30*time.Second)
	poll("new tickets 1")

	raw, err := s.WaitMessage("customer", "INBOX", Contains("Auto-Submitted: auto-replied"), 30*time.Second)
	if err != nil {
		t.Fatalf("no acknowledgement: %v", err)
	}
	ack, _ := mailbox.Parse(raw)
	for _, want := range []string{"접수일시", "KST", "대표전화 1588-0000", "(04513) 서울특별시 중구 세종대로 124", "word-break:keep-all", "#1"} {
		if !strings.Contains(ack.HTML, want) {
			t.Errorf("the acknowledgement's HTML lacks %q:\n%s", want, ack.HTML)
		}
	}
	if !strings.Contains(ack.Text, "접수일시: ") || !strings.Contains(ack.Text, "대표전화 1588-0000") {
		t.Errorf("the acknowledgement's text lacks 접수일시 or 대표전화:\n%s", ack.Text)
	}

	// The agent answers the notification in HTML, as Gmail writes it.
	raw, err = s.WaitMessage("agent", "INBOX", Contains("Auto-Submitted: auto-generated"), 30*time.Second)
	if err != nil {
		t.Fatalf("agent was not notified: %v", err)
	}
	n, _ := mailbox.Parse(raw)
	html := `<div dir="ltr">안녕하십니까. <b>상환일 변경</b>을 마쳤습니다.</div><br><div class="gmail_quote">` +
		`<div dir="ltr" class="gmail_attr">2026년 12월 2일 (수) 오후 2:07, 김민수 (서민금융 고객센터) &lt;support@example.test&gt;님이 작성:<br></div>` +
		`<blockquote class="gmail_quote">새 문의(접수번호 #1)가 접수되었습니다.</blockquote></div>`
	reply := fmt.Sprintf("From: 김상담 <agent@example.test>\r\nTo: %s\r\nSubject: Re: %s\r\nMessage-ID: <ko-agent-1@example.test>\r\n"+
		"In-Reply-To: <%s>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"+
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n안녕하십니까. *상환일 변경*을 마쳤습니다.\r\n\r\n"+
		"2026년 12월 2일 (수) 오후 2:07, 김민수 (서민금융 고객센터) <support@example.test>님이 작성:\r\n> 새 문의(접수번호 #1)가 접수되었습니다.\r\n"+
		"--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n%s\r\n--b1--\r\n",
		n.ReplyTo[0].Email, n.Subject, n.MessageID, html)
	r := agentAnswers(t, s, n.ReplyTo[0].Email, "ko-agent-1@example.test", []byte(reply), "ko-1@example.test", func() { poll("follow-ups 1") })
	if !strings.Contains(r.HTML, "<b>상환일 변경</b>을 마쳤습니다.") || strings.Contains(r.HTML, "새 문의") || !strings.Contains(r.HTML, "접수번호 #1") {
		t.Errorf("the relayed reply's HTML is not the agent's own without the quote:\n%s", r.HTML)
	}
	if strings.Contains(r.Text, "새 문의") || !strings.Contains(r.Text, "상환일 변경") {
		t.Errorf("the relayed reply's text:\n%s", r.Text)
	}

	// A reply from the CLI with a file: delivered, and kept on the ticket.
	dir := t.TempDir()
	file := filepath.Join(dir, "상환일 변경 안내.pdf")
	pdf := []byte("%PDF-1.4\n상환일 변경 안내\n%%EOF\n")
	os.WriteFile(file, pdf, 0o600)
	text := filepath.Join(dir, "reply.txt")
	os.WriteFile(text, []byte("변경 안내문을 첨부합니다.\n"), 0o600)
	code, out := runTicketd(t, bin, cfg, "reply", "1", "--as", "김상담", "--attach", file, "--file", text)
	if code != 0 || !strings.Contains(out, "#1: 답변을 고객에게 보내도록 발송 대기열에 넣었습니다.") {
		t.Fatalf("reply --attach: exit %d\n%s", code, out)
	}
	raw, err = s.WaitMessage("customer", "INBOX", Contains("변경 안내문을 첨부합니다"), 30*time.Second)
	if err != nil {
		// the body is base64 or quoted-printable: look for the file instead
		raw, err = s.WaitMessage("customer", "INBOX", func(raw []byte) bool {
			m, err := mailbox.Parse(raw)
			return err == nil && strings.Contains(m.Text, "변경 안내문을 첨부합니다")
		}, 30*time.Second)
	}
	if err != nil {
		t.Fatalf("the CLI reply never came: %v", err)
	}
	if m, _ := mailbox.Parse(raw); len(m.Attachments) != 1 || m.Attachments[0].Filename != "상환일 변경 안내.pdf" {
		t.Fatalf("the CLI reply's attachments: %+v", m.Attachments)
	}
	code, out = runTicketd(t, bin, cfg, "tickets", "show", "1")
	if code != 0 || !strings.Contains(out, "상환일 변경 안내.pdf") {
		t.Fatalf("tickets show 1 lacks the CLI reply's file:\n%s", out)
	}
	var index int
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "상환일 변경 안내.pdf") {
			if i := strings.Index(line, "["); i >= 0 {
				fmt.Sscanf(line[i:], "[%d]", &index)
			}
		}
	}
	if index == 0 {
		t.Fatalf("no attachment number for the CLI reply's file in:\n%s", out)
	}
	outDir := filepath.Join(dir, "out")
	if code, out := runTicketd(t, bin, cfg, "attachment", "get", "1", fmt.Sprint(index), "--out", outDir); code != 0 {
		t.Fatalf("attachment get 1 %d: exit %d\n%s", index, code, out)
	}
	got, err := os.ReadFile(filepath.Join(outDir, "상환일 변경 안내.pdf"))
	if err != nil || string(got) != string(pdf) {
		t.Fatalf("the kept file: %q, %v", got, err)
	}

	// The CLI's answers, in Korean.
	code, out = runTicketd(t, bin, cfg, "close", "1", "--as", "김상담")
	if code != 0 || !strings.Contains(out, "#1: 상태를 바꿨습니다: 종료") {
		t.Errorf("close: exit %d\n%s", code, out)
	}
	if code, out := runTicketd(t, bin, cfg, "tickets", "show", "9"); code == 0 || !strings.Contains(out, "#9: 그런 문의가 없습니다.") {
		t.Errorf("show of a missing ticket: exit %d\n%s", code, out)
	}
}
