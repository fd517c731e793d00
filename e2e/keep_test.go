package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKeptSMTPConnectionAcrossAPostfixRestart: ticketd serve sends 400
// acknowledgements on kept connections (RSET between mails, at most 100
// mails or 30 s a connection); Postfix is stopped in the middle of the
// stream (its smtpd serving the kept connection lives on, orphaned, and
// can no longer queue mail) and started again 2 s later. Every
// acknowledgement arrives, each once (one more copy at most, the documented
// case of a reply lost after the data went out), and far fewer
// connections are opened than mails are sent.
func TestKeptSMTPConnectionAcrossAPostfixRestart(t *testing.T) {
	const n = 400
	s := Start(t, 39000)
	bin := buildTicketd(t, s.RepoRoot())
	cfg, _ := writeConfig(t, s,
		"limits: {auto_min_interval: -1s, auto_per_hour: 100000, auto_per_day: 100000}",
		"outbox: {min_backoff: 300ms, max_backoff: 2s, lease: 5s}")
	text, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(text), "    post_action: move\n", "    schedule: \"@every 1s\"\n    post_action: move\n", 1)), 0o600)
	var batch [][]byte
	for i := range n {
		batch = append(batch, fmt.Appendf(nil, "From: customer@example.test\r\nTo: support@example.test\r\nSubject: keep %d\r\n"+
			"Message-ID: <keep-%d@example.test>\r\n\r\nmail %d\r\n", i, i, i))
	}
	if err := s.Append("support", "INBOX", batch); err != nil {
		t.Fatal(err)
	}
	log := &lockedBuffer{}
	serve := exec.Command(bin, "--config", cfg, "serve")
	serve.Stdout, serve.Stderr = log, log
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		serve.Process.Signal(syscall.SIGTERM)
		serve.Wait()
		if t.Failed() {
			t.Logf("serve log:\n%s", log.String())
		}
	}()
	if _, err := s.WaitMessages("customer", "INBOX", Contains("Auto-Submitted: auto-replied"), 40, 90*time.Second); err != nil {
		t.Fatalf("the acknowledgements did not start: %v", err)
	}
	if err := s.StopPostfix(); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Messages("customer", "INBOX")
	time.Sleep(2 * time.Second)
	if err := s.StartPostfix(); err != nil {
		t.Fatalf("Postfix does not start again after a stop under a kept connection: %v", err)
	}
	if _, err := s.WaitMessages("customer", "INBOX", Contains("Auto-Submitted: auto-replied"), n, 120*time.Second); err != nil {
		t.Fatalf("acknowledgements after the restart: %v", err)
	}
	time.Sleep(time.Second)
	acks, _ := s.Messages("customer", "INBOX")
	per := map[string]int{}
	queued := map[string]bool{}
	for _, a := range acks {
		m, q := inReplyTo.FindSubmatch(a), postfixQueueID.FindSubmatch(a)
		if m == nil || q == nil || queued[string(q[1])] {
			continue
		}
		queued[string(q[1])] = true
		per[string(m[1])]++
	}
	extra := 0
	for i := range n {
		switch c := per[fmt.Sprintf("keep-%d@example.test", i)]; {
		case c == 0:
			t.Errorf("mail %d got no acknowledgement", i)
		case c > 1:
			extra += c - 1
		}
	}
	if extra > 1 {
		t.Errorf("%d acknowledgements sent twice, want at most one (a reply lost at the stop)", extra)
	}
	pflog, _ := os.ReadFile(filepath.Join(s.Dir, "log", "postfix.log"))
	conns := 0
	for _, l := range strings.Split(string(pflog), "\n") {
		if strings.Contains(l, "/submission/smtpd[") && strings.Contains(l, ": connect from") {
			conns++
		}
	}
	fmt.Printf("kept SMTP connection: %d acknowledgements (%d before the stop, %d sent twice) over %d submission connections\n", len(per), len(got), extra, conns)
	if conns == 0 || conns > n/10 {
		t.Errorf("%d submission connections for %d mails: the connection is not kept", conns, n)
	}
	if lines := strings.Count(log.String(), "sending it on a new connection"); lines > 5 {
		t.Errorf("%d retries on a new connection", lines)
	}
}
