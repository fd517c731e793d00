package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ticketd/ticketd/e2e"
)

// options are the command line flags.
type options struct {
	mails       int
	seed        uint64
	runs        int
	latency     int
	skipLatency bool
	// many mailboxes of manyMails mails each (many.go); 0: not measured.
	many, manyMails int
	modes           []string // "plain", "imaps"
	// encrypt lists the poll runs' encryption at rest: false without a
	// key, true with one (privacy.key_file).
	encrypt []bool
	keep    bool
	base    int
	ticketd string // a prebuilt binary instead of building ./cmd/ticketd
	// connections is outbox.connections in every config (0: ticketd's
	// default).
	connections int
	// stores runs the store comparison (stores.go) with nodes nodes in
	// its multi-node column.
	stores bool
	nodes  int
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("ticketd-bench", flag.ContinueOnError)
	fs.IntVar(&o.mails, "mails", 2000, "mails appended to the support INBOX")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the mail mix (same seed, same mails)")
	fs.IntVar(&o.runs, "runs", 3, "runs of each measurement (the table shows the median and min-max)")
	fs.IntVar(&o.latency, "latency", 50, "mails sent one at a time for the IDLE latency")
	fs.BoolVar(&o.skipLatency, "skip-latency", false, "skip the IDLE latency measurement")
	fs.IntVar(&o.many, "many", 0, "also measure this many mailboxes on the same Dovecot (e.g. 50), with one IDLE connection each")
	fs.IntVar(&o.manyMails, "many-mails", 100, "mails in each of the -many mailboxes")
	tlsMode := fs.String("tls", "both", "transport for the drain and poll runs: both, plain or imaps")
	encMode := fs.String("encrypt", "both", "encryption at rest in the poll runs: both, on or off")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (ticketd binary, configs, logs, databases); the mail stack is stopped anyway")
	fs.StringVar(&o.ticketd, "ticketd", "", "use this ticketd binary instead of building ./cmd/ticketd (e.g. to compare two builds)")
	fs.IntVar(&o.connections, "connections", 0, "outbox.connections of every ticketd run (0: ticketd's default)")
	fs.BoolVar(&o.stores, "stores", false, "also compare the stores: ticketd serve on bbolt (1 node) and on PostgreSQL (1 node and -nodes nodes), on the mix and, with -many, on the many mailboxes (starts a throw-away PostgreSQL on port-base+432)")
	fs.IntVar(&o.nodes, "nodes", 3, "nodes of the multi-node PostgreSQL column of -stores")
	fs.IntVar(&o.base, "port-base", 30000, "MAILSTACK_PORT_BASE of the mail stack (no e2e test uses 30000)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: sudo go run ./cmd/ticketd-bench [flags]   (or: sudo scripts/bench.sh [flags])\n\n"+
			"Measures ticketd against a throw-away Dovecot + Postfix (see the package documentation).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	switch *tlsMode {
	case "both":
		o.modes = []string{"plain", "imaps"}
	case "plain", "imaps":
		o.modes = []string{*tlsMode}
	default:
		return o, fmt.Errorf("-tls: want both, plain or imaps, got %q", *tlsMode)
	}
	switch *encMode {
	case "both":
		o.encrypt = []bool{false, true}
	case "on", "off":
		o.encrypt = []bool{*encMode == "on"}
	default:
		return o, fmt.Errorf("-encrypt: want both, on or off, got %q", *encMode)
	}
	if o.nodes < 2 {
		return o, errors.New("-nodes must be at least 2")
	}
	if o.mails < 1 || o.runs < 1 || (!o.skipLatency && o.latency < 1) {
		return o, errors.New("-mails, -runs and -latency must be at least 1")
	}
	return o, nil
}

func main() {
	os.Exit(run())
}

func run() int {
	opts, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ticketd-bench: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "ticketd-bench: must run as root (the mail stack's Postfix needs it): sudo scripts/bench.sh")
		return 1
	}
	root, err := e2e.FindRepoRoot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ticketd-bench: run it from the ticketd checkout: %v\n", err)
		return 1
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := &bench{opts: opts, log: log, root: root}
	defer b.cleanup()

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				log.Error("signal handler panic", "panic", r, "stack", string(debug.Stack()))
			}
		}()
		sig := <-sigs
		log.Warn("signal received; stopping the runs and the mail stack (send it again to stop at once)", "signal", sig.String())
		cancel()
		select {
		case sig = <-sigs:
			log.Warn("second signal; stopping the mail stack now", "signal", sig.String())
		case <-time.After(20 * time.Second):
			log.Warn("the runs did not wind down within 20s; stopping the mail stack now")
		}
		b.cleanup()
		os.Exit(130)
	}()

	if err := b.run(ctx); err != nil {
		if ctx.Err() != nil {
			log.Warn("interrupted", "err", err)
			return 130
		}
		log.Error("benchmark failed", "err", err)
		return 1
	}
	return 0
}

// bench holds the state of one benchmark run.
type bench struct {
	opts options
	log  *slog.Logger
	root string
	// mtaRuns numbers the MTA measurements, so that each waits for its
	// own mails (mta.go).
	mtaRuns int
	// ackSample is an acknowledgement as ticketd sent it (its MIME
	// headers and body), taken from the customer's INBOX after the first
	// poll: the MTA measurement sends copies of it (mta.go).
	ackSample *mimeContent

	mu    sync.Mutex // guards stack, pgStop, work and cleaned
	stack *e2e.Stack
	// pgStop stops the store comparison's PostgreSQL while it runs.
	pgStop func() error
	work   string // work directory: ticketd binary, configs, logs, databases

	cleaned bool

	bin      string // the ticketd binary
	password string // file holding the stack's password
	key      string // file holding the encrypted runs' key

	mix      *mix
	info     mixInfo
	maxUID   uint32 // highest UID of the appended mails
	warnings []string
}

// cleanup stops the stack and removes the work directory (unless -keep).
// Safe to call more than once and from the signal handler.
func (b *bench) cleanup() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cleaned {
		return
	}
	b.cleaned = true
	if b.pgStop != nil {
		if err := b.pgStop(); err != nil {
			b.log.Error("stopping PostgreSQL", "err", err)
		}
	}
	if b.stack != nil {
		if err := b.stack.Stop(); err != nil {
			b.log.Error("stopping the mail stack", "err", err)
		} else {
			b.log.Info("mail stack stopped")
		}
	}
	if b.work != "" {
		if b.opts.keep {
			b.log.Info("work directory kept (-keep)", "dir", b.work)
		} else if err := os.RemoveAll(b.work); err != nil {
			b.log.Error("removing the work directory", "dir", b.work, "err", err)
		}
	}
}

// warn records a problem that makes a figure doubtful; all of them are
// printed loudly after the table.
func (b *bench) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.log.Warn(msg)
	b.warnings = append(b.warnings, msg)
}

func (b *bench) run(ctx context.Context) error {
	work, err := os.MkdirTemp("", "ticketd-bench")
	if err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	if err := os.Chmod(work, 0o755); err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	b.mu.Lock()
	b.work = work
	b.mu.Unlock()

	corpus, err := loadCorpus(b.root, "testdata/corpus/imap_tools/messages", "testdata/mail")
	if err != nil {
		return err
	}
	b.mix = newMix(b.opts.seed, b.opts.mails, corpus)
	b.log.Info("corpus loaded", "base_mails", len(corpus))

	if b.opts.ticketd != "" {
		if b.bin, err = filepath.Abs(b.opts.ticketd); err != nil {
			return err
		}
		if !fileExists(b.bin) {
			return fmt.Errorf("-ticketd %s: no such file", b.bin)
		}
	} else {
		b.bin = filepath.Join(work, "ticketd")
		t0 := time.Now()
		build := exec.CommandContext(ctx, goTool(), "build", "-o", b.bin, "./cmd/ticketd")
		build.Dir = b.root
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/ticketd: %w\n%s", err, out)
		}
		b.log.Info("ticketd built", "in", time.Since(t0).Round(time.Millisecond))
	}

	logf := func(format string, args ...any) { b.log.Info(fmt.Sprintf(format, args...)) }
	var env []string
	if b.opts.many > 0 {
		env = append(env, "MAILSTACK_USERS=support agent customer "+strings.Join(manyUsers(b.opts.many), " "))
	}
	s, err := e2e.StartStack(ctx, b.opts.base, logf, env...)
	if err != nil {
		return fmt.Errorf("%w (a port taken? try another -port-base)", err)
	}
	b.mu.Lock()
	b.stack = s
	cleaned := b.cleaned
	b.mu.Unlock()
	if cleaned { // the signal handler ran while the stack started
		return errors.Join(ctx.Err(), s.Stop())
	}
	b.password = filepath.Join(work, "password")
	if err := os.WriteFile(b.password, []byte(s.Password+"\n"), 0o600); err != nil {
		return err
	}

	if err := b.fill(ctx); err != nil {
		return err
	}
	machine := b.describeMachine()

	// A first drain, not counted: Dovecot builds its caches, the page cache
	// holds the maildir.
	if d, err := b.drain(ctx, "plain"); err != nil {
		return fmt.Errorf("warm-up drain: %w", err)
	} else {
		b.log.Info("warm-up drain (not counted)", "mails", d.mails, "took", d.dur.Round(time.Millisecond))
	}

	if err := b.writeKey(); err != nil {
		return err
	}
	results := map[column]*modeResults{}
	for _, col := range b.opts.columns() {
		results[col] = &modeResults{}
	}
	for r := 1; r <= b.opts.runs; r++ {
		for _, col := range b.opts.columns() {
			mode := col.mode
			d, err := b.drain(ctx, mode)
			if err != nil {
				return fmt.Errorf("raw drain over %s, run %d: %w", mode, r, err)
			}
			if d.mails != b.opts.mails || d.bytes != b.info.bytes {
				b.warn("raw drain over %s, run %d: %d mails, %d bytes; appended %d mails, %d bytes", mode, r, d.mails, d.bytes, b.opts.mails, b.info.bytes)
			}
			b.log.Info("raw drain", "tls", mode, "run", r, "mails", d.mails, "MB", mb(d.bytes), "took", d.dur.Round(time.Millisecond),
				"MB/s", fmt.Sprintf("%.1f", mb(d.bytes)/d.dur.Seconds()))
			ceil, err := b.ceiling(ctx, mode)
			if err != nil {
				return fmt.Errorf("durable ceiling over %s, run %d: %w", mode, r, err)
			}
			b.log.Info("durable ceiling", "tls", mode, "run", r, "MB/s", fmt.Sprintf("%.1f", mb(ceil.bytes)/ceil.dur.Seconds()))
			p, err := b.poll(ctx, col, r)
			if err != nil {
				return fmt.Errorf("ticketd poll over %s, run %d: %w", col, r, err)
			}
			b.log.Info("ticketd poll", "tls", mode, "encrypted", col.encrypt, "run", r, "took", p.took.Round(time.Millisecond), "wall", p.wall.Round(time.Millisecond),
				"MB/s", fmt.Sprintf("%.1f", mb(b.info.bytes)/p.took.Seconds()), "ratio", fmt.Sprintf("%.2f", d.dur.Seconds()/p.took.Seconds()),
				"peak_rss_MB", fmt.Sprintf("%.1f", kib(p.rssKiB)), "anon_MB", fmt.Sprintf("%.1f", kib(p.anonKiB)),
				"file_MB", fmt.Sprintf("%.1f", kib(p.fileKiB)), "db_MB", fmt.Sprintf("%.1f", mb(p.dbBytes)))
			mta, err := b.mtaRate(ctx, b.opts.mails, false)
			if err != nil {
				return fmt.Errorf("the MTA's rate, run %d: %w", r, err)
			}
			mtaPipe, err := b.mtaRate(ctx, b.opts.mails, true)
			if err != nil {
				return fmt.Errorf("the MTA's pipelined rate, run %d: %w", r, err)
			}
			b.log.Info("acknowledgements", "tls", mode, "run", r, "acks/s", fmt.Sprintf("%.0f", p.ackRate()),
				"mta_mails/s", fmt.Sprintf("%.0f", mta), "mta_pipelined_mails/s", fmt.Sprintf("%.0f", mtaPipe))
			res := results[col]
			res.drains = append(res.drains, d)
			res.ceilings = append(res.ceilings, ceil)
			res.polls = append(res.polls, p)
			res.mta = append(res.mta, mta)
			res.mtaPipe = append(res.mtaPipe, mtaPipe)
		}
	}

	var stores *storesResult
	if b.opts.stores {
		if stores, err = b.compareStores(ctx); err != nil {
			return fmt.Errorf("stores: %w", err)
		}
	}
	var lat *latencyResult
	if !b.opts.skipLatency {
		if lat, err = b.latency(ctx); err != nil {
			return fmt.Errorf("IDLE latency: %w", err)
		}
	}
	var many *manyResult
	if b.opts.many > 0 {
		if many, err = b.many(ctx); err != nil {
			return fmt.Errorf("%d mailboxes: %w", b.opts.many, err)
		}
	}
	fmt.Print(b.report(machine, results, lat, many, stores))
	return nil
}

// goTool returns the go command: from PATH, else the toolchain that built
// this program (sudo's secure_path often lacks /usr/local/go/bin).
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func mb(n int64) float64 { return float64(n) / 1e6 }

// kib converts KiB (as /proc and rusage count) to MB.
func kib(n int64) float64 { return float64(n) * 1024 / 1e6 }

// writeConfig writes a ticketd config for the stack into dir and returns its
// path. mode is the IMAP transport (plain or imaps); extra lines are
// appended at the top level.
func (b *bench) writeConfig(dir, mode string, mailboxExtra, smtp string, extra ...string) (string, error) {
	s := b.stack
	port, security, ca := s.IMAPPort, "plain", ""
	if mode == "imaps" {
		port, security, ca = s.IMAPSPort, "tls", "\n    ca_file: "+s.CACert
	}
	support := s.Address("support")
	c := fmt.Sprintf(`data_dir: %s
log: {format: json, level: info}
http: {listen: "off"}
center:
  name: 서민금융 고객센터
  address: %s
mailboxes:
  - name: support
    host: %s
    port: %d
    security: %s%s
    username: %s
    password_file: %s
    folder: INBOX
    post_action: seen
%s%s
limits: {auto_per_hour: 1000000, auto_per_day: 1000000, auto_min_interval: -1s}
%s
`, filepath.Join(dir, "data"), support, s.Host, port, security, ca, support, b.password, mailboxExtra, smtp, strings.Join(extra, "\n"))
	if b.opts.connections > 0 {
		c += fmt.Sprintf("outbox: {connections: %d}\n", b.opts.connections)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "ticketd.yaml")
	if err := os.WriteFile(path, []byte(c), 0o600); err != nil {
		return "", err
	}
	return path, nil
}

// smtpPlain sends through Postfix's SMTP port without TLS or AUTH (allowed
// to a loopback host): the poll runs send an acknowledgement per mail, and
// this keeps the wall time of the command close to the ingest.
func (b *bench) smtpPlain() string {
	return fmt.Sprintf("smtp:\n  host: %s\n  port: %d\n  security: plain\n", b.stack.Host, b.stack.SMTPPort)
}

// smtpSubmission sends as a production setup would: submission with
// STARTTLS and AUTH, verifying the stack's certificate.
func (b *bench) smtpSubmission() string {
	s := b.stack
	return fmt.Sprintf("smtp:\n  host: %s\n  port: %d\n  security: starttls\n  ca_file: %s\n  username: %s\n  password_file: %s\n",
		s.Host, s.SubmissionPort, s.CACert, s.Address("support"), b.password)
}

// command returns a ticketd command that gets SIGTERM when ctx is done.
func (b *bench) command(ctx context.Context, cfg string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, b.bin, append([]string{"--config", cfg}, args...)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}
