package main

import (
	"context"
	"errors"
	"fmt"
	"net/smtp"
	"strings"
	"time"

	"github.com/ticketd/ticketd/e2e"
)

// mtaRate is what the MTA accepts on one connection: n copies of an
// acknowledgement ticketd sent (b.ackSample: its MIME headers and body,
// with our own From, To, Subject and Message-ID; before the first poll a
// 4 KB stand-in of text and HTML), each to the address the
// acknowledgement of mail i of the mix goes to (a distinct
// customer+bNNNNN address a mail, as Postfix resolves and delivers the
// acknowledgements), over one plain SMTP connection to the port ticketd
// sends to,
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
	from := b.stack.Address("support")
	content := b.ackSample
	if content == nil {
		body := strings.Repeat("접수되었습니다. 상담 운영시간 중에 답변드리겠습니다.\r\n", 30) // ~2 KB of text, the same as HTML
		content = &mimeContent{
			header: "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n",
			body:   "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>" + body + "</p>\r\n--b--\r\n",
		}
	}
	var first, last time.Time
	for i := range n {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		to := customerAddress(i)
		msg := fmt.Sprintf("From: support <%s>\r\nTo: <%s>\r\nSubject: [#%d] bench\r\nMessage-ID: <mta-%d-%d@bench.example.test>\r\n%s\r\n%s\r\n%s",
			from, to, i, b.mtaRuns, i, marker, content.header, content.body)
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
	if _, err := b.stack.WaitMessages("customer", "INBOX", e2e.Contains(marker), n, 5*time.Minute); err != nil {
		b.warn("the MTA measurement's mails were not all delivered: %v", err)
	}
	if err := b.emptyInbox(ctx, "customer"); err != nil {
		return 0, err
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

// mimeContent is a mail's content: its MIME header fields (CRLF-ended) and
// its body.
type mimeContent struct{ header, body string }

// splitMIME takes the MIME header fields (MIME-Version, Content-*, folded
// lines included) and the body of raw; the other fields (the delivery's
// Return-Path and Received, the addresses, the ids) are not the content.
func splitMIME(raw []byte) (*mimeContent, error) {
	s := strings.ReplaceAll(string(raw), "\r\n", "\n")
	head, body, ok := strings.Cut(s, "\n\n")
	if !ok {
		return nil, fmt.Errorf("no end of header in %d bytes", len(raw))
	}
	var h strings.Builder
	keep := false
	for line := range strings.SplitSeq(head, "\n") {
		if line != "" && (line[0] == ' ' || line[0] == '\t') {
			if keep {
				h.WriteString(line + "\r\n")
			}
			continue
		}
		name, _, _ := strings.Cut(line, ":")
		name = strings.ToLower(strings.TrimSpace(name))
		keep = name == "mime-version" || strings.HasPrefix(name, "content-")
		if keep {
			h.WriteString(line + "\r\n")
		}
	}
	if !strings.Contains(strings.ToLower(h.String()), "content-type:") {
		return nil, errors.New("no Content-Type field")
	}
	return &mimeContent{header: h.String(), body: strings.ReplaceAll(body, "\n", "\r\n")}, nil
}
