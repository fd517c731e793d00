package main

// The OAuth credentials: their token sources in the daemon, their health,
// and the oauth commands.

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ticketd/ticketd/mailbox/oauth"
	"github.com/ticketd/ticketd/ticket"
)

// oauthCommands sign in and show the OAuth credentials.
func oauthCommands() []command {
	return []command{
		{name: "oauth login", args: "NAME", help: "sign the OAuth credential NAME in: a person approves with a code at the provider's page (flow device)", run: cmdOAuthLogin},
		{name: "oauth status", args: "[--json]", help: "show each OAuth credential: flow, token expiry, refresh token age, last refresh, last error", run: cmdOAuthStatus,
			flags: func(c *cli, fs *flag.FlagSet) { jsonFlag(c, fs) }},
	}
}

// source returns the token source of the credential name (checked to
// exist by checkConfig).
func (d *daemon) source(name string) *oauth.Source {
	for _, s := range d.oauth {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

// watchOAuth reports each breakage of a credential once, whichever
// process finds it (see oauth.Source.OnBreak): counted in
// ticketd_alerts_total{kind="oauth_broken"} and mailed to
// operator.address, if set. (The source logs it too.)
func (d *daemon) watchOAuth() {
	for _, src := range d.oauth {
		name, flow := src.Name(), src.Flow()
		src.OnBreak(func(st oauth.State) error {
			d.metrics.alert("oauth_broken")
			addr := d.s.Config.Operator.Address
			if addr == "" {
				return nil
			}
			return d.svc.AlertOperator(ticket.Address{Email: addr}, "oauth_broken",
				ticket.TemplateData{Credential: name, Error: st.Broken, Command: oauthFix(name, flow)})
		})
	}
}

// oauthFix is the command that mends a broken credential of flow ("":
// none; the client's secret or consent must be fixed at the provider).
func oauthFix(name, flow string) string {
	if flow == oauth.FlowDevice {
		return "ticketd oauth login " + name
	}
	return ""
}

// oauthStatus is one credential as `oauth status` and /healthz show it.
type oauthStatus struct {
	Name    string  `json:"name"`
	Flow    string  `json:"flow"`
	Healthy bool    `json:"healthy"`
	Broken  *string `json:"broken"`
	// AccessExpires is the expiry of the access token held; RefreshSince
	// when the refresh token in use was issued; LastRefresh the last
	// successful token request.
	AccessExpires *string `json:"access_expires"`
	RefreshSince  *string `json:"refresh_token_since"`
	LoggedIn      *string `json:"logged_in"`
	LastRefresh   *string `json:"last_refresh"`
	LastError     *string `json:"last_error"`
	LastErrorAt   *string `json:"last_error_at"`
	SecretExpires *string `json:"client_secret_expires"`
	// Fix is what mends it, when broken.
	Fix string `json:"fix,omitempty"`
}

func newOAuthStatus(name, flow string, st oauth.State, secretExpires time.Time) oauthStatus {
	o := oauthStatus{Name: name, Flow: flow, Healthy: st.Broken == "", AccessExpires: rfc3339(st.Expiry),
		RefreshSince: rfc3339(st.RefreshSince), LoggedIn: rfc3339(st.LoggedIn), LastRefresh: rfc3339(st.Refreshed),
		LastErrorAt: rfc3339(st.LastErrorAt), SecretExpires: rfc3339(secretExpires)}
	if st.Broken != "" {
		o.Broken = &st.Broken
		if o.Fix = oauthFix(name, flow); o.Fix == "" {
			o.Fix = "check the client secret (oauth." + name + ") and the app's permissions at the provider"
		}
	}
	if st.LastError != "" {
		o.LastError = &st.LastError
	}
	return o
}

// oauthHealth reports the credentials: a broken one is a problem, a
// client secret about to expire a warning.
func (d *daemon) oauthHealth(now time.Time) (out []oauthStatus, problems, warnings []string) {
	out = []oauthStatus{}
	for _, src := range d.oauth {
		o := newOAuthStatus(src.Name(), src.Flow(), src.Status(), d.s.SecretExpires[src.Name()])
		if !o.Healthy {
			problems = append(problems, fmt.Sprintf("oauth credential %s: %s; to mend it: %s", o.Name, *o.Broken, o.Fix))
		}
		if exp, ok := d.s.SecretExpires[o.Name]; ok {
			if w := secretExpiryWarning(o.Name, exp, now); w != "" {
				warnings = append(warnings, "oauth credential "+o.Name+": "+w)
			}
		}
		out = append(out, o)
	}
	return out, problems, warnings
}

// oauthStatuses are the credentials' states, as the daemon holds them.
func (d *daemon) oauthStatuses() []oauthStatus {
	out, _, _ := d.oauthHealth(time.Now())
	return out
}

// putOAuth stores a credential's new state (a login) and has its source
// read it.
func (d *daemon) putOAuth(name string, state []byte) error {
	src := d.source(name)
	if src == nil {
		return fmt.Errorf("no oauth credential is named %q", name)
	}
	if _, err := oauth.DecodeState(state); err != nil {
		return fmt.Errorf("oauth credential %s: the state is unreadable: %w", name, err)
	}
	if err := d.db.PutOAuthState(name, state); err != nil {
		return err
	}
	src.Reload()
	src.Status() // reads it, and reports the mended state
	return nil
}

func cmdOAuthLogin(c *cli) int {
	if len(c.args) != 1 {
		return c.fail("usage: ticketd oauth login NAME")
	}
	s, ok := c.settings()
	if !ok {
		return exitConfig
	}
	i := slices.IndexFunc(s.OAuth, func(cr oauth.Credential) bool { return cr.Name == c.args[0] })
	if i < 0 {
		var names []string
		for _, cr := range s.OAuth {
			names = append(names, cr.Name)
		}
		return c.fail("oauth login: no oauth credential is named %q (the configuration has: %s)", c.args[0], strings.Join(names, ", "))
	}
	cred := s.OAuth[i]
	ko := s.Ticket.Language == "ko"
	ctx, stop := signalContext(c.ctx, newLogger(c.stderr, s.Config.Log, s.Loc), nil)
	defer stop()
	st, err := oauth.Login(ctx, cred, func(dc oauth.DeviceCode) {
		until := dc.Expires.In(s.Loc).Format("15:04")
		if ko {
			fmt.Fprintf(c.stdout, "OAuth 로그인: %s\n\n  1. 브라우저에서 이 주소를 여십시오:  %s\n  2. 이 코드를 입력하십시오:          %s\n\n%s까지 유효합니다. 메일 계정(사서함 주인 또는 권한이 있는 사용자)으로 로그인해 승인하시면 이 명령이 끝납니다...\n",
				cred.Name, dc.URL, dc.UserCode, until)
		} else {
			fmt.Fprintf(c.stdout, "OAuth sign-in: %s\n\n  1. Open this page in a browser:  %s\n  2. Enter this code:              %s\n\nValid until %s. Sign in as the mailbox's owner (or a user with access to it) and approve; this command then ends...\n",
				cred.Name, dc.URL, dc.UserCode, until)
		}
		if dc.URLComplete != "" {
			fmt.Fprintf(c.stdout, "  (%s)\n", dc.URLComplete)
		}
	})
	if err != nil {
		return c.fail("oauth login: %v", err)
	}
	// Often the first step on a new install: like serve and poll, it may
	// create the database in a data dir that never had one.
	b, err := c.backend(s, newLogger(c.stderr, s.Config.Log, s.Loc), true)
	if err != nil {
		return c.fail("oauth login: signed in, but the tokens cannot be stored: %v", err)
	}
	defer b.Close()
	if _, err := b.Admin(ctx, adminOp{List: "oauth", Op: "put", Name: cred.Name, State: st.Encode()}); err != nil {
		return c.fail("oauth login: signed in, but the tokens cannot be stored: %v", err)
	}
	if ko {
		fmt.Fprintf(c.stdout, "로그인되었습니다. %s의 토큰을 저장했습니다.\n", cred.Name)
	} else {
		fmt.Fprintf(c.stdout, "Signed in; the tokens of %s are stored.\n", cred.Name)
	}
	return exitOK
}

func cmdOAuthStatus(c *cli) int {
	s, b, code := c.open()
	if b == nil {
		return code
	}
	defer b.Close()
	out, err := b.Admin(c.ctx, adminOp{List: "oauth", Op: "status"})
	if err != nil {
		return c.fail("oauth status: %v", err)
	}
	if c.asJSON {
		return c.printJSON(out.OAuth)
	}
	if len(out.OAuth) == 0 {
		fmt.Fprintln(c.stdout, "no oauth credentials are configured")
		return exitOK
	}
	at := func(p *string) string {
		if p == nil {
			return "-"
		}
		t, _ := time.Parse(time.RFC3339, *p)
		return t.In(s.Loc).Format("2006-01-02 15:04")
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFLOW\tSTATE\tACCESS TOKEN UNTIL\tREFRESH TOKEN SINCE\tLAST REFRESH\tLAST ERROR")
	for _, o := range out.OAuth {
		state := "ok"
		if o.Broken != nil {
			state = "BROKEN: " + oneLine(*o.Broken, 60) + " (" + o.Fix + ")"
		}
		lastErr := "-"
		if o.LastError != nil {
			lastErr = at(o.LastErrorAt) + " " + oneLine(*o.LastError, 60)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.Name, o.Flow, state, at(o.AccessExpires), at(o.RefreshSince), at(o.LastRefresh), lastErr)
	}
	tw.Flush()
	for _, o := range out.OAuth {
		if o.SecretExpires == nil {
			continue
		}
		if w := secretExpiryWarning(o.Name, d2t(o.SecretExpires), time.Now()); w != "" {
			fmt.Fprintln(c.stdout, "warning: "+w)
		}
	}
	return exitOK
}

// d2t parses an RFC 3339 time, zero for nil.
func d2t(p *string) time.Time {
	if p == nil {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339, *p)
	return t
}
