package ticket

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kinds of personal data the detector finds.
const (
	PersonalRRN      = "rrn"            // 주민등록번호, 외국인등록번호
	PersonalCard     = "card"           // a payment card number
	PersonalAccount  = "account"        // a bank account number (with a context word)
	PersonalPhone    = "phone"          // a mobile or landline number
	PersonalPassport = "passport"       // a passport number (with a context word)
	PersonalLicence  = "driver_licence" // a driver's licence number (with a context word)
)

// Finding is one piece of personal data in a text: its kind and where it
// is, as byte offsets into the text (never the value). Field names the
// text of a message it is in ("subject" or "body").
type Finding struct {
	Kind  string `json:"kind"`
	Field string `json:"field,omitempty"`
	Start int    `json:"start"`
	End   int    `json:"end"`
}

// findInMessage records the personal data of m's subject and body.
func findInMessage(m *Message) {
	m.PersonalData = nil
	for _, f := range FindPersonalData(m.Subject) {
		f.Field = "subject"
		m.PersonalData = append(m.PersonalData, f)
	}
	for _, f := range FindPersonalData(m.Body) {
		f.Field = "body"
		m.PersonalData = append(m.PersonalData, f)
	}
}

// PersonalCount is how many findings of a kind a message holds.
type PersonalCount struct {
	Kind  string `json:"kind"`
	Count int    `json:"count"`
}

// holdsRRN reports whether text holds a resident registration number.
func holdsRRN(text string) bool {
	for _, f := range FindPersonalData(text) {
		if f.Kind == PersonalRRN {
			return true
		}
	}
	return false
}

// hasCommand reports whether cmds hold the command name.
func hasCommand(cmds []Command, name string) bool {
	for _, c := range cmds {
		if c.Name == name {
			return true
		}
	}
	return false
}

// CountPersonal sums findings by kind, in the order of the kinds above.
func CountPersonal(fs []Finding) []PersonalCount {
	var out []PersonalCount
	for _, k := range []string{PersonalRRN, PersonalCard, PersonalAccount, PersonalPhone, PersonalPassport, PersonalLicence} {
		n := 0
		for _, f := range fs {
			if f.Kind == k {
				n++
			}
		}
		if n > 0 {
			out = append(out, PersonalCount{Kind: k, Count: n})
		}
	}
	return out
}

// group is a run of digits inside a candidate.
type group struct {
	digits     string // ASCII
	start, end int    // byte offsets in the text
}

// FindPersonalData returns the personal data in text, in order. Full-width
// digits and the separators - ‐ － – and spaces are read as their ASCII
// forms; a number is only taken whole (no digit or Latin letter right
// before or after it). Resident registration numbers need a valid birth
// date for their century digit (numbers issued since October 2020 have no
// check digit, so the checksum is not required); card numbers need the Luhn
// check; account, passport and driver's licence numbers need a context
// word near them (계좌, 은행, 여권, 운전면허, ...); business numbers
// (15xx, 16xx, 18xx) are not phone numbers.
func FindPersonalData(text string) []Finding {
	out := findNumbers(text)
	if ps := passports(text); len(ps) > 0 {
		out = append(out, ps...)
		sortFindings(out)
	}
	return out
}

// findNumbers finds the personal data written in digits.
func findNumbers(text string) []Finding {
	var out []Finding
	words := contextsIn(text)
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRuneInString(text[i:])
		if _, ok := digitOf(r); !ok || (i > 0 && glued(text, i)) {
			i += n
			continue
		}
		gs, end := readGroups(text, i)
		if end < len(text) {
			if r2, _ := utf8.DecodeRuneInString(text[end:]); isWordChar(r2) {
				i = skipWord(text, end)
				continue
			}
		}
		out = append(out, classify(text, gs, &words)...)
		i = end
	}
	return out
}

// glued reports whether the character before offset i continues a word
// (a digit or a Latin letter), so a number starting at i is part of it.
// An underscore does not: file names use it as a space
// ("신분증_900101-1234567.jpg").
func glued(text string, i int) bool {
	r, _ := utf8.DecodeLastRuneInString(text[:i])
	if _, ok := digitOf(r); ok {
		return true
	}
	return r < utf8.RuneSelf && (unicode.IsLetter(r) || r == '/' || r == '#')
}

// isWordChar reports whether r glues onto a number after it.
func isWordChar(r rune) bool {
	if _, ok := digitOf(r); ok {
		return true
	}
	return r < utf8.RuneSelf && unicode.IsLetter(r)
}

// skipWord returns the offset after the word (digits, letters, separators)
// at i.
func skipWord(text string, i int) int {
	for i < len(text) {
		r, n := utf8.DecodeRuneInString(text[i:])
		if !isWordChar(r) && !isSeparator(r) {
			break
		}
		i += n
	}
	return i
}

// digitOf reads r as a decimal digit: ASCII or full-width.
func digitOf(r rune) (byte, bool) {
	switch {
	case r >= '0' && r <= '9':
		return byte(r), true
	case r >= '０' && r <= '９':
		return byte('0' + r - '０'), true
	}
	return 0, false
}

// isSeparator reports whether r may stand between the digit groups of a
// number.
func isSeparator(r rune) bool {
	switch r {
	case '-', '‐', '－', '–', '‑', ' ', '.', '\u00a0':
		return true
	}
	return false
}

// readGroups reads the digit groups of a number starting at i: digits,
// with at most one separator (optionally surrounded by single spaces,
// "900101 - 1234567") between groups. It returns the groups and the
// offset after the last digit.
func readGroups(text string, i int) ([]group, int) {
	var gs []group
	var cur strings.Builder
	start, end := i, i
	for i < len(text) {
		r, n := utf8.DecodeRuneInString(text[i:])
		if d, ok := digitOf(r); ok {
			if cur.Len() == 0 {
				start = i
			}
			cur.WriteByte(d)
			i += n
			end = i
			continue
		}
		if cur.Len() == 0 || !isSeparator(r) {
			break
		}
		// A separator: one of "-", " ", " - ", "." then a digit.
		j := i + n
		if r == ' ' || r == '\u00a0' {
			if r2, n2 := utf8.DecodeRuneInString(text[j:]); isSeparator(r2) && r2 != ' ' && r2 != '.' {
				j += n2
				if r3, n3 := utf8.DecodeRuneInString(text[j:]); r3 == ' ' {
					j += n3
				}
			}
		} else if r2, n2 := utf8.DecodeRuneInString(text[j:]); r2 == ' ' && r != '.' {
			j += n2
		}
		if r2, _ := utf8.DecodeRuneInString(text[j:]); j >= len(text) || !isDigitRune(r2) {
			break
		}
		gs = append(gs, group{digits: cur.String(), start: start, end: end})
		cur.Reset()
		i = j
	}
	if cur.Len() > 0 {
		gs = append(gs, group{digits: cur.String(), start: start, end: end})
	}
	return gs, end
}

func isDigitRune(r rune) bool { _, ok := digitOf(r); return ok }

// classify finds the personal data in the digit groups of one number,
// trying at each group the patterns that fit, longest first.
func classify(text string, gs []group, words *contexts) []Finding {
	var out []Finding
	for i := 0; i < len(gs); {
		best, kind := 0, ""
		for n := min(len(gs)-i, 5); n >= 1; n-- {
			if k := kindOf(text, gs[i:i+n], words); k != "" {
				best, kind = n, k
				break
			}
		}
		if best == 0 {
			i++
			continue
		}
		out = append(out, Finding{Kind: kind, Start: gs[i].start, End: gs[i+best-1].end})
		i += best
	}
	return out
}

// kindOf says what the groups gs read as together, or "".
func kindOf(text string, gs []group, words *contexts) string {
	lens := make([]int, len(gs))
	var all strings.Builder
	for i, g := range gs {
		lens[i] = len(g.digits)
		all.WriteString(g.digits)
	}
	digits := all.String()
	start, end := gs[0].start, gs[len(gs)-1].end
	switch {
	case isRRN(lens, digits):
		return PersonalRRN
	case isCard(lens, digits) && (len(lens) > 1 || cardPrefix(digits) || words.card && hasContext(text, start, end, cardWords)):
		return PersonalCard
	case isPhone(lens, digits, text, start):
		return PersonalPhone
	case isLicence(lens, digits) && words.licence && hasContext(text, start, end, licenceWords):
		return PersonalLicence
	case isAccount(lens, digits) && words.account && hasContext(text, start, end, accountWords):
		return PersonalAccount
	}
	return ""
}

// isRRN: YYMMDD-GNNNNNN (or the 13 digits unseparated, or split by a
// space) with a valid date for the century the G digit gives.
func isRRN(lens []int, d string) bool {
	if !(len(lens) == 2 && lens[0] == 6 && lens[1] == 7) && !(len(lens) == 1 && lens[0] == 13) {
		return false
	}
	var century int
	switch d[6] {
	case '1', '2', '5', '6':
		century = 1900
	case '3', '4', '7', '8':
		century = 2000
	case '9', '0':
		century = 1800
	default:
		return false
	}
	y := century + int(d[0]-'0')*10 + int(d[1]-'0')
	m := int(d[2]-'0')*10 + int(d[3]-'0')
	day := int(d[4]-'0')*10 + int(d[5]-'0')
	if m < 1 || m > 12 || day < 1 {
		return false
	}
	last := time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
	if day > last {
		return false
	}
	// An unseparated 13-digit run is only an RRN with a valid check digit
	// or a birth date after the change (the checksum raises confidence;
	// numbers since October 2020 carry none).
	if len(lens) == 1 && !rrnChecksum(d) && y < 2020 {
		return false
	}
	return true
}

// rrnChecksum is the check digit of resident registration numbers issued
// before October 2020.
func rrnChecksum(d string) bool {
	w := []int{2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5}
	sum := 0
	for i, x := range w {
		sum += int(d[i]-'0') * x
	}
	return (11-sum%11)%10 == int(d[12]-'0')
}

// isCard: 13 to 19 digits passing the Luhn check, in the groups cards are
// written in (4-4-4-4, 4-6-5, 4-4-4-4-3, ...) or, unseparated, 15 or 16
// digits with a card network's prefix or a card word nearby.
func isCard(lens []int, d string) bool {
	if len(d) < 13 || len(d) > 19 || !luhn(d) {
		return false
	}
	if len(lens) == 1 {
		return len(d) == 15 || len(d) == 16 // with a prefix or a card word (kindOf)
	}
	// 4-4-4-4 (and a last group of 1 to 4 or 3 more), or Amex's and
	// Diners' 4-6-5 and 4-6-4.
	if len(lens) == 3 && lens[0] == 4 && lens[1] == 6 && (lens[2] == 5 || lens[2] == 4) {
		return true
	}
	for i, n := range lens {
		if n != 4 && !(i == len(lens)-1 && n >= 1 && n <= 4) {
			return false
		}
	}
	return true
}

func cardPrefix(d string) bool {
	switch {
	case d[0] == '4', d[0] == '9': // Visa; Korean domestic (BC and others)
		return true
	case d[0] == '5' && d[1] >= '1' && d[1] <= '5': // Mastercard
		return true
	case d[:2] == "34" || d[:2] == "37" || d[:2] == "35" || d[:2] == "36" || d[:2] == "62": // Amex, JCB, Diners, UnionPay
		return true
	case d[:2] == "22" || d[:2] == "23" || d[:2] == "24" || d[:2] == "25" || d[:2] == "26" || d[:2] == "27": // Mastercard 2-series
		return true
	}
	return false
}

func luhn(d string) bool {
	sum := 0
	for i := len(d) - 1; i >= 0; i-- {
		x := int(d[i] - '0')
		if (len(d)-i)%2 == 0 {
			x *= 2
			if x > 9 {
				x -= 9
			}
		}
		sum += x
	}
	return sum%10 == 0
}

// mobilePrefixes and areaCodes start Korean phone numbers.
var (
	mobilePrefixes = map[string]bool{"010": true, "011": true, "016": true, "017": true, "018": true, "019": true}
	areaCodes      = map[string]bool{"02": true, "031": true, "032": true, "033": true, "041": true, "042": true, "043": true, "044": true,
		"051": true, "052": true, "053": true, "054": true, "055": true, "061": true, "062": true, "063": true, "064": true, "070": true}
)

// isPhone: a mobile number (010-1234-5678, 010 1234 5678, 01012345678)
// or a landline with its area code (02-123-4567, 031-1234-5678), also
// written +82 10-...; not a business number (1588-0000).
func isPhone(lens []int, d string, text string, start int) bool {
	if plus82(text, start) && len(lens) >= 3 && lens[0] == 2 && d[:2] == "82" {
		lens, d = lens[1:], "0"+d[2:]
		lens[0]++
	}
	switch len(lens) {
	case 3:
		if lens[2] != 4 || (lens[1] != 3 && lens[1] != 4) {
			return false
		}
		p := d[:lens[0]]
		return mobilePrefixes[p] || areaCodes[p]
	case 1:
		return (len(d) == 10 || len(d) == 11) && mobilePrefixes[d[:3]] && d[3] != '0'
	}
	return false
}

// plus82 reports whether the number at start is written after a "+".
func plus82(text string, start int) bool {
	return start > 0 && text[start-1] == '+'
}

// isLicence: a driver's licence number, 2-2-6-2 digits (region, year,
// serial, check).
func isLicence(lens []int, d string) bool {
	return len(d) == 12 && (len(lens) == 1 || (len(lens) == 4 && lens[0] == 2 && lens[1] == 2 && lens[2] == 6 && lens[3] == 2))
}

// isAccount: 10 to 14 digits, unseparated or in 2 to 5 groups of 2 to 6,
// as banks write their account numbers (110-123-456789, 1002-123-456789,
// 123456-01-123456, 3333-01-1234567).
func isAccount(lens []int, d string) bool {
	if len(d) < 10 || len(d) > 14 {
		return false
	}
	if len(lens) == 1 {
		return true
	}
	if len(lens) > 5 {
		return false
	}
	for _, n := range lens {
		if n < 2 || n > 7 {
			return false
		}
	}
	return true
}

// Context words: an account, passport or licence number counts only with
// one of these within contextRunes before it (or a few after).
var (
	accountWords = []string{"계좌", "입금", "은행", "통장", "예금주", "이체", "송금", "환불", "뱅크", "국민", "신한", "우리", "하나", "농협", "기업",
		"새마을", "신협", "우체국", "수협", "SC제일", "씨티", "부산", "대구", "경남", "광주", "전북", "제주", "산업", "account", "bank"}
	cardWords     = []string{"카드", "card", "결제"}
	passportWords = []string{"여권", "passport"}
	licenceWords  = []string{"운전면허", "면허번호", "면허증", "licence", "license"}
)

// otherLabels name numbers that are none of the kinds: when one of them
// stands closer before a number than the context word, the number is what
// it names (주문번호 after "계좌로 환불" is still an order number).
var otherLabels = []string{"주문", "신청번호", "접수번호", "송장", "운송장", "사업자", "인증번호", "우편번호", "고객번호", "회원번호",
	"관리번호", "조회번호", "승인번호", "order", "tracking", "invoice"}

const contextRunes = 24

// contexts says which kinds of context word a text holds at all, so that a
// long run of numbers in a text without them costs no window search.
type contexts struct{ account, card, licence bool }

func contextsIn(text string) contexts {
	lower := strings.ToLower(text)
	any := func(words []string) bool {
		for _, w := range words {
			if strings.Contains(lower, strings.ToLower(w)) {
				return true
			}
		}
		return false
	}
	return contexts{account: any(accountWords), card: any(cardWords), licence: any(licenceWords)}
}

// hasContext reports whether one of words is within contextRunes runes
// before start, with no other label between it and the number, or within
// 8 runes after end.
func hasContext(text string, start, end int, words []string) bool {
	before := text[:start]
	for n := 0; n < contextRunes && before != ""; n++ {
		_, size := utf8.DecodeLastRuneInString(before)
		before = before[:len(before)-size]
	}
	window := strings.ToLower(text[len(before):start])
	lastWord, lastOther := -1, -1
	for _, w := range words {
		lastWord = max(lastWord, strings.LastIndex(window, strings.ToLower(w)))
	}
	for _, w := range otherLabels {
		lastOther = max(lastOther, strings.LastIndex(window, w))
	}
	if lastWord >= 0 && lastWord > lastOther {
		return true
	}
	if lastOther >= 0 {
		return false
	}
	after := text[end:]
	cut := 0
	for n := 0; n < 8 && cut < len(after); n++ {
		_, size := utf8.DecodeRuneInString(after[cut:])
		cut += size
	}
	window = strings.ToLower(after[:cut])
	for _, w := range words {
		if strings.Contains(window, strings.ToLower(w)) {
			return true
		}
	}
	return false
}

// passports finds Korean passport numbers with a context word: a letter and
// 8 digits (M12345678), or the newer letter, 3 digits, letter, 4 digits
// (M123A4567).
func passports(text string) []Finding {
	var out []Finding
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c < 'A' || c > 'Z' || (i > 0 && isASCIIWord(text[i-1])) {
			continue
		}
		j := i + 1
		for j < len(text) && j-i < 10 && (isASCIIDigit(text[j]) || (j == i+4 && text[j] >= 'A' && text[j] <= 'Z')) {
			j++
		}
		if j-i != 9 || (j < len(text) && isASCIIWord(text[j])) {
			continue
		}
		s := text[i:j]
		old := strings.IndexFunc(s[1:], func(r rune) bool { return r < '0' || r > '9' }) < 0
		newer := s[4] >= 'A' && s[4] <= 'Z' && strings.IndexFunc(s[1:4]+s[5:], func(r rune) bool { return r < '0' || r > '9' }) < 0
		if (old || newer) && hasContext(text, i, j, passportWords) {
			out = append(out, Finding{Kind: PersonalPassport, Start: i, End: j})
			i = j
		}
	}
	return out
}

func isASCIIDigit(c byte) bool { return c >= '0' && c <= '9' }
func isASCIIWord(c byte) bool {
	return isASCIIDigit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'
}

// MaskPersonalData returns text with the personal data FindPersonalData
// finds masked, keeping its layout: RRN 900101-1******, card
// ****-****-****-1234, account ***-***-**1234, phone 010-****-5678,
// passport and licence numbers all but their last two characters.
//
// The digits a mask keeps can read, with a number next to them, as a new
// finding ("******0000 000000"); the masking is applied again until
// nothing is found, at most a few times, and then every digit of what is
// still found goes.
func MaskPersonalData(text string) string {
	for range 3 {
		fs := FindPersonalData(text)
		if len(fs) == 0 {
			return text
		}
		text = maskFindings(text, fs, maskOne)
	}
	return maskFindings(text, FindPersonalData(text), func(_, v string) string { return maskOne(maskAll, v) })
}

// maskAll is the mask of maskOne that keeps no character.
const maskAll = "all"

// maskFindings replaces each finding in text by mask(kind, value).
func maskFindings(text string, fs []Finding, mask func(kind, v string) string) string {
	if len(fs) == 0 {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	prev := 0
	for _, f := range fs {
		b.WriteString(text[prev:f.Start])
		b.WriteString(mask(f.Kind, text[f.Start:f.End]))
		prev = f.End
	}
	b.WriteString(text[prev:])
	return b.String()
}

func sortFindings(fs []Finding) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].Start < fs[j-1].Start; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

// maskOne masks one value of kind, keeping its separators.
func maskOne(kind, v string) string {
	// The digits (and letters) of v, by their position in v.
	type pos struct{ start, end int }
	var ps []pos
	var groups [][]int // indexes into ps, per group
	cur := []int{}
	for i := 0; i < len(v); {
		r, n := utf8.DecodeRuneInString(v[i:])
		if isDigitRune(r) || (r >= 'A' && r <= 'Z') {
			cur = append(cur, len(ps))
			ps = append(ps, pos{i, i + n})
		} else if len(cur) > 0 {
			groups = append(groups, cur)
			cur = []int{}
		}
		i += n
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	hide := make([]bool, len(ps))
	switch kind {
	case PersonalRRN:
		for i := 7; i < len(ps); i++ {
			hide[i] = true
		}
	case PersonalPhone:
		if len(groups) >= 3 {
			for _, i := range groups[len(groups)-2] {
				hide[i] = true
			}
		} else {
			for i := 3; i < len(ps)-4; i++ {
				hide[i] = true
			}
		}
	case PersonalCard, PersonalAccount:
		for i := 0; i < len(ps)-4; i++ {
			hide[i] = true
		}
	case maskAll:
		for i := range ps {
			hide[i] = true
		}
	default:
		for i := 0; i < len(ps)-2; i++ {
			hide[i] = true
		}
	}
	var b strings.Builder
	prev := 0
	for i, p := range ps {
		b.WriteString(v[prev:p.start])
		if hide[i] {
			b.WriteByte('*')
		} else {
			b.WriteString(v[p.start:p.end])
		}
		prev = p.end
	}
	b.WriteString(v[prev:])
	return b.String()
}
