package ticket

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// OutboxConfig tunes the outbox worker: the retry policy, which must be
// set, and the hooks, which may be nil.
type OutboxConfig struct {
	// MinBackoff is the delay after the first failure; it doubles with
	// each attempt up to MaxBackoff, with ±20% jitter.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// Deadline is how long a mail is retried before it is given up.
	Deadline time.Duration
	// Lease is how long a claimed mail is left alone: if the process dies
	// while sending, the mail is tried again after this.
	Lease time.Duration
	// Poll is how often the queue is looked at when nothing wakes the worker
	// (0: 30s).
	Poll time.Duration
	Now  func() time.Time
	// Refuse, if set, says why no mail may go to an address (a null or
	// own address), or "". Suppressed addresses are always refused.
	Refuse func(addr string) string
	// SuppressFor is how long a recipient the server refused for good
	// because of its address (see [Refusal.AddressFailure]) is suppressed,
	// as after a bounce.
	SuppressFor time.Duration
	// Protected, if set, says which addresses are never suppressed (the
	// agents', the notify address): a refusal of one is logged and
	// alerted instead.
	Protected func(addr string) bool
	// OnFailed, if set, is called when a mail is given up (refused for
	// good, its recipients all refused before sending, or Deadline
	// passed), in the transaction that records it; reason says why.
	OnFailed func(tx Tx, o Outgoing, reason string) error
	// OnAlert, if set, hears of what an operator must look at (see the
	// Alert constants). It must not block.
	OnAlert func(kind string)
	// Attachments, if set, returns the attachments of a stored raw mail
	// that go with a mail naming it (Outgoing.AttachFrom: a customer's
	// mail, for a notification; an agent's, for a relayed reply). It is
	// the mail reader's to say which parts are attachments.
	Attachments func(raw []byte) []OutAttachment
	// ShutdownGrace is how long a send in progress may go on after the
	// context of Run or Flush is cancelled (0: 5s); then it is cut
	// off and tried again after Lease.
	ShutdownGrace time.Duration
	// OnResult, if set, is told the outcome of every send attempt: "sent"
	// (the server accepted the mail), "retry" (a temporary failure; it is
	// tried again later) or "failed" (given up: a permanent refusal, the
	// Deadline passed, or no recipient may get mail). It is called before
	// the outcome is recorded, possibly on several goroutines at once (see
	// Connections), and must not block.
	OnResult func(kind string)
	// Connections is how many mails are sent at once, each on its own
	// connection (0: 1). Mails to the same first recipient go one after the
	// other, in the order they were queued. A crash leaves at most this many
	// mails in doubt (sent again after Lease).
	Connections int
}

// Outbox sends queued mail. It claims a mail (attempt count and next attempt
// time) in its own transaction, committed while the sender works and
// before the end of the mail's data, so no transaction is held across
// network I/O, and a crash during a send leads to at most one more copy of
// that mail.
type Outbox struct {
	store  Store
	sender Sender
	cfg    OutboxConfig
	log    *slog.Logger
	wake   chan struct{}

	// While the server fails with temporary errors the whole queue waits
	// (pauseUntil): trying each queued mail against a server that is down
	// only floods it and the log. The outage is logged when it starts and
	// when it ends.
	mu           sync.Mutex
	pauseUntil   time.Time
	failedInARow int
	failingSince time.Time
	lastErr      error

	group groupCommits // see commitAside
}

// Alert kinds told to OutboxConfig.OnAlert and Config.OnAlert.
const (
	// AlertProtectedRefused: mail to an agent's or the notify address was
	// refused for good or bounced; the address is not suppressed.
	AlertProtectedRefused = "protected_address_refused"
)

func (w *Outbox) alert(kind string) {
	if w.cfg.OnAlert != nil {
		w.cfg.OnAlert(kind)
	}
}

// SendState is how sending went lately, for health reports.
type SendState struct {
	// Failures counts the temporary failures in a row (0: the last
	// attempt reached the server and was answered); FailingSince is when
	// the first of them happened and LastError the last one.
	Failures     int
	FailingSince time.Time
	LastError    error
}

// State returns how sending went lately.
func (w *Outbox) State() SendState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return SendState{Failures: w.failedInARow, FailingSince: w.failingSince, LastError: w.lastErr}
}

// The outbox's own pace, which no operator sets: how often the queue is
// looked at when nothing wakes the worker, and how long a send may go on
// after shutdown began. Zero fields of OutboxConfig take these.
const (
	outboxPoll          = 30 * time.Second
	outboxShutdownGrace = 5 * time.Second
)

// NewOutbox returns an outbox worker. It takes the retry policy as it is
// (MinBackoff, MaxBackoff, Deadline, Lease and SuppressFor must be
// positive); a nil log is slog.Default().
func NewOutbox(store Store, sender Sender, cfg OutboxConfig, log *slog.Logger) (*Outbox, error) {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"MinBackoff", cfg.MinBackoff}, {"MaxBackoff", cfg.MaxBackoff}, {"Deadline", cfg.Deadline}, {"Lease", cfg.Lease}, {"SuppressFor", cfg.SuppressFor}} {
		if f.d <= 0 {
			return nil, fmt.Errorf("ticket: OutboxConfig.%s must be positive, got %v", f.name, f.d)
		}
	}
	if cfg.Poll <= 0 {
		cfg.Poll = outboxPoll
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = outboxShutdownGrace
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Outbox{store: store, sender: sender, cfg: cfg, log: log, wake: make(chan struct{}, 1)}, nil
}

// Wake makes a running worker look at the queue now. It never blocks.
func (w *Outbox) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run sends due mail until ctx is done. A mail being sent when ctx is
// cancelled is finished (bounded by the sender's own timeout) so its outcome
// is recorded.
func (w *Outbox) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
		next := w.safeFlush(ctx)
		wait := w.cfg.Poll
		if !next.IsZero() {
			if d := time.Until(next); d < wait {
				wait = max(d, 50*time.Millisecond)
			}
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(wait)
	}
}

func (w *Outbox) safeFlush(ctx context.Context) (next time.Time) {
	defer func() {
		if r := recover(); r != nil {
			w.log.Error("outbox: panic", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	_, _, next, err := w.Flush(ctx)
	if err != nil {
		w.log.Error("outbox: flush", "err", err)
	}
	return next
}

// Flush tries every mail that is due now, on up to Connections at once
// (see [OutboxConfig.Connections]). It returns how many were sent and how
// many finally failed, and when the next queued mail is due (zero when the
// queue is empty).
func (w *Outbox) Flush(ctx context.Context) (sent, failed int, next time.Time, err error) {
	// Only the id, the due time and the lane of each queued mail are kept:
	// a queue of thousands (acknowledgements after a backlog) stays small
	// here; attempt reads each mail when it sends it.
	n := max(w.cfg.Connections, 1)
	lanes := make([][]queued, n)
	if err := w.store.View(func(tx ReadTx) error {
		return tx.EachOutgoing(func(o Outgoing) error {
			l := laneOf(o, n)
			lanes[l] = append(lanes[l], queued{o.ID, o.NextAttempt})
			return nil
		})
	}); err != nil {
		return 0, 0, time.Time{}, fmt.Errorf("ticket: outbox: list: %w", err)
	}
	f := flush{active: 1}
	for _, lane := range lanes[1:] {
		if len(lane) > 0 {
			f.active++
		}
	}
	var wg sync.WaitGroup
	for _, lane := range lanes[1:] {
		if len(lane) > 0 {
			wg.Go(func() { f.done(w.lane(ctx, lane, &f)) })
		}
	}
	f.done(w.lane(ctx, lanes[0], &f))
	wg.Wait()
	return f.sent, f.failed, f.next, f.err
}

// queued is a mail in the queue as Flush keeps it.
type queued struct {
	ID          uint64
	NextAttempt time.Time
}

// laneOf is the lane of n that sends o: the same for every mail to the
// same first recipient, so one address never gets two mails at once, and
// gets them in the order they were queued.
func laneOf(o Outgoing, n int) int {
	if n == 1 || len(o.To) == 0 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(o.To[0].Email)))
	return int(h.Sum32() % uint32(n))
}

// flush is what the lanes of one Flush share: the tally, when the next
// mail is due, the lanes still sending, and the first error, which stops
// every lane.
type flush struct {
	mu           sync.Mutex
	sent, failed int
	next         time.Time
	active       int
	err          error
}

// leave ends a lane that met a temporary failure while others still send,
// and reports whether it did: a server that takes fewer connections at
// once than the outbox opens refuses the others with a 4xx, which says
// nothing of the server as a whole. The last lane does not leave: its
// failure is the server's, and pauses the queue.
func (f *flush) leave() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.active > 1 {
		f.active--
		return true
	}
	return false
}

// exit ends a lane that did not leave.
func (f *flush) exit() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.active--
}

// due notes t as a time a mail is due, keeping the earliest.
func (f *flush) due(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !t.IsZero() && (f.next.IsZero() || t.Before(f.next)) {
		f.next = t
	}
}

func (f *flush) count(sent, gaveUp bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if sent {
		f.sent++
	}
	if gaveUp {
		f.failed++
	}
}

// done records a lane's error; stopped reports whether a lane failed.
func (f *flush) done(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
}

func (f *flush) stopped() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err != nil
}

// lane sends the due mails of queue one after the other. The record of a
// mail sent is committed with the claim of the next one (one commit a
// mail, not two); the last, when the lane ends. A crash between them loses
// only that record: the mail is sent again after its lease, as one in
// flight is. So a crash leaves at most one mail in doubt per lane. A panic
// is the lane's error, as in the worker's own loop.
func (w *Outbox) lane(ctx context.Context, queue []queued, f *flush) (err error) {
	var pending func(tx Tx) error
	left := false
	leave := func() bool {
		left = left || f.leave()
		return left
	}
	defer func() {
		if !left {
			f.exit()
		}
		if r := recover(); r != nil {
			err = fmt.Errorf("ticket: outbox: panic: %v\n%s", r, debug.Stack())
		}
		if pending != nil {
			if perr := w.store.Update(pending); perr != nil && err == nil {
				err = wrapErr("record sent", 0, perr)
			}
		}
	}()
	for _, o := range queue {
		now := w.cfg.Now()
		if pause := w.paused(now); !pause.IsZero() {
			f.due(pause)
			return nil
		}
		if o.NextAttempt.After(now) {
			f.due(o.NextAttempt)
			continue
		}
		if ctx.Err() != nil || f.stopped() {
			f.due(now)
			return nil
		}
		prev := pending
		pending = nil
		ok, gaveUp, retryAt, finish, err := w.attempt(ctx, o.ID, prev, leave)
		if err != nil {
			return err
		}
		pending = finish
		f.count(ok, gaveUp)
		if !ok && !gaveUp {
			f.due(retryAt)
		}
		if left {
			// The rest of this lane goes with the next flush, soon.
			f.due(now)
			return nil
		}
	}
	return nil
}

// attempt claims, sends and records one outbox mail. prev, when not nil,
// records the mail sent before and is committed with the claim. After a
// temporary failure, leave says whether the lane stops (see flush.leave)
// rather than pausing the queue. The
// record of a mail sent is returned as finish, for the caller to commit
// (with the next claim); every other outcome is recorded here.
//
// The claim is committed while the sender opens the SMTP transaction and
// writes the message: the sender waits for it only before the end of the
// data, the point from which the server may have the mail. So the fsync
// of each commit overlaps the exchange with the server, and still no mail
// can be accepted before the one sent before it is recorded: a crash
// leaves at most the mail in flight in doubt.
func (w *Outbox) attempt(ctx context.Context, id uint64, prev func(tx Tx) error, leave func() bool) (sent, gaveUp bool, retryAt time.Time, finish func(tx Tx) error, err error) {
	var o Outgoing
	var due bool
	var refused []string
	var src []byte // the raw mail whose attachments go along
	err = w.store.View(func(tx ReadTx) error {
		var err error
		o, err = tx.Outgoing(id)
		if errors.Is(err, ErrNotFound) {
			return nil // sent meanwhile
		} else if err != nil {
			return err
		}
		if due = !o.NextAttempt.After(w.cfg.Now()); !due {
			return nil // claimed meanwhile
		}
		// Whatever queued it, no mail goes to a suppressed, null or own
		// address; those recipients are dropped here.
		o.To, refused = w.filter(tx, o.To, refused)
		o.Cc, refused = w.filter(tx, o.Cc, refused)
		if o.AttachFrom != 0 && w.cfg.Attachments != nil {
			// The attachments of a stored mail go along; a missing raw mail
			// (never for mail we stored) only drops them.
			if raw, err := tx.Raw(o.AttachFrom); err == nil {
				src = raw
			}
		}
		return nil
	})
	if err != nil || !due {
		if err == nil && prev != nil {
			err = w.store.Update(prev)
		}
		return false, false, time.Time{}, nil, wrapErr("claim", id, err)
	}
	// The claim: one more attempt, and the lease, unless another flush
	// took the mail since it was read (then it is that one's).
	now := w.cfg.Now()
	read := o.Attempts
	o.Attempts++
	o.NextAttempt = now.Add(w.cfg.Lease)
	var lost bool
	claim := func(tx Tx) error {
		lost = false // a group that failed runs it again alone
		if prev != nil {
			if err := prev(tx); err != nil {
				return fmt.Errorf("record the mail sent before: %w", err)
			}
		}
		get := tx.Outgoing
		if l, ok := tx.(OutgoingLocker); ok {
			get = l.LockOutgoing // another node claiming it has it
		}
		cur, err := get(id)
		if errors.Is(err, ErrNotFound) || err == nil && (cur.Attempts != read || cur.NextAttempt.After(now)) {
			lost = true
			return nil
		} else if err != nil {
			return err
		}
		cur.Attempts, cur.NextAttempt = o.Attempts, o.NextAttempt
		return tx.PutOutgoing(cur)
	}
	claimed := w.commitAside(claim)
	var claimErr error
	var waited bool
	ready := func() error {
		if !waited {
			waited = true
			if claimErr = <-claimed; claimErr == nil && lost {
				claimErr = errClaimLost
			}
		}
		return claimErr
	}
	defer ready() // the claim's commit ends before attempt does, whatever happens
	if src != nil {
		o.Attachments = append(o.Attachments, w.cfg.Attachments(src)...)
	}

	log := w.log.With("ticket", o.TicketID, "outbox", o.ID, "msgid", o.MessageID, "attempt", o.Attempts)
	if len(refused) > 0 {
		log.Warn("outbox: recipients refused", "refused", strings.Join(refused, "; "))
	}
	if len(o.To)+len(o.Cc) == 0 {
		if err := ready(); err != nil {
			return false, false, time.Time{}, nil, claimResult(id, err)
		}
		w.result("failed")
		err = w.finish(o, DeliveryFailed, "not sent: "+strings.Join(refused, "; "), nil, true)
		return false, err == nil, time.Time{}, nil, wrapErr("record refusal", id, err)
	}
	// A send in progress when ctx is cancelled is given ShutdownGrace to
	// finish, so that its outcome is recorded; after that it is cut off
	// and tried again after the lease, like a send a crash interrupted.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	defer context.AfterFunc(ctx, func() { time.AfterFunc(w.cfg.ShutdownGrace, cancel) })()
	rejected, sendErr := w.sender.Send(sctx, o, ready)
	if err := ready(); err != nil {
		// The sender stopped before the end of the data: nothing went.
		return false, false, time.Time{}, nil, claimResult(id, err)
	}
	now = w.cfg.Now()
	sups := w.suppressions(o, rejected, now, log)
	switch {
	case sendErr == nil:
		w.serverUp(now)
		note := ""
		if len(rejected) > 0 {
			note = "refused by the server for some recipients: " + refusals(rejected)
			log.Warn("outbox: sent, but some recipients were refused", "to", addrList(o.To), "refused", refusals(rejected))
		} else {
			log.Info("outbox: sent", "to", addrList(o.To))
		}
		w.result("sent")
		return true, false, time.Time{}, func(tx Tx) error { return w.finishTx(tx, o, DeliverySent, note, sups, false) }, nil
	case IsPermanent(sendErr) || now.Sub(o.CreatedAt) >= w.cfg.Deadline:
		reason := sendErr.Error()
		if !IsPermanent(sendErr) {
			reason = fmt.Sprintf("not accepted within %s: %s", w.cfg.Deadline, reason)
		}
		if IsPermanent(sendErr) {
			w.serverUp(now) // the server answered: it works, the mail does not
		}
		log.Error("outbox: giving up", "to", addrList(o.To), "err", reason)
		w.result("failed")
		err = w.finish(o, DeliveryFailed, reason, sups, true)
		return false, err == nil, time.Time{}, nil, wrapErr("record failure", id, err)
	}
	o.LastError = sendErr.Error()
	o.NextAttempt = now.Add(w.backoff(o.Attempts))
	if leave() {
		log.Debug("outbox: a temporary failure while other connections send (the server may take fewer at once); this one stops until the next flush",
			"err", sendErr, "next_attempt", o.NextAttempt.Format(time.RFC3339))
	} else if w.serverDown(now, sendErr) {
		log.Warn("outbox: sending fails; the queue waits and retries with backoff (logged again when it recovers)",
			"err", sendErr, "next_attempt", o.NextAttempt.Format(time.RFC3339))
	} else {
		log.Debug("outbox: will retry", "err", sendErr, "next_attempt", o.NextAttempt.Format(time.RFC3339))
	}
	w.result("retry")
	err = w.store.Update(func(tx Tx) error { return tx.PutOutgoing(o) })
	return false, false, o.NextAttempt, nil, wrapErr("record retry", id, err)
}

// errClaimLost: another flush claimed or sent the mail after it was read.
var errClaimLost = errors.New("claimed by another flush")

// claimResult is attempt's error for a claim that was not committed: none
// when another flush has the mail.
func claimResult(id uint64, err error) error {
	if errors.Is(err, errClaimLost) {
		return nil
	}
	return wrapErr("claim", id, err)
}

// commitAside commits fn on another goroutine and delivers its error.
// The claims of lanes sending at once share commits: the first goes at
// once, and those that come while it runs go together in the next (group
// commit, one fsync for all). A panic in fn is that error: the caller's
// unit of work decides.
func (w *Outbox) commitAside(fn func(tx Tx) error) <-chan error {
	done := make(chan error, 1)
	g := &w.group
	g.mu.Lock()
	defer g.mu.Unlock()
	g.queue = append(g.queue, groupedCommit{fn, done})
	if !g.running {
		g.running = true
		go w.commitGroups()
	}
	return done
}

// groupCommits is the queue of commitAside.
type groupCommits struct {
	mu      sync.Mutex
	queue   []groupedCommit
	running bool // commitGroups is at work
}

type groupedCommit struct {
	fn   func(tx Tx) error
	done chan<- error
}

// commitGroups commits what commitAside queued, all that waits in one
// transaction, until the queue is empty. When a group fails, each of its
// functions is committed alone, so that one's error is not another's:
// they must not depend on an earlier run that was rolled back.
func (w *Outbox) commitGroups() {
	g := &w.group
	for {
		g.mu.Lock()
		batch := g.queue
		g.queue = nil
		if len(batch) == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		err := w.store.Update(func(tx Tx) error {
			for _, c := range batch {
				if err := safeTx(tx, c.fn); err != nil {
					return err
				}
			}
			return nil
		})
		for _, c := range batch {
			if err != nil && len(batch) > 1 {
				c.done <- w.store.Update(func(tx Tx) error { return safeTx(tx, c.fn) })
			} else {
				c.done <- err
			}
		}
	}
}

// safeTx runs fn in tx, its panic an error.
func safeTx(tx Tx, fn func(tx Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return fn(tx)
}

// suppressions are the addresses a send showed to be dead: only a
// recipient the server refused because of its address (classes 5.1 and
// 5.2), never for a failure of the message itself (it could not be built,
// or its content was refused at the end of DATA), and never a protected
// address (an agent's or the notify address), which is alerted instead.
func (w *Outbox) suppressions(o Outgoing, rejected []Refusal, now time.Time, log *slog.Logger) []Suppression {
	var out []Suppression
	for _, r := range rejected {
		switch {
		case !r.AddressFailure():
		case w.cfg.Protected != nil && w.cfg.Protected(r.Email):
			log.Error("outbox: the server refused a protected address (an agent's or the notify address); it is not suppressed: check it", "address", r.Email, "answer", r.String())
			w.alert(AlertProtectedRefused)
		default:
			out = append(out, Suppression{Email: r.Email, Reason: r.String(), Since: now, Until: now.Add(w.cfg.SuppressFor), Ticket: o.TicketID})
		}
	}
	return out
}

func refusals(rs []Refusal) string {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(r.Email + ": " + r.String())
	}
	return b.String()
}

// filter drops the addresses no mail may go to, adding why to refused.
func (w *Outbox) filter(tx ReadTx, as []Address, refused []string) ([]Address, []string) {
	var out []Address
	for _, a := range as {
		reason := ""
		if w.cfg.Refuse != nil {
			reason = w.cfg.Refuse(a.Email)
		}
		if sup, err := tx.Suppression(a.Email); reason == "" && err == nil && sup.Until.After(w.cfg.Now()) {
			reason = "suppressed until " + sup.Until.Format(time.DateOnly)
		}
		if reason != "" {
			refused = append(refused, a.Email+": "+reason)
			continue
		}
		out = append(out, a)
	}
	return out, refused
}

// finish removes o from the outbox, records the outcome on its message and
// the suppressions it showed, and with failed tells OnFailed in the same
// transaction.
func (w *Outbox) finish(o Outgoing, state, errText string, sups []Suppression, failed bool) error {
	return w.store.Update(func(tx Tx) error { return w.finishTx(tx, o, state, errText, sups, failed) })
}

// finishTx is finish in tx.
func (w *Outbox) finishTx(tx Tx, o Outgoing, state, errText string, sups []Suppression, failed bool) error {
	if err := tx.DeleteOutgoing(o.ID); err != nil {
		return err
	}
	for _, sup := range sups {
		if err := tx.PutSuppression(sup); err != nil {
			return err
		}
	}
	if failed && w.cfg.OnFailed != nil {
		if err := w.cfg.OnFailed(tx, o, errText); err != nil {
			return err
		}
	}
	msg, err := tx.Message(o.MessageRef)
	if errors.Is(err, ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	msg.Delivery, msg.DeliveryError = state, errText
	return tx.PutMessage(msg)
}

// paused returns when the queue may be tried again, or zero.
func (w *Outbox) paused(now time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if now.Before(w.pauseUntil) {
		return w.pauseUntil
	}
	return time.Time{}
}

// serverDown records a temporary failure and pauses the queue by the
// backoff of the failures in a row (not by the failed mail's own backoff:
// one mail refused with a lasting 4xx must not hold up the others for an
// hour). It reports whether this failure starts an outage.
func (w *Outbox) serverDown(now time.Time, err error) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failedInARow++
	w.lastErr = err
	w.pauseUntil = now.Add(w.backoff(w.failedInARow))
	if w.failedInARow == 1 {
		w.failingSince = now
		return true
	}
	return false
}

// serverUp ends an outage, logging it.
func (w *Outbox) serverUp(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failedInARow > 0 {
		w.log.Info("outbox: sending works again", "failed_attempts", w.failedInARow,
			"outage", now.Sub(w.failingSince).Round(time.Second).String())
	}
	w.failedInARow, w.pauseUntil, w.lastErr = 0, time.Time{}, nil
}

// result reports the outcome of an attempt to cfg.OnResult.
func (w *Outbox) result(kind string) {
	if w.cfg.OnResult != nil {
		w.cfg.OnResult(kind)
	}
}

func (w *Outbox) backoff(attempts int) time.Duration {
	d := w.cfg.MinBackoff
	for i := 1; i < attempts && d < w.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.cfg.MaxBackoff)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

func wrapErr(what string, id uint64, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("ticket: outbox %d: %s: %w", id, what, err)
}

func addrList(as []Address) string {
	s := ""
	for i, a := range as {
		if i > 0 {
			s += ", "
		}
		s += a.Email
	}
	return s
}
