package store

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ticketd/ticketd/ticket"
)

// On a real full disk (a 2 MiB tmpfs) a commit fails with an error marked
// ticket.ErrCannotWrite, the database stays readable, and once there is
// room again the same commit succeeds. Needs root, for mount.
func TestFullDiskIsCannotWrite(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
	db, err := Open(filepath.Join(dir, "t.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	raw := make([]byte, 256<<10)
	var full error
	for i := 0; i < 40 && full == nil; i++ {
		full = db.Update(func(tx ticket.Tx) error { return tx.AddMessage(&ticket.Message{TicketID: 1}, raw) })
	}
	if full == nil {
		t.Fatal("10 MiB went into a 2 MiB file system")
	}
	if !errors.Is(full, ticket.ErrCannotWrite) {
		t.Fatalf("full disk: %v, not marked ErrCannotWrite", full)
	}
	t.Logf("full disk: %v", full)
	if err := db.View(func(tx ticket.ReadTx) error { _, err := tx.Messages(1); return err }); err != nil {
		t.Fatalf("read after a full disk: %v", err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, "size=64m"); err != nil {
		t.Skipf("remount: %v", err)
	}
	if err := db.Update(func(tx ticket.Tx) error { return tx.AddMessage(&ticket.Message{TicketID: 1}, raw) }); err != nil {
		t.Fatalf("commit once there is room: %v", err)
	}
}
