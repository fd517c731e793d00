package smtp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	gomessagemail "github.com/emersion/go-message/mail"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/ticketd/ticketd/mailbox/devserver"
	"github.com/ticketd/ticketd/ticket"
	"github.com/ticketd/ticketd/ticket/tickettest"
)

func smtpCheck(t testing.TB, err error, msg string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", msg, err)
	}
}

func smtpDev(t testing.TB, tlsOn bool) *devserver.Server {
	t.Helper()
	s, err := devserver.Start(devserver.Options{
		Users: map[string]string{
			"customer@example.org": "custpw",
			"boss@example.org":     "bosspw",
			"support@example.test": "s3cret-Pa55",
		},
		TLS: tlsOn,
	})
	smtpCheck(t, err, "start devserver")
	t.Cleanup(func() { s.Close() })
	return s
}

func smtpHostPort(t testing.TB, addr string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	smtpCheck(t, err, "split "+addr)
	port, err := strconv.Atoi(p)
	smtpCheck(t, err, "port")
	return h, port
}

func smtpPlainSender(t testing.TB, s *devserver.Server) *Sender {
	t.Helper()
	host, port := smtpHostPort(t, s.SMTPAddr())
	snd, err := NewSender(Config{Host: host, Port: port, Security: "plain", Timeout: 5 * time.Second}, nil)
	smtpCheck(t, err, "new sender")
	return snd
}

const smtpKoreanSubject = "[#1234] 연말정산 환급금 지급 일정 문의드립니다 — 아주 긴 제목이어서 여러 줄로 접혀야 합니다 (재확인 요청)"

func smtpOutgoing() ticket.Outgoing {
	return ticket.Outgoing{
		ID:         9,
		TicketID:   1234,
		MessageID:  "ticket-1234.5@support.example.test",
		From:       ticket.Address{Name: "재정정보원 고객센터", Email: "support@example.test"},
		To:         []ticket.Address{{Name: "홍길동", Email: "customer@example.org"}},
		ReplyTo:    []ticket.Address{{Name: "고객센터", Email: "support@example.test"}},
		Subject:    smtpKoreanSubject,
		InReplyTo:  "orig-1@customer.example.org",
		References: []string{"orig-0@customer.example.org", "<orig-1@customer.example.org>"},
		Headers: map[string]string{
			"Auto-Submitted":           "auto-replied",
			"X-Auto-Response-Suppress": "All",
		},
		Text:      "안녕하십니까.\n접수되었습니다.\n",
		HTML:      "<p>안녕하십니까.</p>",
		Kind:      ticket.KindAuto,
		CreatedAt: time.Date(2025, 3, 4, 9, 30, 0, 0, time.FixedZone("KST", 9*3600)),
	}
}

func smtpOnlyMessage(t *testing.T, s *devserver.Server, user string) []byte {
	t.Helper()
	msgs, err := s.Messages(user, "INBOX")
	smtpCheck(t, err, "messages")
	if len(msgs) != 1 {
		t.Fatalf("%s has %d messages, want 1", user, len(msgs))
	}
	return msgs[0]
}

func TestSMTPSendHeaders(t *testing.T) {
	s := smtpDev(t, false)
	snd := smtpPlainSender(t, s)
	o := smtpOutgoing()
	o.Cc = []ticket.Address{{Name: "Boss, The", Email: "boss@example.org"}}
	smtpCheck(t, sendErr(snd.Send(context.Background(), o, nil)), "send")

	raw := smtpOnlyMessage(t, s, "customer@example.org")
	if !bytes.Equal(raw, smtpOnlyMessage(t, s, "boss@example.org")) {
		// Both copies differ only in the Received header the server adds.
		t.Log("copies differ (expected: Received names the recipient)")
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	smtpCheck(t, err, "parse")
	h := msg.Header
	dec := &mime.WordDecoder{}
	want := map[string]string{
		"Message-Id":               "<ticket-1234.5@support.example.test>",
		"In-Reply-To":              "<orig-1@customer.example.org>",
		"References":               "<orig-0@customer.example.org> <orig-1@customer.example.org>",
		"Auto-Submitted":           "auto-replied",
		"X-Auto-Response-Suppress": "All",
		"Return-Path":              "<support@example.test>", // the envelope sender
	}
	for k, v := range want {
		if got := strings.Join(strings.Fields(h.Get(k)), " "); got != v {
			t.Errorf("%s: got %q, want %q", k, got, v)
		}
	}
	subj, err := dec.DecodeHeader(h.Get("Subject"))
	smtpCheck(t, err, "decode subject")
	if subj != smtpKoreanSubject {
		t.Errorf("subject: got %q, want %q", subj, smtpKoreanSubject)
	}
	for _, k := range []string{"X-Mailer", "User-Agent", "Bcc"} {
		if v, ok := h[k]; ok {
			t.Errorf("unexpected %s: %q", k, v)
		}
	}
	if d, err := h.Date(); err != nil || !d.Equal(o.CreatedAt) {
		t.Errorf("Date: %v, %v", d, err)
	}
	addr := func(k string) []*mail.Address {
		l, err := h.AddressList(k)
		smtpCheck(t, err, k)
		return l
	}
	if f := addr("From"); len(f) != 1 || f[0].Name != "재정정보원 고객센터" || f[0].Address != "support@example.test" {
		t.Errorf("From: %v", f)
	}
	if l := addr("To"); len(l) != 1 || l[0].Name != "홍길동" || l[0].Address != "customer@example.org" {
		t.Errorf("To: %v", l)
	}
	if l := addr("Cc"); len(l) != 1 || l[0].Name != "Boss, The" || l[0].Address != "boss@example.org" {
		t.Errorf("Cc: %v", l)
	}
	if l := addr("Reply-To"); len(l) != 1 || l[0].Name != "고객센터" {
		t.Errorf("Reply-To: %v", l)
	}
	// Every header line is short and none carries a raw 8-bit byte.
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(head), "\r\n") {
		if len(line) > 998 {
			t.Errorf("header line too long: %q", line)
		}
		for i := 0; i < len(line); i++ {
			if line[i] >= 0x80 {
				t.Errorf("8-bit header line: %q", line)
				break
			}
		}
	}

	// Bodies: text/plain and text/html alternatives, decoded back exactly.
	mr, err := gomessagemail.CreateReader(bytes.NewReader(raw))
	smtpCheck(t, err, "go-message reader")
	bodies := map[string]string{}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		smtpCheck(t, err, "next part")
		if ih, ok := p.Header.(*gomessagemail.InlineHeader); ok {
			ct, _, _ := ih.ContentType()
			b, err := io.ReadAll(p.Body)
			smtpCheck(t, err, "read part")
			bodies[ct] = string(b)
		}
	}
	if got := strings.ReplaceAll(bodies["text/plain"], "\r\n", "\n"); got != o.Text {
		t.Errorf("text body %q", got)
	}
	if bodies["text/html"] != o.HTML {
		t.Errorf("html body %q", bodies["text/html"])
	}
}

func TestSMTPHeaderInjection(t *testing.T) {
	s := smtpDev(t, false)
	snd := smtpPlainSender(t, s)
	o := smtpOutgoing()
	o.Subject = "환급 문의\r\nBcc: boss@example.org"
	o.To[0].Name = "Evil\r\nBcc: boss@example.org"
	o.Headers["X-Note"] = "a\r\nBcc: boss@example.org\nX-Injected: 1"
	smtpCheck(t, sendErr(snd.Send(context.Background(), o, nil)), "send")
	raw := smtpOnlyMessage(t, s, "customer@example.org")
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	smtpCheck(t, err, "parse")
	for _, k := range []string{"Bcc", "X-Injected"} {
		if _, ok := msg.Header[k]; ok {
			t.Errorf("injected header %s present:\n%s", k, raw)
		}
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	smtpCheck(t, err, "decode")
	if subj != "환급 문의 Bcc: boss@example.org" {
		t.Errorf("subject %q", subj)
	}
	if got := msg.Header.Get("X-Note"); got != "a Bcc: boss@example.org X-Injected: 1" {
		t.Errorf("X-Note %q", got)
	}
	// The Bcc never became an envelope recipient either.
	if msgs, err := s.Messages("boss@example.org", "INBOX"); err != nil || len(msgs) != 0 {
		t.Errorf("boss got %d messages (%v)", len(msgs), err)
	}
}

func TestSMTPRecipientErrors(t *testing.T) {
	s := smtpDev(t, false)
	snd := smtpPlainSender(t, s)

	// 550 5.1.1 at RCPT (unknown user) for the only recipient: permanent.
	o := smtpOutgoing()
	o.To = []ticket.Address{{Email: "nobody@example.org"}}
	err := sendErr(snd.Send(context.Background(), o, nil))
	if err == nil || !ticket.IsPermanent(err) || !strings.Contains(err.Error(), "550") {
		t.Fatalf("550: want a permanent error, got %v", err)
	}

	// One good and one unknown recipient: the good one gets it, no error.
	o = smtpOutgoing()
	o.Cc = []ticket.Address{{Email: "nobody@example.org"}}
	refused, err := snd.Send(context.Background(), o, nil)
	smtpCheck(t, err, "partial send")
	if len(refused) != 1 || refused[0].Email != "nobody@example.org" || refused[0].Code != 550 || refused[0].Status != "5.1.1" || !refused[0].AddressFailure() {
		t.Fatalf("refused %+v, want nobody@example.org with 550 5.1.1", refused)
	}
	smtpOnlyMessage(t, s, "customer@example.org")

	// 451 at RCPT for the Cc: temporary, and nobody got this message.
	s.SetSMTPHook(func(from string, rcpts []string, data []byte) error {
		if data == nil && rcpts[0] == "boss@example.org" {
			return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}
		return nil
	})
	o = smtpOutgoing()
	o.MessageID = "second@support.example.test"
	o.Cc = []ticket.Address{{Email: "boss@example.org"}}
	err = sendErr(snd.Send(context.Background(), o, nil))
	if err == nil || ticket.IsPermanent(err) || !strings.Contains(err.Error(), "451") {
		t.Fatalf("451: want a temporary error, got %v", err)
	}
	smtpOnlyMessage(t, s, "customer@example.org") // still only the first one

	// 550 and 452 at the end of DATA.
	for code, permanent := range map[int]bool{554: true, 452: false} {
		s.SetSMTPHook(func(from string, rcpts []string, data []byte) error {
			if data != nil {
				return &gosmtp.SMTPError{Code: code, EnhancedCode: gosmtp.EnhancedCode{code / 100, 0, 0}, Message: "no"}
			}
			return nil
		})
		err := sendErr(snd.Send(context.Background(), smtpOutgoing(), nil))
		if err == nil || ticket.IsPermanent(err) != permanent || !strings.Contains(err.Error(), strconv.Itoa(code)) {
			t.Errorf("DATA %d: want permanent=%v, got %v", code, permanent, err)
		}
	}
}

func TestSMTPConnectErrors(t *testing.T) {
	// A closed port: temporary.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	smtpCheck(t, err, "listen")
	_, port := smtpHostPort(t, ln.Addr().String())
	ln.Close()
	snd, err := NewSender(Config{Host: "127.0.0.1", Port: port, Security: "plain", Timeout: 2 * time.Second}, nil)
	smtpCheck(t, err, "new")
	err = sendErr(snd.Send(context.Background(), smtpOutgoing(), nil))
	if err == nil || ticket.IsPermanent(err) {
		t.Errorf("closed port: want a temporary error, got %v", err)
	}

	// STARTTLS required but the server (TLS off) does not offer it: temporary.
	s := smtpDev(t, false)
	host, port := smtpHostPort(t, s.SMTPAddr())
	snd, err = NewSender(Config{Host: host, Port: port, Security: "starttls", Timeout: 2 * time.Second}, nil)
	smtpCheck(t, err, "new")
	err = sendErr(snd.Send(context.Background(), smtpOutgoing(), nil))
	if err == nil || ticket.IsPermanent(err) || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("no STARTTLS: want a temporary error, got %v", err)
	}
}

func TestSMTPConfigChecks(t *testing.T) {
	ok := Config{Host: "mail.example.com", Port: 587, Security: "starttls", Timeout: 30 * time.Second}
	bad := []func(c *Config){
		func(c *Config) { c.Security = "plain" },
		func(c *Config) { c.Host, c.Security, c.Port = "192.0.2.1", "plain", 25 },
		func(c *Config) { c.Host = "" },
		func(c *Config) { c.Security = "ssl" },
		func(c *Config) { c.Security = "" },
		func(c *Config) { c.Auth, c.Username, c.Password = "cram-md5", "u", "p" },
		func(c *Config) { c.Username, c.Password = "u", "p" }, // no mechanism
		func(c *Config) { c.Username = "u" },
		func(c *Config) { c.Password = "p" },
		func(c *Config) { c.Port = 70000 },
		func(c *Config) { c.Port = 0 },
		func(c *Config) { c.Timeout = 0 },
		func(c *Config) { c.TLSConfig = &tls.Config{InsecureSkipVerify: true} },
	}
	for i, change := range bad {
		cfg := ok
		change(&cfg)
		if _, err := NewSender(cfg, nil); err == nil {
			t.Errorf("bad config %d %+v: accepted", i, cfg)
		}
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1", "[::1]", "127.0.0.2"} {
		if _, err := NewSender(Config{Host: h, Port: 25, Security: "plain", Timeout: time.Second}, nil); err != nil {
			t.Errorf("plain to %s refused: %v", h, err)
		}
	}
	for _, sec := range []string{"starttls", "tls"} {
		cfg := ok
		cfg.Security, cfg.Username, cfg.Password, cfg.Auth = sec, "u", "p", "login"
		snd, err := NewSender(cfg, nil)
		smtpCheck(t, err, sec)
		if snd.cfg != cfg || snd.tls.ServerName != "mail.example.com" {
			t.Errorf("%q: config %+v, servername %q", sec, snd.cfg, snd.tls.ServerName)
		}
	}
}

func TestSMTPTLS(t *testing.T) {
	s := smtpDev(t, true)
	var logBuf bytes.Buffer
	log := slog.New(tickettest.Watch(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})))

	host, port := smtpHostPort(t, s.SMTPAddr())
	_, tlsPort := smtpHostPort(t, s.SMTPTLSAddr())
	cases := []struct {
		name     string
		cfg      Config
		ok       bool
		contains string
	}{
		{"starttls trusted", Config{Security: "starttls", Host: host, Port: port, TLSConfig: &tls.Config{RootCAs: s.RootCAs()}}, true, ""},
		{"starttls untrusted", Config{Security: "starttls", Host: host, Port: port}, false, "certificate"},
		{"tls trusted", Config{Host: host, Port: tlsPort, Security: "tls", TLSConfig: &tls.Config{RootCAs: s.RootCAs()}}, true, ""},
		{"tls untrusted", Config{Host: host, Port: tlsPort, Security: "tls"}, false, "certificate"},
		{"starttls auth plain", Config{Security: "starttls", Host: host, Port: port, TLSConfig: &tls.Config{RootCAs: s.RootCAs()},
			Username: "support@example.test", Password: "s3cret-Pa55", Auth: "plain"}, true, ""},
		{"tls auth plain", Config{Host: host, Port: tlsPort, Security: "tls", TLSConfig: &tls.Config{RootCAs: s.RootCAs()},
			Username: "support@example.test", Password: "s3cret-Pa55", Auth: "plain"}, true, ""},
		{"starttls bad password", Config{Security: "starttls", Host: host, Port: port, TLSConfig: &tls.Config{RootCAs: s.RootCAs()},
			Username: "support@example.test", Password: "wrong-s3cret", Auth: "plain"}, false, "535"},
	}
	delivered := 0
	for _, tc := range cases {
		tc.cfg.Timeout = 5 * time.Second
		snd, err := NewSender(tc.cfg, log)
		smtpCheck(t, err, tc.name)
		o := smtpOutgoing()
		o.MessageID = strings.ReplaceAll(tc.name, " ", "-") + "@support.example.test"
		err = sendErr(snd.Send(context.Background(), o, nil))
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case !tc.ok && err == nil:
			t.Errorf("%s: no error", tc.name)
		case !tc.ok && (ticket.IsPermanent(err) || !strings.Contains(err.Error(), tc.contains)):
			t.Errorf("%s: want a temporary error mentioning %q, got %v", tc.name, tc.contains, err)
		}
		if tc.ok {
			delivered++
		}
	}
	msgs, err := s.Messages("customer@example.org", "INBOX")
	smtpCheck(t, err, "messages")
	if len(msgs) != delivered {
		t.Errorf("%d messages delivered, want %d", len(msgs), delivered)
	}
	for _, pw := range []string{"s3cret-Pa55", "wrong-s3cret"} {
		if strings.Contains(logBuf.String(), pw) {
			t.Errorf("log contains the password %q:\n%s", pw, logBuf.String())
		}
	}
}

func TestSMTPContextCancel(t *testing.T) {
	s := smtpDev(t, false)
	snd := smtpPlainSender(t, s)
	release := make(chan struct{})
	defer close(release)
	s.SetSMTPHook(func(from string, rcpts []string, data []byte) error {
		if data != nil {
			<-release
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := sendErr(snd.Send(ctx, smtpOutgoing(), nil))
	if err == nil || ticket.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("want a temporary deadline error, got %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Send took %v after the context ended", d)
	}
}

func TestBuildMessageErrors(t *testing.T) {
	mod := []struct {
		name string
		f    func(o *ticket.Outgoing)
	}{
		{"no message id", func(o *ticket.Outgoing) { o.MessageID = "" }},
		{"bad message id", func(o *ticket.Outgoing) { o.MessageID = "a b@c" }},
		{"bad from", func(o *ticket.Outgoing) { o.From.Email = "not an address" }},
		{"two addresses in one", func(o *ticket.Outgoing) { o.To[0].Email = "a@example.org, b@example.org" }},
		{"no recipients", func(o *ticket.Outgoing) { o.To = nil }},
		{"reserved header", func(o *ticket.Outgoing) { o.Headers["bcc"] = "x@example.org" }},
		{"bad header name", func(o *ticket.Outgoing) { o.Headers["X Bad"] = "1" }},
	}
	s := smtpDev(t, false)
	snd := smtpPlainSender(t, s)
	for _, tc := range mod {
		o := smtpOutgoing()
		o.Headers = map[string]string{"Auto-Submitted": "auto-replied"}
		tc.f(&o)
		if _, err := BuildMessage(o); err == nil {
			t.Errorf("%s: BuildMessage accepted it", tc.name)
		}
		if err := sendErr(snd.Send(context.Background(), o, nil)); err == nil || !ticket.IsPermanent(err) {
			t.Errorf("%s: Send: want a permanent error, got %v", tc.name, err)
		}
	}
	if msgs, _ := s.Messages("customer@example.org", "INBOX"); len(msgs) != 0 {
		t.Errorf("%d messages sent", len(msgs))
	}
}

// A customer's Message-ID that cannot be echoed byte-exactly (non-ASCII
// bytes, spaces, CR LF, brackets) does not stop the mail: it goes out in
// its safe form, and nothing can be injected through it.
func TestBuildMessageUnsafeReferences(t *testing.T) {
	o := smtpOutgoing()
	o.InReplyTo = "한글-아이디@example.kr"
	o.References = []string{"a@b>\r\nBcc: x@y", "plain@example.org", "한글-아이디@example.kr"}
	m, err := BuildMessage(o)
	smtpCheck(t, err, "build")
	var buf bytes.Buffer
	_, err = m.WriteTo(&buf)
	smtpCheck(t, err, "write")
	hdr, _, _ := strings.Cut(buf.String(), "\r\n\r\n")
	safe := "<" + ticket.SafeMessageID("한글-아이디@example.kr") + ">"
	unfolded := strings.ReplaceAll(hdr, "\r\n ", " ")
	for _, want := range []string{"In-Reply-To: " + safe, "References: <a@b%3E%0D%0ABcc:%20x@y> <plain@example.org> " + safe} {
		if !strings.Contains(unfolded, want) {
			t.Errorf("header lacks %q:\n%s", want, hdr)
		}
	}
	if strings.Contains(hdr, "\r\nBcc:") {
		t.Errorf("a Bcc was injected:\n%s", hdr)
	}
	for _, line := range strings.Split(hdr, "\r\n") {
		for _, r := range line {
			if r > 0x7e {
				t.Fatalf("non-ASCII in the header: %q", line)
			}
		}
	}
}

// Bidirectional controls never reach a header or a file name we send.
func TestBuildMessageStripsBidi(t *testing.T) {
	o := smtpOutgoing()
	o.Subject = "[#1] 영수증\u202egpj.exe"
	o.To[0].Name = "김\u2067고객\u2069"
	o.Attachments = []ticket.OutAttachment{{Filename: "invoice\u202Efdp.exe", ContentType: "application/octet-stream", Data: []byte("x")}}
	m, err := BuildMessage(o)
	smtpCheck(t, err, "build")
	var buf bytes.Buffer
	_, err = m.WriteTo(&buf)
	smtpCheck(t, err, "write")
	parsed, perr := gomessagemail.CreateReader(bytes.NewReader(buf.Bytes()))
	smtpCheck(t, perr, "parse")
	subj, _ := parsed.Header.Subject()
	to, _ := parsed.Header.AddressList("To")
	if subj != "[#1] 영수증gpj.exe" || len(to) != 1 || to[0].Name != "김고객" {
		t.Fatalf("subject %q, to %+v", subj, to)
	}
	for {
		p, err := parsed.NextPart()
		if err != nil {
			break
		}
		if ah, ok := p.Header.(*gomessagemail.AttachmentHeader); ok {
			name, _ := ah.Filename()
			if name != "invoicefdp.exe" {
				t.Fatalf("attachment name %q", name)
			}
			return
		}
	}
	t.Fatal("no attachment")
}

func TestBuildMessageNoHTML(t *testing.T) {
	o := smtpOutgoing()
	o.HTML = ""
	o.Subject = ""
	m, err := BuildMessage(o)
	smtpCheck(t, err, "build")
	var buf bytes.Buffer
	_, err = m.WriteTo(&buf)
	smtpCheck(t, err, "write")
	msg, err := mail.ReadMessage(&buf)
	smtpCheck(t, err, "parse")
	if ct := msg.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q", ct)
	}
}

// sendErr drops the refusals of a Send.
func sendErr(_ []ticket.Refusal, err error) error { return err }
