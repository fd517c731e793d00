package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/text/encoding/korean"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/mailbox/devserver"
	"github.com/ticketd/ticketd/templates"
	"github.com/ticketd/ticketd/ticket"
)

// demoCustomers are the senders of the seeded mail.
var demoCustomers = []string{"kim@example.test", "alex@example.test", "park@example.test"}

const demoPassword = "demo"

// demoAgent is the demo's one agent: notified of each ticket, and the demo
// answers Kim's inquiry as them.
const (
	demoAgent     = "agent@example.test"
	demoAgentName = "김상담"
)

// cmdDemo runs the real daemon against in-process IMAP and SMTP servers
// seeded with sample mail, prints what happened, and keeps running so more
// mail can be sent with any client.
func cmdDemo(c *cli) int {
	ctx, stop := signalContext(c.ctx, newLogger(c.stderr, LogConfig{}, nil), nil)
	defer stop()
	out := c.stdout

	users := map[string]string{"support@example.test": demoPassword, demoAgent: demoPassword}
	for _, u := range demoCustomers {
		users[u] = demoPassword
	}
	srv, err := devserver.Start(devserver.Options{Users: users, Folders: []string{"Processed"},
		Log: newLogger(c.stderr, LogConfig{Level: "warn"}, nil)})
	if err != nil {
		return c.fail("demo: start mail servers: %v", err)
	}
	defer srv.Close()
	for _, raw := range demoMails(time.Now()) {
		if err := srv.Append("support@example.test", "INBOX", raw); err != nil {
			return c.fail("demo: seed mail: %v", err)
		}
	}

	dir, err := os.MkdirTemp("", "ticketd-demo-")
	if err != nil {
		return c.fail("demo: %v", err)
	}
	defer os.RemoveAll(dir)
	cfgPath, s, err := writeDemoConfig(dir, srv)
	if err != nil {
		return c.fail("demo: %v", err)
	}
	log := newLogger(c.stderr, s.Config.Log, s.Loc)
	d, err := openDaemon(s, log, true, 2*time.Second)
	if err != nil {
		return c.fail("demo: %v", err)
	}
	defer d.close()
	admin, err := listenAdmin(ctx, d, s.Socket)
	if err != nil {
		return c.fail("demo: %v", err)
	}
	defer admin.close()
	view, err := listenWeb(d)
	if err != nil {
		return c.fail("demo: %v", err)
	}
	defer view.close()

	say := func(key string, args ...any) string {
		return fmt.Sprintf(templates.Term(s.Config.Center.Language, key), args...)
	}
	fmt.Fprintln(out, say("demo_start", srv.IMAPAddr(), srv.SMTPAddr(), len(demoCustomers)))
	fmt.Fprintln(out)
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.serve(ctx)
	}()

	// Wait until every seeded customer has their acknowledgement.
	deadline := time.Now().Add(20 * time.Second)
	acks := map[string][]byte{}
	for len(acks) < len(demoCustomers) && time.Now().Before(deadline) && ctx.Err() == nil {
		for _, u := range demoCustomers {
			if msgs, err := srv.Messages(u, "INBOX"); err == nil && len(msgs) > 0 {
				acks[u] = msgs[0]
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	ts, err := localBackend{d: d}.Tickets(ctx, "")
	if err != nil {
		return c.fail("demo: %v", err)
	}
	fmt.Fprintln(out, say("demo_tickets"))
	printTickets(out, ts, s.Loc, s.Config.Center.Language)
	fmt.Fprintf(out, "\n%s\n", say("demo_acks", len(acks), len(demoCustomers)))
	for _, u := range demoCustomers {
		raw, ok := acks[u]
		if !ok {
			fmt.Fprintf(out, "  %-20s %s\n", u, say("demo_not_yet"))
			continue
		}
		subject := headerOf(raw, "Subject")
		fmt.Fprintf(out, "  %-20s Subject: %s\n  %-20s Auto-Submitted: %s, In-Reply-To: %s\n", u, subject, "",
			headerOf(raw, "Auto-Submitted"), headerOf(raw, "In-Reply-To"))
	}
	demoAgentReply(out, say, srv, time.Now().Add(30*time.Second))
	if len(ts) > 0 {
		// Kim's ticket: the inquiry, the acknowledgement, the agent's answer.
		v, err := localBackend{d: d}.Ticket(ctx, 1)
		if err == nil {
			fmt.Fprintf(out, "\n")
			printTicket(out, v, s.Loc, s.Config.Center.Language)
		}
	}
	login := s.Ticket.WebURL + "/login?" + d.signer.WebLinkQuery("/login", demoAgent, time.Now().Add(s.Ticket.WebLinkLifetime))
	fmt.Fprintf(out, "\n%s\n", say("demo_web", demoAgentName, login))
	fmt.Fprintf(out, "\n%s\n", say("demo_running", srv.SMTPAddr(), srv.IMAPAddr(), demoAgent, strings.Join(demoCustomers, ", "),
		demoPassword, demoAgent, cfgPath, cfgPath, cfgPath))
	<-ctx.Done()
	<-done
	fmt.Fprintln(out, say("demo_stopped"))
	return exitOK
}

func writeDemoConfig(dir string, srv *devserver.Server) (string, *Settings, error) {
	ihost, iport, _ := net.SplitHostPort(srv.IMAPAddr())
	shost, sport, _ := net.SplitHostPort(srv.SMTPAddr())
	// A free port for the web view (another demo or serve may hold any
	// fixed one).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("a port for the web view: %w", err)
	}
	webAddr := ln.Addr().String()
	ln.Close()
	// No /healthz listener: a demo must not clash with a running serve.
	data := fmt.Appendf(nil, `# ticketd's demo configuration: a real one, against the demo's embedded
# mail servers on 127.0.0.1. Every key is explained in config.example.yaml
# (ticketd config example); the ones not set here keep their defaults.

# Where the database (ticketd.db) and the admin socket live.
data_dir: %q
timezone: Asia/Seoul

log:
  level: warn   # the demo prints its own steps; warn keeps the log quiet

# No /healthz listener, so the demo does not clash with a running serve.
http:
  listen: "off"

center:
  name: 서민금융 고객센터        # the display name of our mails
  address: support@example.test  # the address customers write to
  language: ko                   # the language of every mail and CLI line
  phone: 1588-0000               # 대표전화, in the footer of the mails
  footer:
    - "(04513) 서울특별시 중구 세종대로 124 (데모 주소)"
    - "고객님의 개인정보는 「개인정보 보호법」에 따라 안전하게 관리됩니다."
  hours:
    days: mon-fri
    open: "09:00"
    close: "18:00"

# The support mailbox: polled every 10 seconds; handled mail moves to
# Processed. Plain IMAP is allowed only to a loopback address.
mailboxes:
  - name: support
    host: %q
    port: %s
    security: plain
    username: support@example.test
    password: %q       # a real deployment uses password_file
    schedule: "@every 10s"
    post_action: move
    move_to: Processed

# Where acknowledgements and agents' replies are sent.
smtp:
  host: %q
  port: %s
  security: plain

# The agents: notified of every ticket; their replies by mail reach the
# customer.
agents:
  - name: %s
    email: %s

# The agents' web view, on a free loopback port: each notification links
# the ticket and the agent's queue, signed for that agent.
web:
  listen: %q

# Replies to our mails carry a signed token in the address
# (support+t1-...@example.test), which the demo's server accepts.
threading:
  plus_addressing: true

# The desks: mail about loans goes to the loan desk, whose member is
# notified; the rest is 기타 and notifies every agent.
groups:
  - name: 대출팀
    members: [%s]
routing:
  - name: loan
    category: 대출
    group: 대출팀
    match: {subject: [대출, 햇살론, 상환], body: [대출, 햇살론, 상환]}
default_category: 기타

# The acknowledgement offers the FAQ entries that answer the mail.
faq:
  file: faq.yaml
`, dir, ihost, iport, demoPassword, shost, sport, demoAgentName, demoAgent, webAddr, demoAgent)
	if err := os.WriteFile(filepath.Join(dir, "faq.yaml"), []byte(demoFAQ), 0o600); err != nil {
		return "", nil, err
	}
	path := filepath.Join(dir, "ticketd.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", nil, err
	}
	s, errs := loadConfig(path)
	if len(errs) > 0 {
		return "", nil, fmt.Errorf("demo config: %v", errs)
	}
	return path, s, nil
}

// demoAgentReply plays the agent's half for Kim's inquiry: it waits for
// the agent's notification, answers it from the agent's address through
// SMTP as a mail client would, and waits for the relayed answer in Kim's
// INBOX, printing each step.
func demoAgentReply(out io.Writer, say func(string, ...any) string, srv *devserver.Server, deadline time.Time) {
	fmt.Fprintf(out, "\n%s\n", say("demo_agent", demoAgentName, demoAgent))
	var n *ticket.Mail
	for n == nil && time.Now().Before(deadline) {
		msgs, _ := srv.Messages(demoAgent, "INBOX")
		for _, raw := range msgs {
			if m, err := mailbox.Parse(raw); err == nil && m.InReplyTo == "demo-ko-1@example.test" && len(m.ReplyTo) == 1 {
				n = m
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n == nil {
		fmt.Fprintf(out, "  %s\n", say("demo_no_notification"))
		return
	}
	fmt.Fprintf(out, "  %s\n", say("demo_notified", n.Subject, n.From.Name, n.ReplyTo[0].Email))
	reply := fmt.Sprintf("From: %s <%s>\r\nTo: %s\r\nSubject: Re: %s\r\nMessage-ID: <demo-agent-1@example.test>\r\n"+
		"In-Reply-To: <%s>\r\nReferences: <%s>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
		"안녕하세요, 김민수 고객님. 다음 달부터 상환일을 25일로 변경해 드렸습니다.\r\n\r\n"+
		"%s 님이 작성:\r\n> %s\r\n",
		demoAgentName, demoAgent, n.ReplyTo[0].Email, n.Subject, n.MessageID, n.MessageID, n.From.Name, n.Subject)
	if err := smtp.SendMail(srv.SMTPAddr(), nil, demoAgent, []string{n.ReplyTo[0].Email}, []byte(reply)); err != nil {
		fmt.Fprintf(out, "  %s\n", say("demo_reply_failed", err))
		return
	}
	fmt.Fprintf(out, "  %s\n", say("demo_replied", n.ReplyTo[0].Email))
	for time.Now().Before(deadline) {
		msgs, _ := srv.Messages("kim@example.test", "INBOX")
		for _, raw := range msgs {
			m, err := mailbox.Parse(raw)
			if err != nil || m.Headers["Auto-Submitted"] != "" || !strings.Contains(m.Text, "25일로 변경해 드렸습니다") {
				continue
			}
			fmt.Fprintf(out, "  %s\n", say("demo_delivered", m.Subject, m.From.Name, m.InReplyTo))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(out, "  %s\n", say("demo_not_delivered"))
}

// demoMails are three customer inquiries: Korean in EUC-KR (as older
// Korean clients send it), English, and one with a PDF attachment.
func demoMails(now time.Time) [][]byte {
	date := now.Format(time.RFC1123Z)
	euckr := func(s string) []byte {
		b, _ := korean.EUCKR.NewEncoder().Bytes([]byte(s))
		return b
	}
	var ko bytes.Buffer
	fmt.Fprintf(&ko, "From: =?EUC-KR?B?%s?= <kim@example.test>\r\nTo: support@example.test\r\n", base64.StdEncoding.EncodeToString(euckr("김민수")))
	fmt.Fprintf(&ko, "Subject: =?EUC-KR?B?%s?=\r\n", base64.StdEncoding.EncodeToString(euckr("햇살론 대출 상환일 변경 문의")))
	fmt.Fprintf(&ko, "Date: %s\r\nMessage-ID: <demo-ko-1@example.test>\r\nMIME-Version: 1.0\r\n", date)
	ko.WriteString("Content-Type: text/plain; charset=EUC-KR\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	ko.Write(euckr("안녕하세요.\r\n다음 달 상환일을 25일로 변경할 수 있는지 궁금합니다.\r\n감사합니다.\r\n김민수 드림\r\n"))

	en := fmt.Sprintf("From: Alex Morgan <alex@example.test>\r\nTo: support@example.test\r\nSubject: Question about my application status\r\n"+
		"Date: %s\r\nMessage-ID: <demo-en-1@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
		"Hello,\r\nI applied for a microloan two weeks ago. Could you tell me where my application stands?\r\nThanks,\r\nAlex\r\n", date)

	pdf := []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	att := fmt.Sprintf("From: =?UTF-8?B?%s?= <park@example.test>\r\nTo: support@example.test\r\nSubject: =?UTF-8?B?%s?=\r\n"+
		"Date: %s\r\nMessage-ID: <demo-att-1@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"+
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n"+
		"--b1\r\nContent-Type: application/pdf; name=\"=?UTF-8?B?%s?=\"\r\nContent-Disposition: attachment; filename*=UTF-8''%s\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n--b1--\r\n",
		base64.StdEncoding.EncodeToString([]byte("박지영")), base64.StdEncoding.EncodeToString([]byte("소득 증빙 서류 제출합니다")), date,
		base64.StdEncoding.EncodeToString([]byte("안녕하세요. 요청하신 소득금액증명원을 첨부합니다.\r\n")),
		base64.StdEncoding.EncodeToString([]byte("소득금액증명원.pdf")), "%EC%86%8C%EB%93%9D%EA%B8%88%EC%95%A1%EC%A6%9D%EB%AA%85%EC%9B%90.pdf",
		base64.StdEncoding.EncodeToString(pdf))
	return [][]byte{ko.Bytes(), []byte(en), []byte(att)}
}

// headerOf returns a decoded header field of a raw mail, for display.
func headerOf(raw []byte, name string) string {
	m, err := mailbox.Parse(raw)
	if err != nil {
		return ""
	}
	switch name {
	case "Subject":
		return m.Subject
	case "In-Reply-To":
		return "<" + m.InReplyTo + ">"
	}
	return m.Headers[name]
}

// demoFAQ is the demo's FAQ file, as an operator exports it.
const demoFAQ = `- id: repay-date-change
  question: 대출 상환일(납입일)을 변경할 수 있나요?
  answer: |
    상환일은 대출 실행 후 1회에 한하여 변경할 수 있습니다.
    앱의 [MY > 대출관리 > 상환일 변경] 메뉴에서 신청하시거나 고객센터로 요청해 주세요.
  url: https://faq.example.test/12
- id: password-reset
  question: 비밀번호를 잊어버렸어요. 어떻게 재설정하나요?
  answer: 로그인 화면의 [비밀번호 재설정]을 누르고 휴대폰 본인인증을 마치면 새 비밀번호를 설정할 수 있습니다.
  url: https://faq.example.test/3
- id: documents
  question: 서류는 어떻게 제출하나요?
  answer: 앱의 [MY > 서류 제출] 메뉴에서 사진이나 PDF 파일로 올려 주세요. 팩스로도 받습니다.
  url: https://faq.example.test/7
- id: hours
  question: 상담 운영시간은 어떻게 되나요?
  answer: 평일 09:00-18:00에 상담합니다. 주말과 공휴일은 쉽니다.
  url: https://faq.example.test/1
`
