package postgres

import (
	"context"
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
		st, err := Open(context.Background(), freshDSN(t), 0)
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
	var stores []*Store
	for range nodes {
		st, err := Open(context.Background(), dsn, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		stores = append(stores, st)
	}
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
