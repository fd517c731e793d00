package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/mailbox/imap"
	"github.com/ticketd/ticketd/mailbox/oauth"
	"github.com/ticketd/ticketd/mailbox/smtp"
	"github.com/ticketd/ticketd/store/postgres"
	"github.com/ticketd/ticketd/templates"
	"github.com/ticketd/ticketd/ticket"
)

// daemon is everything wired together: the database, the ticket service,
// the pollers and the outbox worker.
type daemon struct {
	s       *Settings
	log     *slog.Logger
	db      database
	svc     *ticket.Service
	outbox  *ticket.Outbox
	pollers []*poller
	metrics *metrics // see metrics.go
	// signer signs the threading tokens and the web view's links.
	signer *ticket.Signer
	// indexing is the search follower's state, for /healthz (search.go).
	indexing indexState
	// sender keeps an SMTP connection for the next mail; close ends it.
	sender *smtp.Sender
	// faq is the FAQ the acknowledgements suggest from (nil: none).
	faq *faqSource
	// oauth are the token sources of the OAuth credentials, in the
	// configuration's order (see oauth.go).
	oauth []*oauth.Source
	// leases are the mailboxes this node polls, when it shares a
	// PostgreSQL store with other nodes (nodes.go); nil: all of them.
	leases *nodeLeases
}

// poller wraps a imap.Poller so that it never overlaps itself and so that
// an outage is logged once, not at every tick.
type poller struct {
	*imap.Poller
	schedule string
	watch    *imap.WatchOptions // IMAP IDLE; nil when off
	mu       sync.Mutex

	stateMu   sync.Mutex
	failures  int
	failSince time.Time
	lastOK    time.Time
	lastErr   string
}

// openDaemon opens the database and wires the parts. The caller closes it.
// With create it may create the database, in a data dir that never had
// one (see openStore). lockWait is how long it waits for another process
// to release the database (a CLI command that opened it directly).
func openDaemon(s *Settings, log *slog.Logger, create bool, lockWait time.Duration) (*daemon, error) {
	db, err := openDatabase(s, create, lockWait)
	if err != nil {
		return nil, err
	}
	d, err := wire(s, log, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

func wire(s *Settings, log *slog.Logger, db database) (*daemon, error) {
	render, err := templates.New(s.TemplatesDir)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	d := &daemon{s: s, log: log, db: db}
	for _, cred := range s.OAuth {
		d.oauth = append(d.oauth, oauth.NewSource(cred, db, log))
	}
	sc := s.SMTP
	if s.SMTPOAuth != "" {
		sc.Tokens = d.source(s.SMTPOAuth)
	}
	sender, err := smtp.NewSender(sc, log)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	key := s.Secret
	if key == nil {
		if key, err = db.Secret(); err != nil {
			return nil, err
		}
	}
	signer, err := ticket.NewSigner(key)
	if err != nil {
		return nil, fmt.Errorf("threading.secret: %w", err)
	}
	d.signer, d.sender = signer, sender
	d.metrics = newMetrics(d)
	// The outbox refuses what the service would never send to; the service
	// wakes the outbox. Each needs the other, so the hooks look the other
	// up when they run.
	oc := s.Outbox
	oc.OnResult, oc.OnAlert, oc.Attachments = d.metrics.sendResult, d.metrics.alert, mailbox.Attachments(log)
	oc.Now = clock()
	oc.Refuse = func(addr string) string { return d.svc.NeverSend(addr) }
	oc.Protected = func(addr string) bool { return d.svc.Protected(addr) }
	oc.OnFailed = func(tx ticket.Tx, o ticket.Outgoing, reason string) error { return d.svc.DeliveryFailed(tx, o, reason) }
	if d.outbox, err = ticket.NewOutbox(watchStore{db, d.metrics.storeFailed}, sender, oc, log); err != nil {
		return nil, err
	}
	tc := s.Ticket
	tc.Signer, tc.OnQueue, tc.OnAlert = signer, d.outbox.Wake, d.metrics.alert
	tc.Now = clock()
	tc.ReplyHTML, tc.Record = mailbox.AuthorHTML, smtp.Record
	if s.FAQ != nil {
		d.faq = newFAQSource(s.FAQFile, s.FAQOptions, s.FAQ, log)
		tc.FAQ = d.faq
	}
	if d.svc, err = ticket.NewService(watchStore{Store: db}, render, tc, log); err != nil {
		return nil, err
	}
	d.watchOAuth()
	for i, mc := range s.IMAP {
		if name := s.MailboxOAuth[i]; name != "" {
			mc.Tokens = d.source(name)
		}
		p, err := imap.NewPoller(mc, d.svc, log)
		if err != nil {
			return nil, err
		}
		d.pollers = append(d.pollers, &poller{Poller: p, schedule: s.Schedules[i], watch: s.Watch[i]})
	}
	return d, nil
}

func (d *daemon) close() {
	d.sender.Close() // QUIT on the kept SMTP connection
	if err := d.db.Close(); err != nil {
		d.log.Error("close database", "err", err)
	}
}

// pollResult is one mailbox's outcome, as the admin endpoint reports it.
type pollResult struct {
	Mailbox string         `json:"mailbox"`
	Stats   imap.PollStats `json:"stats"`
	Error   string         `json:"error,omitempty"`
}

// pollAll polls every mailbox once, one after another.
func (d *daemon) pollAll(ctx context.Context) []pollResult {
	var out []pollResult
	for _, p := range d.pollers {
		st, err := d.poll(ctx, p, true)
		r := pollResult{Mailbox: p.Name(), Stats: st}
		if err != nil {
			r.Error = err.Error()
		}
		out = append(out, r)
	}
	return out
}

// poll runs one poll of p. With wait false (the schedule) a poll that is
// still running is skipped; with wait true (a command) it waits for it.
// Panics are recovered and reported as errors.
func (d *daemon) poll(ctx context.Context, p *poller, wait bool) (st imap.PollStats, err error) {
	if d.leases != nil {
		if _, ok := d.leases.lease(p.Name()); !ok {
			return st, nil // another node polls it
		}
	}
	if wait {
		p.mu.Lock()
	} else if !p.mu.TryLock() {
		d.log.Info("poll still running; skipping this tick", "mailbox", p.Name())
		return st, nil
	}
	defer p.mu.Unlock()
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errPollPanic, r)
			d.log.Error("poll panic", "mailbox", p.Name(), "panic", r, "stack", string(debug.Stack()))
		}
		d.record(p, st, err)
		d.metrics.poll(p.Name(), st, err, time.Since(start))
	}()
	st, err = p.Poll(ctx)
	if errors.Is(err, ticket.ErrNotHeld) {
		// The lease went to another node during the poll: what was not
		// committed stays on the server for that node.
		d.log.Info("mailbox taken over by another node during a poll; it fetches the rest", "mailbox", p.Name())
		err = nil
	}
	if err == nil && st.Fetched > 0 {
		d.log.Info("poll done", "mailbox", p.Name(), "fetched", st.Fetched, "new", st.NewTickets,
			"followups", st.FollowUps, "duplicates", st.Duplicates, "rejected", st.Rejected, "acks_deferred", st.Deferred, "acks_withheld", st.Withheld,
			"bytes", st.Bytes, "commits", st.Commits, "took", time.Since(start).Round(time.Millisecond))
	}
	return st, err
}

// record logs a failure once when a mailbox starts failing, and once when it
// recovers, rather than at every tick.
func (d *daemon) record(p *poller, st imap.PollStats, err error) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	now := time.Now()
	switch {
	case err == nil:
		if p.failures > 0 {
			d.log.Info("mailbox recovered", "mailbox", p.Name(), "failed_polls", p.failures, "since", p.failSince.Format(time.RFC3339))
		}
		p.failures, p.lastOK, p.lastErr = 0, now, ""
	case errors.Is(err, context.Canceled):
		d.log.Info("poll stopped for shutdown", "mailbox", p.Name(), "fetched", st.Fetched)
	default:
		if p.failures == 0 {
			p.failSince = now
			d.log.Error("mailbox failing; retrying on each tick (logged again when it recovers or the error changes)", "mailbox", p.Name(), "err", err)
		} else if err.Error() != p.lastErr {
			d.log.Error("mailbox still failing", "mailbox", p.Name(), "failed_polls", p.failures+1, "err", err)
		} else {
			d.log.Debug("mailbox still failing", "mailbox", p.Name(), "failed_polls", p.failures+1, "err", err)
		}
		p.failures++
		p.lastErr = err.Error()
	}
}

// serve runs the schedule and the outbox worker until ctx is done, then
// waits for the running poll and send to finish.
func (d *daemon) serve(ctx context.Context) error {
	var wg sync.WaitGroup
	if pg, ok := d.db.(*postgres.Store); ok {
		// Several nodes share the store: this one polls the mailboxes it
		// holds a lease on, and takes the first ones before its first poll.
		var names []string
		for _, p := range d.pollers {
			names = append(names, p.Name())
		}
		ls, err := newNodeLeases(pg, names, d.s.StoreLease, d.log)
		if err != nil {
			return err
		}
		ls.onAcquire = func(name string) {
			for _, p := range d.pollers {
				if p.Name() == name && ctx.Err() == nil {
					d.poll(ctx, p, false) // the backlog of a mailbox taken over
				}
			}
		}
		pg.SetFence(ls.lease)
		d.leases = ls
		ls.round(ctx)
		wg.Go(func() { ls.run(ctx) })
		// Any node sends any due mail: mail another node queued wakes this
		// outbox too (LISTEN/NOTIFY), besides its own polling.
		wg.Go(func() { pg.ListenOutbox(ctx, d.outbox.Wake) })
	}
	c := newScheduler(d.s.Loc, d.log)
	for _, p := range d.pollers {
		if _, err := c.AddFunc(p.schedule, func() { d.poll(ctx, p, false) }); err != nil {
			return fmt.Errorf("mailbox %s: schedule %q: %w", p.Name(), p.schedule, err)
		}
		d.log.Info("mailbox scheduled", "mailbox", p.Name(), "schedule", p.schedule, "timezone", d.s.Loc.String())
	}
	if sched := d.s.Config.SLA.Schedule; sched != "" {
		if _, err := c.AddFunc(sched, d.followUp); err != nil {
			return fmt.Errorf("sla.schedule %q: %w", sched, err)
		}
	}
	if r := d.s.Config.Privacy.Retention; r.Schedule != "" && (r.RawAfterClose > 0 || r.AnonymiseAfterClose > 0) {
		if _, err := c.AddFunc(r.Schedule, func() { d.purge(false) }); err != nil {
			return fmt.Errorf("privacy.retention.schedule %q: %w", r.Schedule, err)
		}
	}
	wg.Go(func() { d.outbox.Run(ctx) })
	wg.Go(func() { d.releaseLoop(ctx) })
	c.Start()
	for _, p := range d.pollers {
		if p.watch != nil {
			wg.Go(func() { d.watch(ctx, p) })
		}
	}
	// A first poll at start, so a restart does not wait for the schedule.
	wg.Go(func() {
		for _, p := range d.pollers {
			if ctx.Err() == nil {
				d.poll(ctx, p, false)
			}
		}
	})
	<-ctx.Done()
	d.log.Info("shutting down: no new polls; finishing the mail in hand")
	<-c.Stop().Done()
	wg.Wait()
	return nil
}

// releaseHeld queues the held acknowledgements that are due (see
// ticket.Service.ReleaseHeld) and returns when the next one is.
func (d *daemon) releaseHeld() (next time.Time) {
	defer func() {
		if r := recover(); r != nil {
			d.metrics.panicked()
			d.log.Error("held acknowledgements: panic", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	n, next, err := d.svc.ReleaseHeld()
	if err != nil {
		d.log.Error("held acknowledgements", "err", err)
	}
	if n > 0 {
		d.metrics.released(n)
		d.log.Info("held acknowledgements queued", "tickets", n)
	}
	return next
}

// releaseLoop sends held acknowledgements when they are due, until ctx is
// done; it looks at least every 30 seconds.
func (d *daemon) releaseLoop(ctx context.Context) {
	for {
		wait := 30 * time.Second
		if next := d.releaseHeld(); !next.IsZero() {
			wait = min(wait, max(time.Until(next), time.Second))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// watch runs IMAP IDLE on p's folder and polls p when new mail arrives,
// until ctx is done. Triggers coalesce: while a poll runs at most one more
// waits, and it waits for the running poll (a cron tick's too) instead of
// being skipped, since that one may have searched before the mail came.
func (d *daemon) watch(ctx context.Context, p *poller) {
	if d.leases == nil {
		d.watchHeld(ctx, p)
		return
	}
	// IDLE only while this node holds the mailbox's lease.
	for ctx.Err() == nil {
		held, changed := d.leases.holds(p.Name())
		if !held {
			select {
			case <-ctx.Done():
			case <-changed:
			case <-time.After(d.s.StoreLease / 3): // a lease that lapsed here
			}
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		go func() {
			defer cancel()
			for {
				held, changed := d.leases.holds(p.Name())
				if !held {
					return
				}
				select {
				case <-wctx.Done():
					return
				case <-changed:
				case <-time.After(d.s.StoreLease / 3):
				}
			}
		}()
		d.watchHeld(wctx, p)
		lost := wctx.Err() != nil
		cancel()
		if !lost {
			return // IDLE stopped on its own (logged); the schedule still polls
		}
	}
}

// watchHeld is watch without the leases.
func (d *daemon) watchHeld(ctx context.Context, p *poller) {
	kick := make(chan struct{}, 1)
	trigger := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	recovered := func(what string) {
		if r := recover(); r != nil {
			d.log.Error(what+" panic; IDLE stopped, the schedule still polls", "mailbox", p.Name(), "panic", r, "stack", string(debug.Stack()))
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer recovered("idle poll")
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
				if ctx.Err() == nil {
					d.poll(ctx, p, true)
				}
			}
		}
	})
	wg.Go(func() {
		defer recovered("idle watch")
		if err := p.Watch(ctx, *p.watch, trigger); err != nil && ctx.Err() == nil {
			d.log.Error("imap idle stopped; the schedule still polls", "mailbox", p.Name(), "err", err)
		}
	})
	wg.Wait()
}

// followUp sends the SLA reminders and escalations and follows up the
// pending tickets (both in business hours only), and logs what it did.
func (d *daemon) followUp() {
	if r, err := d.svc.Remind(false); err != nil {
		d.log.Error("sla: reminders failed; they are tried at the next run", "err", err)
	} else {
		d.metrics.breaches.Add(float64(r.Breached))
		if r.Digests > 0 || r.Breached > 0 {
			d.log.Info("sla: reminders and escalations", "reminded", r.Reminded, "breached", r.Breached, "escalated", r.Escalated, "digests", r.Digests)
		}
	}
	if p, err := d.svc.RunPending(false); err != nil {
		d.log.Error("pending: the follow-up failed; it is tried at the next run", "err", err)
	} else if len(p.Reminded)+len(p.Solved)+len(p.Held) > 0 {
		d.log.Info("pending: tickets followed up", "reminded", p.Reminded, "solved", p.Solved, "held_by_rate_limits", p.Held)
	}
}

// purge applies privacy.retention (see ticket.Service.Purge), logs what it
// did and counts it.
func (d *daemon) purge(dryRun bool) (ticket.Purge, error) {
	r := d.s.Config.Privacy.Retention
	p, err := d.svc.Purge(time.Duration(r.RawAfterClose), time.Duration(r.AnonymiseAfterClose), "ticketd (privacy.retention)", dryRun)
	if err != nil {
		d.log.Error("privacy: the retention job failed; it runs again at its next time", "err", err)
		return p, err
	}
	if !dryRun {
		d.metrics.purged.WithLabelValues("raw").Add(float64(p.Raw))
		d.metrics.purged.WithLabelValues("anonymised").Add(float64(len(p.Anonymised)))
		d.log.Info("privacy: retention applied", "raw_tickets", len(p.RawTickets), "raw_mails", p.Raw, "anonymised", len(p.Anonymised))
	}
	return p, nil
}

// newScheduler returns a cron scheduler in loc on which a job never
// overlaps itself and a panicking job is logged and runs again at its next
// tick.
func newScheduler(loc *time.Location, log *slog.Logger) *cron.Cron {
	cl := cronLogger{log}
	return cron.New(
		cron.WithLocation(loc),
		cron.WithParser(cronParser()),
		cron.WithLogger(cl),
		// SkipIfStillRunning must come before Recover: the other way round a
		// panicking job never runs again (robfig/cron#366).
		cron.WithChain(cron.SkipIfStillRunning(cl), cron.Recover(cl)),
	)
}

// cronLogger sends cron's messages to slog.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "err", err)...)
}
