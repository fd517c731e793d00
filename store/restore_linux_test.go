package store

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/ticketd/ticketd/ticket"
)

// restoreChild is set in the environment of the process the kill test
// starts: it restores $src over $dst and exits.
const restoreChild = "TICKETD_TEST_RESTORE_CHILD"

// fill makes a database at path whose ticket 1 has subject marker, with
// about size bytes of raw mail, so that copying it takes a while.
func fill(t *testing.T, path, marker string, size int) {
	t.Helper()
	db, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	raw := make([]byte, 1<<20)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	for n := 0; n < size; n += len(raw) {
		if err := db.Update(func(tx ticket.Tx) error {
			return tx.AddMessage(&ticket.Message{TicketID: 1}, raw)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Update(func(tx ticket.Tx) error {
		return tx.PutTicket(ticket.Ticket{ID: 1, Subject: marker, Status: ticket.StatusNew})
	}); err != nil {
		t.Fatal(err)
	}
}

// A restore killed at any moment leaves a complete database in place: the
// old one or the new one, never none and never a part.
func TestRestoreSurvivesAKill(t *testing.T) {
	if os.Getenv(restoreChild) != "" {
		if _, err := Restore(os.Getenv("SRC"), os.Getenv("DST"), nil); err != nil {
			os.Exit(3)
		}
		os.Exit(0)
	}
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "backup.db"), filepath.Join(dir, "ticketd.db")
	fill(t, src, "new", 24<<20)
	fill(t, dst, "old", 1<<20)
	// How long an undisturbed restore takes, to kill within it.
	start := time.Now()
	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRestoreSurvivesAKill$")
		cmd.Env = append(os.Environ(), restoreChild+"=1", "SRC="+src, "DST="+dst)
		return cmd
	}
	probe := filepath.Join(dir, "probe.db")
	fill(t, probe, "old", 1<<20)
	pc := child()
	pc.Env = append(pc.Env, "DST="+probe)
	if out, err := pc.CombinedOutput(); err != nil {
		t.Fatalf("restore child: %v\n%s", err, out)
	}
	took := time.Since(start)
	r := rand.New(rand.NewPCG(7, 7))
	kinds := map[string]int{}
	for i := 0; i < 20; i++ {
		cmd := child()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(r.Int64N(int64(took))))
		cmd.Process.Kill()
		cmd.Wait()
		db, err := Open(dst, &Options{MustExist: true})
		if err != nil {
			t.Fatalf("kill %d: the database does not open: %v", i, err)
		}
		if err := db.Check(); err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		var subject string
		db.View(func(tx ticket.ReadTx) error { tk, _ := tx.Ticket(1); subject = tk.Subject; return nil })
		db.Close()
		if subject != "old" && subject != "new" {
			t.Fatalf("kill %d: ticket 1 is %q, want old or new", i, subject)
		}
		kinds[subject]++
		if subject == "new" { // back to the old one for the next round
			fill(t, dst+".old", "old", 1<<20)
			os.Rename(dst+".old", dst)
		}
	}
	t.Logf("20 restores killed at random within %v: database old %d times, new %d times, never missing or partial", took.Round(time.Millisecond), kinds["old"], kinds["new"])
}

// Restore never takes the database away, even for a moment: watched with
// inotify, the name is only ever replaced by a rename onto it.
func TestRestoreNeverRemovesTheDatabase(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "backup.db"), filepath.Join(dir, "ticketd.db")
	fill(t, src, "new", 1<<20)
	fill(t, dst, "old", 1<<20)
	fd, err := syscall.InotifyInit()
	if err != nil {
		t.Skipf("inotify: %v", err)
	}
	defer syscall.Close(fd)
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_MOVED_FROM|syscall.IN_DELETE|syscall.IN_MOVED_TO); err != nil {
		t.Skipf("inotify: %v", err)
	}
	if _, err := Restore(src, dst, nil); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	syscall.SetNonblock(fd, true)
	n, _ := syscall.Read(fd, buf)
	var events []string
	for off := 0; off+syscall.SizeofInotifyEvent <= n; {
		ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
		name := strings.TrimRight(string(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+int(ev.Len)]), "\x00")
		off += syscall.SizeofInotifyEvent + int(ev.Len)
		what := map[uint32]string{syscall.IN_MOVED_FROM: "moved away", syscall.IN_DELETE: "deleted", syscall.IN_MOVED_TO: "moved onto"}[ev.Mask&(syscall.IN_MOVED_FROM|syscall.IN_DELETE|syscall.IN_MOVED_TO)]
		events = append(events, name+" "+what)
		if name == "ticketd.db" && what != "moved onto" {
			t.Fatalf("the database was %s during the restore (events so far: %v)", what, events)
		}
	}
	if !slices.Contains(events, "ticketd.db moved onto") {
		t.Fatalf("events %v: the restored copy was not renamed into place", events)
	}
}
