//go:build !e2eclock

package main

import "time"

// clock is the time the daemon's rules use: the real one. (Builds with the
// e2eclock tag, for the end-to-end tests only, can start it elsewhere.)
func clock() func() time.Time { return nil }
