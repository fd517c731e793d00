package imap_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/ticketd/ticketd/mailbox/imap"
	"github.com/ticketd/ticketd/ticket/tickettest"
)

// logRec is a slog.Handler that keeps every record, for tests that check
// what was logged and how often.
type logRec struct {
	mu   sync.Mutex
	msgs []string // "LEVEL message err=..."
}

func (h *logRec) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRec) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRec) WithGroup(string) slog.Handler            { return h }
func (h *logRec) Handle(_ context.Context, r slog.Record) error {
	s := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			s += " err=" + a.Value.String()
		}
		return true
	})
	h.mu.Lock()
	h.msgs = append(h.msgs, s)
	h.mu.Unlock()
	return nil
}

// count is how many records contain sub.
func (h *logRec) count(sub string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.msgs {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

func (h *logRec) find(sub string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.msgs {
		if strings.Contains(m, sub) {
			return m
		}
	}
	return ""
}

func (h *logRec) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.msgs, "\n")
}

// watchRun is one Watch running in the background.
type watchRun struct {
	p        *imap.Poller
	log      *logRec
	triggers chan time.Time
	done     chan error
	cancel   context.CancelFunc
}

// startWatch runs Watch of the support mailbox at addr until the test
// ends; a zero opts.Restart is the configuration's 5m.
func startWatch(t *testing.T, e *env, addr string, opts imap.WatchOptions) *watchRun {
	t.Helper()
	w := &watchRun{log: &logRec{}, triggers: make(chan time.Time, 100), done: make(chan error, 1)}
	cfg := testConfig(addr)
	cfg.DialTimeout = 5 * time.Second
	if opts.Restart == 0 {
		opts.Restart = 5 * time.Minute
	}
	p, err := imap.NewPoller(cfg, e.svc, slog.New(tickettest.Watch(w.log)))
	if err != nil {
		t.Fatal(err)
	}
	w.p = p
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go func() {
		w.done <- p.Watch(ctx, opts, func() {
			select {
			case w.triggers <- time.Now():
			default:
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-w.done:
		case <-time.After(5 * time.Second):
			t.Error("Watch did not return within 5s of cancel")
		}
		if t.Failed() {
			t.Logf("watch log:\n%s", w.log)
		}
	})
	return w
}

// next waits for a trigger and returns how long it took.
func (w *watchRun) next(t *testing.T, within time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-w.triggers:
		return time.Since(start)
	case err := <-w.done:
		t.Fatalf("%s: Watch returned %v", what, err)
	case <-time.After(within):
		t.Fatalf("%s: no trigger within %v", what, within)
	}
	return 0
}

// drain empties the trigger channel.
func (w *watchRun) drain() {
	for {
		select {
		case <-w.triggers:
		default:
			return
		}
	}
}

// waitLog waits until a log line containing sub was written n times.
func (w *watchRun) waitLog(t *testing.T, sub string, n int, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); w.log.count(sub) < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("log %q seen %d times within %v, want %d", sub, w.log.count(sub), within, n)
		}
	}
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
	}
}

const watching = "imap idle: watching for new mail"

func TestWatchTriggersOnNewMail(t *testing.T) {
	e := newEnv(t, nil)
	w := startWatch(t, e, e.srv.IMAPAddr(), imap.WatchOptions{})
	w.next(t, 2*time.Second, "first trigger after connecting")
	w.waitLog(t, watching, 1, 2*time.Second)

	for i := 1; i <= 3; i++ {
		start := time.Now()
		if err := e.srv.Append("support@example.test", "INBOX", customerMail(i)); err != nil {
			t.Fatal(err)
		}
		select {
		case at := <-w.triggers:
			t.Logf("mail %d: triggered %v after the append began", i, at.Sub(start))
		case <-time.After(2 * time.Second):
			t.Fatalf("mail %d: no trigger within 2s", i)
		}
		st, err := w.p.Poll(context.Background())
		if err != nil || st.Fetched != 1 || st.NewTickets != 1 {
			t.Fatalf("poll after trigger %d: %+v %v", i, st, err)
		}
	}
	// The polls marked the mails \Seen: flag changes are no new mail.
	w.drain()
	select {
	case <-w.triggers:
		t.Error("triggered by a flag change")
	case <-time.After(300 * time.Millisecond):
	}
	if n := w.log.count("connection lost"); n != 0 {
		t.Errorf("connection lost logged %d times", n)
	}
}

func TestWatchRestartsIdle(t *testing.T) {
	e := newEnv(t, nil)
	px := newProxy(t, e.srv.IMAPAddr())
	w := startWatch(t, e, px.addr(), imap.WatchOptions{Restart: 300 * time.Millisecond})
	w.next(t, 2*time.Second, "first trigger")
	// Each restart ends IDLE with DONE (RFC 2177) and sends a NOOP.
	waitFor(t, "three IDLE restarts", 5*time.Second, func() bool { return px.dones.Load() >= 3 })
	w.drain()
	if err := e.srv.Append("support@example.test", "INBOX", customerMail(1)); err != nil {
		t.Fatal(err)
	}
	w.next(t, 2*time.Second, "trigger after restarts")
	waitFor(t, "two more restarts", 5*time.Second, func() bool { return px.dones.Load() >= 5 })
	if err := e.srv.Append("support@example.test", "INBOX", customerMail(2)); err != nil {
		t.Fatal(err)
	}
	w.next(t, 2*time.Second, "trigger after more restarts")
	if n := px.accepted.Load(); n != 1 {
		t.Errorf("%d connections, want 1: restarts must not reconnect", n)
	}
	if n, m := w.log.count(watching), w.log.count("connection lost"); n != 1 || m != 0 {
		t.Errorf("logged %q %d times and a lost connection %d times; want 1 and 0", watching, n, m)
	}
}

func TestWatchReconnectsAfterTheServerDrops(t *testing.T) {
	e := newEnv(t, nil)
	px := newProxy(t, e.srv.IMAPAddr())
	w := startWatch(t, e, px.addr(), imap.WatchOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	w.next(t, 2*time.Second, "first trigger")
	w.waitLog(t, watching, 1, 2*time.Second)

	// The server goes away: the connection is cut and new ones are refused.
	px.refuse.Store(true)
	px.cut()
	waitFor(t, "reconnect attempts", 5*time.Second, func() bool { return px.refused.Load() >= 5 })
	if n := w.log.count("connection lost"); n != 1 {
		t.Errorf("the outage was logged %d times, want once:\n%s", n, w.log)
	}
	if n := w.log.count("reconnect failed"); n < 4 {
		t.Errorf("%d failed reconnects logged at debug, want >= 4", n)
	}
	w.drain()

	// It is back: Watch reconnects, triggers (for mail that came meanwhile),
	// and watches again.
	if err := e.srv.Append("support@example.test", "INBOX", customerMail(1)); err != nil {
		t.Fatal(err)
	}
	px.refuse.Store(false)
	w.next(t, 2*time.Second, "trigger after reconnecting")
	w.waitLog(t, "imap idle: watching again", 1, 2*time.Second)
	w.drain()
	if err := e.srv.Append("support@example.test", "INBOX", customerMail(2)); err != nil {
		t.Fatal(err)
	}
	w.next(t, 2*time.Second, "trigger after recovery")
	if n := w.log.count("connection lost"); n != 1 {
		t.Errorf("connection lost logged %d times, want 1", n)
	}
}

func TestWatchStartsWhenTheServerComesUp(t *testing.T) {
	e := newEnv(t, nil)
	px := newProxy(t, e.srv.IMAPAddr())
	px.refuse.Store(true)
	w := startWatch(t, e, px.addr(), imap.WatchOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	waitFor(t, "connection attempts", 5*time.Second, func() bool { return px.refused.Load() >= 3 })
	px.refuse.Store(false)
	w.next(t, 2*time.Second, "trigger once connected")
	w.waitLog(t, watching, 1, 2*time.Second)
	if n, m := w.log.count("cannot start"), w.log.count("connection lost"); n != 1 || m != 0 {
		t.Errorf("logged \"cannot start\" %d times and \"connection lost\" %d times, want 1 and 0:\n%s", n, m, w.log)
	}
	if n := w.log.count("watching again"); n != 0 {
		t.Errorf("\"watching again\" logged %d times before it ever watched", n)
	}
}

func TestWatchNoticesADeadConnection(t *testing.T) {
	e := newEnv(t, nil)
	px := newProxy(t, e.srv.IMAPAddr())
	w := startWatch(t, e, px.addr(), imap.WatchOptions{Restart: 200 * time.Millisecond, CommandTimeout: 300 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	w.next(t, 2*time.Second, "first trigger")
	w.waitLog(t, watching, 1, 2*time.Second)

	// The connection goes silent both ways, as after a NAT timeout: no
	// error, no EOF. Only the restart's DONE/NOOP can tell.
	px.freeze()
	frozen := time.Now()
	// Expected within Restart + CommandTimeout (0.5s); the bound is loose
	// for a loaded machine. Should it ever hang, the stacks say where.
	for deadline := frozen.Add(10 * time.Second); w.log.count("connection lost") < 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("dead connection not noticed within 10s; goroutines:\n%s", buf[:runtime.Stack(buf, true)])
		}
	}
	t.Logf("dead connection noticed after %v", time.Since(frozen).Round(time.Millisecond))
	if m := w.log.find("connection lost"); !strings.Contains(m, "no answer within 300ms") {
		t.Errorf("lost connection logged as %q", m)
	}
	w.next(t, 2*time.Second, "trigger after reconnecting")
	w.waitLog(t, "imap idle: watching again", 1, 2*time.Second)
	w.drain()
	if err := e.srv.Append("support@example.test", "INBOX", customerMail(1)); err != nil {
		t.Fatal(err)
	}
	w.next(t, 2*time.Second, "trigger on the new connection")
	if n := px.accepted.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

func TestWatchStopsOnCancel(t *testing.T) {
	e := newEnv(t, nil)
	w := startWatch(t, e, e.srv.IMAPAddr(), imap.WatchOptions{})
	w.next(t, 2*time.Second, "first trigger")
	w.waitLog(t, watching, 1, 2*time.Second)
	start := time.Now()
	w.cancel()
	select {
	case err := <-w.done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Watch returned %v, want context.Canceled", err)
		}
		t.Logf("returned %v after cancel", time.Since(start))
	case <-time.After(time.Second):
		t.Fatal("Watch still running 1s after cancel")
	}
	w.done <- nil // for the cleanup
}

func TestWatchRetriesWhileTheServerIsDownAndStopsOnCancel(t *testing.T) {
	e := newEnv(t, nil)
	w := startWatch(t, e, e.srv.IMAPAddr(), imap.WatchOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond})
	w.next(t, 2*time.Second, "first trigger")
	w.waitLog(t, watching, 1, 2*time.Second)
	e.srv.Close()
	w.waitLog(t, "reconnect failed", 5, 5*time.Second)
	if n := w.log.count("connection lost"); n != 1 {
		t.Errorf("the outage was logged %d times at warn, want once", n)
	}
	if m := w.log.find("reconnect failed"); !strings.Contains(m, "connect") {
		t.Errorf("reconnect failure logged as %q", m)
	}
	start := time.Now()
	w.cancel()
	select {
	case err := <-w.done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Watch returned %v, want context.Canceled", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Watch still running 1s after cancel")
	}
	t.Logf("returned %v after cancel", time.Since(start))
	w.done <- nil
}

func TestWatchWithoutIdleReturnsNil(t *testing.T) {
	// imapserver always offers IDLE: the proxy hides it.
	e := newEnv(t, goimap.CapSet{goimap.CapIMAP4rev1: {}})
	px := newProxy(t, e.srv.IMAPAddr())
	px.noIdle.Store(true)
	w := startWatch(t, e, px.addr(), imap.WatchOptions{})
	select {
	case err := <-w.done:
		if err != nil {
			t.Errorf("Watch returned %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch still running against a server without IDLE")
	}
	w.done <- nil
	if w.log.count("not available on this server") != 1 {
		t.Errorf("log:\n%s", w.log)
	}
	if len(w.triggers) != 0 {
		t.Errorf("%d triggers from a server without IDLE", len(w.triggers))
	}
}

// proxy forwards TCP connections to an IMAP server and can cut them,
// refuse new ones, or make the current ones go silent.
type proxy struct {
	ln     net.Listener
	target string
	// refuse makes the proxy accept and at once close new connections.
	refuse atomic.Bool
	// noIdle removes IDLE from the server's capabilities.
	noIdle                   atomic.Bool
	accepted, refused, dones atomic.Int32

	mu    sync.Mutex
	conns []*proxyConn
}

type proxyConn struct {
	client, server net.Conn
	frozen         atomic.Bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.refuse.Load() {
			p.refused.Add(1)
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.accepted.Add(1)
		pc := &proxyConn{client: c, server: s}
		p.mu.Lock()
		p.conns = append(p.conns, pc)
		p.mu.Unlock()
		go p.pipe(pc, c, s, true)
		go p.pipe(pc, s, c, false)
	}
}

// pipe copies from to to, counting the client's DONEs; a frozen connection
// reads and drops everything.
func (p *proxy) pipe(pc *proxyConn, from, to net.Conn, fromClient bool) {
	defer from.Close()
	defer to.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if n > 0 {
			if fromClient {
				p.dones.Add(int32(bytes.Count(buf[:n], []byte("DONE\r\n"))))
			}
			out := buf[:n]
			if !fromClient && p.noIdle.Load() {
				out = bytes.ReplaceAll(out, []byte(" IDLE"), nil)
			}
			if !pc.frozen.Load() {
				if _, err := to.Write(out); err != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// cut closes every open connection.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pc := range p.conns {
		pc.client.Close()
		pc.server.Close()
	}
	p.conns = nil
}

// freeze makes the open connections drop everything, both ways, without
// closing them. New connections are not affected.
func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pc := range p.conns {
		pc.frozen.Store(true)
	}
}
