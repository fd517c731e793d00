package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// newBareStack is newStack without the database: a data dir as a new
// install has it.
func newBareStack(t *testing.T) *testStack {
	t.Helper()
	s := newStack(t)
	os.Remove(filepath.Join(s.dir, "ticketd.db"))
	os.Remove(filepath.Join(s.dir, stateFile))
	return s
}

// Creating the database is explicit: poll, serve or init create it in a
// data dir that never had one; other commands refuse.
func TestDatabaseIsCreatedOnlyOnPurpose(t *testing.T) {
	s := newBareStack(t)
	db := filepath.Join(s.dir, "ticketd.db")
	if code, _, errs := s.ticketd(t, nil, "tickets", "list"); code == 0 || !strings.Contains(errs, "ticketd init") {
		t.Fatalf("tickets list without a database: exit %d: %s", code, errs)
	}
	if code, _, errs := s.ticketd(t, []byte(inquiry), "ingest"); code != exitTempFail || !strings.Contains(errs, "ticketd init") {
		t.Fatalf("ingest without a database: exit %d, want 75 (the MTA retries): %s", code, errs)
	}
	if _, err := os.Stat(db); err == nil {
		t.Fatal("a command other than poll, serve or init created the database")
	}
	if code, out, errs := s.ticketd(t, nil, "poll"); code != 0 {
		t.Fatalf("poll in a new data dir: exit %d: %s%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(s.dir, stateFile)); err != nil {
		t.Fatalf("the data dir does not remember its database: %v", err)
	}
}

// A data dir that had a database and lost it (a restore cut short, an rm)
// refuses to start afresh, which would fetch and acknowledge the whole
// mailbox again, and names the backup to restore.
func TestMissingDatabaseNamesTheBackup(t *testing.T) {
	s := newStack(t)
	s.srv.Append("support@example.test", "INBOX", []byte(inquiry))
	s.mustPoll(t, "new tickets 1")
	backup := filepath.Join(s.dir, "nightly.db")
	if code, _, errs := s.ticketd(t, nil, "backup", backup); code != 0 {
		t.Fatalf("backup: %s", errs)
	}
	db := filepath.Join(s.dir, "ticketd.db")
	for _, damage := range []func(){
		func() { os.Remove(db) },
		func() { os.WriteFile(db, nil, 0o600) }, // zero length
	} {
		damage()
		for _, cmd := range [][]string{{"poll"}, {"tickets", "list"}, {"serve"}} {
			code, _, errs := s.ticketd(t, nil, cmd...)
			if code == 0 || !strings.Contains(errs, "ticketd restore") || !strings.Contains(errs, backup) {
				t.Fatalf("%s without its database: exit %d: %s", cmd, code, errs)
			}
		}
		if st, err := os.Stat(db); err == nil && st.Size() > 0 {
			t.Fatal("a new database was created in place of the lost one")
		}
		if got, _ := s.srv.Messages("kim@example.test", "INBOX"); len(got) != 1 {
			t.Fatalf("the customer has %d acknowledgements, want still 1", len(got))
		}
	}
	if code, out, errs := s.ticketd(t, nil, "restore", backup); code != 0 {
		t.Fatalf("restore: %s%s", out, errs)
	}
	if code, out, _ := s.ticketd(t, nil, "poll"); code != 0 || strings.Contains(out, "new tickets 1") {
		t.Fatalf("poll after the restore: exit %d: %s", code, out)
	}
}

// A database cut short, or with damaged pages, is an error that says to
// restore, never a panic, and is never served.
func TestDamagedDatabaseIsAClearError(t *testing.T) {
	s := newStack(t)
	for i := 0; i < 40; i++ {
		s.srv.Append("support@example.test", "INBOX", []byte(strings.ReplaceAll(inquiry, "inq-1@", "inq-"+string(rune('a'+i%26))+string(rune('a'+i/26))+"@")))
	}
	s.mustPoll(t, "new tickets 40")
	db := filepath.Join(s.dir, "ticketd.db")
	good, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	// bbolt grows its file ahead: what counts is where its pages reach.
	bdb, err := bolt.Open(db, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var used int64
	bdb.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil })
	bdb.Close()
	for name, damage := range map[string]func() []byte{
		"cut short": func() []byte { return good[:used*2/3] },
		"garbage pages": func() []byte {
			b := bytes.Clone(good)
			r := rand.New(rand.NewPCG(1, 2))
			for i := 4 * 4096; i < int(used); i++ { // past the meta and freelist pages
				b[i] = byte(r.Uint32())
			}
			return b
		},
		"garbage in the middle": func() []byte { // data pages, not the freelist near the end
			b := bytes.Clone(good)
			r := rand.New(rand.NewPCG(3, 4))
			for i := 4 * 4096; i < int(used)/2; i++ {
				b[i] = byte(r.Uint32())
			}
			return b
		},
	} {
		if err := os.WriteFile(db, damage(), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, cmd := range [][]string{{"tickets", "list"}, {"tickets", "show", "3"}, {"check-db"}, {"poll"}} {
			code, out, errs := s.ticketd(t, nil, cmd...)
			if code == 0 || strings.Contains(errs, "goroutine ") || !strings.Contains(errs, "ticketd restore") {
				t.Fatalf("%s, %s: exit %d\n%s%s", name, cmd, code, out, errs)
			}
			t.Logf("%s, %s: %s", name, cmd, strings.TrimSpace(errs))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var out, errb bytes.Buffer
		code := run(ctx, []string{"--config", s.cfg, "serve"}, nil, &out, &errb)
		cancel()
		if code == 0 || !strings.Contains(errb.String(), "damaged") {
			t.Fatalf("serve on a database %s: exit %d: %s", name, code, errb.String())
		}
	}
	if err := os.WriteFile(db, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := s.ticketd(t, nil, "check-db"); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("check-db of the good file: exit %d: %s%s", code, out, errs)
	}
}

// A second serve on the same data dir says at once who holds it.
func TestSecondServeSaysAtOnce(t *testing.T) {
	s := newStack(t)
	stop := serveInBackground(t, s.cfg)
	waitFor(t, 10*time.Second, func() string {
		if _, ok := adminPeer(filepath.Join(s.dir, "ticketd.sock")); !ok {
			return "serve does not answer on its admin socket"
		}
		return ""
	})
	start := time.Now()
	code, _, errs := s.ticketd(t, nil, "serve")
	if took := time.Since(start); code == 0 || took > 8*time.Second || !strings.Contains(errs, "another ticketd serve (process ") {
		t.Fatalf("second serve: exit %d after %v: %s", code, took, errs)
	}
	stop()
}

// Secret files others can read are pointed out, naming the key and mode.
func TestSecretFileModeIsWarned(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "imap-pw")
	os.WriteFile(pw, []byte("pw\n"), 0o644)
	s := newStack(t, `threading: {secret_file: `+pw+`}`)
	os.WriteFile(pw, []byte("0123456789abcdef0123\n"), 0o644)
	code, _, errs := s.ticketd(t, nil, "check-config")
	if code != 0 || !strings.Contains(errs, "warning: threading.secret_file: "+pw+" is mode 0644") {
		t.Fatalf("check-config: exit %d: %s", code, errs)
	}
	os.Chmod(pw, 0o600)
	if _, _, errs := s.ticketd(t, nil, "check-config"); strings.Contains(errs, "warning: threading") {
		t.Fatalf("a 0600 file warned: %s", errs)
	}
}
