package rfc822

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// testHeaders are the header fields the tests read from Message.Headers.
var testHeaders = []string{"Auto-Submitted", "Precedence", "List-Id", "X-Auto-Response-Suppress", "Return-Path",
	"Delivered-To", "X-Original-To", "X-Spam-Flag", "X-Spam-Status", "Content-Type", "Authentication-Results"}

// parse is Parse with testHeaders.
func parse(raw []byte) (*Message, error) { return Parse(raw, Options{Headers: testHeaders}) }

// checkValidUTF8 fails when a string of m is not valid UTF-8.
func checkValidUTF8(t *testing.T, name string, m *Message) {
	t.Helper()
	s := []string{m.From.Name, m.From.Email, m.Subject, m.MessageID, m.InReplyTo, m.Text, m.HTML}
	for _, l := range [][]Address{m.To, m.Cc, m.ReplyTo} {
		for _, a := range l {
			s = append(s, a.Name, a.Email)
		}
	}
	s = append(append(append(s, m.References...), m.Warnings...), m.Forwarded...)
	for _, a := range m.Attachments {
		s = append(s, a.Filename, a.ContentType, a.ContentID)
	}
	for k, v := range m.Headers {
		s = append(s, k, v)
	}
	for _, x := range s {
		if !utf8.ValidString(x) {
			t.Errorf("%s: invalid UTF-8 %q", name, x)
		}
	}
}

// parseFixture parses testdata/mail/name and checks the result is valid
// UTF-8 throughout.
func parseFixture(t *testing.T, name string) *Message {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("../../testdata/mail", name))
	if err != nil {
		t.Fatal(err)
	}
	m, err := parse(raw)
	if err != nil {
		t.Fatalf("parse(%s): %v", name, err)
	}
	checkValidUTF8(t, name, m)
	if warned(m, InternalError) {
		t.Errorf("%s: recovered panic: %q", name, m.Warnings)
	}
	return m
}

func tcompare(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\ngot  %#v\nwant %#v", what, got, want)
	}
}

// warned reports whether one of the warnings contains sub.
func warned(m *Message, sub string) bool {
	for _, w := range m.Warnings {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestEUCKR(t *testing.T) {
	m := parseFixture(t, "euckr.eml")
	tcompare(t, "subject", m.Subject, "[문의] 환불 요청드립니다")
	tcompare(t, "from", m.From, Address{Name: "김민수", Email: "minsu.kim@example.co.kr"})
	tcompare(t, "to", m.To, []Address{{Email: "support@example.com"}})
	tcompare(t, "text", m.Text, "안녕하세요.\n주문번호 12345 환불 요청합니다.\n감사합니다.\n")
	tcompare(t, "message-id", m.MessageID, "20240903101500.1234@mail.example.co.kr")
	tcompare(t, "date", m.Date.Format(time.RFC3339), "2024-09-03T10:15:00+09:00")
	tcompare(t, "warnings", m.Warnings, []string(nil))
}

func TestKSC5601Outlook(t *testing.T) {
	m := parseFixture(t, "ks_c_5601_outlook.eml")
	tcompare(t, "subject", m.Subject, "RE: 배송 문의")
	tcompare(t, "from", m.From, Address{Name: "이영희", Email: "yh.lee@example.com"})
	tcompare(t, "to", m.To, []Address{{Name: "고객지원", Email: "support@example.com"}})
	tcompare(t, "text", m.Text, "고객님, 문의하신 내용 확인했습니다.\n배송은 내일 출발합니다.\n")
	if !strings.Contains(m.HTML, "<p>고객님, 문의하신 내용 확인했습니다.</p>") {
		t.Errorf("html not decoded: %q", m.HTML)
	}
	tcompare(t, "in-reply-to", m.InReplyTo, "20240903101500.1234@mail.example.co.kr")
	tcompare(t, "references", m.References, []string{"20240903101500.1234@mail.example.co.kr"})
	tcompare(t, "warnings", m.Warnings, []string(nil))
}

// TestCP949OnlySyllable checks 똠, which EUC-KR (KS X 1001) lacks and CP949
// has, in a part labelled cp949 and a subject labelled x-windows-949: the
// labels go-message does not know by itself.
func TestCP949OnlySyllable(t *testing.T) {
	m := parseFixture(t, "cp949_ttom.eml")
	tcompare(t, "subject", m.Subject, "똠방각하 주문 건")
	tcompare(t, "text", m.Text, "똠방각하 상품이 아직 도착하지 않았습니다.\n")
	tcompare(t, "warnings", m.Warnings, []string(nil))
}

func TestISO2022KR(t *testing.T) {
	m := parseFixture(t, "iso2022kr.eml")
	tcompare(t, "subject", m.Subject, "한글 제목")
	tcompare(t, "text", m.Text, "안녕하세요 ABC 테스트입니다.\n둘째 줄 123\n")
	tcompare(t, "warnings", m.Warnings, []string(nil))
}

func TestISO2022KRDesignatorLine(t *testing.T) {
	// RFC 1557 section 2 style: the designator on a line of its own, and a
	// line break ending the shift without SI.
	body := "\x1b$)C\r\nA \x0e>H3g\x0f B\r\n\x0e>H3g\r\nC\r\n"
	raw := "From: a@example.com\r\nSubject: x\r\nContent-Type: text/plain; charset=iso-2022-kr\r\n\r\n" + body
	m, err := parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	tcompare(t, "text", m.Text, "\nA 안녕 B\n안녕\nC\n")
}

func TestRaw8bitSubject(t *testing.T) {
	m := parseFixture(t, "raw8bit_subject.eml")
	tcompare(t, "subject", m.Subject, "견적서 요청 (긴급)")
	tcompare(t, "from", m.From, Address{Name: "정대리", Email: "jung@example.com"})
	tcompare(t, "text", m.Text, "견적서를 보내주세요.\n")
	if !warned(m, "Subject: raw 8-bit text, decoded as euc-kr") {
		t.Errorf("no warning about the raw Subject: %q", m.Warnings)
	}
}

// TestRaw8bitFallbacks checks the order body charset, CP949, Latin-1 for raw
// 8-bit header text.
func TestRaw8bitFallbacks(t *testing.T) {
	for _, tc := range []struct {
		name, charset string
		subject       []byte
		want          string
	}{
		{"body charset first", "koi8-r", []byte{0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4}, "Привет"},
		{"then cp949", "", []byte{0x8c, 0x63}, "똠"},
		{"then latin-1", "", []byte("caf\xe9 cr\xe8me"), "café crème"},
		{"utf-8 kept", "euc-kr", []byte("déjà vu"), "déjà vu"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := "text/plain"
			if tc.charset != "" {
				ct += "; charset=" + tc.charset
			}
			raw := append([]byte("From: a@example.com\r\nSubject: "), tc.subject...)
			raw = append(raw, "\r\nContent-Type: "+ct+"\r\n\r\nbody\r\n"...)
			m, err := parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			tcompare(t, "subject", m.Subject, tc.want)
		})
	}
}

func TestRFC2231Filenames(t *testing.T) {
	m := parseFixture(t, "rfc2231_filename.eml")
	tcompare(t, "subject", m.Subject, "첨부 파일 보내드립니다")
	tcompare(t, "text", m.Text, "파일 세 개 첨부합니다.\n")
	want := []Attachment{
		{Filename: "계약서 최종.pdf", ContentType: "application/pdf", Size: 18, SHA256: sha([]byte("%PDF-1.4 fake pdf\n"))},
		{Filename: "견적서.xlsx", ContentType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
			Size: 14, SHA256: sha([]byte("PK\x03\x04 fake xlsx"))},
		{Filename: "아주 긴 한글 파일 이름입니다 2024년 9월 정산 내역.txt", ContentType: "text/plain",
			Size: int64(len("정산 내역\r\n")), SHA256: sha([]byte("정산 내역\r\n"))},
	}
	tcompare(t, "attachments", m.Attachments, want)
	tcompare(t, "warnings", m.Warnings, []string(nil))
}

func TestParamDecoding(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`attachment; filename="a b.pdf"`, "a b.pdf"},
		{`attachment; filename=a b.pdf`, "a b.pdf"},
		{`attachment; filename="=?UTF-8?B?7ZWc6riALnR4dA==?="`, "한글.txt"},
		{`attachment; filename="=?ks_c_5601-1987?B?x9Gx2y50eHQ=?="`, "한글.txt"},
		{`attachment; filename*=ks_c_5601-1987''%C7%D1%B1%DB.txt`, "한글.txt"},
		{`attachment; filename*0="part"; filename*1="two.txt"`, "parttwo.txt"},
		{`attachment; filename="plain.txt"; filename*=UTF-8''%ED%95%9C.txt`, "한.txt"},
		{"attachment; filename=\"\xc7\xd1\xb1\xdb.txt\"", "한글.txt"},
		{`attachment; filename="a\"q.txt"`, `a"q.txt`},
	} {
		_, params := parseMediaType(tc.in, "")
		tcompare(t, tc.in, params["filename"], tc.want)
	}
	mt, params := parseMediaType(`Text/Plain charset="UTF-8"`, "")
	tcompare(t, "media type without separator", []string{mt, params["charset"]}, []string{"text/plain", "UTF-8"})
	mt, _ = parseMediaType(`text`, "")
	tcompare(t, "bare type", mt, "text")
	mt, _ = parseMediaType(`text/pl ain/x`, "")
	tcompare(t, "bad type", mt, "text/pl")
}

func TestHTMLOnly(t *testing.T) {
	m := parseFixture(t, "html_only.eml")
	want := "Order status\n\n" +
		"Hello Jane,\nyour order #42 has shipped.\n\n" +
		"- Item one\n- Item & two\n\n" +
		"Item | Qty\nBook | 2\n\n" +
		"Track it here (https://track.example.com/42) or see https://example.com.\n\n" +
		"Café <team>"
	tcompare(t, "text", m.Text, want)
	if !strings.HasPrefix(m.HTML, "<html><head><title>Ignored title</title>") || !strings.Contains(m.HTML, "Caf\u00e9 &lt;team&gt;") {
		t.Errorf("HTML not kept as sent (decoded): %q", m.HTML)
	}
}

func TestHTMLToText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"<p>a</p><p>b</p>", "a\n\nb"},
		{"a<br>b<br><br><br><br>c", "a\nb\n\nc"},
		{"<div>a</div><div>b</div>", "a\nb"},
		{"<ol><li>one<ul><li>nested</li></ul></li><li>two</li></ol>", "- one\n  - nested\n- two"},
		{"<table><tr><td>a</td><td><p>b</p></td></tr></table>", "a\n\nb"},
		{"<table><tr><td>a</td><td>b</td><td>c</td></tr></table>", "a | b | c"},
		{`<a href="mailto:x@example.com">x@example.com</a>`, "x@example.com"},
		{`<a href="https://example.com/">example.com</a>`, "example.com"},
		{`<a href="#top">top</a> <a href="javascript:x()">js</a>`, "top js"},
		{`<a href="https://x.example/"><img src="logo.png"></a>`, ""},
		{`<img alt="Logo"> text`, "Logo text"},
		{"<pre>  keep\n    this</pre>", "  keep\n    this"},
		{"<p>x</p><table><tr><td>a<table><tr><td>b</td><td>c</td></tr></table></td><td>d</td></tr></table>", "x\n\na\nb | c\nd"},
		{"<blockquote><p>quoted</p><p>two</p></blockquote>after", "> quoted\n>\n> two\nafter"},
		{`<span style="display: none">preheader</span>visible`, "visible"},
		{"<head><title>t</title></head><body><script>x()</script><style>p{}</style>ok</body>", "ok"},
		{"&lt;&amp;&gt; &eacute; &#x1F600;", "<&> é 😀"},
		{"a\u200bb \u00a0 c", "ab c"},
		{"   ", ""},
		{"<p>unclosed <b>bold", "unclosed bold"},
	} {
		tcompare(t, fmt.Sprintf("HTMLToText(%q)", tc.in), HTMLToText(tc.in), tc.want)
	}
	// Deep nesting is rendered without unbounded recursion and keeps text.
	deep := strings.Repeat("<div>", 5000) + "deep text" + strings.Repeat("</div>", 5000)
	if got := HTMLToText(deep); got != "deep text" {
		t.Errorf("deep nesting: got %q", got)
	}
}

func TestAttachmentsAndHeaders(t *testing.T) {
	m := parseFixture(t, "attachment.eml")
	tcompare(t, "text", WithSections(m.Text, m.Forwarded), "First part.\nLine two.\n\nSecond part: café.\n\n"+
		"---------- Forwarded message ----------\nFrom: x@example.com\nSubject: inner\n\ninner body")
	data := bytes.Repeat(func() []byte {
		b := make([]byte, 256)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}(), 10)
	png := []byte("\x89PNG\r\n\x1a\n")
	inner := "From: x@example.com\r\nSubject: inner\r\n\r\ninner body"
	want := []Attachment{
		// No name: one from the type ("logo" is no file name).
		{Filename: "image.png", NameDerived: true, ContentType: "image/png", Size: int64(len(png)), SHA256: sha(png), Inline: true, ContentID: "logo@example.org"},
		// Gmail gives attachments a Content-ID; the disposition says attachment.
		{Filename: "data.bin", ContentType: "application/octet-stream", Size: 2560, SHA256: sha(data), ContentID: "f_gmail123"},
		// The hash is of the file as sent (windows-1252), not converted.
		{Filename: "prices.csv", ContentType: "text/csv", Size: 9, SHA256: sha([]byte("price;\x80 5"))},
		{Filename: "forwarded.eml", NameDerived: true, ContentType: "message/rfc822", Size: int64(len(inner)), SHA256: sha([]byte(inner))},
	}
	tcompare(t, "attachments", m.Attachments, want)
	tcompare(t, "message-id", m.MessageID, "abc.123@example.org")
	tcompare(t, "in-reply-to", m.InReplyTo, "first@example.com")
	tcompare(t, "references", m.References, []string{"r1@example.com", "r2@example.com"})
	tcompare(t, "reply-to", m.ReplyTo, []Address{{Name: "Jane", Email: "jane.reply@example.org"}, {Email: "other@example.org"}})
	tcompare(t, "cc", m.Cc, []Address{{Email: "a@example.com"}, {Name: "B, Bee", Email: "b@example.com"}})
	tcompare(t, "headers", m.Headers, map[string]string{
		"Auto-Submitted": "no",
		"Precedence":     "bulk",
		"List-Id":        "<list.example.org>",
		"Content-Type":   `multipart/mixed; boundary="outer"`,
	})
	tcompare(t, "warnings", m.Warnings, []string(nil))
}

// TestMalformed checks that each malformed mail still yields its readable
// text, and says what was wrong.
func TestMalformed(t *testing.T) {
	for _, tc := range []struct {
		file    string
		text    string
		subject string
		warning string
	}{
		{"missing_boundary.eml", "Readable first part.\n\nReadable second part, then the mail ends.",
			"Missing boundary", "closing boundary missing"},
		{"unknown_cte.eml", "Before the odd part.\n\nStill plain text.\n\nAfter the odd part.",
			"Unknown CTE", `unknown transfer encoding "x-gzip64"`},
		{"bad_base64.eml", "The readable beginning of the text. ABCD", "Bad base64", "malformed base64"},
		{"header_no_colon.eml", "Body after a broken header.\n", "Still read", "dropped header line without a field name"},
		{"no_separator.eml", "Hello, this body follows the header directly.\nSecond line.\n", "No separator",
			"no empty line between header and body"},
		{"unknown_charset.eml", "Plain ASCII text in a mystery charset.\n", "Unknown charset", "unknown charset x-mystery-8"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			m := parseFixture(t, tc.file)
			tcompare(t, "text", m.Text, tc.text)
			tcompare(t, "subject", m.Subject, tc.subject)
			if !warned(m, tc.warning) {
				t.Errorf("no warning %q in %q", tc.warning, m.Warnings)
			}
		})
	}
}

func TestHeaderNoColonKeepsFields(t *testing.T) {
	m := parseFixture(t, "header_no_colon.eml")
	tcompare(t, "from", m.From.Email, "jane@example.org")
	tcompare(t, "to", m.To, []Address{{Email: "support@example.com"}})
	if m.Date.IsZero() {
		t.Error("date lost")
	}
}

func TestUnknownCharset8bit(t *testing.T) {
	raw := "From: a@example.com\r\nSubject: x\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\n\xc7\xd1\xb1\xdb \xe9\r\n"
	m, err := parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	// Not CP949 as a whole (the lone \xe9), so Latin-1 for what is invalid.
	tcompare(t, "text", m.Text, "\u00c7\u00d1\u00b1\u00db \u00e9\n")
	// Mostly UTF-8 with a stray byte: the UTF-8 stays.
	tcompare(t, "mixed", latin1Fallback([]byte("한글 \xe9 한글"), false), "한글 \u00e9 한글")
	if !warned(m, "unknown charset x-unknown") {
		t.Errorf("warnings %q", m.Warnings)
	}
	checkValidUTF8(t, "unknown charset", m)
}

func TestMislabelledUTF8(t *testing.T) {
	raw := "From: a@example.com\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\xc7\xd1\xb1\xdb\r\n"
	m, err := parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	tcompare(t, "text", m.Text, "한글\n")
	if !warned(m, "not valid UTF-8") {
		t.Errorf("warnings %q", m.Warnings)
	}
}

func TestNotMail(t *testing.T) {
	for _, in := range []string{"", " \r\n\t", "\r\n\r\nbody only\r\n", "no header here\r\nat all\r\n"} {
		m, err := parse([]byte(in))
		if err == nil || !errors.Is(err, ErrNotMail) {
			t.Errorf("parse(%q) = %v, %v; want an error wrapping ErrNotMail", in, m, err)
		}
		if m != nil {
			t.Errorf("parse(%q) returned a mail with the error", in)
		}
	}
}

func TestMinimalMail(t *testing.T) {
	m, err := parse([]byte("Subject: only a subject"))
	if err != nil {
		t.Fatal(err)
	}
	tcompare(t, "subject", m.Subject, "only a subject")
	tcompare(t, "text", m.Text, "")
	if !warned(m, "no From address") || !warned(m, "no Date") {
		t.Errorf("warnings %q", m.Warnings)
	}
}

func TestLineEndings(t *testing.T) {
	m, err := parse([]byte("From: a@example.com\nSubject: lf\n\nline one\r\nline two\rline three\n"))
	if err != nil {
		t.Fatal(err)
	}
	tcompare(t, "text", m.Text, "line one\nline two\nline three\n")
}

func TestMboxFromLine(t *testing.T) {
	m, err := parse([]byte("From jane@example.org Mon Sep  9 10:00:00 2024\nFrom: jane@example.org\nSubject: mbox\n" +
		"Date: Mon, 9 Sep 2024 10:00:00 +0000\n\nbody\n"))
	if err != nil {
		t.Fatal(err)
	}
	tcompare(t, "subject", m.Subject, "mbox")
	tcompare(t, "warnings", m.Warnings, []string(nil))
}

func TestBigHeader(t *testing.T) {
	// go-message refuses headers over 1 MiB by default; real mail with long
	// Received and DKIM chains can come close.
	var b strings.Builder
	b.WriteString("From: a@example.com\r\nSubject: big\r\nDate: Mon, 9 Sep 2024 10:00:00 +0000\r\n")
	for b.Len() < 2<<20 {
		b.WriteString("Received: from relay.example.com by mx.example.com with ESMTPS id 0123456789abcdef; Mon, 9 Sep 2024 10:00:00 +0000\r\n")
	}
	b.WriteString("\r\nthe body\r\n")
	m, err := parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	tcompare(t, "text", m.Text, "the body\n")
	tcompare(t, "warnings", m.Warnings, []string(nil))
}

func TestNestingLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: a@example.com\r\nSubject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n")
	n := 100
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i, i+1)
	}
	fmt.Fprintf(&b, "--b%d\r\nContent-Type: text/plain\r\n\r\ntoo deep\r\n", n)
	for i := n; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	m, err := parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if !warned(m, "nested deeper than") {
		t.Errorf("warnings %q", m.Warnings)
	}
}

func TestWrongBoundary(t *testing.T) {
	raw := "From: a@example.com\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=declared\r\n\r\n" +
		"--actual\r\nContent-Type: text/plain\r\n\r\nthe text\r\n--actual--\r\n"
	m, err := parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	tcompare(t, "text", m.Text, "the text")
	if !warned(m, `using "actual" found in the body`) {
		t.Errorf("warnings %q", m.Warnings)
	}
}

func TestAddresses(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Address
	}{
		{`"Doe, John" <John.Doe@Example.COM>`, []Address{{Name: "Doe, John", Email: "John.Doe@example.com"}}},
		{`=?UTF-8?B?7ZWc6riA?= <a@example.com>, b@example.com`, []Address{{Name: "한글", Email: "a@example.com"}, {Email: "b@example.com"}}},
		{`=?x-unknown?Q?abc?= <a@example.com>`, []Address{{Name: "abc", Email: "a@example.com"}}},
		{`undisclosed-recipients:;`, nil},
		{`john@doe <j@example.com>, (comment) k@example.com`, []Address{{Name: "john@doe", Email: "j@example.com"}, {Email: "k@example.com"}}},
		{`Group: a@example.com, b@example.com;, c@example.com`, []Address{{Email: "a@example.com"}, {Email: "b@example.com"}, {Email: "c@example.com"}}},
		{`<@route.example:x@example.com>`, []Address{{Email: "x@example.com"}}},
		{`broken <no-close@example.com`, []Address{{Name: "broken", Email: "no-close@example.com"}}},
	} {
		m, err := parse([]byte("From: f@example.com\r\nTo: " + tc.in + "\r\n\r\nx"))
		if err != nil {
			t.Fatal(err)
		}
		tcompare(t, tc.in, m.To, tc.want)
	}
}

func TestMsgIDs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"<a@b>", []string{"a@b"}},
		{" < a@b > ", []string{"a@b"}},
		{"<a@b> <c@d>\r\n\t<e@f>", []string{"a@b", "c@d", "e@f"}},
		{"(comment) <a@b> (x)", []string{"a@b"}},
		{"a@b c@d", []string{"a@b", "c@d"}},
		{"<a@b", []string{"a@b"}},
		{"<", nil},
		{"", nil},
		{"<invalid.   something@bar>", []string{"invalid.something@bar"}},
	} {
		tcompare(t, fmt.Sprintf("msgIDs(%q)", tc.in), msgIDs(tc.in), tc.want)
	}
}

func TestDates(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Tue, 3 Sep 2024 10:15:00 +0900", "2024-09-03T10:15:00+09:00"},
		{"3 Sep 2024 10:15 +0900", "2024-09-03T10:15:00+09:00"},
		{"Wed, 9 Jan 2002 19:47:50 MST", "2002-01-09T19:47:50-07:00"},
		{"Tue, 22 Jan 2002 14:35:28 UT", "2002-01-22T14:35:28Z"},
		{"Mon, 01 Nov 2020 14:49:07 -0800 (PST)", "2020-11-01T14:49:07-08:00"},
		{"Fri, 21 Nov 1997 09(comment):   55  :  06 -0600", "1997-11-21T09:55:06-06:00"},
		{"21 Nov 97 09:55:06 GMT", "1997-11-21T09:55:06Z"},
		{"Montag, 9 Sep 2024 10:00:00 +0200", "2024-09-09T10:00:00+02:00"},
		{"Mon, 9 Sep 2024 10:00:00 GMT+0200", "2024-09-09T10:00:00+02:00"},
		{"Mon, 9 Sep 2024 10:00:00 +02:00", "2024-09-09T10:00:00+02:00"},
		{"Wed, 01 May 2019 12:20", "2019-05-01T12:20:00Z"},
		{"Tue, 12 Oct 2010 16:21:05 H0500", "2010-10-12T16:21:05Z"},
		{"2024-09-09 10:00:00 +0200", "2024-09-09T10:00:00+02:00"},
	} {
		got, err := parseDate(tc.in)
		if err != nil {
			t.Errorf("parseDate(%q): %v", tc.in, err)
			continue
		}
		tcompare(t, tc.in, got.Format(time.RFC3339), tc.want)
	}
	for _, in := range []string{"<HR>", "Pn, 29 paX 2007 21:13:00 +0100", "yesterday"} {
		if got, err := parseDate(in); err == nil {
			t.Errorf("parseDate(%q) = %v, want an error", in, got)
		}
	}
}

func TestEncodedWords(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"=?utf-8?q?caf=C3=A9?= =?utf-8?q?_au_lait?=", "café au lait"},
		{"=?NONE?B?VEVTVA=?=", "TEST"},
		{"=?utf-8*ko?B?7ZWc6riA?=", "한글"},
		{"Re: =?euc-kr?B?x9Gx2w?=", "Re: 한글"},
		{"=?utf-8?B?broken", "=?utf-8?B?broken"},
		{"a =?x-unknown?Q?b?= c", "a b c"},
	} {
		p := &parser{mail: &Message{}}
		tcompare(t, tc.in, p.text("Subject", tc.in), tc.want)
	}
}

// TestWordDecoder checks the exported decoder the IMAP client uses.
func TestWordDecoder(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"=?ks_c_5601-1987?B?x9Gx2w==?=", "한글"},
		{"=?cp949?B?jGM=?=", "똠"},
		{"=?x-windows-949?B?jGM=?=", "똠"},
		{"=?UHC?B?jGM=?=", "똠"},
		{"=?ISO-2022-KR?B?GyQpQw5HUTFbDw==?=", "한글"},
		{"=?EUC-KR?Q?=C7=D1=B1=DB?=", "한글"},
	} {
		got, err := wordDecoder.DecodeHeader(tc.in)
		if err != nil {
			t.Errorf("DecodeHeader(%q): %v", tc.in, err)
			continue
		}
		tcompare(t, tc.in, got, tc.want)
	}
	if _, err := wordDecoder.DecodeHeader("=?hz-gb-2312?B?QUJD?="); err == nil {
		t.Error("a charset WHATWG maps to the replacement encoding must be reported unknown")
	}
}

// TestInvalidUTF8Everywhere feeds invalid bytes into every field.
func TestInvalidUTF8Everywhere(t *testing.T) {
	bad := "\xff\xfe\xc3"
	raw := "From: " + bad + " <a" + bad + "@example.com>\r\nTo: " + bad + "@example.com\r\n" +
		"Subject: =?utf-8?B?//4=?= " + bad + "\r\nMessage-ID: <" + bad + "@x>\r\nReferences: <" + bad + ">\r\n" +
		"Precedence: " + bad + "\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + bad + "\r\n" +
		"--b\r\nContent-Type: text/html; charset=" + bad + "\r\n\r\n<p>" + bad + "</p>\r\n" +
		"--b\r\nContent-Type: application/x-" + bad + "; name=\"" + bad + "\"\r\nContent-ID: <" + bad + ">\r\n\r\nx\r\n--b--\r\n"
	m, err := parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	checkValidUTF8(t, "invalid bytes", m)
	if len(m.Attachments) != 1 || m.Text == "" || m.HTML == "" {
		t.Errorf("parts lost: %+v", m)
	}
}

func TestTextParts(t *testing.T) {
	raw := "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n" +
		"--c\r\nContent-Type: text/plain\r\n\r\nplain version\r\n" +
		"--c\r\nContent-Type: text/enriched\r\n\r\n<bold>rich</bold>\r\n" +
		"--c\r\nContent-Type: text/html\r\n\r\n<p>html version</p>\r\n--c--\r\n" +
		"--b\r\nContent-Type: text/plain; name=notes.txt\r\nContent-Disposition: inline; filename=notes.txt\r\n\r\nnotes\r\n" +
		"--b\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nfooter\r\n--b--\r\n"
	m, err := parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	tcompare(t, "text", m.Text, "plain version\n\nfooter")
	tcompare(t, "html", m.HTML, "<p>html version</p>")
	var names []string
	for _, a := range m.Attachments {
		names = append(names, a.ContentType+":"+a.Filename+":"+fmt.Sprint(a.Inline))
	}
	tcompare(t, "attachments", names, []string{"text/plain:notes.txt:true", "text/calendar:attachment.ics:false"})
}

// TestHTMLFallbackWhenPlainEmpty: an empty text/plain alternative does not
// hide the HTML.
func TestHTMLFallbackWhenPlainEmpty(t *testing.T) {
	raw := "From: a@example.com\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n" +
		"--c\r\nContent-Type: text/plain\r\n\r\n \r\n" +
		"--c\r\nContent-Type: text/html; charset=euc-kr\r\n\r\n<p>\xc7\xd1\xb1\xdb</p>\r\n--c--\r\n"
	m, err := parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	tcompare(t, "text", m.Text, "한글")
}

func TestHTMLMetaCharset(t *testing.T) {
	raw := "From: a@example.com\r\nDate: Mon, 9 Sep 2024 10:00:00 +0000\r\nContent-Type: text/html\r\n\r\n" +
		"<html><head><meta charset=\"euc-kr\"></head><body>\xc7\xd1\xb1\xdb</body></html>\r\n"
	m, err := parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	tcompare(t, "text", m.Text, "한글")
	tcompare(t, "warnings", m.Warnings, []string(nil))
}

func TestTransferDecoders(t *testing.T) {
	for _, tc := range []struct {
		cte, in, want string
		bad           bool
	}{
		{"base64", "SGVsbG8=", "Hello", false},
		{"base64", "SGVs\r\nbG8", "Hello", false},
		{"Base64", "SGVsbG8=SGk=", "HelloHi", false},
		{"base64", "SGV*sbG8=", "Hello", true},
		{"base64", "SGVsbG8gQ", "Hello ", true},
		{"quoted-printable", "a=3Db =\r\nc=e9 \r\nd", "a=b c\xe9\r\nd", false},
		{"quoted-printable", "50% =ZZ off=", "50% =ZZ off", true},
		{"quoted-printable", "tab\t\t\nx", "tab\nx", false},
		{"x-uuencode", "begin 644 a.txt\n#86)C\n`\nend\n", "abc", false},
		{"8bits", "raw \xff", "raw \xff", false},
		{"7-bit", "raw", "raw", false},
		{"quoted printable", "a=41", "aA", false},
		{"base64;", "QQ==", "A", false},
	} {
		p := &parser{mail: &Message{}}
		r, prob := p.transferDecoder(tc.cte, []byte(tc.in), "", "")
		var out bytes.Buffer
		if r == nil {
			out.WriteString(tc.in) // used as it is
		} else if _, err := out.ReadFrom(r); err != nil {
			t.Errorf("%s %q: %v", tc.cte, tc.in, err)
		}
		tcompare(t, fmt.Sprintf("%s %q", tc.cte, tc.in), out.String(), tc.want)
		if got := prob != nil && prob.bad; got != tc.bad {
			t.Errorf("%s %q: bad = %v, want %v", tc.cte, tc.in, got, tc.bad)
		}
		if len(p.mail.Warnings) > 0 {
			t.Errorf("%s: unexpected warnings %q", tc.cte, p.mail.Warnings)
		}
	}
}

// TestSalvage checks what Parse returns when it recovers from a panic: the
// warning, the fields read so far, and the raw body as text.
func TestSalvage(t *testing.T) {
	p := &parser{mail: &Message{Headers: map[string]string{}, Subject: "read so far"}}
	p.body = []byte("raw body \xff\r\n")
	m := p.salvage(&PanicError{Value: "boom", Stack: "the stack"})
	tcompare(t, "subject", m.Subject, "read so far")
	if m.Panic == nil || m.Panic.Value != "boom" || m.Panic.Stack != "the stack" {
		t.Errorf("panic %+v, want the one recovered", m.Panic)
	}
	tcompare(t, "text", m.Text, "raw body \u00ff\n")
	if !warned(m, "internal parser error, result is partial: boom") {
		t.Errorf("warnings %q", m.Warnings)
	}
	checkValidUTF8(t, "salvage", m)
}

// TestMultipartSplitter covers the multipart splitter (multipart.go): what
// ends a part, what a part header may hold, and what a broken multipart
// still gives.
func TestMultipartSplitter(t *testing.T) {
	const head = "From: a@example.com\r\nSubject: x\r\nDate: Mon, 9 Sep 2024 10:00:00 +0900\r\nContent-Type: "
	euckr := "\xc7\xd1\xb1\xdb" // 한글
	for _, tc := range []struct {
		name, raw   string
		text, html  string
		attachments []string // "name|size"
		warning     string   // a warning that must be there, if any
	}{
		{name: "prefix boundary",
			// RFC 2046 section 5.1.1: "--ab" and "--a-x" delimit boundary "a".
			raw:  head + "multipart/mixed; boundary=a\r\n\r\n--ab\r\nContent-Type: text/plain\r\n\r\none\r\n--a-x\r\n\r\ntwo\r\n--a--\r\n",
			text: "one\n\ntwo"},
		{name: "innermost boundary first",
			// "--a----" belongs to the inner "a----", not to the outer "a--".
			raw: head + "multipart/mixed; boundary=\"a--\"\r\n\r\n--a--\r\n" +
				"Content-Type: multipart/alternative; boundary=\"a----\"\r\n\r\n" +
				"--a----\r\nContent-Type: text/plain\r\n\r\nbody\r\n--a----\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n" +
				"--a------\r\n--a--\r\nContent-Type: text/plain\r\n\r\nafter\r\n--a----\r\n",
			text: "body\n\nafter", html: "<p>html</p>"},
		{name: "outer delimiter ends the inner multipart",
			raw: head + "multipart/mixed; boundary=1\r\n\r\n--1\r\nContent-Type: multipart/mixed; boundary=2\r\n\r\n" +
				"--2\r\nContent-Type: text/plain\r\n\r\n1\r\n--2\r\nContent-Type: text/plain\r\n\r\n22\r\n" +
				"--1\r\nContent-Type: text/plain\r\n\r\n333\r\n--1--\r\n",
			text: "1\n\n22\n\n333", warning: "part 1 (multipart/mixed): closing boundary missing, ended by the boundary of the enclosing multipart"},
		{name: "duplicate boundary",
			raw: head + "multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n" +
				"--a\r\nContent-Type: text/plain\r\n\r\nplain\r\n--a\r\nContent-Type: text/html\r\n\r\n<p>rich</p>\r\n--a--\r\n",
			text: "plain", html: "<p>rich</p>", warning: `boundary "a" is that of an enclosing multipart`},
		{name: "header line without a colon starts the body",
			raw: head + "multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n" +
				"안녕하세요. 문의드립니다:\r\n두 번째 줄\r\n--b--\r\n",
			text: "안녕하세요. 문의드립니다:\n두 번째 줄", warning: "part 1: part header line without a field name"},
		{name: "broken header line among fields is dropped",
			raw: head + "multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\nX broken line\r\n" +
				"Content-Transfer-Encoding: base64\r\n\r\n7JWI64WV\r\n--b--\r\n",
			text: "안녕", warning: `part 1: dropped part header line without a field name: "X broken line"`},
		{name: "parameter that lost its indent",
			raw:  head + "multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain;\r\ncharset=euc-kr\r\n\r\n" + euckr + "\r\n--b--\r\n",
			text: "한글"},
		{name: "header runs into the next delimiter",
			raw:  head + "multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: image/png\r\n--b\r\nContent-Type: text/plain\r\n\r\ntext\r\n--b--\r\n",
			text: "text", attachments: []string{"image.png|0"}, warning: "part 1: part header not ended by an empty line"},
		{name: "truncated text part",
			raw:  head + "multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfirst\r\n--b\r\nContent-Type: text/plain\r\n\r\ncut off here",
			text: "first\n\ncut off here", warning: "message (multipart/mixed): closing boundary missing"},
		{name: "truncated attachment",
			raw: head + "multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee file\r\n" +
				"--b\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\nJVBE",
			text: "see file", attachments: []string{"a.pdf|12"}, warning: "closing boundary missing"},
		{name: "delimiter only at the start of a line",
			raw:  head + "multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\ntext --b more\r\n--b--\r\n",
			text: "text --b more"},
		{name: "binary part is the bytes before the line break",
			raw: head + "multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\n" +
				"\x00\x01\r\n\r\n--b--\r\nepilogue\r\n",
			attachments: []string{"attachment.bin|4"}},
		{name: "preamble and epilogue ignored, LF line endings",
			raw:  "From: a@example.com\nDate: Mon, 9 Sep 2024 10:00:00 +0900\nContent-Type: multipart/mixed; boundary=b\n\npreamble\n--b\n\nbody\n--b--\nepilogue\n",
			text: "body"},
		{name: "no delimiter at all",
			raw:  head + "multipart/mixed; boundary=b\r\n\r\njust text\r\n",
			text: "just text\r\n", warning: "no part found, body read as text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := parse([]byte(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			checkValidUTF8(t, tc.name, m)
			tcompare(t, "text", m.Text, normalizeNewlines(tc.text))
			tcompare(t, "html", m.HTML, tc.html)
			var atts []string
			for _, a := range m.Attachments {
				atts = append(atts, fmt.Sprintf("%s|%d", a.Filename, a.Size))
			}
			tcompare(t, "attachments", atts, tc.attachments)
			if tc.warning != "" && !warned(m, tc.warning) {
				t.Errorf("no warning %q in %q", tc.warning, m.Warnings)
			}
			if tc.warning == "" && len(m.Warnings) > 0 {
				t.Errorf("warnings %q", m.Warnings)
			}
		})
	}
}

// TestMultipartBodyIsSlice: a part's body is a slice of the mail, not a
// copy.
func TestMultipartBodyIsSlice(t *testing.T) {
	raw := []byte("From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n--b--\r\n")
	p := &parser{mail: &Message{Headers: map[string]string{}}, bounds: []string{"b"}}
	start := bytes.Index(raw, []byte("--b"))
	d, ok := findDelim(raw, start, p.bounds)
	if !ok {
		t.Fatal("no delimiter")
	}
	_, bodyStart := p.partHeader(raw, d.after, "1")
	body, end := p.partBody(raw, bodyStart)
	tcompare(t, "body", string(body), "body")
	if &body[0] != &raw[bodyStart] {
		t.Error("the body is a copy")
	}
	tcompare(t, "end", string(raw[end:]), "--b--\r\n")
}

// TestBase64Recovery: a text part declared base64 that is not base64 is
// kept as it is; text that is readable up to garbage after the padding
// keeps the readable text and marks the rest.
func TestBase64Recovery(t *testing.T) {
	raw := "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=foo\r\n\r\n" +
		"--foo\r\nContent-Transfer-Encoding: base64\r\nContent-Type: text/plain; charset=utf-8\r\n\r\necO2dMOkIHZhYW4uCg== ignored\r\n" +
		"--foo\r\nContent-Transfer-Encoding: base64\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n?garbage\r\n--foo--\r\n"
	m, err := parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	tcompare(t, "text", m.Text, "yötä vaan.\n\ufffd\t\ufffd\n\n?garbage")
	for _, w := range []string{"part 1 (text/plain): text unreadable after 13 bytes (broken base64), marked with U+FFFD",
		"part 2 (text/plain): declared base64 but is not, kept as it is"} {
		if !warned(m, w) {
			t.Errorf("no warning %q in %q", w, m.Warnings)
		}
	}
}

// TestBase64FastPath checks that the fast path of base64Reader (whole
// quanta decoded by encoding/base64) gives the same bytes and problems as
// reading byte by byte, for random input of every kind and any read size.
func TestBase64FastPath(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	pieces := []string{"QUJD", "RA==", "RE", "=", "\r\n", "\n", " ", "\t", "!", "*", "-", "ZGVm", "Zw", "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4",
		"YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo=", "QUJDRA", "\r\n--", "7JWI64WV"}
	read := func(r *base64Reader, size int) []byte {
		var out []byte
		buf := make([]byte, size)
		for {
			n, err := r.Read(buf)
			out = append(out, buf[:n]...)
			if err != nil {
				return out
			}
		}
	}
	for i := 0; i < 20000; i++ {
		var sb strings.Builder
		for n := rng.IntN(40); n > 0; n-- {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		src := []byte(sb.String())
		size := 1 + rng.IntN(200)
		fast := &base64Reader{src: src, prob: &transferProblem{at: -1}}
		slow := &base64Reader{src: src, prob: &transferProblem{at: -1}, slow: len(src) + 1}
		got, want := read(fast, size), read(slow, 1+rng.IntN(200))
		if !bytes.Equal(got, want) || *fast.prob != *slow.prob {
			t.Fatalf("%q (read size %d): fast %q %+v, byte by byte %q %+v", src, size, got, *fast.prob, want, *slow.prob)
		}
	}
}

func TestEnrichedText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		// RFC 1896 section 2's own example.
		{"<bold>Now</bold> is the time for <italic>all</italic>\r\ngood men\r\n\r\n<smaller>(and <<women>)</smaller> to\r\n" +
			"<ignoreme>come</ignoreme>\r\n\r\nto the aid of their\r\n\r\n\r\n<color><param>red</param>beloved</color> country.",
			"Now is the time for all good men\n(and <women>) to come\nto the aid of their\n\nbeloved country."},
		{"상환 <bold>일정</bold>\r\n문의", "상환 일정 문의"},
		{"a<nl>b", "a\nb"},                 // text/richtext
		{"1 < 2 is true", "1 < 2 is true"}, // no '>' after '<': kept as text
	} {
		if got := enrichedText(c.in); got != c.want {
			t.Errorf("enrichedText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	m, err := parse([]byte("From: a@example.test\r\nContent-Type: text/enriched; charset=utf-8\r\n\r\n<bold>급한</bold> 문의\r\n"))
	if err != nil || strings.TrimSpace(m.Text) != "급한 문의" {
		t.Fatalf("text/enriched body: %q, %v", m.Text, err)
	}
}
