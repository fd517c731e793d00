package store

import (
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/ticketd/ticketd/ticket"
)

// A database with tickets from before the search index answers
// ErrSearchIndex until Reindex builds it; a new one starts built; a
// ticket's terms leave the index when it changes, and its postings
// follow.
func TestSearchIndexState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	db, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if built, err := db.SearchBuilt(); err != nil || !built {
		t.Fatalf("a new database: built %v, %v", built, err)
	}
	put := func(subject string) {
		t.Helper()
		if err := db.Update(func(tx ticket.Tx) error { return tx.PutTicket(ticket.Ticket{ID: 1, Subject: subject}) }); err != nil {
			t.Fatal(err)
		}
	}
	count := func(term string) (n int) {
		t.Helper()
		if _, err := db.IndexPending(0); err != nil {
			t.Fatal(err)
		}
		if err := db.View(func(tx ticket.ReadTx) error {
			return tx.Postings(term, func(uint64, uint32) error { n++; return nil })
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	put("햇살론 문의")
	if count("햇살") != 1 || count("채무") != 0 {
		t.Fatalf("after the first subject: 햇살 %d, 채무 %d", count("햇살"), count("채무"))
	}
	put("채무조정 문의")
	if count("햇살") != 0 || count("채무") != 1 || count("문의") != 1 {
		t.Fatalf("after the new subject: 햇살 %d, 채무 %d, 문의 %d", count("햇살"), count("채무"), count("문의"))
	}
	// As a database from before the index: no state.
	err = db.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Delete(metaSearch) })
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = Open(path, nil); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if built, _ := db.SearchBuilt(); built {
		t.Fatal("a database with tickets and no index is built")
	}
	err = db.View(func(tx ticket.ReadTx) error { return tx.Postings("채무", func(uint64, uint32) error { return nil }) })
	if !errors.Is(err, ticket.ErrSearchIndex) {
		t.Fatalf("postings of an unbuilt index: %v", err)
	}
	put("개인회생 문의") // not indexed: the index is not kept
	if err := db.Reindex(nil); err != nil {
		t.Fatal(err)
	}
	if count("개인") != 1 || count("채무") != 0 {
		t.Fatalf("after reindex: 개인 %d, 채무 %d", count("개인"), count("채무"))
	}
	var n int
	db.View(func(tx ticket.ReadTx) error { n, err = tx.IndexedTickets(); return err })
	if n != 1 {
		t.Fatalf("indexed tickets %d, want 1", n)
	}
}
