package oauth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketd/ticketd/mailbox/oauth/oauthtest"
)

// memStore is a Store in memory.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (m *memStore) OAuthState(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[name], nil
}

func (m *memStore) PutOAuthState(name string, b []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string][]byte{}
	}
	m.m[name] = append([]byte(nil), b...)
	return nil
}

func (m *memStore) state(t *testing.T, name string) State {
	t.Helper()
	b, _ := m.OAuthState(name)
	st, err := DecodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func startServer(t *testing.T, opts oauthtest.Options) *oauthtest.Server {
	t.Helper()
	if opts.Clients == nil {
		opts.Clients = map[string]string{"ticketd": "s3cret"}
	}
	srv, err := oauthtest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func deviceCred(srv *oauthtest.Server) Credential {
	return Credential{Name: "m365", Flow: FlowDevice, ClientID: "ticketd", ClientSecret: "s3cret",
		TokenURL: srv.URL() + "/token", DeviceURL: srv.URL() + "/device", Scopes: []string{"mail", "offline_access"}}
}

// login runs the device flow, approving it as account the moment the code
// is shown, and stores the state.
func login(t *testing.T, srv *oauthtest.Server, cred Credential, store *memStore, account string) {
	t.Helper()
	var shown DeviceCode
	st, err := Login(context.Background(), cred, func(c DeviceCode) {
		shown = c
		if !srv.Approve(c.UserCode, account) {
			t.Errorf("no pending login with code %s", c.UserCode)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if shown.UserCode == "" || !strings.HasSuffix(shown.URL, "/activate") || st.RefreshToken == "" || st.LoggedIn.IsZero() {
		t.Fatalf("shown %+v, state %+v", shown, st)
	}
	store.PutOAuthState(cred.Name, st.Encode())
}

// A device login gives a refresh token; the source uses the access token
// until shortly before it expires, then refreshes, and keeps the rotated
// refresh token.
func TestDeviceLoginRefreshAndRotation(t *testing.T) {
	srv := startServer(t, oauthtest.Options{AccessTTL: time.Hour, Rotate: true})
	store := &memStore{}
	cred := deviceCred(srv)
	login(t, srv, cred, store, "support@example.com")
	first := store.state(t, "m365")

	src := NewSource(cred, store, nil)
	now := time.Now()
	src.now = func() time.Time { return now }
	tok, err := src.Token(context.Background())
	if err != nil || tok != first.AccessToken {
		t.Fatalf("first token %q %v, want the login's", tok, err)
	}
	if a, ok := srv.Valid(tok); !ok || a != "support@example.com" {
		t.Fatalf("token not valid at the server: %q %v", a, ok)
	}
	// 50 minutes on: more than 5 minutes left, still the same token.
	now = now.Add(50 * time.Minute)
	if tok2, _ := src.Token(context.Background()); tok2 != tok || srv.Issued("refresh_token") != 0 {
		t.Fatalf("refreshed too early")
	}
	// 56 minutes on: within 5 minutes of expiry, a new one.
	now = now.Add(6 * time.Minute)
	tok3, err := src.Token(context.Background())
	if err != nil || tok3 == tok || srv.Issued("refresh_token") != 1 {
		t.Fatalf("no refresh before expiry: %q %v (issued %d)", tok3, err, srv.Issued("refresh_token"))
	}
	st := store.state(t, "m365")
	if st.RefreshToken == first.RefreshToken || st.RefreshToken == "" || !st.RefreshSince.Equal(now) || st.AccessToken != tok3 {
		t.Fatalf("rotated refresh token not kept: %+v", st)
	}
	// The old refresh token is retired at the server; the stored one works.
	src2 := NewSource(cred, store, nil)
	srv.Expire()
	src2.Refuse(tok3)
	if tok4, err := src2.Token(context.Background()); err != nil || tok4 == tok3 {
		t.Fatalf("the stored (rotated) refresh token did not work: %v", err)
	}
}

// A token a server refused is replaced once; the new one is used from then
// on.
func TestRefusedTokenIsReplacedOnce(t *testing.T) {
	srv := startServer(t, oauthtest.Options{})
	store := &memStore{}
	cred := deviceCred(srv)
	login(t, srv, cred, store, "support@example.com")
	src := NewSource(cred, store, nil)
	tok, _ := src.Token(context.Background())
	src.Refuse(tok)
	tok2, err := src.Token(context.Background())
	if err != nil || tok2 == tok || srv.Issued("refresh_token") != 1 {
		t.Fatalf("after a refusal: %q %v, %d refreshes", tok2, err, srv.Issued("refresh_token"))
	}
	if tok3, _ := src.Token(context.Background()); tok3 != tok2 || srv.Issued("refresh_token") != 1 {
		t.Fatalf("refreshed again without a new refusal")
	}
	// Refusing an old token changes nothing.
	src.Refuse(tok)
	if tok4, _ := src.Token(context.Background()); tok4 != tok2 || srv.Issued("refresh_token") != 1 {
		t.Fatalf("a refusal of the old token refreshed again")
	}
}

// A revoked refresh token breaks the credential for good: the error names
// it and what to run, it is stored, and the source stops asking.
func TestRevokedRefreshTokenBreaksTheCredential(t *testing.T) {
	srv := startServer(t, oauthtest.Options{})
	store := &memStore{}
	cred := deviceCred(srv)
	login(t, srv, cred, store, "support@example.com")
	src := NewSource(cred, store, nil)
	var reports []State
	src.OnBreak(func(st State) error { reports = append(reports, st); return nil })
	tok, _ := src.Token(context.Background())
	srv.Revoke("support@example.com")
	src.Refuse(tok)
	_, err := src.Token(context.Background())
	var be *BrokenError
	if !errors.As(err, &be) || be.Name != "m365" || !strings.Contains(be.Reason, "invalid_grant") {
		t.Fatalf("error %v, want a BrokenError with invalid_grant", err)
	}
	st := src.Status()
	if st.Broken == "" || st.AccessToken != "" || st.RefreshToken != "" || store.state(t, "m365").Broken == "" {
		t.Fatalf("status %+v (tokens must not show), stored %+v", st, store.state(t, "m365"))
	}
	calls := srv.Issued("refresh_token")
	for range 3 {
		src.Token(context.Background())
	}
	if srv.Issued("refresh_token") != calls {
		t.Fatal("a broken credential kept asking")
	}
	// Reported once, also by another source on the same store (another
	// process), and without tokens.
	other := NewSource(cred, store, nil)
	other.OnBreak(func(st State) error { reports = append(reports, st); return nil })
	other.Token(context.Background())
	if len(reports) != 1 || reports[0].Broken == "" || reports[0].RefreshToken != "" || store.state(t, "m365").Told.IsZero() {
		t.Fatalf("reports %+v", reports)
	}
	// A new login mends it.
	login(t, srv, cred, store, "support@example.com")
	src.Reload()
	if _, err := src.Token(context.Background()); err != nil || src.Status().Broken != "" || !src.Status().Told.IsZero() {
		t.Fatalf("after a new login: %v %+v", err, src.Status())
	}
}

// A temporary failure of the token endpoint is not a broken credential:
// the old token serves while it is valid, and the next call tries again.
func TestTemporaryFailureKeepsTheOldToken(t *testing.T) {
	srv := startServer(t, oauthtest.Options{AccessTTL: time.Hour})
	store := &memStore{}
	cred := deviceCred(srv)
	login(t, srv, cred, store, "support@example.com")
	src := NewSource(cred, store, nil)
	now := time.Now()
	src.now = func() time.Time { return now }
	tok, _ := src.Token(context.Background())
	now = now.Add(58 * time.Minute) // due for a refresh, not expired
	srv.Fail("temporarily_unavailable")
	if got, err := src.Token(context.Background()); err != nil || got != tok {
		t.Fatalf("during an outage: %q %v, want the old token", got, err)
	}
	if st := src.Status(); st.Broken != "" || !strings.Contains(st.LastError, "temporarily_unavailable") {
		t.Fatalf("status %+v", st)
	}
	now = now.Add(5 * time.Minute) // expired now
	srv.Fail("server_error")
	if _, err := src.Token(context.Background()); err == nil || errors.As(err, new(*BrokenError)) {
		t.Fatalf("expired during an outage: %v, want a temporary error", err)
	}
	srv.Fail("")
	if got, err := src.Token(context.Background()); err != nil || got == tok {
		t.Fatalf("after the outage: %q %v", got, err)
	}
}

// Client credentials: no login, a token per expiry; a wrong secret breaks
// the credential, tried again every few minutes.
func TestClientCredentials(t *testing.T) {
	srv := startServer(t, oauthtest.Options{AppAccount: map[string]string{"ticketd": "support@example.com"}})
	store := &memStore{}
	cred := Credential{Name: "app", Flow: FlowClientCredentials, ClientID: "ticketd", ClientSecret: "s3cret",
		TokenURL: srv.URL() + "/token", Scopes: []string{"https://outlook.office365.com/.default"}}
	src := NewSource(cred, store, nil)
	tok, err := src.Token(context.Background())
	if a, ok := srv.Valid(tok); err != nil || !ok || a != "support@example.com" {
		t.Fatalf("token %v %q %v", err, a, ok)
	}
	if _, err := Login(context.Background(), cred, func(DeviceCode) {}); err == nil {
		t.Fatal("login of a client-credentials credential")
	}

	cred.ClientSecret = "expired"
	bad := NewSource(cred, &memStore{}, nil)
	now := time.Now()
	bad.now = func() time.Time { return now }
	if _, err := bad.Token(context.Background()); !errors.As(err, new(*BrokenError)) || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("wrong secret: %v", err)
	}
	issued := srv.Issued("client_credentials")
	bad.Token(context.Background())
	now = now.Add(6 * time.Minute)
	bad.cred.ClientSecret = "s3cret" // the operator fixed it (a restart does this)
	if _, err := bad.Token(context.Background()); err != nil || srv.Issued("client_credentials") != issued+1 {
		t.Fatalf("not tried again after brokenRetry: %v", err)
	}
}

// Without a login there is no token, and the error says what to run.
func TestNotLoggedIn(t *testing.T) {
	srv := startServer(t, oauthtest.Options{})
	src := NewSource(deviceCred(srv), &memStore{}, nil)
	_, err := src.Token(context.Background())
	if !errors.As(err, new(*BrokenError)) || !strings.Contains(err.Error(), "ticketd oauth login m365") {
		t.Fatalf("%v", err)
	}
}
