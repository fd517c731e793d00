package main

import (
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// A job that panics every time keeps its schedule (with the chain in the
// other order, robfig/cron#366 stops it after the first panic), and a job
// still running is skipped at its next ticks rather than started again.
func TestSchedulerSurvivesPanicsAndNeverOverlaps(t *testing.T) {
	c := newScheduler(time.UTC, slog.New(slog.DiscardHandler))
	var panics, slowRuns atomic.Int32
	release := make(chan struct{})
	c.AddFunc("@every 1s", func() { panics.Add(1); panic("boom") })
	c.AddFunc("@every 1s", func() {
		slowRuns.Add(1)
		<-release // still running at every later tick until released
	})
	c.Start()
	defer func() { <-c.Stop().Done() }()
	deadline := time.Now().Add(30 * time.Second)
	for panics.Load() < 3 {
		if time.Now().After(deadline) {
			close(release)
			t.Fatalf("panicking job ran %d times in 30 s; the schedule stopped after a panic", panics.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// At least three ticks have passed; the blocked job started once only.
	if n := slowRuns.Load(); n != 1 {
		t.Errorf("blocked job started %d times, want 1 (later ticks skipped)", n)
	}
	close(release)
}
