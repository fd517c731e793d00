package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ticketd/ticketd/mailbox/devserver"
	"github.com/ticketd/ticketd/ticket"
	"github.com/ticketd/ticketd/ticket/tickettest"
)

// webPNG is a 1×1 PNG, the customer's screenshot.
const webPNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

// webMail is a Korean customer's HTML mail with a screenshot shown in
// place (cid:), a document attached, a phone number, quoted history, and
// what a hostile sender tries: a script, an event handler, a tracking
// image, a page attached as text/html.
var webMail = "From: =?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte("김고객")) + "?= <kim@example.test>\r\nTo: support@example.test\r\n" +
	"Subject: =?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte("앱 로그인 오류 문의")) + "?=\r\nMessage-ID: <web-1@example.test>\r\n" +
	"Date: Tue, 01 Dec 2026 10:00:00 +0900\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=mix\r\n\r\n" +
	"--mix\r\nContent-Type: multipart/related; boundary=rel\r\n\r\n" +
	"--rel\r\nContent-Type: multipart/alternative; boundary=alt\r\n\r\n" +
	"--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n앱에서 로그인이 안돼요. 연락처는 010-1234-5678입니다.\r\n\r\n2026년 11월 30일 (월) 오전 9:00, 서민금융 고객센터 <support@example.test>님이 작성:\r\n> 지난 답변 QUOTEDMARK\r\n" +
	"--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<div dir=\"ltr\"><p>앱에서 로그인이 안돼요. 연락처는 010-1234-5678입니다.</p>" +
	"<p><img src=\"cid:shot1@example.test\" alt=\"오류 화면\" id=\"shot\"></p>" +
	"<script>document.title='pwned'</script><img src=\"x\" onerror=\"document.title='pwned2'\"><img src=\"https://tracker.example/p.gif\" alt=\"\">" +
	"<a href=\"javascript:alert(1)\">클릭</a></div>" +
	"<div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">2026년 11월 30일 (월) 오전 9:00, 서민금융 고객센터 &lt;support@example.test&gt;님이 작성:<br></div>" +
	"<blockquote class=\"gmail_quote\">지난 답변 QUOTEDMARK</blockquote></div>\r\n" +
	"--alt--\r\n" +
	"--rel\r\nContent-Type: image/png\r\nContent-ID: <shot1@example.test>\r\nContent-Disposition: inline; filename=\"screen.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + webPNG + "\r\n" +
	"--rel--\r\n" +
	"--mix\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*=UTF-8''%EC%8B%A0%EB%B6%84%EC%A6%9D.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
	base64.StdEncoding.EncodeToString([]byte("%PDF-1.4 신분증 사본")) + "\r\n" +
	"--mix\r\nContent-Type: text/html; charset=utf-8\r\nContent-Disposition: attachment; filename=\"page.html\"\r\n\r\n<script>alert(1)</script>\r\n" +
	"--mix--\r\n"

// webStack is a stack with two agents and the web view on, the hostile
// mail polled (so the agents are notified), and serve running.
type webStack struct {
	*testStack
	base              string // http://127.0.0.1:PORT
	ticketLink, qLink string // from 김상담's notification
	client            *http.Client
}

var linkRE = regexp.MustCompile(`https?://[^\s<>"]+`)

func newWebStack(t *testing.T, extra ...string) *webStack {
	return newWebStackTLS(t, false, "", extra...)
}

// newWebStackTLS is newWebStack, serving HTTPS with a certificate for
// 127.0.0.1 when withTLS, with more keys of the web section (webKeys,
// "link_lifetime: 2s, ").
func newWebStackTLS(t *testing.T, withTLS bool, webKeys string, extra ...string) *webStack {
	t.Helper()
	port := freePort(t)
	web, scheme := fmt.Sprintf(`web: {%slisten: "127.0.0.1:%s"}`, webKeys, port), "http"
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if withTLS {
		cert, roots, err := devserver.SelfSigned()
		if err != nil {
			t.Fatal(err)
		}
		key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		certFile, keyFile := filepath.Join(dir, "web.pem"), filepath.Join(dir, "web.key")
		os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600)
		os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600)
		web = fmt.Sprintf(`web: {%slisten: "127.0.0.1:%s", cert_file: %s, key_file: %s}`, webKeys, port, certFile, keyFile)
		scheme = "https"
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	}
	s := newStack(t, append([]string{`agents: [{name: 김상담, email: agent@example.test}, {name: 이상담, email: agent2@example.test}]`, web}, extra...)...)
	s.srv.Append("support@example.test", "INBOX", []byte(webMail))
	s.mustPoll(t, "new tickets 1")
	n, raw, _ := s.latest(t, "agent@example.test")
	ws := &webStack{testStack: s, base: scheme + "://127.0.0.1:" + port, client: client}
	for _, l := range linkRE.FindAllString(n.Text, -1) {
		switch {
		case strings.HasPrefix(l, ws.base+"/t/1?"):
			ws.ticketLink = l
		case strings.HasPrefix(l, ws.base+"/login?"):
			ws.qLink = l
		}
	}
	if ws.ticketLink == "" || ws.qLink == "" {
		t.Fatalf("the notification has no web links:\n%s", raw)
	}
	serveInBackground(t, s.cfg)
	waitFor(t, 10*time.Second, func() string {
		resp, err := ws.client.Get(ws.base + "/static/style.css")
		if err != nil {
			return fmt.Sprintf("the web view does not answer: %v", err)
		}
		resp.Body.Close()
		return ""
	})
	return ws
}

// fetch gets a path or URL of the view with the given cookie and headers.
func (ws *webStack) fetch(t *testing.T, target string, cookie *http.Cookie, header ...string) (*http.Response, string) {
	t.Helper()
	if strings.HasPrefix(target, "/") {
		target = ws.base + target
	}
	req, _ := http.NewRequest(http.MethodGet, target, nil)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := ws.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// withQuery is link with its query parameter k set to v.
func withQuery(t *testing.T, link, k, v string) string {
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestWebView(t *testing.T) {
	ws := newWebStack(t)

	// The notification's link opens the ticket, masked and sanitised,
	// under every security header.
	resp, body := ws.fetch(t, ws.ticketLink, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("ticket link: %d %s", resp.StatusCode, body)
	}
	for k, want := range map[string]string{
		"Content-Security-Policy": webCSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
		"X-Frame-Options": "DENY", "Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if !strings.Contains(webCSP, "default-src 'none'") || !strings.Contains(webCSP, "frame-ancestors 'none'") || strings.Contains(webCSP, "script-src") {
		t.Errorf("the CSP is not strict: %s", webCSP)
	}
	for _, want := range []string{"#1 앱 로그인 오류 문의", "010-****-5678", "<details", "인용된 내용", "QUOTEDMARK", "신분증.pdf", "PDF 문서",
		`src="/t/1/a/1?`, "김고객", "첫 답변 기한", "발송 상태"} {
		if !strings.Contains(body, want) {
			t.Errorf("the ticket page lacks %q", want)
		}
	}
	for _, bad := range []string{"1234", "<script", "onerror", "javascript:", "tracker.example", "cid:"} {
		if strings.Contains(body, bad) {
			t.Errorf("the ticket page holds %q", bad)
		}
	}
	if strings.Contains(body, `id="nav-queue"`) {
		t.Error("a ticket link alone shows the queue's navigation")
	}

	// The attachments: the screenshot in place, the rest downloads.
	links := regexp.MustCompile(`href="(/t/1/a/(\d)\?[^"]+)"`).FindAllStringSubmatch(body, -1)
	got := map[string]string{}
	for _, l := range links {
		got[l[2]] = strings.ReplaceAll(l[1], "&amp;", "&")
	}
	if len(got) != 3 {
		t.Fatalf("attachment links %v, want 3", got)
	}
	for n, want := range map[string][2]string{
		"1": {"image/png", "inline"}, "2": {"application/octet-stream", "attachment"}, "3": {"application/octet-stream", "attachment"},
	} {
		resp, data := ws.fetch(t, got[n], nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != want[0] || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), want[1]) ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("attachment %s: %d %v", n, resp.StatusCode, resp.Header)
		}
		if n == "2" && (data != "%PDF-1.4 신분증 사본" || !strings.Contains(resp.Header.Get("Content-Disposition"), "filename*=utf-8''%EC%8B%A0")) {
			t.Errorf("the PDF: %q %s", data, resp.Header.Get("Content-Disposition"))
		}
	}
	// An attachment link is signed for its own path.
	if resp, _ := ws.fetch(t, strings.Replace(got["2"], "/a/2?", "/a/3?", 1), nil); resp.StatusCode != 403 {
		t.Errorf("attachment 3 by attachment 2's signature: %d", resp.StatusCode)
	}

	// What is refused: 403 and why, in Korean.
	other := strings.Replace(ws.ticketLink, "a=agent%40example.test", "a=agent2%40example.test", 1)
	if other == ws.ticketLink {
		t.Fatalf("the link names its agent differently: %s", ws.ticketLink)
	}
	for name, c := range map[string]struct{ target, want string }{
		"unsigned":             {"/t/1", "볼 수 없습니다"},
		"another agent's":      {other, "서명이 맞지 않습니다"},
		"a bad signature":      {withQuery(t, ws.ticketLink, "sig", "AAAA"), "서명이 맞지 않습니다"},
		"a longer expiry":      {withQuery(t, ws.ticketLink, "exp", strconv.FormatInt(time.Now().Add(1000*time.Hour).Unix(), 10)), "서명이 맞지 않습니다"},
		"another ticket's":     {strings.Replace(ws.ticketLink, "/t/1?", "/t/2?", 1), "서명이 맞지 않습니다"},
		"the queue unsigned":   {"/", "볼 수 없습니다"},
		"search unsigned":      {"/search?q=" + url.QueryEscape("로그인"), "볼 수 없습니다"},
		"the queue by a link":  {strings.Replace(ws.ticketLink, "/t/1?", "/?", 1), "볼 수 없습니다"},
		"an unsigned download": {"/t/1/a/2", "볼 수 없습니다"},
	} {
		resp, body := ws.fetch(t, c.target, nil)
		if resp.StatusCode != 403 || !strings.Contains(body, c.want) || resp.Header.Get("Content-Security-Policy") != webCSP {
			t.Errorf("%s: %d, want 403 saying %q:\n%s", name, resp.StatusCode, c.want, body)
		}
	}
	if resp, body := ws.fetch(t, "/t/999", nil); resp.StatusCode != 403 {
		t.Errorf("a missing ticket unsigned: %d %s", resp.StatusCode, body)
	}
	if resp, _ := ws.fetch(t, "/nowhere", nil); resp.StatusCode != 404 || resp.Header.Get("Content-Security-Policy") != webCSP {
		t.Errorf("an unknown path: %d", resp.StatusCode)
	}
	if resp, err := http.Post(ws.base+"/login", "text/plain", nil); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %v %v", resp, err)
	}

	// The queue link starts a session: the cookie is HttpOnly and
	// SameSite=Strict (not Secure over plain loopback HTTP).
	resp, body = ws.fetch(t, ws.qLink, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "담당자가 없는 문의") || !strings.Contains(body, `href="/t/1"`) {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == webCookie {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/" || session.Secure ||
		session.Expires.Before(time.Now().Add(11*time.Hour)) || session.Expires.After(time.Now().Add(13*time.Hour)) {
		t.Fatalf("session cookie: %+v (%v)", session, resp.Header["Set-Cookie"])
	}
	for target, want := range map[string]string{
		"/": "담당자가 없는 문의",
		"/?category=" + url.QueryEscape("기타"): "조건에 맞는 문의",
		"/t/1": "010-****-5678",
		"/search?q=" + url.QueryEscape("로그인안돼요"): "찾은 문의 1건",
		"/search?q=" + url.QueryEscape("채무조정"):   "찾은 문의 0건",
		"/search?q=" + url.QueryEscape("?!"):     "검색할 단어가 없습니다",
	} {
		resp, body := ws.fetch(t, target, session)
		if resp.StatusCode != 200 || !strings.Contains(body, want) {
			t.Errorf("%s with the session: %d, want %q:\n%s", target, resp.StatusCode, want, body)
		}
	}
	if _, body := ws.fetch(t, "/search?q="+url.QueryEscape("로그인"), session); !strings.Contains(body, `href="/t/1"`) {
		t.Errorf("search does not find #1:\n%s", body)
	}
	// An expired link in a signed-in browser opens by the session.
	expired := withQuery(t, ws.ticketLink, "exp", "1")
	if resp, _ := ws.fetch(t, expired, session); resp.StatusCode != 200 {
		t.Errorf("an expired link with the session: %d", resp.StatusCode)
	}
	if resp, body := ws.fetch(t, expired, nil); resp.StatusCode != 403 || !strings.Contains(body, "서명이 맞지 않습니다") {
		t.Errorf("an altered expiry without the session: %d", resp.StatusCode)
	}
	// Signing out clears the cookie.
	resp, body = ws.fetch(t, "/logout", session)
	if resp.StatusCode != 200 || !strings.Contains(body, "로그아웃했습니다") || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Errorf("logout: %d %v", resp.StatusCode, resp.Header["Set-Cookie"])
	}
	forged := *session
	forged.Value = strings.Replace(session.Value, "agent%40example.test", "agent2%40example.test", 1)
	if resp, _ := ws.fetch(t, "/", &forged); resp.StatusCode != 403 {
		t.Errorf("a forged session: %d", resp.StatusCode)
	}
	// The trusted header is not believed from anyone (no proxy is trusted).
	if resp, _ := ws.fetch(t, "/", nil, "X-Forwarded-Email", "agent@example.test"); resp.StatusCode != 403 {
		t.Errorf("an untrusted X-Forwarded-Email: %d", resp.StatusCode)
	}

	// The mail that assigns the ticket to 이상담 links it for them.
	if code, _, errs := ws.ticketd(t, nil, "assign", "1", "이상담", "--as", "김상담"); code != 0 {
		t.Fatalf("assign: %s", errs)
	}
	am, raw, _ := ws.latest(t, "agent2@example.test")
	var link2 string
	for _, l := range linkRE.FindAllString(am.Text, -1) {
		if strings.HasPrefix(l, ws.base+"/t/1?") && strings.Contains(l, "a=agent2%40example.test") {
			link2 = l
		}
	}
	if link2 == "" {
		t.Fatalf("the assignment mail has no link for 이상담:\n%s", raw)
	}
	if resp, body := ws.fetch(t, link2, nil); resp.StatusCode != 200 || !strings.Contains(body, "agent2@example.test") {
		t.Errorf("이상담's link: %d", resp.StatusCode)
	}

	// Every page view is in the audit log.
	code, out, errs := ws.ticketd(t, nil, "privacy", "audit")
	if code != 0 || strings.Count(out, "웹에서 보기") < 8 || !strings.Contains(out, "agent@example.test") || !strings.Contains(out, "attachment 2") ||
		!strings.Contains(out, "queue") || !strings.Contains(out, "search (1 found)") || strings.Contains(out, "로그인안돼요") {
		t.Errorf("privacy audit: exit %d\n%s%s", code, out, errs)
	}
}

// The trusted header names the agent only from a trusted proxy, and only
// a configured agent.
func TestWebTrustedHeader(t *testing.T) {
	d := &daemon{s: &Settings{Ticket: ticket.Config{Agents: []ticket.Agent{{Name: "김상담", Email: "agent@example.test"}}}}, signer: tickettest.Signer()}
	d.s.Web = webSettings{TrustedHeader: "X-Forwarded-Email", TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("::1/128")}}
	ws := &webServer{d: d, set: d.s.Web, signer: d.signer, now: time.Now}
	for _, c := range []struct {
		remote, email string
		want          error
	}{
		{"10.0.0.7:5000", "agent@example.test", nil},
		{"10.0.0.7:5000", "AGENT@example.test", nil},
		{"[::1]:5000", "agent@example.test", nil},
		{"10.0.1.7:5000", "agent@example.test", errWebNoAuth},
		{"127.0.0.1:5000", "agent@example.test", errWebNoAuth},
		{"10.0.0.7:5000", "kim@example.test", errWebNotAgent},
		{"10.0.0.7:5000", "", errWebNoAuth},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = c.remote
		if c.email != "" {
			r.Header.Set("X-Forwarded-Email", c.email)
		}
		a, session, err := ws.who(r, false)
		if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) || (err == nil && (!session || a.Email != "agent@example.test")) {
			t.Errorf("%s %q: %+v %v %v, want %v", c.remote, c.email, a, session, err, c.want)
		}
	}
	// A session cookie expires.
	ws.now = func() time.Time { return time.Now().Add(-13 * time.Hour) }
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(&http.Cookie{Name: webCookie, Value: ws.signer.WebLinkQuery(webSession, "agent@example.test", time.Now().Add(-time.Hour))})
	ws.now = time.Now
	if _, _, err := ws.who(r, false); !errors.Is(err, errWebNoAuth) {
		t.Errorf("an expired session: %v", err)
	}
	// A link signed for someone who is not (or no longer) an agent.
	r = httptest.NewRequest(http.MethodGet, "/t/1?"+ws.signer.WebLinkQuery("/t/1", "kim@example.test", time.Now().Add(time.Hour)), nil)
	if _, _, err := ws.who(r, true); !errors.Is(err, errWebNotAgent) {
		t.Errorf("a link of a customer: %v", err)
	}
	// An expired link.
	r = httptest.NewRequest(http.MethodGet, "/t/1?"+ws.signer.WebLinkQuery("/t/1", "agent@example.test", time.Now().Add(-time.Second)), nil)
	if _, _, err := ws.who(r, true); !errors.Is(err, ticket.ErrLinkExpired) {
		t.Errorf("an expired link: %v", err)
	}
	// A link is not a session, nor a session a link.
	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(&http.Cookie{Name: webCookie, Value: ws.signer.WebLinkQuery("/login", "agent@example.test", time.Now().Add(time.Hour))})
	if _, _, err := ws.who(r, false); !errors.Is(err, errWebNoAuth) {
		t.Errorf("a link's query as a session: %v", err)
	}
	r = httptest.NewRequest(http.MethodGet, "/login?"+ws.signer.WebLinkQuery(webSession, "agent@example.test", time.Now().Add(time.Hour)), nil)
	if _, _, err := ws.who(r, true); !errors.Is(err, ticket.ErrLinkBad) {
		t.Errorf("a session as a link: %v", err)
	}
}

// check-config names each web key that is wrong, and takes a right one.
func TestWebConfig(t *testing.T) {
	for _, c := range []struct{ web, want string }{
		{`{listen: "0.0.0.0:9443"}`, "web.listen: \"0.0.0.0:9443\" is not a loopback address; plain HTTP"},
		{`{listen: "localhost"}`, "web.listen: want host:port"},
		{`{listen: "127.0.0.1:9443", cert_file: a.pem}`, "web.cert_file: cert_file and key_file go together"},
		{`{listen: "0.0.0.0:9443", cert_file: a.pem, key_file: a.key}`, "web.cert_file: "},
		{`{listen: "127.0.0.1:9443", url: "http://tickets.example.com"}`, "web.url: \"http://tickets.example.com\" is plain HTTP"},
		{`{listen: "127.0.0.1:9443", url: "https://example.com/tickets"}`, "web.url: want the absolute http or https URL of a host's root"},
		{`{listen: "127.0.0.1:9443", link_lifetime: 0s, session_lifetime: -1h}`, "web.link_lifetime: must be positive"},
		{`{listen: "127.0.0.1:9443", session_lifetime: 0s}`, "web.session_lifetime: must be positive"},
		{`{listen: "127.0.0.1:9443", trusted_header: X-Forwarded-Email}`, "web.trusted_proxies: web.trusted_header is set, but no proxy"},
		{`{listen: "127.0.0.1:9443", trusted_header: X-Forwarded-Email, trusted_proxies: [10.0.0.300]}`, "web.trusted_proxies[0]: want an IP address or CIDR"},
		{`{listen: "off", url: "https://tickets.example.com"}`, "web.listen: is off, but web.url"},
	} {
		s := newStack(t, "web: "+c.web)
		code, _, errs := s.ticketd(t, nil, "check-config")
		if code != exitConfig || !strings.Contains(errs, c.want) {
			t.Errorf("web: %s: exit %d, want %q in:\n%s", c.web, code, c.want, errs)
		}
	}
	s := newStack(t, `web: {listen: "127.0.0.1:9443", url: "https://tickets.example.com/", trusted_header: x-forwarded-email, trusted_proxies: [127.0.0.1, "10.0.0.0/8"]}`)
	if code, out, errs := s.ticketd(t, nil, "check-config"); code != 0 {
		t.Errorf("a right web section: exit %d %s%s", code, out, errs)
	}
}

// Over TLS the session cookie is Secure and every answer asks for HTTPS
// from then on; plain HTTP to the TLS port gets nothing.
func TestWebViewOverTLS(t *testing.T) {
	ws := newWebStackTLS(t, true, "")
	if !strings.HasPrefix(ws.ticketLink, "https://127.0.0.1:") {
		t.Fatalf("the notification's link %s is not https", ws.ticketLink)
	}
	resp, body := ws.fetch(t, ws.ticketLink, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "앱 로그인 오류 문의") || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("the ticket over TLS: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = ws.fetch(t, ws.qLink, nil)
	var secure bool
	for _, c := range resp.Cookies() {
		secure = secure || (c.Name == webCookie && c.Secure && c.HttpOnly && c.SameSite == http.SameSiteStrictMode)
	}
	if resp.StatusCode != 200 || !secure {
		t.Errorf("login over TLS: %d %v", resp.StatusCode, resp.Header["Set-Cookie"])
	}
	if code, _ := get(strings.Replace(ws.base, "https:", "http:", 1) + "/static/style.css"); code == 200 {
		t.Error("plain HTTP answered on the TLS port")
	}
}

// A notification's links stop working after web.link_lifetime: 403,
// saying so.
func TestWebLinkExpires(t *testing.T) {
	ws := newWebStackTLS(t, false, "link_lifetime: 2s, ")
	if resp, _ := ws.fetch(t, ws.ticketLink, nil); resp.StatusCode != 200 {
		t.Fatalf("a fresh link: %d", resp.StatusCode)
	}
	time.Sleep(2100 * time.Millisecond)
	for _, link := range []string{ws.ticketLink, ws.qLink} {
		if resp, body := ws.fetch(t, link, nil); resp.StatusCode != 403 || !strings.Contains(body, "유효기간이 지났습니다") {
			t.Errorf("%s after its lifetime: %d", link, resp.StatusCode)
		}
	}
}
