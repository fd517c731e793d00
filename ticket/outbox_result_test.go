package ticket_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ticketd/ticketd/ticket"
)

// scriptSender answers each Send with the next error of its script.
type scriptSender struct{ errs []error }

func (s *scriptSender) Send(context.Context, ticket.Outgoing) error {
	if len(s.errs) == 0 {
		return nil
	}
	err := s.errs[0]
	s.errs = s.errs[1:]
	return err
}

// OnResult hears every attempt: a temporary failure is "retry", an accepted
// mail "sent", a permanent refusal "failed".
func TestOutboxOnResult(t *testing.T) {
	svc, db := setup(t)
	ingest(t, svc, mail("kim@example.org", "문의", "r1@example.org"))
	ingest(t, svc, mail("lee@example.org", "문의", "r2@example.org"))
	if n := len(outbox(t, db)); n != 2 {
		t.Fatalf("%d queued, want the two acknowledgements", n)
	}
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	var got []string
	sender := &scriptSender{errs: []error{errors.New("421 try later"), nil, ticket.Permanent(errors.New("550 no such user"))}}
	w := ticket.NewOutbox(db, sender, ticket.OutboxConfig{
		Now:      func() time.Time { return now },
		OnResult: func(kind string) { got = append(got, kind) },
	}, nil)
	// First flush: the first mail fails for now, the second is sent.
	if _, _, _, err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour) // past any backoff
	if _, _, _, err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []string{"retry", "sent", "failed"}; !slices.Equal(got, want) {
		t.Fatalf("OnResult got %v, want %v", got, want)
	}
	if n := len(outbox(t, db)); n != 0 {
		t.Fatalf("%d left in the outbox, want 0", n)
	}
}
