package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ticketd/ticketd/store"
	"github.com/ticketd/ticketd/store/postgres"
	"github.com/ticketd/ticketd/ticket"
)

// The data dir remembers that it had a database, in a small file beside
// it, so that a database gone missing (a restore cut short, a mistaken rm)
// is an error that names the backup to restore, never a new empty
// database that would fetch and acknowledge the whole mailbox again.

// stateFile is the name of that file in data_dir.
const stateFile = "ticketd.state"

// dataState is its content.
type dataState struct {
	// Created is when this data dir's database was created (or first
	// opened by a ticketd that keeps this file).
	Created time.Time `json:"created"`
	// LastBackup is the newest `ticketd backup`, if any.
	LastBackup *backupRecord `json:"last_backup,omitempty"`
}

type backupRecord struct {
	Path string    `json:"path"`
	At   time.Time `json:"at"`
}

func statePath(s *Settings) string { return filepath.Join(s.DataDir, stateFile) }

// readState returns the data dir's state; ok is false when it has none.
func readState(s *Settings) (dataState, bool, error) {
	var st dataState
	b, err := os.ReadFile(statePath(s))
	if errors.Is(err, os.ErrNotExist) {
		return st, false, nil
	} else if err != nil {
		return st, false, fmt.Errorf("data_dir: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, true, fmt.Errorf("data_dir: %s: %w", statePath(s), err)
	}
	return st, true, nil
}

// writeState replaces the data dir's state (temporary file, fsync,
// rename).
func writeState(s *Settings, st dataState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := statePath(s) + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, statePath(s))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("data_dir: %w", err)
	}
	return nil
}

// recordBackup notes a backup written to path in the data dir's state.
func recordBackup(s *Settings, path string) error {
	st, _, err := readState(s)
	if err != nil {
		return err
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	st.LastBackup = &backupRecord{Path: path, At: time.Now().UTC()}
	if st.Created.IsZero() {
		st.Created = st.LastBackup.At
	}
	return writeState(s, st)
}

// openStore opens the database of s. With create it may create one, but
// only in a data dir that never had one; a data dir whose database is
// gone (or empty) is an error naming the backups to restore. lockWait is
// how long it waits for another process that holds the database.
// sealDatabase encrypts, in place, the records a database with a key kept
// from before it had one, logging its progress; a crash resumes it at the
// next start. The plaintext stays in the file's free pages until compact
// (bbolt), in dead row versions until VACUUM (PostgreSQL).
func sealDatabase(ctx context.Context, db database, log *slog.Logger) error {
	if !db.NeedsSealing() {
		return nil
	}
	log.Warn("encrypting the database in place with privacy.key_file: records from before it, or of an old key, are sealed in batches", "db", db.Path())
	start, lastLog := time.Now(), time.Now()
	n, err := db.Seal(func(place string, sealed int) bool {
		if time.Since(lastLog) > 2*time.Second {
			log.Info("encrypting the database", "records", sealed, "in", place)
			lastLog = time.Now()
		}
		return ctx.Err() == nil
	})
	if err != nil {
		return fmt.Errorf("encrypt the database: %w (it resumes at the next start)", err)
	}
	drop := "run `ticketd compact` once (serve stopped) to drop what was left in free pages"
	if _, ok := db.(*postgres.Store); ok {
		drop = "run VACUUM FULL on the database to drop the old row versions (the WAL and backups taken before keep the plaintext)"
	}
	log.Warn("database encrypted with privacy.key_file; remove privacy.old_key_files if set, and "+drop,
		"records", n, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// database is what the daemon needs of its store: a ticket.Store, and the
// upkeep the store does itself. bbolt's store.DB and store/postgres's Store
// are two.
type database interface {
	ticket.Store
	Close() error
	// Secret is the signing secret the database keeps (created on first
	// use); OAuthState and PutOAuthState keep the OAuth tokens.
	Secret() ([]byte, error)
	OAuthState(name string) ([]byte, error)
	PutOAuthState(name string, data []byte) error
	// Damaged is what damage was met, or nil; Check looks for more.
	Damaged() error
	Check() error
	// SearchBuilt, Reindex and IndexPending keep the search index.
	SearchBuilt() (bool, error)
	Reindex(progress func(done, total int) bool) error
	IndexPending(limit int) (int, error)
	// WriteTo writes a consistent copy (a backup), Path names the
	// database, Encrypted says whether its records are encrypted.
	WriteTo(w io.Writer) (int64, error)
	Path() string
	Encrypted() bool
	// NeedsSealing says whether records from before the key, or of an
	// old key, are left; Seal encrypts them with the key (resumable).
	NeedsSealing() bool
	Seal(progress func(place string, sealed int) bool) (int, error)
}

var (
	_ database = (*store.DB)(nil)
	_ database = (*postgres.Store)(nil)
)

// openDatabase opens the store.driver's database: bbolt in data_dir (see
// openStore), or PostgreSQL, whose schema it migrates.
func openDatabase(s *Settings, create bool, lockWait time.Duration) (database, error) {
	if s.StoreDriver != "postgres" {
		return openStore(s, create, lockWait)
	}
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil { // the admin socket lives there
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(lockWait, 30*time.Second))
	defer cancel()
	db, err := postgres.Open(ctx, s.StoreDSN, &postgres.Options{IdleInTx: s.StoreLease, Key: s.Key, OldKeys: s.OldKeys})
	if err != nil {
		return nil, fmt.Errorf("store.dsn: %w", err)
	}
	return db, nil
}

// openStore opens the bbolt database in data_dir.
func openStore(s *Settings, create bool, lockWait time.Duration) (*store.DB, error) {
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	st, had, err := readState(s)
	if err != nil {
		return nil, err
	}
	fi, statErr := os.Stat(s.DBPath)
	missing := errors.Is(statErr, os.ErrNotExist) || (statErr == nil && fi.Size() == 0)
	switch {
	case missing && had:
		what := "is missing"
		if statErr == nil {
			what = "is empty (0 bytes)"
		}
		return nil, fmt.Errorf("the database %s %s, but this data dir had one (since %s): nothing was created, so no mail is fetched again. Restore the newest backup with `ticketd restore FILE`%s",
			s.DBPath, what, st.Created.Format(time.DateOnly), backupHint(s, st))
	case missing && !create:
		return nil, fmt.Errorf("there is no database in %s yet: run `ticketd init` (or start `ticketd serve`) to create it", s.DataDir)
	}
	db, err := store.Open(s.DBPath, &store.Options{Timeout: lockWait, MustExist: !missing, Key: s.Key, OldKeys: s.OldKeys})
	switch {
	case errors.Is(err, store.ErrLocked):
		return nil, fmt.Errorf("%w%s", err, holder(s.DBPath))
	case err != nil:
		return nil, err
	}
	if !had {
		// A new database, or one from before this file: from now on it
		// is expected to be there.
		if err := writeState(s, dataState{Created: time.Now().UTC()}); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// holder names the process that holds the database, when it is known.
func holder(path string) string {
	if pid, cmdline, ok := store.LockHolder(path); ok {
		if cmdline == "" {
			return fmt.Sprintf(" (held by process %d)", pid)
		}
		return fmt.Sprintf(" (held by process %d: %s)", pid, cmdline)
	}
	return ""
}

// backupHint lists the backups known: the last `ticketd backup` and the
// copies restore kept in the data dir.
func backupHint(s *Settings, st dataState) string {
	var names []string
	if st.LastBackup != nil {
		names = append(names, fmt.Sprintf("%s (the last backup, %s)", st.LastBackup.Path, st.LastBackup.At.Format(time.RFC3339)))
	}
	kept, _ := filepath.Glob(s.DBPath + ".before-restore-*")
	sort.Sort(sort.Reverse(sort.StringSlice(kept)))
	for _, k := range kept {
		names = append(names, k+" (kept by an earlier restore)")
	}
	if len(names) == 0 {
		return "; no backup of it is known here"
	}
	return ": " + strings.Join(names, "; or ")
}
