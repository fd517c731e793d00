package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketd/ticketd/mailbox/devserver"
	"github.com/ticketd/ticketd/mailbox/oauth/oauthtest"
)

// Every missing or contradictory oauth key is an error naming it.
func TestCheckConfigOAuth(t *testing.T) {
	const cred = "oauth: [{name: m365, provider: microsoft, tenant: contoso.example, client_id: app}]\n"
	base := func(oauthPart, mailbox, smtp string) string {
		return "data_dir: /x\ncenter: {address: support@example.test}\n" + oauthPart +
			"mailboxes: [{host: 127.0.0.1, security: plain, username: support@example.test, " + mailbox + "}]\n" +
			"smtp: {host: 127.0.0.1, security: plain, " + smtp + "}\n"
	}
	ok := base(cred, "auth: xoauth2, oauth: m365", "username: support@example.test, auth: xoauth2, oauth: m365")
	if s, errs := checkConfigText(t, ok); len(errs) > 0 || s.MailboxOAuth[0] != "m365" || s.SMTPOAuth != "m365" ||
		s.OAuth[0].TokenURL != "https://login.microsoftonline.com/contoso.example/oauth2/v2.0/token" {
		t.Fatalf("a good oauth config: %v %+v", errs, s)
	}
	for _, c := range []struct{ text, key string }{
		{base(cred, "auth: xoauth2", ""), "mailboxes[0].oauth"},
		{base(cred, "auth: oauthbearer, oauth: other", ""), "mailboxes[0].oauth"},
		{base(cred, "auth: xoauth2, oauth: m365, password_env: X", ""), "mailboxes[0].password"},
		{base(cred, "password: pw, oauth: m365", ""), "mailboxes[0].oauth"},
		{base(cred, "auth: cram-md5, password: pw", ""), "mailboxes[0].auth"},
		{base(cred, "password: pw", "auth: xoauth2, oauth: m365"), "smtp.username"},
		{base(cred, "password: pw", "username: u, password: p, oauth: m365"), "smtp.oauth"},
		{base("oauth: [{name: m365, client_id: app}]\n", "password: pw", ""), "oauth[0].provider"},
		{base("oauth: [{name: m365, provider: microsoft, client_id: app}]\n", "password: pw", ""), "oauth[0].provider"},
		{base("oauth: [{name: g, provider: google, flow: client_credentials, client_id: app, client_secret_env: HOME}]\n", "password: pw", ""), "oauth[0].provider"},
		{base("oauth: [{name: c, provider: custom, client_id: app, scopes: [mail]}]\n", "password: pw", ""), "oauth[0].token_url"},
		{base("oauth: [{name: c, provider: custom, client_id: app, scopes: [mail], token_url: \"http://idp.example/token\", device_url: \"https://idp.example/device\"}]\n", "password: pw", ""), "oauth[0].token_url"},
		{base("oauth: [{name: c, provider: custom, client_id: app, token_url: \"https://idp.example/token\", device_url: \"https://idp.example/device\"}]\n", "password: pw", ""), "oauth[0].scopes"},
		{base("oauth: [{name: m, provider: microsoft, tenant: t, flow: client_credentials, client_id: app}]\n", "password: pw", ""), "oauth[0].client_secret_file"},
		{base("oauth: [{name: m, provider: microsoft, tenant: t, flow: magic, client_id: app}]\n", "password: pw", ""), "oauth[0].flow"},
		{base("oauth: [{name: m, provider: microsoft, tenant: t}]\n", "password: pw", ""), "oauth[0].client_id"},
		{base("oauth: [{name: m, provider: microsoft, tenant: t, client_id: a, client_secret_expires: 31.12.2026}]\n", "password: pw", ""), "oauth[0].client_secret_expires"},
		{base("oauth: [{name: m, provider: microsoft, tenant: t, client_id: a}, {name: m, provider: google, client_id: b}]\n", "password: pw", ""), "oauth[1].name"},
		{base("oauth: [{name: \"m 1\", provider: google, client_id: b}]\n", "password: pw", ""), "oauth[0].name"},
		{base(cred, "auth: xoauth2, oauth: m365", "") + "operator: {address: not-an-address}\n", "operator.address"},
	} {
		_, errs := checkConfigText(t, c.text)
		found := false
		for _, err := range errs {
			found = found || strings.HasPrefix(err.Error(), c.key+":")
		}
		if !found {
			t.Errorf("%s\nerrors %v, want one naming %s", c.text, errs, c.key)
		}
	}
	// A client secret about to expire, and a credential nobody uses, are
	// warnings.
	soon := time.Now().AddDate(0, 0, 5).Format("2006-01-02")
	s, errs := checkConfigText(t, base("oauth: [{name: m365, provider: microsoft, tenant: t, client_id: a, client_secret_expires: "+soon+"}]\n", "password_env: HOME", ""))
	if len(errs) > 0 || len(s.Warnings) != 3 || !strings.Contains(s.Warnings[0], "UNENCRYPTED") || !strings.Contains(strings.Join(s.Warnings, "\n"), "expires on "+soon) ||
		!strings.Contains(strings.Join(s.Warnings, "\n"), "named by no mailbox") {
		t.Errorf("warnings %q, errors %v", s.Warnings, errs)
	}
}

// oauthStack is the embedded servers taking access tokens from a test
// authorization server, and a config whose mailbox signs in with the
// device-flow credential "imap" and whose smtp with the app-only
// credential "smtp".
type oauthStack struct {
	*testStack
	auth *oauthtest.Server
	http string // /healthz and /metrics
}

func newOAuthStack(t *testing.T) *oauthStack {
	t.Helper()
	auth, err := oauthtest.Start(oauthtest.Options{Clients: map[string]string{"ticketd": "", "ticketd-app": "app-secret"},
		AppAccount: map[string]string{"ticketd-app": "support@example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auth.Close() })
	srv, err := devserver.Start(devserver.Options{
		Users:  map[string]string{"support@example.test": "pw", "kim@example.test": "pw", "ops@example.test": "pw"},
		Bearer: auth.Bearer,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dir, err := os.MkdirTemp("", "td")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ih, ip, _ := net.SplitHostPort(srv.IMAPAddr())
	sh, sp, _ := net.SplitHostPort(srv.SMTPAddr())
	httpAddr := "127.0.0.1:" + freePort(t)
	cfg := fmt.Sprintf(`data_dir: %s
center: {name: "서민금융 고객센터", address: support@example.test}
operator: {address: ops@example.test}
oauth:
  - {name: imap, provider: custom, client_id: ticketd, token_url: "%[2]s/token", device_url: "%[2]s/device", scopes: [mail, offline_access]}
  - {name: smtp, provider: custom, flow: client_credentials, client_id: ticketd-app, client_secret_env: TD_APP_SECRET, token_url: "%[2]s/token", scopes: [mail]}
mailboxes:
  - {name: support, host: %[3]s, port: %[4]s, security: plain, username: support@example.test, auth: xoauth2, oauth: imap}
smtp: {host: %[5]s, port: %[6]s, security: plain, username: support@example.test, auth: oauthbearer, oauth: smtp}
outbox: {min_backoff: 50ms, max_backoff: 200ms}
http: {listen: "%[7]s"}
log: {level: warn}
`, dir, auth.URL(), ih, ip, sh, sp, httpAddr)
	path := filepath.Join(dir, "ticketd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TD_APP_SECRET", "app-secret")
	st := &oauthStack{testStack: &testStack{srv: srv, cfg: path, dir: dir}, auth: auth, http: httpAddr}
	if code, out, errs := st.ticketd(t, nil, "init"); code != 0 {
		t.Fatalf("init: exit %d: %s%s", code, out, errs)
	}
	return st
}

// login runs `ticketd oauth login imap`, approving the code it shows as
// the support mailbox's owner.
func (s *oauthStack) login(t *testing.T) string {
	t.Helper()
	var wg sync.WaitGroup
	var code int
	var out, errb bytes.Buffer
	wg.Go(func() {
		code = runChecked(t, context.Background(), []string{"--config", s.cfg, "oauth", "login", "imap"}, nil, &out, &errb)
	})
	waitFor(t, 10*time.Second, func() string {
		for _, c := range s.auth.Pending() {
			if s.auth.Approve(c, "support@example.test") {
				return ""
			}
		}
		return "no device login pending"
	})
	wg.Wait()
	if code != 0 || !strings.Contains(out.String(), "이 코드를 입력하십시오") || !strings.Contains(out.String(), "토큰을 저장했습니다") {
		t.Fatalf("oauth login: exit %d\n%s%s", code, out.String(), errb.String())
	}
	return out.String()
}

func (s *oauthStack) status(t *testing.T) []oauthStatus {
	t.Helper()
	code, out, errs := s.ticketd(t, nil, "oauth", "status", "--json")
	if code != 0 {
		t.Fatalf("oauth status: exit %d: %s", code, errs)
	}
	var st []oauthStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return st
}

// The whole life of a sign-in without a password: not logged in (broken,
// nothing fetched), `oauth login`, mail in and acknowledgements out over
// XOAUTH2 and OAUTHBEARER, the refresh token revoked (/healthz 503 naming
// the credential and the command, the metric at 0, the operator mailed
// once, no mail lost), and a new login mending it.
func TestOAuthSignInLifecycle(t *testing.T) {
	s := newOAuthStack(t)
	if st := s.status(t); len(st) != 2 || st[0].Healthy || !strings.Contains(*st[0].Broken, "ticketd oauth login imap") || !st[1].Healthy {
		t.Fatalf("before any login: %+v", st)
	}
	s.login(t)
	if st := s.status(t); !st[0].Healthy || st[0].LoggedIn == nil || st[0].RefreshSince == nil {
		t.Fatalf("after the login: %+v", st[0])
	}
	s.srv.Append("support@example.test", "INBOX", []byte(inquiry))
	if code, out, errs := s.ticketd(t, nil, "poll"); code != 0 || !strings.Contains(out, "new tickets 1") {
		t.Fatalf("poll: exit %d: %s%s", code, out, errs)
	}
	if msgs, _ := s.srv.Messages("kim@example.test", "INBOX"); len(msgs) != 1 {
		t.Fatalf("%d acknowledgements sent with the app's token, want 1", len(msgs))
	}

	stop := serveInBackground(t, s.cfg)
	waitFor(t, 10*time.Second, func() string {
		if code, _ := get("http://" + s.http + "/healthz"); code == 0 {
			return "serve does not answer"
		}
		return ""
	})
	s.auth.Revoke("support@example.test") // consent withdrawn: refresh and access tokens die
	second := strings.NewReplacer("inq-1@", "inq-2@", "Subject: =?UTF-8?B?64yA7LacIOyDge2ZmOydvCDrrLjsnZg=?=", "Subject: second").Replace(inquiry)
	s.srv.Append("support@example.test", "INBOX", []byte(second))
	s.ticketd(t, nil, "poll") // as a tick would
	waitFor(t, 10*time.Second, func() string {
		code, body := get("http://" + s.http + "/healthz")
		if code != 503 || !strings.Contains(body, "oauth credential imap") || !strings.Contains(body, "ticketd oauth login imap") {
			return fmt.Sprintf("healthz %d: %s", code, body)
		}
		return ""
	})
	if _, body := get("http://" + s.http + "/metrics"); !strings.Contains(body, `ticketd_oauth_up{credential="imap"} 0`) ||
		!strings.Contains(body, `ticketd_oauth_up{credential="smtp"} 1`) {
		t.Errorf("metrics:\n%s", grepLines(body, "ticketd_oauth_up"))
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		msgs, _ := s.srv.Messages("ops@example.test", "INBOX")
		if len(msgs) == 1 && bytes.Contains(msgs[0], []byte("ticketd oauth login imap")) {
			break
		}
		if time.Now().After(deadline) {
			_, errs := stop()
			_, out, _ := s.ticketd(t, nil, "tickets", "list")
			t.Fatalf("%d operator alerts; serve:\n%s\ntickets:\n%s", len(msgs), errs, out)
		}
	}
	s.ticketd(t, nil, "poll") // still broken: no second alert
	if code, out, _ := s.ticketd(t, nil, "tickets", "list"); code != 0 || strings.Count(out, "\n") != 2 {
		t.Fatalf("tickets while broken:\n%s", out)
	}

	s.login(t) // through the daemon
	waitFor(t, 10*time.Second, func() string {
		if code, body := get("http://" + s.http + "/healthz"); code != 200 {
			return fmt.Sprintf("healthz %d after a new login: %s", code, body)
		}
		return ""
	})
	if code, out, errs := s.ticketd(t, nil, "poll"); code != 0 || !strings.Contains(out, "new tickets 1") {
		t.Fatalf("poll after the new login: exit %d: %s%s", code, out, errs)
	}
	if msgs, _ := s.srv.Messages("ops@example.test", "INBOX"); len(msgs) != 1 {
		t.Errorf("%d operator alerts, want 1", len(msgs))
	}
	if code, errs := stop(); code != 0 {
		t.Fatalf("serve: exit %d: %s", code, errs)
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestCheckConfigSecrets: a password written into the config is a warning;
// a missing secret file is named by its resolved path.
func TestCheckConfigSecrets(t *testing.T) {
	base := func(_, mailbox, _ string) string {
		return "data_dir: /x\ncenter: {address: support@example.test}\n" +
			"mailboxes: [{host: 127.0.0.1, security: plain, username: support@example.test, " + mailbox + "}]\n" +
			"smtp: {host: 127.0.0.1, security: plain}\n"
	}
	s, errs := checkConfigText(t, base("", "password: pw", ""))
	if len(errs) > 0 || !strings.Contains(strings.Join(s.Warnings, "\n"), "mailboxes[0].password: the password is written in the config file") {
		t.Errorf("inline password: warnings %q, errors %v", s.Warnings, errs)
	}
	_, errs = checkConfigText(t, base("", "password_file: not-there", ""))
	if !strings.Contains(fmt.Sprint(errs), "not-there does not exist") || !strings.Contains(fmt.Sprint(errs), "/not-there") {
		t.Errorf("missing file: %v", errs)
	}
}
