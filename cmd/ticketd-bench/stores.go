package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ticketd/ticketd/e2e"
)

// The store comparison (-stores): the same backlog ingested and
// acknowledged by `ticketd serve` on bbolt with one node, and on
// PostgreSQL with one node and with -nodes nodes (their own data dirs, one
// database, one key), each run on a fresh store. Two workloads: the
// support INBOX with the mix (one mailbox: one node holds its lease and
// ingests, every node sends acknowledgements), and, with -many, the many
// mailboxes (their leases spread over the nodes).

// storeSetup is a column of the comparison.
type storeSetup struct {
	driver string // bbolt or postgres
	nodes  int
}

func (s storeSetup) String() string {
	n := "1 node"
	if s.nodes > 1 {
		n = fmt.Sprintf("%d nodes", s.nodes)
	}
	return s.driver + ", " + n
}

// storeRun is one run of one setup on one workload.
type storeRun struct {
	allIn, acksOut time.Duration // the nodes' start -> every mail a ticket; -> every acknowledgement sent
	sentBy         []int64       // acknowledgements sent by each node
	tickets        int
	delivered      int // acknowledgements in the customer's INBOX
	// commits is PostgreSQL's count of the run's database
	// (pg_stat_database); conflicts the nodes' transactions refused for a
	// conflict and run again (serve's last line).
	commits, conflicts int64
}

// storeWorkload is the backlog of one table.
type storeWorkload struct {
	name  string
	users []string // the mailboxes
	mails int      // in all of them
	runs  map[storeSetup][]storeRun
}

// storesResult is the whole comparison.
type storesResult struct {
	setups    []storeSetup
	workloads []*storeWorkload
}

func (b *bench) storeSetups() []storeSetup {
	return []storeSetup{{"bbolt", 1}, {"postgres", 1}, {"postgres", b.opts.nodes}}
}

// compareStores runs the comparison on a throw-away PostgreSQL (port
// base+432). The support INBOX is emptied by the many-mailbox workload;
// the many mailboxes are left empty.
func (b *bench) compareStores(ctx context.Context) (*storesResult, error) {
	pg, stop, err := e2e.StartPostgresStack(b.opts.base)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	b.mu.Lock()
	b.pgStop = stop
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.pgStop = nil
		b.mu.Unlock()
		if err := stop(); err != nil {
			b.log.Error("stopping PostgreSQL", "err", err)
		}
	}()
	res := &storesResult{setups: b.storeSetups()}
	res.workloads = append(res.workloads, &storeWorkload{name: fmt.Sprintf("%d mails of the mix in 1 mailbox", b.opts.mails),
		users: []string{"support"}, mails: b.opts.mails, runs: map[storeSetup][]storeRun{}})
	if b.opts.many > 0 {
		res.workloads = append(res.workloads, &storeWorkload{name: fmt.Sprintf("%d mailboxes of %d small mails", b.opts.many, b.opts.manyMails),
			users: manyUsers(b.opts.many), mails: b.opts.many * b.opts.manyMails, runs: map[storeSetup][]storeRun{}})
	}
	for wi, wl := range res.workloads {
		if wi > 0 && wl.users[0] != "support" {
			if err := b.emptyInbox(ctx, "support"); err != nil {
				return nil, err
			}
		}
		for r := 1; r <= b.opts.runs; r++ {
			for _, setup := range res.setups {
				run, err := b.storeRun(ctx, pg, wl, setup, fmt.Sprintf("w%d-%s-%d-%d", wi, setup.driver, setup.nodes, r))
				if err != nil {
					return nil, fmt.Errorf("%s, %s, run %d: %w", wl.name, setup, r, err)
				}
				b.log.Info("stores", "workload", wl.name, "setup", setup.String(), "run", r, "all_tickets", run.allIn.Round(time.Millisecond),
					"all_acks", run.acksOut.Round(time.Millisecond), "sent_by", fmt.Sprint(run.sentBy), "tickets", run.tickets, "delivered", run.delivered,
					"pg_commits", run.commits, "conflicts", run.conflicts)
				wl.runs[setup] = append(wl.runs[setup], run)
			}
		}
		if wl.users[0] != "support" {
			for _, u := range wl.users {
				if err := b.emptyInbox(ctx, u); err != nil {
					return nil, err
				}
			}
		}
	}
	return res, nil
}

// storeRun fills the workload's mailboxes, starts the setup's nodes on a
// fresh store, waits for every ticket and every acknowledgement, stops
// the nodes and checks what they did.
func (b *bench) storeRun(ctx context.Context, pg *e2e.Postgres, wl *storeWorkload, setup storeSetup, name string) (storeRun, error) {
	var run storeRun
	if wl.users[0] == "support" {
		if _, err := b.resetSupport(ctx); err != nil {
			return run, err
		}
	} else {
		for _, u := range wl.users {
			if err := b.emptyInbox(ctx, u); err != nil {
				return run, err
			}
			if err := b.appendMails(ctx, u, wl.mails/len(wl.users)); err != nil {
				return run, err
			}
		}
	}
	if err := b.emptyInbox(ctx, "customer"); err != nil {
		return run, err
	}
	dir := filepath.Join(b.work, "stores-"+name)
	defer os.RemoveAll(dir) // the databases of the big mix add up
	storeLine := ""
	if setup.driver == "postgres" {
		dsn, err := pg.CreateDatabase(ctx, "bench_"+strings.ReplaceAll(name, "-", "_"))
		if err != nil {
			return run, err
		}
		dsnFile := filepath.Join(b.work, "dsn-"+name)
		if err := os.WriteFile(dsnFile, []byte(dsn+"\n"), 0o600); err != nil {
			return run, err
		}
		defer os.Remove(dsnFile)
		storeLine = "store: {driver: postgres, dsn_file: " + dsnFile + ", lease: 10s}"
	}
	var cfgs []string
	for n := range setup.nodes {
		cfg, err := b.writeConfig(filepath.Join(dir, fmt.Sprintf("node%d", n)), "imaps", b.mailboxesConfig(wl.users), b.smtpPlain(), b.privacy(), storeLine)
		if err != nil {
			return run, err
		}
		cfgs = append(cfgs, cfg)
	}
	start := time.Now()
	var nodes []*served
	defer func() {
		for _, sv := range nodes {
			sv.stop()
		}
	}()
	for n, cfg := range cfgs {
		sv, err := b.serveNode(ctx, cfg, filepath.Join(dir, fmt.Sprintf("node%d", n), "serve.log"), false)
		if err != nil {
			return run, err
		}
		nodes = append(nodes, sv)
	}
	sum := func(f func(sv *served) int64) (n int64) {
		for _, sv := range nodes {
			n += f(sv)
		}
		return n
	}
	tickets := func(sv *served) int64 { return sv.log.tickets.Load() }
	sent := func(sv *served) int64 { return sv.log.sent.Load() }
	want := int64(wl.mails)
	wait := func(count func(sv *served) int64, what string) error {
		for sum(count) < want {
			for n, sv := range nodes {
				select {
				case <-sv.done:
					return fmt.Errorf("node %d exited with %d of %d %s", n, sum(count), want, what)
				default:
				}
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
			if time.Since(start) > 15*time.Minute {
				return fmt.Errorf("%d of %d %s after 15 minutes", sum(count), want, what)
			}
		}
		return nil
	}
	if err := wait(tickets, "tickets"); err != nil {
		return run, err
	}
	run.allIn = time.Since(start)
	if err := wait(sent, "acknowledgements sent"); err != nil {
		return run, err
	}
	run.acksOut = time.Since(start)
	for _, sv := range nodes {
		sv.stop()
		run.sentBy = append(run.sentBy, sent(sv))
		run.conflicts += sv.log.conflicts.Load()
		sv.log.mu.Lock()
		for _, p := range sv.log.problems {
			if !strings.HasPrefix(p, "config: ") {
				b.warn("stores: %s, %s: a node logged %q", wl.name, setup, p)
				break
			}
		}
		sv.log.mu.Unlock()
	}
	n, _, err := b.countTickets(ctx, cfgs[0])
	if err != nil {
		return run, err
	}
	run.tickets = n
	if run.delivered, err = b.waitDelivered(ctx, "customer", wl.mails, 10*time.Second); err != nil {
		return run, err
	}
	if run.tickets != wl.mails || run.delivered != wl.mails {
		b.warn("stores: %s, %s: %d tickets and %d acknowledgements delivered for %d mails", wl.name, setup, run.tickets, run.delivered, wl.mails)
	}
	if setup.driver == "postgres" {
		time.Sleep(time.Second) // the nodes' sessions report their counts as they end
		if run.commits, err = pg.Commits(ctx, "bench_"+strings.ReplaceAll(name, "-", "_")); err != nil {
			return run, err
		}
		if _, err := pg.CreateDatabase(ctx, "bench_"+strings.ReplaceAll(name, "-", "_")); err != nil { // empties it
			b.log.Warn("stores: dropping the run's database", "err", err)
		}
	}
	return run, nil
}

// mailboxesConfig is the config of users' INBOXes after the first
// mailbox's name and connection (writeConfig's support): IDLE on each, a
// schedule of 1h, IMAPS.
func (b *bench) mailboxesConfig(users []string) string {
	s := b.stack
	var w strings.Builder
	w.WriteString("    schedule: \"@every 1h\"\n    idle: true\n")
	for _, u := range users {
		if u == "support" {
			continue
		}
		fmt.Fprintf(&w, "  - name: %s\n    host: %s\n    port: %d\n    security: tls\n    ca_file: %s\n    username: %s\n"+
			"    password_file: %s\n    folder: INBOX\n    post_action: seen\n    schedule: \"@every 1h\"\n    idle: true\n",
			u, s.Host, s.IMAPSPort, s.CACert, s.Address(u), b.password)
	}
	return w.String()
}

// storesReport is the comparison's table, one per workload.
func (b *bench) storesReport(res *storesResult) string {
	var w strings.Builder
	for _, wl := range res.workloads {
		fmt.Fprintf(&w, "\n| Stores: %s (`ticketd serve`, IMAPS, IDLE, encrypted at rest, a fresh store each run) |", wl.name)
		for _, s := range res.setups {
			fmt.Fprintf(&w, " %s |", s)
		}
		w.WriteString("\n|---|")
		for range res.setups {
			w.WriteString("---|")
		}
		w.WriteString("\n")
		row := func(label, format string, v func(r storeRun) float64) {
			fmt.Fprintf(&w, "| %s |", label)
			for _, s := range res.setups {
				var vs []float64
				for _, r := range wl.runs[s] {
					vs = append(vs, v(r))
				}
				fmt.Fprintf(&w, " %s |", spread(vs, format))
			}
			w.WriteString("\n")
		}
		row("the nodes' start -> every mail a ticket, s", "%.1f", func(r storeRun) float64 { return r.allIn.Seconds() })
		row("tickets/s", "%.0f", func(r storeRun) float64 { return float64(wl.mails) / r.allIn.Seconds() })
		row("the nodes' start -> every acknowledgement sent, s", "%.1f", func(r storeRun) float64 { return r.acksOut.Seconds() })
		row("acknowledgements/s (over the same span)", "%.0f", func(r storeRun) float64 { return float64(wl.mails) / r.acksOut.Seconds() })
		fmt.Fprintf(&w, "| PostgreSQL transactions committed (reads included) / refused for a conflict and run again, per mail |")
		for _, s := range res.setups {
			if s.driver != "postgres" {
				w.WriteString(" - |")
				continue
			}
			var c, r []float64
			for _, run := range wl.runs[s] {
				c = append(c, float64(run.commits)/float64(wl.mails))
				r = append(r, float64(run.conflicts)/float64(wl.mails))
			}
			fmt.Fprintf(&w, " %s / %s |", spread(c, "%.1f"), spread(r, "%.2f"))
		}
		w.WriteString("\n")
		fmt.Fprintf(&w, "| acknowledgements sent by each node (last run); tickets / acks delivered |")
		for _, s := range res.setups {
			runs := wl.runs[s]
			if len(runs) == 0 {
				w.WriteString(" - |")
				continue
			}
			r := runs[len(runs)-1]
			by := make([]string, len(r.sentBy))
			for i, n := range r.sentBy {
				by[i] = fmt.Sprint(n)
			}
			fmt.Fprintf(&w, " %s; %d / %d |", strings.Join(by, " + "), r.tickets, r.delivered)
		}
		w.WriteString("\n")
	}
	return w.String()
}
