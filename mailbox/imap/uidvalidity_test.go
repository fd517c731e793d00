package imap_test

import (
	"context"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/ticketd/ticketd/mailbox/imap"
	"github.com/ticketd/ticketd/ticket"
)

// When the folder is recreated (a new UIDVALIDITY), the poller rescans it
// from the start and dedupe keeps every mail it already has from being
// stored twice.
func TestUIDValidityChangeRescansWithoutDuplicates(t *testing.T) {
	e := newEnv(t, nil)
	c, err := imapclient.DialInsecure(e.srv.IMAPAddr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("support@example.test", pw).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("Support", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		e.srv.Append("support@example.test", "Support", customerMail(i))
	}
	p := e.poller(t, imap.PostSeen, func(c *imap.Config) { c.Folder = "Support" })
	if st, err := p.Poll(context.Background()); err != nil || st.NewTickets != 3 {
		t.Fatalf("first poll: %+v %v", st, err)
	}
	before, _, _ := e.svc.Cursor(p.Name())

	// The folder is deleted and made again, with the same mails and a new one.
	if err := c.Delete("Support").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("Support", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		e.srv.Append("support@example.test", "Support", customerMail(i))
	}
	st, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	after, _, _ := e.svc.Cursor(p.Name())
	if after.UIDValidity == before.UIDValidity {
		t.Fatalf("UIDVALIDITY did not change (%d); the test proves nothing", after.UIDValidity)
	}
	if st.Fetched != 4 || st.Duplicates != 3 || st.NewTickets != 1 {
		t.Fatalf("after the new UIDVALIDITY: %+v, want 4 fetched, 3 duplicates, 1 new", st)
	}
	var n int
	e.db.View(func(tx ticket.ReadTx) error { ts, _ := tx.Tickets(ticket.TicketFilter{}); n = len(ts); return nil })
	if n != 4 {
		t.Fatalf("%d tickets, want 4", n)
	}
}
