package ticket_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ticketd/ticketd/store"
	"github.com/ticketd/ticketd/ticket"
)

// search runs ticket.Search and returns the ticket numbers found, in
// order.
func search(t *testing.T, db *store.DB, q string, f ticket.SearchFilter) []uint64 {
	t.Helper()
	if _, err := db.IndexPending(0); err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	err := db.View(func(tx ticket.ReadTx) error {
		hits, err := ticket.Search(tx, q, f)
		for _, h := range hits {
			ids = append(ids, h.Ticket.ID)
		}
		return err
	})
	if err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	return ids
}

// Korean as customers write it: particles glued on, spaces or none; Latin
// words whole and case-folded; newest first among whole matches; the
// index follows follow-ups, and never holds personal data in clear.
func TestSearchKorean(t *testing.T) {
	svc, db := setup(t)
	texts := []struct{ subject, body string }{
		{"대출 문의", "햇살론 대출신청이 안 됩니다. 앱에서 오류가 나요."},                // 1
		{"로그인 문제", "어제부터 로그인이 안돼요. 비밀번호는 맞습니다."},                 // 2
		{"로그인안돼요", "앱 업데이트 후 로그인안돼요"},                            // 3
		{"서류 제출", "소득증빙서류를 제출하려고 합니다. PDF로 보내도 되나요?"},            // 4
		{"Login error", "The APP shows an error when I log in."}, // 5
		{"주민번호 문의", "제 주민등록번호는 900101-1234568 입니다. 확인 부탁드립니다."},  // 6
		{"상환일 변경", "상환일을 바꾸고 싶어요."},                              // 7
	}
	for i, x := range texts {
		m := mail(fmt.Sprintf("c%d@example.org", i+1), x.subject, fmt.Sprintf("s%d@example.org", i+1))
		m.Text = x.body
		if res := ingest(t, svc, m); res.TicketID != uint64(i+1) {
			t.Fatalf("mail %d made ticket %d", i+1, res.TicketID)
		}
	}
	for _, c := range []struct {
		q    string
		want []uint64
	}{
		{"대출", []uint64{1}},             // inside 대출신청이
		{"대출신청", []uint64{1}},           // a compound
		{"앱", []uint64{3, 1}},           // one syllable, glued to 에서; newest first
		{"로그인 안돼요", []uint64{3, 2}},     // 3 holds it whole (no space), 2 with 이 between
		{"로그인안돼요", []uint64{3, 2}},      // the other way round
		{"소득증빙", []uint64{4}},           //
		{"pdf", []uint64{4}},            // Latin, case-folded
		{"LOGIN", []uint64{5}},          //
		{"c2@example.org", []uint64{2}}, // the requester
		{"1234568", nil},                // masked before indexing
		{"채무조정", nil},                   // nobody asked
		{"상환일을 변경하고 싶어요", []uint64{7}},  // most of it, not all
	} {
		if got := search(t, db, c.q, ticket.SearchFilter{}); !slices.Equal(got, c.want) {
			t.Errorf("search %q = %v, want %v", c.q, got, c.want)
		}
	}

	// A follow-up is found at once (the ingest transaction indexes it).
	m := mail("c7@example.org", "Re: 상환일 변경", "s7b@example.org")
	m.InReplyTo = "s7@example.org"
	m.Text = "그리고 채무조정도 궁금합니다."
	if res := ingest(t, svc, m); res.TicketID != 7 {
		t.Fatalf("follow-up went to %d", res.TicketID)
	}
	if got := search(t, db, "채무조정", ticket.SearchFilter{}); !slices.Equal(got, []uint64{7}) {
		t.Fatalf("the follow-up's words: %v", got)
	}

	// Filters and the limit.
	if got := search(t, db, "앱", ticket.SearchFilter{Limit: 1}); !slices.Equal(got, []uint64{3}) {
		t.Errorf("limit 1: %v", got)
	}
	if got := search(t, db, "앱", ticket.SearchFilter{Status: ticket.StatusSolved}); len(got) != 0 {
		t.Errorf("status solved: %v", got)
	}
	if got := search(t, db, "앱", ticket.SearchFilter{From: time.Now().Add(time.Hour)}); len(got) != 0 {
		t.Errorf("from the future: %v", got)
	}
	if err := db.View(func(tx ticket.ReadTx) error { _, err := ticket.Search(tx, " ?! ", ticket.SearchFilter{}); return err }); err == nil {
		t.Error("a query without a word is no error")
	}
}

// Reindex rebuilds the index to the same answers; a database of tickets
// from before the index answers ErrSearchIndex until it is reindexed, and
// one opened with another key (after a rotation) too.
func TestReindex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	key := make([]byte, store.KeySize)
	db, err := store.Open(path, &store.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	// More than one batch of Reindex, in one transaction.
	err = db.Update(func(tx ticket.Tx) error {
		for i := range 300 {
			id, err := tx.NextTicketID()
			if err != nil {
				return err
			}
			if err := tx.PutTicket(ticket.Ticket{ID: id, Subject: fmt.Sprintf("서류 제출 %d", i), Status: ticket.StatusOpen}); err != nil {
				return err
			}
			m := ticket.Message{TicketID: id, Body: "재직증명서를 보냈습니다.", Visible: "재직증명서를 보냈습니다."}
			if i == 299 {
				m.Body, m.Visible = "개인회생 서류입니다.", "개인회생 서류입니다."
			}
			if err := tx.AddMessage(&m, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := search(t, db, "개인회생", ticket.SearchFilter{}); !slices.Equal(got, []uint64{300}) {
		t.Fatalf("before reindex: %v", got)
	}
	var calls []int
	if err := db.Reindex(func(done, total int) bool { calls = append(calls, done); return true }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(calls, []int{256, 300}) {
		t.Errorf("progress %v, want [256 300]", calls)
	}
	if got := search(t, db, "개인회생", ticket.SearchFilter{}); !slices.Equal(got, []uint64{300}) {
		t.Fatalf("after reindex: %v", got)
	}
	if got := search(t, db, "재직증명서", ticket.SearchFilter{Limit: 500}); len(got) != 299 || got[0] != 299 {
		t.Fatalf("after reindex, 재직증명서: %d found, first %v", len(got), got[:min(1, len(got))])
	}
	db.Close()

	// Another key (rotated): the index is of the old one.
	newKey := slices.Repeat([]byte{1}, store.KeySize)
	db, err = store.Open(path, &store.Options{Key: newKey, OldKeys: [][]byte{key}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx ticket.ReadTx) error { _, err := ticket.Search(tx, "서류", ticket.SearchFilter{}); return err })
	if !errors.Is(err, ticket.ErrSearchIndex) {
		t.Fatalf("search with another key: %v, want ErrSearchIndex", err)
	}
	if built, _ := db.SearchBuilt(); built {
		t.Fatal("SearchBuilt with another key")
	}
	if err := db.Reindex(nil); err != nil {
		t.Fatal(err)
	}
	if got := search(t, db, "개인회생", ticket.SearchFilter{}); !slices.Equal(got, []uint64{300}) {
		t.Fatalf("after reindex with the new key: %v", got)
	}
}
