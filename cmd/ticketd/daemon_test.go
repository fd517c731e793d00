package main

import (
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// A job that panics every time keeps its schedule (robfig/cron#366 would
// stop it after the first panic with the chain in the other order), and a
// slow job is not started again while it runs.
func TestSchedulerSurvivesPanicsAndNeverOverlaps(t *testing.T) {
	c := newScheduler(time.UTC, slog.New(slog.DiscardHandler))
	var panics, slowRuns, running, overlaps atomic.Int32
	c.AddFunc("@every 1s", func() { panics.Add(1); panic("boom") })
	c.AddFunc("@every 1s", func() {
		if running.Add(1) > 1 {
			overlaps.Add(1)
		}
		slowRuns.Add(1)
		time.Sleep(2500 * time.Millisecond)
		running.Add(-1)
	})
	c.Start()
	time.Sleep(3500 * time.Millisecond)
	<-c.Stop().Done()
	if panics.Load() < 2 {
		t.Errorf("panicking job ran %d times in 3.5 s, want at least 2", panics.Load())
	}
	// It started at the 1 s tick and ran until 3.5 s: the 2 s and 3 s ticks
	// must have been skipped.
	if overlaps.Load() != 0 || slowRuns.Load() != 1 {
		t.Errorf("slow job: %d runs, %d overlaps; want 1 run, none overlapping", slowRuns.Load(), overlaps.Load())
	}
}
