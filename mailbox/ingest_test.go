package mailbox_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/ticket"
)

// pipeRun feeds mails through a Pipe whose first commit is held until every
// mail is parsed, and returns what it committed, in order.
func pipeRun(t *testing.T, e *env, opt mailbox.PipeOptions, mails [][]byte) mailbox.Committed {
	t.Helper()
	var parsed sync.WaitGroup
	parsed.Add(len(mails))
	var once sync.Once
	p := mailbox.NewHeldPipe(e.svc, opt, parsed.Done, func() { once.Do(parsed.Wait) })
	ctx := context.Background()
	for i, raw := range mails {
		if err := p.Reserve(ctx, int64(len(raw))); err != nil {
			t.Fatal(err)
		}
		p.Submit(&mailbox.Job{Raw: raw, UID: uint32(i), In: ticket.Incoming{Source: fmt.Sprint("mail ", i)}}, int64(len(raw)))
	}
	p.Close()
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	return p.Take()
}

func TestPipeCommitsInOrderAndInBatches(t *testing.T) {
	e := newEnv(t, nil)
	var mails [][]byte
	for i := range 60 { // the parsed mails fit in the pipe while the first commit is held
		mails = append(mails, customerMail(1000+i))
	}
	before := e.db.updates.Load()
	// Batches of 20 mails by bytes.
	done := pipeRun(t, e, mailbox.PipeOptions{Workers: 4, BatchBytes: int64(20 * len(mails[0]))}, mails).Done
	commits := e.db.updates.Load() - before
	if len(done) != 60 {
		t.Fatalf("%d mails done, want 60", len(done))
	}
	for i, uid := range done {
		if uid != uint32(i) {
			t.Fatalf("mail %d committed in place %d: the pipe must keep the order", uid, i)
		}
	}
	// The first commit holds what was parsed when it began (1 to 20
	// mails); the rest, all parsed by then, go in batches of 20.
	if commits < 3 || commits > 4 {
		t.Fatalf("%d transactions for 60 mails, want 3 or 4 (batches of up to 20)", commits)
	}
	var n int
	e.db.View(func(tx ticket.ReadTx) error {
		l, _ := tx.Tickets(ticket.TicketFilter{})
		n = len(l)
		return nil
	})
	if n != 60 {
		t.Fatalf("%d tickets, want 60", n)
	}
	t.Logf("60 mails in %d transactions", commits)
}

func TestPipeBatchWithABadMailStoresTheOthers(t *testing.T) {
	for _, fault := range []string{"fail", "panic"} {
		t.Run(fault, func(t *testing.T) {
			e := newEnv(t, nil)
			var mails [][]byte
			for i := range 10 {
				mails = append(mails, customerMail(2000+i))
			}
			mails = append(mails, []byte("this is not a mail at all\x00"))
			if fault == "fail" {
				e.db.failOn.Store("question 2005")
			} else {
				e.db.panicOn.Store("question 2005")
			}
			c := pipeRun(t, e, mailbox.PipeOptions{Workers: 2}, mails)
			done := c.Done
			if len(done) != 11 {
				t.Fatalf("%d mails done, want 11", len(done))
			}
			var q []ticket.Rejected
			var tickets []ticket.Ticket
			e.db.View(func(tx ticket.ReadTx) error {
				q, _ = tx.Rejected()
				tickets, _ = tx.Tickets(ticket.TicketFilter{})
				return nil
			})
			if len(tickets) != 9 || len(q) != 2 {
				t.Fatalf("%d tickets and %d quarantined, want 9 and 2 (the faulty mail and the non-mail)", len(tickets), len(q))
			}
			for i, uid := range done {
				if uid != uint32(i) {
					t.Fatalf("mail %d committed in place %d", uid, i)
				}
			}
			if !slices.Equal(c.Rejected, []uint32{5, 10}) {
				t.Fatalf("quarantined %v, want mails 5 and 10", c.Rejected)
			}
		})
	}
}

func TestPipeBoundsBytesInFlight(t *testing.T) {
	e := newEnv(t, nil)
	hold := make(chan struct{})
	p := mailbox.NewHeldPipe(e.svc, mailbox.PipeOptions{MaxBytes: 1000}, nil, func() { <-hold })
	ctx := context.Background()
	raw := customerMail(1)
	n := int64(600)
	if err := p.Reserve(ctx, n); err != nil {
		t.Fatal(err)
	}
	p.Submit(&mailbox.Job{Raw: raw, UID: 1}, n)
	// 600 + 600 is over the bound: the second waits until the first is
	// committed.
	got := make(chan error, 1)
	go func() { got <- p.Reserve(ctx, n) }()
	select {
	case err := <-got:
		t.Fatalf("second reservation passed the bound (err %v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(hold)
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second reservation still waiting after the first mail was committed")
	}
	p.Release(n)
	// A mail over the bound on its own is let in when nothing is in flight.
	if err := p.Reserve(ctx, 5000); err != nil {
		t.Fatal(err)
	}
	p.Release(5000)
	// A cancelled wait returns the context's error.
	if err := p.Reserve(ctx, 600); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := p.Reserve(cctx, 600); err != context.DeadlineExceeded {
		t.Fatalf("reservation over the bound with a cancelled context: %v", err)
	}
	p.Release(600)
	p.Close()
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestPollCancelledMidFetch stops a poll in the middle of a long UID FETCH:
// Poll must return promptly (closing the connection while the client's
// reader waits to hand over the next message once hung it), and the next
// poll must take the rest, each mail once.
func TestPollCancelledMidFetch(t *testing.T) {
	e := newEnv(t, nil)
	const n = 300
	pad := strings.Repeat("문의 내용입니다. ", 1000) // ~25 KB per mail
	for i := range n {
		raw := strings.Replace(string(customerMail(3000+i)), "\r\n\r\n", "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+pad+"\r\n", 1)
		e.srv.Append("support@example.test", "INBOX", []byte(raw))
	}
	p := e.poller(t, mailbox.PostSeen, func(c *mailbox.IMAPConfig) {
		c.BatchSize = 500
		c.Pipe = mailbox.PipeOptions{MaxBytes: 64 << 10} // throttle the fetch on the commits
	})
	tickets := func() int {
		var l []ticket.Ticket
		e.db.View(func(tx ticket.ReadTx) error { l, _ = tx.Tickets(ticket.TicketFilter{}); return nil })
		return len(l)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for tickets() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	st, err := p.Poll(ctx)
	took := time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled poll: %v after %d mails, want context.Canceled", err, st.Fetched)
	}
	if took > 5*time.Second {
		t.Fatalf("cancelled poll took %v to return", took)
	}
	if st.Fetched >= n {
		t.Fatalf("the poll stored all %d mails before it was cancelled: the test proves nothing", n)
	}
	t.Logf("cancelled after %d of %d mails, returned in %v", st.Fetched, n, took)
	st2, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := tickets(); got != n || st2.Duplicates != 0 {
		t.Fatalf("after a second poll: %d tickets (want %d), %d duplicates", got, n, st2.Duplicates)
	}
}
