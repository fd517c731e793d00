package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ticketd/ticketd/store/storetest"
	"github.com/ticketd/ticketd/ticket"
	"github.com/ticketd/ticketd/ticket/tickettest"
)

// The PostgreSQL store keeps the contract of every ticket.Store.
func TestContract(t *testing.T) {
	storetest.Run(t, storetest.Options{Open: func(t *testing.T) ticket.Store {
		st, err := Open(context.Background(), freshDSN(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}})
}

// Four nodes (a Store each) ingest the same 40 mails at the same time:
// each mail is stored once, on one ticket, with one acknowledgement
// queued; the conflicts are PostgreSQL's serialization failures, which
// Update runs again.
func TestNodesIngestTheSameMailOnce(t *testing.T) {
	dsn := freshDSN(t)
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	const nodes, mails = 4, 40
	stores := openNodes(t, dsn, nodes)
	var wg sync.WaitGroup
	errs := make(chan error, nodes*mails)
	for n, st := range stores {
		svc := tickettest.Service(t, st, ticket.Config{
			Support: ticket.Address{Email: "support@example.test"}, Domain: "example.test",
			Hours: tickettest.Hours(time.FixedZone("KST", 9*3600)), Now: func() time.Time { return now },
			Signer: tickettest.Signer(), NoNotify: true, AutoMinInterval: -1,
		})
		wg.Go(func() {
			for i := range mails {
				j := (i + n*7) % mails // each node in its own order
				m := &ticket.Mail{From: ticket.Address{Email: fmt.Sprintf("c%d@example.org", j)}, To: []ticket.Address{{Email: "support@example.test"}},
					Subject: fmt.Sprintf("문의 %d", j), MessageID: fmt.Sprintf("<same-%d@example.org>", j), Text: "본문\n", Headers: map[string]string{}}
				if _, err := svc.Ingest(ticket.Incoming{Mail: m, Raw: []byte(fmt.Sprintf("raw %d", j)), Source: fmt.Sprintf("node %d", n)}); err != nil {
					errs <- fmt.Errorf("node %d mail %d: %w", n, j, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var tickets []ticket.Ticket
	var queued []ticket.Outgoing
	if err := stores[0].View(func(tx ticket.ReadTx) error {
		var err error
		if tickets, err = tx.Tickets(ticket.TicketFilter{}); err != nil {
			return err
		}
		queued, err = tx.Outbox()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	subjects := map[string]int{}
	for _, tk := range tickets {
		subjects[tk.Subject]++
	}
	if len(tickets) != mails || len(subjects) != mails || len(queued) != mails {
		t.Fatalf("%d tickets (%d distinct subjects), %d acknowledgements queued; want %d of each", len(tickets), len(subjects), len(queued), mails)
	}
	var conflicts int64
	for _, st := range stores {
		conflicts += st.Conflicts()
	}
	t.Logf("%d nodes x %d mails: %d tickets, %d acknowledgements, %d transactions run again after a conflict", nodes, mails, len(tickets), len(queued), conflicts)
}

// A node listening on the outbox hears of mail another node queued, when
// that node's transaction commits (not before, and not for a rollback).
func TestListenOutbox(t *testing.T) {
	dsn := freshDSN(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	woken := make(chan struct{}, 10)
	go b.ListenOutbox(ctx, func() { woken <- struct{}{} })
	time.Sleep(300 * time.Millisecond) // LISTEN is in place
	queue := func(fail bool) error {
		return a.Update(func(tx ticket.Tx) error {
			o := ticket.Outgoing{MessageID: "<n@example.org>", To: []ticket.Address{{Email: "kim@example.org"}}, Text: "x"}
			if err := tx.Enqueue(&o); err != nil {
				return err
			}
			if fail {
				return errors.New("rolled back")
			}
			return nil
		})
	}
	if err := queue(true); err == nil {
		t.Fatal("the failing Update committed")
	}
	select {
	case <-woken:
		t.Fatal("woken by a rolled-back transaction")
	case <-time.After(500 * time.Millisecond):
	}
	start := time.Now()
	if err := queue(false); err != nil {
		t.Fatal(err)
	}
	select {
	case <-woken:
		t.Logf("woken %v after the commit", time.Since(start).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("not woken by mail another node queued")
	}
}

// countingSender accepts every mail after a short exchange and counts
// the sends of each.
type countingSender struct {
	mu   sync.Mutex
	sent map[uint64]int
}

func (s *countingSender) Send(_ context.Context, o ticket.Outgoing, ready func() error) ([]ticket.Refusal, error) {
	time.Sleep(2 * time.Millisecond) // the exchange before the end of the data
	if err := ready(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.sent[o.ID]++
	s.mu.Unlock()
	return nil, nil
}

// Two nodes' outboxes (4 connections each) flush one queue of 300 mails
// at the same time: each mail is sent once, by one of them, and the queue
// ends empty; the claims skip a mail the other node is claiming
// (LockOutgoing) instead of failing on it.
func TestNodesShareTheOutbox(t *testing.T) {
	dsn := freshDSN(t)
	const mails, nodes = 300, 2
	stores := openNodes(t, dsn, nodes)
	if err := stores[0].Update(func(tx ticket.Tx) error {
		for i := range mails {
			o := ticket.Outgoing{MessageID: fmt.Sprintf("<o%d@example.test>", i), To: []ticket.Address{{Email: fmt.Sprintf("c%d@example.org", i)}}, Text: "접수되었습니다."}
			if err := tx.Enqueue(&o); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sender := &countingSender{sent: map[uint64]int{}}
	var wg sync.WaitGroup
	var sentBy [nodes]int
	for n, st := range stores {
		w := tickettest.Outbox(t, st, sender, ticket.OutboxConfig{Connections: 4})
		wg.Go(func() {
			for range 5 { // until the queue is empty
				sent, failed, _, err := w.Flush(context.Background())
				if err != nil || failed > 0 {
					t.Errorf("node %d: flush: %d failed, %v", n, failed, err)
					return
				}
				sentBy[n] += sent
			}
		})
	}
	wg.Wait()
	twice := 0
	for _, c := range sender.sent {
		if c > 1 {
			twice++
		}
	}
	var left []ticket.Outgoing
	if err := stores[0].View(func(tx ticket.ReadTx) error {
		var err error
		left, err = tx.Outbox()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(sender.sent) != mails || twice != 0 || len(left) != 0 {
		t.Fatalf("%d of %d mails sent, %d more than once, %d left in the queue", len(sender.sent), mails, twice, len(left))
	}
	t.Logf("%d mails: node A sent %d, node B %d, none twice; %d transactions run again after a conflict",
		mails, sentBy[0], sentBy[1], stores[0].Conflicts()+stores[1].Conflicts())
}

// LockOutgoing skips, without waiting, a mail another node's transaction
// holds, and returns it once that transaction has ended. (The
// transactions of one Store run one at a time.)
func TestLockOutgoingSkipsAHeldMail(t *testing.T) {
	nodes := openNodes(t, freshDSN(t), 2)
	st, other := nodes[0], nodes[1]
	var id uint64
	if err := st.Update(func(tx ticket.Tx) error {
		o := ticket.Outgoing{MessageID: "<l@example.test>", To: []ticket.Address{{Email: "kim@example.org"}}, Text: "x"}
		err := tx.Enqueue(&o)
		id = o.ID
		return err
	}); err != nil {
		t.Fatal(err)
	}
	lock := func() error {
		return st.Update(func(tx ticket.Tx) error {
			_, err := tx.(ticket.OutgoingLocker).LockOutgoing(id)
			return err
		})
	}
	held, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- other.Update(func(tx ticket.Tx) error {
			if _, err := tx.(ticket.OutgoingLocker).LockOutgoing(id); err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	start := time.Now()
	if err := lock(); !errors.Is(err, ticket.ErrNotFound) || time.Since(start) > time.Second {
		t.Fatalf("a mail another transaction holds: %v after %v, want ErrNotFound at once", err, time.Since(start))
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := lock(); err != nil {
		t.Fatalf("the mail once released: %v", err)
	}
}

// openNodes opens n Stores on dsn, as n nodes would; they are closed when
// the test ends.
func openNodes(t *testing.T, dsn string, n int) []*Store {
	t.Helper()
	var stores []*Store
	for range n {
		st, err := Open(context.Background(), dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		stores = append(stores, st)
	}
	return stores
}
