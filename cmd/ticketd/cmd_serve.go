package main

// The daemon's commands: serve, poll, ingest.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ticketd/ticketd/store"
	"github.com/ticketd/ticketd/store/postgres"
	"github.com/ticketd/ticketd/store/seal"
)

// daemonCommands run the pipeline.
func daemonCommands() []command {
	return []command{
		{name: "serve", help: "run the daemon: poll on schedule, send the outbox, answer the CLI", run: cmdServe},
		{name: "poll", help: "poll every mailbox once now and send what was queued, then exit", run: cmdPoll},
		{name: "ingest", args: "[FILE...]", help: "store raw RFC 5322 mail from files or stdin (exit 0 stored, 65 rejected, 75 try again)", run: cmdIngest},
	}
}

func cmdServe(c *cli) int {
	s, ok := c.settings()
	if !ok {
		return exitConfig
	}
	log := newLogger(c.stderr, s.Config.Log, s.Loc)
	for _, w := range s.Warnings {
		log.Warn("config: " + w)
	}
	var running atomic.Pointer[daemon]
	ctx, stop := signalContext(c.ctx, log, func() bool {
		if d := running.Load(); d != nil && d.faq != nil {
			d.faq.Reload(true)
			return true
		}
		return false
	})
	defer stop()
	if pid, ok := adminPeer(s.Socket); ok {
		who := "another ticketd serve"
		if pid > 0 {
			who = fmt.Sprintf("another ticketd serve (process %d)", pid)
		}
		return c.fail("%s holds the database %s and answers on its admin socket %s; stop it first", who, s.DBPath, s.Socket)
	}
	if pid, cmdline, ok := store.LockHolder(s.DBPath); ok {
		// A CLI command holds it for a moment, most likely; say so, and wait.
		log.Warn("the database is held by another process; waiting up to 15s for it", "pid", pid, "command", cmdline)
	}
	d, err := openDaemon(s, log, true, 15*time.Second)
	if err != nil {
		return c.fail("%v", err)
	}
	defer d.close()
	if pg, ok := d.db.(*postgres.Store); ok {
		defer func() {
			log.Info("store: transactions run again after a conflict with another", "conflicts", pg.Conflicts())
		}()
	}
	running.Store(d)
	if d.faq != nil {
		go d.faq.Watch(ctx, time.Duration(s.Config.FAQ.Check))
	}
	// Records from before the key, or of an old one, are re-encrypted in
	// the background while serve runs: every record reads either way.
	sealCtx, stopSeal := context.WithCancel(ctx)
	sealed := make(chan struct{})
	go func() {
		defer close(sealed)
		if err := sealDatabase(sealCtx, d.db, log); err != nil && !errors.Is(err, seal.ErrStopped) {
			log.Error("privacy: the database could not be encrypted; serve goes on, and it is tried again at the next start", "err", err)
		}
	}()
	defer func() { stopSeal(); <-sealed }() // before the database closes
	indexed := make(chan struct{})
	go func() { defer close(indexed); buildSearchIndex(sealCtx, d, log) }()
	defer func() { stopSeal(); <-indexed }()
	admin, err := listenAdmin(ctx, d, s.Socket)
	if err != nil {
		return c.fail("%v", err)
	}
	defer admin.close()
	web, err := listenHTTP(d, s.HTTPListen) // /healthz and /metrics; see http.go
	if err != nil {
		return c.fail("%v", err)
	}
	defer web.close()
	view, err := listenWeb(d) // the agents' web view; see web.go
	if err != nil {
		return c.fail("%v", err)
	}
	defer view.close()
	log.Info("ticketd serving", "version", strings.TrimSpace(versionString()), "db", d.db.Path(), "admin", s.Socket, "mailboxes", len(d.pollers))
	if err := d.serve(ctx); err != nil {
		return c.fail("%v", err)
	}
	log.Info("ticketd stopped")
	return exitOK
}

// signalContext is cancelled by the first SIGINT or SIGTERM; a second one
// exits at once. SIGHUP calls reload (nil: none), which says whether it
// read anything again.
func signalContext(parent context.Context, log *slog.Logger, reload func() bool) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	// SIGHUP asks daemons to reload; ticketd reads its configuration and
	// templates once and logs to stderr (the journal), so there is nothing
	// to reopen: it says so rather than ignore the signal or die of it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for {
			select {
			case <-hup:
				if reload != nil && reload() {
					log.Info("SIGHUP: faq.file read again; restart ticketd to read other changes of the configuration or templates (systemctl restart ticketd)")
				} else {
					log.Warn("SIGHUP: reloading is not supported; restart ticketd to read a changed configuration or templates (systemctl restart ticketd)")
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		select {
		case sig := <-ch:
			log.Info("signal received; stopping (send it again to exit at once)", "signal", sig.String())
			cancel()
		case <-ctx.Done():
			return
		}
		sig := <-ch
		log.Warn("second signal; exiting now", "signal", sig.String())
		os.Exit(exitFail)
	}()
	return ctx, func() { signal.Stop(ch); signal.Stop(hup); cancel() }
}

func cmdPoll(c *cli) int {
	s, ok := c.settings()
	if !ok {
		return exitConfig
	}
	log := newLogger(c.stderr, s.Config.Log, s.Loc)
	ctx, stop := signalContext(c.ctx, log, nil)
	defer stop()
	b, err := c.backend(s, log, true)
	if err != nil {
		return c.fail("%v", err)
	}
	defer b.Close()
	start := time.Now()
	res, err := b.Poll(ctx)
	secs := time.Since(start).Seconds()
	code := exitOK
	for _, r := range res {
		st := r.Stats
		fmt.Fprintf(c.stdout, "%s: fetched %d (%.1f MB in %.1fs), new tickets %d, follow-ups %d, duplicates %d, rejected %d",
			r.Mailbox, st.Fetched, float64(st.Bytes)/1e6, secs, st.NewTickets, st.FollowUps, st.Duplicates, st.Rejected)
		if r.Error != "" {
			fmt.Fprintf(c.stdout, ", error: %s", r.Error)
			code = exitTempFail
		}
		fmt.Fprintln(c.stdout)
	}
	if err != nil {
		return c.fail("%v", err)
	}
	return code
}

func cmdIngest(c *cli) int {
	s, ok := c.settings()
	if !ok {
		return exitTempFail // the MTA keeps the mail and tries again
	}
	log := newLogger(c.stderr, s.Config.Log, s.Loc)
	b, err := c.backend(s, log, false)
	if err != nil {
		fmt.Fprintf(c.stderr, "ticketd: %v\n", err)
		return exitTempFail
	}
	defer b.Close()
	type input struct {
		name string
		raw  []byte
	}
	var inputs []input
	if len(c.args) == 0 {
		raw, err := io.ReadAll(c.stdin)
		if err != nil {
			fmt.Fprintf(c.stderr, "ticketd: read stdin: %v\n", err)
			return exitTempFail
		}
		inputs = append(inputs, input{"stdin", raw})
	}
	for _, name := range c.args {
		raw, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintf(c.stderr, "ticketd: %v\n", err)
			return exitTempFail
		}
		inputs = append(inputs, input{name, raw})
	}
	code := exitOK
	for _, in := range inputs {
		res, err := b.Ingest(c.ctx, in.raw, "ingest "+in.name)
		switch {
		case err != nil:
			fmt.Fprintf(c.stderr, "ticketd: %s: %v\n", in.name, err)
			code = exitTempFail
		case res.Rejected:
			fmt.Fprintf(c.stdout, "%s: rejected and kept for inspection: %s\n", in.name, res.Reason)
			if code == exitOK {
				code = exitDataErr
			}
		case res.Duplicate:
			fmt.Fprintf(c.stdout, "%s: already stored (ticket #%d)\n", in.name, res.TicketID)
		case res.NewTicket:
			fmt.Fprintf(c.stdout, "%s: new ticket #%d\n", in.name, res.TicketID)
		default:
			fmt.Fprintf(c.stdout, "%s: follow-up on ticket #%d\n", in.name, res.TicketID)
		}
	}
	if lb, ok := b.(localBackend); ok {
		// No daemon: send the acknowledgements now; what fails stays queued.
		if _, _, _, err := lb.d.outbox.Flush(c.ctx); err != nil {
			log.Warn("outbox", "err", err)
		}
	}
	return code
}
