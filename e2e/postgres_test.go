package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Two ticketd nodes (their own data dirs) on one PostgreSQL
// (store.driver: postgres) and the real Dovecot and Postfix: what one
// polls, the other lists and finds; each new mail is one ticket and one
// acknowledgement whichever node polls; check-db checks the schema;
// backup points to PostgreSQL's own tools; the rows are encrypted with
// the nodes' shared key.
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
		"privacy: {key_file: " + writeKey(t, t.TempDir()) + "}", // one key for both nodes
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
	// Encrypted at rest: every document and piece of raw mail is sealed,
	// no word of the mails is in clear in any row, and a node without
	// the key (or with another) cannot open the database.
	ctx := context.Background()
	db, err := pgxpool.New(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var plain, clear int
	if err := db.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM tickets WHERE substring(doc from 1 for 5) <> '\x00746b4532'::bytea) +
		(SELECT count(*) FROM messages WHERE substring(doc from 1 for 5) <> '\x00746b4532'::bytea) +
		(SELECT count(*) FROM blobs WHERE substring(chunk from 1 for 5) <> '\x00746b4532'::bytea) +
		(SELECT count(*) FROM outgoing WHERE substring(doc from 1 for 5) <> '\x00746b4532'::bytea)`).Scan(&plain); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM blobs WHERE position(convert_to('재직증명서', 'UTF8') in chunk) > 0) +
		(SELECT count(*) FROM messages WHERE position(convert_to('재직증명서', 'UTF8') in doc) > 0) +
		(SELECT count(*) FROM tickets WHERE position(convert_to('김민수', 'UTF8') in doc) > 0) +
		(SELECT count(*) FROM search_postings WHERE term LIKE '%재직%')`).Scan(&clear); err != nil {
		t.Fatal(err)
	}
	if plain != 0 || clear != 0 {
		t.Fatalf("%d rows not sealed, %d rows with a customer's words in clear", plain, clear)
	}
	for _, other := range []string{"privacy: {}", "privacy: {key_file: " + writeKey(t, t.TempDir()) + "}"} {
		cfg, _ := writeConfig(t, s, extra[0], other, extra[2])
		if code, out := runTicketd(t, bin, cfg, "tickets", "list"); code == 0 || !strings.Contains(out, "key") {
			t.Fatalf("a node with %s opened the database: exit %d\n%s", other, code, out)
		}
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
	fmt.Printf("postgres store: 2 nodes, 8 mails polled by either: 8 tickets on both, 8 acknowledgements, found by search on the other node; every row sealed, no word in clear, refused without the key or with another\n")
}
