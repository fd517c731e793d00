package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Two ticketd nodes (their own data dirs) on one PostgreSQL
// (store.driver: postgres) and the real Dovecot and Postfix: what one
// polls, the other lists and finds; each new mail is one ticket and one
// acknowledgement whichever node polls; check-db checks the schema;
// backup points to PostgreSQL's own tools.
func TestPostgresStore(t *testing.T) {
	s := Start(t, 40000)
	pg := StartPostgres(t, 40000)
	bin := buildTicketd(t, s.RepoRoot())
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(dsnFile, []byte(pg.DSN()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	extra := []string{
		fmt.Sprintf("store: {driver: postgres, dsn_file: %s}", dsnFile),
		"privacy: {}", // no key: ticketd does not encrypt PostgreSQL's rows
		"limits: {auto_min_interval: -1s, auto_per_hour: 1000, auto_per_day: 1000}",
	}
	cfgA, _ := writeConfig(t, s, extra...)
	cfgB, _ := writeConfig(t, s, extra...)
	send := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			raw := fmt.Sprintf("From: 김민수 <customer+pg%d@example.test>\r\nTo: support@example.test\r\nSubject: 햇살론 서류 문의 %d\r\n"+
				"Message-ID: <pg-%d@example.test>\r\nDate: Thu, 03 Dec 2026 10:00:00 +0900\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
				"재직증명서는 어디로 보내면 되나요? (%d)\r\n", i, i, i, i)
			if err := s.SendMail(fmt.Sprintf("customer+pg%d@example.test", i), []string{"support@example.test"}, []byte(raw)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.WaitMessages("support", "INBOX", Contains("Message-ID: <pg-"), to-from, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	poll := func(cfg string) {
		t.Helper()
		if code, out := runTicketd(t, bin, cfg, "poll"); code != 0 {
			t.Fatalf("poll: exit %d\n%s", code, out)
		}
	}
	send(0, 5)
	poll(cfgA)
	if n := ticketCount(t, bin, cfgB); n != 5 {
		t.Fatalf("node B lists %d tickets after node A's poll, want 5", n)
	}
	send(5, 8)
	poll(cfgB)
	poll(cfgA) // nothing new for A: the cursor and the dedupe keys are shared
	if n := ticketCount(t, bin, cfgA); n != 8 {
		t.Fatalf("node A lists %d tickets, want 8 (each mail once)", n)
	}
	acks, err := s.WaitMessages("customer", "INBOX", Contains("Auto-Submitted: auto-replied"), 8, 60*time.Second)
	if err != nil {
		t.Fatalf("acknowledgements: %v", err)
	}
	time.Sleep(time.Second)
	if acks, _ = s.Messages("customer", "INBOX"); len(acks) != 8 {
		t.Fatalf("%d acknowledgements, want 8 (one per mail)", len(acks))
	}
	if code, out := runTicketd(t, bin, cfgB, "tickets", "search", "재직증명서"); code != 0 || strings.Count(out, "햇살론 서류 문의") != 8 {
		t.Fatalf("search on node B: exit %d\n%s", code, out)
	}
	if code, out := runTicketd(t, bin, cfgA, "check-db"); code != 0 {
		t.Fatalf("check-db: exit %d\n%s", code, out)
	}
	if code, out := runTicketd(t, bin, cfgA, "backup", filepath.Join(t.TempDir(), "b.db")); code == 0 || !strings.Contains(out, "pg_dump") {
		t.Fatalf("backup with postgres: exit %d\n%s", code, out)
	}
	if code, out := runTicketd(t, bin, cfgA, "migrate"); code != 0 || !strings.Contains(out, "already") {
		t.Fatalf("migrate: exit %d\n%s", code, out)
	}
	fmt.Printf("postgres store: 2 nodes, 8 mails polled by either: 8 tickets on both, 8 acknowledgements, found by search on the other node\n")
}
