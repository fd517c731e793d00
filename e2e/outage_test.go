package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func outageMail(i int) []byte {
	return fmt.Appendf(nil, "From: customer@example.test\r\nTo: support@example.test\r\nSubject: outage %d\r\n"+
		"Message-ID: <outage-%d@example.test>\r\n\r\nmail %d\r\n", i, i, i)
}

// TestOutages stops the real Dovecot, then the real Postfix, under a
// running ticketd serve and brings them back: nothing is lost, each
// acknowledgement arrives once, and an outage is logged once, not at
// every tick.
func TestOutages(t *testing.T) {
	s := Start(t, 29000)
	bin := buildTicketd(t, s.RepoRoot())
	cfg, dataDir := writeConfig(t, s,
		"limits: {auto_min_interval: -1s, auto_per_hour: 100000, auto_per_day: 100000}",
		"outbox: {min_backoff: 300ms, max_backoff: 2s, lease: 5s}",
		`http: {listen: "127.0.0.1:29180"}`, "health: {fail_after: 2}")
	text, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, bytes.Replace(text, []byte("    post_action: move\n"), []byte("    schedule: \"@every 1s\"\n    post_action: move\n"), 1), 0o600)
	log := &lockedBuffer{}
	var serve *exec.Cmd
	startServe := func() {
		serve = exec.Command(bin, "--config", cfg, "serve")
		serve.Stdout, serve.Stderr = log, log
		if err := serve.Start(); err != nil {
			t.Fatal(err)
		}
	}
	stopServe := func() {
		serve.Process.Signal(syscall.SIGTERM)
		serve.Wait()
	}
	defer func() {
		serve.Process.Kill()
		serve.Wait()
		if t.Failed() {
			t.Logf("serve log:\n%s", log.String())
		}
	}()
	waitTickets := func(n int) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for time.Now().Before(deadline) {
			if code, out := runTicketd(t, bin, cfg, "tickets", "list", "--json"); code == 0 && strings.Count(out, `"id"`) >= n {
				return
			}
			time.Sleep(300 * time.Millisecond)
		}
		t.Fatalf("fewer than %d tickets after 90 s", n)
	}
	waitLog := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if strings.Contains(log.String(), what) {
				return
			}
		}
		t.Errorf("the log never said %q", what)
	}
	sock := filepath.Join(dataDir, "ticketd.sock")
	waitSocket := func() {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if _, err := os.Stat(sock); err == nil {
				return
			}
		}
		t.Fatal("serve did not open its admin socket")
	}
	startServe()
	waitSocket()
	for i := 0; i < 3; i++ {
		s.SendMail("customer@example.test", []string{"support@example.test"}, outageMail(i))
	}
	waitTickets(3)

	// IMAP outage in the middle of a fetch: with serve stopped, 1000 mails
	// are waiting; serve starts (and polls at once), Dovecot is killed
	// 100 ms later and started again once /healthz reports it.
	stopServe()
	var batch [][]byte
	for i := 100; i < 1100; i++ {
		batch = append(batch, append(outageMail(i), bytes.Repeat([]byte("x"), 8000)...))
	}
	if err := s.Append("support", "INBOX", batch); err != nil {
		t.Fatal(err)
	}
	startServe()
	time.Sleep(100 * time.Millisecond)
	// SIGKILL, like a crash: the fetch in progress is cut off.
	if err := s.KillDovecot(); err != nil {
		t.Fatal(err)
	}
	stored := ticketCount(t, bin, cfg) - 3
	// Down until /healthz reports the mailbox failing (health.fail_after
	// polls in a row), however slow this machine is today.
	var health string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		// The mailbox's own failure, not only a 503: with Dovecot down,
		// Postfix's SASL fails too and the SMTP side may report first.
		// ("failing_since" alone would match the sending section's.)
		if health = getHealth(t, "http://127.0.0.1:29180/healthz"); strings.HasPrefix(health, "503") && mailboxUnhealthy(health) {
			break
		}
	}
	if !strings.Contains(health, "support/INBOX") || !mailboxUnhealthy(health) || !strings.HasPrefix(health, "503") {
		t.Errorf("/healthz during the IMAP outage: %s", health)
	}
	fmt.Printf("/healthz during the IMAP outage: %s\n", strings.Join(strings.Fields(health), " "))
	if err := s.StartDovecot(); err != nil {
		t.Fatal(err)
	}
	waitLog("mailbox recovered")
	waitTickets(1003)
	logs := log.String()
	failing, recovered := strings.Count(logs, "mailbox failing"), strings.Count(logs, "mailbox recovered")
	fmt.Printf("IMAP outage (Dovecot killed %d mails into a 1000-mail fetch): %d 'mailbox failing' line(s), %d 'mailbox recovered' line(s)\n",
		stored, failing, recovered)
	if failing != 1 || recovered != 1 {
		t.Errorf("IMAP outage logged %d failing / %d recovered lines, want 1 / 1", failing, recovered)
	}
	if n := ticketCount(t, bin, cfg); n != 1003 {
		t.Errorf("%d tickets after the IMAP outage, want 1003 (each mail once)", n)
	}
	// With Dovecot down, Postfix's SASL failed too: the outbox is in its
	// backoff (at most max_backoff, 2 s, with jitter) and reports healthy
	// once a mail goes through again.
	back := time.Now()
	h := getHealth(t, "http://127.0.0.1:29180/healthz")
	for deadline := back.Add(10 * time.Second); !strings.HasPrefix(h, "200") && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		h = getHealth(t, "http://127.0.0.1:29180/healthz")
	}
	if !strings.HasPrefix(h, "200") {
		t.Errorf("/healthz 10 s after recovery: %s", h)
	}
	fmt.Printf("/healthz 200 again %v after the tickets were in\n", time.Since(back).Round(100*time.Millisecond))

	// SMTP outage: acknowledgements queue and are retried with backoff
	// until Postfix is back.
	if err := s.StopPostfix(); err != nil {
		t.Fatal(err)
	}
	var raws [][]byte
	for i := 6; i < 9; i++ {
		raws = append(raws, outageMail(i))
	}
	if err := s.Append("support", "INBOX", raws); err != nil {
		t.Fatal(err)
	}
	waitTickets(1006)
	time.Sleep(3 * time.Second) // several failed sends
	// /healthz says sending fails, and what to check.
	var smtpHealth string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if smtpHealth = getHealth(t, "http://127.0.0.1:29180/healthz"); strings.HasPrefix(smtpHealth, "503") && strings.Contains(smtpHealth, "smtp:") {
			break
		}
	}
	if !strings.HasPrefix(smtpHealth, "503") || !strings.Contains(smtpHealth, "mail cannot be sent") || !strings.Contains(smtpHealth, "smtp.host") {
		t.Errorf("/healthz during the SMTP outage: %s", smtpHealth)
	}
	fmt.Printf("/healthz during the SMTP outage: %s\n", strings.Join(strings.Fields(smtpHealth), " "))
	if err := s.StartPostfix(); err != nil {
		t.Fatal(err)
	}
	acks, err := s.WaitMessages("customer", "INBOX", Contains("Auto-Submitted: auto-replied"), 1006, 180*time.Second)
	if err != nil {
		t.Fatalf("acknowledgements after the outages: %v", err)
	}
	time.Sleep(time.Second)
	acks, _ = s.Messages("customer", "INBOX")
	// One acknowledgement per mail means one accepted by Postfix: copies
	// with the same Postfix queue id are Postfix delivering again over
	// LMTP when Dovecot was killed after saving the mail but before it
	// answered (at-least-once delivery of the mail stack, not a second
	// send by ticketd).
	per := map[string]int{}
	queued := map[string]bool{}
	for _, a := range acks {
		m := inReplyTo.FindSubmatch(a)
		if m == nil {
			continue
		}
		q := postfixQueueID.FindSubmatch(a)
		if q == nil {
			t.Fatalf("an acknowledgement without Postfix's Received field:\n%.600s", a)
		}
		if queued[string(q[1])] {
			continue
		}
		queued[string(q[1])] = true
		per[string(m[1])]++
	}
	if redelivered := len(acks) - len(queued); redelivered > 0 {
		fmt.Printf("SMTP outage: %d acknowledgement(s) delivered again by Postfix (same queue id)\n", redelivered)
	}
	for _, i := range append([]int{0, 1, 2, 6, 7, 8}, rangeInts(100, 1100)...) {
		if n := per[fmt.Sprintf("outage-%d@example.test", i)]; n != 1 {
			t.Errorf("mail %d got %d acknowledgements, want 1", i, n)
		}
	}
	// While Dovecot was down Postfix could not authenticate submissions
	// either (Dovecot is its SASL backend), so sending may have had an
	// outage then too, which can run into the Postfix one: one or two
	// outages, each logged once when it starts and once when it ends.
	logs = log.String()
	down, up := strings.Count(logs, "outbox: sending fails"), strings.Count(logs, "outbox: sending works again")
	fmt.Printf("SMTP outage of 3 s: %d 'sending fails' and %d 'works again' log lines in the whole run, %d acknowledgements delivered once each\n", down, up, len(per))
	if down < 1 || down > 2 || up != down {
		t.Errorf("sending outages logged %d start / %d end lines, want 1 or 2 of each", down, up)
	}
	if h := getHealth(t, "http://127.0.0.1:29180/healthz"); !strings.HasPrefix(h, "200") {
		t.Errorf("/healthz after the SMTP outage: %s", h)
	}
}

func rangeInts(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// getHealth returns "STATUS BODY" of a GET.
// mailboxUnhealthy reports whether a getHealth answer has a mailbox
// marked unhealthy.
func mailboxUnhealthy(health string) bool {
	_, body, _ := strings.Cut(health, " ")
	var rep struct {
		Mailboxes []struct {
			Healthy bool `json:"healthy"`
		} `json:"mailboxes"`
	}
	if json.Unmarshal([]byte(body), &rep) != nil {
		return false
	}
	for _, m := range rep.Mailboxes {
		if !m.Healthy {
			return true
		}
	}
	return false
}

func getHealth(t *testing.T, url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(body))
}

// postfixQueueID finds the queue id in the Received field Postfix adds when
// it accepts a mail ("by mail.example.test (Postfix) with ESMTPSA id
// 2086D987C71").
var postfixQueueID = regexp.MustCompile(`\(Postfix\) with E?SMTPS?A? id ([0-9A-Za-z]+)`)
