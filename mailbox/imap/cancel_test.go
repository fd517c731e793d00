package imap_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ticketd/ticketd/mailbox/imap"
	"github.com/ticketd/ticketd/ticket"
)

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
	p := e.poller(t, imap.PostSeen, func(c *imap.Config) {
		c.BatchSize = 500
		c.Pipe.MaxBytes = 64 << 10 // throttle the fetch on the commits
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
