package ticket_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ticketd/ticketd/mailbox/quote"
	"github.com/ticketd/ticketd/mailbox/rfc822"
	"github.com/ticketd/ticketd/ticket"
)

// faqDefaultMinScore is faq.min_score's default (the config's table of
// defaults holds it; this test states the figures at it).
const faqDefaultMinScore = 0.23

type inquiry struct {
	Expect  string `yaml:"expect"`
	Subject string `yaml:"subject"`
	Body    string `yaml:"body"`
}

// faqSets are the test sets: faqdev, on which the matcher was developed,
// and faq, written apart from it (by another hand, not looked at while
// the matcher was tuned).
var faqSets = []string{"faqdev", "faq"}

func loadFAQTestSet(t testing.TB, set string) ([]ticket.FAQEntry, []inquiry) {
	t.Helper()
	var entries []ticket.FAQEntry
	var inq []inquiry
	for name, v := range map[string]any{"faq.yaml": &entries, "inquiries.yaml": &inq} {
		data, err := os.ReadFile(filepath.Join("testdata", set, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return entries, inq
}

// faqTargets are least percentages of top-1, top-3 and no-suggestion
// precision.
type faqTargets struct{ top1, top3, noneRight int }

// faqFigures are the measures of suggestions on a set of inquiries.
type faqFigures struct {
	answerable, unanswerable int
	top1, top3               int // answerable inquiries whose entry is first / among the suggestions
	wrongOnly                int // answerable inquiries offered only wrong entries
	none, noneRight          int // inquiries offered nothing / of them, those no entry answers
	offeredUnanswerable      int // unanswerable inquiries offered something
}

func (f faqFigures) String() string {
	pct := func(a, b int) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f%% (%d/%d)", 100*float64(a)/float64(b), a, b)
	}
	return fmt.Sprintf("top-1 accuracy %s, top-3 recall %s, no-suggestion precision %s, unanswered left alone %s, answerable offered only wrong entries %s",
		pct(f.top1, f.answerable), pct(f.top3, f.answerable), pct(f.noneRight, f.none),
		pct(f.unanswerable-f.offeredUnanswerable, f.unanswerable), pct(f.wrongOnly, f.answerable))
}

func measureFAQ(t testing.TB, x *ticket.FAQIndex, inq []inquiry, miss func(inquiry, []ticket.Suggestion)) faqFigures {
	var f faqFigures
	for _, q := range inq {
		base, _ := rfc822.BaseSubject(q.Subject)
		got := x.Suggest(ticket.FAQSubject(q.Subject, base), quote.Visible(q.Body, "", false))
		ids := make([]string, len(got))
		for i, s := range got {
			ids[i] = s.ID
		}
		if len(got) == 0 {
			f.none++
		}
		if q.Expect == "" {
			f.unanswerable++
			if len(got) == 0 {
				f.noneRight++
			} else {
				f.offeredUnanswerable++
				if miss != nil {
					miss(q, got)
				}
			}
			continue
		}
		f.answerable++
		switch {
		case len(ids) > 0 && ids[0] == q.Expect:
			f.top1++
			f.top3++
		case slices.Contains(ids, q.Expect):
			f.top3++
			if miss != nil {
				miss(q, got)
			}
		default:
			if len(ids) > 0 {
				f.wrongOnly++
			}
			if miss != nil {
				miss(q, got)
			}
		}
	}
	return f
}

// TestFAQSuggestionQuality measures the suggestions on the project's own
// set (ticket/testdata/faq: a 서민금융-style FAQ and inquiries written as
// customers write, with the entry that answers each, or none) at
// faq.min_score's default and prints the figures, and whether they reach
// the targets (top-1 80%, top-3 90%, no-suggestion precision 90%); it
// fails below them on faqdev, and below this commit's figures on faq. It
// also prints the figures at other thresholds, for operators tuning
// min_score.
func TestFAQSuggestionQuality(t *testing.T) {
	for _, set := range faqSets {
		t.Run(set, func(t *testing.T) { testFAQQuality(t, set) })
	}
}

func testFAQQuality(t *testing.T, set string) {
	entries, inq := loadFAQTestSet(t, set)
	known := map[string]bool{}
	for _, e := range entries {
		known[e.ID] = true
	}
	for i, q := range inq {
		if q.Expect != "" && !known[q.Expect] {
			t.Fatalf("inquiry %d expects %q, which is no entry", i+1, q.Expect)
		}
	}
	x, err := ticket.NewFAQIndex(entries, ticket.FAQOptions{Max: 3, MinScore: faqDefaultMinScore})
	if err != nil {
		t.Fatal(err)
	}
	f := measureFAQ(t, x, inq, func(q inquiry, got []ticket.Suggestion) {
		var s []string
		for _, g := range got {
			s = append(s, fmt.Sprintf("%s %.3f", g.ID, g.Score))
		}
		t.Logf("miss: want %q, got [%s]: %s / %.60q", q.Expect, strings.Join(s, ", "), q.Subject, q.Body)
	})
	t.Logf("FAQ of %d entries, %d inquiries (%d answered by an entry, %d by none), min_score %.2f:\n\t%v",
		len(entries), len(inq), f.answerable, f.unanswerable, faqDefaultMinScore, f)
	for _, ms := range []float64{0.15, 0.175, 0.2, 0.23, 0.25, 0.275, 0.3, 0.325, 0.35, 0.4} {
		y, _ := ticket.NewFAQIndex(entries, ticket.FAQOptions{Max: 3, MinScore: ms})
		t.Logf("at min_score %.2f: %v", ms, measureFAQ(t, y, inq, nil))
	}
	if f.answerable < 44 || f.unanswerable < 15 || len(entries) < 30 {
		t.Fatalf("the set is too small: %d entries, %d answerable, %d unanswerable", len(entries), f.answerable, f.unanswerable)
	}
	target := faqTargets{80, 90, 90}
	if 100*f.top1 < target.top1*f.answerable || 100*f.top3 < target.top3*f.answerable || 100*f.noneRight < target.noneRight*f.none {
		t.Logf("BELOW THE TARGETS (top-1 %d%%, top-3 %d%%, no-suggestion precision %d%%) on %s", target.top1, target.top3, target.noneRight, set)
	}
	// The targets hold on faqdev; on faq, the set written apart, the
	// figures at this commit are the floor (README, "FAQ suggestions"):
	// a change that does worse fails here.
	floor := map[string]faqTargets{"faqdev": target, "faq": {80, 90, 75}}[set]
	if 100*f.top1 < floor.top1*f.answerable || 100*f.top3 < floor.top3*f.answerable || 100*f.noneRight < floor.noneRight*f.none {
		t.Errorf("%s: below the floor (top-1 %d%%, top-3 %d%%, no-suggestion precision %d%%): %v", set, floor.top1, floor.top3, floor.noneRight, f)
	}
}

// TestFAQMatchesKoreanAsWritten: each way customers write a question
// still finds its entry first (these are general forms, not the set's).
func TestFAQMatchesKoreanAsWritten(t *testing.T) {
	for _, set := range faqSets {
		t.Run(set, func(t *testing.T) { testFAQAsWritten(t, set) })
	}
}

func testFAQAsWritten(t *testing.T, set string) {
	entries, _ := loadFAQTestSet(t, set)
	x, err := ticket.NewFAQIndex(entries, ticket.FAQOptions{Max: 3, MinScore: 0})
	if err != nil {
		t.Fatal(err)
	}
	best := func(subject, text string) string {
		got := x.Score(subject, text)
		if len(got) == 0 {
			return ""
		}
		return got[0].ID
	}
	// Each entry's own question, rewritten: with its spaces taken out,
	// with every space doubled into two words glued, and under a long
	// unrelated preamble, still finds the entry first.
	preamble := "안녕하세요. 저는 지방에 사는 자영업자입니다. 요즘 장사가 너무 안 되어서 여러 가지로 힘든 상황입니다. 가족들도 걱정이 많고요. 그래서 이렇게 메일을 드립니다. "
	misses := 0
	for _, e := range entries {
		q := e.Question
		for what, text := range map[string]string{
			"without spaces":      strings.ReplaceAll(q, " ", ""),
			"under a preamble":    preamble + q,
			"in the subject only": "",
		} {
			subject := "문의"
			if what == "in the subject only" {
				subject = q
			}
			if got := best(subject, text); got != e.ID {
				misses++
				t.Logf("%s %s: best %s", e.ID, what, got)
			}
		}
	}
	if misses*20 > len(entries)*3 { // at most 1 in 20
		t.Errorf("%d of %d rewritten questions do not find their entry first", misses, len(entries)*3)
	}
}

// BenchmarkFAQSuggest matches one mail of about 1 KB against an FAQ of
// about 320 entries (the set's entries, ten times over).
func BenchmarkFAQSuggest(b *testing.B) {
	entries, inq := loadFAQTestSet(b, "faq")
	var many []ticket.FAQEntry
	for i := range 10 {
		for _, e := range entries {
			e.ID = fmt.Sprintf("%s-%d", e.ID, i)
			e.Question = fmt.Sprintf("%s (%d)", e.Question, i)
			many = append(many, e)
		}
	}
	x, err := ticket.NewFAQIndex(many, ticket.FAQOptions{Max: 3, MinScore: faqDefaultMinScore})
	if err != nil {
		b.Fatal(err)
	}
	var text string
	for _, q := range inq {
		if len(text) < 1024 {
			text += q.Body
		}
	}
	b.ReportMetric(float64(len(many)), "entries")
	b.ReportMetric(float64(len(text)), "mail-bytes")
	b.ResetTimer()
	for range b.N {
		x.Suggest("문의드립니다", text)
	}
}
