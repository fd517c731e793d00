package ticket

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FAQ suggests the entries of the center's FAQ that answer a mail, best
// first, none when nothing answers it well enough (a wrong suggestion is
// worse than none).
type FAQ interface {
	Suggest(subject, text string) []Suggestion
}

// FAQEntry is one entry of the center's FAQ.
type FAQEntry struct {
	ID       string `yaml:"id" json:"id"`
	Question string `yaml:"question" json:"question"`
	Answer   string `yaml:"answer" json:"answer"`
	URL      string `yaml:"url" json:"url"`
}

// Suggestion is an FAQ entry offered for a mail, with its score (0 to 1)
// and the two lines of its answer the acknowledgement shows.
type Suggestion struct {
	ID       string   `json:"id"`
	Question string   `json:"question"`
	URL      string   `json:"url,omitempty"`
	Score    float64  `json:"score"`
	Excerpt  []string `json:"excerpt,omitempty"`
}

// FAQOptions shape the suggestions of a [FAQIndex].
type FAQOptions struct {
	// Max is how many entries are suggested at most (1 or more).
	Max int
	// MinScore is the least score of an entry that is suggested.
	MinScore float64
	// Synonyms map words as customers write them to the FAQ's words
	// ("비번" to "비밀번호"): a text holding one also holds the other.
	// They add to the built-in ones (CommonSynonyms).
	Synonyms map[string]string
}

// FAQIndex matches mails against FAQ entries. It is built once per FAQ
// and is safe for concurrent use.
//
// Korean is written with particles glued to nouns, with spaces left out or
// put in, colloquially and with typos, so words are no unit to match on.
// A text is read as runs of Hangul with the spaces inside them dropped,
// and runs of Latin letters and digits. Each Hangul run gives its syllable
// bigrams ("로그인이안돼요": 로그 그인 인이 이안 안돼 돼요, the same with or
// without spaces), the same bigrams with each syllable blurred (its final
// consonant dropped, ㅐ read as ㅔ, ㅚ and ㅙ as ㅞ: "로그잉" and "상활일"
// still meet 로그인 and 상환일), and single syllables at a low weight; a
// Latin run is a word. Synonyms (비번 for 비밀번호, login for 로그인) add
// the FAQ's word to a text that holds the customer's.
//
// An entry's score is, in weights of the terms' rarity among the entries
// (IDF): what share of its question the mail holds (0.65), plus what share
// of the mail's terms that any entry knows its answer and question hold
// (0.35). The first does not shrink when the question is buried in a long
// mail; the second tells entries apart whose questions the mail holds
// equally.
type FAQIndex struct {
	entries  []FAQEntry
	opt      FAQOptions
	synonyms []synonym
	idf      map[string]float64
	question []map[string]float64 // per entry: term → weight·idf
	qMass    []float64
	whole    []map[string]bool // per entry: the terms of question and answer
	excerpts [][]string
}

type synonym struct{ from, to string }

// Weights of the terms (see FAQIndex).
const (
	weightBigram  = 1.0
	weightBlurred = 0.5
	weightSyl     = 0.2
	weightWord    = 1.0

	shareQuestion = 0.65
)

// NewFAQIndex indexes entries. An entry without id or question, or an id
// used twice, is an error naming it.
func NewFAQIndex(entries []FAQEntry, opt FAQOptions) (*FAQIndex, error) {
	if opt.Max < 1 {
		return nil, fmt.Errorf("faq: Max must be 1 or more, got %d", opt.Max)
	}
	x := &FAQIndex{entries: slices.Clone(entries), opt: opt, idf: map[string]float64{}}
	for from, to := range CommonSynonyms {
		x.synonyms = append(x.synonyms, synonym{foldText(from), foldText(to)})
	}
	for from, to := range opt.Synonyms {
		x.synonyms = append(x.synonyms, synonym{foldText(from), foldText(to)})
	}
	slices.SortFunc(x.synonyms, func(a, b synonym) int { return cmp.Compare(a.from, b.from) })
	seen := map[string]bool{}
	df := map[string]int{}
	for i, e := range entries {
		switch {
		case strings.TrimSpace(e.ID) == "":
			return nil, fmt.Errorf("faq: entry %d has no id", i+1)
		case strings.TrimSpace(e.Question) == "":
			return nil, fmt.Errorf("faq: entry %s has no question", e.ID)
		case seen[e.ID]:
			return nil, fmt.Errorf("faq: the id %s is used twice", e.ID)
		}
		seen[e.ID] = true
		whole := x.terms(e.Question + "\n" + e.Answer)
		set := map[string]bool{}
		for t := range whole {
			set[t] = true
			df[t]++
		}
		x.whole = append(x.whole, set)
		x.excerpts = append(x.excerpts, Excerpt(e.Answer, 2, 60))
	}
	n := float64(len(entries))
	for t, d := range df {
		x.idf[t] = math.Log(1 + (n-float64(d)+0.5)/(float64(d)+0.5))
	}
	for _, e := range entries {
		q := map[string]float64{}
		var mass float64
		for t, w := range x.terms(e.Question) {
			q[t] = w * x.idf[t]
			mass += q[t]
		}
		x.question = append(x.question, q)
		x.qMass = append(x.qMass, mass)
	}
	return x, nil
}

// Len is the number of entries.
func (x *FAQIndex) Len() int { return len(x.entries) }

// Suggest returns at most Max entries scoring MinScore or more, best
// first.
func (x *FAQIndex) Suggest(subject, text string) []Suggestion {
	var out []Suggestion
	for _, s := range x.Score(subject, text) {
		if len(out) == x.opt.Max || s.Score < x.opt.MinScore {
			break
		}
		out = append(out, s)
	}
	return out
}

// Score returns every entry that shares a term with the mail, best first,
// whatever its score (for an operator tuning MinScore).
func (x *FAQIndex) Score(subject, text string) []Suggestion {
	mail := x.terms(subject + "\n" + text)
	var known float64 // the mail's terms any entry has, weighted
	for t, w := range mail {
		known += w * x.idf[t]
	}
	var out []Suggestion
	for i, e := range x.entries {
		var q, a float64
		for t, v := range x.question[i] {
			if _, ok := mail[t]; ok {
				q += v
			}
		}
		for t, w := range mail {
			if x.whole[i][t] {
				a += w * x.idf[t]
			}
		}
		if q == 0 && a == 0 {
			continue
		}
		score := 0.0
		if x.qMass[i] > 0 {
			score += shareQuestion * q / x.qMass[i]
		}
		if known > 0 {
			score += (1 - shareQuestion) * a / known
		}
		out = append(out, Suggestion{ID: e.ID, Question: e.Question, URL: e.URL,
			Score: math.Round(score*1000) / 1000, Excerpt: x.excerpts[i]})
	}
	slices.SortStableFunc(out, func(a, b Suggestion) int { return cmp.Compare(b.Score, a.Score) })
	return out
}

// terms are the weighted terms of a text (see FAQIndex): each term once,
// at its weight.
func (x *FAQIndex) terms(text string) map[string]float64 {
	text = foldText(text)
	out := map[string]float64{}
	addTerms(out, text)
	var extra []string
	for _, s := range x.synonyms {
		var has bool
		if r, _ := utf8.DecodeRuneInString(s.from); r < utf8.RuneSelf {
			_, has = out["w:"+s.from] // a Latin word is a whole word
		} else {
			has = strings.Contains(text, s.from)
		}
		if has {
			extra = append(extra, s.to)
		}
	}
	addTerms(out, strings.Join(extra, "\n"))
	return out
}

// addTerms adds the terms of the folded text to out.
func addTerms(out map[string]float64, text string) {
	add := func(t string, w float64) {
		if out[t] < w {
			out[t] = w
		}
	}
	var run []rune // the Hangul run being read
	flush := func() {
		for i, r := range run {
			add(string(r), weightSyl)
			if i > 0 {
				add(string(run[i-1:i+1]), weightBigram)
				add("~"+string([]rune{blur(run[i-1]), blur(r)}), weightBlurred)
			}
		}
		run = run[:0]
	}
	var word strings.Builder
	endWord := func() {
		if word.Len() > 0 {
			w := word.String()
			if len(w) > 3 && strings.HasSuffix(w, "s") {
				w = w[:len(w)-1] // "documents": a plural is the word
			}
			add("w:"+w, weightWord)
			word.Reset()
		}
	}
	for _, r := range text {
		switch {
		case isHangulSyllable(r):
			endWord()
			run = append(run, r)
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			flush()
			word.WriteRune(r)
		case r == ' ' || r == '\t':
			endWord() // spaces inside a Hangul run are dropped
		default:
			endWord()
			flush()
		}
	}
	endWord()
	flush()
}

func isHangulSyllable(r rune) bool { return r >= 0xAC00 && r <= 0xD7A3 }

// blur is a Hangul syllable with its final consonant dropped and the
// vowels people confuse merged (ㅐ/ㅔ, ㅒ/ㅖ, ㅙ/ㅚ/ㅞ).
func blur(r rune) rune {
	if !isHangulSyllable(r) {
		return r
	}
	n := int(r - 0xAC00)
	l, v := n/(21*28), (n/28)%21
	switch v {
	case 1: // ㅐ
		v = 5 // ㅔ
	case 3: // ㅒ
		v = 7 // ㅖ
	case 10, 11: // ㅙ ㅚ
		v = 15 // ㅞ
	}
	return rune(0xAC00 + (l*21+v)*28)
}

// Excerpt is the first lines of text (at most lines, each at most width
// runes): a long line is cut at a space, with "…" where the text goes on.
func Excerpt(text string, lines, width int) []string {
	var words []string
	for _, l := range strings.Split(text, "\n") {
		words = append(words, strings.Fields(l)...)
	}
	var out []string
	var cur []rune
	for _, w := range words {
		r := []rune(w)
		if len(cur) > 0 && len(cur)+1+len(r) > width {
			out = append(out, string(cur))
			cur = nil
			if len(out) == lines {
				out[lines-1] += " …"
				return out
			}
		}
		if len(cur) > 0 {
			cur = append(cur, ' ')
		}
		if len(r) > width {
			r = append(r[:width-1], '…')
		}
		cur = append(cur, r...)
	}
	if len(cur) > 0 {
		out = append(out, string(cur))
	}
	return out
}

// CommonSynonyms are words Korean customers write for the words an FAQ
// uses: abbreviations, colloquial and English forms. An FAQIndex reads a
// text holding the first as holding the second too.
var CommonSynonyms = map[string]string{
	"비번": "비밀번호", "패스워드": "비밀번호", "password": "비밀번호", "pw": "비밀번호", "암호": "비밀번호",
	"아뒤": "아이디", "id": "아이디",
	"로긴": "로그인", "login": "로그인", "접속": "로그인",
	"어플": "앱", "어플리케이션": "앱", "애플리케이션": "앱", "app": "앱",
	"폰": "휴대폰", "핸드폰": "휴대폰", "휴대전화": "휴대폰", "스마트폰": "휴대폰", "phone": "휴대폰",
	"문자": "인증번호", "sms": "인증번호", "otp": "인증번호",
	"공인인증서": "공동인증서", "인증서": "공동인증서",
	"본인확인": "본인인증", "실명인증": "본인인증",
	"에러": "오류", "error": "오류", "먹통": "오류", "튕": "오류", "안돼": "오류", "안되": "오류", "안됨": "오류",
	"갚": "상환", "납부": "상환", "납입": "상환", "미납": "연체", "밀리": "연체", "밀렸": "연체",
	"빌리": "대출", "빌려": "대출", "loan": "대출",
	"콜센터": "고객센터", "상담원": "상담", "상담사": "상담", "call": "고객센터",
	"문서": "서류", "document": "서류", "upload": "업로드", "올리": "업로드", "첨부": "업로드",
	"pdf": "파일", "사진": "파일", "스캔": "파일", "fax": "팩스",
	"개인회생": "채무조정", "워크아웃": "채무조정", "빚": "채무",
	"이자": "금리", "이율": "금리", "rate": "금리",
	"자격": "조건", "대상": "조건",
	"바꾸": "변경", "바꿔": "변경", "수정": "변경", "change": "변경",
	"떼": "발급", "뽑": "발급",
	"주소지": "주소", "이사": "주소", "탈퇴": "해지", "연락처": "전화번호", "번호바": "전화번호",
	"업뎃": "업데이트", "update": "업데이트",
}
