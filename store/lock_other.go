//go:build !linux

package store

// LockHolder is not known here.
func LockHolder(path string) (pid int, cmdline string, ok bool) { return 0, "", false }
