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
		"MAILER-DAEMON@example.org", "no-reply@bank.example", "donotreply@x.example", "MAILER-DAEMON", "root"} {
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

// A customer's second inquiry within the minimum interval is not left
// without its number: the acknowledgement is held and sent once the
// interval has passed, several folded into one mail; a mail loop gets one
// summary at most.
func TestHeldAcknowledgementsAreSentLater(t *testing.T) {
	now := time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)
	svc, db := setup(t, withAgents(false), func(c *ticket.Config) { c.Now = func() time.Time { return now } })
	release := func() int {
		t.Helper()
		n, _, err := svc.ReleaseHeld()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	acksTo := func(addr string) []ticket.Outgoing {
		var out []ticket.Outgoing
		for _, o := range mailTo(t, db, addr) {
			if o.Headers["Auto-Submitted"] == "auto-replied" {
				out = append(out, o)
			}
		}
		return out
	}
	start := now
	first := ingest(t, svc, mail("kim@example.org", "대출 문의", "h1@example.org"))
	now = now.Add(30 * time.Second)
	second := ingest(t, svc, mail("kim@example.org", "카드 문의", "h2@example.org"))
	if !first.Acknowledged || second.Acknowledged || !second.AckDue.Equal(start.Add(2*time.Minute)) {
		t.Fatalf("second inquiry: %+v", second)
	}
	// The agents' notification says so.
	var note string
	for _, o := range mailTo(t, db, agentKim.Email) {
		if o.TicketID == second.TicketID {
			note = o.Text
		}
	}
	if !strings.Contains(note, "접수 안내 메일: 11월 24일 10:02쯤 보낼 예정") {
		t.Fatalf("notification of #%d does not say the acknowledgement is held:\n%s", second.TicketID, note)
	}
	now = now.Add(20 * time.Second)
	third := ingest(t, svc, mail("kim@example.org", "앱 로그인", "h3@example.org"))
	if third.Acknowledged || third.AckDue.IsZero() {
		t.Fatalf("third inquiry: %+v", third)
	}
	if n := release(); n != 0 || len(acksTo("kim@example.org")) != 1 {
		t.Fatalf("released %d before the interval passed", n)
	}
	now = now.Add(2 * time.Minute)
	if n := release(); n != 2 {
		t.Fatalf("released %d, want #%d and #%d", n, second.TicketID, third.TicketID)
	}
	acks := acksTo("kim@example.org")
	if len(acks) != 2 {
		t.Fatalf("%d acknowledgements, want the first and one summary", len(acks))
	}
	sum := acks[1]
	if sum.TicketID != third.TicketID || !strings.Contains(sum.Subject, "문의 2건") ||
		!strings.Contains(sum.Text, "#2") || !strings.Contains(sum.Text, "#3") || sum.InReplyTo != "h3@example.org" {
		t.Fatalf("summary: %+v", sum)
	}
	if n := release(); n != 0 {
		t.Fatalf("released %d again", n)
	}
	// A "new inquiry" right after the summary: a loop, not acknowledged.
	now = now.Add(10 * time.Second)
	loop := ingest(t, svc, mail("kim@example.org", "I am away", "h4@example.org"))
	if loop.Acknowledged || !loop.AckDue.IsZero() || !strings.Contains(loop.HeldBack, "loop") {
		t.Fatalf("mail right after the summary: %+v", loop)
	}
	now = now.Add(time.Hour)
	if n := release(); n != 0 {
		t.Fatalf("released %d for the loop", n)
	}
	var noted bool
	for _, m := range messages(t, db, loop.TicketID) {
		noted = noted || (m.Kind == ticket.KindNote && strings.Contains(m.Body, "접수 안내 메일을 보내지 않았습니다: 메일 순환 의심"))
	}
	if !noted {
		t.Fatal("the withheld acknowledgement is not recorded on the ticket")
	}

	// Held, then answered by an agent: no acknowledgement needed.
	ingest(t, svc, mail("lee@example.org", "첫째", "l1@example.org"))
	now = now.Add(time.Second)
	held := ingest(t, svc, mail("lee@example.org", "둘째", "l2@example.org"))
	if err := svc.Reply(held.TicketID, agentKim.Email, "답변입니다.", nil); err != nil {
		t.Fatal(err)
	}
	now = now.Add(5 * time.Minute)
	if n := release(); n != 0 || len(acksTo("lee@example.org")) != 1 {
		t.Fatalf("released %d for an answered ticket", n)
	}
}
