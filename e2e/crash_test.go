package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Append stores raw in user's folder over IMAP, as a delivery would.
func (s *Stack) Append(user, folder string, raws [][]byte) error {
	c, err := s.DialIMAP(user)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, raw := range raws {
		cmd := c.Append(folder, int64(len(raw)), &imap.AppendOptions{})
		if _, err := cmd.Write(raw); err != nil {
			return err
		}
		if err := cmd.Close(); err != nil {
			return err
		}
		if _, err := cmd.Wait(); err != nil {
			return err
		}
	}
	return nil
}

var inReplyTo = regexp.MustCompile(`(?im)^In-Reply-To: <([^>]+)>`)

// TestCrashSafety ingests 500 mails from the real Dovecot while ticketd
// serve is killed with SIGKILL at random moments, 20 times, and restarted.
// At the end every mail is on exactly one ticket, none twice, and each new
// ticket got its acknowledgement; the duplicates of outgoing mail the
// crashes caused are printed (at most one per crash and connection: the
// mails come from many addresses, so the outbox sends on all its
// connections).
func TestCrashSafety(t *testing.T) {
	const mails, kills, conns = 500, 20, 8
	s := Start(t, 28000)
	bin := buildTicketd(t, s.RepoRoot())
	cfg, dataDir := writeConfig(t, s,
		"limits: {auto_per_hour: 100000, auto_per_day: 100000, auto_min_interval: -1s}",
		fmt.Sprintf("outbox: {lease: 1s, min_backoff: 200ms, max_backoff: 1s, connections: %d}", conns))
	// Poll often: each restart polls at once anyway.
	cfgText, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, bytes.Replace(cfgText, []byte("    post_action: move\n    move_to: Processed\n"), []byte("    schedule: \"@every 1s\"\n"), 1), 0o600)

	var raws [][]byte
	for i := 0; i < mails; i++ {
		raws = append(raws, fmt.Appendf(nil, "From: customer+crash%d@example.test\r\nTo: support@example.test\r\nSubject: crash test %d\r\n"+
			"Message-ID: <crash-%d@example.test>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0900\r\n\r\nmail number %d\r\n%s\r\n",
			i, i, i, i, bytes.Repeat([]byte("x"), rand.IntN(4000))))
	}
	if err := s.Append("support", "INBOX", raws); err != nil {
		t.Fatal(err)
	}

	logf, _ := os.Create(filepath.Join(t.TempDir(), "serve.log"))
	defer logf.Close()
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "--config", cfg, "serve")
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	rng := rand.New(rand.NewPCG(1, 2))
	backup := filepath.Join(t.TempDir(), "backup.db")
	var inBackup int
	for k := 0; k < kills; k++ {
		cmd := start()
		if k == 0 {
			// A backup through the running daemon, in the middle of
			// ingestion; restored at the end, it must hold every ticket
			// committed before it began.
			waitFile(t, filepath.Join(dataDir, "ticketd.sock"))
			time.Sleep(100 * time.Millisecond) // into the first poll
			inBackup = ticketCount(t, bin, cfg)
			if code, out := runTicketd(t, bin, cfg, "backup", backup); code != 0 {
				t.Fatalf("backup: %s", out)
			}
		}
		time.Sleep(time.Duration(150+rng.IntN(600)) * time.Millisecond)
		cmd.Process.Kill() // SIGKILL: no chance to clean up
		cmd.Wait()
	}
	during := ticketCount(t, bin, cfg)
	sentDuring, _ := s.Messages("customer", "INBOX")
	fmt.Printf("crash test: after %d SIGKILLs, %d of %d mails were stored and %d acknowledgements delivered\n", kills, during, mails, len(sentDuring))

	// Let one last run finish the work.
	final := start()
	defer func() { final.Process.Kill(); final.Wait() }()
	deadline := time.Now().Add(3 * time.Minute)
	var acks [][]byte
	for time.Now().Before(deadline) {
		acks, _ = s.Messages("customer", "INBOX")
		if len(acks) >= mails {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // a straggler retry after a lease would land now
	acks, err := s.Messages("customer", "INBOX")
	if err != nil {
		t.Fatal(err)
	}

	perMail := map[string]int{}
	for _, a := range acks {
		if m := inReplyTo.FindSubmatch(a); m != nil {
			perMail[string(m[1])]++
		}
	}
	missing, dups := 0, 0
	for i := 0; i < mails; i++ {
		switch n := perMail[fmt.Sprintf("crash-%d@example.test", i)]; {
		case n == 0:
			missing++
		case n > 1:
			dups += n - 1
		}
	}
	code, out := runTicketd(t, bin, cfg, "tickets", "list", "--json")
	var list []struct {
		ID       uint64 `json:"id"`
		Subject  string `json:"subject"`
		Messages int    `json:"messages"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil {
		t.Fatalf("tickets list: %d %s", code, out)
	}
	subjects := map[string]int{}
	for _, tk := range list {
		subjects[tk.Subject]++
		if tk.Messages != 2 {
			t.Errorf("ticket #%d (%s) has %d messages, want the mail and its acknowledgement", tk.ID, tk.Subject, tk.Messages)
		}
	}
	twice := 0
	for _, n := range subjects {
		if n > 1 {
			twice++
		}
	}
	fmt.Printf("crash test: %d mails, %d SIGKILLs: %d tickets, %d mails stored twice, %d acknowledgements missing, %d duplicate acknowledgements (at most %d allowed)\n",
		mails, kills, len(list), twice, missing, dups, kills*conns)
	if len(list) != mails || len(subjects) != mails || twice != 0 {
		t.Errorf("%d tickets for %d distinct subjects, %d stored twice; want %d, none twice", len(list), len(subjects), twice, mails)
	}
	if missing != 0 || dups > kills*conns {
		t.Errorf("%d acknowledgements missing, %d duplicates", missing, dups)
	}
	// Restore the backup into another data directory and look.
	final.Process.Kill()
	final.Wait()
	text, _ := os.ReadFile(cfg)
	restoredCfg := filepath.Join(t.TempDir(), "restored.yaml")
	os.WriteFile(restoredCfg, bytes.Replace(text, []byte("data_dir: "+dataDir), []byte("data_dir: "+filepath.Join(t.TempDir(), "data")), 1), 0o600)
	if code, out := runTicketd(t, bin, restoredCfg, "restore", backup); code != 0 {
		t.Fatalf("restore: %s", out)
	}
	restored := ticketCount(t, bin, restoredCfg)
	fmt.Printf("crash test: a backup taken while %d tickets were committed restores %d tickets\n", inBackup, restored)
	if restored < inBackup || restored > mails {
		t.Errorf("backup taken with %d tickets committed restored %d", inBackup, restored)
	}
	if left, _ := s.Messages("support", "INBOX"); len(left) != mails {
		t.Errorf("support INBOX has %d mails (seen post-action keeps them), want %d", len(left), mails)
	}
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	t.Fatalf("%s did not appear", path)
}
