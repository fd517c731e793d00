package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestIdlePickupLatency runs `ticketd serve` with IMAP IDLE on and a
// schedule of one hour, so only IDLE can explain a fast pickup, sends 20
// mails one at a time through Postfix, and measures for each, from the end
// of the SMTP transaction (Postfix answered 250 to DATA and the session
// quit):
//
//   - pickup: until the ticket is listed by `ticketd tickets list --json`
//     (through the admin socket, asked every 20 ms);
//   - ack: until the acknowledgement (In-Reply-To the mail) can be read in
//     the customer's INBOX over IMAP (WaitMessage, which looks every 50 ms).
//
// It prints the median and p95 of both, and asserts only bounds that prove
// IDLE works without depending on the machine's speed.
func TestIdlePickupLatency(t *testing.T) {
	const mails = 20
	s := Start(t, 27000)
	bin := buildTicketd(t, s.RepoRoot())
	// Each mail comes from its own address, so that the per-address limits
	// on automatic mail (one per 2 minutes) do not hold acknowledgements back.
	cfg, dataDir := writeConfig(t, s, "log: {level: debug}")
	raw, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// idle_restart 3s: IDLE is restarted a few times while the mails come.
	withIdle := strings.Replace(string(raw), "    move_to: Processed\n",
		"    move_to: Processed\n    schedule: \"@every 1h\"\n    idle: true\n    idle_restart: 3s\n", 1)
	if withIdle == string(raw) {
		t.Fatal("writeConfig changed: no mailbox entry to add idle to")
	}
	if err := os.WriteFile(cfg, []byte(withIdle), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := runTicketd(t, bin, cfg, "check-config"); code != 0 {
		t.Fatalf("check-config: %d\n%s", code, out)
	}

	serve := exec.Command(bin, "--config", cfg, "serve")
	serveLog := &lockedBuffer{}
	serve.Stdout, serve.Stderr = serveLog, serveLog
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		serve.Process.Signal(syscall.SIGTERM)
		if err := serve.Wait(); err != nil {
			t.Errorf("serve after SIGTERM: %v", err)
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("serve log:\n%s", serveLog)
		}
	})
	sock := filepath.Join(dataDir, "ticketd.sock")
	idleWaitUntil(t, "the admin socket", 20*time.Second, func() bool {
		_, err := os.Stat(sock)
		return err == nil
	})
	// The mails are sent once IDLE runs; the poll at start is over by then
	// and the next tick of the schedule is an hour away.
	idleWaitUntil(t, "IDLE to start", 30*time.Second, func() bool {
		return strings.Contains(serveLog.String(), "imap idle: watching for new mail")
	})

	var pickups, acks []time.Duration
	for i := 1; i <= mails; i++ {
		subject := fmt.Sprintf("idle pickup %02d", i)
		msgid := fmt.Sprintf("idle-%02d@example.test", i)
		from := fmt.Sprintf("customer+idle%02d@example.test", i)
		m := fmt.Sprintf("From: <%s>\r\nTo: support@example.test\r\nSubject: %s\r\nMessage-ID: <%s>\r\n"+
			"Date: %s\r\n\r\nHow soon is this seen?\r\n", from, subject, msgid, time.Now().Format(time.RFC1123Z))
		if err := s.SendMail(from, []string{"support@example.test"}, []byte(m)); err != nil {
			t.Fatalf("mail %d: %v", i, err)
		}
		accepted := time.Now()

		var wg sync.WaitGroup
		var ack time.Duration
		var ackErr error
		wg.Go(func() {
			_, ackErr = s.WaitMessage("customer", "INBOX", inReplyToIs(msgid), 60*time.Second)
			ack = time.Since(accepted)
		})
		pickup, err := waitTicket(bin, cfg, subject, accepted, 20*time.Second)
		if err != nil {
			t.Errorf("mail %d: %v", i, err)
		}
		wg.Wait()
		if ackErr != nil {
			t.Fatalf("mail %d: acknowledgement: %v", i, ackErr)
		}
		if err != nil {
			t.FailNow()
		}
		t.Logf("mail %2d: ticket stored after %v, acknowledgement readable after %v", i, pickup.Round(time.Millisecond), ack.Round(time.Millisecond))
		pickups = append(pickups, pickup)
		acks = append(acks, ack)
	}
	stop()

	for _, r := range []struct {
		what string
		d    []time.Duration
	}{
		{"SMTP accept -> ticket stored (tickets list --json every 20ms)", pickups},
		{"SMTP accept -> acknowledgement in the customer's INBOX (IMAP, every 50ms)", acks},
	} {
		med, p95, most := LatencyStats(r.d)
		line := fmt.Sprintf("idle latency, %d mails, schedule @every 1h: %s: median %v, p95 %v, max %v",
			len(r.d), r.what, med.Round(time.Millisecond), p95.Round(time.Millisecond), most.Round(time.Millisecond))
		t.Log(line)
		fmt.Printf("%s\n", line)
	}
	log := serveLog.String()
	if n := strings.Count(log, "imap idle: connection lost"); n != 0 {
		t.Errorf("the IDLE connection was lost %d times against a local Dovecot", n)
	}
	if n := strings.Count(log, "imap idle: watching for new mail"); n != 1 {
		t.Errorf("IDLE started %d times, want once", n)
	}
	restarts := strings.Count(log, "imap idle: restarted")
	t.Logf("IDLE was restarted %d times on one connection", restarts)
	if restarts < 2 {
		t.Errorf("IDLE restarted %d times with idle_restart 3s, want at least 2", restarts)
	}
}

// waitTicket asks `ticketd tickets list --json` every 20ms until a ticket
// with subject exists, and returns the time from start until it was seen.
func waitTicket(bin, cfg, subject string, start time.Time, timeout time.Duration) (time.Duration, error) {
	var last string
	for time.Since(start) < timeout {
		out, err := exec.Command(bin, "--config", cfg, "tickets", "list", "--json").Output()
		if err == nil {
			var ts []struct {
				ID      uint64 `json:"id"`
				Subject string `json:"subject"`
			}
			if err := json.Unmarshal(out, &ts); err != nil {
				return 0, fmt.Errorf("tickets list --json: %v\n%s", err, out)
			}
			for _, tk := range ts {
				if tk.Subject == subject {
					return time.Since(start), nil
				}
			}
		} else {
			last = err.Error()
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("no ticket %q within %v (with a schedule of 1h only IDLE can pick it up); last error: %s", subject, timeout, last)
}

// inReplyToIs matches a message whose In-Reply-To is <msgid>.
func inReplyToIs(msgid string) func([]byte) bool {
	return func(raw []byte) bool {
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		return err == nil && strings.Trim(strings.TrimSpace(m.Header.Get("In-Reply-To")), "<>") == msgid
	}
}

func idleWaitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
	}
}
