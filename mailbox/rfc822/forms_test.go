package rfc822

import (
	"encoding/base64"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// enc encodes s in e, for fixtures written as the mailers send them.
func enc(t *testing.T, e encoding.Encoding, s string) string {
	t.Helper()
	b, err := e.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustParse(t *testing.T, raw string) *Message {
	t.Helper()
	m, err := parse([]byte(raw))
	if err != nil {
		t.Fatalf("parse: %v\n%q", err, raw)
	}
	checkValidUTF8(t, "mail", m)
	return m
}

// TestRawBytesInEncodedWords: raw 8-bit bytes inside an RFC 2047 encoded
// word are decoded once, in the word's charset.
func TestRawBytesInEncodedWords(t *testing.T) {
	kr := enc(t, korean.EUCKR, "햇살론 상환 문의")
	name := enc(t, korean.EUCKR, "홍길동")
	for _, tc := range []struct{ name, subject, from, want, wantFrom string }{
		{"Q word", "=?euc-kr?Q?" + strings.ReplaceAll(kr, " ", "_") + "?=", "", "햇살론 상환 문의", ""},
		{"Q word with raw text around", "Re: =?ks_c_5601-1987?Q?" + strings.ReplaceAll(kr, " ", "_") + "?= " + enc(t, korean.EUCKR, "(긴급)"), "", "Re: 햇살론 상환 문의 (긴급)", ""},
		{"B word beside a raw Q word", "=?euc-kr?B?" + base64.StdEncoding.EncodeToString([]byte(enc(t, korean.EUCKR, "서류 "))) + "?= =?euc-kr?Q?" + enc(t, korean.EUCKR, "제출") + "?=", "", "서류 제출", ""},
		{"sender name", "x", "=?euc-kr?Q?" + name + "?= <hong@example.com>", "x", "홍길동"},
		{"Shift_JIS in a Q word", "=?shift_jis?Q?" + enc(t, japanese.ShiftJIS, "お問い合わせ") + "?=", "", "お問い合わせ", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := tc.from
			if from == "" {
				from = "hong@example.com"
			}
			m := mustParse(t, "From: "+from+"\r\nSubject: "+tc.subject+"\r\n\r\nbody\r\n")
			if m.Subject != tc.want {
				t.Errorf("subject %q, want %q (warnings %q)", m.Subject, tc.want, m.Warnings)
			}
			if tc.wantFrom != "" && m.From.Name != tc.wantFrom {
				t.Errorf("from name %q, want %q", m.From.Name, tc.wantFrom)
			}
		})
	}
}

// TestRawHeadersLikelyCharsets: raw 8-bit header text under another part's
// Latin-1 label, or a 7-bit label over 8-bit bytes, is read in the charset
// its bytes are most likely in, Korean first, and a warning says so.
func TestRawHeadersLikelyCharsets(t *testing.T) {
	for _, tc := range []struct {
		name, charset, subject, want string
	}{
		{"EUC-KR under latin-1", "iso-8859-1", enc(t, korean.EUCKR, "대출 상환 문의"), "대출 상환 문의"},
		{"CP949 under windows-1252", "windows-1252", enc(t, korean.EUCKR, "똠방각하 문의"), "똠방각하 문의"},
		{"Shift_JIS under latin-1", "iso-8859-1", enc(t, japanese.ShiftJIS, "お問い合わせの件"), "お問い合わせの件"},
		{"Shift_JIS under iso-2022-jp", "iso-2022-jp", enc(t, japanese.ShiftJIS, "お問い合わせ 山田"), "お問い合わせ 山田"},
		{"GB18030 under latin-1", "iso-8859-1", enc(t, simplifiedchinese.GB18030, "关于贷款的问题"), "关于贷款的问题"},
		{"Big5 under latin-1", "iso-8859-1", enc(t, traditionalchinese.Big5, "關於貸款"), "關於貸款"},
		// Latin-1 text stays Latin-1: accents inside words are no CJK.
		{"latin-1 words", "iso-8859-1", "Forma\xe7\xe3o Ver\xe3o Jos\xe9 M\xfcller", "Formação Verão José Müller"},
		{"latin-1 capitals", "iso-8859-1", "\xc4rger \xfcber", "Ärger über"},
		{"KOI8-R as declared", "koi8-r", "\xf0\xd2\xc9\xd7\xc5\xd4", "Привет"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, "From: a@example.com\r\nSubject: "+tc.subject+"\r\nContent-Type: text/plain; charset="+tc.charset+"\r\n\r\nbody\r\n")
			if m.Subject != tc.want {
				t.Errorf("subject %q, want %q", m.Subject, tc.want)
			}
			if !warned(m, "Subject: raw 8-bit text, decoded as") {
				t.Errorf("no warning: %q", m.Warnings)
			}
		})
	}
	// A body labelled ISO-2022-JP that is Shift_JIS.
	body := enc(t, japanese.ShiftJIS, "ローンの返済について質問です。")
	m := mustParse(t, "From: a@example.com\r\nSubject: x\r\nContent-Type: text/plain; charset=iso-2022-jp\r\n\r\n"+body+"\r\n")
	if m.Text != "ローンの返済について質問です。\n" || !warned(m, "8-bit bytes under charset iso-2022-jp, decoded as shift_jis") {
		t.Errorf("text %q, warnings %q", m.Text, m.Warnings)
	}
}

// TestLeadingWhiteSpaceBeforeHeader: lines of white space, a BOM or an mbox
// "From " line before the header do not make a mail "not a mail".
func TestLeadingWhiteSpaceBeforeHeader(t *testing.T) {
	for _, lead := range []string{" \r\n", "\t\r\n", "  \n\n", "\r\n \r\n", "\xef\xbb\xbf", "\r\nFrom hong@example.com Tue Nov 24 10:00:00 2026\r\n",
		"From hong@example.com Tue Nov 24 10:00:00 2026\r\n \r\n"} {
		m := mustParse(t, lead+"From: hong@example.com\r\nSubject: 문의\r\n\r\n본문\r\n")
		if m.From.Email != "hong@example.com" || m.Subject != "문의" || m.Text != "본문\n" {
			t.Errorf("lead %q: from %q subject %q text %q", lead, m.From.Email, m.Subject, m.Text)
		}
	}
}

// TestSenderForms: the sender is found in every form, and never made up.
func TestSenderForms(t *testing.T) {
	for _, tc := range []struct{ name, header, want, wantName, warn string }{
		{"no From: Sender", "Sender: hong@example.com\r\nReply-To: other@example.com\r\n", "hong@example.com", "", "using Sender"},
		{"no From: Reply-To", "Reply-To: 홍길동 <hong@example.com>\r\n", "hong@example.com", "홍길동", "using Reply-To"},
		{"no From: Return-Path", "Return-Path: <hong@example.com>\r\n", "hong@example.com", "", "using Return-Path"},
		{"null Return-Path is nobody", "Return-Path: <>\r\n", "", "", "no From address"},
		{"garbage From, then the real one", "From: undisclosed\r\nFrom: Hong <hong@example.com>\r\n", "hong@example.com", "Hong", "field(s) without an address"},
		{"empty address with Reply-To", "From: \"홍길동\" <>\r\nReply-To: hong@example.com\r\n", "hong@example.com", "홍길동", "using Reply-To"},
		{"mailer-daemon without domain", "From: MAILER-DAEMON (Mail Delivery System)\r\n", "MAILER-DAEMON", "Mail Delivery System", ""},
		{"quoted local part", "From: \"hong gildong\"@example.com\r\n", `"hong gildong"@example.com`, "", ""},
		{"quoted local part with name", "From: Hong <\"a b\"@Example.COM>\r\n", `"a b"@example.com`, "Hong", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, tc.header+"Subject: x\r\n\r\nbody\r\n")
			if m.From.Email != tc.want || m.From.Name != tc.wantName {
				t.Errorf("from %+v, want %q %q (warnings %q)", m.From, tc.wantName, tc.want, m.Warnings)
			}
			if tc.warn != "" && !warned(m, tc.warn) {
				t.Errorf("no warning %q: %q", tc.warn, m.Warnings)
			}
		})
	}
	// A quoted local part stays one address in a list.
	m := mustParse(t, "From: a@example.com\r\nTo: \"kim min\"@example.com, lee@example.com\r\nSubject: x\r\n\r\nb\r\n")
	if len(m.To) != 2 || m.To[0].Email != `"kim min"@example.com` {
		t.Errorf("to %+v", m.To)
	}
}

// TestDerivedAttachmentNames: nameless parts get a name from their
// Content-ID or type, unique within the mail, marked as derived.
func TestDerivedAttachmentNames(t *testing.T) {
	raw := "From: a@example.com\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\n본문\r\n" +
		"--b\r\nContent-Type: image/png\r\nContent-ID: <image001.png@01DA3C4F.5E6D7A80>\r\nContent-Disposition: inline\r\n\r\npng1\r\n" +
		"--b\r\nContent-Type: image/png\r\nContent-ID: <image001.png@01DA3C4F.5E6D7A81>\r\n\r\npng2\r\n" +
		"--b\r\nContent-Type: image/png\r\n\r\npng3\r\n" +
		"--b\r\nContent-Type: image/png\r\n\r\npng4\r\n" +
		"--b\r\nContent-Type: video/mp4\r\n\r\nmp4\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\n\r\nbin1\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\n\r\nbin2\r\n" +
		"--b\r\nContent-Type: application/x-hwp\r\n\r\nhwp\r\n" +
		"--b\r\nContent-Type: application/pdf; name=\"신청서.pdf\"\r\n\r\npdf\r\n" +
		"--b--\r\n"
	m := mustParse(t, raw)
	var got []string
	for _, a := range m.Attachments {
		mark := ""
		if a.NameDerived {
			mark = "*"
		}
		got = append(got, a.Filename+mark)
	}
	want := []string{"image001.png*", "image.png*", "image-2.png*", "image-3.png*", "video.mp4*", "attachment.bin*",
		"attachment-2.bin*", "attachment.hwp*", "신청서.pdf"}
	tcompare(t, "names", got, want)
	files, err := ExtractAttachments([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Filename)
	}
	tcompare(t, "extracted names", names, []string{"image001.png", "image.png", "image-2.png", "image-3.png", "video.mp4",
		"attachment.bin", "attachment-2.bin", "attachment.hwp", "신청서.pdf"})
}

// TestNamedInlineTextIsTheBody: an inline text/plain part with a file name
// is the body when the mail has no other text; it stays an attachment.
func TestNamedInlineTextIsTheBody(t *testing.T) {
	for _, disp := range []string{"", "Content-Disposition: inline; filename=\"문의.txt\"\r\n"} {
		raw := "From: a@example.com\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: text/plain; charset=utf-8; name=\"문의.txt\"\r\n" + disp + "\r\n햇살론 서류 문의입니다.\r\n" +
			"--b\r\nContent-Type: image/jpeg; name=\"shot.jpg\"\r\n\r\njpg\r\n--b--\r\n"
		m := mustParse(t, raw)
		if m.Text != "햇살론 서류 문의입니다." || len(m.Attachments) != 2 || m.Attachments[0].Filename != "문의.txt" {
			t.Errorf("disposition %q: text %q, attachments %+v", disp, m.Text, m.Attachments)
		}
	}
	// With a body of its own, the named part is only an attachment.
	raw := "From: a@example.com\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\n본문\r\n" +
		"--b\r\nContent-Type: text/plain; name=\"log.txt\"\r\n\r\nlog line\r\n--b--\r\n"
	if m := mustParse(t, raw); m.Text != "본문" || len(m.Attachments) != 1 {
		t.Errorf("text %q, attachments %+v", m.Text, m.Attachments)
	}
}

// TestUnreferencedHTMLIsKept: an HTML part that is no rendering of the body
// is an attachment when there is a plain body, and body text without one.
func TestUnreferencedHTMLIsKept(t *testing.T) {
	related := "Content-Type: multipart/related; boundary=r\r\n\r\n" +
		"--r\r\nContent-Type: text/html\r\n\r\n<p>본문 HTML</p>\r\n" +
		"--r\r\nContent-Type: text/html\r\n\r\n<p>안내문 페이지</p>\r\n" +
		"--r\r\nContent-Type: image/png\r\nContent-ID: <i1>\r\n\r\npng\r\n--r--\r\n"
	withPlain := "From: a@example.com\r\nSubject: x\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n" +
		"--a\r\nContent-Type: text/plain\r\n\r\n본문\r\n--a\r\n" + related + "--a--\r\n"
	m := mustParse(t, withPlain)
	if m.Text != "본문" || !strings.Contains(m.HTML, "본문 HTML") {
		t.Errorf("text %q html %q", m.Text, m.HTML)
	}
	var html *Attachment
	for i, a := range m.Attachments {
		if a.ContentType == "text/html" {
			html = &m.Attachments[i]
		}
	}
	if html == nil || html.Filename != "attachment.html" || !html.NameDerived {
		t.Fatalf("the second HTML part is no attachment: %+v", m.Attachments)
	}
	files, _ := ExtractAttachments([]byte(withPlain))
	if len(files) != len(m.Attachments) || !strings.Contains(string(files[len(files)-1].Data), "안내문") {
		t.Errorf("extracted %d files for %d attachments", len(files), len(m.Attachments))
	}
	// Without a plain body, both pages are the body.
	m = mustParse(t, "From: a@example.com\r\nSubject: x\r\n"+related)
	if !strings.Contains(m.Text, "본문 HTML") || !strings.Contains(m.Text, "안내문 페이지") {
		t.Errorf("text %q", m.Text)
	}
}

// TestUUEncodedFiles: uuencoded files in a text body become attachments.
func TestUUEncodedFiles(t *testing.T) {
	// "Cat" uuencoded, and 45+ bytes to span lines.
	long := strings.Repeat("0123456789", 6)
	uu := "begin 644 cat.txt\r\n#0V%T\r\n`\r\nend\r\n"
	uuLong := "begin 600 doc.pdf\r\n" + uuencodeForTest(long) + "`\r\nend\r\n"
	raw := "From: a@example.com\r\nSubject: x\r\n\r\n서류 보냅니다.\r\n\r\n" + uu + "\r\n그리고 하나 더.\r\n" + uuLong + "감사합니다.\r\n"
	m := mustParse(t, raw)
	if strings.Contains(m.Text, "begin 644") || !strings.Contains(m.Text, "서류 보냅니다.") || !strings.Contains(m.Text, "감사합니다.") {
		t.Errorf("text %q", m.Text)
	}
	if len(m.Attachments) != 2 || m.Attachments[0].Filename != "cat.txt" || m.Attachments[0].Size != 3 ||
		m.Attachments[1].Filename != "doc.pdf" || m.Attachments[1].ContentType != "application/pdf" || m.Attachments[1].Size != int64(len(long)) {
		t.Fatalf("attachments %+v", m.Attachments)
	}
	files, err := ExtractAttachments([]byte(raw))
	if err != nil || len(files) != 2 || string(files[0].Data) != "Cat" || string(files[1].Data) != long {
		t.Errorf("files %+v, %v", files, err)
	}
	// Inside a forwarded message the block stays in its text: its files
	// are not listed, so nothing of it may go.
	fwd := "From: a@example.com\r\nSubject: fw\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfw\r\n" +
		"--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@example.com\r\nSubject: inner\r\n\r\nsee file\r\n" + uu + "--b--\r\n"
	if m := mustParse(t, fwd); len(m.Attachments) != 1 || !strings.Contains(strings.Join(m.Forwarded, ""), "begin 644 cat.txt") {
		t.Errorf("forwarded: attachments %+v, sections %q", m.Attachments, m.Forwarded)
	}
	// A "begin" line that starts no clean block stays text.
	text := "From: a@example.com\r\nSubject: x\r\n\r\nbegin 644 notes\r\nthis is not uuencoded\r\nend\r\n"
	if m := mustParse(t, text); len(m.Attachments) != 0 || !strings.Contains(m.Text, "this is not uuencoded") {
		t.Errorf("text %q attachments %+v", m.Text, m.Attachments)
	}
}

// uuencodeForTest is a uuencoder, to write fixtures.
func uuencodeForTest(s string) string {
	var sb strings.Builder
	b := []byte(s)
	for len(b) > 0 {
		n := min(45, len(b))
		line := b[:n]
		b = b[n:]
		sb.WriteByte(byte(' ' + n))
		for i := 0; i < n; i += 3 {
			var c [3]byte
			copy(c[:], line[i:min(i+3, n)])
			for _, v := range []byte{c[0] >> 2, (c[0]<<4 | c[1]>>4) & 63, (c[1]<<2 | c[2]>>6) & 63, c[2] & 63} {
				if v == 0 {
					sb.WriteByte('`')
				} else {
					sb.WriteByte(' ' + v)
				}
			}
		}
		sb.WriteString("\r\n")
	}
	return sb.String()
}
