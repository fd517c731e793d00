package mailbox_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/ticket"
)

// TestHTMLVisibleText checks the quote containers and reply dividers one by
// one. Most cases are built so that the plain-text rules alone would not find
// the history (attributions in a language they do not know, no header
// block), so they show the structure at work.
func TestHTMLVisibleText(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{
			name: "gmail quote",
			in: `<div dir="ltr">답장입니다.</div><br><div class="gmail_quote"><div class="gmail_attr">Ndugu X aliandika:</div>` +
				`<blockquote class="gmail_quote">옛 내용</blockquote></div>`,
			want: "답장입니다.",
		},
		{
			name: "gmail quote container",
			in: `<div dir="ltr">답장입니다.</div><div class="gmail_quote_container"><div class="gmail_attr">X aliandika:</div>` +
				`<div>옛 내용</div></div>`,
			want: "답장입니다.",
		},
		{
			name: "gmail signature below the quote",
			in: `<div dir="ltr">답장입니다.</div><div class="gmail_quote"><div>X aliandika:</div><blockquote class="gmail_quote">옛 내용</blockquote></div>` +
				`<div>-- <br></div><div class="gmail_signature">김상담 | 고객센터</div>`,
			want: "답장입니다.",
		},
		{
			name: "apple mail",
			in: `<div>네 좋습니다.</div><div><br><blockquote type="cite"><div>X aliandika:</div><div>옛 내용</div></blockquote></div>` +
				`<blockquote type="cite"><div>더 옛 내용</div></blockquote>`,
			want: "네 좋습니다.",
		},
		{
			name: "thunderbird",
			in: `<p>네 좋습니다.</p><div class="moz-cite-prefix">X aliandika:<br></div>` +
				`<blockquote type="cite" cite="mid:x@example.com">옛 내용</blockquote>`,
			want: "네 좋습니다.",
		},
		{
			name: "yahoo",
			in:   `<div>네 좋습니다.</div><div id="yahoo_quoted_123" class="yahoo_quoted"><div>X aliandika:</div><div>옛 내용</div></div>`,
			want: "네 좋습니다.",
		},
		{
			name: "outlook appendonsend",
			in: `<div>확인했습니다.</div><div id="appendonsend"></div><hr><div id="divRplyFwdMsg"><b>Kutoka:</b> X<br><b>Kwa:</b> Y</div>` +
				`<div>옛 내용</div>`,
			want: "확인했습니다.",
		},
		{
			name: "outlook divRplyFwdMsg in a reply to a reply",
			in:   `<div>확인했습니다.</div><div id="x_divRplyFwdMsg"><b>Kutoka:</b> X</div><div>옛 내용</div>`,
			want: "확인했습니다.",
		},
		{
			name: "outlook.com stopSpelling",
			in:   `<div>확인했습니다.<div><hr id="stopSpelling">Tarehe: jana<br>옛 내용</div></div>`,
			want: "확인했습니다.",
		},
		{
			name: "outlook desktop border-top in korean",
			in: `<p>확인했습니다.</p><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">` +
				`<p><b>보낸 사람:</b> 고객센터<br><b>날짜:</b> 어제</p></div><p>옛 내용</p>`,
			want: "확인했습니다.",
		},
		{
			name: "hr followed by from",
			in:   `<p>확인했습니다.</p><div><div align="center"><hr size="3"></div><p><b>From:</b> X<br><b>Kwa:</b> Y</p></div><p>옛 내용</p>`,
			want: "확인했습니다.",
		},
		{
			name: "hr without a header stays",
			in:   `<p>첫째</p><hr><p>둘째</p>`,
			want: "첫째\n\n둘째",
		},
		{
			name: "border-top without a header stays",
			in:   `<p>첫째</p><div style="border-top:1px solid #ccc">둘째</div>`,
			want: "첫째\n\n둘째",
		},
		{
			name: "interleaved containers are kept as quotes",
			in: `<div>답변입니다.</div><blockquote type="cite">질문 1</blockquote><div>답 1</div>` +
				`<blockquote type="cite">질문 2</blockquote><div>답 2</div>`,
			want: "답변입니다.\n> 질문 1\n답 1\n> 질문 2\n답 2",
		},
		{
			name: "a divider inside an interleaved quote does not cut the reply",
			in: `<div>답변입니다.</div><blockquote type="cite">질문 1<div id="divRplyFwdMsg">From: X</div></blockquote><div>답 1</div>` +
				`<blockquote type="cite">질문 2</blockquote><div>답 2</div>`,
			want: "답변입니다.\n> 질문 1\n> From: X\n답 1\n> 질문 2\n답 2",
		},
		{
			name: "a quote with nothing before it is kept",
			in:   `<blockquote type="cite"><div>Begin forwarded message:</div><div>전달된 내용</div></blockquote>`,
			want: "> Begin forwarded message:\n> 전달된 내용",
		},
		{
			name: "plain-text rules still apply",
			in:   `<p>네.</p><p>-----Original Message-----<br>From: X<br>To: Y<br>Subject: Z</p><p>옛 내용</p>`,
			want: "네.",
		},
		{
			name: "mobile signature",
			in:   `<div>네.</div><div><br></div><div>iPhone에서 보냄</div>`,
			want: "네.",
		},
		{name: "empty", in: "", want: ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := mailbox.HTMLVisibleText(c.in); got != c.want {
				t.Errorf("HTMLVisibleText:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

// TestHTMLVisibleTextDeep checks that a body nested deeper than the HTML
// parser allows still gives its text.
func TestHTMLVisibleTextDeep(t *testing.T) {
	in := strings.Repeat("<div>", 1000) + "깊은 본문" + strings.Repeat("</div>", 1000)
	if got := mailbox.HTMLVisibleText(in); got != "깊은 본문" {
		t.Errorf("got %q", got)
	}
}

// quotesDir holds ticketd's own Korean reply fixtures: NAME.eml and the
// visible text Parse must give, NAME.visible.txt (see README.md there).
const quotesDir = "../testdata/quotes"

func TestParseVisibleKorean(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(quotesDir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("found %d fixtures in %s, want at least 10", len(files), quotesDir)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".eml")
		t.Run(name, func(t *testing.T) {
			m, err := mailbox.Parse(readTestFile(t, f))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Warnings) > 0 {
				t.Errorf("warnings: %v", m.Warnings)
			}
			want := strings.TrimRight(string(readTestFile(t, filepath.Join(quotesDir, name+".visible.txt"))), "\n")
			if m.Visible != want {
				t.Errorf("Visible:\n got %q\nwant %q", m.Visible, want)
			}
			if !strings.Contains(m.Text, strings.Split(want, "\n")[0]) {
				t.Errorf("Text %q does not hold the visible text", m.Text)
			}
		})
	}
}

// TestParseVisibleSource checks where Parse takes Visible from: the HTML
// structure for HTML-only mail, the text rules otherwise.
func TestParseVisibleSource(t *testing.T) {
	// The HTML marks the quote, the text part does not: with a text part,
	// Visible follows the text.
	const html = `<div>답장</div><div class="gmail_quote">X aliandika:<div>옛 내용</div></div>`
	alt := "From: a@example.com\nSubject: x\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b\n\n" +
		"--b\nContent-Type: text/plain; charset=utf-8\n\n답장\n\nX aliandika:\n옛 내용\n" +
		"--b\nContent-Type: text/html; charset=utf-8\n\n" + html + "\n--b--\n"
	m, err := mailbox.Parse([]byte(alt))
	if err != nil {
		t.Fatal(err)
	}
	if want := "답장\n\nX aliandika:\n옛 내용"; m.Visible != want {
		t.Errorf("with a text part: Visible %q, want %q", m.Visible, want)
	}
	only := "From: a@example.com\nSubject: x\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n" + html + "\n"
	m, err = mailbox.Parse([]byte(only))
	if err != nil {
		t.Fatal(err)
	}
	if m.Visible != "답장" {
		t.Errorf("HTML only: Visible %q, want %q", m.Visible, "답장")
	}
	if !strings.Contains(m.Text, "옛 내용") {
		t.Errorf("HTML only: Text %q lost the quote", m.Text)
	}
}

// talonDir holds the tests of mailgun/talon (Apache-2.0, see LICENSE there):
// standard_replies/*.eml and html_replies/*.html with the reply that should
// remain in expected/**.expected.txt, as listed in expected/index.json.
const talonDir = "../testdata/corpus/talon"

// talonExclusions are the talon expectations ticketd disagrees with on
// purpose, with the reason and what Visible gives instead.
var talonExclusions = map[string]struct{ reason, own string }{
	"standard_replies/iphone.eml": {
		reason: `talon keeps the mobile signature "Sent from my iPhone"; ticketd drops mobile signatures`,
		own:    "Hello",
	},
	"standard_replies/sparrow.eml": {
		reason: `talon keeps the signature after the "-- " delimiter (RFC 3676 section 4.3); ticketd drops it`,
		own:    "Hello",
	},
}

// talonCase is one entry of expected/index.json.
type talonCase struct {
	Input    string `json:"input"`
	Expected string `json:"expected"`
	Compare  string `json:"compare"`
}

var allSpace = regexp.MustCompile(`\s+`)

func TestTalon(t *testing.T) {
	var cases []talonCase
	if err := json.Unmarshal(readTestFile(t, filepath.Join(talonDir, "expected", "index.json")), &cases); err != nil {
		t.Fatal(err)
	}
	type tally struct {
		agree, compared int
		failed          []string
	}
	tallies := map[string]*tally{}
	seen := map[string]bool{}
	for _, c := range cases {
		// "tests/fixtures/standard_replies/x.eml" -> "standard_replies/x.eml"
		in := strings.TrimPrefix(c.Input, "tests/fixtures/")
		exp := strings.TrimPrefix(c.Expected, "_derived_expected/")
		corpus := filepath.Dir(in)
		raw := readTestFile(t, filepath.Join(talonDir, in))
		want := string(readTestFile(t, filepath.Join(talonDir, "expected", exp)))
		var got string
		var same func(a, b string) bool
		switch corpus {
		case "standard_replies":
			m, err := mailbox.Parse(raw)
			if err != nil {
				t.Fatalf("%s: %v", in, err)
			}
			got = m.Visible
			// talon: "exact after .strip()"
			same = func(a, b string) bool { return strings.TrimSpace(a) == strings.TrimSpace(b) }
		case "html_replies":
			got = mailbox.HTMLVisibleText(string(raw))
			// talon: "whitespace-insensitive (all \s removed)"
			same = func(a, b string) bool { return allSpace.ReplaceAllString(a, "") == allSpace.ReplaceAllString(b, "") }
		default:
			t.Fatalf("%s: unknown talon corpus %q", in, corpus)
		}
		seen[in] = true
		if ex, ok := talonExclusions[in]; ok {
			if got != ex.own {
				t.Errorf("%s (excluded: %s): got %q, want %q", in, ex.reason, got, ex.own)
			}
			if same(got, want) {
				t.Errorf("%s is excluded but now agrees with talon: remove the exclusion", in)
			}
			continue
		}
		tl := tallies[corpus]
		if tl == nil {
			tl = &tally{}
			tallies[corpus] = tl
		}
		tl.compared++
		if same(got, want) {
			tl.agree++
			continue
		}
		tl.failed = append(tl.failed, in)
		t.Errorf("%s: disagrees with talon\n--- got:\n%s\n--- want:\n%s", in, got, want)
	}
	for in := range talonExclusions {
		if !seen[in] {
			t.Errorf("exclusion %s is not in the corpus", in)
		}
	}
	if len(tallies) != 2 {
		t.Errorf("talon corpora tested: %d, want 2", len(tallies))
	}
	names := make([]string, 0, len(tallies))
	for k := range tallies {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		tl := tallies[k]
		excluded := 0
		for in := range talonExclusions {
			if filepath.Dir(in) == k {
				excluded++
			}
		}
		rate := 100 * float64(tl.agree) / float64(max(tl.compared, 1))
		msg := fmt.Sprintf("quote corpus talon/%s: %d/%d agree (%.1f%%), %d excluded; disagreeing: %v",
			k, tl.agree, tl.compared, rate, excluded, tl.failed)
		t.Log(msg)
		if testing.Verbose() {
			fmt.Println(msg)
		}
		if rate < 90 {
			t.Errorf("agreement with talon/%s is %.1f%%, below 90%%", k, rate)
		}
	}
}

func readTestFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzHTMLVisibleText checks that HTMLVisibleText never panics, keeps UTF-8
// valid, and returns text whenever HTMLToText finds some.
func FuzzHTMLVisibleText(f *testing.F) {
	for _, pattern := range []string{
		filepath.Join(talonDir, "html_replies", "*.html"),
		filepath.Join(quotesDir, "*.eml"),
	} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			f.Add(string(readFuzzSeed(f, file)))
		}
	}
	f.Add(`<div>a</div><div id="divRplyFwdMsg">From: b</div>`)
	f.Add(`<blockquote type="cite">a</blockquote>b<blockquote type="cite">c</blockquote>`)
	f.Fuzz(func(t *testing.T, in string) {
		got := mailbox.HTMLVisibleText(in)
		if utf8.ValidString(in) && !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 out of valid input: %q", got)
		}
		if got == "" && strings.TrimSpace(mailbox.HTMLToText(in)) != "" && strings.TrimSpace(ticket.Visible(mailbox.HTMLToText(in))) != "" {
			t.Fatalf("HTMLVisibleText(%q) is empty, HTMLToText gives %q", in, mailbox.HTMLToText(in))
		}
	})
}

func readFuzzSeed(f *testing.F, path string) []byte {
	f.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return b
}
