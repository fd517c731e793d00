package store

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Encryption at rest. With Options.Key, every value of the buckets that
// can carry a customer's words or a secret (sealedBuckets) is stored as
//
//	sealMagic ++ key id (4 bytes) ++ 12-byte random nonce ++ AES-256-GCM(value)
//
// where the key id is the start of the key's SHA-256, so records of an old
// key are told apart while a new one re-encrypts them (Options.OldKeys).
// with the bucket name and the record's key as additional data, so a
// record cannot be moved to another key or bucket unnoticed. Keys and the
// index buckets stay plaintext: they hold ids, Message-IDs, hashes and
// addresses, no texts.
var (
	// ErrKeyRequired is returned for an encrypted database opened without
	// its key.
	ErrKeyRequired = errors.New("the database is encrypted: its key is needed (privacy.key_file or privacy.key_env)")
	// ErrWrongKey is returned when the key does not open the database.
	ErrWrongKey = errors.New("the key does not open this database (a different key encrypted it)")
)

var sealMagic = []byte("\x00tkE2")

const (
	sealKeyID = 4
	sealNonce = 12
	sealHead  = 5 + sealKeyID + sealNonce // len(sealMagic) + id + nonce
)

// KeySize is the size of an encryption key: AES-256.
const KeySize = 32

// sealedBuckets are the buckets whose values are encrypted.
var sealedBuckets = map[string]bool{
	string(bTickets): true, string(bMessages): true, string(bTexts): true, string(bRaw): true,
	string(bOutbox): true, string(bRejected): true, string(bRejRaw): true, string(bSuppress): true,
	string(bOAuth): true, string(bAudit): true,
}

// sealer encrypts and decrypts values. A nil sealer stores values as they
// are and refuses sealed ones.
type sealer struct {
	id   [sealKeyID]byte // of the key that seals
	aead cipher.AEAD
	// old open the records of earlier keys, by key id.
	old map[[sealKeyID]byte]cipher.AEAD
	// strict is set once every record is sealed with the current key
	// (meta "sealed"): a plain value is then an error, not a record from
	// before the migration.
	strict bool
}

func keyAEAD(key []byte) ([sealKeyID]byte, cipher.AEAD, error) {
	var id [sealKeyID]byte
	if len(key) != KeySize {
		return id, nil, fmt.Errorf("store: the encryption key is %d bytes, want %d", len(key), KeySize)
	}
	sum := sha256.Sum256(key)
	copy(id[:], sum[:])
	block, err := aes.NewCipher(key)
	if err != nil {
		return id, nil, fmt.Errorf("store: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return id, nil, fmt.Errorf("store: %w", err)
	}
	return id, aead, nil
}

// newSealer seals with key and opens what key and the old keys sealed.
func newSealer(key []byte, old ...[]byte) (*sealer, error) {
	id, aead, err := keyAEAD(key)
	if err != nil {
		return nil, err
	}
	s := &sealer{id: id, aead: aead, old: map[[sealKeyID]byte]cipher.AEAD{}}
	for _, k := range old {
		oid, oaead, err := keyAEAD(k)
		if err != nil {
			return nil, fmt.Errorf("old key: %w", err)
		}
		if oid != id {
			s.old[oid] = oaead
		}
	}
	return s, nil
}

// keyID is the id of the key that sealed v.
func keyID(v []byte) (id [sealKeyID]byte) {
	copy(id[:], v[len(sealMagic):])
	return id
}

// current reports whether v is sealed with the sealer's own key.
func (s *sealer) current(v []byte) bool { return isSealed(v) && keyID(v) == s.id }

// sealedMark is meta "sealed" for this key: every record is sealed with it.
func (s *sealer) sealedMark() []byte { return []byte(hex.EncodeToString(s.id[:])) }

func sealAAD(bucket, key []byte) []byte {
	return append(append(append([]byte(nil), bucket...), 0), key...)
}

// seal encrypts v, the value of key in bucket.
func (s *sealer) seal(bucket, key, v []byte) []byte {
	if s == nil {
		return v
	}
	out := make([]byte, sealHead, sealHead+len(v)+s.aead.Overhead())
	copy(out, sealMagic)
	copy(out[len(sealMagic):], s.id[:])
	nonce := out[len(sealMagic)+sealKeyID:]
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("store: no randomness for a nonce: %v", err)) // crypto/rand never fails on Linux
	}
	return s.aead.Seal(out, nonce, v, sealAAD(bucket, key))
}

// isSealed reports whether v was stored by seal.
func isSealed(v []byte) bool {
	return bytes.HasPrefix(v, sealMagic) && len(v) >= sealHead
}

// open decrypts v, the value of key in bucket.
func (s *sealer) open(bucket, key, v []byte) ([]byte, error) {
	if !isSealed(v) {
		if s != nil && s.strict {
			return nil, fmt.Errorf("store: %s %x is not encrypted in an encrypted database", bucket, key)
		}
		return v, nil
	}
	if s == nil {
		return nil, ErrKeyRequired
	}
	aead := s.aead
	if id := keyID(v); id != s.id {
		if aead = s.old[id]; aead == nil {
			return nil, fmt.Errorf("store: %s %x is sealed with key %x, which is neither privacy.key_file nor one of privacy.old_key_files: %w", bucket, key, id, ErrWrongKey)
		}
	}
	out, err := aead.Open(nil, v[len(sealMagic)+sealKeyID:sealHead], v[sealHead:], sealAAD(bucket, key))
	if err != nil {
		return nil, fmt.Errorf("store: %s %x: %w", bucket, key, ErrWrongKey)
	}
	return out, nil
}

// sbucket is a bucket whose values go through its sealer (nil for a
// bucket that is not encrypted).
type sbucket struct {
	b    *bolt.Bucket
	name []byte
	s    *sealer
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
	return b.s.open(b.name, k, v)
}

// Has reports whether k has a value.
func (b *sbucket) Has(k []byte) bool { return b.b.Get(k) != nil }

func (b *sbucket) Put(k, v []byte) error { return b.b.Put(k, b.s.seal(b.name, k, v)) }
func (b *sbucket) Delete(k []byte) error { return b.b.Delete(k) }
func (b *sbucket) NextSequence() (uint64, error) {
	return b.b.NextSequence()
}

// ForEach calls fn with every key and its decrypted value.
func (b *sbucket) ForEach(fn func(k, v []byte) error) error {
	return b.b.ForEach(func(k, v []byte) error {
		pv, err := b.s.open(b.name, k, v)
		if err != nil {
			return err
		}
		return fn(k, pv)
	})
}

// ErrSealStopped is Seal's error when its progress function stopped it.
var ErrSealStopped = errors.New("store: encryption stopped; it resumes where it was")

// checkValue is what the key check record holds, sealed, in meta.
var checkValue = []byte("ticketd key check")

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
		v, err := db.s.open([]byte("meta"), []byte("key_check"), check)
		if err != nil || !bytes.Equal(v, checkValue) {
			return ErrWrongKey
		}
		if write && !db.s.current(check) {
			// A new key with the old among OldKeys: the check is the
			// new key's from now on; Seal re-encrypts the records.
			if err := meta.Put([]byte("key_check"), db.s.seal([]byte("meta"), []byte("key_check"), checkValue)); err != nil {
				return err
			}
		}
	case write:
		if err := meta.Put([]byte("key_check"), db.s.seal([]byte("meta"), []byte("key_check"), checkValue)); err != nil {
			return err
		}
	}
	db.s.strict = bytes.Equal(meta.Get([]byte("sealed")), db.s.sealedMark())
	return nil
}

// Encrypted reports whether the database was opened with a key.
func (db *DB) Encrypted() bool { return db.s != nil }

// sealBatch is how many records one transaction of the migration seals.
const sealBatch = 256

// NeedsSealing reports whether the database has a key but records from
// before it, or sealed with an old key, which Seal (re-)encrypts.
func (db *DB) NeedsSealing() bool { return db.s != nil && !db.s.strict }

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
		return db.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put([]byte("sealed"), db.s.sealedMark()) })
	})
	if err != nil {
		return total, fmt.Errorf("store: mark encrypted: %w", err)
	}
	db.s.strict = true
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
				if v != nil && !db.s.current(v) {
					todo = append(todo, rec{last, append([]byte(nil), v...)})
				}
			}
			if k == nil {
				last = nil // the end of the bucket
			}
			for _, r := range todo {
				v, err := db.s.open(name, r.k, r.v)
				if err != nil {
					return err
				}
				if err := b.Put(r.k, db.s.seal(name, r.k, v)); err != nil {
					return err
				}
			}
			n = len(todo)
			return nil
		})
	})
	return n, last, err
}
