package devserver

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// MaxMessageBytes is the largest message the SMTP server accepts.
const MaxMessageBytes = 32 << 20

// Options configure [Start]. The zero value starts servers without users.
type Options struct {
	// Users maps an email address (the IMAP login and SMTP recipient) to its
	// password.
	Users map[string]string
	// Folders are created for every user in addition to INBOX, e.g.
	// "Processed".
	Folders []string
	// TLS generates a self-signed certificate and turns on STARTTLS (IMAP and
	// SMTP) and an implicit-TLS IMAP listener.
	TLS bool
	// Caps are the IMAP capabilities; nil means IMAP4rev1 + IMAP4rev2.
	Caps imap.CapSet
	// Bearer, when set, makes IMAP and SMTP offer the XOAUTH2 and
	// OAUTHBEARER mechanisms too, and says whether an access token is
	// valid for a user (the login address).
	Bearer func(user, token string) bool
	// Log receives server errors and recovered panics (nil: slog.Default()).
	Log *slog.Logger

	// IMAPListen, IMAPTLSListen, SMTPListen and SMTPTLSListen are the listen
	// addresses; empty means 127.0.0.1 on a random port. The host must be a
	// loopback address or "localhost". The TLS ones are used only with TLS.
	IMAPListen, IMAPTLSListen, SMTPListen, SMTPTLSListen string
}

// Server is a running pair of in-memory IMAP and SMTP servers. Its methods
// are safe for concurrent use.
type Server struct {
	log   *slog.Logger
	mem   *imapmemserver.Server
	users map[string]*user // by lower-cased email
	// bearer checks access tokens (Options.Bearer); nil: no OAuth.
	bearer func(user, token string) bool

	imap *imapserver.Server
	smtp *smtp.Server

	imapLn, imapTLSLn, smtpLn, smtpTLSLn net.Listener

	roots *x509.CertPool

	hookMu sync.Mutex
	hook   func(from string, rcpts []string, data []byte) error

	wg        sync.WaitGroup
	closing   atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// user is one mailbox owner.
type user struct {
	login, password string
	mem             *imapmemserver.User
}

// Start creates the users and folders and starts listening. Call Close to
// stop the servers.
func Start(opts Options) (*Server, error) {
	s := &Server{
		bearer: opts.Bearer,
		log:    opts.Log,
		mem:    imapmemserver.New(),
		users:  map[string]*user{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("component", "devserver")

	logins := make([]string, 0, len(opts.Users))
	for login := range opts.Users {
		logins = append(logins, login)
	}
	sort.Strings(logins)
	for _, login := range logins {
		key := strings.ToLower(strings.TrimSpace(login))
		if key == "" || !strings.Contains(key, "@") {
			return nil, fmt.Errorf("devserver: user %q: want a full email address", login)
		}
		if _, dup := s.users[key]; dup {
			return nil, fmt.Errorf("devserver: user %q given twice (addresses are case-insensitive)", login)
		}
		u := &user{login: login, password: opts.Users[login], mem: imapmemserver.NewUser(login, opts.Users[login])}
		for _, f := range append([]string{"INBOX"}, opts.Folders...) {
			if err := u.mem.Create(f, nil); err != nil {
				return nil, fmt.Errorf("devserver: user %s: create folder %q: %w", login, f, err)
			}
		}
		s.mem.AddUser(u.mem)
		s.users[key] = u
	}

	var tlsConfig *tls.Config
	if opts.TLS {
		cert, roots, err := SelfSigned()
		if err != nil {
			return nil, fmt.Errorf("devserver: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.roots = roots
	}

	caps := opts.Caps
	if caps == nil {
		caps = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}}
	}
	s.imap = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			if s.bearer != nil {
				return &saslSession{SessionIMAP4rev2: s.mem.NewSession().(imapserver.SessionIMAP4rev2), s: s}, nil, nil
			}
			return s.mem.NewSession(), nil, nil
		},
		Caps:         caps,
		Logger:       printfLogger{s.log.With("server", "imap")},
		TLSConfig:    tlsConfig,
		InsecureAuth: true,
	})

	s.smtp = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c}, nil
	}))
	s.smtp.Domain = "localhost"
	s.smtp.AllowInsecureAuth = true
	s.smtp.TLSConfig = tlsConfig
	s.smtp.MaxMessageBytes = MaxMessageBytes
	s.smtp.MaxRecipients = 100
	s.smtp.ReadTimeout = 5 * time.Minute
	s.smtp.WriteTimeout = 5 * time.Minute
	s.smtp.ErrorLog = printfLogger{s.log.With("server", "smtp")}

	var err error
	if s.imapLn, err = listen(opts.IMAPListen); err != nil {
		return nil, fmt.Errorf("devserver: imap: %w", err)
	}
	if s.smtpLn, err = listen(opts.SMTPListen); err != nil {
		s.imapLn.Close()
		return nil, fmt.Errorf("devserver: smtp: %w", err)
	}
	if opts.TLS {
		ln, err := listen(opts.IMAPTLSListen)
		if err != nil {
			s.imapLn.Close()
			s.smtpLn.Close()
			return nil, fmt.Errorf("devserver: imaps: %w", err)
		}
		s.imapTLSLn = tls.NewListener(ln, tlsConfig)
		if ln, err = listen(opts.SMTPTLSListen); err != nil {
			s.imapLn.Close()
			s.smtpLn.Close()
			s.imapTLSLn.Close()
			return nil, fmt.Errorf("devserver: smtps: %w", err)
		}
		s.smtpTLSLn = tls.NewListener(ln, tlsConfig)
	}

	s.serve("imap", func() error { return s.imap.Serve(s.imapLn) })
	if s.imapTLSLn != nil {
		s.serve("imaps", func() error { return s.imap.Serve(s.imapTLSLn) })
	}
	s.serve("smtp", func() error { return s.smtp.Serve(s.smtpLn) })
	if s.smtpTLSLn != nil {
		s.serve("smtps", func() error { return s.smtp.Serve(s.smtpTLSLn) })
	}
	return s, nil
}

// listen opens a TCP listener on a loopback address.
func listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("listen address %q: the dev server listens only on loopback (127.0.0.1, ::1, localhost)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// serve runs fn in a goroutine that recovers and logs panics.
func (s *Server) serve(name string, fn func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("panic in server loop", "server", name, "panic", v, "stack", string(debug.Stack()))
			}
		}()
		if err := fn(); err != nil && !s.closing.Load() {
			s.log.Error("server stopped", "server", name, "err", err)
		}
	}()
}

// IMAPAddr is the host:port of the IMAP listener (plain text, STARTTLS when
// TLS is on).
func (s *Server) IMAPAddr() string { return s.imapLn.Addr().String() }

// IMAPTLSAddr is the host:port of the implicit-TLS IMAP listener, or "" when
// TLS is off.
func (s *Server) IMAPTLSAddr() string {
	if s.imapTLSLn == nil {
		return ""
	}
	return s.imapTLSLn.Addr().String()
}

// SMTPAddr is the host:port of the SMTP listener (plain text, STARTTLS when
// TLS is on).
func (s *Server) SMTPAddr() string { return s.smtpLn.Addr().String() }

// SMTPTLSAddr is the host:port of the implicit-TLS SMTP listener
// (submissions, like port 465), or "" when TLS is off.
func (s *Server) SMTPTLSAddr() string {
	if s.smtpTLSLn == nil {
		return ""
	}
	return s.smtpTLSLn.Addr().String()
}

// RootCAs returns a pool that trusts the server certificate, or nil when TLS
// is off.
func (s *Server) RootCAs() *x509.CertPool { return s.roots }

// SetSMTPHook installs fn (nil removes it). fn is called for every RCPT with
// the single recipient and data == nil, and for every message at the end of
// DATA with all accepted recipients and the received bytes. A non-nil error
// refuses that recipient or message; an *smtp.SMTPError is sent to the
// client as is (e.g. Code 550 or 451), any other error becomes 451 4.3.0.
// fn must be safe for concurrent use.
func (s *Server) SetSMTPHook(fn func(from string, rcpts []string, data []byte) error) {
	s.hookMu.Lock()
	s.hook = fn
	s.hookMu.Unlock()
}

func (s *Server) callHook(from string, rcpts []string, data []byte) error {
	s.hookMu.Lock()
	fn := s.hook
	s.hookMu.Unlock()
	if fn == nil {
		return nil
	}
	err := fn(from, rcpts, data)
	if err == nil {
		return nil
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se
	}
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: err.Error()}
}

// lookup finds a user by email address, case-insensitively.
func (s *Server) lookup(email string) (*user, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	u := s.users[e]
	if local, domain, ok := strings.Cut(e, "@"); u == nil && ok {
		// Plus-addressing, as Postfix and Dovecot do with recipient_delimiter
		// "+": user+detail@domain is delivered to user@domain.
		if base, _, plus := strings.Cut(local, "+"); plus {
			u = s.users[base+"@"+domain]
		}
	}
	if u == nil {
		return nil, fmt.Errorf("devserver: unknown user %q", email)
	}
	return u, nil
}

// Append stores raw in folder of user, as an IMAP APPEND would, and returns
// only after it is visible to IMAP sessions.
func (s *Server) Append(user, folder string, raw []byte) error {
	u, err := s.lookup(user)
	if err != nil {
		return err
	}
	// imapmemserver's Append dereferences its options: never pass nil.
	if _, err := u.mem.Append(folder, bytes.NewReader(raw), &imap.AppendOptions{Time: time.Now()}); err != nil {
		return fmt.Errorf("devserver: append to %s of %s: %w", folder, user, err)
	}
	return nil
}

// Messages returns the raw bytes of every message in folder of user, in UID
// order. It reads them through an IMAP session to the server itself
// (BODY.PEEK[], so \Seen flags do not change).
func (s *Server) Messages(user, folder string) ([][]byte, error) {
	u, err := s.lookup(user)
	if err != nil {
		return nil, err
	}
	c, err := imapclient.DialInsecure(s.IMAPAddr(), nil)
	if err != nil {
		return nil, fmt.Errorf("devserver: messages: dial imap: %w", err)
	}
	defer c.Close()
	if err := c.Login(u.login, u.password).Wait(); err != nil {
		return nil, fmt.Errorf("devserver: messages: login %s: %w", u.login, err)
	}
	sel, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return nil, fmt.Errorf("devserver: messages: select %s of %s: %w", folder, u.login, err)
	}
	if sel.NumMessages == 0 {
		return nil, nil
	}
	var all imap.UIDSet
	all.AddRange(1, 0) // 1:*
	section := &imap.FetchItemBodySection{Peek: true}
	bufs, err := c.Fetch(all, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		return nil, fmt.Errorf("devserver: messages: fetch %s of %s: %w", folder, u.login, err)
	}
	sort.Slice(bufs, func(i, j int) bool { return bufs[i].UID < bufs[j].UID })
	out := make([][]byte, 0, len(bufs))
	for _, b := range bufs {
		out = append(out, b.FindBodySection(section))
	}
	if err := c.Logout().Wait(); err != nil {
		s.log.Debug("imap logout", "err", err)
	}
	return out, nil
}

// Close stops both servers, closing all listeners and connections, and
// waits for the accept loops to end. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		errIMAP := s.imap.Close()
		errSMTP := s.smtp.Close()
		if errors.Is(errIMAP, net.ErrClosed) {
			errIMAP = nil
		}
		if errors.Is(errSMTP, net.ErrClosed) || errors.Is(errSMTP, smtp.ErrServerClosed) {
			errSMTP = nil
		}
		// A Serve that had not registered its listener yet when the servers
		// were closed would accept forever: close the listeners ourselves.
		for _, ln := range []net.Listener{s.imapLn, s.imapTLSLn, s.smtpLn, s.smtpTLSLn} {
			if ln != nil {
				ln.Close()
			}
		}
		s.wg.Wait()
		if errIMAP != nil || errSMTP != nil {
			s.closeErr = fmt.Errorf("devserver: close: %w", errors.Join(errIMAP, errSMTP))
		}
	})
	return s.closeErr
}

// session is one SMTP connection.
type session struct {
	s     *Server
	conn  *smtp.Conn
	from  string
	rcpts []string
	users []*user
	authn string // authenticated user, for the Received header
}

var _ smtp.AuthSession = (*session)(nil)

// AuthMechanisms offers AUTH PLAIN, and XOAUTH2 and OAUTHBEARER with
// Options.Bearer.
func (ss *session) AuthMechanisms() []string {
	if ss.s.bearer != nil {
		return []string{sasl.Plain, mechXOAuth2, mechOAuthBearer}
	}
	return []string{sasl.Plain}
}

// Auth checks AUTH PLAIN against the users' passwords, and the OAuth
// mechanisms' tokens with Options.Bearer.
func (ss *session) Auth(mech string) (sasl.Server, error) {
	bearer := func(user, token string) error {
		u, err := ss.s.bearerLogin(user, token)
		if err != nil {
			return smtp.ErrAuthFailed
		}
		ss.authn = u.login
		return nil
	}
	switch {
	case mech == mechXOAuth2 && ss.s.bearer != nil:
		return &xoauth2Server{check: bearer}, nil
	case mech == mechOAuthBearer && ss.s.bearer != nil:
		return failsAs{sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
			if bearer(o.Username, o.Token) != nil {
				return &sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer"}
			}
			return nil
		}), smtp.ErrAuthFailed}, nil
	case mech != sasl.Plain:
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && !strings.EqualFold(identity, username) {
			return smtp.ErrAuthFailed
		}
		u, err := ss.s.lookup(username)
		if err != nil || subtle.ConstantTimeCompare([]byte(password), []byte(u.password)) != 1 {
			return smtp.ErrAuthFailed
		}
		ss.authn = u.login
		return nil
	}), nil
}

// Mail starts a transaction; any sender is accepted.
func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.from, ss.rcpts, ss.users = from, nil, nil
	return nil
}

// Rcpt accepts known users only.
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	u, err := ss.s.lookup(to)
	if err != nil {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	}
	if err := ss.s.callHook(ss.from, []string{to}, nil); err != nil {
		return err
	}
	ss.rcpts = append(ss.rcpts, to)
	ss.users = append(ss.users, u)
	return nil
}

// Data delivers the message into every recipient's INBOX.
func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("devserver: read message: %w", err)
	}
	if err := ss.s.callHook(ss.from, ss.rcpts, data); err != nil {
		return err
	}
	now := time.Now()
	for i, u := range ss.users {
		var b bytes.Buffer
		fmt.Fprintf(&b, "Return-Path: <%s>\r\n", ss.from)
		fmt.Fprintf(&b, "Received: from %s (%s)%s\r\n\tby localhost (ticketd devserver) with ESMTP\r\n\tfor <%s>; %s\r\n",
			ss.helo(), ss.remote(), ss.authPart(), ss.rcpts[i], now.Format(time.RFC1123Z))
		b.Write(data)
		if _, err := u.mem.Append("INBOX", bytes.NewReader(b.Bytes()), &imap.AppendOptions{Time: now}); err != nil {
			ss.s.log.Error("deliver", "rcpt", ss.rcpts[i], "err", err)
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Delivery failed, try again later"}
		}
	}
	ss.s.log.Debug("delivered", "from", ss.from, "rcpts", ss.rcpts, "size", len(data))
	return nil
}

func (ss *session) helo() string {
	if h := ss.conn.Hostname(); h != "" {
		return h
	}
	return "unknown"
}

func (ss *session) remote() string {
	if c := ss.conn.Conn(); c != nil {
		return c.RemoteAddr().String()
	}
	return "unknown"
}

func (ss *session) authPart() string {
	if ss.authn == "" {
		return ""
	}
	return " (authenticated as " + ss.authn + ")"
}

// Reset aborts the current transaction.
func (ss *session) Reset() { ss.from, ss.rcpts, ss.users = "", nil, nil }

// Logout ends the session.
func (ss *session) Logout() error { return nil }

// printfLogger adapts slog to the Printf loggers of imapserver and go-smtp.
type printfLogger struct{ l *slog.Logger }

func (p printfLogger) Printf(format string, args ...any) {
	p.l.Warn(strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (p printfLogger) Println(args ...any) {
	p.l.Warn(strings.TrimSpace(fmt.Sprintln(args...)))
}

// SelfSigned makes a certificate for 127.0.0.1, ::1 and localhost, valid
// from an hour ago for 30 days, and a pool that trusts it.
func SelfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "ticketd devserver", Organization: []string{"ticketd dev"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("parse certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
