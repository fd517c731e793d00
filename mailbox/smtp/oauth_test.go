package smtp

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ticketd/ticketd/mailbox/devserver"
	"github.com/ticketd/ticketd/mailbox/oauth"
)

// fakeTokens hands out the tokens of a list, one per Refuse.
type fakeTokens struct {
	mu      sync.Mutex
	tokens  []string
	refused []string
	err     error
}

func (f *fakeTokens) Token(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return "", f.err
	}
	return f.tokens[len(f.refused)], nil
}

func (f *fakeTokens) Refuse(tok string) {
	f.mu.Lock()
	f.refused = append(f.refused, tok)
	f.mu.Unlock()
}

// Sending with XOAUTH2 and OAUTHBEARER: a refused (revoked) token is
// replaced once; a second refusal is an auth failure; no token at all is
// the stage "oauth", with the credential's error.
func TestSendWithAccessTokens(t *testing.T) {
	srv, err := devserver.Start(devserver.Options{
		Users:  map[string]string{"support@example.test": "pw", "customer@example.org": "pw"},
		Bearer: func(user, token string) bool { return user == "support@example.test" && token == "good" },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	host, p, _ := net.SplitHostPort(srv.SMTPAddr())
	port, _ := strconv.Atoi(p)
	for _, mech := range []string{oauth.AuthXOAuth2, oauth.AuthOAuthBearer} {
		send := func(tokens *fakeTokens) error {
			snd, err := NewSender(Config{Host: host, Port: port, Security: "plain", Username: "support@example.test",
				Auth: mech, Tokens: tokens, Timeout: 5 * time.Second}, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = snd.Send(context.Background(), smtpOutgoing(), nil)
			return err
		}
		if err := send(&fakeTokens{tokens: []string{"good"}}); err != nil {
			t.Errorf("%s: %v", mech, err)
		}
		tk := &fakeTokens{tokens: []string{"revoked", "good"}}
		if err := send(tk); err != nil || len(tk.refused) != 1 || tk.refused[0] != "revoked" {
			t.Errorf("%s with a revoked token: %v, refused %v", mech, err, tk.refused)
		}
		var ce *ConnectError
		tk = &fakeTokens{tokens: []string{"bad", "worse", "good"}}
		if err := send(tk); !errors.As(err, &ce) || ce.Stage != "auth" || len(tk.refused) != 1 {
			t.Errorf("%s refused twice: %v (refused %v), want stage auth after one retry", mech, err, tk.refused)
		}
		broken := errors.New("oauth credential support: the refresh token was revoked")
		if err := send(&fakeTokens{err: broken}); !errors.As(err, &ce) || ce.Stage != "oauth" || !errors.Is(err, broken) {
			t.Errorf("%s without a token: %v, want stage oauth", mech, err)
		}
	}
	if _, err := NewSender(Config{Host: host, Port: port, Security: "plain", Username: "u", Auth: oauth.AuthXOAuth2, Timeout: time.Second}, nil); err == nil {
		t.Error("xoauth2 without Tokens accepted")
	}
}
