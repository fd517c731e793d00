package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ticketd/ticketd/mailbox/smtp"
	"github.com/ticketd/ticketd/ticket"
)

// httpServer serves /healthz and /metrics on a loopback address.
type httpServer struct {
	d    *daemon
	srv  *http.Server
	done chan struct{}
}

// listenHTTP starts the monitoring endpoint on addr; with addr "" it does
// nothing and returns nil. The caller closes it (close accepts nil).
func listenHTTP(d *daemon, addr string) (*httpServer, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http.listen %s: %w (set http.listen to a free loopback port, or \"off\")", addr, err)
	}
	errLog := slog.NewLogLogger(d.log.Handler(), slog.LevelWarn)
	h := &httpServer{d: d, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{
		ErrorLog:      errLog,
		ErrorHandling: promhttp.ContinueOnError, // a gauge that cannot be read does not hide the rest
	}))
	h.srv = &http.Server{
		Handler:           h.recoverer(mux),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          errLog,
	}
	go func() {
		defer close(h.done)
		defer func() {
			if r := recover(); r != nil {
				d.metrics.panicked()
				d.log.Error("http server panic", "panic", r, "stack", string(debug.Stack()))
			}
		}()
		if err := h.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("http server stopped", "err", err)
		}
	}()
	d.log.Info("http: serving /healthz and /metrics", "addr", ln.Addr().String())
	return h, nil
}

// close stops the endpoint, giving requests in flight 5 seconds.
func (h *httpServer) close() {
	if h == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		h.srv.Close()
	}
	<-h.done
}

func (h *httpServer) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p) // net/http's way to abort a response; it recovers this one
			}
			h.d.metrics.panicked()
			h.d.log.Error("http request panic", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			http.Error(w, "internal error", http.StatusInternalServerError)
		}()
		next.ServeHTTP(w, r)
	})
}

// healthReport is the body of GET /healthz. Times are RFC 3339 in UTC,
// null when there is none.
type healthReport struct {
	Status    string          `json:"status"`             // "ok" (200) or "unhealthy" (503)
	Problems  []string        `json:"problems,omitempty"` // why it is unhealthy
	Warnings  []string        `json:"warnings,omitempty"` // what needs doing soon, without being unhealthy yet
	Mailboxes []mailboxHealth `json:"mailboxes"`
	Sending   sendingHealth   `json:"sending"`
	Outbox    outboxHealth    `json:"outbox"`
	OAuth     []oauthStatus   `json:"oauth"`
}

// sendingHealth is how sending through smtp went lately.
type sendingHealth struct {
	Healthy             bool    `json:"healthy"`
	FailingSince        *string `json:"failing_since"`
	ConsecutiveFailures int     `json:"consecutive_failures"`
	LastError           *string `json:"last_error"`
}

type mailboxHealth struct {
	Name                string  `json:"name"`
	Healthy             bool    `json:"healthy"`
	LastSuccess         *string `json:"last_success"`
	FailingSince        *string `json:"failing_since"`
	ConsecutiveFailures int     `json:"consecutive_failures"`
	LastError           *string `json:"last_error"`
}

type outboxHealth struct {
	Depth            int     `json:"depth"`
	OldestUnsent     *string `json:"oldest_unsent"`
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
	Error            string  `json:"error,omitempty"` // the database could not be read
}

func (h *httpServer) healthz(w http.ResponseWriter, r *http.Request) {
	rep := h.d.health(time.Now())
	code := http.StatusOK
	if rep.Status != "ok" {
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(rep)
}

// health reports every mailbox and the outbox. It is unhealthy when a
// mailbox is (see mailboxHealth) or the database cannot be read.
func (d *daemon) health(now time.Time) healthReport {
	rep := healthReport{Status: "ok", Mailboxes: []mailboxHealth{}}
	for _, p := range d.pollers {
		mh := d.mailboxHealth(p)
		if !mh.Healthy {
			rep.Problems = append(rep.Problems, fmt.Sprintf("mailbox %s: %d consecutive failed polls since %s",
				mh.Name, mh.ConsecutiveFailures, *mh.FailingSince))
		}
		rep.Mailboxes = append(rep.Mailboxes, mh)
	}
	if err := d.db.Damaged(); err != nil {
		rep.Problems = append(rep.Problems, "database: "+err.Error())
	}
	depth, oldest, err := d.readOutbox()
	if err != nil {
		rep.Outbox.Error = d.redact(err.Error())
		rep.Problems = append(rep.Problems, "outbox: the database cannot be read")
	}
	rep.Outbox.Depth = depth
	if !oldest.IsZero() {
		rep.Outbox.OldestUnsent = rfc3339(oldest)
		rep.Outbox.OldestAgeSeconds = max(now.Sub(oldest).Seconds(), 0)
	}
	var sendProblems, oauthProblems []string
	rep.Sending, sendProblems = d.sendingHealth(now, oldest)
	rep.Problems = append(rep.Problems, sendProblems...)
	rep.OAuth, oauthProblems, rep.Warnings = d.oauthHealth(now)
	rep.Problems = append(rep.Problems, oauthProblems...)
	if w := d.indexing.warning(); w != "" {
		rep.Warnings = append(rep.Warnings, d.redact(w))
	}
	if built, err := d.db.SearchBuilt(); err == nil && !built {
		rep.Warnings = append(rep.Warnings, "search: the index is not built yet; serve builds it in the background (or run ticketd reindex), searches fail until then")
	}
	if len(rep.Problems) > 0 {
		rep.Status = "unhealthy"
	}
	return rep
}

// mailboxHealth is p's state. A mailbox is unhealthy once health.fail_after
// polls in a row have failed. That includes a mailbox that never succeeded
// in fail_after polls: failures only go back to 0 on a successful poll. A
// poll stopped by shutdown counts neither way.
func (d *daemon) mailboxHealth(p *poller) mailboxHealth {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	mh := mailboxHealth{Name: p.Name(), ConsecutiveFailures: p.failures, Healthy: p.failures < max(d.s.Config.Health.FailAfter, 1)}
	if !p.lastOK.IsZero() {
		mh.LastSuccess = rfc3339(p.lastOK)
	}
	if p.failures > 0 {
		mh.FailingSince = rfc3339(p.failSince)
		e := d.redact(p.lastErr)
		mh.LastError = &e
	}
	return mh
}

// sendingHealth reports the outbox's sending. It is unhealthy while the
// last attempts could not reach or log in to the SMTP server (refused,
// unreachable, no answer, TLS, authentication: each names the keys to
// check), and when the oldest queued mail (queued at oldest) has waited
// longer than health.outbox_max_age. A mail refused for itself (a 5xx) or
// a 4xx for one recipient is the mail's problem, not sending's.
func (d *daemon) sendingHealth(now, oldest time.Time) (sendingHealth, []string) {
	sh := sendingHealth{Healthy: true}
	var problems []string
	st := d.outbox.State()
	var ce *smtp.ConnectError
	if st.Failures > 0 && errors.As(st.LastError, &ce) {
		sh.Healthy, sh.ConsecutiveFailures = false, st.Failures
		sh.FailingSince = rfc3339(st.FailingSince)
		e := d.redact(st.LastError.Error())
		sh.LastError = &e
		problems = append(problems, fmt.Sprintf("smtp: mail cannot be sent since %s (%d attempt(s)): %s; check %s",
			*sh.FailingSince, st.Failures, connectProblem(ce.Stage), d.smtpKeys(ce.Stage)))
	}
	if maxAge := time.Duration(d.s.Config.Health.OutboxMaxAge); !oldest.IsZero() && maxAge > 0 && now.Sub(oldest) > maxAge {
		sh.Healthy = false
		problems = append(problems, fmt.Sprintf("outbox: the oldest queued mail has waited %s, longer than health.outbox_max_age (%s)",
			now.Sub(oldest).Round(time.Second), maxAge))
	}
	return sh, problems
}

// connectProblem says what a smtp.ConnectError's stage means.
func connectProblem(stage string) string {
	switch stage {
	case "auth":
		return "the server refused the login (authentication failed)"
	case "tls":
		return "TLS with the server failed"
	case "greeting":
		return "the server's greeting or EHLO failed"
	case "busy":
		return "the server cannot take mail right now (a 4xx answer: its own services, such as its authentication, may be down)"
	case "oauth":
		return "no access token to sign in with"
	}
	return "the server cannot be reached or does not answer"
}

// smtpKeys names the configuration keys to check for a failure at stage.
func (d *daemon) smtpKeys(stage string) string {
	switch stage {
	case "auth":
		return "smtp.username and " + d.s.SMTPPasswordKey
	case "tls":
		return "smtp.security, smtp.port and smtp.ca_file"
	case "busy":
		return "the SMTP server's own logs"
	case "oauth":
		return d.s.SMTPPasswordKey
	}
	return "smtp.host, smtp.port and smtp.security (and that the server runs)"
}

// readOutbox returns how many mails are in the outbox and when the oldest
// was queued (zero when it is empty).
func (d *daemon) readOutbox() (depth int, oldest time.Time, err error) {
	err = d.db.View(func(tx ticket.ReadTx) error {
		return tx.EachOutgoing(func(o ticket.Outgoing) error {
			depth++
			if oldest.IsZero() || o.CreatedAt.Before(oldest) {
				oldest = o.CreatedAt
			}
			return nil
		})
	})
	if err != nil {
		d.metrics.storeFailed()
	}
	return depth, oldest, err
}

// redact removes the configured passwords from an error's text. The
// errors shown do not contain them; this makes sure. A password shorter
// than 4 bytes is left alone: replacing it would garble the text (every
// "x" of it for the password "x") and hide nothing.
func (d *daemon) redact(s string) string {
	secrets := []string{d.s.SMTP.Password}
	for _, mc := range d.s.IMAP {
		secrets = append(secrets, mc.Password)
	}
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

func rfc3339(t time.Time) *string {
	s := t.UTC().Format(time.RFC3339)
	return &s
}
