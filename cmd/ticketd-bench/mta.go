package main

import (
	"context"
	"fmt"
	"net/smtp"
	"strings"
	"time"

	"github.com/ticketd/ticketd/e2e"
)

// mtaRate is what the MTA accepts on one connection: n mails of an
// acknowledgement's size (text and HTML, 4 KB) sent to the agent's
// mailbox over one plain SMTP connection to the port ticketd sends to,
// RSET between them, measured from the first accepted to the last, as the
// outbox's rate is. With pipelined, RSET, MAIL, RCPT and DATA go in one
// write (PIPELINING, as the outbox sends to Postfix); else each waits for
// the reply to the one before. It waits until Postfix has delivered them,
// so that the next measurement does not share the machine with the
// deliveries.
func (b *bench) mtaRate(ctx context.Context, n int, pipelined bool) (float64, error) {
	b.mtaRuns++
	marker := fmt.Sprintf("X-Bench-MTA: %d", b.mtaRuns)
	c, err := smtp.Dial(b.stack.Addr(b.stack.SMTPPort))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if err := c.Hello("bench.example.test"); err != nil {
		return 0, err
	}
	from, to := b.stack.Address("support"), b.stack.Address("agent")
	body := strings.Repeat("접수되었습니다. 상담 운영시간 중에 답변드리겠습니다.\r\n", 30) // ~2 KB of text, the same as HTML
	var first, last time.Time
	for i := range n {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		msg := fmt.Sprintf("From: support <%s>\r\nTo: <%s>\r\nSubject: [#%d] bench\r\nMessage-ID: <mta-%d-%d@bench.example.test>\r\n%s\r\n"+
			"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s"+
			"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>%s</p>\r\n--b--\r\n", from, to, i, b.mtaRuns, i, marker, body, body)
		if pipelined {
			if err := pipelinedMail(c, i > 0, from, to, msg); err != nil {
				return 0, err
			}
		} else if err := oneAtATime(c, i > 0, from, to, msg); err != nil {
			return 0, err
		}
		last = time.Now()
		if i == 0 {
			first = last
		}
	}
	c.Quit()
	if _, err := b.stack.WaitMessages("agent", "INBOX", e2e.Contains(marker), n, 5*time.Minute); err != nil {
		b.warn("the MTA measurement's mails were not all delivered: %v", err)
	}
	if n < 2 {
		return 0, nil
	}
	return float64(n-1) / last.Sub(first).Seconds(), nil
}

func oneAtATime(c *smtp.Client, reset bool, from, to, msg string) error {
	if reset {
		if err := c.Reset(); err != nil {
			return fmt.Errorf("RSET: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	return w.Close()
}

func pipelinedMail(c *smtp.Client, reset bool, from, to, msg string) error {
	type command struct {
		line   string
		expect int
	}
	cmds := []command{{"MAIL FROM:<" + from + ">", 250}, {"RCPT TO:<" + to + ">", 250}, {"DATA", 354}}
	if reset {
		cmds = append([]command{{"RSET", 250}}, cmds...)
	}
	for _, cmd := range cmds {
		c.Text.W.WriteString(cmd.line + "\r\n")
	}
	if err := c.Text.W.Flush(); err != nil {
		return err
	}
	for _, cmd := range cmds {
		if _, _, err := c.Text.ReadResponse(cmd.expect); err != nil {
			return fmt.Errorf("%s: %w", cmd.line, err)
		}
	}
	w := c.Text.DotWriter()
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	_, _, err := c.Text.ReadResponse(250)
	return err
}
