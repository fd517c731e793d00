package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ticketd/ticketd/ticket"
	"github.com/ticketd/ticketd/ticket/tickettest"
)

// Options says how to run the suite on a store.
type Options struct {
	// Open returns a new, empty store for one test.
	Open func(t *testing.T) ticket.Store
	// Settle, if set, brings the search index up to date (a store that
	// indexes after the commit).
	Settle func(t *testing.T, st ticket.Store)
	// Stored, for a store opened with an encryption key, returns every
	// byte it keeps (the file, or every row): the suite then checks that
	// no word of a customer's mail is among them.
	Stored func(t *testing.T, st ticket.Store) []byte
}

// Run runs the contract on stores o.Open returns.
func Run(t *testing.T, o Options) {
	for _, c := range []struct {
		name string
		f    func(t *testing.T, o Options, st ticket.Store)
	}{
		{"TicketsAndMessages", ticketsAndMessages},
		{"Rollback", rollback},
		{"DedupeAndCursor", dedupeAndCursor},
		{"Outbox", outbox},
		{"Rejected", rejected},
		{"Records", records},
		{"Search", search},
		{"Service", service},
		{"AtRest", atRest},
	} {
		t.Run(c.name, func(t *testing.T) { c.f(t, o, o.Open(t)) })
	}
}

func update(t *testing.T, st ticket.Store, fn func(tx ticket.Tx) error) {
	t.Helper()
	if err := st.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func view(t *testing.T, st ticket.Store, fn func(tx ticket.ReadTx) error) {
	t.Helper()
	if err := st.View(fn); err != nil {
		t.Fatal(err)
	}
}

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func newTicket(tx ticket.Tx, subject string, status ticket.Status) (ticket.Ticket, error) {
	id, err := tx.NextTicketID()
	if err != nil {
		return ticket.Ticket{}, err
	}
	tk := ticket.Ticket{ID: id, Subject: subject, Status: status, Requester: ticket.Address{Name: "김고객", Email: "kim@example.org"}, CreatedAt: t0, UpdatedAt: t0}
	return tk, tx.PutTicket(tk)
}

func ticketsAndMessages(t *testing.T, _ Options, st ticket.Store) {
	raw := make([]byte, 300<<10) // several pieces in any store
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	var a, b ticket.Ticket
	var m1, m2 ticket.Message
	update(t, st, func(tx ticket.Tx) error {
		var err error
		if a, err = newTicket(tx, "햇살론 상환 문의", ticket.StatusNew); err != nil {
			return err
		}
		if b, err = newTicket(tx, "앱 로그인", ticket.StatusOpen); err != nil {
			return err
		}
		m1 = ticket.Message{TicketID: a.ID, Direction: ticket.DirIn, Kind: ticket.KindCustomer, Subject: a.Subject, MessageID: "<m1@example.org>", Body: "상환일을 알려 주세요.", Visible: "상환일을 알려 주세요.", ReceivedAt: t0}
		if err := tx.AddMessage(&m1, raw); err != nil {
			return err
		}
		m2 = ticket.Message{TicketID: a.ID, Direction: ticket.DirOut, Kind: ticket.KindAuto, Subject: "[#1] 접수", MessageID: "<m2@support.example.test>", Body: "접수되었습니다.", ReceivedAt: t0}
		if err := tx.AddMessage(&m2, nil); err != nil {
			return err
		}
		return tx.IndexMessageID("<alias@example.org>", m1.ID)
	})
	if b.ID <= a.ID || m2.ID <= m1.ID || m1.ID == 0 {
		t.Fatalf("ids: tickets %d, %d; messages %d, %d; want increasing", a.ID, b.ID, m1.ID, m2.ID)
	}
	view(t, st, func(tx ticket.ReadTx) error {
		got, err := tx.Ticket(a.ID)
		if err != nil || got.Subject != a.Subject || got.Requester != a.Requester {
			t.Errorf("Ticket = %+v, %v", got, err)
		}
		if _, err := tx.Ticket(b.ID + 100); !errors.Is(err, ticket.ErrNotFound) {
			t.Errorf("a missing ticket: %v, want ErrNotFound", err)
		}
		if all, err := tx.Tickets(ticket.TicketFilter{}); err != nil || len(all) != 2 || all[0].ID != a.ID {
			t.Errorf("Tickets = %v, %v", all, err)
		}
		if open, err := tx.Tickets(ticket.TicketFilter{Status: ticket.StatusOpen}); err != nil || len(open) != 1 || open[0].ID != b.ID {
			t.Errorf("open tickets = %v, %v", open, err)
		}
		ms, err := tx.Messages(a.ID)
		if err != nil || len(ms) != 2 || ms[0].ID != m1.ID || ms[1].ID != m2.ID || ms[0].Visible != m1.Visible {
			t.Errorf("Messages = %+v, %v", ms, err)
		}
		if got, err := tx.Raw(m1.ID); err != nil || !bytes.Equal(got, raw) {
			t.Errorf("Raw: %d bytes, %v; want %d", len(got), err, len(raw))
		}
		if _, err := tx.Raw(m2.ID); !errors.Is(err, ticket.ErrNotFound) {
			t.Errorf("Raw of a mail we composed: %v, want ErrNotFound", err)
		}
		for _, mid := range []string{"<m1@example.org>", "m1@example.org", "<alias@example.org>"} {
			if m, err := tx.MessageByMessageID(mid); err != nil || m.ID != m1.ID {
				t.Errorf("MessageByMessageID(%s) = %d, %v; want %d", mid, m.ID, err, m1.ID)
			}
		}
		if _, err := tx.MessageByMessageID("<nobody@example.org>"); !errors.Is(err, ticket.ErrNotFound) {
			t.Errorf("an unknown Message-ID: %v", err)
		}
		return nil
	})
	// A message moves to another ticket (a merge); its raw mail goes.
	update(t, st, func(tx ticket.Tx) error {
		m, err := tx.Message(m2.ID)
		if err != nil {
			return err
		}
		m.TicketID = b.ID
		if err := tx.PutMessage(m); err != nil {
			return err
		}
		if err := tx.PutMessage(ticket.Message{ID: m2.ID + 100}); !errors.Is(err, ticket.ErrNotFound) {
			return fmt.Errorf("PutMessage of a missing message: %v, want ErrNotFound", err)
		}
		if err := tx.UnindexMessageID("<alias@example.org>", m1.ID); err != nil {
			return err
		}
		return tx.DeleteRaw(m1.ID)
	})
	view(t, st, func(tx ticket.ReadTx) error {
		ma, _ := tx.Messages(a.ID)
		mb, _ := tx.Messages(b.ID)
		if len(ma) != 1 || len(mb) != 1 || mb[0].ID != m2.ID || mb[0].TicketID != b.ID {
			t.Errorf("after the move: %d on #%d, %d on #%d", len(ma), a.ID, len(mb), b.ID)
		}
		if _, err := tx.Raw(m1.ID); !errors.Is(err, ticket.ErrNotFound) {
			t.Errorf("Raw after DeleteRaw: %v", err)
		}
		if _, err := tx.MessageByMessageID("<alias@example.org>"); !errors.Is(err, ticket.ErrNotFound) {
			t.Errorf("an unindexed Message-ID: %v", err)
		}
		return nil
	})
}

// An Update whose function fails keeps nothing it wrote.
func rollback(t *testing.T, _ Options, st ticket.Store) {
	boom := errors.New("boom")
	err := st.Update(func(tx ticket.Tx) error {
		tk, err := newTicket(tx, "롤백", ticket.StatusNew)
		if err != nil {
			return err
		}
		m := ticket.Message{TicketID: tk.ID, MessageID: "<rb@example.org>", Body: "x"}
		if err := tx.AddMessage(&m, []byte("raw")); err != nil {
			return err
		}
		if err := tx.MarkSeen("key-rb", m.ID); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the function's error", err)
	}
	view(t, st, func(tx ticket.ReadTx) error {
		all, _ := tx.Tickets(ticket.TicketFilter{})
		_, seen, _ := tx.Seen("key-rb")
		_, merr := tx.MessageByMessageID("<rb@example.org>")
		if len(all) != 0 || seen || !errors.Is(merr, ticket.ErrNotFound) {
			t.Errorf("after a failed Update: %d tickets, seen %v, message %v", len(all), seen, merr)
		}
		return nil
	})
}

func dedupeAndCursor(t *testing.T, _ Options, st ticket.Store) {
	update(t, st, func(tx ticket.Tx) error {
		if err := tx.MarkSeen("msgid:a@example.org", 7); err != nil {
			return err
		}
		if err := tx.MarkSeen("sha256:00ff", 0); err != nil {
			return err
		}
		return tx.SetCursor("support/INBOX", ticket.Cursor{UIDValidity: 3, LastUID: 41, ActedUID: 40})
	})
	view(t, st, func(tx ticket.ReadTx) error {
		if id, ok, err := tx.Seen("msgid:a@example.org"); err != nil || !ok || id != 7 {
			t.Errorf("Seen = %d, %v, %v", id, ok, err)
		}
		if id, ok, err := tx.Seen("sha256:00ff"); err != nil || !ok || id != 0 {
			t.Errorf("Seen of a rejected mail = %d, %v, %v", id, ok, err)
		}
		if _, ok, err := tx.Seen("msgid:nobody"); err != nil || ok {
			t.Errorf("Seen of an unknown key = %v, %v", ok, err)
		}
		if c, ok, err := tx.Cursor("support/INBOX"); err != nil || !ok || c.LastUID != 41 || c.UIDValidity != 3 || c.ActedUID != 40 {
			t.Errorf("Cursor = %+v, %v, %v", c, ok, err)
		}
		if _, ok, err := tx.Cursor("other/INBOX"); err != nil || ok {
			t.Errorf("a missing cursor: %v, %v", ok, err)
		}
		return nil
	})
	update(t, st, func(tx ticket.Tx) error { return tx.Unsee("msgid:a@example.org") })
	view(t, st, func(tx ticket.ReadTx) error {
		if _, ok, _ := tx.Seen("msgid:a@example.org"); ok {
			t.Error("Unsee kept the key")
		}
		return nil
	})
}

func outbox(t *testing.T, _ Options, st ticket.Store) {
	var ids []uint64
	update(t, st, func(tx ticket.Tx) error {
		for i := range 5 {
			o := ticket.Outgoing{TicketID: 1, MessageID: fmt.Sprintf("<o%d@support.example.test>", i), To: []ticket.Address{{Email: "kim@example.org"}}, Subject: "접수", Text: "본문", CreatedAt: t0, NextAttempt: t0}
			if err := tx.Enqueue(&o); err != nil {
				return err
			}
			ids = append(ids, o.ID)
		}
		return nil
	})
	if !slices.IsSorted(ids) || ids[0] == 0 {
		t.Fatalf("Enqueue ids %v, want increasing", ids)
	}
	update(t, st, func(tx ticket.Tx) error {
		o, err := tx.Outgoing(ids[1])
		if err != nil {
			return err
		}
		o.Attempts, o.LastError = 2, "421 later"
		if err := tx.PutOutgoing(o); err != nil {
			return err
		}
		return tx.DeleteOutgoing(ids[3])
	})
	view(t, st, func(tx ticket.ReadTx) error {
		var seen []uint64
		stop := errors.New("stop")
		err := tx.EachOutgoing(func(o ticket.Outgoing) error {
			seen = append(seen, o.ID)
			if len(seen) == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || !slices.Equal(seen, []uint64{ids[0], ids[1], ids[2]}) {
			t.Errorf("EachOutgoing saw %v (%v), want %v and the stop", seen, err, ids[:3])
		}
		all, err := tx.Outbox()
		if err != nil || len(all) != 4 || all[1].Attempts != 2 || all[1].LastError != "421 later" || all[3].ID != ids[4] {
			t.Errorf("Outbox = %+v, %v", all, err)
		}
		if _, err := tx.Outgoing(ids[3]); !errors.Is(err, ticket.ErrNotFound) {
			t.Errorf("a deleted mail: %v", err)
		}
		return nil
	})
}

func rejected(t *testing.T, _ Options, st ticket.Store) {
	var r1, r2 ticket.Rejected
	update(t, st, func(tx ticket.Tx) error {
		r1 = ticket.Rejected{Reason: "no header", Source: "imap", ReceivedAt: t0, Raw: []byte("\r\n\r\n")}
		if err := tx.AddRejected(&r1); err != nil {
			return err
		}
		r2 = ticket.Rejected{Reason: "too large", Source: "imap", ReceivedAt: t0, Raw: bytes.Repeat([]byte("x"), 100<<10)}
		return tx.AddRejected(&r2)
	})
	view(t, st, func(tx ticket.ReadTx) error {
		all, err := tx.Rejected()
		if err != nil || len(all) != 2 || all[0].ID != r1.ID || !bytes.Equal(all[1].Raw, r2.Raw) {
			t.Errorf("Rejected = %d, %v", len(all), err)
		}
		if r, err := tx.RejectedByID(r1.ID); err != nil || r.Reason != "no header" || !bytes.Equal(r.Raw, r1.Raw) {
			t.Errorf("RejectedByID = %+v, %v", r, err)
		}
		return nil
	})
	update(t, st, func(tx ticket.Tx) error {
		if err := tx.DeleteRejected(r1.ID); err != nil {
			return err
		}
		if err := tx.DeleteRejected(r1.ID); !errors.Is(err, ticket.ErrNotFound) {
			return fmt.Errorf("a second DeleteRejected: %v, want ErrNotFound", err)
		}
		return nil
	})
	view(t, st, func(tx ticket.ReadTx) error {
		if _, err := tx.RejectedByID(r1.ID); !errors.Is(err, ticket.ErrNotFound) {
			t.Errorf("RejectedByID after delete: %v", err)
		}
		return nil
	})
}

func records(t *testing.T, _ Options, st ticket.Store) {
	later := t0.Add(time.Hour)
	var a1, a2 ticket.AuditRecord
	update(t, st, func(tx ticket.Tx) error {
		if err := tx.PutNotification(ticket.Notification{MessageID: "<n1@support.example.test>", TicketID: 3, To: "agent@example.test", SentAt: t0}); err != nil {
			return err
		}
		for _, e := range []string{"Lee@Example.org", "kim@example.org"} {
			if err := tx.PutSuppression(ticket.Suppression{Email: e, Reason: "550 5.1.1", Since: t0, Until: later}); err != nil {
				return err
			}
		}
		if err := tx.PutAutoSent("Kim@Example.org", []time.Time{t0, later}); err != nil {
			return err
		}
		if err := tx.PutHeldAcks(ticket.HeldAcks{Email: "Park@Example.org", Tickets: []uint64{4, 5}, Due: later}); err != nil {
			return err
		}
		a1 = ticket.AuditRecord{At: t0, Who: "김상담", Action: ticket.AuditUnmask, Ticket: 3, Reason: "본인 확인"}
		a2 = ticket.AuditRecord{At: later, Who: "이상담", Action: ticket.AuditWebView, Ticket: 4}
		if err := tx.AddAudit(&a1); err != nil {
			return err
		}
		return tx.AddAudit(&a2)
	})
	view(t, st, func(tx ticket.ReadTx) error {
		if n, err := tx.Notification("<n1@support.example.test>"); err != nil || n.TicketID != 3 {
			t.Errorf("Notification = %+v, %v", n, err)
		}
		if _, err := tx.Notification("<none@support.example.test>"); !errors.Is(err, ticket.ErrNotFound) {
			t.Errorf("a missing notification: %v", err)
		}
		if s, err := tx.Suppression("LEE@example.org"); err != nil || s.Email != "lee@example.org" || !s.Until.Equal(later) {
			t.Errorf("Suppression = %+v, %v", s, err)
		}
		if _, err := tx.Suppression("nobody@example.org"); !errors.Is(err, ticket.ErrNotFound) {
			t.Errorf("a missing suppression: %v", err)
		}
		if all, err := tx.Suppressions(); err != nil || len(all) != 2 || all[0].Email != "kim@example.org" {
			t.Errorf("Suppressions = %+v, %v", all, err)
		}
		if ts, err := tx.AutoSent("kim@example.org"); err != nil || len(ts) != 2 || !ts[1].Equal(later) {
			t.Errorf("AutoSent = %v, %v", ts, err)
		}
		if ts, err := tx.AutoSent("nobody@example.org"); err != nil || ts != nil {
			t.Errorf("AutoSent of nobody = %v, %v", ts, err)
		}
		if h, err := tx.HeldAcks("park@example.org"); err != nil || !slices.Equal(h.Tickets, []uint64{4, 5}) {
			t.Errorf("HeldAcks = %+v, %v", h, err)
		}
		var held, audit int
		tx.EachHeldAcks(func(ticket.HeldAcks) error { held++; return nil })
		var who []string
		tx.EachAudit(func(r ticket.AuditRecord) error { audit++; who = append(who, r.Who); return nil })
		if held != 1 || audit != 2 || who[0] != "김상담" || a2.ID <= a1.ID {
			t.Errorf("EachHeldAcks %d, EachAudit %v (ids %d, %d)", held, who, a1.ID, a2.ID)
		}
		return nil
	})
	update(t, st, func(tx ticket.Tx) error {
		if err := tx.DeleteSuppression("KIM@example.org"); err != nil {
			return err
		}
		if err := tx.DeleteSuppression("kim@example.org"); !errors.Is(err, ticket.ErrNotFound) {
			return fmt.Errorf("a second DeleteSuppression: %v, want ErrNotFound", err)
		}
		if err := tx.PutAutoSent("kim@example.org", nil); err != nil {
			return err
		}
		return tx.DeleteHeldAcks("PARK@example.org")
	})
	view(t, st, func(tx ticket.ReadTx) error {
		all, _ := tx.Suppressions()
		ts, _ := tx.AutoSent("kim@example.org")
		_, herr := tx.HeldAcks("park@example.org")
		if len(all) != 1 || ts != nil || !errors.Is(herr, ticket.ErrNotFound) {
			t.Errorf("after the deletes: %d suppressions, auto-sent %v, held %v", len(all), ts, herr)
		}
		return nil
	})
}

// What a transaction changes is found by a search (after Settle): the
// subject, a message's text, a message moved to another ticket.
func search(t *testing.T, o Options, st ticket.Store) {
	var a, b ticket.Ticket
	var m ticket.Message
	update(t, st, func(tx ticket.Tx) error {
		var err error
		if a, err = newTicket(tx, "햇살론 서류 제출", ticket.StatusNew); err != nil {
			return err
		}
		if b, err = newTicket(tx, "채무조정 신청", ticket.StatusNew); err != nil {
			return err
		}
		m = ticket.Message{TicketID: a.ID, MessageID: "<s1@example.org>", Body: "재직증명서를 첨부합니다.", Visible: "재직증명서를 첨부합니다."}
		return tx.AddMessage(&m, nil)
	})
	found := func(q string) []uint64 {
		t.Helper()
		if o.Settle != nil {
			o.Settle(t, st)
		}
		var ids []uint64
		view(t, st, func(tx ticket.ReadTx) error {
			hits, err := ticket.Search(tx, q, ticket.SearchFilter{})
			for _, h := range hits {
				ids = append(ids, h.Ticket.ID)
			}
			return err
		})
		slices.Sort(ids)
		return ids
	}
	if got := found("햇살론 서류"); !slices.Equal(got, []uint64{a.ID}) {
		t.Errorf("햇살론 서류: %v, want [%d]", got, a.ID)
	}
	if got := found("재직증명서"); !slices.Equal(got, []uint64{a.ID}) {
		t.Errorf("재직증명서: %v, want [%d]", got, a.ID)
	}
	update(t, st, func(tx ticket.Tx) error {
		m.TicketID = b.ID
		return tx.PutMessage(m)
	})
	if got := found("재직증명서"); !slices.Equal(got, []uint64{b.ID}) {
		t.Errorf("재직증명서 after the move: %v, want [%d]", got, b.ID)
	}
	view(t, st, func(tx ticket.ReadTx) error {
		if n, err := tx.IndexedTickets(); err != nil || n != 2 {
			t.Errorf("IndexedTickets = %d, %v", n, err)
		}
		return nil
	})
}

// okSender accepts every mail.
type okSender struct{ sent []ticket.Outgoing }

func (s *okSender) Send(_ context.Context, o ticket.Outgoing, ready func() error) ([]ticket.Refusal, error) {
	if ready != nil {
		if err := ready(); err != nil {
			return nil, err
		}
	}
	s.sent = append(s.sent, o)
	return nil, nil
}

// The core on the store: a new inquiry becomes a ticket with its
// acknowledgement queued, the same mail again is a duplicate, the
// customer's reply joins the ticket, and the outbox sends the
// acknowledgement and records it on the ticket.
func service(t *testing.T, _ Options, st ticket.Store) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	svc := tickettest.Service(t, st, ticket.Config{
		Support: ticket.Address{Name: "고객센터", Email: "support@example.test"}, Domain: "example.test", CenterName: "고객센터",
		Hours: tickettest.Hours(time.FixedZone("KST", 9*3600)), Now: func() time.Time { return now },
		Signer: tickettest.Signer(), NoNotify: true,
	})
	mail := func(subject, msgid, inReplyTo string) ticket.Incoming {
		m := &ticket.Mail{
			From: ticket.Address{Name: "김고객", Email: "kim@example.org"}, To: []ticket.Address{{Email: "support@example.test"}},
			Subject: subject, MessageID: msgid, InReplyTo: inReplyTo, Text: "햇살론 서류를 어디로 보내면 되나요?\n", Headers: map[string]string{},
		}
		return ticket.Incoming{Mail: m, Raw: []byte("raw " + msgid), Source: "storetest"}
	}
	first, err := svc.Ingest(mail("햇살론 서류 문의", "<q1@example.org>", ""))
	if err != nil || !first.NewTicket || !first.Acknowledged {
		t.Fatalf("first mail: %+v, %v; want a new, acknowledged ticket", first, err)
	}
	if again, err := svc.Ingest(mail("햇살론 서류 문의", "<q1@example.org>", "")); err != nil || !again.Duplicate {
		t.Fatalf("the same mail again: %+v, %v; want a duplicate", again, err)
	}
	reply, err := svc.Ingest(mail("Re: 햇살론 서류 문의", "<q2@example.org>", "<q1@example.org>"))
	if err != nil || reply.NewTicket || reply.TicketID != first.TicketID {
		t.Fatalf("the reply: %+v, %v; want it on ticket #%d", reply, err, first.TicketID)
	}
	sender := &okSender{}
	w := tickettest.Outbox(t, st, sender, ticket.OutboxConfig{Now: func() time.Time { return now }})
	if sent, _, _, err := w.Flush(context.Background()); err != nil || sent != 1 || len(sender.sent) != 1 {
		t.Fatalf("Flush sent %d (%d), %v; want the acknowledgement", sent, len(sender.sent), err)
	}
	view(t, st, func(tx ticket.ReadTx) error {
		ms, err := tx.Messages(first.TicketID)
		if err != nil {
			return err
		}
		delivered := 0
		for _, m := range ms {
			if m.Delivery == ticket.DeliverySent {
				delivered++
			}
		}
		if len(ms) != 3 || delivered != 1 {
			t.Errorf("ticket #%d has %d messages, %d delivered; want the mail, the acknowledgement (sent) and the reply", first.TicketID, len(ms), delivered)
		}
		if q, _ := tx.Outbox(); len(q) != 0 {
			t.Errorf("%d left in the outbox", len(q))
		}
		return nil
	})
}

// secretsOfMail are words of a customer's mail that an encrypted store
// must never keep in clear.
var secretsOfMail = []string{"900101-1234568", "4111-1111-1111-1111", "010-9876-5432", "햇살론 상환일을 바꾸고 싶습니다", "김민수", "상환일"}

// atRest stores the secrets in every kind of record (ticket, message and
// its texts, raw mail, outgoing mail, suppression, quarantined mail,
// audit record, held acknowledgement, notification, search index): an
// encrypted store (o.Stored) keeps none of them in clear, and every
// record reads back whole.
func atRest(t *testing.T, o Options, st ticket.Store) {
	if o.Stored == nil {
		t.Skip("a store without a key")
	}
	body := "햇살론 상환일을 바꾸고 싶습니다. 주민번호 900101-1234568, 카드 4111-1111-1111-1111, 연락처 010-9876-5432"
	raw := []byte("From: 김민수 <kim@example.org>\r\nSubject: 상환일\r\n\r\n" + body + "\r\n")
	var tk ticket.Ticket
	update(t, st, func(tx ticket.Tx) error {
		var err error
		if tk, err = newTicket(tx, "햇살론 상환일을 바꾸고 싶습니다", ticket.StatusNew); err != nil {
			return err
		}
		tk.Requester.Name = "김민수"
		if err := tx.PutTicket(tk); err != nil {
			return err
		}
		m := &ticket.Message{TicketID: tk.ID, MessageID: "<secret@example.org>", Subject: "상환일 900101-1234568", From: ticket.Address{Name: "김민수", Email: "kim@example.org"},
			Body: body, Visible: body[:40], HTML: "<p>" + body + "</p>"}
		if err := tx.AddMessage(m, raw); err != nil {
			return err
		}
		if err := tx.Enqueue(&ticket.Outgoing{TicketID: tk.ID, Subject: "[#1] 햇살론 상환일을 바꾸고 싶습니다", Text: body, To: []ticket.Address{{Name: "김민수", Email: "kim@example.org"}}}); err != nil {
			return err
		}
		if err := tx.PutSuppression(ticket.Suppression{Email: "x@example.org", Reason: "5.1.1 김민수 010-9876-5432", Until: t0.Add(time.Hour)}); err != nil {
			return err
		}
		if err := tx.AddRejected(&ticket.Rejected{Raw: raw, Reason: "test"}); err != nil {
			return err
		}
		if err := tx.PutHeldAcks(ticket.HeldAcks{Email: "kim@example.org", Tickets: []uint64{tk.ID}, Due: t0}); err != nil {
			return err
		}
		if err := tx.PutNotification(ticket.Notification{MessageID: "<n-secret@example.test>", TicketID: tk.ID, To: "agent@example.test", SentAt: t0}); err != nil {
			return err
		}
		return tx.AddAudit(&ticket.AuditRecord{Who: "김민수", Action: ticket.AuditUnmask, Reason: "900101-1234568"})
	})
	if o.Settle != nil {
		o.Settle(t, st)
	}
	stored := o.Stored(t, st)
	if len(stored) < len(raw) {
		t.Fatalf("Stored returned %d bytes: not the store's", len(stored))
	}
	for _, w := range secretsOfMail {
		if bytes.Contains(stored, []byte(w)) {
			t.Errorf("%q is stored in clear", w)
		}
	}
	view(t, st, func(tx ticket.ReadTx) error {
		msgs, err := tx.Messages(tk.ID)
		if err != nil || len(msgs) != 1 || msgs[0].Body != body {
			t.Errorf("the message reads back as %+v (%v)", msgs, err)
			return nil
		}
		if got, err := tx.Raw(msgs[0].ID); err != nil || !bytes.Equal(got, raw) {
			t.Errorf("the raw mail reads back as %q (%v)", got, err)
		}
		if rs, err := tx.Rejected(); err != nil || len(rs) != 1 || !bytes.Equal(rs[0].Raw, raw) {
			t.Errorf("the quarantined mail reads back as %+v (%v)", rs, err)
		}
		if h, err := tx.HeldAcks("kim@example.org"); err != nil || !slices.Equal(h.Tickets, []uint64{tk.ID}) {
			t.Errorf("the held acknowledgement reads back as %+v (%v)", h, err)
		}
		if n, err := tx.Notification("<n-secret@example.test>"); err != nil || n.To != "agent@example.test" {
			t.Errorf("the notification reads back as %+v (%v)", n, err)
		}
		hits, err := ticket.Search(tx, "상환일", ticket.SearchFilter{})
		if err != nil || len(hits) != 1 || hits[0].Ticket.ID != tk.ID {
			t.Errorf("search for a word of the sealed ticket: %+v (%v)", hits, err)
		}
		return nil
	})
}
