package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestLogTimesAndDurations: logs carry the configured zone's time with its
// offset, and JSON durations in seconds.
func TestLogTimesAndDurations(t *testing.T) {
	seoul := time.FixedZone("KST", 9*3600)
	var b bytes.Buffer
	newLogger(&b, LogConfig{Format: "json"}, seoul).Info("poll done", "took", 31*time.Millisecond)
	out := b.String()
	if !strings.Contains(out, `"took_s":0.031`) || !strings.Contains(out, "+09:00") {
		t.Errorf("json log: %s", out)
	}
	b.Reset()
	newLogger(&b, LogConfig{}, seoul).Info("poll done", "took", 31*time.Millisecond)
	if out := b.String(); !strings.Contains(out, "took=31ms") || !strings.Contains(out, "+09:00") {
		t.Errorf("text log: %s", out)
	}
}

// TestSIGHUPIsAnswered: SIGHUP neither stops ticketd nor passes in
// silence: it logs that reloading is not supported.
func TestSIGHUPIsAnswered(t *testing.T) {
	var b lockedWriter
	ctx, stop := signalContext(context.Background(), newLogger(&b, LogConfig{}, nil))
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(b.String(), "SIGHUP: reloading is not supported") {
		if time.Now().After(deadline) {
			t.Fatalf("no word on SIGHUP: %q", b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ctx.Err() != nil {
		t.Error("SIGHUP stopped ticketd")
	}
}

// lockedWriter is a bytes.Buffer safe for a logger in another goroutine.
type lockedWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
