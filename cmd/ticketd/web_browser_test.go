package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"github.com/ticketd/ticketd/ticket/tickettest/chrome"
)

// The web view in a real Chromium: the notification's link opens the
// ticket with the screenshot in place, the quoted text behind its toggle
// and the document downloadable; the queue link signs the agent in and a
// Korean search finds the ticket; the hostile mail's script never runs.
func TestWebViewInChromium(t *testing.T) {
	ctx := chrome.Start(t)
	ws := newWebStack(t)
	downloads := t.TempDir()
	if _, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (cdp.Empty, error) {
		return cdp.Call(ctx, tg, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads})
	}); err != nil {
		t.Fatalf("downloads: %v", err)
	}
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(c, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(js string) any {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		v, err := chromedp.Run(c, chromedp.Evaluate[any](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}

	run("open the notification's link", chromedp.Navigate(ws.ticketLink), chromedp.WaitVisible("article.message"))
	if title := eval(`document.title`); title != "#1 앱 로그인 오류 문의 · 서민금융 고객센터" {
		t.Errorf("title %q (a script ran, or the page is another)", title)
	}
	// The screenshot is loaded in place, inside the message's text.
	if w := eval(`(() => { const i = document.querySelector('.body img#shot'); return i && i.complete ? i.naturalWidth : -1 })()`); w != float64(1) {
		t.Errorf("the inline screenshot: naturalWidth %v", w)
	}
	if n := eval(`document.querySelectorAll('.body img').length`); n != float64(1) {
		t.Errorf("%v images in the message, want the screenshot alone (no tracker, no broken one)", n)
	}
	if shown := eval(`document.body.innerText.includes('QUOTEDMARK')`); shown != false {
		t.Error("the quoted text shows before the toggle")
	}
	run("show the quoted text", chromedp.Click("details.quoted summary"))
	if shown := eval(`document.querySelector('details.quoted').open && document.body.innerText.includes('QUOTEDMARK')`); shown != true {
		t.Error("the toggle does not show the quoted text")
	}
	if masked := eval(`document.body.innerText.includes('010-****-5678') && !document.body.innerText.includes('1234')`); masked != true {
		t.Error("the phone number is not masked in the browser")
	}
	run("download the document", chromedp.Click(`a.download[download="신분증.pdf"]`))
	waitFor(t, 15*time.Second, func() string {
		b, err := os.ReadFile(filepath.Join(downloads, "신분증.pdf"))
		if err != nil || string(b) != "%PDF-1.4 신분증 사본" {
			entries, _ := os.ReadDir(downloads)
			return fmt.Sprintf("the download: %q %v (in the folder: %v)", b, err, entries)
		}
		return ""
	})
	if png := os.Getenv("TICKETD_SCREENSHOTS"); png != "" {
		if b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			os.WriteFile(filepath.Join(png, "web-ticket.png"), b, 0o644)
		}
	}

	// Another agent's link: 403, said in Korean.
	other := strings.Replace(ws.ticketLink, "a=agent%40example.test", "a=agent2%40example.test", 1)
	run("another agent's link", chromedp.Navigate(other), chromedp.WaitVisible("section.error"))
	if text := eval(`document.body.innerText`); !strings.Contains(text.(string), "볼 수 없습니다") {
		t.Errorf("another agent's link shows: %v", text)
	}

	// The queue link signs in; a search as Korean agents type it.
	run("open the queue link", chromedp.Navigate(ws.qLink), chromedp.WaitVisible("#unassigned"))
	if text := eval(`document.querySelector('#unassigned').innerText`); !strings.Contains(text.(string), "앱 로그인 오류 문의") {
		t.Errorf("the unassigned list: %v", text)
	}
	run("search", chromedp.SendKeys(`header input[name=q]`, "로그인안돼요"), chromedp.Submit(`header input[name=q]`), chromedp.WaitVisible("#results"))
	if text := eval(`document.querySelector('#results').innerText`); !strings.Contains(text.(string), "#1") || !strings.Contains(text.(string), "찾은 문의 1건") {
		t.Errorf("the search results: %v", text)
	}
	run("open a result", chromedp.Click(`#results a[href="/t/1"]`), chromedp.WaitVisible("article.message"))
	if nav := eval(`!!document.querySelector('#nav-queue')`); nav != true {
		t.Error("a ticket opened in the session has no navigation")
	}
	if png := os.Getenv("TICKETD_SCREENSHOTS"); png != "" {
		run("queue", chromedp.Navigate(ws.base+"/"), chromedp.WaitVisible("#unassigned"))
		if b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			os.WriteFile(filepath.Join(png, "web-queue.png"), b, 0o644)
		}
	}
}

// The view's Content-Security-Policy blocks a script that reached a page,
// inline or as an event handler: the same page without it runs both.
func TestWebCSPBlocksScripts(t *testing.T) {
	ctx := chrome.Start(t)
	page := `<!doctype html><html><head><title>safe</title></head><body><p id="p">x</p>` +
		`<script>document.title = 'inline ran'</script><img src="/nothing" onerror="document.title = 'handler ran'"></body></html>`
	serve := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page)
	}
	ws := &webServer{d: &daemon{}}
	guarded := httptest.NewServer(ws.headers(http.HandlerFunc(serve)))
	defer guarded.Close()
	bare := httptest.NewServer(http.HandlerFunc(serve))
	defer bare.Close()
	title := func(url string) string {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(c, chromedp.Navigate(url), chromedp.WaitVisible("#p"), chromedp.Sleep(300*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		v, err := chromedp.Run(c, chromedp.Title())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got := title(bare.URL); got == "safe" {
		t.Fatalf("without the CSP the scripts did not run either (title %q): the check proves nothing", got)
	}
	if got := title(guarded.URL); got != "safe" {
		t.Errorf("with the CSP a script ran: title %q", got)
	}
}
