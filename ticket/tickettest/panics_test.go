package tickettest

import (
	"log/slog"
	"strings"
	"testing"
)

// The watch keeps the records with a "panic" attribute, in the record or
// in the logger's attributes, except injected ones, and passes every
// record on to the handler it wraps.
func TestPanicWatch(t *testing.T) {
	w := &panicWatch{shared: &panicLog{}}
	var next strings.Builder
	log := slog.New(&panicWatch{shared: w.shared, next: slog.NewTextHandler(&next, nil)})
	log.Info("fine")
	log.Error("poll failed", "err", "timeout")
	log.Error("ingest: panic while reading a mail", "panic", "index out of range", "stack", "goroutine 7")
	log.With("panic", "nil map").Error("outbox: panic")
	log.Error("ingest: panic while storing a mail", "panic", InjectedPanic)
	seen := w.shared.list()
	if len(seen) != 2 || !strings.Contains(seen[0], "index out of range\ngoroutine 7") || !strings.Contains(seen[1], "nil map") {
		t.Errorf("seen %q, want the two real panics with their stacks", seen)
	}
	if n := strings.Count(next.String(), "\n"); n != 5 {
		t.Errorf("passed on %d records, want 5:\n%s", n, next.String())
	}
}
