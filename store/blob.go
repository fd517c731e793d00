package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/ticketd/ticketd/store/seal"
)

// blobChunk is the size of the pieces a raw mail is stored in.
//
// bbolt keeps a value inside its leaf, and appending a key to a bucket
// reads back and rewrites the last leaf (split only past four keys): a whole
// raw mail as one value made every commit copy the previous mail again (a
// 5 MB attachment rewritten, its pages read back through the memory map,
// where they count in the process's RSS). In pieces under one key prefix a
// commit rewrites a few pieces at most. Measured (TestAppendDoesNotRewrite-
// TheLastMail, pages written by 10 small commits after a 5 MiB mail): whole
// 20,744 KiB, 64 KiB pieces 712 KiB, 16 KiB 328 KiB; the database is 1.08
// times the raw mail with any of them. Smaller pieces cost a write system
// call each at commit (bbolt writes each page run apart), and the RSS they
// were meant to save turned out to be the kernel's fault-around, the same
// with any size: 64 KiB it is, less 64 bytes so that two to four pieces
// fill their pages exactly.
const blobChunk = 64<<10 - 64

// blobKey is the key of piece n of blob id: the id, then the piece number.
// A key of the id alone is a blob stored whole (databases written before
// the pieces); it is still read.
func blobKey(id uint64, n uint32) []byte {
	k := make([]byte, 12)
	binary.BigEndian.PutUint64(k, id)
	binary.BigEndian.PutUint32(k[8:], n)
	return k
}

// putBlob stores data as blob id. The bucket keeps references to data until
// the transaction ends.
func putBlob(b *sbucket, id uint64, data []byte) error {
	b.b.FillPercent = 1 // append-only: pack the leaves
	for n := uint32(0); ; n++ {
		piece := data[:min(len(data), blobChunk)]
		if err := b.Put(blobKey(id, n), piece); err != nil {
			return fmt.Errorf("piece %d: %w", n, err)
		}
		data = data[len(piece):]
		if len(data) == 0 {
			return nil
		}
	}
}

// getBlob returns a copy of blob id, or nil when there is none.
func getBlob(b *sbucket, id uint64) ([]byte, error) {
	if v, err := b.Get(u64(id)); err != nil || v != nil {
		return append([]byte(nil), v...), err
	}
	prefix := u64(id)
	c := b.b.Cursor()
	size, found := 0, false
	for k, v := c.Seek(blobKey(id, 0)); k != nil && len(k) == 12 && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		size, found = size+len(v), true
	}
	if !found {
		return nil, nil
	}
	out := make([]byte, 0, size)
	for k, v := c.Seek(blobKey(id, 0)); k != nil && len(k) == 12 && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if b.s == nil && !seal.IsSealed(v) {
			out = append(out, v...) // no copy of the decrypted piece needed
			continue
		}
		pv, err := b.s.Open(b.name, k, v)
		if err != nil {
			return nil, err
		}
		out = append(out, pv...)
	}
	return out, nil
}

// deleteBlob removes blob id, in whichever form it was stored.
func deleteBlob(b *sbucket, id uint64) error {
	if err := b.Delete(u64(id)); err != nil {
		return err
	}
	prefix := u64(id)
	c := b.b.Cursor()
	for k, _ := c.Seek(blobKey(id, 0)); k != nil && len(k) == 12 && bytes.HasPrefix(k, prefix); k, _ = c.Seek(blobKey(id, 0)) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}
