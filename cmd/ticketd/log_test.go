package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
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
	ctx, stop := signalContext(context.Background(), newLogger(&b, LogConfig{}, nil), nil)
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

// TestLogsMaskPersonalData: whatever a log line carries (its message, a
// string attribute, an error, inside a group), personal data is masked,
// at every level and in both formats.
func TestLogsMaskPersonalData(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var b bytes.Buffer
		log := newLogger(&b, LogConfig{Format: format, Level: "debug"}, nil)
		log.Debug("subject 주민번호 900101-1234568", "subject", "카드 4111-1111-1111-1111", "err", errors.New("rcpt 010-9876-5432 refused"))
		log.With(slog.Group("mail", "text", "계좌 신한은행 110-123-456789")).Error("x")
		out := b.String()
		for _, v := range []string{"1234568", "4111-1111-1111-1111", "9876", "123-456789"} {
			if strings.Contains(out, v) {
				t.Errorf("%s log holds %q:\n%s", format, v, out)
			}
		}
		if !strings.Contains(out, "900101-1******") || !strings.Contains(out, "010-****-5432") {
			t.Errorf("%s log lacks the masked values:\n%s", format, out)
		}
	}
}
