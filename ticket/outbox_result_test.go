package ticket_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketd/ticketd/store"
	"github.com/ticketd/ticketd/ticket"
	"github.com/ticketd/ticketd/ticket/tickettest"
)

// scriptSender answers each Send with the next error of its script.
type scriptSender struct{ errs []error }

func (s *scriptSender) Send(_ context.Context, _ ticket.Outgoing, ready func() error) ([]ticket.Refusal, error) {
	if len(s.errs) == 0 {
		return nil, ready()
	}
	err := s.errs[0]
	s.errs = s.errs[1:]
	if err == nil {
		err = ready()
	}
	return nil, err
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
	w := tickettest.Outbox(t, db, sender, ticket.OutboxConfig{
		Now:      func() time.Time { return now },
		OnResult: func(kind string) { got = append(got, kind) },
	})
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

// rcptSender refuses recipients as told and fails every mail with fail.
type rcptSender struct {
	refuse map[string]ticket.Refusal
	fail   error
	sent   []ticket.Outgoing
}

func (s *rcptSender) Send(_ context.Context, o ticket.Outgoing, ready func() error) ([]ticket.Refusal, error) {
	if s.fail != nil {
		return nil, s.fail
	}
	var refused []ticket.Refusal
	n := 0
	for _, a := range append(append([]ticket.Address(nil), o.To...), o.Cc...) {
		if r, ok := s.refuse[a.Email]; ok {
			r.Email = a.Email
			refused = append(refused, r)
		} else {
			n++
		}
	}
	if n == 0 {
		return refused, ticket.Permanent(errors.New("every recipient was refused"))
	}
	if err := ready(); err != nil {
		return nil, err
	}
	s.sent = append(s.sent, o)
	return refused, nil
}

func suppressions(t *testing.T, db interface {
	View(func(ticket.ReadTx) error) error
}) []string {
	t.Helper()
	var out []string
	db.View(func(tx ticket.ReadTx) error {
		sups, err := tx.Suppressions()
		for _, s := range sups {
			out = append(out, s.Email)
		}
		return err
	})
	return out
}

// Only a recipient refused for its address is suppressed; a mail that
// fails as a message (cannot be built, content refused at the end of DATA)
// suppresses nobody, is recorded and reported to the agents; an agent's
// address is never suppressed, but alerted.
func TestOnlyAddressFailuresSuppress(t *testing.T) {
	svc, db := setup(t, withAgents(false))
	var alerts []string
	newOutbox := func(s ticket.Sender) *ticket.Outbox {
		return tickettest.Outbox(t, db, s, ticket.OutboxConfig{
			SuppressFor: 30 * 24 * time.Hour, Protected: svc.Protected, OnFailed: svc.DeliveryFailed,
			OnAlert: func(k string) { alerts = append(alerts, k) },
		})
	}
	flush := func(s ticket.Sender) {
		t.Helper()
		if _, _, _, err := newOutbox(s).Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// The message fails: the acknowledgement and both notifications.
	for i, fail := range []error{
		ticket.Permanent(errors.New("smtp: end of DATA: 554 5.6.0 message content rejected")),
		ticket.Permanent(errors.New("smtp: outgoing 1 cannot be built: invalid message id")),
	} {
		res := ingest(t, svc, mail(fmt.Sprintf("kim%d@example.org", i), "문의", fmt.Sprintf("m%d@example.org", i)))
		flush(&rcptSender{fail: fail})
		if sups := suppressions(t, db); len(sups) != 0 {
			t.Fatalf("%v suppressed %v", fail, sups)
		}
		var noted bool
		for _, m := range messages(t, db, res.TicketID) {
			noted = noted || (m.Kind == ticket.KindNote && strings.Contains(m.Body, "전달되지 않아 발송을 중단했습니다"))
			if m.Kind == ticket.KindAuto && m.Direction == ticket.DirOut && m.Delivery != ticket.DeliveryFailed {
				t.Fatalf("the acknowledgement is %q, want failed", m.Delivery)
			}
		}
		if !noted {
			t.Fatalf("%v: no note on #%d", fail, res.TicketID)
		}
		// The agents hear of the failed acknowledgement (not of their own
		// failed notifications).
		var reports int
		for _, o := range outbox(t, db) {
			if o.TicketID == res.TicketID && strings.Contains(o.Subject, "전달되지 않았습니다") {
				reports++
			}
		}
		if reports != 2 {
			t.Fatalf("%v: %d delivery-failure reports to agents, want 2", fail, reports)
		}
		flush(&rcptSender{}) // the reports go out
	}

	// A Cc refused 550 5.1.1 is suppressed; the others get the mail.
	m := mail("lee@example.org", "같이 봐 주세요", "cc1@example.org")
	m.Cc = []ticket.Address{{Email: "gone@example.net"}, {Email: "relay@example.net"}}
	res := ingest(t, svc, m)
	flush(&rcptSender{})
	if err := svc.Reply(res.TicketID, agentKim.Email, "답변입니다.", nil); err != nil {
		t.Fatal(err)
	}
	flush(&rcptSender{refuse: map[string]ticket.Refusal{
		"gone@example.net":  {Code: 550, Status: "5.1.1", Text: "user unknown"},
		"relay@example.net": {Code: 550, Status: "5.7.1", Text: "relaying denied"},
	}})
	if sups := suppressions(t, db); !slices.Equal(sups, []string{"gone@example.net"}) {
		t.Fatalf("suppressed %v, want only gone@example.net", sups)
	}

	// An agent's notification refused 550 5.1.1: alerted, not suppressed.
	ingest(t, svc, mail("park@example.org", "새 문의", "n1@example.org"))
	alerts = nil
	flush(&rcptSender{refuse: map[string]ticket.Refusal{agentKim.Email: {Code: 550, Status: "5.1.1", Text: "no such user"}}})
	if sups := suppressions(t, db); slices.Contains(sups, agentKim.Email) {
		t.Fatalf("an agent was suppressed: %v", sups)
	}
	if !slices.Contains(alerts, ticket.AlertProtectedRefused) {
		t.Fatalf("alerts %v, want %s", alerts, ticket.AlertProtectedRefused)
	}
}

// A bounce suppresses only for 5.1.x/5.2.x, and never an agent.
func TestBounceSuppressesOnlyAddressFailures(t *testing.T) {
	var alerts []string
	svc, db := setup(t, withAgents(false), func(c *ticket.Config) { c.OnAlert = func(k string) { alerts = append(alerts, k) } })
	ingest(t, svc, mail("kim@example.org", "문의", "b1@example.org"))
	ack := mailTo(t, db, "kim@example.org")[0]
	for _, c := range []struct{ rcpt, status string }{
		{"kim@example.org", "5.7.1"}, {agentKim.Email, "5.1.1"}, {"kim@example.org", "5.0.0"},
	} {
		ingest(t, svc, bounceFor(ack.MessageID, c.rcpt, c.status))
	}
	if sups := suppressions(t, db); len(sups) != 0 {
		t.Fatalf("suppressed %v, want nobody", sups)
	}
	if !slices.Equal(alerts, []string{ticket.AlertProtectedRefused}) {
		t.Fatalf("alerts %v", alerts)
	}
	ingest(t, svc, bounceFor(ack.MessageID, "kim@example.org", "5.2.2"))
	if sups := suppressions(t, db); !slices.Equal(sups, []string{"kim@example.org"}) {
		t.Fatalf("suppressed %v after 5.2.2", sups)
	}
}

// heldStore holds its next Update until the test lets it go.
type heldStore struct {
	*store.DB
	mu   sync.Mutex
	hold chan struct{} // the next Update waits until it is closed
}

func (s *heldStore) Update(fn func(tx ticket.Tx) error) error {
	s.mu.Lock()
	hold := s.hold
	s.hold = nil
	s.mu.Unlock()
	if hold != nil {
		<-hold
	}
	return s.DB.Update(fn)
}

// hookSender runs before, then asks ready, and counts the mails sent.
type hookSender struct {
	before   func()
	readyErr error
	sent     int
}

func (s *hookSender) Send(_ context.Context, _ ticket.Outgoing, ready func() error) ([]ticket.Refusal, error) {
	s.before()
	if s.readyErr = ready(); s.readyErr != nil {
		return nil, s.readyErr
	}
	s.sent++
	return nil, nil
}

// The claim is committed while the sender works, and the mail goes only
// once it is: when another flush claimed the mail in the meantime, the
// sender is told not to finish, and the other flush's claim stands.
func TestOutboxSendsOnlyWhatItClaimed(t *testing.T) {
	svc, db := setup(t)
	ingest(t, svc, mail("kim@example.org", "문의", "r1@example.org"))
	queued := outbox(t, db)
	if len(queued) != 1 {
		t.Fatalf("%d queued, want the acknowledgement", len(queued))
	}
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	hold := make(chan struct{})
	hs := &heldStore{DB: db, hold: hold}
	theirs := now.Add(time.Hour)
	sender := &hookSender{before: func() {
		// The outbox's claim waits in Update; another flush claims first.
		if err := db.Update(func(tx ticket.Tx) error {
			o, err := tx.Outgoing(queued[0].ID)
			if err != nil {
				return err
			}
			o.Attempts, o.NextAttempt = 1, theirs
			return tx.PutOutgoing(o)
		}); err != nil {
			t.Error(err)
		}
		close(hold)
	}}
	w := tickettest.Outbox(t, hs, sender, ticket.OutboxConfig{Now: func() time.Time { return now }})
	sent, failed, _, err := w.Flush(context.Background())
	if err != nil || sent != 0 || failed != 0 {
		t.Fatalf("Flush = %d sent, %d failed, %v; want nothing sent, no error", sent, failed, err)
	}
	if sender.readyErr == nil || sender.sent != 0 {
		t.Fatalf("ready = %v, %d sent; want an error and nothing sent", sender.readyErr, sender.sent)
	}
	left := outbox(t, db)
	if len(left) != 1 || left[0].Attempts != 1 || !left[0].NextAttempt.Equal(theirs) {
		t.Fatalf("outbox %+v; want the mail with the other flush's claim (1 attempt, next %s)", left, theirs)
	}

	// Unhindered, the same outbox sends it once the other claim is over.
	now = theirs
	sender.before = func() {}
	if sent, _, _, err := w.Flush(context.Background()); err != nil || sent != 1 || sender.sent != 1 {
		t.Fatalf("second Flush = %d sent (sender %d), %v; want 1", sent, sender.sent, err)
	}
	if n := len(outbox(t, db)); n != 0 {
		t.Fatalf("%d left in the outbox, want 0", n)
	}
}

// laneSender records, for each mail, who else was in flight, holding each
// send a little so that lanes overlap.
type laneSender struct {
	mu       sync.Mutex
	inFlight map[string]int // first recipient -> sends in progress
	now, max int
	order    map[string][]string // first recipient -> subjects, as sent
	twice    []string            // recipients that had two sends at once
}

func (s *laneSender) Send(_ context.Context, o ticket.Outgoing, ready func() error) ([]ticket.Refusal, error) {
	rcpt := o.To[0].Email
	s.mu.Lock()
	s.now++
	s.max = max(s.max, s.now)
	if s.inFlight[rcpt]++; s.inFlight[rcpt] > 1 {
		s.twice = append(s.twice, rcpt)
	}
	s.mu.Unlock()
	time.Sleep(2 * time.Millisecond)
	err := ready()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now--
	s.inFlight[rcpt]--
	if err == nil {
		s.order[rcpt] = append(s.order[rcpt], o.Subject)
	}
	return nil, err
}

// With Connections, several mails go at once, never more than that, never
// two to one address at once, and each address gets its mails in the
// order they were queued; each is sent once and recorded.
func TestOutboxSendsOnSeveralConnections(t *testing.T) {
	_, db := setup(t)
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	const rcpts, each = 7, 6
	queue := func(prefix string) {
		t.Helper()
		if err := db.Update(func(tx ticket.Tx) error {
			for i := range each {
				for r := range rcpts {
					o := ticket.Outgoing{
						TicketID: uint64(r + 1), MessageID: fmt.Sprintf("<%s%d.%d@example.org>", prefix, r, i),
						From: ticket.Address{Email: "support@example.org"}, To: []ticket.Address{{Email: fmt.Sprintf("c%d@example.org", r)}},
						Subject: fmt.Sprint(i), Text: "x", CreatedAt: now, NextAttempt: now,
					}
					if err := tx.Enqueue(&o); err != nil {
						return err
					}
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, conns := range []int{1, 3} {
		queue(fmt.Sprintf("c%d.", conns))
		t.Run(fmt.Sprint(conns), func(t *testing.T) {
			sender := &laneSender{inFlight: map[string]int{}, order: map[string][]string{}}
			w := tickettest.Outbox(t, db, sender, ticket.OutboxConfig{Now: func() time.Time { return now }, Connections: conns})
			sent, failed, next, err := w.Flush(context.Background())
			if err != nil || sent != rcpts*each || failed != 0 || !next.IsZero() {
				t.Fatalf("Flush = %d sent, %d failed, next %v, %v; want %d sent, queue empty", sent, failed, next, err, rcpts*each)
			}
			if sender.max > conns || conns > 1 && sender.max < 2 {
				t.Fatalf("%d mails in flight at most, want 2 to %d", sender.max, conns)
			}
			if len(sender.twice) > 0 {
				t.Fatalf("two mails at once to %v", sender.twice)
			}
			for r, got := range sender.order {
				if want := []string{"0", "1", "2", "3", "4", "5"}; !slices.Equal(got, want) {
					t.Fatalf("%s got %v, want %v", r, got, want)
				}
			}
			if len(sender.order) != rcpts {
				t.Fatalf("mail went to %d addresses, want %d", len(sender.order), rcpts)
			}
			if n := len(outbox(t, db)); n != 0 {
				t.Fatalf("%d left in the outbox", n)
			}
		})
	}
}

// limitSender takes at most limit mails at once and refuses the others
// for now (421), as a server with a connection limit does.
type limitSender struct {
	mu             sync.Mutex
	limit, now     int
	sent           map[string]int // Message-ID -> times sent
	refusedAtLimit int
}

func (s *limitSender) Send(_ context.Context, o ticket.Outgoing, ready func() error) ([]ticket.Refusal, error) {
	s.mu.Lock()
	if s.now >= s.limit {
		s.refusedAtLimit++
		s.mu.Unlock()
		return nil, errors.New("421 4.7.0 too many connections")
	}
	s.now++
	s.mu.Unlock()
	time.Sleep(2 * time.Millisecond)
	err := ready()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now--
	if err == nil {
		s.sent[o.MessageID]++
	}
	return nil, err
}

// A server that takes fewer connections at once than the outbox opens
// refuses the rest with a 4xx: those lanes stop, the others go on, no
// outage is declared and the queue is not paused; every mail is sent
// once in the end.
func TestOutboxFitsTheServersConnectionLimit(t *testing.T) {
	_, db := setup(t)
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	const n = 60
	if err := db.Update(func(tx ticket.Tx) error {
		for i := range n {
			o := ticket.Outgoing{
				TicketID: uint64(i + 1), MessageID: fmt.Sprintf("<lim%d@example.org>", i),
				From: ticket.Address{Email: "support@example.org"}, To: []ticket.Address{{Email: fmt.Sprintf("c%d@example.org", i)}},
				Subject: "s", Text: "x", CreatedAt: now, NextAttempt: now,
			}
			if err := tx.Enqueue(&o); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	sender := &limitSender{limit: 2, sent: map[string]int{}}
	w := tickettest.Outbox(t, db, sender, ticket.OutboxConfig{Now: clock, Connections: 6})
	total := 0
	for round := 0; len(outbox(t, db)) > 0; round++ {
		if round > 50 {
			t.Fatalf("%d left after 50 flushes", len(outbox(t, db)))
		}
		sent, _, next, err := w.Flush(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		total += sent
		if st := w.State(); st.Failures != 0 {
			t.Fatalf("round %d: %d failures in a row recorded (%v): the limit was taken for an outage", round, st.Failures, st.LastError)
		}
		// What a stopped lane left is due at once, not after a pause.
		if left := len(outbox(t, db)); left > 0 && next.After(clock()) {
			t.Fatalf("round %d: %d left, next flush at %v, not now (%v): the queue was paused", round, left, next, clock())
		}
		mu.Lock()
		now = now.Add(2 * time.Hour) // past every backoff
		mu.Unlock()
	}
	if total != n || len(sender.sent) != n {
		t.Fatalf("%d sent (%d distinct), want %d", total, len(sender.sent), n)
	}
	for id, k := range sender.sent {
		if k != 1 {
			t.Fatalf("%s sent %d times", id, k)
		}
	}
	if sender.refusedAtLimit == 0 {
		t.Fatal("the limit was never hit: the test proves nothing")
	}
	t.Logf("%d refusals at the limit", sender.refusedAtLimit)
}
