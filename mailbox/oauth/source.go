package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// The ways a credential gets its tokens.
const (
	// FlowDevice is the device authorization grant (RFC 8628): a person
	// logs in once (`ticketd oauth login`), and the refresh token it gives
	// is kept and used from then on.
	FlowDevice = "device"
	// FlowClientCredentials is app-only access (RFC 6749 section 4.4): the
	// client's own secret gets each token, with no person involved.
	FlowClientCredentials = "client_credentials"
)

// Credential is one OAuth 2.0 client and how it gets its tokens.
type Credential struct {
	Name         string
	Flow         string // FlowDevice or FlowClientCredentials
	ClientID     string
	ClientSecret string // "" for a public client
	TokenURL     string
	DeviceURL    string // for FlowDevice
	Scopes       []string
	// HTTPClient makes the token requests; nil: one with a 30 s timeout.
	HTTPClient *http.Client
}

// Store keeps each credential's State by name, as the bytes State.Encode
// gives. OAuthState returns nil, nil for a credential it has nothing of.
type Store interface {
	OAuthState(name string) ([]byte, error)
	PutOAuthState(name string, data []byte) error
}

// State is what is known of a credential's tokens. It is kept in the
// Store; Source.Status returns it without the tokens.
type State struct {
	Flow         string    `json:"flow"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	AccessToken  string    `json:"access_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"` // of the access token
	// LoggedIn is when a person last logged in (FlowDevice); RefreshSince
	// when the refresh token in use was issued (a login or a rotation).
	LoggedIn     time.Time `json:"logged_in,omitzero"`
	RefreshSince time.Time `json:"refresh_since,omitzero"`
	// Refreshed is the last time a token request succeeded.
	Refreshed   time.Time `json:"refreshed,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// Broken says why no token can be had until an operator acts: the
	// refresh token was revoked or expired (log in again), the client
	// secret is wrong or expired, consent is missing. "" when tokens come.
	Broken string `json:"broken,omitempty"`
	// Told is when the breakage was reported (Source.OnBreak), so that it
	// is reported once, whichever process found it.
	Told time.Time `json:"told,omitzero"`
}

// Encode is the State as the Store keeps it.
func (st State) Encode() []byte {
	b, _ := json.Marshal(st) // a struct of strings and times
	return b
}

// DecodeState reads what State.Encode wrote.
func DecodeState(b []byte) (State, error) {
	var st State
	err := json.Unmarshal(b, &st)
	return st, err
}

// BrokenError is what Token returns while the credential is broken.
type BrokenError struct {
	Name, Reason string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("oauth credential %s: %s", e.Name, e.Reason)
}

// How the source paces itself (no operator sets these).
const (
	// refreshEarly is how long before its expiry an access token is
	// replaced (a quarter of its lifetime when that is shorter).
	refreshEarly = 5 * time.Minute
	// brokenRetry is how often a broken client-credentials grant is tried
	// again (consent may be granted meanwhile); a broken refresh token is
	// never tried again: only a new login mends it.
	brokenRetry = 5 * time.Minute
	httpTimeout = 30 * time.Second
)

// Source gives the access tokens of one credential, refreshing them before
// they expire and when a server refuses one, and keeps its State in the
// Store. It is safe for concurrent use; tokens are never logged.
type Source struct {
	cred  Credential
	store Store
	log   *slog.Logger
	now   func() time.Time

	mu        sync.Mutex
	st        State
	loaded    bool
	refused   string    // an access token a server refused: replaced at the next Token
	lastTried time.Time // the last token request of a broken credential
	onBreak   func(State) error
}

// NewSource returns the source of cred's tokens, keeping its state in
// store. A nil log is slog.Default().
func NewSource(cred Credential, store Store, log *slog.Logger) *Source {
	if log == nil {
		log = slog.Default()
	}
	if cred.HTTPClient == nil {
		cred.HTTPClient = defaultClient()
	}
	return &Source{cred: cred, store: store, log: log.With("credential", cred.Name), now: time.Now}
}

// Name is the credential's name.
func (s *Source) Name() string { return s.cred.Name }

// Flow is the credential's flow.
func (s *Source) Flow() string { return s.cred.Flow }

// OnBreak sets the function that reports a breakage (it mails the
// operator): it is called once per breakage, when Token finds the
// credential broken and the breakage was not reported yet, by this
// source or any other on the same store; when it returns nil the
// breakage counts as reported. It runs with the source locked and must
// not call it.
func (s *Source) OnBreak(fn func(State) error) {
	s.mu.Lock()
	s.onBreak = fn
	s.mu.Unlock()
}

// broken returns the BrokenError of the current breakage, reporting it
// first if nobody has.
func (s *Source) broken(now time.Time) error {
	if s.onBreak != nil && s.st.Told.IsZero() {
		st := s.st
		st.AccessToken, st.RefreshToken = "", ""
		if err := s.onBreak(st); err != nil {
			s.log.Error("oauth: the breakage could not be reported; trying again at the next use", "err", err)
		} else {
			s.st.Told = now
			s.save()
		}
	}
	return &BrokenError{Name: s.cred.Name, Reason: s.st.Broken}
}

// Status is the credential's state without its tokens. A device-flow
// credential that was never logged in is broken from the start.
func (s *Source) Status() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	st := s.st
	if s.cred.Flow == FlowDevice && st.RefreshToken == "" && st.Broken == "" {
		st.Broken = s.notLoggedIn()
	}
	st.AccessToken, st.RefreshToken = "", ""
	return st
}

func (s *Source) notLoggedIn() string {
	return "not logged in: run `ticketd oauth login " + s.cred.Name + "`"
}

// Reload forgets what the source holds, so that the next Token reads the
// state from the store again (after `ticketd oauth login` wrote it).
func (s *Source) Reload() {
	s.mu.Lock()
	s.loaded, s.refused, s.lastTried = false, "", time.Time{}
	s.mu.Unlock()
}

// Refuse tells the source that a server refused token: the next Token
// gets a new one (once: the new token is not refused until a server says
// so).
func (s *Source) Refuse(token string) {
	s.mu.Lock()
	s.refused = token
	s.mu.Unlock()
}

// load reads the state from the store once.
func (s *Source) load() {
	if s.loaded {
		return
	}
	s.st = State{Flow: s.cred.Flow}
	b, err := s.store.OAuthState(s.cred.Name)
	switch {
	case err != nil:
		s.log.Warn("oauth: reading the stored state failed", "err", err)
		return // tried again at the next call
	case b != nil:
		if st, err := DecodeState(b); err != nil {
			s.log.Warn("oauth: the stored state is unreadable; starting afresh", "err", err)
		} else if st.Flow == s.cred.Flow {
			s.st = st
		}
	}
	s.loaded = true
}

// Token returns an access token that is valid for a while yet.
func (s *Source) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	now := s.now()
	if s.st.Broken != "" && (s.cred.Flow == FlowDevice || now.Sub(s.lastTried) < brokenRetry) {
		return "", s.broken(now)
	}
	if s.st.AccessToken != "" && s.st.AccessToken != s.refused && now.Before(s.st.Expiry.Add(-s.early())) {
		return s.st.AccessToken, nil
	}
	if s.cred.Flow == FlowDevice && s.st.RefreshToken == "" {
		s.fail(now, s.notLoggedIn(), true)
		return "", s.broken(now)
	}
	s.lastTried = now
	tok, err := s.fetch(ctx)
	if err != nil {
		permanent, reason := classify(err)
		s.fail(now, reason, permanent)
		if permanent {
			s.log.Error("oauth: the credential is broken; mail waits until it is mended", "reason", reason)
			return "", s.broken(now)
		}
		s.log.Warn("oauth: getting an access token failed; trying again at the next use", "err", reason)
		if s.st.AccessToken != "" && s.st.AccessToken != s.refused && now.Before(s.st.Expiry) {
			return s.st.AccessToken, nil // early refresh failed; the old one still works
		}
		return "", fmt.Errorf("oauth credential %s: %s", s.cred.Name, reason)
	}
	if s.st.Broken != "" {
		s.log.Info("oauth: the credential works again")
	}
	s.st.AccessToken, s.st.Expiry = tok.AccessToken, tok.Expiry
	if tok.Expiry.IsZero() {
		s.st.Expiry = now.Add(time.Hour) // the provider did not say
	}
	if tok.RefreshToken != "" && tok.RefreshToken != s.st.RefreshToken {
		if s.st.RefreshToken != "" {
			s.log.Info("oauth: the provider rotated the refresh token")
		}
		s.st.RefreshToken, s.st.RefreshSince = tok.RefreshToken, now
	}
	s.st.Refreshed, s.st.Broken, s.st.Told, s.refused = now, "", time.Time{}, ""
	s.save()
	return s.st.AccessToken, nil
}

// early is how long before expiry the access token is replaced.
func (s *Source) early() time.Duration {
	if life := s.st.Expiry.Sub(s.st.Refreshed); s.st.Refreshed.IsZero() || life <= 0 {
		return refreshEarly
	} else {
		return min(refreshEarly, life/4)
	}
}

// fail records a failed token request.
func (s *Source) fail(now time.Time, reason string, permanent bool) {
	s.st.LastError, s.st.LastErrorAt = reason, now
	if permanent {
		s.st.Broken = reason
		s.st.AccessToken = "" // whatever it was, it will not be renewed
	}
	s.save()
}

func (s *Source) save() {
	if err := s.store.PutOAuthState(s.cred.Name, s.st.Encode()); err != nil {
		s.log.Error("oauth: storing the state failed", "err", err)
	}
}

// fetch asks the token endpoint for a new access token.
func (s *Source) fetch(ctx context.Context) (*oauth2.Token, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.cred.HTTPClient)
	if s.cred.Flow == FlowClientCredentials {
		cc := clientcredentials.Config{ClientID: s.cred.ClientID, ClientSecret: s.cred.ClientSecret,
			TokenURL: s.cred.TokenURL, Scopes: s.cred.Scopes}
		return cc.Token(ctx)
	}
	return s.cred.config().TokenSource(ctx, &oauth2.Token{RefreshToken: s.st.RefreshToken}).Token()
}

// defaultClient makes token requests when the credential has no client.
func defaultClient() *http.Client { return &http.Client{Timeout: httpTimeout} }

func (c Credential) config() *oauth2.Config {
	return &oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, Scopes: c.Scopes,
		Endpoint: oauth2.Endpoint{TokenURL: c.TokenURL, DeviceAuthURL: c.DeviceURL}}
}

// permanentCodes are the OAuth errors (RFC 6749 section 5.2) that no retry
// mends: an operator must log in again or fix the client.
var permanentCodes = []string{"invalid_grant", "invalid_client", "unauthorized_client", "invalid_scope",
	"access_denied", "unsupported_grant_type", "expired_token"}

// classify says whether err is permanent, and what it was, without the
// response body (which may echo a token).
func classify(err error) (permanent bool, reason string) {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code := re.ErrorCode
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		reason = fmt.Sprintf("the authorization server answered %d %s", status, code)
		if re.ErrorDescription != "" {
			reason += ": " + re.ErrorDescription
		}
		return slices.Contains(permanentCodes, code) || code == "" && status == http.StatusUnauthorized, reason
	}
	return false, err.Error()
}
