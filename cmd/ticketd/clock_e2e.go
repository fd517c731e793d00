//go:build e2eclock

package main

import (
	"os"
	"time"
)

// clock, in builds for the end-to-end tests only (go build -tags
// e2eclock), starts the rules' time at $TICKETD_TEST_NOW (RFC 3339) and
// lets it run from there, so a test can be on 추석 eve on any day. A
// release build has no such thing (clock_release.go).
func clock() func() time.Time {
	start, err := time.Parse(time.RFC3339, os.Getenv("TICKETD_TEST_NOW"))
	if err != nil {
		return nil
	}
	began := time.Now()
	return func() time.Time { return start.Add(time.Since(began)) }
}
