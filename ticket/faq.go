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
// (an inverted index of its terms) and is safe for concurrent use.
//
// Korean is written with particles glued to nouns, with spaces left out or
// put in, colloquially and with typos, so words are no unit to match on.
// A text is read as runs of Hangul, across the spaces in them, and runs of
// Latin letters and digits (a word each). A Hangul run gives:
//   - its syllable bigrams ("로그인이안돼요": 로그 그인 인이 이안 안돼 돼요);
//     a bigram across a space weighs 0.3 ("로그인이 안 돼요" meets the
//     same words without the space, but a pair of words is no word);
//   - the same bigrams blurred at half weight (a syllable's final
//     consonant dropped, ㅐ/ㅔ, ㅒ/ㅖ and ㅙ/ㅚ/ㅞ merged, a glide dropped:
//     "로그잉", "상활일" and "변겅" still meet 로그인, 상환일 and 변경);
//   - single syllables at a low weight.
//
// Bigrams of particles, endings and the words that ask ("있나요",
// "어떻게", "알려주세요", "궁금합니다") weigh 0.15: they say how a question
// is asked, not what about. Synonyms (비번 for 비밀번호, login for 로그인)
// add the FAQ's word to a text that holds the customer's. The subject's
// terms weigh 1.5: it names the topic (the caller leaves out a reply's
// subject, see FAQSubject).
//
// An entry's score (0 to 1) is, in weights of the terms' rarity among the
// entries (IDF): 0.4 × the share of its question the mail holds, which
// does not shrink when the question is buried in a long mail, plus 0.6 ×
// the share of the mail's terms (those any entry has) its question and
// answer hold, which tells apart entries whose questions the mail holds
// alike.
type FAQIndex struct {
	entries  []FAQEntry
	opt      FAQOptions
	synonyms []synonym
	// index holds, per term, its idf and the entries whose question or
	// answer has it.
	index    map[string]*termInfo
	qMass    []float64 // per entry: the weight·idf of its question's terms
	excerpts [][]string
	// novelIDF is the idf of a term no entry has.
	novelIDF float64
}

// novel reports whether a term no entry has is matter new to the FAQ: not
// a blurred form, nor a bigram whose blurred form an entry has (a typo of
// a known word is no new matter).
func (x *FAQIndex) novel(t string) bool {
	if strings.HasPrefix(t, "~") {
		return false
	}
	r := []rune(t)
	if len(r) == 2 && isHangulSyllable(r[0]) && isHangulSyllable(r[1]) {
		return x.index["~"+string([]rune{blur(r[0]), blur(r[1])})] == nil
	}
	return true
}

type synonym struct{ from, to string }

type termInfo struct {
	idf      float64
	postings []posting
}

// posting is an entry that has a term, with the term's weight·idf in its
// question (0: in the answer alone).
type posting struct {
	entry    int
	question float64
}

// Weights of the terms (see FAQIndex).
const (
	weightBigram  = 1.0
	weightBlurred = 0.5
	weightSyl     = 0.2
	weightWord    = 1.0

	// weightFunction scales a term made of function syllables only
	// (functionSyllable: "있나요", "어떻게", "알려주세요").
	weightFunction = 0.15
	// weightAcross scales a bigram across a space ("대출 상환" gives 출상):
	// it meets the same words written without the space, but a pair of
	// words is no word.
	weightAcross = 0.3
	// subjectWeight scales the subject's terms: it names the topic.
	subjectWeight = 1.5

	// shareQuestion is the question's part of an entry's score.
	shareQuestion = 0.4

	// weightNovel scales, in the share of the mail an entry holds, the
	// mail's terms no entry has (at the idf of a term in none): matter
	// the FAQ does not know ("주차" in a question about a branch) says the
	// FAQ may not answer the mail. It is small in the text, where greetings
	// and the customer's story are matter of that kind too, and large in
	// the subject, which names the topic in a few words.
	weightNovel        = 0.05
	weightNovelSubject = 0.5
)

// functionSyllable are the particles and endings that stand alone as a
// syllable ("을", "에", "요"), and functionBigram the pairs of syllables
// of particles, endings, auxiliaries and the words that ask ("있나요",
// "어떻게", "알려주세요", "궁금합니다", "문의드립니다"): terms that say how
// a question is asked, not what about, and weigh little. Words built of
// such syllables ("아이디", "수수료") are no pair here and keep their
// weight.
var functionSyllable = runeSet("은는을를이가의에도로와과만요다니까죠고며면데게서")

var functionBigram = func() map[string]bool {
	m := map[string]bool{}
	for _, b := range strings.Fields(`있나 없나 나요 하나 되나 까요 할까 될까 인가 가요 인지 는지 한지 은지
		했는 는데 데요 은데 해요 해서 어요 아요 세요 주세 해주 려주 알려 싶은 싶어 고싶 싶습
		습니 니다 합니 됩니 있습 없습 수있 할수 을수 수없 어떻 떻게 어디 디서 언제 무엇 엇인
		되는 하는 하면 되면 으면 에서 에게 으로 로는 까지 부터 이나 나는 는것 것이 이있 이안
		안되 안돼 돼요 되요 못하 궁금 금합 금해 문의 의드 드립 립니 드려 려요 하고 고요 여쭤
		해야 야하 야되 되나 나요 건가 는건 건지 할때 을때 인데 한데 ㅠㅠ 좀알 요좀 주시 시나
		시면 면좋 좋겠 겠습 겠어 있을 을까 있는 하려 려고 려는 는데 받을 을수 있어 어서 해도
		도되 되는 는지 나오 게되 게하 하게 했어 했습 이요 에요 예요 입니 인가 이에`) {
		m[b] = true
	}
	return m
}()

func runeSet(s string) map[rune]bool {
	m := map[rune]bool{}
	for _, r := range s {
		m[r] = true
	}
	return m
}

// NewFAQIndex indexes entries. An entry without id or question, or an id
// used twice, is an error naming it.
func NewFAQIndex(entries []FAQEntry, opt FAQOptions) (*FAQIndex, error) {
	if opt.Max < 1 {
		return nil, fmt.Errorf("faq: Max must be 1 or more, got %d", opt.Max)
	}
	x := &FAQIndex{entries: slices.Clone(entries), opt: opt}
	idf := map[string]float64{}
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
		for t := range x.terms(e.Question + "\n" + e.Answer) {
			df[t]++
		}
		x.excerpts = append(x.excerpts, Excerpt(e.Answer, 2, 60))
	}
	n := float64(len(entries))
	x.novelIDF = math.Log(1 + (n+0.5)/0.5)
	for t, d := range df {
		idf[t] = math.Log(1 + (n-float64(d)+0.5)/(float64(d)+0.5))
	}
	x.index = make(map[string]*termInfo, len(df))
	for t := range df {
		x.index[t] = &termInfo{idf: idf[t]}
	}
	for i, e := range entries {
		question := x.terms(e.Question)
		var mass float64
		for t, w := range question {
			mass += w * idf[t]
		}
		x.qMass = append(x.qMass, mass)
		for t := range x.terms(e.Question + "\n" + e.Answer) { // the question's terms among them
			ti := x.index[t]
			ti.postings = append(ti.postings, posting{entry: i, question: question[t] * ti.idf})
		}
	}
	return x, nil
}

// FAQSubject is the subject an FAQ reads of a mail with this subject and
// base subject (Mail.BaseSubject): none when it is a reply's or a
// forward's ("Re: 채무조정 서류 안내"), which names the earlier mail's
// topic, not this one's.
func FAQSubject(subject, base string) string {
	if base != "" && strings.TrimSpace(subject) != base {
		return ""
	}
	return subject
}

// Len is the number of entries.
func (x *FAQIndex) Len() int { return len(x.entries) }

// Suggest returns at most Max entries scoring MinScore or more, best
// first.
func (x *FAQIndex) Suggest(subject, text string) []Suggestion {
	var out []Suggestion
	for _, s := range x.scores(subject, text) {
		if s.Score < x.opt.MinScore {
			continue
		}
		// Keep the best Max, best first (Max is small: insertion).
		i := len(out)
		for i > 0 && out[i-1].Score < s.Score {
			i--
		}
		if i < x.opt.Max {
			out = slices.Insert(out, i, s)
			if len(out) > x.opt.Max {
				out = out[:x.opt.Max]
			}
		}
	}
	return out
}

// Score returns every entry that shares a term with the mail, best first,
// whatever its score (for an operator tuning MinScore).
func (x *FAQIndex) Score(subject, text string) []Suggestion {
	out := x.scores(subject, text)
	slices.SortStableFunc(out, func(a, b Suggestion) int { return cmp.Compare(b.Score, a.Score) })
	return out
}

// scores are the entries that share a term with the mail, in the FAQ's
// order.
func (x *FAQIndex) scores(subject, text string) []Suggestion {
	mail := x.terms(text)
	subj := x.terms(subject)
	for t, w := range subj {
		mail[t] = max(mail[t], w*subjectWeight)
	}
	var known float64                    // the mail's terms any entry has, weighted
	var novel float64                    // and those no entry has (weightNovel)
	q := make([]float64, len(x.entries)) // the question's weight the mail holds
	a := make([]float64, len(x.entries)) // the mail's weight the entry holds
	for t, w := range mail {
		ti := x.index[t]
		if ti == nil {
			if x.novel(t) {
				f := weightNovel
				if subj[t] > 0 {
					f = weightNovelSubject
				}
				novel += f * w * x.novelIDF
			}
			continue // a word no entry has
		}
		v := w * ti.idf
		known += v
		for _, p := range ti.postings {
			q[p.entry] += p.question
			a[p.entry] += v
		}
	}
	var out []Suggestion
	for i, e := range x.entries {
		if q[i] == 0 && a[i] == 0 {
			continue
		}
		var qs, as float64
		if x.qMass[i] > 0 {
			qs = q[i] / x.qMass[i]
		}
		if known > 0 {
			as = a[i] / (known + novel)
		}
		score := shareQuestion*qs + (1-shareQuestion)*as
		out = append(out, Suggestion{ID: e.ID, Question: e.Question, URL: e.URL,
			Score: math.Round(score*1000) / 1000, Excerpt: x.excerpts[i]})
	}
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
	var gap []bool // gap[i]: a space stood before run[i]
	space := false
	flush := func() {
		for i, r := range run {
			f := 1.0
			if functionSyllable[r] {
				f = weightFunction
			}
			add(string(r), weightSyl*f)
			if i > 0 {
				b := string(run[i-1 : i+1])
				f = 1
				if functionBigram[b] {
					f = weightFunction
				}
				if gap[i] {
					f *= weightAcross
				}
				add(b, weightBigram*f)
				add("~"+string([]rune{blur(run[i-1]), blur(r)}), weightBlurred*f)
			}
		}
		run, gap = run[:0], gap[:0]
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
			run, gap = append(run, r), append(gap, space && len(run) > 0)
			space = false
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			flush()
			space = false
			word.WriteRune(r)
		case r == ' ' || r == '\t':
			endWord() // a Hangul run goes on across spaces
			space = true
		default:
			endWord()
			flush()
			space = false
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
	case 2, 6, 12, 17: // ㅑ ㅕ ㅛ ㅠ: the glide dropped (변겅 for 변경)
		v = map[int]int{2: 0, 6: 4, 12: 8, 17: 13}[v]
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
	"에러": "오류", "error": "오류", "먹통": "오류", "튕": "오류",
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
