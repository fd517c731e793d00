package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ticketd/ticketd/mailbox/oauth/oauthtest"
)

// TestOAuthAgainstDovecotAndPostfix signs in without a password: Dovecot
// checks every access token at the test authorization server (its oauth2
// passdb, by introspection), for IMAP and, through its SASL service, for
// Postfix's submission. The mailbox uses the device flow (`ticketd oauth
// login`, approved by the test), smtp app-only client credentials; the two
// mechanisms, XOAUTH2 and OAUTHBEARER, are each used with IMAP and with
// SMTP. Then the user's tokens are expired (a refresh signs in again) and
// revoked: /healthz says 503 naming the credential and the command, the
// operator is mailed once, no mail is lost, and a new login mends it.
func TestOAuthAgainstDovecotAndPostfix(t *testing.T) {
	auth, err := oauthtest.Start(oauthtest.Options{
		Clients:    map[string]string{"ticketd": "", "ticketd-app": "app-secret"},
		AppAccount: map[string]string{"ticketd-app": "support@example.test"},
		Rotate:     true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer auth.Close()
	s := StartWith(t, 31000, "MAILSTACK_OAUTH_INTROSPECTION_URL="+auth.URL()+"/introspect")
	bin := buildTicketd(t, s.RepoRoot())
	for i, mechs := range [][2]string{{"xoauth2", "oauthbearer"}, {"oauthbearer", "xoauth2"}} {
		t.Run(mechs[0]+"-imap-"+mechs[1]+"-smtp", func(t *testing.T) {
			o := newOAuthRun(t, s, auth, bin, mechs[0], mechs[1])
			o.login(t)
			o.serve(t)
			defer o.stop(t)
			o.deliver(t, fmt.Sprintf("oauth-%d-1@example.test", i), "햇살론 서류 문의")
			o.waitTickets(t, 1)
			if _, err := s.WaitMessage("customer", "INBOX", Contains("[#1]"), 30*time.Second); err != nil {
				t.Fatalf("no acknowledgement through submission with %s: %v\n%s", mechs[1], err, o.log.String())
			}
			if i > 0 {
				return // the lifecycle below once is enough
			}

			// Expired tokens: Dovecot refuses, ticketd refreshes and signs in.
			refreshes := auth.Issued("refresh_token")
			auth.Expire()
			o.deliver(t, "oauth-0-2@example.test", "채무조정 문의")
			o.waitTickets(t, 2)
			if auth.Issued("refresh_token") <= refreshes {
				t.Fatalf("no refresh after the tokens expired")
			}

			// Revoked: the mailbox cannot sign in; it says so, and waits.
			auth.Revoke("support@example.test")
			o.deliver(t, "oauth-0-3@example.test", "앱 로그인 문의")
			o.waitHealth(t, 503, "oauth credential imap", "ticketd oauth login imap")
			if _, body := o.get(t, "/metrics"); !strings.Contains(body, `ticketd_oauth_up{credential="imap"} 0`) {
				t.Errorf("metrics: ticketd_oauth_up not 0")
			}
			alert, err := s.WaitMessage("agent", "INBOX", Contains("ticketd oauth login imap"), 30*time.Second)
			if err != nil {
				t.Fatalf("the operator was not mailed: %v\n%s", err, o.log.String())
			}
			if !bytes.Contains(alert, []byte("Auto-Submitted: auto-generated")) {
				t.Errorf("the operator's alert is not marked automatic:\n%s", alert)
			}
			if n := ticketCount(t, bin, o.cfg); n != 2 {
				t.Fatalf("%d tickets while the login is revoked, want 2", n)
			}

			o.login(t) // through the running daemon
			o.waitHealth(t, 200)
			o.waitTickets(t, 3) // the mail that waited on the server
			if msgs, _ := s.Messages("agent", "INBOX"); countMatching(msgs, Contains("ticketd oauth login imap")) != 1 {
				t.Errorf("the operator was mailed %d times, want once", countMatching(msgs, Contains("ticketd oauth login imap")))
			}
		})
	}
}

// oauthRun is one ticketd signing in with tokens.
type oauthRun struct {
	s    *Stack
	auth *oauthtest.Server
	bin  string
	cfg  string
	http string
	cmd  *exec.Cmd
	log  *lockedBuffer
}

func newOAuthRun(t *testing.T, s *Stack, auth *oauthtest.Server, bin, imapMech, smtpMech string) *oauthRun {
	t.Helper()
	dir, err := os.MkdirTemp("", "td-oauth")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := ln.Addr().String()
	ln.Close()
	support := s.Address("support")
	c := fmt.Sprintf(`data_dir: %[1]s/data
center: {name: 서민금융 고객센터, address: %[2]s}
operator: {address: %[3]s}
oauth:
  - {name: imap, provider: custom, client_id: ticketd, token_url: "%[4]s/token", device_url: "%[4]s/device", scopes: [mail, offline_access]}
  - {name: smtp, provider: custom, flow: client_credentials, client_id: ticketd-app, client_secret_env: TD_E2E_APP_SECRET, token_url: "%[4]s/token", scopes: [mail]}
mailboxes:
  - {name: support, host: 127.0.0.1, port: %[5]d, security: tls, ca_file: %[6]s, username: %[2]s, auth: %[7]s, oauth: imap,
     schedule: "@every 1s", post_action: move, move_to: Processed}
smtp: {host: 127.0.0.1, port: %[8]d, security: starttls, ca_file: %[6]s, username: %[2]s, auth: %[9]s, oauth: smtp}
http: {listen: "%[10]s"}
health: {fail_after: 1}
`, dir, support, s.Address("agent"), auth.URL(), s.IMAPSPort, s.CACert, imapMech, s.SubmissionPort, smtpMech, httpAddr)
	cfg := filepath.Join(dir, "ticketd.yaml")
	if err := os.WriteFile(cfg, []byte(c), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TD_E2E_APP_SECRET", "app-secret")
	if code, out := runTicketd(t, bin, cfg, "check-config"); code != 0 {
		t.Fatalf("check-config: %d\n%s", code, out)
	}
	return &oauthRun{s: s, auth: auth, bin: bin, cfg: cfg, http: httpAddr}
}

// login runs `ticketd oauth login imap` and approves the code it shows.
func (o *oauthRun) login(t *testing.T) {
	t.Helper()
	cmd := exec.Command(o.bin, "--config", o.cfg, "oauth", "login", "imap")
	// exec copies the output in a goroutine of its own: the buffer is locked.
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for approved := false; !approved; time.Sleep(50 * time.Millisecond) {
		for _, code := range o.auth.Pending() {
			// The code shown is the one to approve.
			if strings.Contains(out.String(), code) && o.auth.Approve(code, "support@example.test") {
				approved = true
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no code to approve in 30 s:\n%s", out.String())
		}
	}
	select {
	case err := <-done:
		if err != nil || !strings.Contains(out.String(), "토큰을 저장했습니다") {
			t.Fatalf("oauth login: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("oauth login did not end after the approval:\n%s", out.String())
	}
}

func (o *oauthRun) serve(t *testing.T) {
	t.Helper()
	o.cmd = exec.Command(o.bin, "--config", o.cfg, "serve")
	o.log = &lockedBuffer{}
	o.cmd.Stdout, o.cmd.Stderr = o.log, o.log
	if err := o.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	o.waitHealth(t, 200)
}

func (o *oauthRun) stop(t *testing.T) {
	t.Helper()
	o.cmd.Process.Signal(syscall.SIGTERM)
	if err := o.cmd.Wait(); err != nil {
		t.Errorf("serve after SIGTERM: %v\n%s", err, o.log.String())
	}
	if t.Failed() {
		t.Logf("serve's log:\n%s", o.log.String())
	}
}

// deliver sends a customer's inquiry to support through Postfix.
func (o *oauthRun) deliver(t *testing.T, msgid, subject string) {
	t.Helper()
	customer := o.s.Address("customer")
	raw := fmt.Sprintf("From: 고객 <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n문의드립니다.\r\n",
		customer, o.s.Address("support"), subject, msgid, time.Now().Format(time.RFC1123Z))
	if err := o.s.SendMail(customer, []string{o.s.Address("support")}, []byte(raw)); err != nil {
		t.Fatal(err)
	}
}

func (o *oauthRun) waitTickets(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for ticketCount(t, o.bin, o.cfg) < n {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d tickets after 30 s\n%s", n, o.log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (o *oauthRun) get(t *testing.T, path string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + o.http + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitHealth waits until /healthz answers code with every text of want.
func (o *oauthRun) waitHealth(t *testing.T, code int, want ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, body := o.get(t, "/healthz")
		ok := got == code
		for _, w := range want {
			ok = ok && strings.Contains(body, w)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz %d, want %d with %q:\n%s\nserve:\n%s", got, code, want, body, o.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
