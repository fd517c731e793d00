package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/ticket/tickettest/chrome"
)

// TestWebViewFromANotification: a customer's HTML mail with a screenshot
// shown in place goes through Postfix into Dovecot; ticketd polls it and
// notifies the agent; the link at the top of the notification, read back
// from the agent's Dovecot mailbox, opens the ticket in Chromium with the
// screenshot loaded and the acknowledgement's delivery state, and the
// queue link signs the agent in to search.
func TestWebViewFromANotification(t *testing.T) {
	ctx := chrome.Start(t)
	s := StartWith(t, 37000, "MAILSTACK_USERS=support agent customer")
	bin := buildTicketd(t, s.RepoRoot())
	web := s.Addr(37090)
	cfg, _ := writeConfig(t, s, "agents: [{name: 김상담, email: agent@example.test}]", fmt.Sprintf(`web: {listen: "%s"}`, web))
	png := "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAF0lEQVR4nGI5ISfHwMDAxAAGgAAAAP//DS4BC1mk8DAAAAAASUVORK5CYII="
	mail := "From: =?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte("김고객")) + "?= <customer@example.test>\r\nTo: support@example.test\r\n" +
		"Subject: =?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte("서류 제출 화면 오류")) + "?=\r\nMessage-ID: <web-e2e-1@example.test>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=rel\r\n\r\n" +
		"--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>서류제출 버튼을 누르면 아래처럼 나옵니다.</p><p><img src=\"cid:err@example.test\" alt=\"오류\" id=\"shot\"></p>\r\n" +
		"--rel\r\nContent-Type: image/png\r\nContent-ID: <err@example.test>\r\nContent-Transfer-Encoding: base64\r\n\r\n" + png + "\r\n--rel--\r\n"
	if err := s.SendMail("customer@example.test", []string{"support@example.test"}, []byte(mail)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitMessage("support", "INBOX", HasMessageID("web-e2e-1@example.test"), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if code, out := runTicketd(t, bin, cfg, "poll"); code != 0 || !strings.Contains(out, "new tickets 1") {
		t.Fatalf("poll: exit %d %s", code, out)
	}
	raw, err := s.WaitMessage("agent", "INBOX", Contains("Auto-Submitted: auto-generated"), 30*time.Second)
	if err != nil {
		t.Fatalf("the agent was not notified: %v", err)
	}
	n, _ := mailbox.Parse(raw)
	links := regexp.MustCompile(`http://`+regexp.QuoteMeta(web)+`/(t/1|login)\?[^\s<>"]+`).FindAllString(n.Text, -1)
	if len(links) != 2 || !strings.Contains(links[0], "/t/1?") || !strings.Contains(links[1], "/login?") ||
		strings.Index(n.Text, links[0]) > strings.Index(n.Text, "서류제출") {
		t.Fatalf("the notification's links %v (the ticket's first, at the top):\n%s", links, n.Text)
	}

	serve := exec.CommandContext(context.Background(), bin, "--config", cfg, "serve")
	serveLog := &lockedBuffer{}
	serve.Stdout, serve.Stderr = serveLog, serveLog
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { serve.Process.Signal(syscall.SIGTERM); serve.Wait() }()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get("http://" + web + "/static/style.css")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the web view does not answer: %v\n%s", err, serveLog.String())
		}
	}
	c, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(c, chromedp.Navigate(links[0]), chromedp.WaitVisible("article.message")); err != nil {
		t.Fatalf("open the notification's link: %v\n%s", err, serveLog.String())
	}
	page, err := chromedp.Run(c, chromedp.Evaluate[map[string]any](`({
		title: document.title,
		shot: (() => { const i = document.querySelector('.body img#shot'); return i && i.complete ? i.naturalWidth : -1 })(),
		text: document.body.innerText })`))
	if err != nil {
		t.Fatal(err)
	}
	text, _ := page["text"].(string)
	if page["title"] != "#1 서류 제출 화면 오류 · 서민금융 고객센터" || page["shot"] != float64(2) ||
		!strings.Contains(text, "서류제출 버튼을 누르면") || !strings.Contains(text, "발송 상태: 발송됨") {
		t.Errorf("the ticket in Chromium: title %v, screenshot width %v, text:\n%s", page["title"], page["shot"], text)
	}
	if err := chromedp.Do(c, chromedp.Navigate(links[1]), chromedp.WaitVisible("#unassigned"),
		chromedp.SendKeys(`header input[name=q]`, "서류제출"), chromedp.Submit(`header input[name=q]`), chromedp.WaitVisible("#results")); err != nil {
		t.Fatalf("search: %v", err)
	}
	if res, err := chromedp.Run(c, chromedp.Text("#results")); err != nil || !strings.Contains(res, "서류 제출 화면 오류") {
		t.Errorf("searching 서류제출 (written 서류 제출 in the subject): %q %v", res, err)
	}
}
