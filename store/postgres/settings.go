package postgres

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	"github.com/ticketd/ticketd/ticket"
)

// Secret returns the signing secret the nodes share, creating 32 random
// bytes on first use (the first node to commit wins; the others read it).
func (s *Store) Secret() ([]byte, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if _, err := s.pool.Exec(s.ctx, "INSERT INTO settings (name, value) VALUES ('secret', $1) ON CONFLICT DO NOTHING",
		s.s.Seal([]byte("settings"), []byte("secret"), key)); err != nil {
		return nil, fmt.Errorf("postgres: signing secret: %w", err)
	}
	var v []byte
	if err := s.pool.QueryRow(s.ctx, "SELECT value FROM settings WHERE name = 'secret'").Scan(&v); err != nil {
		return nil, fmt.Errorf("postgres: signing secret: %w", err)
	}
	v, err := s.s.Open([]byte("settings"), []byte("secret"), v)
	if err != nil {
		return nil, fmt.Errorf("postgres: signing secret: %w", err)
	}
	return v, nil
}

// OAuthState returns what is kept of the OAuth credential name, or nil.
func (s *Store) OAuthState(name string) ([]byte, error) {
	var v []byte
	err := s.pool.QueryRow(s.ctx, "SELECT value FROM settings WHERE name = $1", "oauth:"+name).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err == nil {
		v, err = s.s.Open([]byte("settings"), []byte("oauth:"+name), v)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: oauth state of %s: %w", name, err)
	}
	return v, nil
}

// PutOAuthState keeps data as the state of the OAuth credential name.
func (s *Store) PutOAuthState(name string, data []byte) error {
	if _, err := s.pool.Exec(s.ctx, `INSERT INTO settings (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, "oauth:"+name, s.s.Seal([]byte("settings"), []byte("oauth:"+name), data)); err != nil {
		return fmt.Errorf("postgres: oauth state of %s: %w", name, err)
	}
	return nil
}

// Damaged is nil: the database keeps its own pages.
func (s *Store) Damaged() error { return nil }

// Check says whether the schema is this build's and its tables and
// constraints are there (the database checks its own pages).
func (s *Store) Check() error {
	var v int
	if err := s.pool.QueryRow(s.ctx, "SELECT coalesce(max(version), 0) FROM schema_version").Scan(&v); err != nil {
		return fmt.Errorf("postgres: schema version: %w", err)
	}
	if v != SchemaVersion() {
		return fmt.Errorf("postgres: the schema is version %d, this ticketd's is %d", v, SchemaVersion())
	}
	var missing []string
	for _, c := range []string{"tickets_pkey", "messages_pkey", "message_ids_pkey", "seen_pkey", "blobs_pkey", "outgoing_pkey",
		"rejected_pkey", "audit_pkey", "docs_pkey", "search_postings_pkey", "search_docs_pkey", "settings_pkey", "mailbox_leases_pkey"} {
		var ok bool
		if err := s.pool.QueryRow(s.ctx, "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = $1)", c).Scan(&ok); err != nil {
			return fmt.Errorf("postgres: constraints: %w", err)
		}
		if !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("postgres: constraints missing: %v", missing)
	}
	return nil
}

// SearchBuilt reports whether the search index was built with the index
// key of this store's key (every transaction keeps it from then on); a
// new database's is.
func (s *Store) SearchBuilt() (bool, error) {
	var v []byte
	err := s.pool.QueryRow(s.ctx, "SELECT value FROM settings WHERE name = 'search'").Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("postgres: search index: %w", err)
	}
	return string(v) == s.indexID, nil
}

// IndexPending has nothing to do: every transaction keeps the index.
func (s *Store) IndexPending(int) (int, error) { return 0, nil }

// Reindex builds the search index afresh, a batch of tickets a
// transaction, and marks it built with this store's index key; progress
// is told the tickets done and their total, and false from it stops.
func (s *Store) Reindex(progress func(done, total int) bool) error {
	var ids []int64
	rows, err := s.pool.Query(s.ctx, "SELECT id FROM tickets ORDER BY id")
	if err != nil {
		return fmt.Errorf("postgres: reindex: %w", err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	const batch = 200
	for i := 0; i < len(ids); i += batch {
		err := s.Update(func(tx ticket.Tx) error {
			t := tx.(*txn)
			for _, id := range ids[i:min(i+batch, len(ids))] {
				t.touch(uint64(id))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("postgres: reindex: %w", err)
		}
		if progress != nil && !progress(min(i+batch, len(ids)), len(ids)) {
			return errors.New("postgres: reindex stopped; run it again")
		}
	}
	if _, err := s.pool.Exec(s.ctx, `INSERT INTO settings (name, value) VALUES ('search', $1)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, []byte(s.indexID)); err != nil {
		return fmt.Errorf("postgres: reindex: %w", err)
	}
	return nil
}

// ErrNoBackup is WriteTo's error: a PostgreSQL database is backed up with
// its own tools.
var ErrNoBackup = errors.New("with store.driver postgres, back up with PostgreSQL's own tools (pg_dump, or pg_basebackup with WAL archiving), not ticketd backup")

// WriteTo refuses: see ErrNoBackup.
func (s *Store) WriteTo(io.Writer) (int64, error) { return 0, ErrNoBackup }

// Path names the database (host, port and database, no password).
func (s *Store) Path() string {
	c := s.pool.Config().ConnConfig
	return fmt.Sprintf("postgres://%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}
