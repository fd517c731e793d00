package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Check opens path read-only and verifies it is a ticketd database of this
// schema with a consistent page structure (bbolt's own check), and that key
// opens it when it is encrypted (nil: it must not be).
func Check(path string, key []byte) error {
	db, err := Open(path, &Options{ReadOnly: true, Timeout: time.Second, Key: key})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Check()
}

// Restore replaces the database at dst with the backup at src, which is
// checked first. It is safe against a crash at any point: the backup is
// copied and fsynced beside dst, the old file is kept as
// dst.before-restore-TIME (a hard link, so dst never goes missing), and one
// atomic rename puts the copy in place. No process may have dst open. key
// is the database's key (nil: none): a backup it does not open is refused.
func Restore(src, dst string, key []byte) (kept string, err error) {
	if err := Check(src, key); err != nil {
		return "", err
	}
	tmp := dst + ".restore.tmp"
	if err := copyFile(src, tmp); err != nil {
		return "", err
	}
	if err := Check(tmp, key); err != nil { // what was written, not just what was read
		os.Remove(tmp)
		return "", err
	}
	if _, err := os.Stat(dst); err == nil {
		// Take the lock to be sure no daemon has it open.
		// (A key error comes after the lock was taken: no daemon has it.)
		db, err := Open(dst, &Options{Timeout: time.Second, MustExist: true, Key: key})
		if err != nil && !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrNoDatabase) && !errors.Is(err, ErrWrongKey) && !errors.Is(err, ErrKeyRequired) {
			os.Remove(tmp)
			return "", err
		}
		if db != nil {
			db.Close()
		}
		kept = dst + ".before-restore-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Link(dst, kept); err != nil {
			os.Remove(tmp)
			return "", fmt.Errorf("store: restore: keep the old database: %w", err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return kept, fmt.Errorf("store: restore: %w", err)
	}
	return kept, syncDir(filepath.Dir(dst))
}

// Compact rewrites the database at path into a new file without its free
// pages (bbolt never shrinks a file by itself), and swaps it in. No process
// may have path open. It returns the sizes before and after. key is the
// database's key (nil: none); the records are copied as they are stored,
// so compacting an encrypted database after Seal drops the plaintext that
// was left in its free pages.
func Compact(path string, key []byte) (before, after int64, err error) {
	src, err := Open(path, &Options{Timeout: time.Second, Key: key})
	if err != nil {
		return 0, 0, err
	}
	defer src.Close()
	st, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	tmp := path + ".compact.tmp"
	os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return 0, 0, fmt.Errorf("store: compact: %w", err)
	}
	if err := bolt.Compact(dst, src.bolt, 64<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return 0, 0, fmt.Errorf("store: compact: %w", err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return 0, 0, fmt.Errorf("store: compact: %w", err)
	}
	if err := Check(tmp, key); err != nil {
		os.Remove(tmp)
		return 0, 0, err
	}
	nst, err := os.Stat(tmp)
	if err != nil {
		return 0, 0, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, 0, fmt.Errorf("store: compact: %w", err)
	}
	return st.Size(), nst.Size(), syncDir(filepath.Dir(path))
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return fmt.Errorf("store: copy %s: %w", src, err)
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("store: sync %s: %w", dir, err)
	}
	return nil
}
