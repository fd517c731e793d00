package store

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ticketd/ticketd/ticket"
)

func tempDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "t.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSecondOpenTimesOut(t *testing.T) {
	db := tempDB(t)
	start := time.Now()
	_, err := Open(db.Path(), &Options{Timeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("second open took %v", d)
	}
}

func TestMessagesIndexAndRaw(t *testing.T) {
	db := tempDB(t)
	raw := []byte("Subject: x\r\n\r\n\x00\xff binary-safe\r\n")
	err := db.Update(func(tx ticket.Tx) error {
		for _, tid := range []uint64{1, 2, 1} {
			m := &ticket.Message{TicketID: tid, MessageID: "m@x"}
			if err := tx.AddMessage(m, raw); err != nil {
				return err
			}
		}
		return tx.PutTicket(ticket.Ticket{ID: 1, Subject: "s", Status: ticket.StatusNew})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx ticket.ReadTx) error {
		ms, err := tx.Messages(1)
		if err != nil {
			return err
		}
		if len(ms) != 2 || ms[0].ID != 1 || ms[1].ID != 3 {
			t.Errorf("messages of ticket 1: %+v, want ids 1 and 3", ms)
		}
		if ms, _ := tx.Messages(2); len(ms) != 1 {
			t.Errorf("ticket 2 has %d messages, want 1", len(ms))
		}
		m, err := tx.MessageByMessageID("m@x")
		if err != nil || m.ID != 1 {
			t.Errorf("by message-id: %+v %v, want the first message", m, err)
		}
		got, err := tx.Raw(3)
		if err != nil || string(got) != string(raw) {
			t.Errorf("raw: %q %v", got, err)
		}
		if _, err := tx.Ticket(9); !errors.Is(err, ticket.ErrNotFound) {
			t.Errorf("missing ticket: %v, want ErrNotFound", err)
		}
		if ts, _ := tx.Tickets(ticket.TicketFilter{Status: ticket.StatusClosed}); len(ts) != 0 {
			t.Errorf("status filter returned %v", ts)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRollbackKeepsNothing(t *testing.T) {
	db := tempDB(t)
	boom := errors.New("boom")
	err := db.Update(func(tx ticket.Tx) error {
		id, _ := tx.NextTicketID()
		tx.PutTicket(ticket.Ticket{ID: id})
		tx.MarkSeen("mid:a@b", 1)
		tx.SetCursor("m/INBOX", ticket.Cursor{UIDValidity: 1, LastUID: 9})
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update: %v", err)
	}
	db.View(func(tx ticket.ReadTx) error {
		if _, ok, _ := tx.Seen("mid:a@b"); ok {
			t.Error("dedupe entry survived a rollback")
		}
		if _, ok, _ := tx.Cursor("m/INBOX"); ok {
			t.Error("cursor survived a rollback")
		}
		if ts, _ := tx.Tickets(ticket.TicketFilter{}); len(ts) != 0 {
			t.Error("ticket survived a rollback")
		}
		return nil
	})
}

func TestBackupReopens(t *testing.T) {
	db := tempDB(t)
	db.Update(func(tx ticket.Tx) error { return tx.PutTicket(ticket.Ticket{ID: 1, Subject: "백업"}) })
	path := filepath.Join(t.TempDir(), "backup.db")
	if n, err := db.Backup(path); err != nil || n == 0 {
		t.Fatalf("backup: %d %v", n, err)
	}
	b, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.View(func(tx ticket.ReadTx) error {
		if tk, err := tx.Ticket(1); err != nil || tk.Subject != "백업" {
			t.Errorf("ticket in backup: %+v %v", tk, err)
		}
		return nil
	})
}

func TestRestoreAndCompact(t *testing.T) {
	db := tempDB(t)
	for i := uint64(1); i <= 200; i++ {
		db.Update(func(tx ticket.Tx) error {
			return tx.PutTicket(ticket.Ticket{ID: i, Subject: string(make([]byte, 4000))})
		})
	}
	dir := t.TempDir()
	backup := filepath.Join(dir, "b.db")
	if _, err := db.Backup(backup); err != nil {
		t.Fatal(err)
	}
	// Delete half, then compact: the file shrinks and the rest is intact.
	db.Update(func(tx ticket.Tx) error {
		for i := uint64(1); i <= 200; i += 2 {
			if err := tx.(*txn).tx.Bucket(bTickets).Delete(u64(i)); err != nil {
				return err
			}
		}
		return nil
	})
	path := db.Path()
	db.Close()
	before, after, err := Compact(path, nil)
	if err != nil || after >= before {
		t.Fatalf("compact: %d -> %d, %v", before, after, err)
	}
	t.Logf("compact: %d -> %d bytes", before, after)
	if _, err := Restore(filepath.Join(dir, "missing.db"), path, nil); err == nil {
		t.Fatal("restore of a missing file succeeded")
	}
	kept, err := Restore(backup, path, nil)
	if err != nil || kept == "" {
		t.Fatalf("restore: %q %v", kept, err)
	}
	re, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	re.View(func(tx ticket.ReadTx) error {
		if ts, _ := tx.Tickets(ticket.TicketFilter{}); len(ts) != 200 {
			t.Errorf("restored %d tickets, want 200", len(ts))
		}
		return nil
	})
	// A file that is not a database is refused.
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, []byte("not a database"), 0o600)
	if _, err := Restore(junk, path, nil); err == nil {
		t.Fatal("restore of junk succeeded")
	}
}

func TestEachOutgoingInOrderAndStops(t *testing.T) {
	db := tempDB(t)
	err := db.Update(func(tx ticket.Tx) error {
		for i := range 3 {
			if err := tx.Enqueue(&ticket.Outgoing{TicketID: uint64(i + 1), Subject: "s"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	var seen []uint64
	err = db.View(func(tx ticket.ReadTx) error {
		return tx.EachOutgoing(func(o ticket.Outgoing) error {
			seen = append(seen, o.TicketID)
			if len(seen) == 2 {
				return stop
			}
			return nil
		})
	})
	if !errors.Is(err, stop) || len(seen) != 2 || seen[0] != 1 || seen[1] != 2 {
		t.Fatalf("EachOutgoing: %v, saw tickets %v; want the first two in order, then the error", err, seen)
	}
}

// The process holding the lock is named (Linux: from /proc/locks), so a
// second ticketd can say who holds the database.
func TestLockHolder(t *testing.T) {
	if path := os.Getenv("TICKETD_TEST_LOCK"); path != "" {
		// The other process: lock, say so, hold until stdin closes.
		f, _ := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		os.Stdout.WriteString("locked\n")
		io.ReadAll(os.Stdin)
		os.Exit(0)
	}
	db := tempDB(t)
	if _, _, ok := LockHolder(db.Path()); ok {
		t.Fatal("our own lock reported as another process's")
	}
	if runtime.GOOS != "linux" {
		t.Skip("/proc/locks is Linux's")
	}
	other := db.Path() + ".other"
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHolder$")
	cmd.Env = append(os.Environ(), "TICKETD_TEST_LOCK="+other)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "locked\n" {
		t.Fatalf("the other process: %q", line)
	}
	pid, cmdline, ok := LockHolder(other)
	if !ok || pid != cmd.Process.Pid || !strings.Contains(cmdline, "TestLockHolder") {
		t.Fatalf("holder %d %q %v, want process %d", pid, cmdline, ok, cmd.Process.Pid)
	}
}

// Visible text is kept as its length when it starts the body, as a copy
// when it does not, and not at all when it is the body; rewriting a
// message moves between the forms.
func TestVisibleTextRoundTrip(t *testing.T) {
	db := tempDB(t)
	body := "답변 감사합니다.\n\n> 이전 답변\n> 인용"
	var m ticket.Message
	check := func(want string) {
		t.Helper()
		var got ticket.Message
		if err := db.View(func(tx ticket.ReadTx) error { var err error; got, err = tx.Message(m.ID); return err }); err != nil {
			t.Fatal(err)
		}
		if got.Visible != want || got.Body != body {
			t.Fatalf("visible read back %q, want %q (body %q)", got.Visible, want, got.Body)
		}
	}
	if err := db.Update(func(tx ticket.Tx) error {
		m = ticket.Message{TicketID: 1, Body: body, Visible: "답변 감사합니다."}
		return tx.AddMessage(&m, nil)
	}); err != nil {
		t.Fatal(err)
	}
	check("답변 감사합니다.")
	for _, v := range []string{"다른 요약", body, "답변", ""} {
		m.Body, m.Visible = body, v
		if err := db.Update(func(tx ticket.Tx) error { return tx.PutMessage(m) }); err != nil {
			t.Fatal(err)
		}
		if v == "" {
			v = body
		}
		check(v)
	}
}

// OAuth states are kept by name, read back as written, and survive a
// reopen; an unknown name has none.
func TestOAuthState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	db, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := db.OAuthState("m365"); b != nil || err != nil {
		t.Fatalf("unknown credential: %q %v", b, err)
	}
	if err := db.PutOAuthState("m365", []byte(`{"flow":"device"}`)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if b, err := db.OAuthState("m365"); string(b) != `{"flow":"device"}` || err != nil {
		t.Fatalf("after reopen: %q %v", b, err)
	}
}
