package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/text/encoding/korean"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/mailbox/devserver"
)

// demoCustomers are the senders of the seeded mail.
var demoCustomers = []string{"kim@example.test", "alex@example.test", "park@example.test"}

const demoPassword = "demo"

// cmdDemo runs the real daemon against in-process IMAP and SMTP servers
// seeded with sample mail, prints what happened, and keeps running so more
// mail can be sent with any client.
func cmdDemo(c *cli) int {
	ctx, stop := signalContext(c.ctx, newLogger(c.stderr, LogConfig{}, nil))
	defer stop()
	out := c.stdout

	users := map[string]string{"support@example.test": demoPassword}
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

	fmt.Fprintf(out, "ticketd demo: embedded IMAP %s and SMTP %s, %d customer mails waiting in support@example.test's INBOX\n\n",
		srv.IMAPAddr(), srv.SMTPAddr(), len(demoCustomers))
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
	fmt.Fprintf(out, "Tickets created:\n")
	printTickets(out, ts, s.Loc)
	fmt.Fprintf(out, "\nAcknowledgements delivered (%d of %d):\n", len(acks), len(demoCustomers))
	for _, u := range demoCustomers {
		raw, ok := acks[u]
		if !ok {
			fmt.Fprintf(out, "  %-20s (not yet delivered)\n", u)
			continue
		}
		subject := headerOf(raw, "Subject")
		fmt.Fprintf(out, "  %-20s Subject: %s\n  %-20s Auto-Submitted: %s, In-Reply-To: %s\n", u, subject, "",
			headerOf(raw, "Auto-Submitted"), headerOf(raw, "In-Reply-To"))
	}
	if len(ts) > 0 {
		v, err := localBackend{d: d}.Ticket(ctx, ts[0].ID)
		if err == nil {
			fmt.Fprintf(out, "\n")
			printTicket(out, v, s.Loc)
		}
	}
	fmt.Fprintf(out, `
The demo keeps running (Ctrl-C stops it). Send more mail with any client:
  SMTP  %s  (no TLS, no auth needed), to support@example.test
  IMAP  %s  (no TLS) logins: support@example.test, %s, password %q
ticketd polls every 10 seconds. In another terminal:
  go run ./cmd/ticketd --config %s tickets list
  go run ./cmd/ticketd --config %s tickets show 1 --json
`, srv.SMTPAddr(), srv.IMAPAddr(), strings.Join(demoCustomers, ", "), demoPassword, cfgPath, cfgPath)
	<-ctx.Done()
	<-done
	fmt.Fprintln(out, "demo stopped")
	return exitOK
}

func writeDemoConfig(dir string, srv *devserver.Server) (string, *Settings, error) {
	ihost, iport, _ := net.SplitHostPort(srv.IMAPAddr())
	shost, sport, _ := net.SplitHostPort(srv.SMTPAddr())
	// No /healthz listener: a demo must not clash with a running serve.
	data := fmt.Appendf(nil, `data_dir: %q
log: {level: warn}
http: {listen: "off"}
center: {name: 서민금융 고객센터, address: support@example.test}
mailboxes:
  - {name: support, host: %q, port: %s, security: plain, username: support@example.test,
     password: %q, schedule: "@every 10s", post_action: move, move_to: Processed}
smtp: {host: %q, port: %s, security: plain}
`, dir, ihost, iport, demoPassword, shost, sport)
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
