package ticket_test

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ticketd/ticketd/ticket"
)

// A web link is bound to its path, its agent and its expiry: changing any
// of them, or a link with no signature, is refused.
func TestWebLinkSigning(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	q, err := url.ParseQuery(testSigner.WebLinkQuery("/t/1024", "Kim.Agent@Example.test", now.Add(14*24*time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if agent, err := testSigner.CheckWebLink("/t/1024", q, now); err != nil || agent != "kim.agent@example.test" {
		t.Fatalf("a good link: %q, %v", agent, err)
	}
	with := func(k, v string) url.Values {
		c := url.Values{}
		for key, vs := range q {
			c[key] = append([]string(nil), vs...)
		}
		c.Set(k, v)
		return c
	}
	for name, c := range map[string]struct {
		path string
		q    url.Values
		at   time.Time
		want error
	}{
		"another ticket":  {"/t/1025", q, now, ticket.ErrLinkBad},
		"another agent":   {"/t/1024", with("a", "lee.agent@example.test"), now, ticket.ErrLinkBad},
		"a later expiry":  {"/t/1024", with("exp", "9999999999"), now, ticket.ErrLinkBad},
		"no signature":    {"/t/1024", with("sig", ""), now, ticket.ErrLinkUnsigned},
		"expired":         {"/t/1024", q, now.Add(15 * 24 * time.Hour), ticket.ErrLinkExpired},
		"another secret":  {"/t/1024", with("sig", strings.Repeat("a", len(q.Get("sig")))), now, ticket.ErrLinkBad},
		"a bad expiry":    {"/t/1024", with("exp", "soon"), now, ticket.ErrLinkBad},
		"the queue's sig": {"/login", q, now, ticket.ErrLinkBad},
	} {
		if _, err := testSigner.CheckWebLink(c.path, c.q, c.at); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

// With a web URL, each agent's notification carries links signed for that
// agent alone; without one, none.
func TestNotificationWebLinks(t *testing.T) {
	svc, db := setup(t, withAgents(false), func(c *ticket.Config) {
		c.WebURL, c.WebLinkLifetime = "https://tickets.example.test/", 14*24*time.Hour
	})
	ingest(t, svc, mail("kim@example.org", "대출 문의", "w1@example.org"))
	link := regexp.MustCompile(`https://tickets\.example\.test(/t/1|/login)\?(\S+)`)
	for _, agent := range []ticket.Agent{agentKim, agentLee} {
		n := notification(t, db, agent.Email)
		found := link.FindAllStringSubmatch(n.Text, -1)
		if len(found) != 2 || found[0][1] != "/t/1" || found[1][1] != "/login" {
			t.Fatalf("links in %s's notification: %q\n%s", agent.Email, found, n.Text)
		}
		for _, f := range found {
			q, _ := url.ParseQuery(f[2])
			if a, err := testSigner.CheckWebLink(f[1], q, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)); err != nil || a != agent.Email { // setup's clock
				t.Errorf("%s's link %s: %q, %v", agent.Email, f[0], a, err)
			}
		}
	}
	svc, db = setup(t, withAgents(false))
	ingest(t, svc, mail("kim@example.org", "대출 문의", "w2@example.org"))
	if n := notification(t, db, agentKim.Email); strings.Contains(n.Text, "/t/1?") || strings.Contains(n.Text, "웹에서 보기") {
		t.Fatalf("a link without a web URL:\n%s", n.Text)
	}
}
