package rfc822

import (
	"testing"
)

// TestCharsets parses one fixture per charset, each with a base64 Subject
// encoded-word and a base64 text/plain body in that charset, and checks the
// exact decoded text.
func TestCharsets(t *testing.T) {
	for _, tc := range []struct{ file, subject, text string }{
		{"utf-7.eml", "UTF-7: 한국어 €5 + 日本", "Hi + bye: 안녕하세요 €5, 😀 ok.\n"},
		{"unicode-1-1-utf-7.eml", "UTF-7: 한국어 €5", "Hi + bye: 안녕하세요 €5, 😀 ok.\n"},
		{"iso-2022-jp.eml", "お問い合わせ：注文番号", "こんにちは。\n返金をお願いします。\n"},
		{"shift_jis.eml", "Shift_JIS テスト 表示", "ソフトウェアの表示について。\n"},
		{"euc-jp.eml", "EUC-JP の件名", "日本語の本文です。\n"},
		{"gb2312.eml", "退款申请", "你好，我想退款。\n"},
		{"gbk.eml", "GBK 测试 镕", "内容：镕基。\n"},
		{"gb18030.eml", "GB18030 €𠀀", "文字 𠀀 € 测试。\n"},
		{"big5.eml", "退款申請", "您好，我想退款。\n"},
		{"windows-1251.eml", "Заявка на возврат", "Здравствуйте, верните деньги.\n"},
		{"windows-1252.eml", "Résumé – “quotes” €", "Café naïve — 20 €.\n"},
		{"utf-16.eml", "UTF-16 주문 ü", "BOM 본문 ü ok.\n"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			m := parseFixture(t, "charsets/"+tc.file)
			tcompare(t, "subject", m.Subject, tc.subject)
			tcompare(t, "text", m.Text, tc.text)
			tcompare(t, "warnings", m.Warnings, []string(nil))
		})
	}
}

// TestSplitEncodedWords checks encoded-words split in the middle of a
// multi-byte character (UTF-8 in B and Q, and EUC-KR), in a Subject and in a
// display name spread over a folded line.
func TestSplitEncodedWords(t *testing.T) {
	m := parseFixture(t, "charsets/split_words.eml")
	tcompare(t, "subject", m.Subject, "한글 문의 / 한글 문의 / 한글 문의")
	tcompare(t, "from", m.From, Address{Name: "한글 문의", Email: "sender@example.com"})
	tcompare(t, "warnings", m.Warnings, []string(nil))
}

func TestDecodeUTF7(t *testing.T) {
	for in, want := range map[string]string{
		"Hi Mom -+Jjo--!":         "Hi Mom -☺-!", // RFC 2152 examples
		"A+ImIDkQ.":               "A≢Α.",
		"+ZeVnLIqe-":              "日本語",
		"Item 3 is +AKM-1.":       "Item 3 is £1.",
		"1 +- 1 = 2":              "1 + 1 = 2",
		"+2D3eAA":                 "😀", // a surrogate pair, run ended by the end
		"+2D3-":                   "\uFFFD",
		"caf\xe9":                 "caf\uFFFD",
		"+AGEAYgBj-def +AGEAYgBj": "abcdef abc",
	} {
		if got := decodeUTF7([]byte(in)); got != want {
			t.Errorf("decodeUTF7(%q) = %q, want %q", in, got, want)
		}
	}
}
