package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// latencyResult holds the IDLE latencies of the mails sent one at a time.
type latencyResult struct {
	committed []time.Duration // SMTP accept -> serve logs "imap: new ticket"
	acked     []time.Duration // SMTP accept -> acknowledgement readable in the customer's INBOX
}

// ticketEvent is a "imap: new ticket" line of serve's log, with the time
// the bench read it.
type ticketEvent struct {
	at     time.Time
	ticket uint64
}

// serveLog reads serve's JSON log as it is written: it copies it to a file,
// sends each new-ticket line to events, and notes when IDLE runs.
type serveLog struct {
	events chan ticketEvent
	idle   chan struct{} // closed at "imap idle: watching for new mail"

	// tickets counts every new ticket (events drops what nobody waits
	// for).
	tickets atomic.Int64
	// sent counts the outbox's "outbox: sent" lines.
	sent atomic.Int64
	// conflicts is what serve logs at its end with store.driver
	// postgres: its transactions run again after a conflict.
	conflicts atomic.Int64

	mu       sync.Mutex
	problems []string
}

func (l *serveLog) read(r io.Reader, file io.Writer, log func(string, ...any)) {
	defer func() {
		if v := recover(); v != nil {
			log("reading serve's log: panic: %v\n%s", v, debug.Stack())
		}
	}()
	idleClosed := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		at := time.Now()
		line := sc.Bytes()
		_, _ = file.Write(append(line, '\n'))
		var ll logLine
		if json.Unmarshal(line, &ll) != nil {
			continue
		}
		switch ll.Msg {
		case "outbox: sent":
			l.sent.Add(1)
		case "store: transactions run again after a conflict with another":
			l.conflicts.Store(ll.Conflicts)
		case "imap: new ticket":
			l.tickets.Add(1)
			select {
			case l.events <- ticketEvent{at: at, ticket: ll.Ticket}:
			default: // nobody waits for so many; the bench notices the gap
			}
		case "imap idle: watching for new mail":
			if !idleClosed {
				close(l.idle)
				idleClosed = true
			}
		}
		if ll.Level == "WARN" || ll.Level == "ERROR" {
			l.mu.Lock()
			l.problems = append(l.problems, strings.TrimSpace(ll.Msg+" "+ll.Err))
			l.mu.Unlock()
		}
	}
	// The pipe ends when serve exits: the copy to io.Discard keeps serve
	// from blocking on a full pipe should the scanner give up on a line.
	_, _ = io.Copy(io.Discard, r)
}

// latency runs `ticketd serve` with IDLE and sends mails one at a time.
func (b *bench) latency(ctx context.Context) (*latencyResult, error) {
	n := b.opts.latency
	s := b.stack
	// The backlog would be polled at start: the support INBOX is emptied
	// first (the drain and poll runs are done), and the customer's too, so
	// that looking for an acknowledgement reads only these.
	if err := b.emptyInbox(ctx, "support"); err != nil {
		return nil, err
	}
	if err := b.emptyInbox(ctx, "customer"); err != nil {
		return nil, err
	}
	dir := filepath.Join(b.work, "latency")
	cfg, err := b.writeConfig(dir, "imaps", "    schedule: \"@every 1h\"\n    idle: true\n", b.smtpSubmission(), b.privacy())
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "serve.log")
	sv, err := b.serve(ctx, cfg, logPath)
	if err != nil {
		return nil, err
	}
	defer sv.stop()
	sl, readDone, stop := sv.log, sv.done, sv.stop
	b.log.Info("ticketd serve is in IDLE; sending mails one at a time", "mails", n)

	res := &latencyResult{}
	for i := 1; i <= n; i++ {
		for len(sl.events) > 0 { // a stray event must not count for this mail
			ev := <-sl.events
			b.warn("IDLE latency: ticket #%d appeared between mails", ev.ticket)
		}
		subject := fmt.Sprintf("latency %02d", i)
		msgid := fmt.Sprintf("latency-%d-%02d@customer.example.test", b.opts.seed, i)
		from := fmt.Sprintf("customer+lat%02d@%s", i, s.Domain)
		raw := fmt.Sprintf("From: <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\nDate: %s\r\n"+
			"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
			"상환일을 변경하고 싶습니다. How soon is this seen?\r\n",
			from, s.Address("support"), subject, msgid, time.Now().Format(time.RFC1123Z))
		if err := s.SendMail(from, []string{s.Address("support")}, []byte(raw)); err != nil {
			return nil, fmt.Errorf("mail %d through Postfix: %w", i, err)
		}
		accepted := time.Now()

		var (
			wg     sync.WaitGroup
			ack    time.Duration
			ackErr error
		)
		wg.Go(func() {
			defer func() {
				if v := recover(); v != nil {
					ackErr = fmt.Errorf("panic: %v\n%s", v, debug.Stack())
				}
			}()
			_, ackErr = s.WaitMessage("customer", "INBOX", inReplyTo(msgid), 60*time.Second)
			ack = time.Since(accepted)
		})
		var ev ticketEvent
		var evErr error
		select {
		case ev = <-sl.events:
		case <-readDone:
			evErr = fmt.Errorf("ticketd serve exited (log: %s)", logPath)
		case <-time.After(30 * time.Second):
			evErr = fmt.Errorf("no new ticket within 30s with a schedule of 1h: IDLE did not pick the mail up (log: %s)", logPath)
		case <-ctx.Done():
			evErr = ctx.Err()
		}
		wg.Wait()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if evErr != nil {
			return nil, fmt.Errorf("mail %d: %w", i, evErr)
		}
		if ackErr != nil {
			return nil, fmt.Errorf("mail %d: acknowledgement: %w", i, ackErr)
		}
		commit := ev.at.Sub(accepted)
		if got, err := b.ticketSubject(ctx, cfg, ev.ticket); err != nil || got != subject {
			b.warn("IDLE latency, mail %d: ticket #%d has subject %q (%v), want %q", i, ev.ticket, got, err, subject)
		}
		b.log.Info("IDLE latency", "mail", i, "committed", commit.Round(time.Millisecond), "ack_in_inbox", ack.Round(time.Millisecond))
		res.committed = append(res.committed, commit)
		res.acked = append(res.acked, ack)
	}
	stop()
	sl.mu.Lock()
	problems := sl.problems
	sl.mu.Unlock()
	if len(problems) > 0 {
		b.warn("ticketd serve logged %d warnings/errors, the first: %q (log: %s)", len(problems), problems[0], logPath)
	}
	return res, nil
}

// ticketSubject returns ticket id's subject (through serve's admin socket).
func (b *bench) ticketSubject(ctx context.Context, cfg string, id uint64) (string, error) {
	var out, errOut bytes.Buffer
	cmd := b.command(ctx, cfg, "tickets", "show", fmt.Sprint(id), "--json")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(errOut.String()))
	}
	var t struct {
		Subject string `json:"subject"`
	}
	if err := json.Unmarshal(out.Bytes(), &t); err != nil {
		return "", err
	}
	if t.Subject == "" {
		return "", errors.New("no subject in tickets show --json")
	}
	return t.Subject, nil
}

// inReplyTo matches a mail whose In-Reply-To is <msgid>.
func inReplyTo(msgid string) func([]byte) bool {
	return func(raw []byte) bool {
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		return err == nil && strings.Trim(strings.TrimSpace(m.Header.Get("In-Reply-To")), "<>") == msgid
	}
}

// served is a running `ticketd serve` whose log is read as it is written.
type served struct {
	log  *serveLog
	done chan struct{} // closed when the log ends (serve exited)
	stop func()        // SIGINT, then the wait (once)
}

// serve starts `ticketd serve` with cfg, its log copied to logPath, and
// waits until IDLE runs.
func (b *bench) serve(ctx context.Context, cfg, logPath string) (*served, error) {
	return b.serveNode(ctx, cfg, logPath, true)
}

// serveNode is serve, waiting for IDLE to start only when waitIdle is set
// (a node of several may hold no mailbox).
func (b *bench) serveNode(ctx context.Context, cfg, logPath string, waitIdle bool) (*served, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := b.command(ctx, cfg, "serve")
	pipe, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	cmd.Stdout = logFile
	sl := &serveLog{events: make(chan ticketEvent, 16), idle: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start ticketd serve: %w", err)
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sl.read(pipe, logFile, func(f string, a ...any) { b.log.Error(fmt.Sprintf(f, a...)) })
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			defer logFile.Close()
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case <-readDone:
			case <-time.After(20 * time.Second):
				b.warn("ticketd serve still running 20s after SIGINT; killing it (log: %s)", logPath)
				_ = cmd.Process.Kill()
				<-readDone
			}
			if err := cmd.Wait(); err != nil && ctx.Err() == nil {
				b.warn("ticketd serve after SIGINT: %v (log: %s)", err, logPath)
			}
		})
	}
	if !waitIdle {
		return &served{log: sl, done: readDone, stop: stop}, nil
	}
	select {
	case <-sl.idle:
	case <-readDone:
		stop()
		return nil, fmt.Errorf("ticketd serve exited before IDLE started (log: %s)", logPath)
	case <-time.After(60 * time.Second):
		stop()
		return nil, fmt.Errorf("ticketd serve: IDLE not started within 60s (log: %s)", logPath)
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	}
	return &served{log: sl, done: readDone, stop: stop}, nil
}
