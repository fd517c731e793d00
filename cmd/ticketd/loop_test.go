package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/mailbox/devserver"
)

// instanceConfig writes a config for a ticketd whose support address is
// support on the shared dev servers.
func instanceConfig(t *testing.T, srv *devserver.Server, support string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tdloop")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ih, ip, _ := net.SplitHostPort(srv.IMAPAddr())
	sh, sp, _ := net.SplitHostPort(srv.SMTPAddr())
	cfg := fmt.Sprintf("data_dir: %s\ncenter: {address: %s}\nlog: {level: error}\n"+
		"mailboxes: [{host: %s, port: %s, security: plain, username: %s, password: pw}]\nsmtp: {host: %s, port: %s, security: plain}\n",
		dir, support, ih, ip, support, sh, sp)
	path := filepath.Join(dir, "ticketd.yaml")
	os.WriteFile(path, []byte(cfg), 0o600)
	return path
}

func pollWith(t *testing.T, cfg string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := runChecked(t, context.Background(), []string{"--config", cfg, "poll"}, nil, &out, &errb); code != 0 {
		t.Fatalf("poll %s: exit %d %s %s", cfg, code, out.String(), errb.String())
	}
}

// countAll counts the mails in every listed mailbox.
func countAll(t *testing.T, srv *devserver.Server, users ...string) int {
	n := 0
	for _, u := range users {
		for _, f := range []string{"INBOX"} {
			msgs, err := srv.Messages(u, f)
			if err != nil {
				t.Fatal(err)
			}
			n += len(msgs)
		}
	}
	return n
}

// Two ticketd installations that mail each other: B's address writes to A
// (say a misrouted acknowledgement without headers); A acknowledges, B
// sees an automatic mail and does not answer.
func TestTwoInstancesDoNotLoop(t *testing.T) {
	srv, err := devserver.Start(devserver.Options{Users: map[string]string{"a@example.test": "pw", "b@example.test": "pw"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfgA, cfgB := instanceConfig(t, srv, "a@example.test"), instanceConfig(t, srv, "b@example.test")
	srv.Append("a@example.test", "INBOX", []byte("From: b@example.test\r\nTo: a@example.test\r\nSubject: hello\r\nMessage-ID: <start@example.test>\r\n\r\nhi\r\n"))
	for round := 0; round < 6; round++ {
		pollWith(t, cfgA)
		pollWith(t, cfgB)
	}
	total := countAll(t, srv, "a@example.test", "b@example.test")
	fmt.Printf("loop test, two ticketd instances: %d mails in all after 6 rounds of polling both\n", total)
	if total > 6 || total < 2 {
		t.Fatalf("%d mails exchanged, want 2..6", total)
	}
}

// An auto-responder that answers everything at once and sets no header at
// all: in one case it keeps the subject (so the [#N] tag), in the other it
// uses a fixed subject (a new ticket each time).
func TestAutoResponderWithoutHeadersDoesNotLoop(t *testing.T) {
	for _, keepSubject := range []bool{true, false} {
		t.Run(fmt.Sprint("keep subject ", keepSubject), func(t *testing.T) {
			srv, err := devserver.Start(devserver.Options{Users: map[string]string{"support@example.test": "pw", "away@example.test": "pw"}})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			var answered atomic.Int32
			srv.SetSMTPHook(func(from string, rcpts []string, data []byte) error {
				if data == nil || len(rcpts) != 1 || rcpts[0] != "away@example.test" {
					return nil
				}
				m, err := mailbox.Parse(data)
				if err != nil {
					return nil
				}
				subject := "I am away until Monday"
				if keepSubject {
					subject = "Re: " + m.Subject
				}
				n := answered.Add(1)
				reply := fmt.Sprintf("From: away@example.test\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <away-%d@example.test>\r\n\r\nI am away.\r\n",
					m.From.Email, subject, n)
				return srv.Append("support@example.test", "INBOX", []byte(reply))
			})
			cfg := instanceConfig(t, srv, "support@example.test")
			srv.Append("support@example.test", "INBOX", []byte("From: away@example.test\r\nTo: support@example.test\r\nSubject: question\r\nMessage-ID: <q@example.test>\r\n\r\n?\r\n"))
			for round := 0; round < 8; round++ {
				pollWith(t, cfg)
			}
			total := countAll(t, srv, "support@example.test", "away@example.test")
			fmt.Printf("loop test, header-less auto-responder (keep subject %v): %d mails in all after 8 polls\n", keepSubject, total)
			if total > 6 {
				t.Fatalf("%d mails, want at most 6", total)
			}
			if got, _ := srv.Messages("away@example.test", "INBOX"); len(got) != 1 {
				t.Fatalf("the responder got %d acknowledgements, want 1", len(got))
			}
			if n := answered.Load(); n != 1 {
				t.Fatalf("responder answered %d times, want 1", n)
			}
		})
	}
}
