package store

import (
	"bytes"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/ticketd/ticketd/store/seal"
)

// Encryption at rest (package seal). With Options.Key, every value of the
// buckets that can carry a customer's words or a secret (sealedBuckets)
// is sealed with the bucket name and the record's key as its place.
// Keys and the index buckets stay plaintext: they hold ids, Message-IDs,
// hashes and addresses, no texts.
var (
	// ErrKeyRequired is returned for an encrypted database opened without
	// its key.
	ErrKeyRequired = seal.ErrKeyRequired
	// ErrWrongKey is returned when the key does not open the database.
	ErrWrongKey = seal.ErrWrongKey
)

// KeySize is the size of an encryption key: AES-256.
const KeySize = seal.KeySize

// sealedBuckets are the buckets whose values are encrypted.
var sealedBuckets = map[string]bool{
	string(bTickets): true, string(bMessages): true, string(bTexts): true, string(bRaw): true,
	string(bOutbox): true, string(bRejected): true, string(bRejRaw): true, string(bSuppress): true,
	string(bOAuth): true, string(bAudit): true,
}

// sbucket is a bucket whose values go through its sealer (nil for a
// bucket that is not encrypted).
type sbucket struct {
	b    *bolt.Bucket
	name []byte
	s    *seal.Sealer
}

func (t *txn) bucket(name []byte) *sbucket {
	sb := &sbucket{b: t.tx.Bucket(name), name: name}
	if sealedBuckets[string(name)] {
		sb.s = t.s
	}
	return sb
}

// Get returns the value of k (nil when there is none), decrypted; it may
// be a copy or bbolt's memory.
func (b *sbucket) Get(k []byte) ([]byte, error) {
	v := b.b.Get(k)
	if v == nil {
		return nil, nil
	}
	return b.s.Open(b.name, k, v)
}

// Has reports whether k has a value.
func (b *sbucket) Has(k []byte) bool { return b.b.Get(k) != nil }

func (b *sbucket) Put(k, v []byte) error { return b.b.Put(k, b.s.Seal(b.name, k, v)) }
func (b *sbucket) Delete(k []byte) error { return b.b.Delete(k) }
func (b *sbucket) NextSequence() (uint64, error) {
	return b.b.NextSequence()
}

// ForEach calls fn with every key and its decrypted value.
func (b *sbucket) ForEach(fn func(k, v []byte) error) error {
	return b.b.ForEach(func(k, v []byte) error {
		pv, err := b.s.Open(b.name, k, v)
		if err != nil {
			return err
		}
		return fn(k, pv)
	})
}

// ErrSealStopped is Seal's error when its progress function stopped it.
var ErrSealStopped = seal.ErrStopped

// checkKey compares the key with the database: an encrypted database
// needs its key, and the key must open its check record. A database
// without a check record gets one (when write is set): from then on it is
// one of this key. It sets the sealer strict when every record is sealed.
func (db *DB) checkKey(tx *bolt.Tx, write bool) error {
	meta := tx.Bucket(bMeta)
	check := meta.Get([]byte("key_check"))
	switch {
	case db.s == nil && check != nil:
		return ErrKeyRequired
	case db.s == nil:
		return nil
	case check != nil:
		v, err := db.s.Open([]byte("meta"), []byte("key_check"), check)
		if err != nil || !bytes.Equal(v, seal.CheckValue) {
			return ErrWrongKey
		}
		if write && !db.s.Current(check) {
			// A new key with the old among OldKeys: the check is the
			// new key's from now on; Seal re-encrypts the records.
			if err := meta.Put([]byte("key_check"), db.s.Seal([]byte("meta"), []byte("key_check"), seal.CheckValue)); err != nil {
				return err
			}
		}
	case write:
		if err := meta.Put([]byte("key_check"), db.s.Seal([]byte("meta"), []byte("key_check"), seal.CheckValue)); err != nil {
			return err
		}
	}
	db.s.SetStrict(bytes.Equal(meta.Get([]byte("sealed")), db.s.Mark()))
	return nil
}

// Encrypted reports whether the database was opened with a key.
func (db *DB) Encrypted() bool { return db.s != nil }

// sealBatch is how many records one transaction of the migration seals.
const sealBatch = 256

// NeedsSealing reports whether the database has a key but records from
// before it, or sealed with an old key, which Seal (re-)encrypts.
func (db *DB) NeedsSealing() bool { return db.s != nil && !db.s.Strict() }

// Seal encrypts every record still stored in plaintext or sealed with an
// old key (Options.OldKeys: a key rotation), in transactions of
// sealBatch records, so a crash loses at most the batch in hand (records
// are sealed in place and sealed ones skipped, so it resumes where it
// stopped). progress, if not nil, is called after each batch with the
// records sealed so far, and stops it by returning false (Seal then
// returns errSealStopped; it resumes at the next call). Then the database is marked encrypted: a plain
// record is an error from then on. The plaintext stays in free pages until
// the file is compacted.
func (db *DB) Seal(progress func(bucket string, sealed int) bool) (int, error) {
	if db.s == nil {
		return 0, errors.New("store: no key to encrypt with")
	}
	total := 0
	for _, name := range allBuckets {
		if !sealedBuckets[string(name)] {
			continue
		}
		var after []byte
		for {
			n, last, err := db.sealSome(name, after)
			if err != nil {
				return total, err
			}
			total += n
			if last == nil {
				break
			}
			after = last
			if progress != nil && !progress(string(name), total) {
				return total, ErrSealStopped
			}
		}
	}
	err := db.guard(func() error {
		return db.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put([]byte("sealed"), db.s.Mark()) })
	})
	if err != nil {
		return total, fmt.Errorf("store: mark encrypted: %w", err)
	}
	db.s.SetStrict(true)
	return total, nil
}

// sealSome seals up to sealBatch plain records of bucket name after key
// after (nil: from the start); it returns the last key looked at, nil at
// the end.
func (db *DB) sealSome(name, after []byte) (n int, last []byte, err error) {
	err = db.guard(func() error {
		return db.bolt.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(name)
			c := b.Cursor()
			k, v := c.First()
			if after != nil {
				if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			type rec struct{ k, v []byte }
			var todo []rec
			looked := 0
			for ; k != nil && looked < sealBatch; k, v = c.Next() {
				looked++
				last = append([]byte(nil), k...)
				if v != nil && !db.s.Current(v) {
					todo = append(todo, rec{last, append([]byte(nil), v...)})
				}
			}
			if k == nil {
				last = nil // the end of the bucket
			}
			for _, r := range todo {
				v, err := db.s.Open(name, r.k, r.v)
				if err != nil {
					return err
				}
				if err := b.Put(r.k, db.s.Seal(name, r.k, v)); err != nil {
					return err
				}
			}
			n = len(todo)
			return nil
		})
	})
	return n, last, err
}
