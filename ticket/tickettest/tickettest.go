package tickettest

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketd/ticketd/store"
	"github.com/ticketd/ticketd/templates"
	"github.com/ticketd/ticketd/ticket"
)

// Key is the signing key of Signer.
const Key = "0123456789abcdef0123456789abcdef"

// Signer signs with Key.
func Signer() *ticket.Signer {
	s, err := ticket.NewSigner([]byte(Key))
	if err != nil {
		panic(err) // a constant key of the right length
	}
	return s
}

// DB opens a fresh database in t.TempDir(), closed when the test ends.
func DB(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "t.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// EncryptedDB is DB with a key: every record is encrypted at rest.
func EncryptedDB(t testing.TB) *store.DB {
	t.Helper()
	key := make([]byte, store.KeySize)
	for i := range key {
		key[i] = byte(i)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "t.db"), &store.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Service returns a service on st with the embedded templates. Zero fields
// of cfg get the tests' usual values: support@example.test (domain
// example.test), Signer, weekday hours 09:00-18:00 in UTC, Korean, and the
// limits ticketd's configuration ships with (5 and 20 automatic mails an
// hour and a day, 2 minutes apart; suppression and reopening within 30
// days; 10 participants; X-Spam-Flag: YES). Set AutoMinInterval negative
// for none.
func Service(t testing.TB, st ticket.Store, cfg ticket.Config) *ticket.Service {
	t.Helper()
	r, err := templates.New("")
	if err != nil {
		t.Fatal(err)
	}
	set := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	set(&cfg.Support.Email, "support@example.test")
	set(&cfg.Domain, "example.test")
	set(&cfg.Language, "ko")
	set(&cfg.AgentFrom, "{agent} ({center})")
	set(&cfg.SpamHeader, "X-Spam-Flag")
	set(&cfg.SpamValue, "YES")
	if cfg.Signer == nil {
		cfg.Signer = Signer()
	}
	if cfg.Hours.Loc == nil {
		cfg.Hours = Hours(time.UTC)
	}
	if cfg.AutoPerHour == 0 {
		cfg.AutoPerHour = 5
	}
	if cfg.AutoPerDay == 0 {
		cfg.AutoPerDay = 20
	}
	if cfg.AutoMinInterval == 0 {
		cfg.AutoMinInterval = 2 * time.Minute
	}
	if cfg.SuppressFor == 0 {
		cfg.SuppressFor = 30 * 24 * time.Hour
	}
	if cfg.ReopenWithin == 0 {
		cfg.ReopenWithin = 30 * 24 * time.Hour
	}
	if cfg.MaxParticipants == 0 {
		cfg.MaxParticipants = 10
	}
	svc, err := ticket.NewService(st, r, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// Outbox returns an outbox worker on st. Zero fields of cfg's retry
// policy get the values ticketd's configuration ships with: backoff 30s to
// 1h, given up after 48h, a 10m lease, suppression for 30 days.
func Outbox(t testing.TB, st ticket.Store, sender ticket.Sender, cfg ticket.OutboxConfig) *ticket.Outbox {
	t.Helper()
	for _, f := range []struct {
		d   *time.Duration
		def time.Duration
	}{{&cfg.MinBackoff, 30 * time.Second}, {&cfg.MaxBackoff, time.Hour}, {&cfg.Deadline, 48 * time.Hour},
		{&cfg.Lease, 10 * time.Minute}, {&cfg.SuppressFor, 30 * 24 * time.Hour}} {
		if *f.d == 0 {
			*f.d = f.def
		}
	}
	w, err := ticket.NewOutbox(st, sender, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// Hours are Monday to Friday, 09:00-18:00 in loc.
func Hours(loc *time.Location) ticket.Hours {
	return ticket.Hours{Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
		Open: 9 * time.Hour, Close: 18 * time.Hour, Loc: loc}
}

// CustomerMail is mail n of kim@example.test to support@example.test.
func CustomerMail(n int) []byte {
	return fmt.Appendf(nil, "From: Kim <kim@example.test>\r\nTo: support@example.test\r\nSubject: question %d\r\n"+
		"Message-ID: <q%d@example.test>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0900\r\n\r\nbody %d\r\n", n, n, n)
}

// FlakyStore is the real store with injected failures: while Fail is set,
// every Update returns an error before touching the database; with
// FailWith set, every Update returns that error; a mail whose raw bytes
// contain FailOn (PanicOn, FullOn) cannot be stored: the transaction
// storing it fails (panics, fails as on a full disk), whatever else it
// holds.
type FlakyStore struct {
	*store.DB
	Fail     atomic.Bool
	FailWith atomic.Pointer[error]
	FullOn   atomic.Value // string
	FailOn   atomic.Value // string
	PanicOn  atomic.Value // string
	// Updates counts the transactions begun.
	Updates atomic.Int64
}

// Update implements ticket.Store.
func (f *FlakyStore) Update(fn func(ticket.Tx) error) error {
	f.Updates.Add(1)
	if f.Fail.Load() {
		return errors.New("injected storage failure")
	}
	if err := f.FailWith.Load(); err != nil {
		return *err
	}
	return f.DB.Update(func(tx ticket.Tx) error { return fn(&flakyTx{Tx: tx, f: f}) })
}

type flakyTx struct {
	ticket.Tx
	f *FlakyStore
}

func (t *flakyTx) AddMessage(m *ticket.Message, raw []byte) error {
	has := func(v *atomic.Value) bool {
		s, _ := v.Load().(string)
		return s != "" && bytes.Contains(raw, []byte(s))
	}
	switch {
	case has(&t.f.FullOn):
		return fmt.Errorf("%w: store: write /var/lib/ticketd/ticketd.db: no space left on device", ticket.ErrCannotWrite)
	case has(&t.f.FailOn):
		return errors.New("injected storage failure")
	case has(&t.f.PanicOn):
		panic(InjectedPanic)
	}
	return t.Tx.AddMessage(m, raw)
}
