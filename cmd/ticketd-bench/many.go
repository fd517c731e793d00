package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/ticketd/ticketd/e2e"
)

// manyResult is the many-mailbox measurement.
type manyResult struct {
	mailboxes, per int
	allIn          time.Duration   // serve's start to the last of the backlog's tickets
	acksOut        time.Duration   // serve's start to the last of their acknowledgements sent
	pickup         []time.Duration // SMTP accept -> ticket committed, one mail to each mailbox in turn
}

// manyUsers are the mailboxes of the many-mailbox measurement: m01, m02, ...
func manyUsers(n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("m%02d", i))
	}
	return out
}

// many measures ticketd on -many mailboxes of -many-mails mails each on the
// same Dovecot (IMAPS, one IDLE connection each, schedule 1h): the time
// from `ticketd serve`'s start until every mail is a ticket, then the IDLE
// pickup of one mail sent through Postfix to each mailbox in turn (SMTP
// accept to the "imap: new ticket" log line) with every IDLE connection
// open.
func (b *bench) many(ctx context.Context) (*manyResult, error) {
	users := manyUsers(b.opts.many)
	res := &manyResult{mailboxes: len(users), per: b.opts.manyMails}
	if err := b.emptyInbox(ctx, "support"); err != nil {
		return nil, err
	}
	for _, u := range users {
		if err := b.appendMails(ctx, u, res.per); err != nil {
			return nil, err
		}
	}
	s := b.stack
	var extra strings.Builder
	extra.WriteString("    schedule: \"@every 1h\"\n    idle: true\n")
	for _, u := range users {
		fmt.Fprintf(&extra, "  - name: %s\n    host: %s\n    port: %d\n    security: tls\n    ca_file: %s\n    username: %s\n"+
			"    password_file: %s\n    folder: INBOX\n    post_action: seen\n    schedule: \"@every 1h\"\n    idle: true\n",
			u, s.Host, s.IMAPSPort, s.CACert, s.Address(u), b.password)
	}
	dir := filepath.Join(b.work, "many")
	cfg, err := b.writeConfig(dir, "imaps", extra.String(), b.smtpPlain(), b.privacy())
	if err != nil {
		return nil, err
	}
	want := int64(len(users) * res.per)
	start := time.Now()
	sv, err := b.serve(ctx, cfg, filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	defer sv.stop()
	for sv.log.tickets.Load() < want {
		select {
		case <-sv.done:
			return nil, fmt.Errorf("ticketd serve exited with %d of %d tickets", sv.log.tickets.Load(), want)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Since(start) > 10*time.Minute {
			return nil, fmt.Errorf("%d of %d tickets after 10 minutes", sv.log.tickets.Load(), want)
		}
	}
	res.allIn = time.Since(start)
	b.log.Info("many mailboxes: every mail is a ticket", "mailboxes", len(users), "mails", want, "took", res.allIn.Round(time.Millisecond))
	// The acknowledgements of the backlog go out before the pickup is
	// measured, so that it does not share the machine with them.
	for sv.log.sent.Load() < want && time.Since(start) < 15*time.Minute && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	res.acksOut = time.Since(start)
	time.Sleep(2 * time.Second) // IDLE again on every connection after the backlog
	for len(sv.log.events) > 0 {
		<-sv.log.events
	}
	for i, u := range users {
		for len(sv.log.events) > 0 {
			<-sv.log.events
		}
		raw := fmt.Sprintf("From: <customer@%s>\r\nTo: %s\r\nSubject: pickup %d\r\nMessage-ID: <pickup-%d@customer.example.test>\r\n"+
			"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n앱 로그인이 안 됩니다.\r\n", s.Domain, s.Address(u), i, i)
		if err := s.SendMail("customer@"+s.Domain, []string{s.Address(u)}, []byte(raw)); err != nil {
			return nil, fmt.Errorf("pickup mail to %s: %w", u, err)
		}
		accepted := time.Now()
		select {
		case ev := <-sv.log.events:
			res.pickup = append(res.pickup, ev.at.Sub(accepted))
		case <-sv.done:
			return nil, fmt.Errorf("ticketd serve exited")
		case <-time.After(30 * time.Second):
			b.warn("many mailboxes: the mail to %s was not picked up within 30 s", u)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	sv.stop()
	sv.log.mu.Lock()
	var problems []string
	for _, p := range sv.log.problems {
		if !strings.HasPrefix(p, "config: ") { // serve's notes on the bench's own config
			problems = append(problems, p)
		}
	}
	sv.log.mu.Unlock()
	if len(problems) > 0 {
		b.warn("many mailboxes: ticketd serve logged %d warnings/errors, the first: %q", len(problems), problems[0])
	}
	med, p95, most := e2e.LatencyStats(res.pickup)
	b.log.Info("many mailboxes: IDLE pickup", "mails", len(res.pickup), "median", med, "p95", p95, "max", most)
	return res, nil
}

// appendMails appends n small Korean inquiries to user's INBOX, each from
// its own address of the stack's customer (customer+cN@), so that the
// acknowledgements are delivered.
func (b *bench) appendMails(ctx context.Context, user string, n int) error {
	c, done, err := b.dial(ctx, "plain", user)
	if err != nil {
		return err
	}
	defer done()
	for i := range n {
		raw := fmt.Appendf(nil, "From: <customer+c%d@%s>\r\nTo: %s\r\nSubject: =?UTF-8?B?7IOB7ZmY7J28IOusuOydmA==?= %d\r\n"+
			"Message-ID: <many-%s-%d@customer.example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
			i, b.stack.Domain, b.stack.Address(user), i, user, i, strings.Repeat("햇살론 상환일을 바꾸고 싶습니다. ", 40))
		cmd := c.Append("INBOX", int64(len(raw)), nil)
		if _, err := cmd.Write(raw); err != nil {
			return fmt.Errorf("APPEND to %s: %w", user, err)
		}
		if err := cmd.Close(); err != nil {
			return fmt.Errorf("APPEND to %s: %w", user, err)
		}
		if _, err := cmd.Wait(); err != nil {
			return fmt.Errorf("APPEND to %s: %w", user, err)
		}
	}
	return c.Logout().Wait()
}
