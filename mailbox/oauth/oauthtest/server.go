package oauthtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configure a Server.
type Options struct {
	// Clients are the client IDs with their secrets ("" for a public
	// client, as a device-flow client may be).
	Clients map[string]string
	// AppAccount is the account a client_credentials token acts as (an
	// app with access to that mailbox), per client ID.
	AppAccount map[string]string
	// AccessTTL is the lifetime of an access token (0: one hour).
	AccessTTL time.Duration
	// Rotate makes every refresh return a new refresh token and retire the
	// old one.
	Rotate bool
}

// Server is a running authorization server.
type Server struct {
	opts Options
	ln   net.Listener
	srv  *http.Server

	mu      sync.Mutex
	access  map[string]grant // access token -> what it grants
	refresh map[string]grant // refresh token -> what it grants
	devices map[string]*device
	counts  map[string]int // grant type -> tokens issued
	fail    string         // an OAuth error code every token request gets
}

type grant struct {
	client, account string
	scope           string
	expires         time.Time // access tokens only
}

type device struct {
	client, scope, userCode string
	account                 string // set when approved
	expires                 time.Time
}

// Start starts a server on 127.0.0.1.
func Start(opts Options) (*Server, error) {
	if opts.AccessTTL <= 0 {
		opts.AccessTTL = time.Hour
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, ln: ln, access: map[string]grant{}, refresh: map[string]grant{},
		devices: map[string]*device{}, counts: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("POST /device", s.device)
	mux.HandleFunc("POST /introspect", s.introspect)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// URL is the server's base URL; the endpoints are URL+"/token",
// URL+"/device" and URL+"/introspect".
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Approve completes the pending device login whose user code is userCode,
// as account. It reports whether there was one.
func (s *Server) Approve(userCode, account string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.devices {
		if d.userCode == userCode && d.account == "" {
			d.account = account
			return true
		}
	}
	return false
}

// Pending returns the user codes of the device logins waiting for
// approval.
func (s *Server) Pending() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, d := range s.devices {
		if d.account == "" {
			out = append(out, d.userCode)
		}
	}
	return out
}

// Revoke revokes every refresh and access token of account.
func (s *Server) Revoke(account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, g := range s.refresh {
		if g.account == account {
			delete(s.refresh, k)
		}
	}
	for k, g := range s.access {
		if g.account == account {
			delete(s.access, k)
		}
	}
}

// Expire makes every access token issued so far expired.
func (s *Server) Expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, g := range s.access {
		g.expires = time.Now().Add(-time.Second)
		s.access[k] = g
	}
}

// Fail makes every token request fail with the OAuth error code
// ("temporarily_unavailable" and "server_error" with status 503, any other
// with 400) until Fail(""). (A client may try one request twice, with
// its credentials in the header, then in the form.)
func (s *Server) Fail(code string) {
	s.mu.Lock()
	s.fail = code
	s.mu.Unlock()
}

// Issued returns how many tokens were issued with the grant type
// ("refresh_token", "client_credentials", "device_code").
func (s *Server) Issued(grantType string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[grantType]
}

// Valid reports whether token is a live access token, and whose.
func (s *Server) Valid(token string) (account string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.access[token]
	if !ok || time.Now().After(g.expires) {
		return "", false
	}
	return g.account, true
}

// Bearer reports whether token is a live access token of user: what a
// mail server that checks tokens here decides (devserver.Options.Bearer).
func (s *Server) Bearer(user, token string) bool {
	account, ok := s.Valid(token)
	return ok && account == user
}

func newToken(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// client authenticates the request's client (HTTP Basic or form fields).
func (s *Server) client(r *http.Request) (string, bool) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	want, known := s.opts.Clients[id]
	return id, known && secret == want
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, 400, "invalid_request", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if code := s.fail; code != "" {
		status := 400
		if code == "temporarily_unavailable" || code == "server_error" {
			status = 503
		}
		oauthError(w, status, code, "injected by the test")
		return
	}
	client, ok := s.client(r)
	if !ok {
		oauthError(w, 401, "invalid_client", "unknown client or wrong secret")
		return
	}
	var g grant
	withRefresh := false
	gt := r.PostForm.Get("grant_type")
	switch gt {
	case "refresh_token":
		old, ok := s.refresh[r.PostForm.Get("refresh_token")]
		if !ok || old.client != client {
			oauthError(w, 400, "invalid_grant", "the refresh token is expired or revoked")
			return
		}
		g, withRefresh = old, s.opts.Rotate
		if s.opts.Rotate {
			delete(s.refresh, r.PostForm.Get("refresh_token"))
		}
	case "client_credentials":
		account, ok := s.opts.AppAccount[client]
		if !ok {
			oauthError(w, 400, "unauthorized_client", "this client may not use client_credentials")
			return
		}
		g = grant{client: client, account: account, scope: r.PostForm.Get("scope")}
	case "urn:ietf:params:oauth:grant-type:device_code":
		gt = "device_code"
		d, ok := s.devices[r.PostForm.Get("device_code")]
		switch {
		case !ok || d.client != client:
			oauthError(w, 400, "invalid_grant", "unknown device code")
			return
		case time.Now().After(d.expires):
			oauthError(w, 400, "expired_token", "the device code expired")
			return
		case d.account == "":
			oauthError(w, 400, "authorization_pending", "the user has not approved yet")
			return
		}
		delete(s.devices, r.PostForm.Get("device_code"))
		g, withRefresh = grant{client: client, account: d.account, scope: d.scope}, true
	default:
		oauthError(w, 400, "unsupported_grant_type", gt)
		return
	}
	s.counts[gt]++
	at := newToken("at-")
	g.expires = time.Now().Add(s.opts.AccessTTL)
	s.access[at] = g
	resp := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": int(s.opts.AccessTTL / time.Second), "scope": g.scope}
	if withRefresh {
		rt := newToken("rt-")
		s.refresh[rt] = grant{client: g.client, account: g.account, scope: g.scope}
		resp["refresh_token"] = rt
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

func (s *Server) device(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, 400, "invalid_request", err.Error())
		return
	}
	// RFC 8628 section 3.1: a public client sends its client_id alone.
	client := r.PostForm.Get("client_id")
	if _, known := s.opts.Clients[client]; !known {
		oauthError(w, 401, "invalid_client", "unknown client")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	code := newToken("dc-")
	user := strings.ToUpper(newToken("")[:8])
	user = user[:4] + "-" + user[4:]
	s.devices[code] = &device{client: client, scope: r.PostForm.Get("scope"), userCode: user, expires: time.Now().Add(10 * time.Minute)}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"device_code": code, "user_code": user,
		"verification_uri": s.URL() + "/activate", "expires_in": 600, "interval": 1})
}

// introspect answers RFC 7662: {"active": true, "username": ...} for a
// live access token, {"active": false} otherwise.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, 400, "invalid_request", err.Error())
		return
	}
	tok := r.PostForm.Get("token")
	if tok == "" { // Dovecot's introspection_mode = auth sends it as a bearer header
		tok = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	w.Header().Set("Content-Type", "application/json")
	account, ok := s.Valid(tok)
	if !ok {
		json.NewEncoder(w).Encode(map[string]any{"active": false})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"active": true, "username": account, "email": account, "token_type": "Bearer"})
}
