package smtp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketd/ticketd/ticket"
)

// keepServer is an SMTP server that numbers its connections, counts the
// mails it accepted on each and lets a test say how a connection answers
// a command (answer returns "" for the usual reply).
type keepServer struct {
	addr   string
	mu     sync.Mutex
	conns  []net.Conn
	mails  []int // accepted, by connection
	cmds   []string
	answer func(conn int, cmd string) string
	// pipelining: the server offers PIPELINING (set before the first
	// connection).
	pipelining bool
	// grouped lists the commands that arrived with the next already
	// there: sent without waiting for the reply.
	grouped []string
	line    atomic.Value // the last command line, for answer
}

// eachMode runs f against a server that takes one command at a time and
// against one that offers PIPELINING.
func eachMode(t *testing.T, f func(t *testing.T, ks *keepServer)) {
	for _, pipe := range []bool{false, true} {
		name := map[bool]string{false: "one at a time", true: "pipelining"}[pipe]
		t.Run(name, func(t *testing.T) {
			ks := newKeepServer(t)
			ks.pipelining = pipe
			f(t, ks)
		})
	}
}

func newKeepServer(t *testing.T) *keepServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ks := &keepServer{addr: ln.Addr().String()}
	t.Cleanup(func() { ln.Close(); ks.drop() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ks.mu.Lock()
			n := len(ks.conns)
			ks.conns, ks.mails = append(ks.conns, c), append(ks.mails, 0)
			ks.mu.Unlock()
			go ks.serve(c, n)
		}
	}()
	return ks
}

func (ks *keepServer) serve(c net.Conn, n int) {
	defer c.Close()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	say := func(s string) { w.WriteString(s + "\r\n"); w.Flush() }
	say("220 keep.example ESMTP")
	mail, rcpts := false, 0 // the transaction so far, as a real server keeps it
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.Fields(line + " x")[0])
		ks.line.Store(line)
		ks.mu.Lock()
		ks.cmds = append(ks.cmds, fmt.Sprintf("%d %s", n, cmd))
		if r.Buffered() > 0 {
			ks.grouped = append(ks.grouped, fmt.Sprintf("%d %s", n, cmd))
		}
		answer, pipe := ks.answer, ks.pipelining
		ks.mu.Unlock()
		if answer != nil {
			if a := answer(n, cmd); a != "" {
				say(a)
				if strings.HasPrefix(a, "421") {
					return
				}
				continue
			}
		}
		switch cmd {
		case "EHLO":
			if pipe {
				say("250-keep.example\r\n250-PIPELINING\r\n250 8BITMIME")
			} else {
				say("250-keep.example\r\n250 8BITMIME")
			}
		case "MAIL":
			mail, rcpts = true, 0
			say("250 ok")
		case "RCPT":
			if !mail {
				say("503 5.5.1 Error: need MAIL command")
				continue
			}
			if !strings.HasPrefix(line, "RCPT TO:<") || !strings.Contains(line, ">") {
				say("501 5.1.3 Bad recipient address syntax") // RFC 5321 4.1.2 wants the brackets
				continue
			}
			rcpts++
			say("250 ok")
		case "RSET":
			mail, rcpts = false, 0
			say("250 ok")
		case "DATA":
			if rcpts == 0 {
				say("554 5.5.1 Error: no valid recipients")
				continue
			}
			mail, rcpts = false, 0
			say("354 go on")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			ks.mu.Lock()
			ks.mails[n]++
			ks.mu.Unlock()
			say("250 2.0.0 queued")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

// lastLine is the last command line read (an answer func may look).
func (ks *keepServer) lastLine() string { return ks.line.Load().(string) }

func (ks *keepServer) setAnswer(f func(conn int, cmd string) string) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.answer = f
}

// drop closes every connection, as a server that went away.
func (ks *keepServer) drop() {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	for _, c := range ks.conns {
		c.Close()
	}
}

func (ks *keepServer) counts() (conns int, mails []int) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return len(ks.conns), append([]int(nil), ks.mails...)
}

func (ks *keepServer) sender(t *testing.T) *Sender {
	t.Helper()
	host, port := smtpHostPort(t, ks.addr)
	snd, err := NewSender(Config{Host: host, Port: port, Security: "plain", Timeout: 2 * time.Second}, nil)
	smtpCheck(t, err, "new sender")
	t.Cleanup(snd.Close)
	return snd
}

func keepMail(i int) ticket.Outgoing {
	o := smtpOutgoing()
	o.ID, o.MessageID = uint64(i), fmt.Sprintf("keep-%d@support.example.test", i)
	return o
}

func total(ms []int) (n int) {
	for _, m := range ms {
		n += m
	}
	return n
}

// One connection carries the mails that follow each other, RSET between
// them, up to keepMails; then a new one.
func TestSenderKeepsTheConnection(t *testing.T) {
	eachMode(t, func(t *testing.T, ks *keepServer) {
		snd := ks.sender(t)
		for i := range keepMails + 5 {
			if _, err := snd.Send(context.Background(), keepMail(i), nil); err != nil {
				t.Fatalf("mail %d: %v", i, err)
			}
		}
		conns, mails := ks.counts()
		if conns != 2 || mails[0] != keepMails || mails[1] != 5 {
			t.Fatalf("%d connections carrying %v mails, want 2 carrying [%d 5]", conns, mails, keepMails)
		}
		ks.mu.Lock()
		rsets := strings.Count(strings.Join(ks.cmds, "\n"), "0 RSET")
		ks.mu.Unlock()
		if rsets != keepMails-1 {
			t.Errorf("%d RSETs on the first connection, want one before each reuse (%d)", rsets, keepMails-1)
		}
		// Close says QUIT on the kept one.
		snd.Close()
		time.Sleep(100 * time.Millisecond)
		ks.mu.Lock()
		quit := strings.Contains(strings.Join(ks.cmds, "\n"), "1 QUIT")
		ks.mu.Unlock()
		if !quit {
			t.Error("Close did not QUIT the kept connection")
		}
	})
}

// A kept connection that died (the server went away and came back), that
// the server closes (421) or whose server can no longer queue mail (451 to
// MAIL FROM: an MTA stopping under an old smtpd) is dropped and the mail
// goes out on a new connection, once, without an error. After a pause the
// kept connection must answer NOOP first.
func TestSenderDropsAStaleConnection(t *testing.T) {
	for name, stale := range map[string]func(ks *keepServer){
		"dead": func(ks *keepServer) { ks.drop() },
		"421 to RSET": func(ks *keepServer) {
			ks.setAnswer(func(n int, cmd string) string {
				if n == 0 && cmd == "RSET" {
					return "421 4.3.2 shutting down"
				}
				return ""
			})
		},
		"451 to MAIL FROM": func(ks *keepServer) {
			ks.setAnswer(func(n int, cmd string) string {
				if n == 0 && cmd == "MAIL" {
					return "451 4.3.0 Error: queue file write error"
				}
				return ""
			})
		},
		"no answer to NOOP after a pause": func(ks *keepServer) {
			time.Sleep(noopAfter + 100*time.Millisecond)
			ks.setAnswer(func(n int, cmd string) string {
				if n == 0 && cmd == "NOOP" {
					return "500 5.5.1 what"
				}
				return ""
			})
		},
	} {
		t.Run(name, func(t *testing.T) {
			eachMode(t, func(t *testing.T, ks *keepServer) {
				snd := ks.sender(t)
				smtpCheck(t, sendErr(snd.Send(context.Background(), keepMail(1), nil)), "first mail")
				stale(ks)
				if err := sendErr(snd.Send(context.Background(), keepMail(2), nil)); err != nil {
					t.Fatalf("second mail: %v (server saw %v)", err, ks.cmds)
				}
				if conns, mails := ks.counts(); conns != 2 || total(mails) != 2 || mails[1] != 1 {
					t.Fatalf("%d connections carrying %v, want the second mail on a new one", conns, mails)
				}
			})
		})
	}
}

// A temporary refusal of MAIL FROM on a new connection is the mail's
// answer (retried later by the outbox), not a reason to try again now; a
// refusal of a recipient keeps the connection for the next mail.
func TestSenderKeepsRefusalsAsTheyAre(t *testing.T) {
	eachMode(t, func(t *testing.T, ks *keepServer) {
		ks.answer = func(n int, cmd string) string {
			if cmd == "MAIL" {
				return "451 4.7.1 try later"
			}
			return ""
		}
		snd := ks.sender(t)
		err := sendErr(snd.Send(context.Background(), keepMail(1), nil))
		if err == nil || ticket.IsPermanent(err) || !strings.Contains(err.Error(), "451") {
			t.Fatalf("451 to MAIL on a new connection: %v", err)
		}
		if conns, _ := ks.counts(); conns != 1 {
			t.Fatalf("%d connections, want no second try", conns)
		}
		ks.mu.Lock()
		ks.answer = func(n int, cmd string) string {
			if cmd == "RCPT" {
				return "550 5.1.1 no such user"
			}
			return ""
		}
		ks.mu.Unlock()
		if err := sendErr(snd.Send(context.Background(), keepMail(2), nil)); !ticket.IsPermanent(err) {
			t.Fatalf("every recipient refused: %v", err)
		}
		ks.mu.Lock()
		ks.answer = nil
		ks.mu.Unlock()
		smtpCheck(t, sendErr(snd.Send(context.Background(), keepMail(3), nil)), "after the refusals")
		if conns, mails := ks.counts(); conns != 1 || mails[0] != 1 {
			t.Fatalf("%d connections carrying %v, want one connection throughout", conns, mails)
		}
	})
}

// An unused connection is closed after keepIdle.
func TestSenderClosesAnIdleConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("waits keepIdle")
	}
	eachMode(t, func(t *testing.T, ks *keepServer) {
		snd := ks.sender(t)
		smtpCheck(t, sendErr(snd.Send(context.Background(), keepMail(1), nil)), "mail")
		time.Sleep(keepIdle + 500*time.Millisecond)
		ks.mu.Lock()
		quit := strings.Contains(strings.Join(ks.cmds, "\n"), "0 QUIT")
		ks.mu.Unlock()
		if !quit {
			t.Error("the idle connection was not closed")
		}
	})
}

// Sends at once (the outbox's lanes) keep a connection each: two senders
// of ten mails each, overlapping, use two connections, every mail on a
// kept one after the first, and Close QUITs both.
func TestSenderKeepsAConnectionPerConcurrentSend(t *testing.T) {
	ks := newKeepServer(t)
	ks.setAnswer(func(int, string) string {
		time.Sleep(2 * time.Millisecond) // the two senders overlap
		return ""
	})
	snd := ks.sender(t)
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			for i := range 10 {
				if _, err := snd.Send(context.Background(), keepMail(g*100+i), nil); err != nil {
					t.Errorf("sender %d mail %d: %v", g, i, err)
				}
			}
		})
	}
	wg.Wait()
	conns, mails := ks.counts()
	if conns != 2 || total(mails) != 20 {
		t.Fatalf("%d connections carrying %v mails, want 2 carrying 20", conns, mails)
	}
	snd.Close()
	ks.mu.Lock()
	cmds := strings.Join(ks.cmds, "\n")
	ks.mu.Unlock()
	if !strings.Contains(cmds, "0 QUIT") || !strings.Contains(cmds, "1 QUIT") {
		t.Errorf("Close did not QUIT both kept connections:\n%s", cmds)
	}
}

// ready is asked after DATA, before the end of the data. When it fails the
// server never gets the end: the connection is dropped, no mail is
// counted, and the next mail goes on a new connection.
func TestSenderAsksReadyBeforeTheEnd(t *testing.T) {
	eachMode(t, func(t *testing.T, ks *keepServer) {
		snd := ks.sender(t)
		var last string
		calls := 0
		_, err := snd.Send(context.Background(), keepMail(1), func() error {
			calls++
			ks.mu.Lock()
			last = ks.cmds[len(ks.cmds)-1]
			ks.mu.Unlock()
			return errors.New("the claim was not committed")
		})
		if err == nil || !strings.Contains(err.Error(), "not committed") {
			t.Fatalf("Send = %v, want ready's error", err)
		}
		if calls != 1 || last != "0 DATA" {
			t.Fatalf("ready called %d times, last command before it %q; want once, after DATA", calls, last)
		}
		smtpCheck(t, sendErr(snd.Send(context.Background(), keepMail(2), func() error { return nil })), "next mail")
		if conns, mails := ks.counts(); conns != 2 || mails[0] != 0 || mails[1] != 1 {
			t.Fatalf("%d connections carrying %v mails, want 2 carrying [0 1]: the first never got its end", conns, mails)
		}
	})
}

// With PIPELINING the envelope goes in one write (RSET, MAIL, RCPT, DATA)
// and its replies are read in order; without it, one command at a time.
// A recipient refused for now stops the mail for all: without pipelining
// before DATA (the connection is kept), with it after DATA was answered
// 354, so the connection is dropped without the end of the data.
func TestSenderPipelinesTheEnvelope(t *testing.T) {
	eachMode(t, func(t *testing.T, ks *keepServer) {
		snd := ks.sender(t)
		for i := range 3 {
			smtpCheck(t, sendErr(snd.Send(context.Background(), keepMail(i), nil)), "mail")
		}
		ks.mu.Lock()
		grouped := strings.Join(ks.grouped, " ")
		ks.mu.Unlock()
		want := map[bool]string{false: "", true: "0 MAIL 0 RCPT 0 RSET 0 MAIL 0 RCPT 0 RSET 0 MAIL 0 RCPT"}[ks.pipelining]
		if grouped != want {
			t.Fatalf("commands sent before the reply to the one before: %q, want %q", grouped, want)
		}

		o := keepMail(9)
		o.Cc = []ticket.Address{{Email: "busy@example.org"}}
		ks.setAnswer(func(n int, cmd string) string {
			if cmd == "RCPT" && strings.Contains(ks.lastLine(), "busy@") {
				return "450 4.2.1 mailbox busy"
			}
			return ""
		})
		err := sendErr(snd.Send(context.Background(), o, nil))
		if err == nil || ticket.IsPermanent(err) || !strings.Contains(err.Error(), "busy@example.org") {
			t.Fatalf("a recipient refused for now: %v, want a temporary error naming it", err)
		}
		ks.setAnswer(nil)
		smtpCheck(t, sendErr(snd.Send(context.Background(), keepMail(10), nil)), "next mail")
		conns, mails := ks.counts()
		if ks.pipelining && (conns != 2 || mails[0] != 3 || mails[1] != 1) || !ks.pipelining && (conns != 1 || mails[0] != 4) {
			t.Fatalf("%d connections carrying %v: the refused mail must reach nobody (pipelining %v)", conns, mails, ks.pipelining)
		}
	})
}
