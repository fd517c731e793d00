package ticket_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ticketd/ticketd/ticket"
)

// FuzzFAQ: any FAQ and any mail give scores between 0 and 1, best first,
// at most Max suggestions at MinScore or more, and excerpts of at most two
// lines; nothing panics.
func FuzzFAQ(f *testing.F) {
	f.Add("비밀번호를 잊어버렸어요", "로그인 화면에서 재설정하세요.", "비번", "비번 초기화 어떻게 해요?")
	f.Add("대출 상환일(납입일)을 변경할 수 있나요?", "상환일은 1회 변경할 수 있습니다.\n앱에서 신청하세요.", "", "상활일변경하고싶은데요 app login error")
	f.Add("", "", "", "")
	f.Add("\u1112\u1162\u11ba 뷁 ㄱㄴ", strings.Repeat("가 ", 200), "\xff", "\xed\xa0\x80 OTP가")
	f.Fuzz(func(t *testing.T, question, answer, subject, text string) {
		x, err := ticket.NewFAQIndex([]ticket.FAQEntry{
			{ID: "a", Question: question, Answer: answer},
			{ID: "b", Question: "상담 운영시간은 어떻게 되나요?", Answer: "평일 09:00-18:00입니다."},
		}, ticket.FAQOptions{Max: 2, MinScore: 0.1})
		if err != nil {
			if strings.TrimSpace(question) != "" {
				t.Fatalf("index: %v", err)
			}
			return
		}
		all := x.Score(subject, text)
		for i, s := range all {
			if s.Score < 0 || s.Score > 1.0005 || (i > 0 && s.Score > all[i-1].Score) {
				t.Fatalf("scores %+v", all)
			}
			if len(s.Excerpt) > 2 {
				t.Fatalf("excerpt of %d lines", len(s.Excerpt))
			}
			for _, l := range s.Excerpt {
				if utf8.RuneCountInString(l) > 62 {
					t.Fatalf("excerpt line of %d runes: %q", utf8.RuneCountInString(l), l)
				}
			}
		}
		got := x.Suggest(subject, text)
		if len(got) > 2 {
			t.Fatalf("%d suggestions, Max 2", len(got))
		}
		for _, s := range got {
			if s.Score < 0.1 {
				t.Fatalf("suggested below MinScore: %+v", s)
			}
		}
	})
}

func TestExcerpt(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"한 줄입니다.", []string{"한 줄입니다."}},
		{"첫째 줄.\n\n둘째 줄.\n셋째 줄.", []string{"첫째 줄. 둘째 줄. 셋째 줄."}},
		{strings.Repeat("가나다 ", 30), []string{strings.TrimSpace(strings.Repeat("가나다 ", 15)), strings.TrimSpace(strings.Repeat("가나다 ", 15))}},
		{strings.Repeat("가나다 ", 31), []string{strings.TrimSpace(strings.Repeat("가나다 ", 15)), strings.TrimSpace(strings.Repeat("가나다 ", 15)) + " …"}},
		{strings.Repeat("가", 100), []string{strings.Repeat("가", 59) + "…"}},
		{"", nil},
	} {
		got := ticket.Excerpt(tc.text, 2, 60)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("Excerpt(%.20q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}
