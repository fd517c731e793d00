package mailbox_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/ticket"
	"github.com/ticketd/ticketd/ticket/tickettest"
)

// env is a service on a store that fails on demand.
type env struct {
	db  *tickettest.FlakyStore
	svc *ticket.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	fs := &tickettest.FlakyStore{DB: tickettest.DB(t)}
	return &env{db: fs, svc: tickettest.Service(t, fs, ticket.Config{})}
}

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
	e := newEnv(t)
	var mails [][]byte
	for i := range 60 { // the parsed mails fit in the pipe while the first commit is held
		mails = append(mails, tickettest.CustomerMail(1000+i))
	}
	before := e.db.Updates.Load()
	// Batches of 20 mails by bytes.
	done := pipeRun(t, e, mailbox.PipeOptions{Workers: 4, BatchBytes: int64(20 * len(mails[0]))}, mails).Done
	commits := e.db.Updates.Load() - before
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
			e := newEnv(t)
			var mails [][]byte
			for i := range 10 {
				mails = append(mails, tickettest.CustomerMail(2000+i))
			}
			mails = append(mails, []byte("this is not a mail at all\x00"))
			if fault == "fail" {
				e.db.FailOn.Store("question 2005")
			} else {
				e.db.PanicOn.Store("question 2005")
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
	e := newEnv(t)
	hold := make(chan struct{})
	p := mailbox.NewHeldPipe(e.svc, mailbox.PipeOptions{MaxBytes: 1000}, nil, func() { <-hold })
	ctx := context.Background()
	raw := tickettest.CustomerMail(1)
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
