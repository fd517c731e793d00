package postgres

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ticketd/ticketd/store/seal"
	"github.com/ticketd/ticketd/ticket"
)

// Encryption at rest (Options.Key): every document, every piece of raw
// mail, the signing secret and the OAuth tokens are sealed (package seal)
// with their table and their row's place (its id, kind/key, kind/id/n or
// name) as the additional data, so no row can be moved to another
// unnoticed. Ids, Message-IDs, dedupe keys, addresses in keys and the
// search index's keyed word hashes stay plaintext. The settings table
// keeps:
//
//	key_check  seal.CheckValue sealed with the database's key
//	sealed     the key's mark once every row is sealed with it
//	search     the id of the index key the search index was built with

// sealedTables are the tables whose column col is sealed, with the SQL of
// a row's place and its primary key.
var sealedTables = []struct {
	table, col, place string
	pk                []string
	where             string // which rows, when not all
}{
	{"tickets", "doc", "id::text", []string{"id"}, ""},
	{"messages", "doc", "id::text", []string{"id"}, ""},
	{"outgoing", "doc", "id::text", []string{"id"}, ""},
	{"rejected", "doc", "id::text", []string{"id"}, ""},
	{"audit", "doc", "id::text", []string{"id"}, ""},
	{"docs", "doc", "kind || '/' || key", []string{"kind", "key"}, ""},
	{"blobs", "chunk", "kind || '/' || id || '/' || n", []string{"kind", "id", "n"}, ""},
	{"settings", "value", "name", []string{"name"}, "(name = 'secret' OR name LIKE 'oauth:%')"},
}

// keyLock is the advisory lock key under which a node checks the key.
const keyLock = 0x7469636c

// checkKey compares the key with the database's, as one node at a time:
// an encrypted database needs its key and the key must open its check
// record; a database without one gets one of this key (then a database
// with no rows yet is encrypted from the start). It sets the sealer strict
// when every row is sealed with the key, and marks a new database's
// search index built.
func (s *Store) checkKey() error {
	return pgx.BeginTxFunc(s.ctx, s.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(s.ctx, "SELECT pg_advisory_xact_lock($1)", int64(keyLock)); err != nil {
			return err
		}
		check, err := setting(s, tx, "key_check")
		if err != nil {
			return err
		}
		var empty bool
		if err := tx.QueryRow(s.ctx, `SELECT NOT EXISTS (SELECT 1 FROM tickets) AND NOT EXISTS (SELECT 1 FROM outgoing)
			AND NOT EXISTS (SELECT 1 FROM rejected) AND NOT EXISTS (SELECT 1 FROM docs)
			AND NOT EXISTS (SELECT 1 FROM settings WHERE name = 'secret' OR name LIKE 'oauth:%')`).Scan(&empty); err != nil {
			return err
		}
		put := func(name string, v []byte) error {
			_, err := tx.Exec(s.ctx, `INSERT INTO settings (name, value) VALUES ($1, $2)
				ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, v)
			return err
		}
		sealCheck := func() []byte { return s.s.Seal([]byte("settings"), []byte("key_check"), seal.CheckValue) }
		switch {
		case s.s == nil && check != nil:
			return seal.ErrKeyRequired
		case s.s == nil:
		case check != nil:
			v, err := s.s.Open([]byte("settings"), []byte("key_check"), check)
			if err != nil || !bytes.Equal(v, seal.CheckValue) {
				return seal.ErrWrongKey
			}
			if !s.s.Current(check) {
				// A new key with the old among the old keys: the check is
				// the new key's from now on; Seal re-encrypts the rows.
				if err := put("key_check", sealCheck()); err != nil {
					return err
				}
			}
		default:
			if err := put("key_check", sealCheck()); err != nil {
				return err
			}
			if empty {
				if err := put("sealed", s.s.Mark()); err != nil {
					return err
				}
			}
		}
		if empty {
			if err := put("search", []byte(s.indexID)); err != nil {
				return err
			}
		}
		if s.s != nil {
			mark, err := setting(s, tx, "sealed")
			if err != nil {
				return err
			}
			s.s.SetStrict(bytes.Equal(mark, s.s.Mark()))
		}
		return nil
	})
}

// setting is the value of a settings row as stored, nil when there is
// none.
func setting(s *Store, tx pgx.Tx, name string) ([]byte, error) {
	var v []byte
	err := tx.QueryRow(s.ctx, "SELECT value FROM settings WHERE name = $1", name).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return v, err
}

// Encrypted reports whether the store was opened with a key.
func (s *Store) Encrypted() bool { return s.s != nil }

// NeedsSealing reports whether the store has a key but rows from before
// it, or sealed with an old key, which Seal (re-)encrypts.
func (s *Store) NeedsSealing() bool { return s.s != nil && !s.s.Strict() }

// sealBatch is how many rows one transaction of Seal looks at.
const sealBatch = 256

// ErrSealStopped is Seal's error when its progress function stopped it.
var ErrSealStopped = seal.ErrStopped

// Seal encrypts every row still stored in plaintext or sealed with an old
// key, sealBatch rows a transaction (locked while it runs, so nodes
// sealing at once, or writing, wait for each other rather than undo each
// other's work), and then marks the database sealed with the key: a
// plain row is an error from then on. progress, if not nil, is told the
// table and the rows sealed so far after each batch, and stops Seal by
// returning false (ErrSealStopped; it resumes at the next call). The
// plaintext stays in dead row versions until VACUUM, and in the WAL and
// backups taken before.
func (s *Store) Seal(progress func(table string, sealed int) bool) (int, error) {
	if s.s == nil {
		return 0, errors.New("postgres: no key to encrypt with")
	}
	total := 0
	for _, st := range sealedTables {
		var after []any
		for {
			var n int
			var last []any
			err := s.Update(func(tx ticket.Tx) error {
				var err error
				n, last, err = tx.(*txn).sealSome(st.table, st.col, st.place, st.pk, st.where, after)
				return err
			})
			if err != nil {
				return total, fmt.Errorf("postgres: encrypt %s: %w", st.table, err)
			}
			total += n
			if last == nil {
				break
			}
			after = last
			if progress != nil && !progress(st.table, total) {
				return total, ErrSealStopped
			}
		}
	}
	if _, err := s.pool.Exec(s.ctx, `INSERT INTO settings (name, value) VALUES ('sealed', $1)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, s.s.Mark()); err != nil {
		return total, fmt.Errorf("postgres: mark encrypted: %w", err)
	}
	s.s.SetStrict(true)
	return total, nil
}

// sealSome seals the rows of table, among the sealBatch after the
// primary key after (nil: from the start), that are not sealed with the
// key; it returns how many and the last key looked at (nil at the end).
func (t *txn) sealSome(table, col, place string, pk []string, where string, after []any) (int, []any, error) {
	cols := strings.Join(pk, ", ")
	var conds []string
	if where != "" {
		conds = append(conds, where)
	}
	if after != nil {
		ph := make([]string, len(pk))
		for i := range pk {
			ph[i] = fmt.Sprintf("$%d", i+1)
		}
		conds = append(conds, fmt.Sprintf("(%s) > (%s)", cols, strings.Join(ph, ", ")))
	}
	sql := fmt.Sprintf("SELECT %s AS seal_place, %s AS seal_value, %s FROM %s", place, col, cols, table)
	if len(conds) > 0 {
		sql += " WHERE " + strings.Join(conds, " AND ")
	}
	sql += fmt.Sprintf(" ORDER BY %s LIMIT %d FOR UPDATE", cols, sealBatch)
	rows, err := t.tx.Query(t.ctx, sql, after...)
	if err != nil {
		return 0, nil, err
	}
	type row struct {
		place string
		v     []byte
		key   []any
	}
	var todo []row
	var last []any
	looked := 0
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			rows.Close()
			return 0, nil, err
		}
		looked++
		r := row{place: vals[0].(string), v: vals[1].([]byte), key: vals[2:]}
		last = r.key
		if !t.s.Current(r.v) {
			todo = append(todo, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, nil, err
	}
	if looked < sealBatch {
		last = nil // the end of the table
	}
	conds = conds[:0]
	for i, c := range pk {
		conds = append(conds, fmt.Sprintf("%s = $%d", c, i+2))
	}
	update := fmt.Sprintf("UPDATE %s SET %s = $1 WHERE %s", table, col, strings.Join(conds, " AND "))
	b := &pgx.Batch{}
	for _, r := range todo {
		v, err := t.open(table, r.place, r.v)
		if err != nil {
			return 0, nil, err
		}
		b.Queue(update, append([]any{t.seal(table, r.place, v)}, r.key...)...)
	}
	if len(todo) > 0 {
		if err := t.tx.SendBatch(t.ctx, b).Close(); err != nil {
			return 0, nil, err
		}
	}
	return len(todo), last, nil
}

// term is how the search index keeps a word: the start of its SHA-256
// keyed with the index key, derived from the encryption key when there is
// one (as bbolt's index), so no word is kept in clear.
func (t *txn) term(w string) string {
	buf := make([]byte, 0, len(t.termKey)+len(w))
	sum := sha256.Sum256(append(append(buf, t.termKey[:]...), w...))
	return hex.EncodeToString(sum[:8])
}
