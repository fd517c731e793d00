package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	bolt "go.etcd.io/bbolt"

	"github.com/ticketd/ticketd/ticket"
)

// restoreHint is what every damage error tells the operator to do.
const restoreHint = "stop ticketd and restore the newest backup with `ticketd restore FILE` (`ticketd check-db` lists the damage)"

// damagedErr is the error every transaction returns once damage was found.
func (db *DB) damagedErr() error {
	if p := db.damaged.Load(); p != nil {
		return *p
	}
	return nil
}

// Damaged returns the damage found in the database so far, or nil.
func (db *DB) Damaged() error { return db.damagedErr() }

// damage is the error of a damaged file: it is ErrDamaged, and
// ticket.ErrCannotWrite.
type damage struct{ msg string }

func (d *damage) Error() string { return d.msg }
func (d *damage) Is(target error) bool {
	return target == ErrDamaged || target == ticket.ErrCannotWrite
}

// damaged is the error for the file at path, what being what is wrong.
func damaged(path, what string) error {
	return &damage{fmt.Sprintf("store: %s: %s: %s; %s", path, ErrDamaged, what, restoreHint)}
}

// markDamaged records what is wrong with the file and returns the error.
func (db *DB) markDamaged(what string) error {
	err := damaged(db.path, what)
	db.damaged.CompareAndSwap(nil, &err)
	return err
}

// recoverDamage, deferred by every entry into bbolt, turns a panic that
// bbolt raised (it panics on pages that do not hold what they should) and
// a fault on the file's memory map (a file cut short) into ErrDamaged. A
// panic of any other code goes on. It also makes faults panics for the
// call (runtime/debug.SetPanicOnFault), so the process does not crash.
func (db *DB) recoverDamage(errp *error) {
	r := recover()
	if r == nil {
		return
	}
	if !fromBolt() {
		panic(r)
	}
	*errp = db.markDamaged(fmt.Sprint(r))
}

// guard runs f, which enters bbolt, with faults made panics and bbolt's
// panics turned into ErrDamaged (see recoverDamage).
func (db *DB) guard(f func() error) (err error) {
	defer faultsPanic()()
	defer db.recoverDamage(&err)
	return f()
}

// faultsPanic makes a fault on the memory map a panic in this goroutine
// until the returned function runs.
func faultsPanic() (restore func()) {
	old := debug.SetPanicOnFault(true)
	return func() { debug.SetPanicOnFault(old) }
}

// fromBolt reports whether the panic being recovered was raised in bbolt:
// the first frame below the runtime's panic machinery is in its package.
func fromBolt() bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	inPanic := false
	for {
		f, more := frames.Next()
		switch {
		case strings.HasPrefix(f.Function, "runtime.gopanic"), strings.HasPrefix(f.Function, "runtime.sigpanic"),
			strings.HasPrefix(f.Function, "runtime.panic"):
			inPanic = true
		case inPanic && !strings.HasPrefix(f.Function, "runtime."):
			return strings.HasPrefix(f.Function, "go.etcd.io/bbolt")
		}
		if !more {
			return false
		}
	}
}

// precheck reads the meta pages and the freelist page of the file at path
// (the pages bolt.Open reads, and panics on while holding the file's lock,
// which a recover cannot give back) and reports damage to them as
// ErrDamaged. Their layout is bbolt's, in the machine's byte order (little
// endian here): a 16-byte page header (id, flags, count, overflow), then
// for a meta page magic, version, page size, flags, root bucket (page,
// sequence), freelist page, high-water page, txid, and an FNV-1a checksum
// of all that.
func precheck(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // bolt.Open reports it
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return nil
	}
	bad := func(format string, args ...any) error { return damaged(path, fmt.Sprintf(format, args...)) }
	type meta struct{ pageSize, freelist, hwm, txid uint64 }
	read := func(off int64) (meta, bool) {
		b := make([]byte, 16+64)
		if _, err := f.ReadAt(b, off); err != nil {
			return meta{}, false
		}
		le := binary.LittleEndian
		m := b[16:]
		if le.Uint16(b[8:]) != 0x04 || le.Uint32(m[0:]) != 0xED0CDAED {
			return meta{}, false
		}
		h := fnv.New64a()
		h.Write(m[:56])
		if h.Sum64() != le.Uint64(m[56:]) {
			return meta{}, false
		}
		return meta{pageSize: uint64(le.Uint32(m[8:])), freelist: le.Uint64(m[32:]), hwm: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}, true
	}
	m0, ok0 := read(0)
	var m meta
	switch m1, ok1 := read(int64(max(m0.pageSize, 4096))); {
	case ok0 && ok1 && m1.txid > m0.txid, !ok0 && ok1:
		m = m1
	case ok0:
		m = m0
	default:
		if st.Size() < 8192 {
			return bad("it is %d bytes, too short for a database", st.Size())
		}
		return bad("neither meta page is valid")
	}
	if m.pageSize < 512 || m.pageSize > 1<<20 {
		return bad("its meta page gives a page size of %d", m.pageSize)
	}
	if need := m.hwm * m.pageSize; uint64(st.Size()) < need {
		return bad("it is %d bytes, but its pages reach to byte %d: it was cut short", st.Size(), need)
	}
	if m.freelist != ^uint64(0) {
		if m.freelist < 2 || m.freelist >= m.hwm {
			return bad("its freelist page %d is out of range", m.freelist)
		}
		hdr := make([]byte, 16)
		if _, err := f.ReadAt(hdr, int64(m.freelist*m.pageSize)); err != nil {
			return bad("its freelist page %d cannot be read: %v", m.freelist, err)
		}
		le := binary.LittleEndian
		overflow := uint64(le.Uint32(hdr[12:]))
		if le.Uint64(hdr) != m.freelist || le.Uint16(hdr[8:]) != 0x10 || m.freelist+overflow >= m.hwm {
			return bad("page %d is not the freelist its meta page names", m.freelist)
		}
	}
	return nil
}

// quickCheck is what Open checks: the file is as long as its own meta
// page says (a file cut short would fault when read), and the first and
// last key of every bucket can be read. The full check is [DB.Check].
func (db *DB) quickCheck() (err error) {
	defer faultsPanic()()
	defer db.recoverDamage(&err)
	st, err := os.Stat(db.path)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return db.bolt.View(func(tx *bolt.Tx) error {
		if st.Size() < tx.Size() {
			return db.markDamaged(fmt.Sprintf("it is %d bytes, but its pages reach to byte %d: it was cut short", st.Size(), tx.Size()))
		}
		for _, name := range allBuckets {
			if b := tx.Bucket(name); b != nil {
				c := b.Cursor()
				c.First()
				c.Last()
			}
		}
		return nil
	})
}

// Check runs bbolt's full consistency check over every page and returns
// the damage it finds (at most 20 problems), or nil.
func (db *DB) Check() (err error) {
	if err := db.damagedErr(); err != nil {
		return err
	}
	defer faultsPanic()()
	defer db.recoverDamage(&err)
	var problems []string
	err = db.bolt.View(func(tx *bolt.Tx) error {
		for cerr := range tx.Check() {
			if len(problems) < 20 {
				problems = append(problems, cerr.Error())
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return db.markDamaged(strings.Join(problems, "; "))
	}
	return nil
}

// markCannotWrite marks *errp with ticket.ErrCannotWrite when it is the
// machine's failure: no space or quota left, a read-only or failing disk
// (bbolt keeps only the text of some: "file resize error: no space left
// on device"), or damage.
func markCannotWrite(errp *error) {
	err := *errp
	if err == nil || errors.Is(err, ticket.ErrCannotWrite) {
		return
	}
	machine := false
	for _, e := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EIO} {
		machine = machine || errors.Is(err, e) || strings.Contains(err.Error(), e.Error())
	}
	if machine {
		*errp = fmt.Errorf("%w: %w", ticket.ErrCannotWrite, err)
	}
}

// IsDamaged reports whether err says the database is damaged.
func IsDamaged(err error) bool { return errors.Is(err, ErrDamaged) }
