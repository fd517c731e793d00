package imap_test

import (
	"context"

	"errors"
	"strings"
	"testing"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/ticketd/ticketd/mailbox/devserver"
	"github.com/ticketd/ticketd/mailbox/imap"
	"github.com/ticketd/ticketd/mailbox/oauth"
	"github.com/ticketd/ticketd/mailbox/oauth/oauthtest"
	"github.com/ticketd/ticketd/ticket"
	"github.com/ticketd/ticketd/ticket/tickettest"
)

// oauthEnv is a mailbox that takes access tokens from a test
// authorization server, and a credential logged in to it.
type oauthEnv struct {
	*env
	auth *oauthtest.Server
	src  *oauth.Source
}

func newOAuthEnv(t *testing.T) *oauthEnv {
	t.Helper()
	auth, err := oauthtest.Start(oauthtest.Options{Clients: map[string]string{"ticketd": "s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auth.Close() })
	srv, err := devserver.Start(devserver.Options{
		Users:  map[string]string{"support@example.test": pw, "kim@example.test": pw},
		Bearer: auth.Bearer,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	fs := &tickettest.FlakyStore{DB: tickettest.DB(t)}
	e := &env{srv: srv, db: fs, svc: tickettest.Service(t, fs, ticket.Config{})}
	cred := oauth.Credential{Name: "support", Flow: oauth.FlowDevice, ClientID: "ticketd", ClientSecret: "s3cret",
		TokenURL: auth.URL() + "/token", DeviceURL: auth.URL() + "/device"}
	st, err := oauth.Login(context.Background(), cred, func(c oauth.DeviceCode) { auth.Approve(c.UserCode, "support@example.test") })
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.PutOAuthState("support", st.Encode()); err != nil {
		t.Fatal(err)
	}
	return &oauthEnv{env: e, auth: auth, src: oauth.NewSource(cred, fs.DB, nil)}
}

func (e *oauthEnv) poller(t *testing.T, auth string) *imap.Poller {
	t.Helper()
	return e.env.poller(t, imap.PostSeen, func(c *imap.Config) { c.Auth, c.Tokens, c.Password = auth, e.src, "" })
}

// A mailbox polled with XOAUTH2 or OAUTHBEARER; a token the server
// refuses (revoked before its expiry) is replaced once and the poll goes
// on.
func TestPollWithAccessTokens(t *testing.T) {
	for _, auth := range []string{oauth.AuthXOAuth2, oauth.AuthOAuthBearer} {
		t.Run(auth, func(t *testing.T) {
			e := newOAuthEnv(t)
			e.srv.Append("support@example.test", "INBOX", customerMail(1))
			st, err := e.poller(t, auth).Poll(context.Background())
			if err != nil || st.NewTickets != 1 {
				t.Fatalf("poll: %+v %v", st, err)
			}
			e.auth.Expire() // the server now refuses the token the source holds
			e.srv.Append("support@example.test", "INBOX", customerMail(2))
			st, err = e.poller(t, auth).Poll(context.Background())
			if err != nil || st.NewTickets != 1 || e.auth.Issued("refresh_token") != 1 {
				t.Fatalf("poll with a refused token: %+v %v, %d refreshes", st, err, e.auth.Issued("refresh_token"))
			}
		})
	}
}

// A revoked refresh token: the poll fails naming the credential, and the
// mail stays on the server, unseen, for the poll after a new login.
func TestPollWithARevokedLogin(t *testing.T) {
	e := newOAuthEnv(t)
	e.srv.Append("support@example.test", "INBOX", customerMail(1))
	e.auth.Revoke("support@example.test")
	e.auth.Expire()
	e.src.Reload()
	_, err := e.poller(t, oauth.AuthXOAuth2).Poll(context.Background())
	var be *oauth.BrokenError
	if !errors.As(err, &be) || be.Name != "support" || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("poll: %v, want the broken credential named", err)
	}
	for id, fl := range flags(t, e.srv, "INBOX") {
		if hasFlag(fl, goimap.FlagSeen) {
			t.Fatalf("%s marked seen without a login", id)
		}
	}
	var tickets []ticket.Ticket
	e.db.View(func(tx ticket.ReadTx) error { tickets, _ = tx.Tickets(ticket.TicketFilter{}); return nil })
	if len(tickets) != 0 {
		t.Fatalf("%d tickets without a login", len(tickets))
	}
}
