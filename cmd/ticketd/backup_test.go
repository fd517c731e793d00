package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func (s *testStack) ticketIDs(t *testing.T) map[float64]bool {
	t.Helper()
	code, out, errs := s.ticketd(t, nil, "tickets", "list", "--json")
	if code != 0 {
		t.Fatalf("tickets list: %s", errs)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	ids := map[float64]bool{}
	for _, tk := range list {
		ids[tk["id"].(float64)] = true
	}
	return ids
}

// A backup taken through the running daemon while mail is being ingested
// restores every ticket committed before the backup started.
func TestBackupDuringIngestRestores(t *testing.T) {
	s := newStack(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		var out, errb bytes.Buffer
		runChecked(t, ctx, []string{"--config", s.cfg, "serve"}, nil, &out, &errb)
	})
	sock := filepath.Join(s.dir, "ticketd.sock")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatal("serve did not start")
		}
	}
	stop := make(chan struct{})
	var ingested sync.WaitGroup
	ingested.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			mail := fmt.Sprintf("From: c%d@example.org\r\nTo: support@example.test\r\nSubject: n%d\r\nMessage-ID: <bk-%d@example.org>\r\n\r\nbody\r\n", i, i, i)
			if code, _, errs := s.ticketd(t, []byte(mail), "ingest"); code != 0 {
				t.Errorf("ingest %d: %s", i, errs)
				return
			}
		}
	})
	time.Sleep(300 * time.Millisecond)
	before := s.ticketIDs(t)
	backup := filepath.Join(t.TempDir(), "backup.db")
	if code, out, errs := s.ticketd(t, nil, "backup", backup); code != 0 || !strings.Contains(out, "backup written") {
		t.Fatalf("backup while serving: %d %s %s", code, out, errs)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	ingested.Wait()
	after := len(s.ticketIDs(t))
	// restore and compact refuse while serve runs.
	if code, _, errs := s.ticketd(t, nil, "restore", backup); code == 0 || !strings.Contains(errs, "stop it first") {
		t.Fatalf("restore while serving: %d %s", code, errs)
	}
	cancel()
	wg.Wait()

	if code, out, errs := s.ticketd(t, nil, "restore", backup); code != 0 || !strings.Contains(out, "kept as") {
		t.Fatalf("restore: %d %s %s", code, out, errs)
	}
	restored := s.ticketIDs(t)
	for id := range before {
		if !restored[id] {
			t.Errorf("ticket #%v, committed before the backup, is missing after restore", id)
		}
	}
	t.Logf("%d tickets before the backup, %d in the restored copy, %d at the end of ingestion", len(before), len(restored), after)
	if len(before) == 0 || len(restored) < len(before) || len(restored) > after {
		t.Fatalf("before %d, restored %d, after %d", len(before), len(restored), after)
	}
	if code, out, errs := s.ticketd(t, nil, "compact"); code != 0 || !strings.Contains(out, "compacted") {
		t.Fatalf("compact: %d %s %s", code, out, errs)
	}
	if got := s.ticketIDs(t); len(got) != len(restored) {
		t.Fatalf("compact lost tickets: %d -> %d", len(restored), len(got))
	}
}
