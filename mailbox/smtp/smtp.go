package smtp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/emersion/go-sasl"
	gomail "github.com/wneessen/go-mail"
	gomailsmtp "github.com/wneessen/go-mail/smtp"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/mailbox/oauth"
	"github.com/ticketd/ticketd/mailbox/rfc822"
	"github.com/ticketd/ticketd/ticket"
)

// Config describes the submission server ticketd sends through.
type Config struct {
	Host string
	Port int
	// Security is "starttls" (STARTTLS is mandatory, a server that does
	// not offer it is an error), "tls" (implicit TLS, usually port 465)
	// or "plain" (no TLS at all; allowed only when Host is a loopback address
	// or localhost, otherwise NewSender fails).
	Security string
	// Username and Password are the AUTH credentials; an empty Username
	// means no AUTH. The password is never logged.
	Username, Password string
	// Auth is the AUTH mechanism: "plain" or "login" (with a Username), or
	// oauth.AuthXOAuth2 or oauth.AuthOAuthBearer with an access token from Tokens
	// instead of Password.
	Auth   string
	Tokens oauth.Tokens
	// TLSConfig supplies RootCAs, client certificates etc. nil means the
	// system roots. ServerName defaults to Host. Certificate verification
	// cannot be turned off: InsecureSkipVerify is refused.
	TLSConfig *tls.Config
	// Timeout bounds connecting plus the greeting, STARTTLS and AUTH, and
	// then each later step (MAIL, the RCPTs, DATA).
	Timeout time.Duration
	// HELO is the name sent in EHLO ("": the machine's host name).
	HELO string
}

// Sender delivers [ticket.Outgoing] mail over SMTP with go-mail. It opens
// one connection per Send and is safe for concurrent use.
//
// # Recipients
//
// go-mail's own Send aborts the whole message when any RCPT fails (its
// Client.Send returns at the first refused recipient), and it has no way to give envelope recipients apart
// from the To/Cc/Bcc headers. Sender therefore lets go-mail dial,
// STARTTLS and authenticate, and runs the transaction itself on go-mail's
// smtp.Client: MAIL FROM the From address, one RCPT per To and Cc address,
// then a single DATA for the accepted recipients. So:
//
//   - a recipient refused permanently (5xx) is dropped and logged; the others
//     still get the message, and Send returns nil;
//   - if any recipient is refused temporarily (4xx), the transaction is reset
//     and nobody gets the message; Send returns a temporary error, and the
//     retry sends to everybody again without duplicates;
//   - if every recipient is refused permanently, Send returns a permanent
//     error.
//
// # Errors
//
// Errors for which [ticket.IsPermanent] is true: a message that cannot be
// built (bad address, missing Message-ID), and 5xx replies to MAIL, RCPT or
// DATA (except 530, "authentication required", which is a configuration
// problem). Everything else is temporary: connection and TLS failures,
// timeouts, 4xx replies, and any failure while connecting, greeting,
// STARTTLS or AUTH (including 535 bad credentials) — those are properties of
// the server or the configuration, not of the message, so the message is
// kept for a retry once they are fixed.
//
// A connection is kept for the next mail, within bounds (see [keepMails],
// [keepFor] and [keepIdle]): before it is used again it must answer NOOP
// (after a pause) and RSET, and a kept connection that fails before the
// message's data went out is dropped and the mail sent on a new one at
// once. A server that goes away under a kept connection (an MTA
// restarting, whose old smtpd serves the kept session while the new one
// starts) costs at most the connection's bounds, never a mail: a mail is
// sent only when the server said 250 to its data.
type Sender struct {
	cfg Config
	tls *tls.Config
	log *slog.Logger

	mu   sync.Mutex
	idle []*session // the kept connections, the last put last
}

// The bounds of a kept connection (Postfix's own smtp client keeps one for
// 300 s and 100 mails at most; ours are tighter).
const (
	// keepMails is how many mails one connection carries at most.
	keepMails = 100
	// keepFor is how long after it was opened a connection is used.
	keepFor = 30 * time.Second
	// keepIdle is how long an unused connection is kept open.
	keepIdle = 5 * time.Second
	// noopAfter is the pause after which a kept connection must answer
	// NOOP before it is used again.
	noopAfter = time.Second
)

// session is one SMTP connection.
type session struct {
	client       *gomail.Client
	sc           *gomailsmtp.Client
	mu           sync.Mutex
	nc           net.Conn // the socket, closed on cancel
	opened, used time.Time
	mails        int
	timer        *time.Timer // closes the session when kept unused too long
}

// kill closes the socket at once (a cancelled send, a broken session).
func (c *session) kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nc != nil {
		c.nc.Close()
	}
}

// quit ends the session politely, within timeout, then closes it.
func (c *session) quit(timeout time.Duration) {
	if c.sc != nil && c.sc.UpdateDeadline(timeout) == nil {
		c.client.CloseWithSMTPClient(c.sc)
	}
	c.kill()
}

var _ ticket.Sender = (*Sender)(nil)

// NewSender checks cfg and returns a sender. It takes cfg as it is: a
// missing or out-of-range value is an error, never replaced. It does not
// connect.
func NewSender(cfg Config, log *slog.Logger) (*Sender, error) {
	cfg.Host = strings.TrimSpace(cfg.Host)
	if cfg.Host == "" {
		return nil, errors.New("smtp: host is empty; set the submission server's host name")
	}
	switch cfg.Security {
	case "starttls", "tls":
	case "plain":
		if !mailbox.IsLoopback(cfg.Host) {
			return nil, fmt.Errorf("smtp: security plain sends mail and password unencrypted and is only allowed to a loopback host, not %q; use starttls or tls", cfg.Host)
		}
	default:
		return nil, fmt.Errorf("smtp: unknown security %q (want starttls, tls or plain)", cfg.Security)
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("smtp: port %d out of range 1-65535", cfg.Port)
	}
	switch {
	case cfg.Username == "" && cfg.Password != "":
		return nil, errors.New("smtp: a password is set but no username; set both, or neither for no AUTH")
	case oauth.Mechanism(cfg.Auth) != "":
		if cfg.Username == "" || cfg.Tokens == nil || cfg.Password != "" {
			return nil, fmt.Errorf("smtp: auth %s needs a username and Tokens, and no password", cfg.Auth)
		}
	case cfg.Username != "" && cfg.Password == "":
		return nil, fmt.Errorf("smtp: username %q has an empty password", cfg.Username)
	case cfg.Username != "" && cfg.Auth != "plain" && cfg.Auth != "login":
		return nil, fmt.Errorf("smtp: unknown auth %q (want plain or login)", cfg.Auth)
	case cfg.Timeout <= 0:
		return nil, fmt.Errorf("smtp: timeout must be positive, got %v", cfg.Timeout)
	}

	var tc *tls.Config
	if cfg.TLSConfig != nil {
		if cfg.TLSConfig.InsecureSkipVerify {
			return nil, errors.New("smtp: TLSConfig.InsecureSkipVerify is not allowed; add the server's CA to RootCAs instead")
		}
		tc = cfg.TLSConfig.Clone()
	} else {
		tc = &tls.Config{}
	}
	if tc.ServerName == "" {
		tc.ServerName = strings.Trim(cfg.Host, "[]")
	}
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}
	cfg.TLSConfig = nil // use s.tls only

	if log == nil {
		log = slog.Default()
	}
	return &Sender{
		cfg: cfg,
		tls: tc,
		log: log.With("smtp", net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port))),
	}, nil
}

// Send delivers o (see [Sender] for how recipients and errors are
// handled). ctx cancels the whole exchange, including a blocked read.
func (s *Sender) Send(ctx context.Context, o ticket.Outgoing, ready func() error) ([]ticket.Refusal, error) {
	log := s.log.With("ticket", o.TicketID, "msgid", o.MessageID, "outgoing", o.ID)
	m, err := BuildMessage(o)
	if err != nil {
		return nil, ticket.Permanent(fmt.Errorf("smtp: outgoing %d cannot be built: %w", o.ID, err))
	}
	from, err := m.GetSender(false)
	if err != nil {
		return nil, ticket.Permanent(fmt.Errorf("smtp: outgoing %d cannot be built: %w", o.ID, err))
	}
	rcpts := smtpRecipients(o)

	for attempt := 1; ; attempt++ {
		c, kept, err := s.take(ctx, log)
		if err != nil {
			return nil, err
		}
		stop := context.AfterFunc(ctx, c.kill)
		refused, dataSent, err := s.transaction(ctx, c.sc, m, from, rcpts, kept, ready, log)
		live := stop() && ctx.Err() == nil
		_, abandoned := errors.AsType[*abandonedError](err)
		again := err != nil && !abandoned && kept && !dataSent && attempt == 1 && live && staleSession(err)
		switch {
		case abandoned:
			c.kill() // in the middle of the data: the server must not get the end of it
		case live && !again && (err == nil || replyKeepsSession(err)):
			s.put(c)
		default:
			go c.quit(time.Second) // broken, stale or cancelled: never used again
		}
		if again {
			// The kept connection was gone or its server going away
			// (an MTA stopping): nothing was sent; a new connection
			// decides.
			log.Info("smtp: the kept connection failed before the mail was sent; sending it on a new connection", "err", err)
			continue
		}
		return refused, err
	}
}

// take returns the kept connection when it is still within its bounds and
// answers (NOOP after a pause, then RSET), else a new one.
func (s *Sender) take(ctx context.Context, log *slog.Logger) (c *session, kept bool, err error) {
	s.mu.Lock()
	if n := len(s.idle); n > 0 {
		c = s.idle[n-1]
		s.idle = s.idle[:n-1]
		c.timer.Stop()
	}
	s.mu.Unlock()
	if c != nil {
		now := time.Now()
		switch {
		case c.mails >= keepMails || now.Sub(c.opened) >= keepFor:
			go c.quit(time.Second)
		case s.check(ctx, c, now) != nil:
			log.Debug("smtp: the kept connection does not answer; opening a new one")
			c.kill()
		default:
			return c, true, nil
		}
	}
	c, err = s.dial(ctx, log)
	return c, false, err
}

// check proves a kept connection alive: NOOP when it has idled, then RSET
// (which goes with the next mail's commands when the server pipelines).
func (s *Sender) check(ctx context.Context, c *session, now time.Time) error {
	stop := context.AfterFunc(ctx, c.kill)
	defer stop()
	if err := c.sc.UpdateDeadline(s.cfg.Timeout); err != nil {
		return err
	}
	if now.Sub(c.used) >= noopAfter {
		if err := c.sc.Noop(); err != nil {
			return err
		}
	}
	if pipelining(c.sc) {
		return nil
	}
	return c.sc.Reset()
}

// put keeps c for the next mail and, after keepIdle unused, closes it.
// Several sends at once (the outbox's lanes) keep one connection each; a
// send takes the one put last, which has idled least.
func (s *Sender) put(c *session) {
	c.used = time.Now()
	c.mails++
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idle = append(s.idle, c)
	c.timer = time.AfterFunc(keepIdle, func() {
		s.mu.Lock()
		i := slices.Index(s.idle, c)
		if i >= 0 {
			s.idle = slices.Delete(s.idle, i, i+1)
		}
		s.mu.Unlock()
		if i >= 0 {
			c.quit(time.Second)
		}
	})
}

// Close ends the kept connections (QUIT). The sender can still send
// afterwards.
func (s *Sender) Close() {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	for _, c := range idle {
		c.timer.Stop()
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range idle {
		wg.Go(func() { c.quit(time.Second) })
	}
	wg.Wait()
}

// replyKeepsSession reports whether a failed transaction left the session
// usable: the server answered (a refusal is a reply, and we RSET after it)
// and did not say it is closing (421).
func replyKeepsSession(err error) bool {
	te, ok := errors.AsType[*textproto.Error](err)
	return ok && te.Code != 421
}

// staleSession reports whether an error on a kept connection says the
// connection, not the mail, failed: no reply at all (the socket is gone),
// 421 (the server is closing), or a temporary refusal of MAIL FROM (an
// MTA shutting down under the session: its smtpd lives on, but can no
// longer queue mail).
func staleSession(err error) bool {
	te, ok := errors.AsType[*textproto.Error](err)
	if !ok {
		return true
	}
	return te.Code == 421 || (te.Code >= 400 && te.Code < 500 && strings.Contains(err.Error(), "MAIL FROM"))
}

// dial opens, greets, secures and logs in a new connection.
func (s *Sender) dial(ctx context.Context, log *slog.Logger) (*session, error) {
	c := &session{opened: time.Now()}
	// Dial through our own function so that a cancelled ctx can close the
	// connection even after go-mail's dial has returned.
	stop := context.AfterFunc(ctx, c.kill)
	defer stop()
	dialer := func(dctx context.Context, network, addr string) (net.Conn, error) {
		nd := &net.Dialer{Timeout: s.cfg.Timeout}
		var nc net.Conn
		var err error
		if s.cfg.Security == "tls" {
			nc, err = (&tls.Dialer{NetDialer: nd, Config: s.tls}).DialContext(dctx, network, addr)
		} else {
			nc, err = nd.DialContext(dctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.nc = nc
		c.mu.Unlock()
		if ctx.Err() != nil { // cancelled between dial and registration
			nc.Close()
			return nil, ctx.Err()
		}
		return nc, nil
	}
	for attempt := 1; ; attempt++ {
		var token string
		var err error
		if s.oauth() {
			if token, err = s.cfg.Tokens.Token(ctx); err != nil {
				return nil, fmt.Errorf("smtp: connect to %s:%d: %w", s.cfg.Host, s.cfg.Port, &ConnectError{Stage: "oauth", Err: err})
			}
		}
		if c.client, err = gomail.NewClient(s.cfg.Host, s.clientOptions(dialer, token)...); err != nil {
			return nil, fmt.Errorf("smtp: set up client: %w", err)
		}
		c.sc, err = c.client.DialToSMTPClientWithContext(ctx)
		if err == nil {
			return c, nil
		}
		// Connecting, greeting, STARTTLS and AUTH: never the message's fault.
		c.mu.Lock()
		dialed := c.nc != nil
		if c.nc != nil {
			c.nc.Close()
		}
		c.nc = nil
		c.mu.Unlock()
		stage := connectStage(dialed, err)
		if s.oauth() && stage == "auth" && attempt == 1 && ctx.Err() == nil {
			// The token may have been revoked before it expired: once
			// more with a new one.
			s.cfg.Tokens.Refuse(token)
			log.Info("smtp: the server refused the access token; trying once more with a new one", "err", err)
			continue
		}
		return nil, fmt.Errorf("smtp: connect to %s:%d: %w", s.cfg.Host, s.cfg.Port,
			&ConnectError{Stage: stage, Err: smtpCtxErr(ctx, err)})
	}
}

// ConnectError is a failure to reach or log in to the SMTP server, before
// any mail is given to it: a problem of the server or of the
// configuration, never of the mail (which stays queued).
type ConnectError struct {
	// Stage is where it failed: "connect" (refused, unreachable, no
	// answer within the timeout at any step), "tls" (the handshake, a certificate, STARTTLS missing),
	// "auth" (the credentials refused, or AUTH not offered), "busy" (a
	// 4xx: the server cannot take mail or check a login right now, e.g.
	// its authentication service is down), "greeting" (the server's
	// greeting or EHLO) or "oauth" (no access token could be had: the
	// error is the credential's).
	Stage string
	Err   error
}

func (e *ConnectError) Error() string { return e.Stage + ": " + e.Err.Error() }
func (e *ConnectError) Unwrap() error { return e.Err }

// connectStage tells where go-mail's dial, greeting, STARTTLS and AUTH
// failed; dialed says whether the TCP (or TLS) connection was made.
func connectStage(dialed bool, err error) string {
	msg := err.Error()
	_, certErr := errors.AsType[*tls.CertificateVerificationError](err)
	_, recErr := errors.AsType[tls.RecordHeaderError](err)
	code := smtpCode(err)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return "connect" // no answer in time, whatever it was asked
	case code >= 400 && code < 500:
		return "busy"
	case strings.Contains(msg, "SMTP AUTH") || errors.Is(err, gomail.ErrPlainAuthNotSupported) ||
		errors.Is(err, gomail.ErrLoginAuthNotSupported) || code == 535 || code == 534:
		return "auth"
	case certErr || recErr || strings.Contains(msg, "STARTTLS") || strings.Contains(msg, "tls:") || strings.Contains(msg, "x509:"):
		return "tls"
	case !dialed:
		return "connect"
	}
	return "greeting"
}

// abandonedError is a transaction given up in the middle of its data (ready
// failed, or a pipelined DATA was answered 354 for a mail that is not to
// go): the connection is dropped so the server never gets the end.
type abandonedError struct{ err error }

func (e *abandonedError) Error() string { return e.err.Error() }
func (e *abandonedError) Unwrap() error { return e.err }

// pipelining reports whether the server takes commands in groups
// (PIPELINING, RFC 2920).
func pipelining(sc *gomailsmtp.Client) bool {
	ok, _ := sc.Extension("PIPELINING")
	return ok
}

// stepError wraps err from the SMTP step what, permanent when the server's
// reply says so.
func stepError(ctx context.Context, what string, err error) error {
	err = fmt.Errorf("smtp: %s: %w", what, smtpCtxErr(ctx, err))
	if smtpPermanent(err) {
		return ticket.Permanent(err)
	}
	return err
}

// recipients sorts the replies to RCPT: accepted, refused for good (5xx),
// refused for now (4xx).
type recipients struct {
	accepted, tempFailed []string
	refused              []ticket.Refusal
	refusedErrs          []error
	tempErr              error
}

func (rs *recipients) add(r string, err error) {
	switch {
	case err == nil:
		rs.accepted = append(rs.accepted, r)
	case smtpPermanent(err):
		rs.refused = append(rs.refused, smtpRefusal(r, err))
		rs.refusedErrs = append(rs.refusedErrs, fmt.Errorf("<%s>: %w", r, err))
	default:
		rs.tempFailed = append(rs.tempFailed, r)
		if rs.tempErr == nil {
			rs.tempErr = err
		}
	}
}

// verdict is the error that stops the mail before its data: a recipient
// refused for now stops it for all (it is tried again later, for all), and
// so does every recipient refused for good.
func (rs *recipients) verdict(ctx context.Context) error {
	if len(rs.tempFailed) > 0 {
		return stepError(ctx, fmt.Sprintf("RCPT TO refused temporarily for <%s>; nobody was sent the message, retry later", strings.Join(rs.tempFailed, ">, <")), rs.tempErr)
	}
	if len(rs.accepted) == 0 {
		return ticket.Permanent(fmt.Errorf("smtp: every recipient was refused: %w", errors.Join(rs.refusedErrs...)))
	}
	return nil
}

// transaction runs MAIL, RCPT and DATA on an established connection (with
// RSET first when reset is set and the server pipelines; else take sent
// it). ready, when not nil, is asked after the message is written and
// before the end of its data; an *abandonedError means the end was not
// sent.
//
// dataSent reports whether the message's data went out (so the server may
// have it although no reply came).
func (s *Sender) transaction(ctx context.Context, sc *gomailsmtp.Client, m *gomail.Msg, from string, rcpts []string, reset bool, ready func() error, log *slog.Logger) (refused []ticket.Refusal, dataSent bool, err error) {
	if err := sc.UpdateDeadline(s.cfg.Timeout); err != nil {
		return nil, false, stepError(ctx, "set deadline", err)
	}
	var rs recipients
	var data io.Writer
	var end func() (string, error) // sends the end of the data, reads the reply
	if pipelining(sc) {
		data, end, err = s.pipelinedEnvelope(ctx, sc, from, rcpts, reset, &rs)
	} else {
		data, end, err = s.envelope(ctx, sc, from, rcpts, &rs)
	}
	if err != nil {
		return rs.refused, false, err
	}
	// Each write of the message gets the timeout anew: a large mail on a
	// slow line goes on as long as it moves, a stalled server is noticed
	// within the timeout.
	if _, err := m.WriteTo(&deadlineWriter{w: data, sc: sc, d: s.cfg.Timeout}); err != nil {
		return nil, true, stepError(ctx, "write message", err)
	}
	if ready != nil {
		if err := ready(); err != nil {
			return nil, false, &abandonedError{err}
		}
	}
	if err := sc.UpdateDeadline(s.cfg.Timeout); err != nil {
		return nil, true, stepError(ctx, "set deadline", err)
	}
	resp, err := end()
	if err != nil {
		// A refusal at the end of DATA (554: content, a virus) is about
		// the message: nobody got it, and no recipient is to blame.
		return nil, true, stepError(ctx, "end of DATA", err)
	}
	for _, e := range rs.refusedErrs {
		log.Warn("smtp recipient refused permanently; the other recipients were sent the message", "err", e)
	}
	log.Info("smtp sent", "rcpts", len(rs.accepted), "refused", len(rs.refused), "response", resp)
	return rs.refused, true, nil
}

// envelope sends MAIL, each RCPT and DATA one at a time, each after the
// reply to the one before.
func (s *Sender) envelope(ctx context.Context, sc *gomailsmtp.Client, from string, rcpts []string, rs *recipients) (io.Writer, func() (string, error), error) {
	reset := func() {
		if err := sc.Reset(); err != nil {
			s.log.Debug("smtp rset", "err", err)
		}
	}
	if err := sc.Mail(from); err != nil {
		return nil, nil, stepError(ctx, "MAIL FROM:<"+strings.Trim(from, "<>")+">", err)
	}
	for _, r := range rcpts {
		if err := sc.UpdateDeadline(s.cfg.Timeout); err != nil {
			return nil, nil, stepError(ctx, "set deadline", err)
		}
		err := sc.Rcpt("<" + r + ">")
		if _, isProto := errors.AsType[*textproto.Error](err); err != nil && !isProto {
			// Not a reply: the connection is broken, stop here.
			return nil, nil, stepError(ctx, "RCPT TO:<"+r+">", err)
		}
		rs.add(r, err)
	}
	if err := rs.verdict(ctx); err != nil {
		reset()
		return nil, nil, err
	}
	if err := sc.UpdateDeadline(s.cfg.Timeout); err != nil {
		return nil, nil, stepError(ctx, "set deadline", err)
	}
	w, err := sc.Data()
	if err != nil {
		return nil, nil, stepError(ctx, "DATA", err)
	}
	return w, func() (string, error) {
		if err := w.Close(); err != nil {
			return "", err
		}
		if dc, ok := w.(*gomailsmtp.DataCloser); ok {
			return dc.ServerResponse(), nil
		}
		return "", nil
	}, nil
}

// pipelinedEnvelope sends RSET (when reset), MAIL, every RCPT and DATA in
// one write and reads their replies in order: one round trip where
// envelope takes one a command. Every reply is read even after a
// refusal, so the connection stays in step; a DATA answered 354 for a mail
// that is not to go is abandoned.
func (s *Sender) pipelinedEnvelope(ctx context.Context, sc *gomailsmtp.Client, from string, rcpts []string, reset bool, rs *recipients) (io.Writer, func() (string, error), error) {
	type command struct {
		what, line string
		expect     int
	}
	var cmds []command
	if reset {
		cmds = append(cmds, command{"RSET", "RSET", 250})
	}
	mail := "MAIL FROM:" + from
	if ok, _ := sc.Extension("8BITMIME"); ok {
		mail += " BODY=8BITMIME"
	}
	if ok, _ := sc.Extension("SMTPUTF8"); ok {
		mail += " SMTPUTF8"
	}
	cmds = append(cmds, command{"MAIL FROM:<" + strings.Trim(from, "<>") + ">", mail, 250})
	for _, r := range rcpts {
		cmds = append(cmds, command{"RCPT TO:<" + r + ">", "RCPT TO:<" + r + ">", 25})
	}
	cmds = append(cmds, command{"DATA", "DATA", 354})
	for _, c := range cmds {
		if strings.ContainsAny(c.line, "\r\n") {
			return nil, nil, ticket.Permanent(fmt.Errorf("smtp: %s: a line break in the command", c.what))
		}
		sc.Text.W.WriteString(c.line + "\r\n")
	}
	if err := sc.Text.W.Flush(); err != nil {
		return nil, nil, stepError(ctx, cmds[0].what, err)
	}
	replies := make([]error, len(cmds))
	for i, c := range cmds {
		_, _, err := sc.Text.ReadResponse(c.expect)
		if _, isProto := errors.AsType[*textproto.Error](err); err != nil && !isProto {
			// Not a reply: the connection is broken (or the server closed
			// it after a 421 to an earlier command, which then says why).
			for k, e := range replies[:i] {
				if e != nil {
					return nil, nil, stepError(ctx, cmds[k].what, e)
				}
			}
			return nil, nil, stepError(ctx, c.what, err)
		}
		replies[i] = err
	}
	open := replies[len(cmds)-1] == nil // DATA answered 354: the server waits for data
	stop := func(err error) (io.Writer, func() (string, error), error) {
		if open {
			err = &abandonedError{err}
		}
		return nil, nil, err
	}
	i := 0
	if reset {
		if replies[0] != nil {
			return stop(stepError(ctx, "RSET", replies[0]))
		}
		i++
	}
	if replies[i] != nil {
		return stop(stepError(ctx, cmds[i].what, replies[i]))
	}
	for j, r := range rcpts {
		rs.add(r, replies[i+1+j])
	}
	if err := rs.verdict(ctx); err != nil {
		return stop(err)
	}
	if !open {
		return nil, nil, stepError(ctx, "DATA", replies[len(cmds)-1])
	}
	w := sc.Text.DotWriter()
	return w, func() (string, error) {
		if err := w.Close(); err != nil {
			return "", err
		}
		_, msg, err := sc.Text.ReadResponse(250)
		return msg, err
	}, nil
}

// deadlineWriter renews the connection's deadline before each write.
type deadlineWriter struct {
	w  io.Writer
	sc *gomailsmtp.Client
	d  time.Duration
}

func (dw *deadlineWriter) Write(b []byte) (int, error) {
	if err := dw.sc.UpdateDeadline(dw.d); err != nil {
		return 0, err
	}
	return dw.w.Write(b)
}

// smtpRefusal describes a recipient refused by a 5xx reply to RCPT TO.
func smtpRefusal(rcpt string, err error) ticket.Refusal {
	r := ticket.Refusal{Email: rcpt, Code: smtpCode(err), Text: err.Error()}
	if te, ok := errors.AsType[*textproto.Error](err); ok {
		r.Text = te.Msg
		if code := rfc822.EnhancedCode(strings.Fields(te.Msg + " x")[0]); code != "" {
			r.Status = code
			r.Text = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(te.Msg), code))
		}
	}
	return r
}

// oauth reports whether the sender logs in with access tokens.
func (s *Sender) oauth() bool { return oauth.Mechanism(s.cfg.Auth) != "" }

// saslAuth lets go-mail run a SASL client of package oauth.
type saslAuth struct{ c sasl.Client }

func (a saslAuth) Start(*gomailsmtp.ServerInfo) (string, []byte, error) { return a.c.Start() }

func (a saslAuth) Next(challenge []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	return a.c.Next(challenge)
}

// clientOptions translates the configuration into go-mail options; token
// is the access token for the OAuth mechanisms.
func (s *Sender) clientOptions(dial gomail.DialContextFunc, token string) []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(s.cfg.Timeout),
		gomail.WithTLSConfig(s.tls),
		gomail.WithDialContextFunc(dial),
	}
	switch s.cfg.Security {
	case "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case "tls":
		// Our dial function does the TLS handshake; WithSSL stops go-mail
		// from trying STARTTLS on top.
		opts = append(opts, gomail.WithSSL(), gomail.WithTLSPolicy(gomail.NoTLS))
	case "plain":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(s.cfg.HELO))
	}
	if s.oauth() {
		mech := oauth.Mechanism(s.cfg.Auth)
		client, _ := oauth.NewClient(mech, s.cfg.Username, token) // mech is one of its two
		return append(opts, gomail.WithSMTPAuthCustom(saslAuth{client}))
	}
	if s.cfg.Username != "" {
		var auth gomail.SMTPAuthType
		switch {
		case s.cfg.Auth == "login" && s.cfg.Security == "plain":
			auth = gomail.SMTPAuthLoginNoEnc // loopback only, checked in NewSender
		case s.cfg.Auth == "login":
			auth = gomail.SMTPAuthLogin
		case s.cfg.Security == "plain":
			auth = gomail.SMTPAuthPlainNoEnc
		default:
			auth = gomail.SMTPAuthPlain
		}
		opts = append(opts, gomail.WithSMTPAuth(auth),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	return opts
}

// smtpRecipients lists the envelope recipients of o: To then Cc, each
// address once (compared case-insensitively).
func smtpRecipients(o ticket.Outgoing) []string {
	var out []string
	for _, a := range slices.Concat(o.To, o.Cc) {
		e := strings.TrimSpace(a.Email)
		if e == "" || slices.ContainsFunc(out, func(x string) bool { return strings.EqualFold(x, e) }) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// smtpCtxErr prefers the context's error when ctx ended, so a cancelled send
// is reported as such rather than as "use of closed network connection".
func smtpCtxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return err
}

// smtpCode returns the SMTP reply code carried by err, or 0.
func smtpCode(err error) int {
	if te, ok := errors.AsType[*textproto.Error](err); ok {
		return te.Code
	}
	if se, ok := errors.AsType[*gomail.SendError](err); ok {
		return se.ErrorCode()
	}
	return 0
}

// smtpPermanent reports whether err is a 5xx reply other than 530
// (authentication required, a configuration problem). It is only applied to
// replies within a mail transaction.
func smtpPermanent(err error) bool {
	code := smtpCode(err)
	return code >= 500 && code <= 599 && code != 530
}

// smtpReservedHeaders are set by BuildMessage itself or would change the
// message's recipients or structure; Outgoing.Headers may not set them.
var smtpReservedHeaders = map[string]bool{
	"From": true, "Sender": true, "To": true, "Cc": true, "Bcc": true, "Reply-To": true,
	"Subject": true, "Date": true, "Message-Id": true, "In-Reply-To": true, "References": true,
	"Mime-Version": true, "Content-Type": true, "Content-Transfer-Encoding": true,
	"Content-Disposition": true, "Return-Path": true,
	"Resent-From": true, "Resent-To": true, "Resent-Cc": true, "Resent-Bcc": true,
	"Resent-Sender": true, "Resent-Date": true, "Resent-Message-Id": true,
	"User-Agent": true, "X-Mailer": true,
}

// BuildMessage turns o into a go-mail message: From, To, Cc and Reply-To
// with display names, Subject, Message-ID (o.MessageID, which has no angle
// brackets), Date (o.CreatedAt, or now if zero), In-Reply-To, References
// (one space-separated list), every o.Headers entry, and a text/plain body
// with a text/html alternative when o.HTML is set. No User-Agent or X-Mailer
// is added. CR, LF and other control characters are removed from the
// subject, display names and header values, so none of them can start a new
// header. The envelope sender is the From address.
//
// It fails on an invalid or missing address, a missing Message-ID, no
// recipients, or an Outgoing.Headers name that is invalid or one of the
// headers set here (From, To, Bcc, Subject, Content-Type, ...).
func BuildMessage(o ticket.Outgoing) (*gomail.Msg, error) {
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())

	from, err := smtpAddress(o.From)
	if err != nil {
		return nil, fmt.Errorf("From: %w", err)
	}
	m.FromMailAddress(from)
	m.EnvelopeFromMailAddress(&mail.Address{Address: from.Address})

	to, err := smtpAddresses(o.To)
	if err != nil {
		return nil, fmt.Errorf("To: %w", err)
	}
	cc, err := smtpAddresses(o.Cc)
	if err != nil {
		return nil, fmt.Errorf("Cc: %w", err)
	}
	if len(to)+len(cc) == 0 {
		return nil, errors.New("no recipients (To and Cc are empty)")
	}
	if len(to) > 0 {
		m.ToMailAddress(to...)
	}
	if len(cc) > 0 {
		m.CcMailAddress(cc...)
	}
	replyTo, err := smtpAddresses(o.ReplyTo)
	if err != nil {
		return nil, fmt.Errorf("Reply-To: %w", err)
	}
	if len(replyTo) > 0 {
		m.ReplyToMailAddress(replyTo...)
	}

	m.Subject(smtpClean(o.Subject))

	// Ours are always safe (see ticket.SafeMessageID); one that is not was
	// not made by the outbox.
	id := ticket.SafeMessageID(o.MessageID)
	if id != strings.Trim(strings.TrimSpace(o.MessageID), "<>") {
		return nil, fmt.Errorf("Message-ID: invalid message id %q", o.MessageID)
	}
	if id == "" {
		return nil, errors.New("Message-ID is empty; the outbox must fix it when the mail is queued")
	}
	m.SetMessageIDWithValue(id)

	date := o.CreatedAt
	if date.IsZero() {
		date = time.Now()
	}
	m.SetDateWithValue(date)

	// The customer's Message-IDs are echoed in their safe form: one that
	// cannot go into a header byte-exactly (non-ASCII, spaces, brackets)
	// is %XX-escaped rather than failing the mail; the stored mail is
	// indexed under that form too, so replies still thread.
	if irt := ticket.SafeMessageID(o.InReplyTo); irt != "" {
		m.SetGenHeader(gomail.HeaderInReplyTo, "<"+irt+">")
	}
	var refs []string
	for _, r := range o.References {
		if id := ticket.SafeMessageID(r); id != "" {
			refs = append(refs, "<"+id+">")
		}
	}
	if len(refs) > 0 {
		m.SetGenHeader(gomail.HeaderReferences, strings.Join(refs, " "))
	}

	names := make([]string, 0, len(o.Headers))
	for k := range o.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		name := textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(k))
		if !smtpFieldName(name) {
			return nil, fmt.Errorf("header name %q is not a valid field name", k)
		}
		if smtpReservedHeaders[name] {
			return nil, fmt.Errorf("header %q is set from the Outgoing fields and cannot be given in Headers", k)
		}
		m.SetGenHeader(gomail.Header(name), smtpClean(o.Headers[k]))
	}

	m.SetBodyString(gomail.TypeTextPlain, o.Text)
	if o.HTML != "" {
		m.AddAlternativeString(gomail.TypeTextHTML, o.HTML)
	}
	for i, f := range o.Attachments {
		name := smtpClean(f.Filename)
		if name == "" {
			name = fmt.Sprintf("attachment-%d", i+1)
		}
		ct := f.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		if err := m.AttachReader(name, bytes.NewReader(f.Data), gomail.WithFileContentType(gomail.ContentType(smtpClean(ct)))); err != nil {
			return nil, fmt.Errorf("attachment %q: %w", name, err)
		}
	}
	return m, nil
}

// Record returns o as the MIME mail BuildMessage makes of it, for keeping
// what was sent (ticket.Config.Record).
func Record(o ticket.Outgoing) ([]byte, error) {
	m, err := BuildMessage(o)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := m.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("write mail: %w", err)
	}
	return b.Bytes(), nil
}

// smtpAddress validates one address and cleans its display name.
func smtpAddress(a ticket.Address) (*mail.Address, error) {
	e := strings.TrimSpace(a.Email)
	if e == "" {
		return nil, errors.New("empty address")
	}
	p, err := mail.ParseAddress(e)
	if err != nil || p.Address != e || p.Name != "" {
		return nil, fmt.Errorf("invalid address %q", a.Email)
	}
	return &mail.Address{Name: smtpClean(a.Name), Address: e}, nil
}

func smtpAddresses(as []ticket.Address) ([]*mail.Address, error) {
	var out []*mail.Address
	for _, a := range as {
		m, err := smtpAddress(a)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// smtpClean makes s safe for a header value or a file name: control
// characters (CR, LF, TAB, NUL, ...) and Unicode line/paragraph separators
// become spaces, runs of spaces collapse and the ends are trimmed, and
// bidirectional controls (U+202A-U+202E, U+2066-U+2069, LRM, RLM, ALM),
// which can make "gpj.exe" look like "exe.jpg" or reorder a subject, are
// removed.
func smtpClean(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.Is(unicode.Bidi_Control, r) {
			continue
		}
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// smtpFieldName reports whether s is a valid header field name (RFC 5322
// section 3.6.8: printable ASCII except colon).
func smtpFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 || s[i] == ':' {
			return false
		}
	}
	return true
}
