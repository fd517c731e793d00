package ticket

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Search finds tickets by words of their subjects, requesters, attachment
// names and the visible text of their messages, with personal data
// masked (MaskPersonalData): the index never holds it in clear.
//
// Korean is written with particles glued on (대출신청이, 앱에서) and
// with or without spaces (로그인 안돼요, 로그인안돼요), so the index keeps
// every Hangul syllable and every pair of neighbouring syllables, across
// spaces too, and a query is those of its own words: a word of two or more
// syllables is found by its pairs, inside any longer word; one syllable by
// itself. Latin letters and digits are whole words, folded to lower case.
//
// A ticket matches when it holds SearchCoverage of the query's terms
// (pairs across a space of the query count half, pairs of particles and
// endings less): all of a short query
// but a pair lost to a space or a particle (로그인안돼요 finds 로그인이
// 안돼요), most of a long one. Tickets holding all of
// the query come first, newest first; then the others by their share of
// it.

// ErrSearchIndex is a store's error when its search index is not built
// (or is of another encryption key): `ticketd reindex` builds it.
var ErrSearchIndex = errors.New("the search index is not built: run `ticketd reindex`")

// ErrSearchQuery is Search's error for a query without a word to look
// for ("?!").
var ErrSearchQuery = errors.New("the query has no word to look for")

// SearchIndex is what a store gives Search: the postings of a term and the
// number of tickets indexed.
type SearchIndex interface {
	// Postings calls fn with every ticket whose terms include term, and
	// how often it has it. An error from fn stops it and is returned.
	Postings(term string, fn func(ticketID uint64, n uint32) error) error
	// IndexedTickets is the number of tickets with terms in the index.
	IndexedTickets() (int, error)
}

// SearchFilter narrows a search. Zero values match everything.
type SearchFilter struct {
	Status Status
	// From is the earliest last activity (UpdatedAt) of a ticket found.
	From time.Time
	// Limit is the most hits returned (0: 50).
	Limit int
}

// SearchHit is a ticket found, with the share of the query it holds (0..1).
type SearchHit struct {
	Ticket   Ticket  `json:"ticket"`
	Coverage float64 `json:"coverage"`
}

// SearchCoverage is the least share of a query's weight a ticket must hold
// to be found.
const SearchCoverage = 0.7

// weightFunctionQuery is the weight of a query's pair of syllables of
// particles and endings (functionBigram: 싶어, 어요, 하고): the text may
// say it otherwise.
const weightFunctionQuery = 0.3

// searchAcross is the weight of a query's pair of syllables across a
// space: the text may have a particle or nothing there.
const searchAcross = 0.5

// SearchTerms are the terms the index keeps of a ticket and its messages,
// with their counts.
func SearchTerms(t Ticket, msgs []Message) map[string]uint32 {
	out := map[string]uint32{}
	add := func(s string) {
		eachSearchTerm(foldText(MaskPersonalData(s)), func(term string, _ bool) { out[term]++ })
	}
	add(t.Subject)
	add(t.Requester.Name + " " + t.Requester.Email)
	for _, p := range t.Participants {
		add(p.Name + " " + p.Email)
	}
	for _, m := range msgs {
		text := m.Visible
		if text == "" {
			text = m.Body
		}
		add(text)
		for _, a := range m.Attachments {
			add(a.Filename)
		}
	}
	return out
}

type searchTerm struct {
	term   string
	weight float64
}

// searchQuery is the terms of a query, each once, at their weight.
func searchQuery(q string) []searchTerm {
	w := map[string]float64{}
	text := foldText(q)
	// A word of one syllable is found by itself; the syllables of longer
	// words only by their pairs.
	single := map[string]bool{}
	for _, word := range strings.FieldsFunc(text, func(r rune) bool { return !isHangulSyllable(r) }) {
		if utf8.RuneCountInString(word) == 1 {
			single[word] = true
		}
	}
	eachSearchTerm(text, func(term string, across bool) {
		weight := 1.0
		if utf8.RuneCountInString(term) == 1 && !single[term] {
			return
		}
		if functionBigram[term] {
			weight = weightFunctionQuery
		}
		if across {
			weight *= searchAcross
		}
		w[term] = max(w[term], weight)
	})
	out := make([]searchTerm, 0, len(w))
	for t, weight := range w {
		out = append(out, searchTerm{t, weight})
	}
	slices.SortFunc(out, func(a, b searchTerm) int { return cmp.Compare(a.term, b.term) })
	return out
}

// eachSearchTerm calls fn with every term of the folded text: each Hangul
// syllable, each pair of neighbouring syllables (across is set for a pair
// with a space between), and each run of Latin letters or digits (as
// "w:" and the run).
func eachSearchTerm(text string, fn func(term string, across bool)) {
	var prev rune // the Hangul syllable before, 0 after anything else
	space := false
	var word strings.Builder
	endWord := func() {
		if word.Len() > 0 {
			fn("w:"+word.String(), false)
			word.Reset()
		}
	}
	for _, r := range text {
		switch {
		case isHangulSyllable(r):
			endWord()
			fn(string(r), false)
			if prev != 0 {
				fn(string([]rune{prev, r}), space)
			}
			prev, space = r, false
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			prev, space = 0, false
			word.WriteRune(r)
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			endWord()
			space = prev != 0
		default:
			endWord()
			prev, space = 0, false
		}
	}
	endWord()
}

// Search returns the tickets the query finds, best and newest first (see
// the package's search notes). A query without a term is an error.
func Search(tx ReadTx, query string, f SearchFilter) ([]SearchHit, error) {
	terms := searchQuery(query)
	if len(terms) == 0 {
		return nil, fmt.Errorf("search %q: %w", query, ErrSearchQuery)
	}
	held := map[uint64]float64{} // ticket: the query's weight it holds
	var total float64
	var ids []uint64
	for _, st := range terms {
		total += st.weight
		if err := tx.Postings(st.term, func(id uint64, _ uint32) error {
			if _, ok := held[id]; !ok {
				ids = append(ids, id)
			}
			held[id] += st.weight
			return nil
		}); err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
	}
	if total == 0 {
		return nil, nil
	}
	type cand struct {
		id       uint64
		coverage float64
	}
	var cands []cand
	for _, id := range ids {
		if c := held[id] / total; c >= SearchCoverage-1e-9 {
			cands = append(cands, cand{id, min(1, c)})
		}
	}
	// Whole matches first, then by share; newest (the higher number)
	// first among equals.
	slices.SortFunc(cands, func(a, b cand) int {
		fa, fb := a.coverage > 1-1e-9, b.coverage > 1-1e-9
		switch {
		case fa != fb:
			if fa {
				return -1
			}
			return 1
		case !fa && math.Abs(a.coverage-b.coverage) > 1e-9:
			return cmp.Compare(b.coverage, a.coverage)
		}
		return cmp.Compare(b.id, a.id)
	})
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	var out []SearchHit
	for _, c := range cands {
		t, err := tx.Ticket(c.id)
		if errors.Is(err, ErrNotFound) {
			continue // merged away or removed since it was indexed
		}
		if err != nil {
			return nil, fmt.Errorf("search: ticket %d: %w", c.id, err)
		}
		if (f.Status != "" && t.Status != f.Status) || (!f.From.IsZero() && t.UpdatedAt.Before(f.From)) {
			continue
		}
		out = append(out, SearchHit{Ticket: t, Coverage: math.Round(c.coverage*1000) / 1000})
		if len(out) == limit {
			break
		}
	}
	return out, nil
}
