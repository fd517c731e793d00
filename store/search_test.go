package store

import (
	"errors"
	"path/filepath"
	"strings"
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

// PutMessage writes only what changed: recording a delivery state leaves
// the texts' pages alone and queues nothing for the index; a changed text
// or attachment name is written and queued, and found.
func TestPutMessageWritesWhatChanged(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "t.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	long := strings.Repeat("> 이전 메일의 인용문입니다.\n", 800) // ~30 KB: pages of its own
	m := ticket.Message{TicketID: 1, Body: "햇살론 서류 제출 문의\n" + long, Visible: "햇살론 서류 제출 문의", HTML: "<p>햇살론</p>" + long}
	if err := db.Update(func(tx ticket.Tx) error {
		if err := tx.PutTicket(ticket.Ticket{ID: 1, Subject: "문의"}); err != nil {
			return err
		}
		return tx.AddMessage(&m, []byte("raw"))
	}); err != nil {
		t.Fatal(err)
	}
	queued := func() (n int) {
		t.Helper()
		if err := db.bolt.View(func(tx *bolt.Tx) error { n = tx.Bucket(bSearchQ).Stats().KeyN; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	put := func(m ticket.Message) (pages int) {
		t.Helper()
		before := db.bolt.Stats()
		if err := db.Update(func(tx ticket.Tx) error { return tx.PutMessage(m) }); err != nil {
			t.Fatal(err)
		}
		after := db.bolt.Stats()
		d := after.Sub(&before)
		return int(d.TxStats.GetPageCount())
	}
	if _, err := db.IndexPending(0); err != nil || queued() != 0 {
		t.Fatalf("index pending: %v, %d still queued", err, queued())
	}
	same := put(m)
	m.Delivery = ticket.DeliverySent
	delivered := put(m)
	if queued() != 0 {
		t.Fatalf("a delivery state queued the ticket for the index")
	}
	m.Visible = "채무조정 서류 제출 문의"
	m.Body = m.Visible + "\n" + long
	changed := put(m)
	if queued() != 1 {
		t.Fatalf("a changed text did not queue the ticket for the index")
	}
	if same > 1 || delivered > 3 || delivered*3 > changed {
		t.Fatalf("pages written: unchanged %d, delivery state %d, new text %d; want none, a leaf or so, and the text's pages", same, delivered, changed)
	}
	got, err := readMessage(db, m.ID)
	if err != nil || got.Body != m.Body || got.Visible != m.Visible || got.HTML != m.HTML || got.Delivery != ticket.DeliverySent {
		t.Fatalf("read back %+v, %v", got, err)
	}
	if _, err := db.IndexPending(0); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := db.View(func(tx ticket.ReadTx) error {
		return tx.Postings("채무", func(uint64, uint32) error { n++; return nil })
	}); err != nil || n != 1 {
		t.Fatalf("the new text is not indexed: %d, %v", n, err)
	}
	m.Attachments = []ticket.Attachment{{Filename: "소득증빙.pdf"}}
	put(m)
	if queued() != 1 {
		t.Fatalf("a new attachment name did not queue the ticket for the index")
	}
}

func readMessage(db *DB, id uint64) (m ticket.Message, err error) {
	err = db.View(func(tx ticket.ReadTx) error {
		m, err = tx.Message(id)
		return err
	})
	return m, err
}
