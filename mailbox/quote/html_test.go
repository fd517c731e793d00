package quote

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ticketd/ticketd/mailbox/rfc822"
)

// The corpora the fuzz target is seeded from.
const (
	quotesDir = "../../testdata/quotes"
	talonDir  = "../../testdata/corpus/talon"
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
			if got := visibleHTML(c.in); got != c.want {
				t.Errorf("HTMLVisibleText:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

// TestHTMLVisibleTextDeep checks that a body nested deeper than the HTML
// parser allows still gives its text.
func TestHTMLVisibleTextDeep(t *testing.T) {
	in := strings.Repeat("<div>", 1000) + "깊은 본문" + strings.Repeat("</div>", 1000)
	if got := visibleHTML(in); got != "깊은 본문" {
		t.Errorf("got %q", got)
	}
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
		got := visibleHTML(in)
		if utf8.ValidString(in) && !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 out of valid input: %q", got)
		}
		if got == "" && strings.TrimSpace(rfc822.HTMLToText(in)) != "" && strings.TrimSpace(visibleText(rfc822.HTMLToText(in))) != "" {
			t.Fatalf("HTMLVisibleText(%q) is empty, HTMLToText gives %q", in, rfc822.HTMLToText(in))
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

// AuthorHTML keeps the author's markup and cuts what the structure marks
// as history, after the mail was sanitised as it is stored; where only the
// text shows the history, it gives up ("") so the text is rendered.
func TestAuthorHTML(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string // in the result; none: the result is ""
		notWant  []string
	}{
		{
			name:    "gmail",
			in:      `<div dir="ltr"><p>안녕하십니까. <b>재발급</b> 안내입니다.</p></div><div class="gmail_quote"><div class="gmail_attr">X 님이 작성:</div><blockquote class="gmail_quote">옛 내용</blockquote></div>`,
			want:    []string{"<b>재발급</b> 안내입니다.</p>"},
			notWant: []string{"옛 내용", "님이 작성"},
		},
		{
			name:    "outlook divider",
			in:      `<div>네, 처리했습니다.</div><div id="appendonsend"></div><hr><div id="divRplyFwdMsg"><b>보낸 사람:</b> 고객센터<br><b>제목:</b> [#1]</div><div>옛 내용</div>`,
			want:    []string{"네, 처리했습니다."},
			notWant: []string{"옛 내용", "보낸 사람"},
		},
		{
			name:    "apple mail",
			in:      `<div>확인했습니다.</div><div><br><blockquote type="cite"><div>X wrote:</div><div>옛 내용</div></blockquote></div>`,
			want:    []string{"확인했습니다."},
			notWant: []string{"옛 내용"},
		},
		{
			name:    "cid image",
			in:      `<p>서명 <img src="cid:logo@example.test" alt="로고"> 끝 <img src="https://example.test/a.png" alt="외부"></p>`,
			want:    []string{"서명 로고 끝", `src="https://example.test/a.png"`},
			notWant: []string{"cid:"},
		},
		{name: "naver original message", in: `<div>확인했습니다.</div><div>-----Original Message-----<br>From: 고객센터 &lt;support@example.test&gt;<br>To: a@example.test<br>Subject: [#1] 문의<br><br>옛 내용</div>`},
		// the text rules cut the trailing quote the structure keeps
		{name: "interleaved", in: `<div>답 1</div><blockquote type="cite">질문 1</blockquote><div>답 2</div><blockquote type="cite">질문 2</blockquote>`},
		{name: "signature in text", in: `<div>확인했습니다.</div><div>-- <br>김상담 010-1234-5678</div>`},
		{name: "empty", in: `<div> </div>`},
	}
	for _, c := range cases {
		got := AuthorHTML(rfc822.SanitizeHTML(c.in))
		if len(c.want) == 0 {
			if got != "" {
				t.Errorf("%s: got %q, want \"\" (the text is to be rendered)", c.name, got)
			}
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", c.name, got, w)
			}
		}
		for _, w := range c.notWant {
			if strings.Contains(got, w) {
				t.Errorf("%s: %q holds %q", c.name, got, w)
			}
		}
	}
}
