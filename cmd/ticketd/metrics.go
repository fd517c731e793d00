package main

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ticketd/ticketd/mailbox/imap"
	"github.com/ticketd/ticketd/store/postgres"
	"github.com/ticketd/ticketd/ticket"
)

// errPollPanic marks a poll that ended in a recovered panic.
var errPollPanic = errors.New("panic while polling")

// metrics are the daemon's Prometheus metrics, on a registry of their own
// (never the global default) together with the Go and process collectors.
// GET /metrics serves them (http.go); README.md lists them. Counters count
// from the start of the process. The gauges are read when scraped.
type metrics struct {
	reg         *prometheus.Registry
	fetched     *prometheus.CounterVec // mailbox
	created     prometheus.Counter
	followups   prometheus.Counter
	duplicates  prometheus.Counter
	quarantined prometheus.Counter
	acks        *prometheus.CounterVec // result: queued, held_back
	sent        *prometheus.CounterVec // result: sent, failed, retry
	errs        *prometheus.CounterVec // kind: imap, smtp, store, panic
	alerts      *prometheus.CounterVec // kind: see ticket's Alert constants
	pollTime    *prometheus.HistogramVec
	purged      *prometheus.CounterVec // what: raw, anonymised
	breaches    prometheus.Counter
	faq         *prometheus.CounterVec // result: offered, none
}

func newMetrics(d *daemon) *metrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	counterVec := func(name, help, label string, values ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{label})
		for _, l := range values {
			v.WithLabelValues(l) // exported as 0 from the start
		}
		return v
	}
	var names []string
	for _, mc := range d.s.IMAP {
		names = append(names, mc.CursorKey()) // = poller.Name()
	}
	m := &metrics{
		reg:         prometheus.NewRegistry(),
		fetched:     counterVec("ticketd_mails_fetched_total", "Mails fetched from the mailbox and stored (including duplicates and quarantined mail).", "mailbox", names...),
		created:     counter("ticketd_tickets_created_total", "Tickets opened by incoming mail."),
		followups:   counter("ticketd_followups_total", "Incoming mails added to an existing ticket."),
		duplicates:  counter("ticketd_duplicates_total", "Incoming mails already stored, skipped."),
		quarantined: counter("ticketd_quarantined_total", "Incoming mails that could not be handled, kept in quarantine."),
		acks:        counterVec("ticketd_acknowledgements_total", "Acknowledgements of new tickets: queued (sent now), deferred (held by the rate limits, sent later), released (held ones queued later, counted per ticket), withheld (never sent: suppressed, no-reply address, a mail loop).", "result", "queued", "deferred", "released", "withheld"),
		sent:        counterVec("ticketd_mail_sent_total", "Send attempts of the outbox: sent, retry (temporary failure), failed (given up).", "result", "sent", "retry", "failed"),
		errs:        counterVec("ticketd_errors_total", "Errors by kind: imap (a poll failed on the IMAP side), smtp (a send attempt not accepted), store (a database transaction or read failed), panic (recovered).", "kind", "imap", "smtp", "store", "panic"),
		alerts:      counterVec("ticketd_alerts_total", "Things an operator must look at, by kind: protected_address_refused (mail to an agent's or the notify address was refused for good or bounced; it is not suppressed).", "kind", ticket.AlertProtectedRefused),
		faq:         counterVec("ticketd_faq_acknowledgements_total", "Acknowledgements of new tickets with the FAQ on: offered (with FAQ entries), none (no entry scored faq.min_score).", "result", "offered", "none"),
		breaches:    counter("ticketd_sla_breaches_total", "Service-level due times that passed unmet (first answers and resolutions), counted when the reminder job sees them."),
		purged:      counterVec("ticketd_retention_purged_total", "What privacy.retention removed: raw (raw mails purged) and anonymised (tickets anonymised).", "what", "raw", "anonymised"),
		pollTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ticketd_poll_duration_seconds",
			Help:    "Duration of a mailbox poll (connect, fetch, store, post-action, logout), failed ones included.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"mailbox"}),
	}
	for _, n := range names {
		m.pollTime.WithLabelValues(n)
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.fetched, m.created, m.followups, m.duplicates, m.quarantined, m.acks, m.sent, m.errs, m.alerts, m.pollTime, m.purged, m.breaches, m.faq,
		stateCollector{d},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ticketd_faq_entries", Help: "Entries of the FAQ the acknowledgements suggest from (faq.file; 0: none)."},
			func() float64 { return float64(d.faq.entries()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ticketd_faq_load_failed", Help: "1 while faq.file as it is on disk does not load (the last good FAQ stays in use; the log says why)."},
			func() float64 { return map[bool]float64{true: 1}[d.faq.failing()] }),
	)
	if pg, ok := d.db.(*postgres.Store); ok {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ticketd_store_conflicts_total",
			Help: "With store.driver postgres: transactions PostgreSQL refused for a conflict with another node's (or a deadlock), run again."},
			func() float64 { return float64(pg.Conflicts()) }))
	}
	return m
}

// poll counts one finished poll of the mailbox name. A poll cut short by
// shutdown counts what it stored but is neither an error nor timed.
func (m *metrics) poll(name string, st imap.PollStats, err error, took time.Duration) {
	m.fetched.WithLabelValues(name).Add(float64(st.Fetched))
	m.created.Add(float64(st.NewTickets))
	m.followups.Add(float64(st.FollowUps))
	m.duplicates.Add(float64(st.Duplicates))
	m.quarantined.Add(float64(st.Rejected))
	m.acks.WithLabelValues("queued").Add(float64(st.Acknowledged))
	m.acks.WithLabelValues("deferred").Add(float64(st.Deferred))
	m.acks.WithLabelValues("withheld").Add(float64(st.Withheld))
	var se storeError
	switch {
	case errors.Is(err, context.Canceled):
		return
	case err == nil:
	case errors.Is(err, errPollPanic):
		m.errs.WithLabelValues("panic").Inc()
	case errors.As(err, &se):
		m.errs.WithLabelValues("store").Inc()
	default:
		m.errs.WithLabelValues("imap").Inc()
	}
	m.pollTime.WithLabelValues(name).Observe(took.Seconds())
}

// ingested counts one mail stored through the admin socket (`ticketd
// ingest` while serve runs), as a poll would have.
func (m *metrics) ingested(res ticket.Result, rejected bool) {
	switch {
	case rejected:
		m.quarantined.Inc()
	case res.Duplicate:
		m.duplicates.Inc()
	case res.NewTicket:
		m.created.Inc()
	default:
		m.followups.Inc()
	}
	if res.Acknowledged {
		m.acks.WithLabelValues("queued").Inc()
	}
	if res.FAQ != "" {
		m.faq.WithLabelValues(res.FAQ).Inc()
	}
	switch {
	case res.HeldBack != "" && !res.AckDue.IsZero():
		m.acks.WithLabelValues("deferred").Inc()
	case res.HeldBack != "":
		m.acks.WithLabelValues("withheld").Inc()
	}
}

// sendResult is the outbox's OnResult: kind is "sent", "retry" or "failed".
// Every attempt that was not sent counts as an smtp error, including mail
// given up because no recipient may get mail.
func (m *metrics) sendResult(kind string) {
	m.sent.WithLabelValues(kind).Inc()
	if kind != "sent" {
		m.errs.WithLabelValues("smtp").Inc()
	}
}

// released counts held acknowledgements queued later.
func (m *metrics) released(n int) { m.acks.WithLabelValues("released").Add(float64(n)) }

// alert counts something an operator must look at.
func (m *metrics) alert(kind string) { m.alerts.WithLabelValues(kind).Inc() }

// storeFailed counts a failed database transaction.
func (m *metrics) storeFailed() { m.errs.WithLabelValues("store").Inc() }

// panicked counts a recovered panic.
func (m *metrics) panicked() { m.errs.WithLabelValues("panic").Inc() }

// watchStore wraps every error of a transaction in storeError, so that a
// failed poll can be told from an IMAP failure, and calls failed, if set,
// for each. The error's text and what it wraps are unchanged.
type watchStore struct {
	ticket.Store
	failed func()
}

func (w watchStore) Update(fn func(tx ticket.Tx) error) error {
	return w.mark(w.Store.Update(fn))
}

func (w watchStore) View(fn func(tx ticket.ReadTx) error) error {
	return w.mark(w.Store.View(fn))
}

func (w watchStore) mark(err error) error {
	if err == nil {
		return nil
	}
	if w.failed != nil {
		w.failed()
	}
	return storeError{err}
}

// storeError is an error that came out of a store transaction.
type storeError struct{ err error }

func (e storeError) Error() string { return e.err.Error() }
func (e storeError) Unwrap() error { return e.err }

// stateCollector reads the gauges when scraped: the outbox from the
// database, the mailboxes' health from the pollers.
type stateCollector struct{ d *daemon }

var (
	outboxDepthDesc = prometheus.NewDesc("ticketd_outbox_depth",
		"Mails in the outbox: queued, being sent, or waiting for a retry.", nil, nil)
	outboxAgeDesc = prometheus.NewDesc("ticketd_outbox_oldest_age_seconds",
		"Age of the oldest mail in the outbox (0 when it is empty).", nil, nil)
	smtpUpDesc = prometheus.NewDesc("ticketd_smtp_up",
		"1 when sending is healthy, 0 while the SMTP server cannot be reached or logged in to, or the oldest queued mail is older than health.outbox_max_age (as /healthz).", nil, nil)
	oauthUpDesc = prometheus.NewDesc("ticketd_oauth_up",
		"1 when the OAuth credential gives access tokens, 0 while it is broken (a revoked or expired refresh token, a wrong client secret; as /healthz).", []string{"credential"}, nil)
	slaDesc = prometheus.NewDesc("ticketd_tickets_sla",
		"Tickets with a service-level due time not yet met (state=due) and past it (state=overdue), by due (first_response, resolution).", []string{"due", "state"}, nil)
	mailboxUpDesc = prometheus.NewDesc("ticketd_mailbox_up",
		"1 when the mailbox is healthy, 0 after health.fail_after consecutive failed polls (as /healthz).", []string{"mailbox"}, nil)
)

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxDepthDesc
	ch <- outboxAgeDesc
	ch <- mailboxUpDesc
	ch <- smtpUpDesc
	ch <- oauthUpDesc
	ch <- slaDesc
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	for _, src := range c.d.oauth {
		up := 0.0
		if src.Status().Broken == "" {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(oauthUpDesc, prometheus.GaugeValue, up, src.Name())
	}
	for _, p := range c.d.pollers {
		up := 0.0
		if c.d.mailboxHealth(p).Healthy {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(mailboxUpDesc, prometheus.GaugeValue, up, p.Name())
	}
	depth, oldest, err := c.d.readOutbox()
	if err != nil {
		c.d.log.Warn("metrics: cannot read the outbox", "err", err)
		ch <- prometheus.NewInvalidMetric(outboxDepthDesc, err)
		return
	}
	age := 0.0
	if !oldest.IsZero() {
		age = max(now.Sub(oldest).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(outboxDepthDesc, prometheus.GaugeValue, float64(depth))
	ch <- prometheus.MustNewConstMetric(outboxAgeDesc, prometheus.GaugeValue, age)
	up := 0.0
	if sh, _ := c.d.sendingHealth(now, oldest); sh.Healthy {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(smtpUpDesc, prometheus.GaugeValue, up)
	c.collectSLA(ch, now)
}

// collectSLA counts the tickets due and overdue, by due time.
func (c stateCollector) collectSLA(ch chan<- prometheus.Metric, now time.Time) {
	counts := map[[2]string]int{}
	err := c.d.db.View(func(tx ticket.ReadTx) error {
		ts, err := tx.Tickets(ticket.TicketFilter{})
		for _, t := range ts {
			if t.Due == nil {
				continue
			}
			over := t.Overdue(now)
			if !t.Due.FirstResponse.IsZero() && t.Due.Responded.IsZero() {
				counts[[2]string{"first_response", state(slices.Contains(over, "first_response"))}]++
			}
			if !t.Due.Resolution.IsZero() && t.Status != ticket.StatusSolved && t.Status != ticket.StatusClosed {
				counts[[2]string{"resolution", state(slices.Contains(over, "resolution"))}]++
			}
		}
		return err
	})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(slaDesc, err)
		return
	}
	for _, due := range []string{"first_response", "resolution"} {
		for _, st := range []string{"due", "overdue"} {
			ch <- prometheus.MustNewConstMetric(slaDesc, prometheus.GaugeValue, float64(counts[[2]string{due, st}]), due, st)
		}
	}
}

func state(overdue bool) string {
	if overdue {
		return "overdue"
	}
	return "due"
}
