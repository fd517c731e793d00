package smtp

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ticketd/ticketd/ticket"
)

// stallSMTP is an SMTP server that answers a plain dialogue and, at the
// stage named, stops answering and reading (a hung server, or a connection
// gone half-open). authCode, when set, is its answer to AUTH.
func stallSMTP(t *testing.T, stage, authCode string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				hang := func() { <-stop }
				r, w := bufio.NewReader(c), bufio.NewWriter(c)
				say := func(s string) { w.WriteString(s + "\r\n"); w.Flush() }
				if stage == "greeting" {
					hang()
					return
				}
				say("220 stall.example ESMTP")
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					cmd := strings.ToUpper(strings.Fields(line + " x")[0])
					if strings.EqualFold(cmd, stage) {
						hang()
						return
					}
					switch cmd {
					case "EHLO":
						say("250-stall.example\r\n250-AUTH PLAIN\r\n250 8BITMIME")
					case "AUTH":
						if authCode != "" {
							say(authCode + " 5.7.8 bad credentials")
							continue
						}
						say("235 2.7.0 ok")
					case "DATA":
						say("354 go on")
						if stage == "body" {
							hang() // reads nothing more: the writes of the body block
							return
						}
						for {
							l, err := r.ReadString('\n')
							if err != nil {
								return
							}
							if l == ".\r\n" {
								break
							}
						}
						if stage == "end" {
							hang()
							return
						}
						say("250 2.0.0 queued")
					case "QUIT":
						say("221 bye")
						return
					default:
						say("250 ok")
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// Every stage of a send obeys smtp.timeout: a server that stops answering
// at the greeting, EHLO, AUTH, MAIL, RCPT, DATA, while the body is written
// or after it, costs at most about the timeout, and the mail is kept for a
// retry. A stall after the mail was accepted (QUIT) does not fail it.
func TestSMTPEveryStageHasTheTimeout(t *testing.T) {
	for _, stage := range []string{"greeting", "EHLO", "AUTH", "MAIL", "RCPT", "DATA", "body", "end", "QUIT"} {
		t.Run(stage, func(t *testing.T) {
			host, port := smtpHostPort(t, stallSMTP(t, stage, ""))
			snd, err := NewSender(Config{Host: host, Port: port, Security: "plain", Username: "u", Password: "p", Auth: "plain",
				Timeout: 300 * time.Millisecond}, nil)
			smtpCheck(t, err, "new sender")
			o := smtpOutgoing()
			if stage == "body" {
				// Large enough that the writes block once the socket
				// buffers are full.
				o.Attachments = []ticket.OutAttachment{{Filename: "big.bin", ContentType: "application/octet-stream", Data: make([]byte, 16<<20)}}
			}
			start := time.Now()
			_, err = snd.Send(context.Background(), o, nil)
			took := time.Since(start)
			// The bound is loose: encoding the body costs time of its own
			// (much more under -race), and what fails without a deadline is
			// a send that never returns.
			if took > 20*time.Second {
				t.Fatalf("send took %v with a 300ms timeout", took)
			}
			if stage == "QUIT" {
				if err != nil {
					t.Fatalf("a stall after the mail was accepted failed it: %v", err)
				}
				return
			}
			if err == nil || ticket.IsPermanent(err) {
				t.Fatalf("want a temporary error, got %v", err)
			}
			var ce *ConnectError
			if before := stage == "greeting" || stage == "EHLO" || stage == "AUTH"; before != errors.As(err, &ce) {
				t.Fatalf("connect-stage error %v for a stall at %s: %v", errors.As(err, &ce), stage, err)
			}
			t.Logf("%s: %v after %v", stage, err, took.Round(time.Millisecond))
		})
	}
}

// Failures before any mail is given to the server say where they were, so
// that health reports can name what to fix.
func TestSMTPConnectErrorStages(t *testing.T) {
	stageOf := func(cfg Config) string {
		t.Helper()
		cfg.Timeout = 2 * time.Second
		snd, err := NewSender(cfg, nil)
		smtpCheck(t, err, "new sender")
		_, err = snd.Send(context.Background(), smtpOutgoing(), nil)
		var ce *ConnectError
		if !errors.As(err, &ce) {
			t.Fatalf("%+v: not a ConnectError: %v", cfg, err)
		}
		return ce.Stage
	}
	host, port := smtpHostPort(t, stallSMTP(t, "", "535"))
	if s := stageOf(Config{Host: host, Port: port, Security: "plain", Username: "u", Password: "wrong", Auth: "plain"}); s != "auth" {
		t.Errorf("535 to AUTH: stage %q, want auth", s)
	}
	host, port = smtpHostPort(t, stallSMTP(t, "", "454"))
	if s := stageOf(Config{Host: host, Port: port, Security: "plain", Username: "u", Password: "p", Auth: "plain"}); s != "busy" {
		t.Errorf("454 to AUTH (the server's authentication is down): stage %q, want busy", s)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	_, closed := smtpHostPort(t, ln.Addr().String())
	ln.Close()
	if s := stageOf(Config{Host: "127.0.0.1", Port: closed, Security: "plain"}); s != "connect" {
		t.Errorf("refused: stage %q, want connect", s)
	}
	if s := stageOf(Config{Host: host, Port: port, Security: "starttls"}); s != "tls" {
		t.Errorf("no STARTTLS: stage %q, want tls", s)
	}
}
