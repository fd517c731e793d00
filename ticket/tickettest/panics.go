package tickettest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
)

// InjectedPanic is the value of the panics tests cause on purpose
// (FlakyStore.PanicOn); Main lets a panic logged with it pass.
const InjectedPanic = "tickettest: injected panic"

// Main runs the tests of a package whose code recovers panics (a mail, a
// connection, a goroutine: each panic boundary logs the panic at Error
// with a "panic" attribute). A recovered panic would otherwise leave the
// tests green; Main fails the run when one was logged, other than an
// InjectedPanic, and prints each with its stack. Call it from TestMain:
//
//	func TestMain(m *testing.M) { tickettest.Main(m) }
//
// It installs its handler as slog's default, where the code logs when it
// was given no logger; a test that logs elsewhere wraps its handler in
// [Watch]. The default handler drops every other record.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit: it returns the exit code, for a TestMain
// that has something to stop after the tests.
func Run(m *testing.M) int {
	w := &panicWatch{shared: &panicLog{}}
	slog.SetDefault(slog.New(w))
	code := m.Run()
	if seen := w.shared.list(); len(seen) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d panic(s) recovered and logged during the tests:\n\n%s\n", len(seen), strings.Join(seen, "\n\n"))
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Watch returns h, also reporting the panics logged through it to Main's
// watch (when Main runs the tests).
func Watch(h slog.Handler) slog.Handler {
	w, ok := slog.Default().Handler().(*panicWatch)
	if !ok {
		return h
	}
	return &panicWatch{shared: w.shared, next: h}
}

// panicLog is what a watch saw.
type panicLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *panicLog) add(s string) {
	l.mu.Lock()
	l.seen = append(l.seen, s)
	l.mu.Unlock()
}

func (l *panicLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.seen...)
}

// panicWatch records the records that carry a "panic" attribute and
// passes every record to next, if any.
type panicWatch struct {
	shared *panicLog
	next   slog.Handler
	attrs  []slog.Attr
}

func (w *panicWatch) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError || w.next != nil && w.next.Enabled(ctx, l)
}

func (w *panicWatch) Handle(ctx context.Context, r slog.Record) error {
	var value, stack string
	found := false
	look := func(a slog.Attr) bool {
		switch a.Key {
		case "panic":
			found, value = true, a.Value.String()
		case "stack":
			stack = a.Value.String()
		}
		return true
	}
	for _, a := range w.attrs {
		look(a)
	}
	r.Attrs(look)
	if found && !strings.Contains(value, InjectedPanic) {
		w.shared.add(fmt.Sprintf("%s: %s\n%s", r.Message, value, stack))
	}
	if w.next != nil && w.next.Enabled(ctx, r.Level) {
		return w.next.Handle(ctx, r)
	}
	return nil
}

func (w *panicWatch) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *w
	c.attrs = append(append([]slog.Attr(nil), w.attrs...), attrs...)
	if w.next != nil {
		c.next = w.next.WithAttrs(attrs)
	}
	return &c
}

func (w *panicWatch) WithGroup(name string) slog.Handler {
	c := *w
	if w.next != nil {
		c.next = w.next.WithGroup(name)
	}
	return &c
}
