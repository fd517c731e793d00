package imap

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"sync/atomic"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// WatchOptions tune [Poller.Watch].
type WatchOptions struct {
	// Restart is how long one IDLE runs before it is stopped, a NOOP proves
	// the connection alive, and IDLE starts again (required). During IDLE
	// nothing is read with a deadline, so a dead connection is only noticed
	// at the next restart (or by TCP keepalive). Keep it under 29 minutes:
	// RFC 2177 lets a server drop an IDLE client after 30.
	Restart time.Duration
	// MinBackoff and MaxBackoff bound the wait before a reconnect, which
	// doubles after each failed attempt (0: 1s and 60s), with jitter.
	MinBackoff, MaxBackoff time.Duration
	// CommandTimeout bounds each command of the watch connection: EXAMINE,
	// starting and stopping IDLE, NOOP, LOGOUT (0: the mailbox's
	// Timeout). A command not answered in time closes the connection, and
	// Watch reconnects.
	CommandTimeout time.Duration
}

// The reconnect backoff, which no operator sets: zero MinBackoff and
// MaxBackoff take these.
const (
	watchMinBackoff = time.Second
	watchMaxBackoff = time.Minute
)

func (o WatchOptions) withBackoff() WatchOptions {
	if o.MinBackoff <= 0 {
		o.MinBackoff = watchMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = watchMaxBackoff
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	return o
}

// errNoIdle means the server does not offer IDLE (RFC 2177) or IMAP4rev2.
var errNoIdle = errors.New("the server offers neither IDLE nor IMAP4rev2")

// Watch keeps an IMAP IDLE (RFC 2177) connection on the poller's folder
// and calls trigger when new mail arrives, so a poll can fetch it within
// seconds instead of at the next tick of the schedule. It never fetches
// mail itself.
//
// Watch logs in on a connection of its own, EXAMINEs the folder (read-only,
// so it never changes flags or \Recent), calls trigger once (for mail that
// arrived while it was not watching), and runs IDLE. Every EXISTS the server
// sends calls trigger. Every opts.Restart it stops IDLE and sends a NOOP, so
// a dead connection is found within one restart interval plus
// opts.CommandTimeout. On any error it closes the connection and reconnects
// after an exponential backoff with jitter; an outage is logged once when
// it starts and once when a new connection is watching again.
//
// trigger is called from Watch's goroutine and must not block: send to a
// buffered channel without waiting, and let the receiver coalesce. It may be
// called when nothing new arrived (after a reconnect, or when a server
// sends EXISTS for other reasons), so the poll it starts must be harmless
// then, as [Poller.Poll] is.
//
// Watch returns ctx.Err() when ctx is done, and nil at once when the server
// offers neither IDLE nor IMAP4rev2 (logged; the schedule still polls).
// A panic inside a connection is recovered, logged and handled like an
// error.
func (p *Poller) Watch(ctx context.Context, opts WatchOptions, trigger func()) error {
	if opts.Restart <= 0 {
		return fmt.Errorf("watch %s: WatchOptions.Restart must be positive, got %v", p.Name(), opts.Restart)
	}
	o := opts.withBackoff()
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = p.cfg.Timeout
	}
	var (
		watching  bool // a connection is (or was last) up and idling
		failing   bool // an outage is in progress and has been logged
		failSince time.Time
		attempts  int
	)
	up := func() {
		switch {
		case !watching && failing:
			p.log.Info("imap idle: watching for new mail", "restart", o.Restart,
				"after", time.Since(failSince).Round(time.Second), "attempts", attempts)
		case !watching:
			p.log.Info("imap idle: watching for new mail", "restart", o.Restart)
		case failing:
			p.log.Info("imap idle: watching again", "outage", time.Since(failSince).Round(time.Second), "attempts", attempts)
		}
		watching, failing, attempts = true, false, 0
	}
	for {
		err := p.watchOnce(ctx, o, trigger, up)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errNoIdle) {
			p.log.Warn("imap idle: not available on this server; new mail is fetched on the schedule only", "err", err)
			return nil
		}
		attempts++
		switch {
		case !failing && watching:
			failing, failSince = true, time.Now()
			p.log.Warn("imap idle: connection lost; reconnecting with backoff (logged again when it is back)", "err", err)
		case !failing:
			failing, failSince = true, time.Now()
			p.log.Warn("imap idle: cannot start; retrying with backoff (logged again when it runs)", "err", err)
		default:
			p.log.Debug("imap idle: reconnect failed", "attempt", attempts, "err", err)
		}
		wait := backoff(o.MinBackoff, o.MaxBackoff, attempts)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// backoff is the wait before reconnect attempt n (n >= 1): min doubled n-1
// times, capped at max, then spread over [3/4, 5/4] of that so that many
// watchers cut off together do not reconnect together, and capped at max
// again.
func backoff(lo, hi time.Duration, n int) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	d = d*3/4 + rand.N(d/2+1)
	return min(d, hi)
}

// watchOnce runs one watch connection until it fails or ctx is done. up is
// called once IDLE runs.
func (p *Poller) watchOnce(ctx context.Context, o WatchOptions, trigger, up func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("imap idle: panic", "panic", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("mailbox %s: panic while watching: %v", p.cfg.Name, v)
		}
	}()
	// The handler runs on the client's reader goroutine: it only signals.
	exists := make(chan struct{}, 1)
	handler := &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				select {
				case exists <- struct{}{}:
				default:
				}
			}
		},
	}
	c, err := p.dialWith(ctx, handler, false)
	if err != nil {
		return err
	}
	defer c.Close()

	var caps goimap.CapSet
	_ = guard(ctx, c, o.CommandTimeout, func() error { caps = c.Caps(); return nil })
	switch {
	case caps == nil: // no answer: not a reason to give up on IDLE
		return fmt.Errorf("mailbox %s: capabilities: no answer from the server", p.cfg.Name)
	case !caps.Has(goimap.CapIdle):
		p.logout(c, o.CommandTimeout)
		return fmt.Errorf("mailbox %s: %w", p.cfg.Name, errNoIdle)
	}
	folder := p.cfg.Folder
	err = guard(ctx, c, o.CommandTimeout, func() error {
		_, err := c.Select(folder, &goimap.SelectOptions{ReadOnly: true}).Wait()
		return err
	})
	if err != nil {
		return fmt.Errorf("mailbox %s: examine %s: %w", p.cfg.Name, folder, err)
	}
	trigger() // whatever arrived while nobody was watching

	for first := true; ; first = false {
		var idle *imapclient.IdleCommand
		err := guard(ctx, c, o.CommandTimeout, func() error {
			var err error
			idle, err = c.Idle()
			return err
		})
		if err != nil {
			return fmt.Errorf("mailbox %s: idle: %w", p.cfg.Name, err)
		}
		if first {
			up()
		}
		if err := p.idleFor(ctx, c, o.Restart, exists, trigger); err != nil {
			if ctx.Err() != nil {
				idle.Close()
				p.logout(c, time.Second)
				return ctx.Err()
			}
			return err
		}
		err = guard(ctx, c, o.CommandTimeout, func() error {
			if err := idle.Close(); err != nil {
				return err
			}
			return idle.Wait()
		})
		if err != nil {
			return fmt.Errorf("mailbox %s: stop idle: %w", p.cfg.Name, err)
		}
		// The connection is quiet during IDLE, so a dead one looks like a
		// quiet one; an answered NOOP proves it alive.
		if err := guard(ctx, c, o.CommandTimeout, func() error { return c.Noop().Wait() }); err != nil {
			return fmt.Errorf("mailbox %s: noop: %w", p.cfg.Name, err)
		}
		select { // an EXISTS answered to the NOOP
		case <-exists:
			trigger()
		default:
		}
		p.log.Debug("imap idle: restarted; the connection answered")
	}
}

// idleFor waits while IDLE runs, calling trigger for each EXISTS, until d
// has passed (nil), or ctx is done or the connection closed (an error).
func (p *Poller) idleFor(ctx context.Context, c *conn, d time.Duration, exists <-chan struct{}, trigger func()) error {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.Closed():
			err := c.Close() // the reader's error, if any
			if err == nil {
				err = errors.New("closed by the server")
			}
			return fmt.Errorf("mailbox %s: idle: %w", p.cfg.Name, err)
		case <-exists:
			trigger()
		case <-t.C:
			return nil
		}
	}
}

// logout sends LOGOUT and waits at most d for the answer.
func (p *Poller) logout(c *conn, d time.Duration) {
	if err := guard(context.Background(), c, d, func() error { return c.Logout().Wait() }); err != nil {
		p.log.Debug("imap idle: logout", "err", err)
	}
}

// guard runs f, which waits for an answer on c, and closes c when the answer
// takes longer than d or ctx is done first; closing makes f return. Without
// it a command on a dead connection would wait until TCP gives up.
func guard(ctx context.Context, c *conn, d time.Duration, f func() error) error {
	defer c.tc.expect()() // and the connection's own read deadline
	var late atomic.Bool
	t := time.AfterFunc(d, func() {
		late.Store(true)
		c.Close()
	})
	stop := context.AfterFunc(ctx, func() { c.Close() })
	err := f()
	t.Stop()
	stop()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case late.Load():
		return fmt.Errorf("no answer within %v; connection closed", d)
	}
	return err
}
