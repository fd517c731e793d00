package imap_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/mailbox/imap"
	"github.com/ticketd/ticketd/ticket"
)

func TestOversizedMailStaysOnServer(t *testing.T) {
	e := newEnv(t, nil)
	big := fmt.Appendf(nil, "From: Kim <kim@example.test>\r\nTo: support@example.test\r\nSubject: 큰 첨부\r\nMessage-ID: <big@example.test>\r\n\r\n%s\r\n",
		bytes.Repeat([]byte("x"), 300<<10))
	e.srv.Append("support@example.test", "INBOX", big)
	e.srv.Append("support@example.test", "INBOX", customerMail(1))
	p := e.poller(t, imap.PostSeen, func(c *imap.Config) { c.MaxMessageBytes = 100 << 10; c.OversizedFolder = "Oversized" })
	st, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Oversized != 1 || st.NewTickets != 2 || st.Bytes > 10<<10 {
		t.Fatalf("stats %+v: want 1 oversized, 2 tickets, and the big body never downloaded", st)
	}
	if moved := flags(t, e.srv, "Oversized"); len(moved) != 1 {
		t.Fatalf("Oversized folder has %d mails, want the big one", len(moved))
	}
	var msgs []ticket.Message
	var out []ticket.Outgoing
	e.db.View(func(tx ticket.ReadTx) error { msgs, _ = tx.Messages(1); out, _ = tx.Outbox(); return nil })
	var note, tooLarge bool
	for _, m := range msgs {
		note = note || (m.Kind == ticket.KindNote && strings.Contains(m.Body, "최대 크기"))
	}
	for _, o := range out {
		tooLarge = tooLarge || (o.TicketID == 1 && strings.Contains(o.Subject, "용량 초과"))
	}
	if msgs[0].Subject != "큰 첨부" || !note || !tooLarge {
		t.Fatalf("oversized ticket: subject %q, note %v, too-large reply %v", msgs[0].Subject, note, tooLarge)
	}
}

func TestStoreFailureQuarantinesAndPollGoesOn(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.Append("support@example.test", "INBOX", customerMail(1))
	e.srv.Append("support@example.test", "INBOX", customerMail(2))
	e.db.FailOn.Store("question 1") // every attempt to store the first mail fails
	st, err := e.poller(t, imap.PostSeen).Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Rejected != 1 || st.NewTickets != 1 {
		t.Fatalf("stats %+v: want the first mail quarantined and the second stored", st)
	}
	var q []ticket.Rejected
	e.db.View(func(tx ticket.ReadTx) error { q, _ = tx.Rejected(); return nil })
	if len(q) != 1 || !strings.Contains(q[0].Reason, "injected storage failure") || !bytes.Contains(q[0].Raw, []byte("question 1")) {
		t.Fatalf("quarantine %+v", q)
	}
	// After the fault is gone (an upgrade, say), retry stores it.
	e.db.FailOn.Store("")
	res, err := mailbox.Retry(e.svc, q[0].ID, nil)
	if err != nil || !res.NewTicket {
		t.Fatalf("retry: %+v %v", res, err)
	}
	e.db.View(func(tx ticket.ReadTx) error { q, _ = tx.Rejected(); return nil })
	if len(q) != 0 {
		t.Fatalf("quarantine after retry: %+v", q)
	}
}

func TestPanicWhileHandlingIsQuarantined(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.Append("support@example.test", "INBOX", customerMail(1))
	e.srv.Append("support@example.test", "INBOX", customerMail(2))
	e.db.PanicOn.Store("question 1")
	st, err := e.poller(t, imap.PostSeen).Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var q []ticket.Rejected
	e.db.View(func(tx ticket.ReadTx) error { q, _ = tx.Rejected(); return nil })
	if st.Rejected != 1 || st.NewTickets != 1 || len(q) != 1 || !strings.Contains(q[0].Reason, "panic") {
		t.Fatalf("stats %+v quarantine %+v", st, q)
	}
	if err := e.svc.DropQuarantined(q[0].ID); err != nil {
		t.Fatal(err)
	}
}

func TestSpamMovedToFolder(t *testing.T) {
	e := newEnv(t, nil)
	spam := strings.Replace(string(customerMail(1)), "Subject:", "X-Spam-Flag: YES\r\nSubject:", 1)
	e.srv.Append("support@example.test", "INBOX", []byte(spam))
	e.srv.Append("support@example.test", "INBOX", customerMail(2))
	if _, err := e.poller(t, imap.PostSeen, func(c *imap.Config) { c.SpamFolder = "Oversized" }).Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if moved := flags(t, e.srv, "Oversized"); len(moved) != 1 {
		t.Fatalf("spam folder has %d mails, want 1", len(moved))
	}
	if left := flags(t, e.srv, "INBOX"); len(left) != 1 {
		t.Fatalf("INBOX has %d mails, want the one good mail", len(left))
	}
}

// A machine that cannot write (the disk is full) quarantines nothing: the
// mail stays on the server unseen, the cursor before it, and is stored once
// the disk has room again.
func TestFullDiskQuarantinesNothing(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.Append("support@example.test", "INBOX", customerMail(1))
	e.srv.Append("support@example.test", "INBOX", customerMail(2))
	p := e.poller(t, imap.PostSeen)
	e.db.FullOn.Store("question 1")
	for i := 0; i < 3; i++ {
		if _, err := p.Poll(context.Background()); err == nil || !strings.Contains(err.Error(), "no space left") {
			t.Fatalf("poll on a full disk: %v", err)
		}
	}
	var q []ticket.Rejected
	var cur ticket.Cursor
	e.db.DB.View(func(tx ticket.ReadTx) error { q, _ = tx.Rejected(); cur, _, _ = tx.Cursor("support/INBOX"); return nil })
	if len(q) != 0 || cur.LastUID != 0 {
		t.Fatalf("on a full disk: %d quarantined, cursor %+v; want none and 0", len(q), cur)
	}
	for id, f := range flags(t, e.srv, "INBOX") {
		if slices.Contains(f, goimap.FlagSeen) {
			t.Fatalf("%s marked seen though not stored", id)
		}
	}
	e.db.FullOn.Store("")
	st, err := p.Poll(context.Background())
	if err != nil || st.NewTickets != 2 || st.Rejected != 0 {
		t.Fatalf("after room is made: %+v %v", st, err)
	}
}
