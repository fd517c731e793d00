package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// pollResult is one `ticketd poll` run.
type pollResult struct {
	took time.Duration // the poll itself, from its "poll done" log line
	wall time.Duration // the whole command: start, poll, sending the acknowledgements, exit
	// rssKiB is the peak RSS: the child's VmHWM, the last value sampled.
	// (rusage.Maxrss is not used: it also counts the bench's own memory,
	// which the child shared between fork and exec.)
	rssKiB    int64
	anonKiB   int64 // highest RssAnon seen (sampled every 10 ms): heap, stacks
	fileKiB   int64 // highest RssFile seen: mapped file pages, i.e. bbolt's mmap
	dbBytes   int64 // size of ticketd.db afterwards
	tickets   int
	acks      int // acknowledgements queued (log lines "imap: new ticket" with acknowledged=true)
	delivered int // acknowledgements found in the customer's INBOX
	// sent, firstSent and lastSent are the outbox's "outbox: sent" lines:
	// how many, the first and the last.
	sent                int
	firstSent, lastSent time.Time
}

// ackRate is the acknowledgements sent a second, from the first to the
// last; 0 when fewer than two were.
func (r pollResult) ackRate() float64 {
	if r.sent < 2 || !r.lastSent.After(r.firstSent) {
		return 0
	}
	return float64(r.sent-1) / r.lastSent.Sub(r.firstSent).Seconds()
}

// logLine is the part of a ticketd JSON log line the bench reads.
type logLine struct {
	Time         time.Time       `json:"time"`
	Level        string          `json:"level"`
	Msg          string          `json:"msg"`
	Took         json.RawMessage `json:"took"`
	TookS        float64         `json:"took_s"`
	Fetched      int             `json:"fetched"`
	Ticket       uint64          `json:"ticket"`
	UID          uint32          `json:"uid"`
	Acknowledged bool            `json:"acknowledged"`
	Err          string          `json:"err"`
	Conflicts    int64           `json:"conflicts"`
}

// duration reads slog's JSON duration: nanoseconds, or a Go duration string.
func (l logLine) duration() (time.Duration, bool) {
	if l.TookS > 0 { // ticketd logs durations in seconds under key_s
		return time.Duration(l.TookS * float64(time.Second)), true
	}
	s := strings.Trim(string(l.Took), `"`)
	if s == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Duration(n), true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}

// column is one column of the table: a transport, with or without
// encryption at rest.
type column struct {
	mode    string // "plain" or "imaps"
	encrypt bool
}

func (c column) String() string {
	if c.encrypt {
		return c.mode + " encrypted"
	}
	return c.mode
}

// columns are the table's columns, in the order the runs alternate.
func (o options) columns() []column {
	var out []column
	for _, m := range o.modes {
		for _, e := range o.encrypt {
			out = append(out, column{m, e})
		}
	}
	return out
}

// writeKey writes the encryption key of the encrypted runs (32 random
// bytes, base64, as ticketd privacy keygen makes it).
func (b *bench) writeKey() error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	b.key = filepath.Join(b.work, "db-key")
	return os.WriteFile(b.key, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o400)
}

// privacy is the config's privacy section with the bench's key: the
// latency and many-mailbox runs use it, as a center would.
func (b *bench) privacy() string { return "privacy: {key_file: " + b.key + "}" }

// pollLine matches the summary `ticketd poll` prints per mailbox, e.g.
// "support/INBOX: fetched 200 (64.2 MB in 1.2s), new tickets 200, ...".
var pollLine = regexp.MustCompile(`fetched (\d+)\b[^,\n]*, new tickets (\d+)`)

// poll runs `ticketd poll` over mode with a fresh data directory, checks
// what it did, and puts the mailboxes back for the next run.
func (b *bench) poll(ctx context.Context, col column, run int) (pollResult, error) {
	var r pollResult
	mode := col.String() // in the messages and the directory's name
	dir := filepath.Join(b.work, fmt.Sprintf("poll-%s-%d", strings.ReplaceAll(mode, " ", "-"), run))
	var extra []string
	if col.encrypt {
		extra = append(extra, b.privacy())
	}
	cfg, err := b.writeConfig(dir, col.mode, "", b.smtpPlain(), extra...)
	if err != nil {
		return r, err
	}
	logPath := filepath.Join(dir, "poll.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return r, err
	}
	defer logFile.Close()
	var stdout bytes.Buffer
	cmd := b.command(ctx, cfg, "poll")
	cmd.Stdout, cmd.Stderr = &stdout, logFile
	start := time.Now()
	runErr := cmd.Start()
	if runErr == nil {
		stopSampling := sampleMemory(cmd.Process.Pid, &r.rssKiB, &r.anonKiB, &r.fileKiB, b.log)
		runErr = cmd.Wait()
		stopSampling()
	}
	r.wall = time.Since(start)
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	if cmd.ProcessState == nil {
		return r, fmt.Errorf("start %s poll: %w", b.bin, runErr)
	}
	if runErr != nil {
		b.warn("%s run %d: ticketd poll exited with %v: %s (log: %s)", mode, run, runErr, strings.TrimSpace(stdout.String()), logPath)
	}
	if m := pollLine.FindStringSubmatch(stdout.String()); m == nil {
		b.warn("%s run %d: ticketd poll printed no summary line: %q", mode, run, stdout.String())
	} else if fetched, _ := strconv.Atoi(m[1]); fetched != b.opts.mails || m[2] != strconv.Itoa(b.opts.mails) {
		b.warn("%s run %d: ticketd poll: %s (want %d fetched, %d new tickets)", mode, run, m[0], b.opts.mails, b.opts.mails)
	}

	// The log: the poll's own duration, the acknowledgements queued, and
	// anything at WARN or above.
	if err := logFile.Sync(); err != nil {
		return r, err
	}
	lines, err := readLog(logPath)
	if err != nil {
		return r, err
	}
	var problems []string
	for _, l := range lines {
		switch {
		case l.Msg == "poll done":
			if d, ok := l.duration(); ok {
				r.took = d
			}
		case l.Msg == "imap: new ticket" && l.Acknowledged:
			r.acks++
		case l.Msg == "outbox: sent":
			if r.sent == 0 {
				r.firstSent = l.Time
			}
			r.sent++
			r.lastSent = l.Time
		}
		if l.Level == "WARN" || l.Level == "ERROR" {
			problems = append(problems, strings.TrimSpace(l.Msg+" "+l.Err))
		}
	}
	if len(problems) > 0 {
		b.warn("%s run %d: ticketd logged %d warnings/errors, the first: %q (log: %s)", mode, run, len(problems), problems[0], logPath)
	}
	if r.took == 0 {
		b.warn("%s run %d: no \"poll done\" line with \"took\" in ticketd's log; using the command's wall time", mode, run)
		r.took = r.wall
	}
	if r.acks != b.opts.mails {
		b.warn("%s run %d: %d acknowledgements queued for %d mails", mode, run, r.acks, b.opts.mails)
	}

	if fi, err := os.Stat(filepath.Join(dir, "data", "ticketd.db")); err != nil {
		b.warn("%s run %d: %v", mode, run, err)
	} else {
		r.dbBytes = fi.Size()
	}

	// Every mail a ticket of its own?
	tickets, tagged, err := b.countTickets(ctx, cfg)
	if err != nil {
		b.warn("%s run %d: tickets list: %v", mode, run, err)
	}
	r.tickets = tickets
	if tickets != b.opts.mails || tagged != b.opts.mails {
		b.warn("%s run %d: %d tickets (%d distinct bench mails among them) for %d mails", mode, run, tickets, tagged, b.opts.mails)
	}
	// The post-action: every mail \Seen.
	if n, unseen, err := b.status(ctx, "support"); err != nil {
		return r, err
	} else if unseen != 0 {
		b.warn("%s run %d: %d of %d mails in support's INBOX still unseen after the poll (post-action seen)", mode, run, unseen, n)
	}
	// Let Postfix deliver the acknowledgements before the next measurement,
	// and check they all arrived.
	t0 := time.Now()
	r.delivered, err = b.waitDelivered(ctx, "customer", r.acks, 30*time.Second)
	if err != nil {
		return r, fmt.Errorf("waiting for the acknowledgements: %w", err)
	}
	if r.delivered != r.acks {
		b.warn("%s run %d: %d of %d acknowledgements arrived in the customer's INBOX", mode, run, r.delivered, r.acks)
	}
	b.log.Info("acknowledgements delivered", "count", r.delivered, "waited", time.Since(t0).Round(time.Millisecond))
	if b.ackSample == nil && r.delivered > 0 {
		raw, err := b.stack.WaitMessage("customer", "INBOX", func([]byte) bool { return true }, 10*time.Second)
		if err != nil {
			return r, fmt.Errorf("reading an acknowledgement: %w", err)
		}
		if b.ackSample, err = splitMIME(raw); err != nil {
			return r, fmt.Errorf("the acknowledgement read back: %w", err)
		}
	}
	if err := b.emptyInbox(ctx, "customer"); err != nil {
		return r, err
	}
	stray, err := b.resetSupport(ctx)
	if err != nil {
		return r, err
	}
	if stray > 0 {
		b.warn("%s run %d: %d unexpected mails arrived in support's INBOX (deleted): bounces of acknowledgements?", mode, run, stray)
	}
	if !b.opts.keep {
		if err := os.RemoveAll(filepath.Join(dir, "data")); err != nil {
			return r, err
		}
	}
	return r, nil
}

var tagRE = regexp.MustCompile(`^inquiry (\d{5})`)

// countTickets returns the number of tickets and how many distinct bench
// mails (by the subject's tag) they hold.
func (b *bench) countTickets(ctx context.Context, cfg string) (tickets, tagged int, err error) {
	var out, errOut bytes.Buffer
	cmd := b.command(ctx, cfg, "tickets", "list", "--json")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("%w: %s", err, strings.TrimSpace(errOut.String()))
	}
	var list []struct {
		Subject string `json:"subject"`
	}
	if err := json.Unmarshal(out.Bytes(), &list); err != nil {
		return 0, 0, fmt.Errorf("tickets list --json: %w", err)
	}
	seen := map[string]bool{}
	for _, t := range list {
		if m := tagRE.FindStringSubmatch(t.Subject); m != nil {
			seen[m[1]] = true
		}
	}
	return len(list), len(seen), nil
}

// readLog parses ticketd's JSON log; lines that are not JSON are skipped.
func readLog(path string) ([]logLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []logLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, os.ErrClosed) {
		return out, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// sampleMemory reads VmHWM, RssAnon and RssFile of pid from /proc every 10
// ms and keeps the highest of each, until the returned function is called
// (which waits for the sampler to stop). VmHWM is the kernel's own peak, so
// only a peak in the last 10 ms before exit is missed; the RssAnon and
// RssFile peaks between samples are.
func sampleMemory(pid int, hwmKiB, anonKiB, fileKiB *int64, log *slog.Logger) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	path := fmt.Sprintf("/proc/%d/status", pid)
	go func() {
		defer close(finished)
		defer func() {
			if v := recover(); v != nil {
				log.Error("memory sampler panic", "panic", v, "stack", string(debug.Stack()))
			}
		}()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if raw, err := os.ReadFile(path); err == nil {
				for _, line := range strings.Split(string(raw), "\n") {
					k, v, ok := strings.Cut(line, ":")
					if !ok {
						continue
					}
					f := strings.Fields(v)
					if len(f) == 0 {
						continue
					}
					n, err := strconv.ParseInt(f[0], 10, 64)
					if err != nil {
						continue
					}
					switch k {
					case "VmHWM":
						*hwmKiB = max(*hwmKiB, n)
					case "RssAnon":
						*anonKiB = max(*anonKiB, n)
					case "RssFile":
						*fileKiB = max(*fileKiB, n)
					}
				}
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
