package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	_ "time/tzdata" // Asia/Seoul even where the system has no zoneinfo

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

// command is one subcommand. Each group of commands lists its own, in the
// file that holds their bodies (cmd_*.go).
type command struct {
	name string // one or two words
	args string // the synopsis of its arguments and flags
	help string
	// flags declares the command's own flags on fs, bound to fields of c;
	// nil: none (--config is everyone's).
	flags func(c *cli, fs *flag.FlagSet)
	run   func(c *cli) int
}

// commands is every command, in the order help lists them.
func commands() []command {
	var all []command
	all = append(all, daemonCommands()...)
	all = append(all, ticketCommands()...)
	all = append(all, searchCommands()...)
	all = append(all, opsCommands()...)
	all = append(all, configCommands()...)
	all = append(all, oauthCommands()...)
	return append(all,
		command{name: "demo", help: "run against embedded IMAP and SMTP servers with sample mail (needs nothing else)", run: cmdDemo},
		command{name: "version", help: "print the version", run: cmdVersion},
	)
}

// cli is the state of one invocation: its streams, its arguments, and the
// values of the flags its command declared.
type cli struct {
	args   []string // after the command name and flags
	config string
	stdout io.Writer
	stderr io.Writer
	stdin  io.Reader
	ctx    context.Context

	status string
	asJSON bool
	as     string
	// unmask and reason are tickets show's --unmask and --reason.
	unmask bool
	reason string
	// requester and dryRun are privacy erase's and export's.
	requester string
	dryRun    bool
	// from and days are hours's; from is also tickets search's.
	from string
	days int
	// overdue and dueBefore are tickets list's SLA filters.
	overdue   bool
	dueBefore string
	// category and group are tickets list's filters; group is also
	// assign --group.
	category, group string
	// into is merge's --into; following split's --following.
	into      uint64
	following bool
	out       string
	file      string
	attach    multiFlag
}

// jsonFlag declares --json, for commands that can print JSON.
func jsonFlag(c *cli, fs *flag.FlagSet) { fs.BoolVar(&c.asJSON, "json", false, "print JSON") }

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }

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
	all := commands()
	var cmd *command
	for i := range all {
		words := strings.Fields(all[i].name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == all[i].name {
			cmd = &all[i]
			args = args[len(words):]
			break
		}
	}
	if cmd == nil {
		if group := commandGroup(all, args); len(group) > 0 {
			// "ticketd tickets": the group's own commands, not all of them.
			fmt.Fprintf(stderr, "ticketd %s: which one?\n\n", args[0])
			listCommands(stderr, group)
			return exitUsage
		}
		fmt.Fprintf(stderr, "ticketd: unknown command %q\n\n", strings.Join(args, " "))
		usage(stderr)
		return exitUsage
	}
	c := &cli{stdout: stdout, stderr: stderr, stdin: stdin, ctx: ctx}
	fs := flag.NewFlagSet("ticketd "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.config, "config", *cfgPath, "config file")
	if cmd.flags != nil {
		cmd.flags(c, fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: ticketd %s %s\n  %s\n", cmd.name, cmd.args, cmd.help)
		fs.PrintDefaults()
	}
	// Flags may come before or after the positional arguments.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	c.args = pos
	return cmd.run(c)
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "ticketd turns the mail of a support mailbox into tickets.\n\nusage: ticketd [--config FILE] COMMAND [ARGS]\n\ncommands:\n")
	listCommands(w, commands())
}

// listCommands prints cmds with their arguments and help, aligned.
func listCommands(w io.Writer, cmds []command) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range cmds {
		fmt.Fprintf(tw, "  %s %s\t%s\n", c.name, c.args, c.help)
	}
	tw.Flush()
}

// commandGroup returns the commands of two words whose first word is the
// first of args, when args name no whole command ("tickets", "tickets
// frobnicate").
func commandGroup(all []command, args []string) []command {
	if len(args) == 0 {
		return nil
	}
	var out []command
	for _, c := range all {
		if first, _, two := strings.Cut(c.name, " "); two && first == args[0] {
			out = append(out, c)
		}
	}
	return out
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

// newLogger returns the logger of cfg. Times are written in loc (the
// configured timezone, with its offset) when loc is set; in JSON, a
// duration is a number of seconds under its key with "_s" appended
// ("took_s": 0.031), in text it stays as Go writes it ("took=31ms").
func newLogger(w io.Writer, cfg LogConfig, loc *time.Location) *slog.Logger {
	lvl, _ := parseLevel(cfg.Level)
	json := cfg.Format == "json"
	opts := &slog.HandlerOptions{Level: lvl, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		switch {
		case a.Key == slog.TimeKey && len(groups) == 0 && loc != nil && a.Value.Kind() == slog.KindTime:
			a.Value = slog.TimeValue(a.Value.Time().In(loc))
		case json && a.Value.Kind() == slog.KindDuration:
			return slog.Float64(a.Key+"_s", a.Value.Duration().Seconds())
		case a.Value.Kind() == slog.KindString:
			// Personal data never reaches a log, at any level.
			if v := a.Value.String(); v != "" {
				a.Value = slog.StringValue(ticket.MaskPersonalData(v))
			}
		case a.Value.Kind() == slog.KindAny:
			if err, ok := a.Value.Any().(error); ok {
				a.Value = slog.StringValue(ticket.MaskPersonalData(err.Error()))
			}
		}
		return a
	}}
	if json {
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
	b, err := c.backend(s, newLogger(c.stderr, s.Config.Log, s.Loc), false)
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

func cmdVersion(c *cli) int {
	v := version
	if v == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			v = bi.Main.Version
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					v += " (" + s.Value[:12] + ")"
				}
				if s.Key == "vcs.modified" && s.Value == "true" {
					v += " modified"
				}
			}
		}
	}
	fmt.Fprintf(c.stdout, "ticketd %s\n", v)
	return exitOK
}

func versionString() string {
	var b strings.Builder
	cmdVersion(&cli{stdout: &b})
	return b.String()
}
