package imap_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/mailbox/devserver"
	"github.com/ticketd/ticketd/mailbox/imap"
	"github.com/ticketd/ticketd/ticket"
	"github.com/ticketd/ticketd/ticket/tickettest"
)

const pw = "pw"

type env struct {
	srv *devserver.Server
	db  *tickettest.FlakyStore
	svc *ticket.Service
}

func newEnv(t *testing.T, caps goimap.CapSet) *env {
	t.Helper()
	srv, err := devserver.Start(devserver.Options{
		Users:   map[string]string{"support@example.test": pw, "kim@example.test": pw},
		Folders: []string{"Processed", "Oversized"}, Caps: caps,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	fs := &tickettest.FlakyStore{DB: tickettest.DB(t)}
	return &env{srv: srv, db: fs, svc: tickettest.Service(t, fs, ticket.Config{})}
}

// testConfig is the support mailbox at addr (host:port) over plain IMAP,
// with the limits ticketd's configuration ships with: batches of 500, mail
// up to 25 MiB, a 2m timeout, two parse workers, 8 MiB in flight.
func testConfig(addr string) imap.Config {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return imap.Config{Name: "support", Host: host, Port: p, Security: "plain", Username: "support@example.test",
		Password: pw, Folder: "INBOX", PostAction: imap.PostSeen, BatchSize: 500, MaxMessageBytes: 25 << 20,
		Timeout: 2 * time.Minute, Pipe: mailbox.PipeOptions{Workers: 2, MaxBytes: 8 << 20}}
}

func (e *env) poller(t *testing.T, post string, opts ...func(*imap.Config)) *imap.Poller {
	t.Helper()
	cfg := testConfig(e.srv.IMAPAddr())
	cfg.PostAction, cfg.MoveTo, cfg.BatchSize = post, "Processed", 2
	for _, o := range opts {
		o(&cfg)
	}
	pl, err := imap.NewPoller(cfg, e.svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

var customerMail = tickettest.CustomerMail

// flags returns the flags of every mail in the support user's folder, by
// Message-ID.
func flags(t *testing.T, srv *devserver.Server, folder string) map[string][]goimap.Flag {
	t.Helper()
	c, err := imapclient.DialInsecure(srv.IMAPAddr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("support@example.test", pw).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(folder, &goimap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(goimap.SeqSet{{Start: 1, Stop: 0}}, &goimap.FetchOptions{Flags: true, Envelope: true}).Collect()
	if err != nil && !strings.Contains(err.Error(), "No matching messages") {
		t.Fatal(err)
	}
	out := map[string][]goimap.Flag{}
	for _, m := range msgs {
		out[m.Envelope.MessageID] = m.Flags
	}
	return out
}

func hasFlag(fs []goimap.Flag, f goimap.Flag) bool {
	for _, x := range fs {
		if x == f {
			return true
		}
	}
	return false
}

func TestPollStoresOnceAndMarksSeenAfterCommit(t *testing.T) {
	e := newEnv(t, nil)
	for i := 1; i <= 3; i++ {
		e.srv.Append("support@example.test", "INBOX", customerMail(i))
	}
	e.srv.Append("support@example.test", "INBOX", customerMail(1)) // the same mail twice
	p := e.poller(t, imap.PostSeen)

	// While storage fails, nothing is committed and nothing is marked seen.
	e.db.Fail.Store(true) // the quarantine cannot be written either
	if _, err := p.Poll(context.Background()); err == nil {
		t.Fatal("poll with failing storage returned no error")
	}
	for id, fl := range flags(t, e.srv, "INBOX") {
		if hasFlag(fl, goimap.FlagSeen) {
			t.Fatalf("%s marked seen although it was never committed", id)
		}
	}
	if c, ok, _ := e.svc.Cursor(p.Name()); ok && c.LastUID != 0 {
		t.Fatalf("cursor advanced to %d without a commit", c.LastUID)
	}

	e.db.Fail.Store(false)
	st, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Fetched != 4 || st.NewTickets != 3 || st.Duplicates != 1 {
		t.Fatalf("stats %+v, want 4 fetched, 3 new, 1 duplicate", st)
	}
	for id, fl := range flags(t, e.srv, "INBOX") {
		if !hasFlag(fl, goimap.FlagSeen) {
			t.Errorf("%s not marked seen after commit", id)
		}
	}
	// A second poll (a restart: a new Poller on the same database) resumes
	// from the cursor and fetches only what is new.
	e.srv.Append("support@example.test", "INBOX", customerMail(4))
	st, err = e.poller(t, imap.PostSeen).Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Fetched != 1 || st.NewTickets != 1 {
		t.Fatalf("after restart: %+v, want exactly the one new mail", st)
	}
	var n int
	e.db.View(func(tx ticket.ReadTx) error { ts, _ := tx.Tickets(ticket.TicketFilter{}); n = len(ts); return nil })
	if n != 4 {
		t.Fatalf("%d tickets, want 4", n)
	}
}

func TestPollMove(t *testing.T) {
	for name, caps := range map[string]goimap.CapSet{
		"MOVE":            nil,
		"COPY fallback":   {goimap.CapIMAP4rev1: {}},
		"COPY + UIDPLUS ": {goimap.CapIMAP4rev1: {}, goimap.CapUIDPlus: {}},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, caps)
			e.srv.Append("support@example.test", "INBOX", customerMail(1))
			e.srv.Append("support@example.test", "INBOX", customerMail(2))
			if _, err := e.poller(t, imap.PostMove).Poll(context.Background()); err != nil {
				t.Fatal(err)
			}
			moved := flags(t, e.srv, "Processed")
			if len(moved) != 2 {
				t.Fatalf("Processed has %d mails, want 2", len(moved))
			}
			left := flags(t, e.srv, "INBOX")
			for id, fl := range left {
				// Without UIDPLUS we must not EXPUNGE (it could remove other
				// clients' mail), so the originals stay flagged \Deleted.
				if _, uidplus := caps[goimap.CapUIDPlus]; caps == nil || uidplus || !hasFlag(fl, goimap.FlagDeleted) {
					t.Errorf("%s left in INBOX with %v", id, fl)
				}
			}
			// Polling again stores nothing new.
			st, err := e.poller(t, imap.PostMove).Poll(context.Background())
			if err != nil || st.Fetched != 0 {
				t.Fatalf("second poll: %+v %v, want nothing fetched", st, err)
			}
		})
	}
}

func TestRejectedMailAdvancesAndIsKept(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.Append("support@example.test", "INBOX", []byte("\r\n\r\n"))
	e.srv.Append("support@example.test", "INBOX", customerMail(1))
	st, err := e.poller(t, imap.PostSeen).Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Rejected != 1 || st.NewTickets != 1 {
		t.Fatalf("stats %+v, want one rejected and one new ticket", st)
	}
	var rej []ticket.Rejected
	e.db.View(func(tx ticket.ReadTx) error { rej, _ = tx.Rejected(); return nil })
	if len(rej) != 1 || len(rej[0].Raw) == 0 {
		t.Fatalf("rejected %+v, want the raw mail kept", rej)
	}
}

func TestPlainRefusedToRemoteHost(t *testing.T) {
	cfg := testConfig("imap.example.com:143")
	_, err := imap.NewPoller(cfg, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("plain to a remote host: %v, want a loopback error", err)
	}
}

func TestLoginFailureIsReported(t *testing.T) {
	e := newEnv(t, nil)
	cfg := testConfig(e.srv.IMAPAddr())
	cfg.Password = "wrong"
	pl, _ := imap.NewPoller(cfg, e.svc, nil)
	_, err := pl.Poll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "login as support@example.test") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("bad login: %v, want an error naming the user and not the password", err)
	}
}
