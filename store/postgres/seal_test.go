package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ticketd/ticketd/store/seal"
	"github.com/ticketd/ticketd/store/storetest"
	"github.com/ticketd/ticketd/ticket"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, seal.KeySize) }

// The encrypted PostgreSQL store keeps the contract, and no word of a
// customer's mail is in any row.
func TestContractEncrypted(t *testing.T) {
	storetest.Run(t, storetest.Options{Open: func(t *testing.T) ticket.Store {
		st, err := Open(context.Background(), freshDSN(t), &Options{Key: testKey(1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}, Stored: func(t *testing.T, st ticket.Store) []byte { return storedBytes(t, st.(*Store)) }})
}

// storedBytes is every value of every table, as stored.
func storedBytes(t *testing.T, st *Store) []byte {
	t.Helper()
	var out []byte
	for _, table := range []string{"tickets", "messages", "message_ids", "seen", "blobs", "outgoing", "rejected", "audit", "docs",
		"search_postings", "search_docs", "settings", "mailbox_leases", "nodes"} {
		rows, err := st.pool.Query(context.Background(), "SELECT * FROM "+table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				switch v := v.(type) {
				case []byte:
					out = append(out, v...)
				case string:
					out = append(out, v...)
				default:
					out = fmt.Append(out, v)
				}
				out = append(out, 0)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// plainRows counts the rows of the sealed tables that are not sealed with
// key (nil: not sealed at all).
func plainRows(t *testing.T, st *Store, key []byte) int {
	t.Helper()
	prefix := seal.Magic
	if key != nil {
		s, err := seal.New(key)
		if err != nil {
			t.Fatal(err)
		}
		prefix = s.Prefix()
	}
	n := 0
	for _, tb := range sealedTables {
		where := ""
		if tb.where != "" {
			where = " AND " + tb.where
		}
		var c int
		if err := st.pool.QueryRow(context.Background(), fmt.Sprintf("SELECT count(*) FROM %s WHERE substring(%s from 1 for %d) <> $1%s", tb.table, tb.col, len(prefix), where), prefix).Scan(&c); err != nil {
			t.Fatal(err)
		}
		n += c
	}
	return n
}

// A database filled without a key is sealed in place by a store with one
// (searchable again after Reindex), then refuses to open without it or
// with another; a new key with the old among OldKeys re-encrypts every
// row, after which the old key alone no longer opens it.
func TestSealAndRotate(t *testing.T) {
	dsn := freshDSN(t)
	ctx := context.Background()
	plain, err := Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	const tickets = 300 // more than a batch of Seal
	if err := plain.Update(func(tx ticket.Tx) error {
		for i := range tickets {
			id, err := tx.NextTicketID()
			if err != nil {
				return err
			}
			if err := tx.PutTicket(ticket.Ticket{ID: id, Subject: fmt.Sprintf("상환일 변경 %d", i), Status: ticket.StatusNew}); err != nil {
				return err
			}
			m := &ticket.Message{TicketID: id, Body: "주민번호 900101-1234568 상환일"}
			if err := tx.AddMessage(m, []byte(fmt.Sprintf("Subject: 상환일 %d\r\n\r\n900101-1234568\r\n", i))); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := plain.PutOAuthState("gmail", []byte(`{"refresh_token":"1//secret-refresh"}`)); err != nil {
		t.Fatal(err)
	}
	secret, err := plain.Secret()
	if err != nil {
		t.Fatal(err)
	}
	plain.Close()

	k1, k2 := testKey(1), testKey(2)
	st, err := Open(ctx, dsn, &Options{Key: k1})
	if err != nil {
		t.Fatal(err)
	}
	if !st.NeedsSealing() {
		t.Fatal("a store with plain rows does not need sealing")
	}
	if built, _ := st.SearchBuilt(); built {
		t.Fatal("the index of the plain words is taken for the key's")
	}
	batches := 0
	n, err := st.Seal(func(string, int) bool { batches++; return true })
	if err != nil {
		t.Fatal(err)
	}
	if st.NeedsSealing() || n < 2*tickets || plainRows(t, st, k1) != 0 {
		t.Fatalf("sealed %d rows in %d batches; %d left unsealed; needs sealing %v", n, batches, plainRows(t, st, k1), st.NeedsSealing())
	}
	if err := st.Reindex(nil); err != nil {
		t.Fatal(err)
	}
	if built, _ := st.SearchBuilt(); !built {
		t.Fatal("the index is not built after Reindex")
	}
	hits := 0
	if err := st.View(func(tx ticket.ReadTx) error {
		h, err := ticket.Search(tx, "상환일", ticket.SearchFilter{Limit: 1000})
		hits = len(h)
		return err
	}); err != nil || hits != tickets {
		t.Fatalf("search after sealing: %d hits (%v), want %d", hits, err, tickets)
	}
	if got, err := st.Secret(); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("the signing secret after sealing: %x (%v), want %x", got, err, secret)
	}
	if got, err := st.OAuthState("gmail"); err != nil || !bytes.Contains(got, []byte("secret-refresh")) {
		t.Fatalf("the OAuth state after sealing: %q (%v)", got, err)
	}
	stored := storedBytes(t, st)
	for _, w := range []string{"900101-1234568", "상환일", "secret-refresh"} {
		if bytes.Contains(stored, []byte(w)) {
			t.Errorf("%q is still in clear after sealing", w)
		}
	}
	st.Close()

	if _, err := Open(ctx, dsn, nil); !errors.Is(err, seal.ErrKeyRequired) {
		t.Fatalf("opened without the key: %v", err)
	}
	if _, err := Open(ctx, dsn, &Options{Key: k2}); !errors.Is(err, seal.ErrWrongKey) {
		t.Fatalf("opened with another key: %v", err)
	}

	// Rotation: k2, opening what k1 sealed.
	st, err = Open(ctx, dsn, &Options{Key: k2, OldKeys: [][]byte{k1}})
	if err != nil {
		t.Fatal(err)
	}
	if !st.NeedsSealing() {
		t.Fatal("a new key does not need the rows re-encrypted")
	}
	if err := st.View(func(tx ticket.ReadTx) error {
		_, err := tx.Ticket(1)
		return err
	}); err != nil {
		t.Fatalf("a row of the old key does not read with it among OldKeys: %v", err)
	}
	if _, err := st.Seal(nil); err != nil {
		t.Fatal(err)
	}
	if left := plainRows(t, st, k2); left != 0 {
		t.Fatalf("%d rows not sealed with the new key", left)
	}
	st.Close()
	if _, err := Open(ctx, dsn, &Options{Key: k1}); !errors.Is(err, seal.ErrWrongKey) {
		t.Fatalf("the old key still opens the database: %v", err)
	}
	st, err = Open(ctx, dsn, &Options{Key: k2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.NeedsSealing() {
		t.Fatal("needs sealing after the rotation")
	}
	if err := st.View(func(tx ticket.ReadTx) error {
		ms, err := tx.Messages(1)
		if err == nil && (len(ms) != 1 || ms[0].Body != "주민번호 900101-1234568 상환일") {
			err = fmt.Errorf("messages %+v", ms)
		}
		return err
	}); err != nil {
		t.Fatalf("after the rotation: %v", err)
	}
}
