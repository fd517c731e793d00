// Command ticketd turns the mail of a support mailbox into tickets.
// Run `ticketd help` for the commands.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	_ "time/tzdata" // Asia/Seoul even where the system has no zoneinfo

	"github.com/ticketd/ticketd/mailbox/rfc822"
	"github.com/ticketd/ticketd/store"
	"github.com/ticketd/ticketd/ticket"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

// Exit codes (sysexits.h, as MTAs expect from a delivery program).
const (
	exitOK       = 0
	exitFail     = 1
	exitUsage    = 64 // EX_USAGE
	exitDataErr  = 65 // EX_DATAERR: the mail was rejected and kept
	exitTempFail = 75 // EX_TEMPFAIL: try again later
	exitConfig   = 2  // check-config found problems
)

// command is one subcommand.
type command struct {
	name  string
	args  string
	help  string
	run   func(c *cli) int
	noCfg bool // runs without a config file
}

var commands []command

func init() {
	commands = []command{
		{name: "serve", help: "run the daemon: poll on schedule, send the outbox, answer the CLI", run: cmdServe},
		{name: "poll", help: "poll every mailbox once now and send what was queued, then exit", run: cmdPoll},
		{name: "ingest", args: "[FILE...]", help: "store raw RFC 5322 mail from files or stdin (exit 0 stored, 65 rejected, 75 try again)", run: cmdIngest},
		{name: "tickets list", args: "[--status S] [--json]", help: "list tickets", run: cmdTicketsList},
		{name: "tickets show", args: "N [--json]", help: "show a ticket and its messages", run: cmdTicketsShow},
		{name: "reply", args: "N --as AGENT [--file F] [--attach FILE]...", help: "send an agent's reply to the customer (text from --file or stdin)", run: cmdReply},
		{name: "note", args: "N [--as AGENT] [TEXT...]", help: "add an internal note (text from the arguments, --file or stdin)", run: cmdNote},
		{name: "close", args: "N [--as AGENT]", help: "close a ticket", run: cmdStatus(ticket.StatusClosed)},
		{name: "solve", args: "N [--as AGENT]", help: "mark a ticket solved", run: cmdStatus(ticket.StatusSolved)},
		{name: "assign", args: "N AGENT [--as AGENT]", help: "assign a ticket to an agent", run: cmdAssign},
		{name: "quarantine list", help: "list mail that could not be handled", run: cmdAdmin("quarantine", "list")},
		{name: "quarantine show", args: "ID", help: "print a quarantined mail's raw bytes", run: cmdAdmin("quarantine", "show")},
		{name: "quarantine retry", args: "ID", help: "run a quarantined mail through the pipeline again", run: cmdAdmin("quarantine", "retry")},
		{name: "quarantine drop", args: "ID", help: "delete a quarantined mail", run: cmdAdmin("quarantine", "drop")},
		{name: "suppressions list", help: "list addresses that get no mail after a permanent bounce", run: cmdAdmin("suppressions", "list")},
		{name: "suppressions remove", args: "EMAIL", help: "let mail go to an address again", run: cmdAdmin("suppressions", "remove")},
		{name: "attachment get", args: "N INDEX --out DIR", help: "save attachment INDEX (as tickets show numbers them) of ticket N into DIR", run: cmdAttachmentGet},
		{name: "backup", args: "FILE", help: "write a consistent copy of the database to FILE (through the daemon while it runs)", run: cmdBackup},
		{name: "restore", args: "FILE", help: "replace the database with a backup (serve must be stopped)", run: cmdRestore},
		{name: "compact", help: "rewrite the database without its free space (serve must be stopped)", run: cmdCompact},
		{name: "check-db", help: "run the full consistency check of the database (through the daemon while it runs); exit 1 if damaged", run: cmdCheckDB},
		{name: "init", help: "create the database in data_dir (serve and poll do it too, in a data dir that never had one)", run: cmdInit},
		{name: "check-config", help: "check the configuration; print every problem and exit 2 if any", run: cmdCheckConfig},
		{name: "demo", help: "run against embedded IMAP and SMTP servers with sample mail (needs nothing else)", run: cmdDemo, noCfg: true},
		{name: "version", help: "print the version", run: cmdVersion, noCfg: true},
	}
}

// cli is the state of one invocation.
type cli struct {
	args   []string // after the command name and flags
	flags  *flag.FlagSet
	config string
	stdout io.Writer
	stderr io.Writer
	stdin  io.Reader
	ctx    context.Context

	status string
	asJSON bool
	as     string
	out    string
	file   string
	attach multiFlag
}

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if os.Getenv("GOGC") == "" {
		// ticketd's heap is mostly mail in flight, short-lived and large:
		// collecting at 50% growth instead of 100% keeps the peak near what
		// is live. Measured on a 658 MB backlog: peak RSS of ticketd poll
		// 63-67 MB -> 55-57 MB, ingest speed within noise. GOGC overrides.
		debug.SetGCPercent(50)
	}
	if path := os.Getenv("TICKETD_CPUPROFILE"); path != "" {
		// For measuring: go tool pprof ticketd FILE.
		if stop, err := startCPUProfile(path); err != nil {
			fmt.Fprintf(os.Stderr, "ticketd: TICKETD_CPUPROFILE: %v\n", err)
		} else {
			code := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
			stop()
			os.Exit(code)
		}
	}
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// startCPUProfile writes a CPU profile to path ("%p" in it: the process
// id) until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(strings.ReplaceAll(path, "%p", strconv.Itoa(os.Getpid())))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	global := flag.NewFlagSet("ticketd", flag.ContinueOnError)
	global.SetOutput(stderr)
	cfgPath := global.String("config", "", "config file (default $TICKETD_CONFIG, then ./ticketd.yaml)")
	global.Usage = func() { usage(stderr) }
	if err := global.Parse(args); err != nil {
		return exitUsage
	}
	args = global.Args()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	var cmd *command
	for i := range commands {
		words := strings.Fields(commands[i].name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == commands[i].name {
			cmd = &commands[i]
			args = args[len(words):]
			break
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "ticketd: unknown command %q\n\n", strings.Join(args, " "))
		usage(stderr)
		return exitUsage
	}
	c := &cli{stdout: stdout, stderr: stderr, stdin: stdin, ctx: ctx}
	c.flags = flag.NewFlagSet("ticketd "+cmd.name, flag.ContinueOnError)
	c.flags.SetOutput(stderr)
	c.flags.StringVar(&c.config, "config", *cfgPath, "config file")
	if strings.HasPrefix(cmd.name, "tickets") || strings.HasSuffix(cmd.name, " list") {
		c.flags.BoolVar(&c.asJSON, "json", false, "print JSON")
	}
	if cmd.name == "tickets list" {
		c.flags.StringVar(&c.status, "status", "", "only tickets with this status (new, open, pending, solved, closed)")
	}
	switch cmd.name {
	case "reply", "note", "close", "solve", "assign":
		c.flags.StringVar(&c.as, "as", os.Getenv("TICKETD_AGENT"), "the agent acting (default $TICKETD_AGENT)")
	}
	switch cmd.name {
	case "reply", "note":
		c.flags.StringVar(&c.file, "file", "", "read the text from this file (default: stdin)")
	}
	if cmd.name == "reply" {
		c.flags.Var(&c.attach, "attach", "attach this file (repeatable)")
	}
	if cmd.name == "attachment get" {
		c.flags.StringVar(&c.out, "out", ".", "directory to save into")
	}
	c.flags.Usage = func() {
		fmt.Fprintf(stderr, "usage: ticketd %s %s\n  %s\n", cmd.name, cmd.args, cmd.help)
		c.flags.PrintDefaults()
	}
	// Flags may come before or after the positional arguments.
	var pos []string
	for {
		if err := c.flags.Parse(args); err != nil {
			return exitUsage
		}
		if c.flags.NArg() == 0 {
			break
		}
		pos = append(pos, c.flags.Arg(0))
		args = c.flags.Args()[1:]
	}
	c.args = pos
	return cmd.run(c)
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "ticketd turns the mail of a support mailbox into tickets.\n\nusage: ticketd [--config FILE] COMMAND [ARGS]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-14s %-22s %s\n", c.name, c.args, c.help)
	}
}

func (c *cli) fail(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "ticketd: "+format+"\n", args...)
	return exitFail
}

// settings loads the configuration, printing every problem.
func (c *cli) settings() (*Settings, bool) {
	s, errs := loadConfig(findConfig(c.config))
	for _, err := range errs {
		fmt.Fprintf(c.stderr, "config: %v\n", err)
	}
	return s, len(errs) == 0
}

func newLogger(w io.Writer, cfg LogConfig) *slog.Logger {
	lvl, _ := parseLevel(cfg.Level)
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("want debug, info, warn or error, got %q", s)
}

// open loads the settings and the backend; when it cannot, it has printed
// why and b is nil, with the exit code to return.
func (c *cli) open() (s *Settings, b backend, code int) {
	s, ok := c.settings()
	if !ok {
		return nil, nil, exitConfig
	}
	b, err := c.backend(s, newLogger(c.stderr, s.Log), false)
	if err != nil {
		return nil, nil, c.fail("%v", err)
	}
	return s, b, exitOK
}

// backend returns the running daemon's admin API, or the database opened
// directly when no daemon answers; create lets it create the database (see
// openStore).
func (c *cli) backend(s *Settings, log *slog.Logger, create bool) (backend, error) {
	if rb, ok := dialAdmin(s.Socket); ok {
		return rb, nil
	}
	d, err := openDaemon(s, log, create, 2*time.Second)
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("%w: is ticketd serve running? its admin socket %s does not answer", err, s.Socket)
	}
	if err != nil {
		return nil, err
	}
	return localBackend{d: d, direct: true}, nil
}

func cmdVersion(c *cli) int {
	v := version
	if v == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			v = bi.Main.Version
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					v += " (" + s.Value[:12] + ")"
				}
			}
		}
	}
	fmt.Fprintf(c.stdout, "ticketd %s\n", v)
	return exitOK
}

func cmdCheckConfig(c *cli) int {
	path := findConfig(c.config)
	s, errs := loadConfig(path)
	for _, err := range errs {
		fmt.Fprintf(c.stderr, "%s: %v\n", path, err)
	}
	if s != nil {
		for _, w := range s.Warnings {
			fmt.Fprintf(c.stderr, "%s: warning: %s\n", path, w)
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(c.stderr, "%d problem(s) found\n", len(errs))
		return exitConfig
	}
	fmt.Fprintf(c.stdout, "%s: ok (%d mailbox(es), data in %s, SMTP %s:%d %s)\n",
		path, len(s.IMAP), s.DataDir, s.SMTP.Host, s.SMTP.Port, s.SMTP.Security)
	return exitOK
}

func cmdServe(c *cli) int {
	s, ok := c.settings()
	if !ok {
		return exitConfig
	}
	log := newLogger(c.stderr, s.Log)
	for _, w := range s.Warnings {
		log.Warn("config: " + w)
	}
	ctx, stop := signalContext(c.ctx, log)
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
	log.Info("ticketd serving", "version", strings.TrimSpace(versionString()), "db", s.DBPath, "admin", s.Socket, "mailboxes", len(d.pollers))
	if err := d.serve(ctx); err != nil {
		return c.fail("%v", err)
	}
	log.Info("ticketd stopped")
	return exitOK
}

// signalContext is cancelled by the first SIGINT or SIGTERM; a second one
// exits at once.
func signalContext(parent context.Context, log *slog.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
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
	return ctx, func() { signal.Stop(ch); cancel() }
}

func versionString() string {
	var b strings.Builder
	cmdVersion(&cli{stdout: &b})
	return b.String()
}

func cmdPoll(c *cli) int {
	s, ok := c.settings()
	if !ok {
		return exitConfig
	}
	log := newLogger(c.stderr, s.Log)
	ctx, stop := signalContext(c.ctx, log)
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
	log := newLogger(c.stderr, s.Log)
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

func cmdTicketsList(c *cli) int {
	s, ok := c.settings()
	if !ok {
		return exitConfig
	}
	var st ticket.Status
	if c.status != "" {
		var err error
		if st, err = ticket.ParseStatus(c.status); err != nil {
			return c.fail("--status: %v", err)
		}
	}
	b, err := c.backend(s, newLogger(c.stderr, s.Log), false)
	if err != nil {
		return c.fail("%v", err)
	}
	defer b.Close()
	ts, err := b.Tickets(c.ctx, st)
	if err != nil {
		return c.fail("%v", err)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].ID < ts[j].ID })
	if c.asJSON {
		return c.printJSON(ts)
	}
	printTickets(c.stdout, ts, s.Loc)
	return exitOK
}

func cmdTicketsShow(c *cli) int {
	s, ok := c.settings()
	if !ok {
		return exitConfig
	}
	if len(c.args) != 1 {
		return c.fail("usage: ticketd tickets show N [--json]")
	}
	id, err := strconv.ParseUint(strings.TrimPrefix(c.args[0], "#"), 10, 64)
	if err != nil || id == 0 {
		return c.fail("tickets show: %q is not a ticket number", c.args[0])
	}
	b, err := c.backend(s, newLogger(c.stderr, s.Log), false)
	if err != nil {
		return c.fail("%v", err)
	}
	defer b.Close()
	v, err := b.Ticket(c.ctx, id)
	if err != nil {
		return c.fail("ticket %v", err)
	}
	if c.asJSON {
		return c.printJSON(v)
	}
	printTicket(c.stdout, v, s.Loc)
	return exitOK
}

func (c *cli) printJSON(v any) int {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return c.fail("%v", err)
	}
	return exitOK
}

// ticketArg parses the ticket number in the first argument.
func (c *cli) ticketArg() (uint64, bool) {
	if len(c.args) == 0 {
		return 0, false
	}
	id, err := strconv.ParseUint(strings.TrimPrefix(c.args[0], "#"), 10, 64)
	return id, err == nil && id > 0
}

// text is the text of a reply or note: the extra arguments, else --file,
// else stdin.
func (c *cli) text() (string, error) {
	if len(c.args) > 1 {
		return strings.Join(c.args[1:], " "), nil
	}
	if c.file != "" {
		b, err := os.ReadFile(c.file)
		return string(b), err
	}
	b, err := io.ReadAll(c.stdin)
	return string(b), err
}

// act sends one action to the daemon or the database.
func (c *cli) act(req actionRequest) int {
	_, b, code := c.open()
	if b == nil {
		return code
	}
	defer b.Close()
	msg, err := b.Act(c.ctx, req)
	if err != nil {
		return c.fail("%v", err)
	}
	fmt.Fprintln(c.stdout, msg)
	return exitOK
}

func cmdReply(c *cli) int {
	id, ok := c.ticketArg()
	if !ok || len(c.args) > 1 {
		return c.fail("usage: ticketd reply N --as AGENT [--file F] [--attach FILE]...")
	}
	if c.as == "" {
		return c.fail("reply: --as AGENT is required (or set $TICKETD_AGENT)")
	}
	text, err := c.text()
	if err != nil {
		return c.fail("reply: %v", err)
	}
	req := actionRequest{Action: "reply", ID: id, As: c.as, Text: text}
	for _, f := range c.attach {
		data, err := os.ReadFile(f)
		if err != nil {
			return c.fail("reply: %v", err)
		}
		ct := mime.TypeByExtension(filepath.Ext(f))
		if ct == "" {
			ct = http.DetectContentType(data)
		}
		req.Attachments = append(req.Attachments, ticket.OutAttachment{Filename: filepath.Base(f), ContentType: ct, Data: data})
	}
	return c.act(req)
}

func cmdNote(c *cli) int {
	id, ok := c.ticketArg()
	if !ok {
		return c.fail("usage: ticketd note N [--as AGENT] [TEXT...]")
	}
	text, err := c.text()
	if err != nil {
		return c.fail("note: %v", err)
	}
	return c.act(actionRequest{Action: "note", ID: id, As: c.as, Text: text})
}

func cmdStatus(st ticket.Status) func(c *cli) int {
	return func(c *cli) int {
		id, ok := c.ticketArg()
		if !ok || len(c.args) != 1 {
			return c.fail("usage: ticketd %s N [--as AGENT]", map[ticket.Status]string{ticket.StatusClosed: "close", ticket.StatusSolved: "solve"}[st])
		}
		return c.act(actionRequest{Action: "status", ID: id, As: c.as, Status: st})
	}
}

func cmdAssign(c *cli) int {
	id, ok := c.ticketArg()
	if !ok || len(c.args) != 2 {
		return c.fail("usage: ticketd assign N AGENT [--as AGENT]")
	}
	return c.act(actionRequest{Action: "assign", ID: id, As: c.as, To: c.args[1]})
}

// cmdAdmin runs an operator request on the quarantine or suppression list.
func cmdAdmin(list, op string) func(c *cli) int {
	return func(c *cli) int {
		req := adminOp{List: list, Op: op}
		switch op {
		case "show", "retry", "drop":
			id, ok := c.ticketArg()
			if !ok || len(c.args) != 1 {
				return c.fail("usage: ticketd %s %s ID", list, op)
			}
			req.ID = id
		case "remove":
			if len(c.args) != 1 {
				return c.fail("usage: ticketd suppressions remove EMAIL")
			}
			req.Email = c.args[0]
		}
		s, b, code := c.open()
		if b == nil {
			return code
		}
		defer b.Close()
		out, err := b.Admin(c.ctx, req)
		if err != nil {
			return c.fail("%s %s: %v", list, op, err)
		}
		switch {
		case op == "show":
			c.stdout.Write(out.Raw)
		case c.asJSON:
			return c.printJSON(out)
		case out.Message != "":
			fmt.Fprintln(c.stdout, out.Message)
		case list == "quarantine":
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tRECEIVED\tSIZE\tSOURCE\tREASON")
			for _, r := range out.Quarantine {
				fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\n", r.ID, r.ReceivedAt.In(s.Loc).Format("2006-01-02 15:04"), r.RawSize,
					oneLine(r.Source, 40), oneLine(r.Reason, 80))
			}
			tw.Flush()
		default:
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "EMAIL\tUNTIL\tTICKET\tREASON")
			for _, x := range out.Suppressions {
				fmt.Fprintf(tw, "%s\t%s\t#%d\t%s\n", x.Email, x.Until.In(s.Loc).Format("2006-01-02"), x.Ticket, oneLine(x.Reason, 80))
			}
			tw.Flush()
		}
		return exitOK
	}
}

// cmdAttachmentGet saves one attachment under a sanitised name; it never
// overwrites a file.
func cmdAttachmentGet(c *cli) int {
	id, ok := c.ticketArg()
	if !ok || len(c.args) != 2 {
		return c.fail("usage: ticketd attachment get N INDEX --out DIR")
	}
	index, err := strconv.Atoi(c.args[1])
	if err != nil || index < 1 {
		return c.fail("attachment get: INDEX must be 1 or more, got %q", c.args[1])
	}
	_, b, code := c.open()
	if b == nil {
		return code
	}
	defer b.Close()
	out, err := b.Admin(c.ctx, adminOp{List: "attachment", Op: "get", ID: id, Index: index})
	if err != nil {
		return c.fail("attachment get: %v", err)
	}
	name := rfc822.SafeFilename(out.File.Filename)
	ext := filepath.Ext(name)
	for i := 1; ; i++ {
		path := filepath.Join(c.out, name)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) && i < 1000 {
			name = fmt.Sprintf("%s (%d)%s", strings.TrimSuffix(rfc822.SafeFilename(out.File.Filename), ext), i, ext)
			continue
		}
		if err != nil {
			return c.fail("attachment get: %v", err)
		}
		_, err = f.Write(out.File.Data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return c.fail("attachment get: %v", err)
		}
		fmt.Fprintf(c.stdout, "%s (%d bytes)\n", path, len(out.File.Data))
		return exitOK
	}
}

func cmdBackup(c *cli) int {
	if len(c.args) != 1 {
		return c.fail("usage: ticketd backup FILE")
	}
	s, b, code := c.open()
	if b == nil {
		return code
	}
	defer b.Close()
	path := c.args[0]
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return c.fail("backup: %v", err)
	}
	n, err := b.Backup(c.ctx, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = store.Check(tmp) // a copy cut short fails here
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return c.fail("backup: %v", err)
	}
	fmt.Fprintf(c.stdout, "backup written to %s (%d bytes)\n", path, n)
	if err := recordBackup(s, path); err != nil {
		fmt.Fprintf(c.stderr, "ticketd: backup: the backup is written, but it could not be recorded in the data dir: %v\n", err)
	}
	return exitOK
}

func cmdInit(c *cli) int {
	s, ok := c.settings()
	if !ok {
		return exitConfig
	}
	if _, err := os.Stat(s.DBPath); err == nil {
		if fi, _ := os.Stat(s.DBPath); fi.Size() > 0 {
			fmt.Fprintf(c.stdout, "%s already exists; nothing to do\n", s.DBPath)
			return exitOK
		}
	}
	if !c.noDaemon(s, "init") {
		return exitFail
	}
	db, err := openStore(s, true, 2*time.Second)
	if err != nil {
		return c.fail("init: %v", err)
	}
	defer db.Close()
	if _, err := db.Secret(); err != nil {
		return c.fail("init: %v", err)
	}
	fmt.Fprintf(c.stdout, "created %s\n", s.DBPath)
	return exitOK
}

func cmdCheckDB(c *cli) int {
	s, b, code := c.open()
	if b == nil {
		return code
	}
	defer b.Close()
	out, err := b.Admin(c.ctx, adminOp{List: "db", Op: "check"})
	if err != nil {
		return c.fail("check-db: %v", err)
	}
	fmt.Fprintf(c.stdout, "%s: %s\n", s.DBPath, out.Message)
	return exitOK
}

// noDaemon refuses to go on while serve answers on the admin socket.
func (c *cli) noDaemon(s *Settings, what string) bool {
	if rb, ok := dialAdmin(s.Socket); ok {
		rb.Close()
		c.fail("%s: ticketd serve is running (admin socket %s); stop it first", what, s.Socket)
		return false
	}
	return true
}

func cmdRestore(c *cli) int {
	if len(c.args) != 1 {
		return c.fail("usage: ticketd restore FILE")
	}
	s, ok := c.settings()
	if !ok {
		return exitConfig
	}
	if !c.noDaemon(s, "restore") {
		return exitFail
	}
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
		return c.fail("restore: %v", err)
	}
	kept, err := store.Restore(c.args[0], s.DBPath)
	if err != nil {
		return c.fail("restore: %v", err)
	}
	fmt.Fprintf(c.stdout, "restored %s from %s", s.DBPath, c.args[0])
	if kept != "" {
		fmt.Fprintf(c.stdout, "; the previous database is kept as %s", kept)
	}
	fmt.Fprintln(c.stdout)
	return exitOK
}

func cmdCompact(c *cli) int {
	s, ok := c.settings()
	if !ok {
		return exitConfig
	}
	if !c.noDaemon(s, "compact") {
		return exitFail
	}
	before, after, err := store.Compact(s.DBPath)
	if err != nil {
		return c.fail("compact: %v", err)
	}
	fmt.Fprintf(c.stdout, "compacted %s: %d -> %d bytes\n", s.DBPath, before, after)
	return exitOK
}
