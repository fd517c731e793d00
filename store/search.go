package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/ticketd/ticketd/ticket"

	"github.com/ticketd/ticketd/store/seal"
)

// The search index (ticket.SearchTerms, ticket.Search) is two buckets:
//
//	search       term key (8) ‖ ticket id (8) → uvarint count
//	search_docs  ticket id (8) → the ticket's term keys and counts, sorted
//
//	search_queue ticket id (8) → nothing: tickets changed since indexed
//
// A transaction that changes a ticket or its messages queues the ticket
// in search_queue before it commits (crash-safe: with the change or not
// at all); IndexPending, run by serve every second and before every
// search, indexes the queued tickets in one transaction. Indexing in the
// ingest transaction itself made storing a mail 3 times slower (the
// postings of a ticket land all over the tree, and each commit wrote those
// pages); batched, the pages are shared by many tickets.
//
// A term key is the first 8 bytes of SHA-256 over the index key and the
// term, so the file holds no word in clear; the index key is derived from
// the encryption key (Options.Key) when there is one. meta "search" is
// "built " or "building " and the index key's id: a transaction indexes
// the tickets it changed whenever the id is the current key's, and
// Search answers only when the index is built. `ticketd reindex`
// (DB.Reindex) builds it afresh; a new database starts built, a database
// of another key (a rotation) needs it rebuilt.

var (
	bSearch     = []byte("search")
	bSearchDocs = []byte("search_docs")
	bSearchQ    = []byte("search_queue")
	metaSearch  = []byte("search")
	metaSearchN = []byte("search_tickets")
)

// searchKey is the index key and its id.
type searchKey struct {
	key [32]byte
	id  string
}

// newSearchKey derives the index key of the encryption key (nil: none).
func newSearchKey(key []byte) *searchKey {
	k, id := seal.IndexKey(key)
	return &searchKey{k, id}
}

// termKey is the index's key of a term.
func (t *txn) termKey(term string) [8]byte {
	buf := make([]byte, 0, 32+len(term))
	buf = append(append(buf, t.search.key[:]...), term...)
	sum := sha256.Sum256(buf)
	return [8]byte(sum[:8])
}

// searchState is the index's state for this transaction's key: whether
// it is kept (built or building) and whether it is built.
func (t *txn) searchState() (kept, built bool) {
	v := t.tx.Bucket(bMeta).Get(metaSearch)
	switch {
	case bytes.Equal(v, []byte("built "+t.search.id)):
		return true, true
	case bytes.Equal(v, []byte("building "+t.search.id)):
		return true, false
	}
	return false, false
}

// touch marks a ticket to be indexed anew before the transaction commits.
func (t *txn) touch(id uint64) {
	if t.dirty == nil {
		t.dirty = map[uint64]struct{}{}
	}
	t.dirty[id] = struct{}{}
}

// queueTouched queues the tickets the transaction changed for
// IndexPending.
func (t *txn) queueTouched() error {
	if len(t.dirty) == 0 {
		return nil
	}
	if kept, _ := t.searchState(); !kept {
		return nil
	}
	q := t.tx.Bucket(bSearchQ)
	for id := range t.dirty {
		if err := q.Put(u64(id), nil); err != nil {
			return fmt.Errorf("store: search queue: %w", err)
		}
	}
	return nil
}

// IndexPending indexes the tickets changed since they were last indexed,
// at most limit of them (0: all), in one transaction, and says how many.
func (db *DB) IndexPending(limit int) (int, error) {
	var pending bool
	if err := db.guard(func() error {
		return db.bolt.View(func(tx *bolt.Tx) error {
			k, _ := tx.Bucket(bSearchQ).Cursor().First()
			pending = k != nil
			return nil
		})
	}); err != nil || !pending {
		return 0, err
	}
	n := 0
	err := db.update(func(t *txn) error {
		if kept, _ := t.searchState(); !kept {
			return nil // Reindex will
		}
		q := t.tx.Bucket(bSearchQ)
		var ids []uint64
		c := q.Cursor()
		for k, _ := c.First(); k != nil && (limit <= 0 || len(ids) < limit); k, _ = c.Next() {
			ids = append(ids, binary.BigEndian.Uint64(k))
		}
		for _, id := range ids {
			if err := t.indexTicket(id); err != nil {
				return fmt.Errorf("ticket %d: %w", id, err)
			}
			if err := q.Delete(u64(id)); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: search index: %w", err)
	}
	return n, nil
}

type docTerm struct {
	key [8]byte
	n   uint32
}

// indexTicket replaces the ticket's terms in the index by its terms now
// (none when it no longer exists).
func (t *txn) indexTicket(id uint64) error {
	var now []docTerm
	tk, err := t.Ticket(id)
	switch {
	case errors.Is(err, ticket.ErrNotFound):
	case err != nil:
		return err
	default:
		msgs, err := t.Messages(id)
		if err != nil {
			return err
		}
		for term, n := range ticket.SearchTerms(tk, msgs) {
			now = append(now, docTerm{t.termKey(term), n})
		}
	}
	slices.SortFunc(now, func(a, b docTerm) int { return bytes.Compare(a.key[:], b.key[:]) })
	docs, postings := t.tx.Bucket(bSearchDocs), t.tx.Bucket(bSearch)
	idKey := u64(id)
	before, err := decodeDoc(docs.Get(idKey))
	if err != nil {
		return err
	}
	was := make(map[[8]byte]uint32, len(before))
	for _, d := range before {
		was[d.key] = d.n
	}
	var pk [16]byte
	copy(pk[8:], idKey)
	for _, d := range now {
		if n, ok := was[d.key]; ok {
			delete(was, d.key)
			if n == d.n {
				continue
			}
		}
		copy(pk[:8], d.key[:])
		if err := postings.Put(slices.Clone(pk[:]), binary.AppendUvarint(nil, uint64(d.n))); err != nil {
			return err
		}
	}
	for k := range was {
		copy(pk[:8], k[:])
		if err := postings.Delete(pk[:]); err != nil {
			return err
		}
	}
	switch {
	case len(now) == 0 && len(before) > 0:
		if err := docs.Delete(idKey); err != nil {
			return err
		}
		return t.addIndexed(-1)
	case len(now) > 0:
		if err := docs.Put(idKey, encodeDoc(now)); err != nil {
			return err
		}
		if len(before) == 0 {
			return t.addIndexed(1)
		}
	}
	return nil
}

func (t *txn) addIndexed(d int64) error {
	meta := t.tx.Bucket(bMeta)
	var n int64
	if v := meta.Get(metaSearchN); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	return meta.Put(metaSearchN, u64(uint64(max(0, n+d))))
}

func encodeDoc(ts []docTerm) []byte {
	out := make([]byte, 0, len(ts)*10)
	for _, d := range ts {
		out = binary.AppendUvarint(append(out, d.key[:]...), uint64(d.n))
	}
	return out
}

func decodeDoc(v []byte) ([]docTerm, error) {
	var out []docTerm
	for len(v) > 0 {
		if len(v) < 9 {
			return nil, errors.New("a damaged search record")
		}
		n, w := binary.Uvarint(v[8:])
		if w <= 0 {
			return nil, errors.New("a damaged search record")
		}
		out = append(out, docTerm{[8]byte(v[:8]), uint32(n)})
		v = v[8+w:]
	}
	return out, nil
}

// Postings implements [ticket.SearchIndex].
func (t *txn) Postings(term string, fn func(ticketID uint64, n uint32) error) error {
	if _, built := t.searchState(); !built {
		return ticket.ErrSearchIndex
	}
	k := t.termKey(term)
	c := t.tx.Bucket(bSearch).Cursor()
	for key, v := c.Seek(k[:]); key != nil && bytes.HasPrefix(key, k[:]); key, v = c.Next() {
		n, _ := binary.Uvarint(v)
		if err := fn(binary.BigEndian.Uint64(key[8:]), uint32(n)); err != nil {
			return err
		}
	}
	return nil
}

// IndexedTickets implements [ticket.SearchIndex].
func (t *txn) IndexedTickets() (int, error) {
	if _, built := t.searchState(); !built {
		return 0, ticket.ErrSearchIndex
	}
	v := t.tx.Bucket(bMeta).Get(metaSearchN)
	if len(v) != 8 {
		return 0, nil
	}
	return int(binary.BigEndian.Uint64(v)), nil
}

// SearchBuilt reports whether the search index is built for the key the
// database was opened with.
func (db *DB) SearchBuilt() (bool, error) {
	var built bool
	err := db.View(func(tx ticket.ReadTx) error {
		_, built = tx.(*txn).searchState()
		return nil
	})
	return built, err
}

// ErrReindexStopped is Reindex's error when its progress function stopped
// it; the index stays unbuilt until a Reindex ends.
var ErrReindexStopped = errors.New("store: reindex stopped; run it again to build the index")

// Reindex builds the search index afresh: it empties it, then indexes
// every ticket, reindexBatch tickets a transaction (mail stored meanwhile
// is queued and indexed by IndexPending), and marks it built. progress is
// called after each batch with the tickets done and their total; false
// stops it.
func (db *DB) Reindex(progress func(done, total int) bool) error {
	var total int
	err := db.update(func(t *txn) error {
		for _, name := range [][]byte{bSearch, bSearchDocs, bSearchQ} {
			if err := t.tx.DeleteBucket(name); err != nil {
				return err
			}
			if _, err := t.tx.CreateBucket(name); err != nil {
				return err
			}
		}
		meta := t.tx.Bucket(bMeta)
		if err := meta.Put(metaSearchN, u64(0)); err != nil {
			return err
		}
		total = t.tx.Bucket(bTickets).Stats().KeyN
		return meta.Put(metaSearch, []byte("building "+t.search.id))
	})
	if err != nil {
		return fmt.Errorf("store: reindex: %w", err)
	}
	var next []byte
	done := 0
	for {
		var ids []uint64
		end := false
		err := db.update(func(t *txn) error {
			if kept, _ := t.searchState(); !kept {
				return errors.New("another reindex started")
			}
			c := t.tx.Bucket(bTickets).Cursor()
			k, _ := c.First()
			if next != nil {
				k, _ = c.Seek(next)
			}
			for ; k != nil && len(ids) < reindexBatch; k, _ = c.Next() {
				ids = append(ids, binary.BigEndian.Uint64(k))
			}
			for _, id := range ids {
				if err := t.indexTicket(id); err != nil {
					return fmt.Errorf("ticket %d: %w", id, err)
				}
			}
			if k == nil {
				end = true
				return t.tx.Bucket(bMeta).Put(metaSearch, []byte("built "+t.search.id))
			}
			next = slices.Clone(k)
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: reindex: %w", err)
		}
		done += len(ids)
		if end {
			if progress != nil {
				progress(done, max(total, done))
			}
			return nil
		}
		if progress != nil && !progress(done, max(total, done)) {
			return ErrReindexStopped
		}
	}
}

// reindexBatch is how many tickets one transaction of Reindex indexes.
const reindexBatch = 256

// update runs fn in a write transaction of the store's own (no ticket.Tx
// callers), with the touched tickets queued for indexing.
func (db *DB) update(fn func(t *txn) error) error {
	return db.Update(func(tx ticket.Tx) error { return fn(tx.(*txn)) })
}

// markSearchBuilt marks the index of an empty database built: nothing to
// index yet.
func markSearchBuilt(tx *bolt.Tx, id string) error {
	meta := tx.Bucket(bMeta)
	if meta.Get(metaSearch) != nil {
		return nil
	}
	if k, _ := tx.Bucket(bTickets).Cursor().First(); k != nil {
		return nil // tickets from before the index: Reindex
	}
	return meta.Put(metaSearch, []byte("built "+id))
}
