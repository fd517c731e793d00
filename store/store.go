package store

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/ticketd/ticketd/ticket"

	"github.com/ticketd/ticketd/store/seal"
)

// SchemaVersion is the layout version written to a new database.
const SchemaVersion = "1"

// ErrLocked means another process has the database open.
var ErrLocked = errors.New("database is locked by another process")

// ErrNoDatabase means Options.MustExist was set and there is no database
// (no file, or an empty one).
var ErrNoDatabase = errors.New("no database")

// ErrDamaged means the database file is damaged: cut short, or with pages
// that do not hold what they should. Nothing more is written to it; it
// must be restored from a backup.
var ErrDamaged = errors.New("the database file is damaged")

var (
	bMeta       = []byte("meta")
	bTickets    = []byte("tickets")
	bMessages   = []byte("messages")
	bTicketMsgs = []byte("ticket_msgs")
	bRaw        = []byte("raw")
	bMsgIDs     = []byte("msgids")
	bSeen       = []byte("seen")
	bCursors    = []byte("cursors")
	bOutbox     = []byte("outbox")
	bRejected   = []byte("rejected")
	bRejRaw     = []byte("rejected_raw")
	bNotified   = []byte("notified")
	bSuppress   = []byte("suppress")
	bAutoSent   = []byte("autosent")
	bTexts      = []byte("texts")
	bHeld       = []byte("held")
	bOAuth      = []byte("oauth")
	bAudit      = []byte("audit")
	allBuckets  = [][]byte{bMeta, bTickets, bMessages, bTicketMsgs, bRaw, bMsgIDs, bSeen, bCursors, bOutbox, bRejected, bRejRaw, bNotified, bSuppress, bAutoSent, bTexts, bHeld, bOAuth, bAudit, bSearch, bSearchDocs, bSearchQ}
)

// DB is ticketd's database.
type DB struct {
	bolt *bolt.DB
	path string
	// realPath is the file as /proc/self/maps names it; released is the
	// bytes of pages written when releaseMap last ran.
	realPath string
	released atomic.Int64
	commits  atomic.Int64
	// damaged, once set, is the error every later transaction returns.
	damaged atomic.Pointer[error]
	// s encrypts the values of the sealed buckets (nil: no key).
	s *seal.Sealer
	// search is the search index's key (search.go).
	search *searchKey
}

var _ ticket.Store = (*DB)(nil)

// Options for [Open].
type Options struct {
	// Timeout is how long Open waits for another process to release the
	// file (default 2s). It is never infinite.
	Timeout time.Duration
	// ReadOnly opens the file for reading (still exclusive in bbolt).
	ReadOnly bool
	// MustExist refuses to create a database: a missing or empty file is
	// ErrNoDatabase. Without it an empty file is started afresh.
	MustExist bool
	// Key, when set (KeySize bytes), encrypts the records at rest (see
	// seal.go). A new database is encrypted from the start; one with
	// records from before the key needs Seal. An encrypted database
	// opened without its key is ErrKeyRequired, with another ErrWrongKey.
	Key []byte
	// OldKeys open records sealed with earlier keys while Seal
	// re-encrypts them with Key (a key rotation).
	OldKeys [][]byte
}

// Open opens or creates the database at path, creating its buckets and
// checking the schema version.
func Open(path string, opts *Options) (*DB, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	switch st, err := os.Stat(path); {
	case errors.Is(err, os.ErrNotExist) && (o.MustExist || o.ReadOnly):
		return nil, fmt.Errorf("store: %s: %w", path, ErrNoDatabase)
	case err == nil && st.Size() == 0 && (o.MustExist || o.ReadOnly):
		return nil, fmt.Errorf("store: %s is empty (0 bytes): %w", path, ErrNoDatabase)
	case err == nil && st.Size() == 0:
		// bbolt would silently make a new database of it anyway.
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	// A large initial mmap (address space only) spares the remaps while the
	// file grows: each remap copies every value of the open write
	// transaction onto the heap (node.dereference), a 25 MB mail included.
	if err := precheck(path); err != nil {
		return nil, err
	}
	bdb, err := openBolt(path, &bolt.Options{Timeout: o.Timeout, ReadOnly: o.ReadOnly, InitialMmapSize: 1 << 30})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("store: open %s: %w", path, ErrLocked)
	} else if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db := &DB{bolt: bdb, path: path, search: newSearchKey(o.Key)}
	if abs, err := filepath.Abs(path); err == nil {
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			db.realPath = real
		}
	}
	if err := db.quickCheck(); err != nil {
		bdb.Close()
		return nil, err
	}
	if o.Key != nil {
		if db.s, err = seal.New(o.Key, o.OldKeys...); err != nil {
			bdb.Close()
			return nil, err
		}
	}
	if o.ReadOnly {
		err = db.guard(func() error {
			return bdb.View(func(tx *bolt.Tx) error {
				if err := checkSchema(tx); err != nil {
					return err
				}
				return db.checkKey(tx, false)
			})
		})
	} else {
		err = db.guard(func() error {
			return bdb.Update(func(tx *bolt.Tx) error {
				for _, name := range allBuckets {
					if _, err := tx.CreateBucketIfNotExists(name); err != nil {
						return err
					}
				}
				meta := tx.Bucket(bMeta)
				fresh := meta.Get([]byte("schema_version")) == nil
				if fresh {
					if err := meta.Put([]byte("schema_version"), []byte(SchemaVersion)); err != nil {
						return err
					}
					if db.s != nil {
						// Nothing to migrate: encrypted from the first record.
						if err := meta.Put([]byte("sealed"), db.s.Mark()); err != nil {
							return err
						}
					}
				}
				if err := checkSchema(tx); err != nil {
					return err
				}
				if err := markSearchBuilt(tx, db.search.id); err != nil {
					return err
				}
				return db.checkKey(tx, true)
			})
		})
	}
	if err != nil {
		bdb.Close()
		if errors.Is(err, ErrDamaged) {
			return nil, err
		}
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return db, nil
}

// openBolt is bolt.Open with its panics on a damaged file (it reads the
// meta and freelist pages) turned into ErrDamaged errors.
func openBolt(path string, opts *bolt.Options) (bdb *bolt.DB, err error) {
	defer faultsPanic()()
	defer func() {
		if r := recover(); r != nil {
			if !fromBolt() {
				panic(r)
			}
			err = damaged(path, fmt.Sprint(r))
		}
	}()
	return bolt.Open(path, 0o600, opts)
}

func checkSchema(tx *bolt.Tx) error {
	meta := tx.Bucket(bMeta)
	if meta == nil {
		return errors.New("not a ticketd database (no meta bucket)")
	}
	if v := string(meta.Get([]byte("schema_version"))); v != SchemaVersion {
		return fmt.Errorf("schema version %q, this ticketd knows %q", v, SchemaVersion)
	}
	return nil
}

// Close closes the database.
func (db *DB) Close() error {
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", db.path, err)
	}
	return nil
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

// Update implements [ticket.Store]. A panic of bbolt on a damaged page is
// the error ErrDamaged, and so is every later transaction.
func (db *DB) Update(fn func(tx ticket.Tx) error) (err error) {
	if err := db.damagedErr(); err != nil {
		return err
	}
	defer markCannotWrite(&err)
	err = db.guard(func() error {
		return db.bolt.Update(func(btx *bolt.Tx) error {
			t := &txn{tx: btx, s: db.s, search: db.search}
			if err := fn(t); err != nil {
				return err
			}
			return t.queueTouched()
		})
	})
	if err == nil && db.realPath != "" {
		// Each commit reads a few pages back and maps their neighbours:
		// count it as 64 KiB at least.
		st := db.bolt.Stats()
		alloc := st.TxStats.GetPageAlloc() + 64<<10*db.commits.Add(1)
		if alloc-db.released.Load() >= releaseEvery {
			db.released.Store(alloc)
			db.releaseMap()
		}
	}
	return err
}

// releaseEvery is how many bytes of pages are written (at least 64 KiB a
// commit) between two calls of releaseMap, which take ~0.1 ms.
const releaseEvery = 2 << 20

// View implements [ticket.Store]; see Update for damage.
func (db *DB) View(fn func(tx ticket.ReadTx) error) (err error) {
	if err := db.damagedErr(); err != nil {
		return err
	}
	return db.guard(func() error {
		return db.bolt.View(func(btx *bolt.Tx) error { return fn(&txn{tx: btx, s: db.s, search: db.search}) })
	})
}

// WriteTo writes a consistent copy of the database to w while writers go on.
func (db *DB) WriteTo(w io.Writer) (n int64, err error) {
	if err := db.damagedErr(); err != nil {
		return 0, err
	}
	defer faultsPanic()()
	defer db.recoverDamage(&err)
	err = db.bolt.View(func(tx *bolt.Tx) error {
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// Backup writes a consistent copy of the database to path (mode 0600),
// through a temporary file that is synced and renamed into place.
func (db *DB) Backup(path string) (int64, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, fmt.Errorf("store: backup: %w", err)
	}
	n, err := db.WriteTo(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("store: backup to %s: %w", path, err)
	}
	return n, nil
}

// txn adapts a bbolt transaction to ticket.Tx.
type txn struct {
	tx *bolt.Tx
	s  *seal.Sealer // nil: no encryption
	// search is the index key; dirty the tickets to queue for indexing
	// as the transaction commits (search.go).
	search *searchKey
	dirty  map[uint64]struct{}
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func getJSON(b *sbucket, key []byte, v any) error {
	data, err := b.Get(key)
	if err != nil {
		return err
	}
	if data == nil {
		return ticket.ErrNotFound
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("store: decode %x: %w", key, err)
	}
	return nil
}

func putJSON(b *sbucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode: %w", err)
	}
	return b.Put(key, data)
}

func (t *txn) Ticket(id uint64) (ticket.Ticket, error) {
	var tk ticket.Ticket
	if err := getJSON(t.bucket(bTickets), u64(id), &tk); err != nil {
		return ticket.Ticket{}, fmt.Errorf("ticket #%d: %w", id, err)
	}
	return tk, nil
}

func (t *txn) Tickets(f ticket.TicketFilter) ([]ticket.Ticket, error) {
	out := []ticket.Ticket{}
	err := t.bucket(bTickets).ForEach(func(k, v []byte) error {
		var tk ticket.Ticket
		if err := json.Unmarshal(v, &tk); err != nil {
			return fmt.Errorf("store: decode ticket %x: %w", k, err)
		}
		if f.Status == "" || tk.Status == f.Status {
			out = append(out, tk)
		}
		return nil
	})
	return out, err
}

func (t *txn) Messages(ticketID uint64) ([]ticket.Message, error) {
	out := []ticket.Message{}
	c := t.tx.Bucket(bTicketMsgs).Cursor()
	prefix := u64(ticketID)
	for k, _ := c.Seek(prefix); len(k) == 16 && string(k[:8]) == string(prefix); k, _ = c.Next() {
		m, err := t.Message(binary.BigEndian.Uint64(k[8:]))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func (t *txn) Message(id uint64) (ticket.Message, error) {
	var m ticket.Message
	if err := getJSON(t.bucket(bMessages), u64(id), &m); err != nil {
		return ticket.Message{}, fmt.Errorf("message %d: %w", id, err)
	}
	texts := t.bucket(bTexts)
	for _, f := range textFields(&m) {
		v, err := texts.Get(textKey(id, f.tag))
		if err != nil {
			return ticket.Message{}, fmt.Errorf("message %d: %w", id, err)
		}
		if v != nil {
			*f.s = string(v)
		}
	}
	if v, err := texts.Get(textKey(id, tagVisiblePrefix)); err != nil {
		return ticket.Message{}, fmt.Errorf("message %d: %w", id, err)
	} else if len(v) == 8 {
		if n := binary.BigEndian.Uint64(v); n <= uint64(len(m.Body)) {
			m.Visible = m.Body[:n] // shares the body's memory
		}
	}
	if m.Visible == "" {
		m.Visible = m.Body
	}
	return m, nil
}

// tagVisiblePrefix keys, instead of a copy of visible, its length when it
// is the start of the body (the quoted history cut off the end, the
// common case), as 8 bytes big-endian.
const tagVisiblePrefix = 'p'

// bytesOf is s's bytes without a copy. bbolt only reads a value given to
// Put (it copies it into its pages at commit), and s never changes.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// The texts of a message (body, visible, HTML) are kept as plain values in
// the texts bucket, not in its JSON record: a 10 MB body would otherwise be
// copied several times by the JSON encoder. visible is kept only when it
// differs from body.
type textField struct {
	tag byte
	s   *string
}

func textFields(m *ticket.Message) []textField {
	return []textField{{'b', &m.Body}, {'v', &m.Visible}, {'h', &m.HTML}}
}

func textKey(id uint64, tag byte) []byte { return append(u64(id), tag) }

// putMessage writes m's record and its texts, each only when it differs
// from what is stored: recording a delivery state rewrites the small
// record, not the texts. It queues the ticket for the search index when
// what the index reads of a message changed (its text, its attachments'
// names), or the message is new.
func (t *txn) putMessage(m ticket.Message) error {
	texts, msgs := t.bucket(bTexts), t.bucket(bMessages)
	rec := m
	parts := map[byte][]byte{} // by tag; none: no value
	switch {
	case rec.Visible == rec.Body:
		rec.Visible = ""
	case rec.Visible != "" && strings.HasPrefix(rec.Body, rec.Visible):
		parts[tagVisiblePrefix] = u64(uint64(len(rec.Visible)))
		rec.Visible = ""
	}
	for _, f := range textFields(&rec) {
		if *f.s != "" {
			parts[f.tag] = bytesOf(*f.s)
		}
		*f.s = ""
	}
	indexed := false // something the search index reads changed
	for _, tag := range []byte{tagVisiblePrefix, 'b', 'v', 'h'} {
		k := textKey(m.ID, tag)
		// A stored text that cannot be read is written over, as before.
		was, rerr := texts.Get(k)
		v, ok := parts[tag]
		var err error
		switch {
		case rerr == nil && (!ok && was == nil || ok && was != nil && bytes.Equal(was, v)):
			continue
		case !ok:
			err = texts.Delete(k)
		default:
			err = texts.Put(k, v)
		}
		if err != nil {
			return fmt.Errorf("store: text of message %d: %w", m.ID, err)
		}
		indexed = indexed || tag != 'h'
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("store: encode: %w", err)
	}
	was, rerr := msgs.Get(u64(m.ID))
	if rerr != nil || !bytes.Equal(was, data) {
		indexed = indexed || was == nil || !slices.Equal(attachmentNames(was), attachmentNames(data))
		if err := msgs.Put(u64(m.ID), data); err != nil {
			return err
		}
	}
	if indexed {
		t.touch(m.TicketID)
	}
	return nil
}

// attachmentNames are the file names in a message record; a record that
// cannot be read gives a list no readable record has (it counts as
// changed).
func attachmentNames(rec []byte) []string {
	var m struct {
		Attachments []struct {
			Filename string `json:"filename"`
		} `json:"attachments"`
	}
	if json.Unmarshal(rec, &m) != nil {
		return []string{"\x00unreadable"}
	}
	names := make([]string, len(m.Attachments))
	for i, a := range m.Attachments {
		names[i] = a.Filename
	}
	return names
}

func (t *txn) MessageByMessageID(mid string) (ticket.Message, error) {
	mid = ticket.CanonicalMessageID(mid)
	if mid == "" {
		return ticket.Message{}, ticket.ErrNotFound
	}
	v := t.tx.Bucket(bMsgIDs).Get([]byte(mid))
	if len(v) != 8 {
		return ticket.Message{}, ticket.ErrNotFound
	}
	return t.Message(binary.BigEndian.Uint64(v))
}

func (t *txn) Seen(key string) (uint64, bool, error) {
	v := t.tx.Bucket(bSeen).Get([]byte(key))
	if v == nil {
		return 0, false, nil
	}
	if len(v) != 8 {
		return 0, false, fmt.Errorf("store: seen %q: bad value", key)
	}
	return binary.BigEndian.Uint64(v), true, nil
}

func (t *txn) Raw(msgID uint64) ([]byte, error) {
	v, err := getBlob(t.bucket(bRaw), msgID)
	if err != nil {
		return nil, fmt.Errorf("raw mail of message %d: %w", msgID, err)
	}
	if v == nil {
		return nil, fmt.Errorf("raw mail of message %d: %w", msgID, ticket.ErrNotFound)
	}
	return v, nil
}

func (t *txn) Cursor(mailbox string) (ticket.Cursor, bool, error) {
	var c ticket.Cursor
	err := getJSON(t.bucket(bCursors), []byte(mailbox), &c)
	if errors.Is(err, ticket.ErrNotFound) {
		return c, false, nil
	}
	return c, err == nil, err
}

func (t *txn) Outbox() ([]ticket.Outgoing, error) {
	out := []ticket.Outgoing{}
	err := t.EachOutgoing(func(o ticket.Outgoing) error {
		out = append(out, o)
		return nil
	})
	return out, err
}

func (t *txn) EachOutgoing(fn func(o ticket.Outgoing) error) error {
	return t.bucket(bOutbox).ForEach(func(k, v []byte) error {
		var o ticket.Outgoing
		if err := json.Unmarshal(v, &o); err != nil {
			return fmt.Errorf("store: decode outbox %x: %w", k, err)
		}
		return fn(o)
	})
}

func (t *txn) Outgoing(id uint64) (ticket.Outgoing, error) {
	var o ticket.Outgoing
	if err := getJSON(t.bucket(bOutbox), u64(id), &o); err != nil {
		return ticket.Outgoing{}, fmt.Errorf("outbox %d: %w", id, err)
	}
	return o, nil
}

func (t *txn) Rejected() ([]ticket.Rejected, error) {
	out := []ticket.Rejected{}
	err := t.bucket(bRejected).ForEach(func(k, v []byte) error {
		var r ticket.Rejected
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("store: decode rejected %x: %w", k, err)
		}
		raw, err := getBlob(t.bucket(bRejRaw), binary.BigEndian.Uint64(k))
		if err != nil {
			return err
		}
		r.Raw = raw
		out = append(out, r)
		return nil
	})
	return out, err
}

func (t *txn) NextTicketID() (uint64, error) {
	return t.bucket(bTickets).NextSequence()
}

func (t *txn) PutTicket(tk ticket.Ticket) error {
	if tk.ID == 0 {
		return errors.New("store: put ticket: no id")
	}
	t.touch(tk.ID)
	return putJSON(t.bucket(bTickets), u64(tk.ID), tk)
}

func (t *txn) AddMessage(m *ticket.Message, raw []byte) error {
	b := t.bucket(bMessages)
	id, err := b.NextSequence()
	if err != nil {
		return err
	}
	m.ID = id
	if err := t.putMessage(*m); err != nil {
		return err
	}
	key := append(u64(m.TicketID), u64(id)...)
	if err := t.tx.Bucket(bTicketMsgs).Put(key, nil); err != nil {
		return err
	}
	if raw != nil {
		if err := putBlob(t.bucket(bRaw), id, raw); err != nil {
			return fmt.Errorf("store: raw mail of message %d: %w", id, err)
		}
	}
	if mid := ticket.CanonicalMessageID(m.MessageID); mid != "" {
		ids := t.tx.Bucket(bMsgIDs)
		if ids.Get([]byte(mid)) == nil { // the first message keeps an id
			if err := ids.Put([]byte(mid), u64(id)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *txn) PutMessage(m ticket.Message) error {
	b := t.bucket(bMessages)
	if m.ID == 0 || !b.Has(u64(m.ID)) {
		return fmt.Errorf("store: put message %d: %w", m.ID, ticket.ErrNotFound)
	}
	var was struct {
		TicketID uint64 `json:"ticket_id"`
	}
	if err := getJSON(b, u64(m.ID), &was); err != nil {
		return fmt.Errorf("store: put message %d: %w", m.ID, err)
	}
	if was.TicketID != m.TicketID {
		// It moves (a merge or a split): the ticket's list changes, and
		// both tickets are indexed anew (the one it joins too, though its
		// texts did not change).
		tm := t.tx.Bucket(bTicketMsgs)
		if err := tm.Delete(append(u64(was.TicketID), u64(m.ID)...)); err != nil {
			return err
		}
		if err := tm.Put(append(u64(m.TicketID), u64(m.ID)...), nil); err != nil {
			return err
		}
		t.touch(was.TicketID)
		t.touch(m.TicketID)
	}
	return t.putMessage(m)
}

func (t *txn) MarkSeen(key string, msgID uint64) error {
	return t.tx.Bucket(bSeen).Put([]byte(key), u64(msgID))
}

func (t *txn) SetCursor(mailbox string, c ticket.Cursor) error {
	return putJSON(t.bucket(bCursors), []byte(mailbox), c)
}

func (t *txn) Enqueue(o *ticket.Outgoing) error {
	b := t.bucket(bOutbox)
	id, err := b.NextSequence()
	if err != nil {
		return err
	}
	o.ID = id
	return putJSON(b, u64(id), o)
}

func (t *txn) PutOutgoing(o ticket.Outgoing) error {
	if o.ID == 0 {
		return errors.New("store: put outgoing: no id")
	}
	return putJSON(t.bucket(bOutbox), u64(o.ID), o)
}

func (t *txn) DeleteOutgoing(id uint64) error {
	return t.bucket(bOutbox).Delete(u64(id))
}

func (t *txn) AddRejected(r *ticket.Rejected) error {
	b := t.bucket(bRejected)
	id, err := b.NextSequence()
	if err != nil {
		return err
	}
	r.ID = id
	if err := putJSON(b, u64(id), r); err != nil {
		return err
	}
	return putBlob(t.bucket(bRejRaw), id, r.Raw)
}

func (t *txn) IndexMessageID(mid string, msgID uint64) error {
	mid = ticket.CanonicalMessageID(mid)
	if mid == "" {
		return nil
	}
	ids := t.tx.Bucket(bMsgIDs)
	if ids.Get([]byte(mid)) != nil {
		return nil
	}
	return ids.Put([]byte(mid), u64(msgID))
}

func (t *txn) PutNotification(n ticket.Notification) error {
	return putJSON(t.bucket(bNotified), []byte(n.MessageID), n)
}

func (t *txn) Notification(mid string) (ticket.Notification, error) {
	var n ticket.Notification
	if mid == "" {
		return n, ticket.ErrNotFound
	}
	err := getJSON(t.bucket(bNotified), []byte(mid), &n)
	return n, err
}

// Secret returns the server's signing secret, creating 32 random bytes in
// the database on first use.
func (db *DB) Secret() ([]byte, error) {
	var key []byte
	err := db.guard(func() error {
		return db.bolt.Update(func(tx *bolt.Tx) error {
			meta := tx.Bucket(bMeta)
			if v := meta.Get([]byte("secret")); len(v) >= 16 {
				key = append([]byte(nil), v...)
				return nil
			}
			key = make([]byte, 32)
			if _, err := rand.Read(key); err != nil {
				return err
			}
			return meta.Put([]byte("secret"), key)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: signing secret: %w", err)
	}
	return key, nil
}

// OAuthState returns what is kept of the OAuth credential name (its
// tokens, as package oauth encodes them), or nil when nothing is.
func (db *DB) OAuthState(name string) ([]byte, error) {
	var out []byte
	err := db.guard(func() error {
		return db.bolt.View(func(tx *bolt.Tx) error {
			v, err := (&txn{tx: tx, s: db.s}).bucket(bOAuth).Get([]byte(name))
			if v != nil {
				out = append([]byte(nil), v...)
			}
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: oauth state of %s: %w", name, err)
	}
	return out, nil
}

// PutOAuthState keeps data as the state of the OAuth credential name.
func (db *DB) PutOAuthState(name string, data []byte) (err error) {
	defer markCannotWrite(&err)
	err = db.guard(func() error {
		return db.bolt.Update(func(tx *bolt.Tx) error { return (&txn{tx: tx, s: db.s}).bucket(bOAuth).Put([]byte(name), data) })
	})
	if err != nil {
		return fmt.Errorf("store: oauth state of %s: %w", name, err)
	}
	return nil
}

func (t *txn) Suppression(email string) (ticket.Suppression, error) {
	var s ticket.Suppression
	err := getJSON(t.bucket(bSuppress), []byte(strings.ToLower(email)), &s)
	return s, err
}

func (t *txn) Suppressions() ([]ticket.Suppression, error) {
	out := []ticket.Suppression{}
	err := t.bucket(bSuppress).ForEach(func(k, v []byte) error {
		var s ticket.Suppression
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("store: decode suppression %q: %w", k, err)
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

func (t *txn) PutSuppression(s ticket.Suppression) error {
	s.Email = strings.ToLower(s.Email)
	return putJSON(t.bucket(bSuppress), []byte(s.Email), s)
}

func (t *txn) DeleteSuppression(email string) error {
	b := t.bucket(bSuppress)
	k := []byte(strings.ToLower(email))
	if !b.Has(k) {
		return fmt.Errorf("suppression of %s: %w", email, ticket.ErrNotFound)
	}
	return b.Delete(k)
}

func (t *txn) AutoSent(email string) ([]time.Time, error) {
	var ts []time.Time
	err := getJSON(t.bucket(bAutoSent), []byte(strings.ToLower(email)), &ts)
	if errors.Is(err, ticket.ErrNotFound) {
		return nil, nil
	}
	return ts, err
}

func (t *txn) PutAutoSent(email string, times []time.Time) error {
	k := []byte(strings.ToLower(email))
	if len(times) == 0 {
		return t.bucket(bAutoSent).Delete(k)
	}
	return putJSON(t.bucket(bAutoSent), k, times)
}

func (t *txn) RejectedByID(id uint64) (ticket.Rejected, error) {
	var r ticket.Rejected
	if err := getJSON(t.bucket(bRejected), u64(id), &r); err != nil {
		return r, fmt.Errorf("quarantined mail %d: %w", id, err)
	}
	raw, err := getBlob(t.bucket(bRejRaw), id)
	r.Raw = raw
	return r, err
}

func (t *txn) DeleteRejected(id uint64) error {
	if !t.bucket(bRejected).Has(u64(id)) {
		return fmt.Errorf("quarantined mail %d: %w", id, ticket.ErrNotFound)
	}
	if err := t.bucket(bRejected).Delete(u64(id)); err != nil {
		return err
	}
	return deleteBlob(t.bucket(bRejRaw), id)
}

func (t *txn) Unsee(key string) error {
	return t.tx.Bucket(bSeen).Delete([]byte(key))
}

func (t *txn) HeldAcks(email string) (ticket.HeldAcks, error) {
	var h ticket.HeldAcks
	err := getJSON(t.bucket(bHeld), []byte(strings.ToLower(email)), &h)
	return h, err
}

func (t *txn) EachHeldAcks(fn func(h ticket.HeldAcks) error) error {
	return t.bucket(bHeld).ForEach(func(k, v []byte) error {
		var h ticket.HeldAcks
		if err := json.Unmarshal(v, &h); err != nil {
			return fmt.Errorf("store: decode held acknowledgements of %q: %w", k, err)
		}
		return fn(h)
	})
}

func (t *txn) PutHeldAcks(h ticket.HeldAcks) error {
	h.Email = strings.ToLower(h.Email)
	return putJSON(t.bucket(bHeld), []byte(h.Email), h)
}

func (t *txn) DeleteHeldAcks(email string) error {
	return t.bucket(bHeld).Delete([]byte(strings.ToLower(email)))
}

func (t *txn) DeleteRaw(msgID uint64) error { return deleteBlob(t.bucket(bRaw), msgID) }

func (t *txn) UnindexMessageID(mid string, msgID uint64) error {
	mid = ticket.CanonicalMessageID(mid)
	if mid == "" {
		return nil
	}
	ids := t.tx.Bucket(bMsgIDs)
	if v := ids.Get([]byte(mid)); len(v) == 8 && binary.BigEndian.Uint64(v) == msgID {
		return ids.Delete([]byte(mid))
	}
	return nil
}

func (t *txn) AddAudit(r *ticket.AuditRecord) error {
	b := t.bucket(bAudit)
	id, err := b.NextSequence()
	if err != nil {
		return err
	}
	r.ID = id
	return putJSON(b, u64(id), r)
}

func (t *txn) EachAudit(fn func(r ticket.AuditRecord) error) error {
	b := t.bucket(bAudit)
	if b.b == nil {
		return nil // a database from before the audit log, opened read-only
	}
	return b.ForEach(func(k, v []byte) error {
		var r ticket.AuditRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("store: decode audit record %x: %w", k, err)
		}
		return fn(r)
	})
}
