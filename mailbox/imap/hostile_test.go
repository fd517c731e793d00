package imap_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ticketd/ticketd/mailbox/hostile"
	"github.com/ticketd/ticketd/mailbox/imap"
	"github.com/ticketd/ticketd/ticket"
)

// hostileEnv is a store and service (from newEnv; its dev server unused)
// and a hostile IMAP server with n customer mails.
func hostileEnv(t *testing.T, n int, plan hostile.Plan) (*env, *hostile.Server) {
	t.Helper()
	e := newEnv(t, nil)
	var msgs [][]byte
	for i := 1; i <= n; i++ {
		msgs = append(msgs, customerMail(i))
	}
	h, err := hostile.Start(hostile.Options{Messages: msgs, Plan: plan, Lifetime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return e, h
}

// hostilePoller polls the hostile server with a short timeout.
func hostilePoller(t *testing.T, e *env, h *hostile.Server, log *slog.Logger, opts ...func(*imap.Config)) *imap.Poller {
	t.Helper()
	cfg := testConfig(h.Addr())
	cfg.Timeout, cfg.BatchSize = 300*time.Millisecond, 2
	for _, o := range opts {
		o(&cfg)
	}
	p, err := imap.NewPoller(cfg, e.svc, log)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func tickets(t *testing.T, e *env) []ticket.Ticket {
	t.Helper()
	var ts []ticket.Ticket
	if err := e.db.View(func(tx ticket.ReadTx) error {
		var err error
		ts, err = tx.Tickets(ticket.TicketFilter{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return ts
}

// A server that stops answering at any point of a poll (or a connection
// that went half-open) fails the poll within the timeout; the next poll
// reconnects and stores every mail once.
func TestPollStallIsTimedOut(t *testing.T) {
	for _, plan := range []hostile.Plan{
		{Stall: "LOGIN"},
		{Stall: "SELECT"},
		{Stall: "UID SEARCH"},
		{Stall: "UID FETCH"},                // the RFC822.SIZE fetch
		{Stall: "UID FETCH", StallAfter: 1}, // the first body fetch
		{Stall: "UID FETCH", StallAfter: 2}, // the second body fetch, after a post-action
		{Stall: "UID STORE"},
		{StallMidLiteral: 2},
	} {
		name := plan.Stall + fmt.Sprint(plan.StallAfter)
		if plan.StallMidLiteral != 0 {
			name = "mid-literal"
		}
		t.Run(name, func(t *testing.T) {
			e, h := hostileEnv(t, 3, plan)
			p := hostilePoller(t, e, h, nil)
			start := time.Now()
			_, err := p.Poll(context.Background())
			took := time.Since(start)
			if err == nil || !strings.Contains(err.Error(), "no answer from the server within 300ms") {
				t.Fatalf("stalled poll: err %v", err)
			}
			if took > 15*time.Second {
				t.Fatalf("the stalled poll took %v, want about the timeout (300ms)", took)
			}
			st, err := p.Poll(context.Background())
			if err != nil {
				t.Fatalf("next poll: %v", err)
			}
			if n := len(tickets(t, e)); n != 3 {
				t.Fatalf("%d tickets after the next poll (%+v), want 3", n, st)
			}
			for u := uint32(1); u <= 3; u++ {
				if len(h.Flags(u)) == 0 {
					t.Errorf("uid %d never marked seen", u)
				}
			}
		})
	}
}

// A cancelled poll (SIGTERM) returns at once, even while the server does
// not answer.
func TestPollCancelledWhileStalled(t *testing.T) {
	for _, stall := range []string{"SELECT", "UID FETCH"} {
		e, h := hostileEnv(t, 3, hostile.Plan{Stall: stall})
		p := hostilePoller(t, e, h, nil, func(c *imap.Config) { c.Timeout = time.Minute })
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		_, err := p.Poll(ctx)
		if !errors.Is(err, context.Canceled) || time.Since(start) > 10*time.Second {
			t.Fatalf("%s: cancelled poll returned %v after %v", stall, err, time.Since(start))
		}
	}
}

// A server that trickles a literal, each read bringing a little, is cut
// off by the literal's own deadline.
func TestSlowLiteralHasADeadline(t *testing.T) {
	e := newEnv(t, nil)
	slow := newSlowProxy(t, e.srv.IMAPAddr(), 40*time.Millisecond)
	e.srv.Append("support@example.test", "INBOX", customerMail(1))
	cfg := testConfig(slow)
	cfg.Timeout = 200 * time.Millisecond
	p, err := imap.NewPoller(cfg, e.svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = p.Poll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "literal was not read within its deadline") {
		t.Fatalf("trickled literal: %v (after %v)", err, time.Since(start))
	}
}

// newSlowProxy forwards to target, the server's side one byte every d
// once the first FETCH literal starts.
func newSlowProxy(t *testing.T, target string, d time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go func() {
				defer s.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						s.Write(buf[:n])
					}
					if err != nil {
						return
					}
				}
			}()
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				slow := false
				for {
					n, err := s.Read(buf)
					for i := 0; i < n; i++ {
						if !slow && i+5 <= n && string(buf[i:i+5]) == "BODY[" {
							slow = true
						}
						if slow {
							time.Sleep(d)
						}
						if _, err := c.Write(buf[i : i+1]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// A mail whose body is far larger than its RFC822.SIZE said, a mail the
// server refuses (NO) and one it leaves out are each handled once from
// their header, and the cursor moves past them: later polls do not stop
// there.
func TestUndownloadableMailsAreHandledOnce(t *testing.T) {
	e, h := hostileEnv(t, 5, hostile.Plan{
		SizeLie: map[uint32]int64{2: 300}, BodyLen: map[uint32]int64{2: 4 << 20},
		FetchNO: map[uint32]bool{3: true}, Omit: map[uint32]bool{4: true},
	})
	p := hostilePoller(t, e, h, nil, func(c *imap.Config) { c.MaxMessageBytes = 1 << 20; c.BatchSize = 10 })
	st, err := p.Poll(context.Background())
	if err != nil {
		t.Fatalf("poll: %v (%+v)", err, st)
	}
	ts := tickets(t, e)
	if len(ts) != 5 || st.Oversized != 3 {
		t.Fatalf("%d tickets, stats %+v: want 5 (two stored, three from their header)", len(ts), st)
	}
	notes := map[string]bool{}
	for _, tk := range ts {
		var ms []ticket.Message
		e.db.View(func(tx ticket.ReadTx) error { ms, _ = tx.Messages(tk.ID); return nil })
		for _, m := range ms {
			if m.Kind == ticket.KindNote {
				switch {
				case strings.Contains(m.Body, "최대 크기"):
					notes["lie"] = true
				case strings.Contains(m.Body, "본문을 보내 주지 않아 (\""):
					notes["no"] = true
				case strings.Contains(m.Body, "본문을 보내 주지 않아 머리글만"):
					notes["omit"] = true
				}
			}
		}
	}
	if len(notes) != 3 {
		t.Fatalf("notes %v, want the size lie, the refusal and the omission recorded", notes)
	}
	for u := uint32(1); u <= 5; u++ {
		if len(h.Flags(u)) == 0 {
			t.Errorf("uid %d not marked seen", u)
		}
	}
	before := len(h.Commands())
	if _, err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, c := range h.Commands()[before:] {
		if strings.HasPrefix(c, "UID FETCH") {
			t.Fatalf("the next poll fetched again: %q", c)
		}
	}
}

// A poll whose new mails are all over the size limit moves the cursor on:
// the next poll does not fetch their headers again.
func TestOversizedOnlyPollAdvancesCursor(t *testing.T) {
	e, h := hostileEnv(t, 2, hostile.Plan{BodyLen: map[uint32]int64{1: 2 << 20, 2: 3 << 20}})
	p := hostilePoller(t, e, h, nil, func(c *imap.Config) { c.MaxMessageBytes = 1 << 20 })
	for i := 0; i < 3; i++ {
		if _, err := p.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.Count("UID FETCH 1:2 (UID BODY.PEEK[HEADER])"); n != 1 {
		t.Fatalf("headers fetched %d times in 3 polls, want 1:\n%s", n, strings.Join(h.Commands(), "\n"))
	}
	if n := len(tickets(t, e)); n != 2 {
		t.Fatalf("%d tickets, want 2", n)
	}
}

// Literals the poller did not ask for, or larger than it reads, stream
// through without being held in memory: an unasked BODY[] in every
// RFC822.SIZE answer, and a 64 MiB BODY[HEADER].
func TestHostileLiteralsAreNotBuffered(t *testing.T) {
	const huge = 64 << 20
	e, h := hostileEnv(t, 2, hostile.Plan{Unsolicited: huge, BodyLen: map[uint32]int64{2: 2 << 20}, HeaderLen: map[uint32]int64{2: huge}})
	p := hostilePoller(t, e, h, nil, func(c *imap.Config) { c.MaxMessageBytes = 1 << 20; c.Timeout = 10 * time.Second })
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	st, err := p.Poll(context.Background())
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if st.NewTickets != 2 || st.Oversized != 1 {
		t.Fatalf("stats %+v, want two tickets, one from its header", st)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %.1f MiB while %d MiB of hostile literals streamed through", float64(alloc)/(1<<20), 3*huge>>20)
	if alloc > 32<<20 {
		t.Fatalf("allocated %.1f MiB: a hostile literal was read into memory", float64(alloc)/(1<<20))
	}
}

// The IDLE watch notices a server that stops answering when IDLE ends
// (DONE) or at the proving NOOP, and reconnects.
func TestWatchNoticesAStalledServer(t *testing.T) {
	for _, stall := range []string{"DONE", "NOOP", "EXAMINE"} {
		t.Run(stall, func(t *testing.T) {
			e, h := hostileEnv(t, 1, hostile.Plan{Stall: stall})
			w := startWatch(t, e, h.Addr(), imap.WatchOptions{Restart: 200 * time.Millisecond, CommandTimeout: 300 * time.Millisecond,
				MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
			start := time.Now()
			w.waitLog(t, "no answer within 300ms", 1, 10*time.Second)
			w.waitLog(t, watching, 1, 10*time.Second)
			if stall != "EXAMINE" {
				w.waitLog(t, "imap idle: watching again", 1, 10*time.Second)
			}
			t.Logf("%s stall noticed and the watch back after %v", stall, time.Since(start).Round(time.Millisecond))
		})
	}
}
