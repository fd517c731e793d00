package mailbox_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/store"
	"github.com/ticketd/ticketd/ticket"
	"github.com/ticketd/ticketd/ticket/tickettest"
)

// corpusFiles lists every .eml under the testdata corpora and fixtures.
func corpusFiles(t testing.TB) []string {
	var files []string
	for _, dir := range []string{"corpus", "mail", "quotes", "bounces", "fuzz-regressions"} {
		filepath.WalkDir(filepath.Join("..", "testdata", dir), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".eml") {
				files = append(files, p)
			}
			return nil
		})
	}
	return files
}

func ingestService(t testing.TB) (*ticket.Service, *store.DB) {
	return testService(t, []ticket.Agent{{Name: "agent", Email: "agent@example.test"}})
}

// testService returns a service on a fresh database that is closed when
// the test ends; with agents, notifications and plus-addressing are on.
func testService(t testing.TB, agents []ticket.Agent) (*ticket.Service, *store.DB) {
	t.Helper()
	db := tickettest.DB(t)
	return tickettest.Service(t, db, ticket.Config{Agents: agents, PlusAddressing: agents != nil}), db
}

// checkKept fails unless the mail was stored (or was a duplicate) or is in
// quarantine for a reason other than a panic: nothing is lost, nothing
// crashes.
func checkKept(t testing.TB, db *store.DB, name string, res ticket.Result, rejected bool, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if rejected {
		var q []ticket.Rejected
		db.View(func(tx ticket.ReadTx) error { q, _ = tx.Rejected(); return nil })
		for _, r := range q {
			if strings.Contains(r.Reason, "panic") {
				t.Fatalf("%s: handling panicked: %s", name, r.Reason)
			}
		}
		if len(q) == 0 && !res.Duplicate {
			t.Fatalf("%s: rejected but not in quarantine", name)
		}
		return
	}
	if res.MessageID == 0 && !res.Duplicate {
		t.Fatalf("%s: neither stored nor quarantined: %+v", name, res)
	}
}

// TestIngestEveryCorpusMail runs every mail we have, the malformed ones
// included, through parse + store: each ends as a ticket message or in
// quarantine, and nothing panics.
func TestIngestEveryCorpusMail(t *testing.T) {
	svc, db := ingestService(t)
	files := corpusFiles(t)
	if len(files) < 150 {
		t.Fatalf("only %d corpus mails found", len(files))
	}
	stored, quarantined := 0, 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		res, rejected, err := mailbox.Deliver(svc, raw, ticket.Incoming{Source: f}, nil)
		checkKept(t, db, f, res, rejected, err)
		if rejected {
			quarantined++
		} else {
			stored++
		}
	}
	t.Logf("ingested %d corpus mails: %d stored or duplicate, %d quarantined", len(files), stored, quarantined)
}

// FuzzIngest fuzzes the whole ingest path: parse, threading rules, store.
// A crash it finds belongs in testdata/fuzz-regressions/ as a .eml.
func FuzzIngest(f *testing.F) {
	for _, p := range corpusFiles(f) {
		if raw, err := os.ReadFile(p); err == nil && len(raw) < 64<<10 {
			f.Add(raw)
		}
	}
	svc, db := ingestService(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		res, rejected, err := mailbox.Deliver(svc, raw, ticket.Incoming{Source: "fuzz"}, nil)
		checkKept(t, db, "fuzz input", res, rejected, err)
	})
}
