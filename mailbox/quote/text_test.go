package quote

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// TestVisibleKorean has one case per form of history and signature that
// Korean customers' and agents' clients write, with the exact visible text.
func TestVisibleKorean(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{
			name: "gmail",
			in: "안녕하세요, 주문번호 A-1234 환불 부탁드립니다.\n\n감사합니다.\n홍길동 드림\n\n" +
				"2026년 11월 20일 (목) 오후 3:12, 고객센터 <support@example.test>님이 작성:\n\n" +
				"> 안녕하세요, 고객센터입니다.\n> 문의하신 내용을 확인했습니다.\n",
			want: "안녕하세요, 주문번호 A-1234 환불 부탁드립니다.\n\n감사합니다.\n홍길동 드림",
		},
		{
			name: "gmail wrapped",
			in: "네, 확인했습니다.\n\n" +
				"2026년 11월 20일 (목) 오후 3:12, 고객센터 아주 긴 이름의 담당자 <\nsupport@example.test>님이 작성:\n\n" +
				"> 배송은 내일 출발합니다.\n",
			want: "네, 확인했습니다.",
		},
		{
			name: "gmail older form",
			in:   "답장입니다.\n\n2026년 11월 20일 목요일, 김상담<agent@example.test>님이 작성한 메시지:\n\n> 문의 감사합니다.\n",
			want: "답장입니다.",
		},
		{
			name: "iphone",
			in: "교환으로 진행해 주세요.\n\niPhone에서 보냄\n\n" +
				"2026. 11. 20. 오후 3:12, 고객센터 <support@example.test> 작성:\n\n> 교환과 환불 중 선택해 주세요.\n",
			want: "교환으로 진행해 주세요.",
		},
		{
			name: "iphone without signature",
			in:   "교환으로 진행해 주세요.\n\n2026. 11. 20. 오후 3:12, 고객센터 <support@example.test> 작성:\n\n> 교환과 환불 중 선택해 주세요.",
			want: "교환으로 진행해 주세요.",
		},
		{
			name: "outlook",
			in: "첨부한 영수증 확인 부탁드립니다.\n\n김철수 드림\n\n________________________________\n" +
				"보낸 사람: 고객센터 <support@example.test>\n보낸 날짜: 2026년 11월 20일 목요일 오후 3:12\n" +
				"받는 사람: 김철수 <kim@example.com>\n참조: 팀장 <lead@example.test>\n제목: RE: [#42] 환불 문의\n\n" +
				"영수증을 보내 주세요.\n",
			want: "첨부한 영수증 확인 부탁드립니다.\n\n김철수 드림",
		},
		{
			name: "outlook original message",
			in: "처리 완료되었습니다.\n\n-----원본 메시지-----\n보낸 사람: 김철수 <kim@example.com>\n" +
				"받는 사람: support@example.test\n제목: 환불 문의\n\n환불해 주세요.\n",
			want: "처리 완료되었습니다.",
		},
		{
			name: "outlook bold english",
			in: "Thanks, Bob\n\n*From:* 고객센터 <support@example.test>\n*Sent:* Thursday, November 20, 2026 3:12 PM\n" +
				"*To:* Bob <bob@example.com>\n*Subject:* RE: refund\n\nPlease send the receipt.\n",
			want: "Thanks, Bob",
		},
		{
			name: "samsung email",
			in: "내일 오전에 방문하겠습니다.\n\nSamsung Galaxy 스마트폰에서 보냈습니다.\n\n" +
				"-------- 원본 메시지 --------\n발신: 고객센터 <support@example.test>\n날짜: 26/11/20 15:12 (GMT+09:00)\n" +
				"수신: 이영희 <lee@example.com>\n제목: 방문 일정 안내\n\n방문 가능한 시간을 알려 주세요.\n",
			want: "내일 오전에 방문하겠습니다.",
		},
		{
			name: "samsung email without signature",
			in: "내일 오전에 방문하겠습니다.\n\n-------- 원본 메시지 --------\n발신: 고객센터 <support@example.test>\n" +
				"날짜: 26/11/20 15:12 (GMT+09:00)\n수신: 이영희 <lee@example.com>\n제목: 방문 일정 안내\n\n방문 가능한 시간을 알려 주세요.\n",
			want: "내일 오전에 방문하겠습니다.",
		},
		{
			name: "galaxy signature",
			in:   "네 알겠습니다\n\nGalaxy에서 보냄\n",
			want: "네 알겠습니다",
		},
		{
			name: "naver",
			in: "주소 변경 부탁드립니다.\n서울시 강남구 테헤란로 1\n\n-----Original Message-----\n" +
				"From: \"고객센터\" <support@example.test>\nTo: \"박민수\" <park@naver.com>;\nCc: \nSent: 2026-11-20 (목) 15:12:00 (GMT+09:00)\n" +
				"Subject: [#42] 배송지 확인\n\n배송지를 확인해 주세요.\n",
			want: "주소 변경 부탁드립니다.\n서울시 강남구 테헤란로 1",
		},
		{
			name: "daum header block without separator",
			in: "확인 감사합니다.\n\nFrom: \"고객센터\" <support@example.test>\nTo: \"최지우\" <choi@daum.net>\n" +
				"Sent: 2026-11-20 15:12:00\nSubject: 안내\n\n안내드립니다.\n",
			want: "확인 감사합니다.",
		},
		{
			name: "trailing quote with attribution",
			in:   "좋습니다. 그렇게 해 주세요.\n\n고객센터 님이 작성:\n> 내일 배송해 드릴까요?\n>\n> 고객센터 드림\n",
			want: "좋습니다. 그렇게 해 주세요.",
		},
		{
			name: "trailing quote without attribution",
			in:   "네 맞습니다.\n\n> 주문번호가 A-1234 맞으신가요?\n",
			want: "네 맞습니다.",
		},
		{
			name: "interleaved",
			in: "답변드립니다.\n\n> 1. 환불 가능한가요?\n네, 가능합니다.\n\n> 2. 기간은 얼마나 걸리나요?\n영업일 기준 3일입니다.\n\n" +
				"감사합니다.\n\n> 고객센터 드림\n",
			want: "답변드립니다.\n\n> 1. 환불 가능한가요?\n네, 가능합니다.\n\n> 2. 기간은 얼마나 걸리나요?\n영업일 기준 3일입니다.\n\n감사합니다.",
		},
		{
			name: "sign-off stays",
			in:   "문의드립니다.\n제품이 작동하지 않습니다.\n\n감사합니다.\n홍길동 드림\n",
			want: "문의드립니다.\n제품이 작동하지 않습니다.\n\n감사합니다.\n홍길동 드림",
		},
		{
			name: "signature delimiter",
			in:   "견적서 보내드립니다.\n\n감사합니다.\n\n-- \n(주)예시상사 영업팀 김대리\n전화 02-123-4567\n",
			want: "견적서 보내드립니다.\n\n감사합니다.",
		},
		{
			name: "signature delimiter without space",
			in:   "견적서 보내드립니다.\n--\n김대리\n",
			want: "견적서 보내드립니다.",
		},
		{
			name: "outlook for android",
			in:   "확인했습니다.\n\nAndroid용 Outlook 받기\n\n보낸 사람: 고객센터 <support@example.test>\n보낸 날짜: 2026년 11월 20일 오후 3:12\n받는 사람: 나\n제목: 안내\n",
			want: "확인했습니다.",
		},
		{
			name: "get outlook for android english",
			in:   "확인했습니다.\n\nGet Outlook for Android<https://aka.ms/ghei36>\n",
			want: "확인했습니다.",
		},
		{
			name: "bottom posting",
			in:   "2026년 11월 20일 (목) 오후 3:12, 고객센터 <support@example.test>님이 작성:\n> 주소를 알려 주세요.\n\n서울시 중구 세종대로 110입니다.\n",
			want: "서울시 중구 세종대로 110입니다.",
		},
		{
			name: "forward without comment keeps the forwarded text",
			in: "---------- Forwarded message ---------\n보낸사람: 김철수 <kim@example.com>\nDate: 2026년 11월 20일 (목) 오후 3:12\n" +
				"Subject: 불량 신고\nTo: <cs@example.com>\n\n\n화면이 켜지지 않습니다.\n",
			want: "화면이 켜지지 않습니다.",
		},
		{
			name: "only a quote is kept",
			in:   "> 인용문만 있습니다.\n",
			want: "> 인용문만 있습니다.",
		},
		{
			name: "nothing left returns the input",
			in:   "\n-----Original Message-----\n\n",
			want: "-----Original Message-----",
		},
		{
			name: "crlf",
			in:   "네.\r\n\r\n2026. 11. 20. 오후 3:12, 고객센터 <support@example.test> 작성:\r\n> 확인 부탁드립니다.\r\n",
			want: "네.",
		},
		{
			name: "text that only looks like a header stays",
			in:   "주문 정보입니다.\n제목: 환불 요청\n날짜: 11월 20일\n금액: 30,000원\n",
			want: "주문 정보입니다.\n제목: 환불 요청\n날짜: 11월 20일\n금액: 30,000원",
		},
		{
			name: "text that only looks like an attribution stays",
			in:   "2026년 업무 보고서 작성:\n1. 매출 정리\n2. 비용 정리\n3. 2026년 계획 작성:\n",
			want: "2026년 업무 보고서 작성:\n1. 매출 정리\n2. 비용 정리\n3. 2026년 계획 작성:",
		},
		{
			name: "a rule inside the text stays",
			in:   "1단계\n----------\n2단계\n",
			want: "1단계\n----------\n2단계",
		},
		{name: "empty", in: "", want: ""},
		{name: "blank", in: " \n\n", want: ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := visibleText(c.in); got != c.want {
				t.Errorf("Visible:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

// TestVisibleNeverEmpty checks that text with content never becomes empty.
func TestVisibleNeverEmpty(t *testing.T) {
	for _, in := range []string{
		"-- \n", "--\nsig", "Sent from my iPhone", "> a\n> b", "On Mon, 1 Jan 2026 at 10:00, A <a@example.com> wrote:",
		"From: a\nTo: b\nSubject: c", "iPhone에서 보냄", "ᐧ",
	} {
		got := visibleText(in)
		if strings.TrimSpace(in) != "" && strings.TrimSpace(got) == "" {
			t.Errorf("Visible(%q) = %q, want some text", in, got)
		}
	}
}

// replyTrimmerDir holds the tests of discourse/email_reply_trimmer (MIT, see
// LICENSE there): emails/NAME.txt and the visible part trimmed/NAME.txt.
const replyTrimmerDir = "../../testdata/corpus/reply-trimmer"

// replyTrimmerExclusions are the corpus expectations Visible disagrees with
// on purpose, with the reason. They are left out of the agreement rate; each
// is checked against what the rules of Visible say, in replyTrimmerOwn.
var replyTrimmerExclusions = map[string]string{
	"spam_1.txt": "the mail is nothing but nested quotes; the corpus expects an empty result, " +
		"Visible never returns \"\" for a text with content and returns it whole",
}

// replyTrimmerOwn is what Visible gives for the excluded files.
var replyTrimmerOwn = map[string]func(in string) string{
	"spam_1.txt": strings.TrimSpace,
}

// replyTrimmerKnown are the files Visible gets wrong, with the reason. They
// count against the agreement rate; any other disagreement fails the test,
// and so does a known one that starts to agree.
var replyTrimmerKnown = map[string]string{
	"embedded_email_7.txt": `after an interleaved reply comes a block quoted Supercite style ("C> ..."), then ` +
		`"____" and a signature; Visible only knows ">" quotes (embedded_email_1.txt shows why: ` +
		`"Richard> ..." there is text to cut with its attribution, not a quote), so it keeps that tail`,
}

func TestVisibleReplyTrimmer(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(replyTrimmerDir, "emails", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no corpus files in %s", replyTrimmerDir)
	}
	sort.Strings(files)
	var agree, compared int
	var failed []string
	for _, f := range files {
		name := filepath.Base(f)
		in := readFile(t, f)
		want := readFile(t, filepath.Join(replyTrimmerDir, "trimmed", name))
		got := visibleText(in)
		if reason, ok := replyTrimmerExclusions[name]; ok {
			if own := replyTrimmerOwn[name](in); normalizeText(got) != normalizeText(own) {
				t.Errorf("%s (excluded: %s): got %q, want %q", name, reason, got, own)
			}
			if normalizeText(got) == normalizeText(want) {
				t.Errorf("%s is excluded but now agrees with the corpus: remove the exclusion", name)
			}
			continue
		}
		compared++
		if normalizeText(got) == normalizeText(want) {
			agree++
			if reason, ok := replyTrimmerKnown[name]; ok {
				t.Errorf("%s agrees with the corpus now, remove it from replyTrimmerKnown (%s)", name, reason)
			}
			continue
		}
		failed = append(failed, name)
		if _, ok := replyTrimmerKnown[name]; ok {
			continue
		}
		t.Errorf("%s: disagrees with the corpus\n--- got:\n%s\n--- want:\n%s", name, normalizeText(got), normalizeText(want))
	}
	report(t, "reply-trimmer", agree, compared, len(replyTrimmerExclusions), failed)
}

// report logs the agreement rate and fails below 90%.
func report(t *testing.T, corpus string, agree, compared, excluded int, failed []string) {
	t.Helper()
	rate := 100 * float64(agree) / float64(max(compared, 1))
	msg := fmt.Sprintf("quote corpus %s: %d/%d agree (%.1f%%), %d excluded; disagreeing: %v",
		corpus, agree, compared, rate, excluded, failed)
	t.Log(msg)
	if testing.Verbose() {
		fmt.Println(msg)
	}
	if rate < 90 {
		t.Errorf("agreement with %s is %.1f%%, below 90%%", corpus, rate)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// normalizeText trims trailing white space on each line and blank lines
// around the text, and makes line endings "\n".
func normalizeText(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\u00a0")
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n")
}

// FuzzVisible checks that Visible never panics, only ever returns lines of
// its input, keeps UTF-8 valid, and returns text whenever its input has some.
func FuzzVisible(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(replyTrimmerDir, "emails", "*.txt"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, s := range []string{"", "-- \n", "> a\nb\n> c", "2026. 11. 20. 오후 3:12, A <a@b.c> 작성:\n> x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := visibleText(in)
		norm := strings.ReplaceAll(strings.ReplaceAll(in, "\r\n", "\n"), "\r", "\n")
		lines := map[string]bool{}
		for _, l := range strings.Split(norm, "\n") {
			lines[l] = true
			lines[strings.TrimRightFunc(l, unicode.IsSpace)] = true
		}
		if got != "" {
			for _, l := range strings.Split(got, "\n") {
				if !lines[l] {
					t.Fatalf("line %q is not in the input %q", l, in)
				}
			}
		}
		if utf8.ValidString(in) && !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 out of valid input: %q", got)
		}
		if got == "" && hasVisible(norm) {
			t.Fatalf("Visible(%q) is empty", in)
		}
	})
}

// hasVisible reports whether s has a character that is not white space or
// invisible.
func hasVisible(s string) bool {
	return strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune("\u200b\u200c\u200d\ufeff\u2060\u00ad", r)
	}) != ""
}

// BenchmarkVisible measures Visible on long bodies, including lines built to
// pass the cheap checks of the attribution rules.
func BenchmarkVisible(b *testing.B) {
	inputs := []struct{ name, text string }{
		{"plain", strings.Repeat("안녕하세요. 평범한 문장이 계속 이어집니다. 주문번호 1234.\n", 20000)},
		{"candidates", strings.Repeat("2026 On 12 Le 3 <a@b.c> something 12:34 foo:\n", 20000)},
		{"interleaved", strings.Repeat("On 1 Jan 2020, X <x@y.z> wrote:\n> q\ntext\n", 10000)},
		{"headers", strings.Repeat("From: a\n", 20000)},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.text)))
			for b.Loop() {
				visibleText(in.text)
			}
		})
	}
}
