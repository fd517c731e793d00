package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/ticketd/ticketd/mailbox/devserver"
	"github.com/ticketd/ticketd/mailbox/hostile"
)

// writeCfg writes a config file into a fresh data dir and returns its
// path; body is the YAML after data_dir.
func writeCfg(t *testing.T, body string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tdh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "ticketd.yaml")
	if err := os.WriteFile(path, []byte("data_dir: "+dir+"\n"+body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// healthy waits until /healthz answers code with every want in its body,
// and returns the body.
func healthy(t *testing.T, base string, code int, within time.Duration, want ...string) string {
	t.Helper()
	var body string
	waitFor(t, within, func() string {
		var got int
		got, body = get(base + "/healthz")
		if got != code {
			return fmt.Sprintf("/healthz %d, want %d: %s", got, code, body)
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				return fmt.Sprintf("/healthz lacks %q: %s", w, body)
			}
		}
		return ""
	})
	return body
}

// /healthz is 503, naming the key to fix, while mail cannot be sent:
// the SMTP server refuses the login.
func TestHealthzReportsSendingFailures(t *testing.T) {
	srv, err := devserver.Start(devserver.Options{Users: map[string]string{"support@example.test": "pw", "kim@example.test": "pw"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ih, ip, _ := net.SplitHostPort(srv.IMAPAddr())
	sh, sp, _ := net.SplitHostPort(srv.SMTPAddr())
	port := freePort(t)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "smtp-pw")
	os.WriteFile(pwFile, []byte("wrong\n"), 0o600)
	cfg := writeCfg(t, fmt.Sprintf(`center: {address: support@example.test}
log: {level: error}
http: {listen: "127.0.0.1:%s"}
mailboxes: [{host: %s, port: %s, security: plain, username: support@example.test, password: pw, schedule: "@every 1s"}]
smtp: {host: %s, port: %s, security: plain, username: support@example.test, password_file: %s}
outbox: {min_backoff: 50ms, max_backoff: 200ms}
`, port, ih, ip, sh, sp, pwFile))
	srv.Append("support@example.test", "INBOX", []byte("From: kim@example.test\r\nTo: support@example.test\r\nSubject: q\r\nMessage-ID: <h1@example.test>\r\n\r\nhi\r\n"))
	stop := serveInBackground(t, cfg)
	base := "http://127.0.0.1:" + port
	body := healthy(t, base, 503, 20*time.Second, "authentication failed", "smtp.username and smtp.password_file", `"sending"`)
	if strings.Contains(body, "wrong") {
		t.Fatalf("/healthz shows the password: %s", body)
	}
	_, metrics := get(base + "/metrics")
	// The inquiry opened a ticket with the default SLA: its first answer
	// is due (in business time, so never already past).
	if v := metricValue(metrics, `ticketd_tickets_sla{due="first_response",state="due"}`); v != 1 {
		t.Errorf("ticketd_tickets_sla first_response due = %v, want 1\n%s", v, metrics)
	}
	if v := metricValue(metrics, "ticketd_smtp_up"); v != 0 {
		t.Fatalf("ticketd_smtp_up = %v while the login fails, want 0", v)
	}
	stop()
}

// The outbox's oldest mail waiting longer than health.outbox_max_age
// makes /healthz 503, even when the server answers (a 4xx, say).
func TestHealthzReportsAStaleOutbox(t *testing.T) {
	s := newStack(t, `http: {listen: "127.0.0.1:`+freePort(t)+`"}`, `health: {outbox_max_age: 1s}`)
	s.srv.SetSMTPHook(func(from string, rcpts []string, data []byte) error {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	})
	s.srv.Append("support@example.test", "INBOX", []byte(inquiry))
	stop := serveInBackground(t, s.cfg)
	cfg, _ := os.ReadFile(s.cfg)
	port := strings.TrimSuffix(strings.Split(strings.Split(string(cfg), `listen: "127.0.0.1:`)[1], `"`)[0], "}")
	healthy(t, "http://127.0.0.1:"+port, 503, 20*time.Second, "longer than health.outbox_max_age")
	stop()
}

// hostileCfg is a config for one mailbox on a hostile IMAP server; the
// SMTP server is a dev server.
func hostileCfg(t *testing.T, h *hostile.Server, extra string) (cfg, base string) {
	t.Helper()
	srv, err := devserver.Start(devserver.Options{Users: map[string]string{"support@example.test": "pw"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ih, ip, _ := net.SplitHostPort(h.Addr())
	sh, sp, _ := net.SplitHostPort(srv.SMTPAddr())
	port := freePort(t)
	return writeCfg(t, fmt.Sprintf(`center: {address: support@example.test}
log: {level: error}
http: {listen: "127.0.0.1:%s"}
smtp: {host: %s, port: %s, security: plain}
%s
`, port, sh, sp, strings.ReplaceAll(strings.ReplaceAll(extra, "HOST", ih), "PORT", ip))), "http://127.0.0.1:" + port
}

// A server that stops answering makes each poll fail within the timeout:
// /healthz turns 503 and ticketd_mailbox_up 0, and serve stops at once on
// SIGTERM.
func TestStalledMailboxIsUnhealthyAndServeStops(t *testing.T) {
	h, err := hostile.Start(hostile.Options{Messages: [][]byte{[]byte("Subject: a\r\n\r\nb\r\n")},
		Plan: hostile.Plan{Stall: "SELECT", StallAlways: true}, Lifetime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	cfg, base := hostileCfg(t, h, `health: {fail_after: 2}
mailboxes: [{host: HOST, port: PORT, security: plain, username: support@example.test, password: pw, schedule: "@every 1s", timeout: 300ms}]`)
	stop := serveInBackground(t, cfg)
	defer func() {
		if t.Failed() {
			_, errs := stop()
			t.Logf("serve: %s", errs)
		}
	}()
	healthy(t, base, 503, 20*time.Second, "consecutive failed polls", "no answer from the server within 300ms")
	_, metrics := get(base + "/metrics")
	if v := metricValue(metrics, `ticketd_mailbox_up{mailbox="mailbox1/INBOX"}`); v != 0 {
		t.Fatalf("ticketd_mailbox_up = %v while every poll stalls, want 0", v)
	}
	start := time.Now()
	code, _ := stop()
	if code != 0 || time.Since(start) > 15*time.Second {
		t.Fatalf("serve stopped with %d after %v", code, time.Since(start))
	}
}

// SIGTERM stops serve within a few seconds even while a poll waits on a
// server that does not answer and the timeout is long.
func TestServeStopsDuringAStall(t *testing.T) {
	h, err := hostile.Start(hostile.Options{Messages: [][]byte{[]byte("Subject: a\r\n\r\nb\r\n")},
		Plan: hostile.Plan{Stall: "UID SEARCH", StallAlways: true}, Lifetime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	cfg, base := hostileCfg(t, h, `mailboxes: [{host: HOST, port: PORT, security: plain, username: support@example.test, password: pw, idle: true, timeout: 10m}]`)
	stop := serveInBackground(t, cfg)
	waitFor(t, 10*time.Second, func() string {
		if h.Count("UID SEARCH") == 0 || h.Count("IDLE") == 0 {
			return "the poll has not reached the stall, or IDLE has not started"
		}
		return ""
	})
	healthy(t, base, 200, 5*time.Second)
	start := time.Now()
	code, _ := stop()
	if took := time.Since(start); code != 0 || took > 15*time.Second {
		t.Fatalf("serve stopped with %d after %v, want 0 within a few seconds", code, took)
	}
}
