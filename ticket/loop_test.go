package ticket_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ticketd/ticketd/ticket"
)

func TestAcknowledgementsAreRateLimited(t *testing.T) {
	now := time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)
	svc, db := setup(t, func(c *ticket.Config) { c.Now = func() time.Time { return now } })
	// Two inquiries a minute apart: the second is within the minimum
	// interval and gets no acknowledgement.
	ingest(t, svc, mail("quick@example.org", "첫째", "q-1@example.org"))
	now = now.Add(time.Minute)
	if res := ingest(t, svc, mail("quick@example.org", "둘째", "q-2@example.org")); res.Acknowledged || !strings.Contains(res.HeldBack, "ago") {
		t.Fatalf("second inquiry within a minute: %+v", res)
	}
	outbox0 := len(outbox(t, db))
	acked, held := 0, 0
	for i := 0; i < 7; i++ {
		now = now.Add(3 * time.Minute)
		res := ingest(t, svc, mail("busy@example.org", "문의 "+string(rune('A'+i)), "rl"+string(rune('a'+i))+"@example.org"))
		if !res.NewTicket {
			t.Fatalf("mail %d: %+v", i, res)
		}
		if res.Acknowledged {
			acked++
		} else if strings.Contains(res.HeldBack, "rate limit") {
			held++
		}
	}
	if acked != 5 || held != 2 || len(outbox(t, db))-outbox0 != 5 {
		t.Fatalf("acked %d held %d outbox %d; want 5, 2, 5 (5 per hour)", acked, held, len(outbox(t, db))-outbox0)
	}
	// Another address is not affected.
	if res := ingest(t, svc, mail("other@example.org", "x", "rl-other@example.org")); !res.Acknowledged {
		t.Fatalf("other address held back: %+v", res)
	}
}

func TestNeverSendToNullOwnOrNoReply(t *testing.T) {
	svc, _ := setup(t, func(c *ticket.Config) { c.OwnAddresses = []string{"help@example.test"} })
	for _, addr := range []string{"", "support@example.test", "support+t1-x@example.test", "help@example.test",
		"MAILER-DAEMON@example.org", "no-reply@bank.example", "donotreply@x.example"} {
		if svc.NeverSend(addr) == "" {
			t.Errorf("NeverSend(%q) allows mail", addr)
		}
	}
	if r := svc.NeverSend("kim@example.org"); r != "" {
		t.Errorf("a customer refused: %s", r)
	}
}

func bounceFor(mid, rcpt, status string) *ticket.Mail {
	m := mail("MAILER-DAEMON@mx.example.org", "Undelivered Mail Returned to Sender", "bounce-"+rcpt+status)
	m.Headers["Return-Path"] = "<>"
	m.Bounce = &ticket.Bounce{OriginalMessageID: mid, Standard: true,
		Recipients: []ticket.BounceRecipient{{Email: rcpt, Status: status, Action: "failed", Diagnostic: "550 5.1.1 user unknown"}}}
	return m
}

func TestBounceIsLinkedRecordedAndSuppresses(t *testing.T) {
	svc, db := setup(t)
	ingest(t, svc, mail("gone@example.org", "문의", "b1@example.org"))
	ack := outbox(t, db)[0]
	res := ingest(t, svc, bounceFor(ack.MessageID, "gone@example.org", "5.1.1"))
	if !res.Bounce || res.TicketID != 1 || res.NewTicket || res.Acknowledged {
		t.Fatalf("bounce: %+v, want it on #1, not acknowledged", res)
	}
	var ackMsg ticket.Message
	for _, m := range messages(t, db, 1) {
		if m.MessageID == ack.MessageID {
			ackMsg = m
		}
	}
	if ackMsg.Delivery != ticket.DeliveryFailed || !strings.Contains(ackMsg.DeliveryError, "5.1.1") {
		t.Fatalf("acknowledgement after the bounce: %q %q", ackMsg.Delivery, ackMsg.DeliveryError)
	}
	var sup []ticket.Suppression
	db.View(func(tx ticket.ReadTx) error { sup, _ = tx.Suppressions(); return nil })
	if len(sup) != 1 || sup[0].Email != "gone@example.org" || sup[0].Until.Sub(sup[0].Since) != 30*24*time.Hour {
		t.Fatalf("suppressions %+v", sup)
	}
	// The suppressed address gets no acknowledgement for a new ticket.
	res = ingest(t, svc, mail("gone@example.org", "again", "b2@example.org"))
	if res.Acknowledged || !strings.Contains(res.HeldBack, "suppressed") {
		t.Fatalf("mail from a suppressed address: %+v", res)
	}
	// A temporary failure (4.x.x) records but does not suppress.
	ingest(t, svc, mail("slow@example.org", "q", "b3@example.org"))
	var slowAck string
	for _, o := range mailTo(t, db, "slow@example.org") {
		slowAck = o.MessageID
	}
	ingest(t, svc, bounceFor(slowAck, "slow@example.org", "4.2.2"))
	db.View(func(tx ticket.ReadTx) error { sup, _ = tx.Suppressions(); return nil })
	if len(sup) != 1 {
		t.Fatalf("a 4.x.x bounce suppressed: %+v", sup)
	}
	if err := svc.Unsuppress("GONE@example.org"); err != nil {
		t.Fatal(err)
	}
}

func TestSpamIsMarkedAndNotAnswered(t *testing.T) {
	svc, db := setup(t, withAgents(false))
	m := mail("spammer@example.net", "cheap loans", "spam1@example.net")
	m.Headers["X-Spam-Flag"] = "YES"
	res := ingest(t, svc, m)
	if !res.Spam || res.Acknowledged || res.Notified != 0 {
		t.Fatalf("spam: %+v", res)
	}
	if tk := getTicket(t, db, res.TicketID); !tk.Spam {
		t.Fatal("ticket not marked spam")
	}
	if n := len(outbox(t, db)); n != 0 {
		t.Fatalf("spam caused %d mails", n)
	}
}
