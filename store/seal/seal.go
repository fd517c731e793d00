package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
)

var (
	// ErrKeyRequired is returned for an encrypted database opened without
	// its key.
	ErrKeyRequired = errors.New("the database is encrypted: its key is needed (privacy.key_file or privacy.key_env)")
	// ErrWrongKey is returned when the key does not open the database.
	ErrWrongKey = errors.New("the key does not open this database (a different key encrypted it)")
)

// ErrStopped is a migration's error (sealing the records anew) when its
// progress function stopped it; it resumes where it was.
var ErrStopped = errors.New("encryption stopped; it resumes where it was")

// Magic starts every sealed value.
var Magic = []byte("\x00tkE2")

const (
	idSize    = 4
	nonceSize = 12
	head      = 5 + idSize + nonceSize // len(Magic) + id + nonce
)

// KeySize is the size of an encryption key: AES-256.
const KeySize = 32

// CheckValue is what a database's key check record holds, sealed: a key
// that opens it is the database's.
var CheckValue = []byte("ticketd key check")

// Sealer encrypts and decrypts values. A nil Sealer stores values as they
// are and refuses sealed ones. Its methods may be called at once from
// several goroutines.
type Sealer struct {
	id   [idSize]byte // of the key that seals
	aead cipher.AEAD
	// old open the records of earlier keys, by key id.
	old map[[idSize]byte]cipher.AEAD
	// strict is set once every record is sealed with the current key: a
	// plain value is then an error, not a record from before the
	// migration.
	strict atomic.Bool
}

func keyAEAD(key []byte) ([idSize]byte, cipher.AEAD, error) {
	var id [idSize]byte
	if len(key) != KeySize {
		return id, nil, fmt.Errorf("seal: the encryption key is %d bytes, want %d", len(key), KeySize)
	}
	sum := sha256.Sum256(key)
	copy(id[:], sum[:])
	block, err := aes.NewCipher(key)
	if err != nil {
		return id, nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return id, nil, fmt.Errorf("seal: %w", err)
	}
	return id, aead, nil
}

// New seals with key and opens what key and the old keys sealed.
func New(key []byte, old ...[]byte) (*Sealer, error) {
	id, aead, err := keyAEAD(key)
	if err != nil {
		return nil, err
	}
	s := &Sealer{id: id, aead: aead, old: map[[idSize]byte]cipher.AEAD{}}
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
func keyID(v []byte) (id [idSize]byte) {
	copy(id[:], v[len(Magic):])
	return id
}

// Prefix is how every value this Sealer seals starts: Magic and its key
// id.
func (s *Sealer) Prefix() []byte { return append(append([]byte(nil), Magic...), s.id[:]...) }

// Current reports whether v is sealed with the Sealer's own key.
func (s *Sealer) Current(v []byte) bool { return IsSealed(v) && keyID(v) == s.id }

// Mark names the Sealer's key (its id in hex): a database records it once
// every record is sealed with the key.
func (s *Sealer) Mark() []byte { return []byte(hex.EncodeToString(s.id[:])) }

// SetStrict makes a plain value an error from now on (every record is
// sealed); Strict reports it.
func (s *Sealer) SetStrict(on bool) { s.strict.Store(on) }

// Strict reports whether a plain value is an error.
func (s *Sealer) Strict() bool { return s != nil && s.strict.Load() }

func aad(space, key []byte) []byte {
	return append(append(append([]byte(nil), space...), 0), key...)
}

// Seal encrypts v, the value of key in space (a bucket, a table).
func (s *Sealer) Seal(space, key, v []byte) []byte {
	if s == nil {
		return v
	}
	out := make([]byte, head, head+len(v)+s.aead.Overhead())
	copy(out, Magic)
	copy(out[len(Magic):], s.id[:])
	nonce := out[len(Magic)+idSize:]
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("seal: no randomness for a nonce: %v", err)) // crypto/rand never fails on Linux
	}
	return s.aead.Seal(out, nonce, v, aad(space, key))
}

// IsSealed reports whether v was stored by Seal.
func IsSealed(v []byte) bool {
	return bytes.HasPrefix(v, Magic) && len(v) >= head
}

// Open decrypts v, the value of key in space. A plain value is returned
// as it is unless the Sealer is strict.
func (s *Sealer) Open(space, key, v []byte) ([]byte, error) {
	if !IsSealed(v) {
		if s.Strict() {
			return nil, fmt.Errorf("seal: %s %x is not encrypted in an encrypted database", space, key)
		}
		return v, nil
	}
	if s == nil {
		return nil, ErrKeyRequired
	}
	aead := s.aead
	if id := keyID(v); id != s.id {
		if aead = s.old[id]; aead == nil {
			return nil, fmt.Errorf("seal: %s %x is sealed with key %x, which is neither privacy.key_file nor one of privacy.old_key_files: %w", space, key, id, ErrWrongKey)
		}
	}
	out, err := aead.Open(nil, v[len(Magic)+idSize:head], v[head:], aad(space, key))
	if err != nil {
		return nil, fmt.Errorf("seal: %s %x: %w", space, key, ErrWrongKey)
	}
	return out, nil
}

// IndexKey derives the key of a search index from the encryption key
// (nil: none), and that key's id: the index keeps keyed hashes of the
// words, not the words.
func IndexKey(key []byte) (k [32]byte, id string) {
	k = sha256.Sum256(append([]byte("ticketd search index\x00"), key...))
	sum := sha256.Sum256(k[:])
	return k, hex.EncodeToString(sum[:8])
}
