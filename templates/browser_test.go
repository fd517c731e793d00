package templates

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ticketd/ticketd/ticket"
	"github.com/ticketd/ticketd/ticket/tickettest/chrome"
)

// The HTML mails are rendered in a real headless Chromium, at a phone's
// width (375 px) and a desktop's (1280 px), and each page is checked for
// what a reader would see go wrong: a page wider than the window (the reader
// scrolls sideways) and a Korean word broken between two lines inside a
// run of Hangul syllables. Screenshots are written to TICKETD_SCREENSHOTS
// (a directory; by default the test's temporary one) and never to the
// repository.
//
// Chromium is Debian's chromium package, which scripts/test.sh installs.
// Without it the test is skipped, unless TICKETD_E2E=1 says every real part
// must be there.

// browserWidths are the viewport widths every HTML template is checked at.
var browserWidths = []struct {
	name          string
	width, height int64
	mobile        bool
}{
	{"phone", 375, 812, true},
	{"desktop", 1280, 900, false},
}

func widthOf(name string) int {
	for _, w := range browserWidths {
		if w.name == name {
			return int(w.width)
		}
	}
	return 0
}

// layoutCheck runs in the page: the document's width against the window's,
// and every pair of adjacent Hangul syllables in a text node whose glyphs
// are on different lines (a word broken mid-word).
const layoutCheck = `(() => {
  const out = {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, broken: [], pairs: 0};
  const hangul = /[\uAC00-\uD7A3]/;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const rect = (n, i) => { const r = document.createRange(); r.setStart(n, i); r.setEnd(n, i + 1); return r.getBoundingClientRect(); };
  let n;
  while ((n = walker.nextNode())) {
    const s = n.data;
    for (let i = 0; i + 1 < s.length; i++) {
      if (!hangul.test(s[i]) || !hangul.test(s[i + 1])) continue;
      const a = rect(n, i), b = rect(n, i + 1);
      if (!a.width || !b.width) continue; // not displayed (the title)
      out.pairs++;
      if (b.top >= a.bottom - 1) out.broken.push(s.slice(Math.max(0, i - 6), i + 8).trim());
    }
  }
  return out;
})()`

type layoutResult struct {
	ScrollWidth int      `json:"scrollWidth"`
	InnerWidth  int      `json:"innerWidth"`
	Broken      []string `json:"broken"`
	Pairs       int      `json:"pairs"`
}

// browser starts one headless Chromium for a test; pages are opened on it
// with page.
type browser struct {
	ctx  context.Context
	srv  *httptest.Server
	mu   sync.Mutex
	docs map[string]string
	shot string // screenshot directory
}

func newBrowser(t *testing.T) *browser {
	ctx := chrome.Start(t)
	b := &browser{ctx: ctx, docs: map[string]string{}, shot: os.Getenv("TICKETD_SCREENSHOTS")}
	if b.shot == "" {
		b.shot = t.TempDir()
	} else if err := os.MkdirAll(b.shot, 0o755); err != nil {
		t.Fatal(err)
	}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		doc, ok := b.docs[r.URL.Path]
		b.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, doc)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// check loads doc at every width and returns what layoutCheck found, by
// width name; a screenshot of each is written as <name>-<width>.png.
func (b *browser) check(t *testing.T, name, doc string) map[string]layoutResult {
	t.Helper()
	b.mu.Lock()
	b.docs["/"+name] = doc
	b.mu.Unlock()
	out := map[string]layoutResult{}
	for _, w := range browserWidths {
		ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
		if w.mobile {
			opts = append(opts, chromedp.EmulateMobile)
		}
		err := chromedp.Do(ctx, chromedp.EmulateViewport(w.width, w.height, opts...), chromedp.Navigate(b.srv.URL+"/"+name))
		var res layoutResult
		var png []byte
		if err == nil {
			res, err = chromedp.Run(ctx, chromedp.Evaluate[layoutResult](layoutCheck))
		}
		if err == nil {
			png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		}
		cancel()
		if err != nil {
			t.Fatalf("%s at %d px: %v", name, w.width, err)
		}
		file := filepath.Join(b.shot, name+"-"+w.name+".png")
		if err := os.WriteFile(file, png, 0o644); err != nil {
			t.Fatal(err)
		}
		out[w.name] = res
	}
	return out
}

// browserData is a ticket as a Korean center sees them: a long subject with
// long Korean words, a name, a long address, several paragraphs, a footer.
func browserData(t *testing.T, lang string) ticket.TemplateData {
	d := data(t)
	d.Subject = "햇살론유스 대출금 상환일 변경 및 중도상환수수료 면제 가능 여부에 관한 문의드립니다 (앱 로그인 오류 포함)"
	d.Customer = ticket.Address{Name: "김민수", Email: "kim.minsu.very.long.address.for.testing@subdomain.example.org"}
	d.CenterName = "서민금융진흥원 서민금융콜센터 고객지원센터"
	d.CenterPhone = "1397"
	d.CenterFooter = []string{"(04513) 서울특별시 중구 세종대로 124 서민금융진흥원빌딩 12층",
		"고객님의 개인정보는 「개인정보 보호법」에 따라 안전하게 관리되며, 문의 처리 외의 목적으로 이용되지 않습니다."}
	d.ReceivedAt = time.Date(2026, 12, 2, 5, 7, 0, 0, time.UTC)
	d.Now = d.ReceivedAt
	d.OpenNow = false
	d.TicketSubject = ticket.TaggedSubject(d.TicketID, "Re: "+d.Subject)
	d.AgentName = "이상담"
	d.ReplyText = "안녕하십니까, 서민금융진흥원 고객지원센터 이상담입니다.\n\n문의하신 햇살론유스 대출금의 상환일 변경은 모바일앱 '마이페이지 > 대출관리 > 상환일변경' 메뉴에서 신청하실 수 있으며, 변경된 상환일은 다음 달 납입분부터 적용됩니다.\n" +
		"자세한 안내는 https://www.example.test/loan/youth/repayment/change-date?from=mail&utm_campaign=customer-center-reply 에서 확인하실 수 있습니다.\n\n감사합니다."
	d.Tickets = []ticket.TicketRef{{ID: 1234, Subject: d.Subject, CreatedAt: d.ReceivedAt}, {ID: 1235, Subject: "추가 서류 제출(소득증빙서류, 재직증명서) 방법 문의", CreatedAt: d.ReceivedAt.Add(time.Minute)}}
	d.Size, d.Limit = 38<<20, 25<<20
	d.CommandError = &ticket.CommandError{Command: "asign", Problem: ticket.ProblemUnknown}
	// The acknowledgement's FAQ block: long questions and answers.
	d.Suggestions = []ticket.Suggestion{
		{ID: "repay-date", Question: "햇살론유스 대출금의 상환일(납입일)을 월급날 이후로 변경할 수 있나요?", URL: "https://faq.example.test/loan/youth/repayment/change-date?from=ack&utm_campaign=faq-suggestion",
			Excerpt: ticket.Excerpt("상환일은 대출 실행 후 1회에 한하여 변경할 수 있습니다. 모바일앱의 [마이페이지 > 대출관리 > 상환일변경] 메뉴에서 신청하시거나 고객센터로 요청해 주세요. 변경된 상환일은 다음 회차부터 적용됩니다.", 2, 60)},
		{ID: "early-repay", Question: "중도상환수수료가 있나요?", URL: "https://faq.example.test/2", Excerpt: []string{"정책서민금융 상품은 중도상환수수료가 없습니다."}},
	}
	if lang == "en" {
		d.Customer.Name = "Minsu Kim"
		d.CenterName = "Seomin Finance Customer Center"
		d.CenterFooter = []string{"124 Sejong-daero, Jung-gu, Seoul 04513", "Your personal data is protected by law and used only to handle your inquiry."}
		d.AgentName = "Sangdam Lee"
		d.Tickets[1].Subject = "How to submit documents (proof of income, certificate of employment)"
		d.Subject = "Question about changing the repayment date of my loan and the early repayment fee"
		d.Suggestions = []ticket.Suggestion{{ID: "repay-date", Question: "Can I change the repayment date of my loan?", URL: "https://faq.example.test/loan/youth/repayment/change-date?from=ack",
			Excerpt: []string{"The repayment date can be changed once after the loan is made,", "in the app under My page > Loans > Repayment date. …"}}}
		d.ReplyText = "Hello,\n\nYou can change the repayment date in the app under My page > Loans > Repayment date. " +
			"See https://www.example.test/loan/youth/repayment/change-date?from=mail&utm_campaign=customer-center-reply\n\nKind regards"
	}
	return d
}

func TestHTMLInChromium(t *testing.T) {
	r, err := New("")
	tcheck(t, err, "new")
	b := newBrowser(t)

	// The check can fail: Korean text without keep-all, in a narrow
	// column, breaks inside words; a fixed-width block scrolls sideways.
	control := `<!DOCTYPE html><html lang="ko"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"></head>` +
		`<body><p style="width:200px;font-size:16px">햇살론유스 대출금 상환일 변경 및 중도상환수수료 면제 가능 여부에 관한 문의드립니다</p><div style="width:700px">넓은 블록</div></body></html>`
	for w, res := range b.check(t, "control", control) {
		if len(res.Broken) == 0 {
			t.Errorf("control at %s: no broken word found in a page that breaks Korean words: the check cannot fail", w)
		}
		if w == "phone" && res.ScrollWidth <= 375 {
			t.Errorf("control at phone width: scroll width %d <= 375 for a 700 px block", res.ScrollWidth)
		}
	}

	html := 0
	for _, lang := range r.Languages() {
		for name, st := range r.langs[lang] {
			if st.html == nil {
				continue
			}
			d := browserData(t, lang)
			for _, variant := range []string{"", "agent-html"} {
				if variant != "" && name != "reply" {
					continue
				}
				if variant == "agent-html" {
					d.ReplyHTML = `<div dir="ltr"><p>안녕하십니까. 요청하신 <b>상환일 변경</b> 안내 자료를 보내 드립니다.</p>` +
						`<img src="https://www.example.test/guide.png" width="900" height="300" alt="안내 이미지">` +
						`<table style="width:800px"><tr><td>구분</td><td>변경 전 상환일</td><td>변경 후 상환일</td></tr></table></div>`
				}
				out, err := r.Render(name, lang, d)
				tcheck(t, err, lang+"/"+name)
				if out.HTML == "" {
					t.Fatalf("%s/%s: empty HTML", lang, name)
				}
				html++
				page := lang + "-" + name
				if variant != "" {
					page += "-" + variant
				}
				for w, res := range b.check(t, page, out.HTML) {
					// A phone's window grows to the page's width, so the
					// page is measured against the device's.
					if width := widthOf(w); res.ScrollWidth > width {
						t.Errorf("%s at %s: the page is %d px wide on a %d px screen (the reader scrolls sideways)", page, w, res.ScrollWidth, width)
					}
					if len(res.Broken) > 0 {
						t.Errorf("%s at %s: Korean words broken across lines: %q", page, w, res.Broken)
					}
					if lang == "ko" && res.Pairs < 50 {
						t.Errorf("%s at %s: only %d pairs of Hangul syllables were laid out: the page did not render its text", page, w, res.Pairs)
					}
					t.Logf("%s at %s: %d/%d px, %d Hangul pairs checked, 0 broken", page, w, res.ScrollWidth, res.InnerWidth, res.Pairs)
				}
			}
		}
	}
	if want := 2 * 5; html < want {
		t.Errorf("checked %d HTML mails, want at least %d (ack, ack_summary, reply, toolarge, agent_error in ko and en)", html, want)
	}
	if !strings.HasPrefix(b.shot, os.TempDir()) {
		t.Logf("screenshots in %s", b.shot)
	}
}
