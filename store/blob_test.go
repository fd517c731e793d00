package store

import (
	"bytes"
	"math/rand/v2"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/ticketd/ticketd/ticket"

	"github.com/ticketd/ticketd/store/seal"
)

func TestBlobPiecesRoundTrip(t *testing.T) {
	for _, key := range [][]byte{nil, bytes.Repeat([]byte{7}, KeySize)} {
		testBlobPieces(t, key)
	}
}

// testBlobPieces stores blobs of every size around the piece size, with
// key (nil: plaintext), and reads, counts and deletes them.
func testBlobPieces(t *testing.T, key []byte) {
	db := tempDB(t)
	if key != nil {
		var err error
		if db.s, err = seal.New(key); err != nil {
			t.Fatal(err)
		}
	}
	get := func(b *sbucket, id uint64) []byte {
		t.Helper()
		v, err := getBlob(b, id)
		if err != nil {
			t.Fatalf("blob %d: %v", id, err)
		}
		return v
	}
	r := rand.New(rand.NewPCG(1, 2))
	var blobs [][]byte
	for _, n := range []int{0, 1, blobChunk - 1, blobChunk, blobChunk + 1, 5<<20 + 7} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		blobs = append(blobs, b)
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := (&txn{tx: tx, s: db.s}).bucket(bRaw)
		for i, data := range blobs {
			if err := putBlob(b, uint64(i+1), data); err != nil {
				return err
			}
		}
		// A database written before the pieces (and before the key)
		// holds the whole mail under the id alone.
		return b.b.Put(u64(100), []byte("legacy whole mail"))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.bolt.View(func(tx *bolt.Tx) error {
		b := (&txn{tx: tx, s: db.s}).bucket(bRaw)
		for i, want := range blobs {
			got := get(b, uint64(i+1))
			if got == nil || !bytes.Equal(got, want) {
				t.Errorf("blob of %d bytes: got %d bytes back, equal %v", len(want), len(got), bytes.Equal(got, want))
			}
		}
		want := 1 // the legacy one
		for _, data := range blobs {
			want += max(1, (len(data)+blobChunk-1)/blobChunk)
		}
		if n := b.b.Stats().KeyN; n != want {
			t.Errorf("%d keys, want one per piece (%d)", n, want)
		}
		if got := get(b, 100); string(got) != "legacy whole mail" {
			t.Errorf("legacy blob: %q", got)
		}
		if get(b, 99) != nil {
			t.Error("a missing blob is not nil")
		}
		return nil
	})
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		b := (&txn{tx: tx, s: db.s}).bucket(bRaw)
		for _, id := range []uint64{6, 100} {
			if err := deleteBlob(b, id); err != nil {
				return err
			}
		}
		if get(b, 6) != nil || get(b, 100) != nil || !bytes.Equal(get(b, 5), blobs[4]) {
			t.Error("delete removed the wrong pieces")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAppendDoesNotRewriteTheLastMail checks what the pieces are for: storing
// mail after a large one must not copy the large one again.
func TestAppendDoesNotRewriteTheLastMail(t *testing.T) {
	db := tempDB(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 5<<16) // 5 MiB
	add := func(raw []byte) {
		t.Helper()
		if err := db.Update(func(tx ticket.Tx) error { return tx.AddMessage(&ticket.Message{TicketID: 1}, raw) }); err != nil {
			t.Fatal(err)
		}
	}
	add(big)
	// Bytes of pages allocated (and written) by the commits.
	writes := func() int64 { st := db.bolt.Stats(); return st.TxStats.GetPageAlloc() }
	before := writes()
	for range 10 {
		add([]byte("Subject: small\r\n\r\nhello\r\n"))
	}
	written := writes() - before
	t.Logf("10 small mails after a 5 MiB one: %d KiB of pages written", written>>10)
	// Each commit writes a handful of pages (meta, freelist, the touched
	// leaves and branches) and a few 64 KiB pieces at most (bbolt splits a
	// leaf only past four keys): not the 5 MiB mail.
	if per := written / 10; per > 512<<10 {
		t.Fatalf("%d KiB written per small mail: the large mail is being rewritten", per>>10)
	}
}
