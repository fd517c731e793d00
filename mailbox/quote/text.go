package quote

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits that keep the quote rules cheap on long or hostile bodies.
const (
	// maxAttrLines is how many lines an attribution ("On ... wrote:") may be
	// wrapped over, blank lines included.
	maxAttrLines = 6
	// maxAttrLine is the longest line that can be part of an attribution.
	maxAttrLine = 300
	// maxMarkerRunes is the longest line taken for a separator, a mobile
	// signature or a header field of a quoted header block.
	maxMarkerRunes = 120
	// attrBudget bounds the attribution candidates (lines or wrapped lines
	// that pass the cheap checks) looked at in one text; past it, no more
	// attributions are found. Real replies need a few dozen.
	attrBudget = 10000
)

// visibleText returns the part of a reply that its author wrote: text is the
// decoded text body of a mail ("\n" line endings; "\r\n" is accepted too),
// the result is text without the quoted history and the signature, with
// leading blank lines and trailing white space removed.
//
// The reply is cut at the first line, outside "> " quotes, that starts the
// history, a signature or a trailer:
//   - an attribution such as "On <date>, <name> wrote:", also wrapped over a
//     few lines and in the forms of other languages and clients ("Le ... a
//     écrit :", "Am ... schrieb ...:", Gmail's "2026년 11월 20일 (목) 오후 3:12,
//     이름 <addr>님이 작성:", Thunderbird's "2026-11-20 오후 3:05에 이름
//     이(가) 쓴 글:", ...), when no quote follows it;
//   - a separator such as "-----Original Message-----", "---------- Forwarded
//     message ---------", "--------- 원본 메일 ---------";
//   - a quoted header block: three or more header fields, one of them the
//     sender ("From:", "보낸 사람:", "De :", "Fra:", ...), a wrapped field
//     taken in, as Outlook, Naver, Daum, Samsung Email and others write
//     them; a dash-framed label just above it goes with it;
//   - the signature delimiter "-- " (RFC 3676 section 4.3; "--" alone too);
//   - a mail app's footer ("Sent from my <device>", "iPhone에서 보냄",
//     "네이버 메일 앱에서 보냄", "Get Outlook for Android", ...);
//   - a trailer that gateways and lists append: a legal disclaimer ("본 메일은
//     … 법적 책임", "This e-mail and any attachments are confidential …") or
//     a mailing list's footer (Mailman, Google Groups).
//
// What is left is read by its structure. A "> " quote, with the lines a
// client wrapped without repeating the ">", is one block; an attribution
// just above it belongs to it. When the author's text comes between two
// quote blocks, the reply is interleaved (answers between quoted questions):
// the quotes stay, only their attributions go. Otherwise every quote and its
// attribution go, whether the author wrote above it (top-posting), below it
// (bottom-posting, with or without a greeting on top) or both. A mail that
// starts with a forwarded header block keeps the forwarded text. Sign-offs
// such as "감사합니다." or "Thanks, Bob" are text and stay.
//
// Visible never returns "" for a text that has something other than white
// space: when the rules would leave nothing, or only quoted lines, it returns
// the whole text, trimmed. The rules are heuristics and work on whole lines;
// callers keep the full body beside the visible part, so a wrong cut hides
// text but never loses it.
//
// The attribution rules look at no more than a few thousand candidate lines
// of one text, which bounds the time spent on a hostile body; the cheap rules
// look at every line.
func visibleText(text string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	lines := strings.Split(text, "\n")
	r := &rules{budget: attrBudget, lines: lines, quoted: quoteMask(lines)}
	kept, whole := r.visibleLines()
	if !hasText(kept) {
		return joinTrimmed(lines)
	}
	if whole {
		// Nothing was cut but at the end: a substring of text, not a copy
		// (a 25 MB text body would otherwise be copied once more).
		off := 0
		for _, l := range lines[:nextNonBlank(lines, 0)] {
			off += len(l) + 1
		}
		end := off
		for _, l := range kept {
			end += len(l) + 1
		}
		return strings.TrimRightFunc(text[min(off, len(text)):min(end, len(text))], unicode.IsSpace)
	}
	return joinTrimmed(kept)
}

// rules applies the rules of Visible to one text.
type rules struct {
	budget int      // attribution candidates left to look at
	lines  []string // the text's lines
	quoted []bool   // quoted[i]: line i is part of a "> " quote
}

// visibleLines applies the rules of Visible. whole reports that kept is
// lines from the first non-blank line on, only shortened at the end.
func (r *rules) visibleLines() (kept []string, whole bool) {
	lines := r.lines
	start := r.skipTop()
	end, attrs := r.historyStart(start)
	attrOf := make(map[int]int, len(attrs)) // quote line -> attribution line
	for a, sp := range attrs {
		attrOf[sp.quote] = a
	}

	// The quote blocks in [start, end), each with the attribution above it,
	// and whether the author's text follows it.
	type block struct {
		attr, from, to int  // attr == from without an attribution
		attrEnd        int  // the line after the attribution
		textAfter      bool // the author's text follows, before the next block
		greeting       bool // at most a greeting above, since the last block
	}
	var blocks []block
	above, aboveLong := 0, false // text lines since the last block
	for i := start; i < end; {
		if a, ok := attrs[i]; ok {
			i = a.quote // the attribution is not the author's text
			continue
		}
		if r.quoted[i] {
			from, attrEnd := i, i
			if a, ok := attrOf[i]; ok {
				from, attrEnd = a, attrs[a].end+1
			}
			to := r.quoteBlockEnd(i)
			blocks = append(blocks, block{attr: from, attrEnd: attrEnd, from: i, to: to, greeting: above <= maxGreetingLines && !aboveLong})
			above, aboveLong = 0, false
			i = to
			continue
		}
		if !isBlank(lines[i]) && !isRule(lines[i]) {
			if len(blocks) > 0 {
				blocks[len(blocks)-1].textAfter = true
			}
			above++
			aboveLong = aboveLong || utf8.RuneCountInString(lines[i]) > maxGreetingRunes
		}
		i++
	}
	// Interleaved: the author's text between two quotes.
	interleaved := false
	for k := 0; k+1 < len(blocks); k++ {
		interleaved = interleaved || blocks[k].textAfter
	}

	kept = make([]string, 0, end-start)
	cut := false
	next := start
	for _, b := range blocks {
		kept = append(kept, lines[next:b.attr]...)
		if b.textAfter && (interleaved || b.attr == b.from || !b.greeting) {
			// A quote the author answers, one the author chose as
			// context (no attribution), or one with the author's text
			// above and below it: it stays, its attribution goes.
			cut = cut || b.attr < b.from
			next = b.attrEnd
			continue
		}
		// The history: a quote nothing of the author's follows, or the
		// client's quote of the mail replied to (an attribution above
		// it) with the reply below it and at most a greeting above.
		cut = true
		next = b.to
		if len(kept) == 0 || isBlank(kept[len(kept)-1]) {
			next = min(nextNonBlank(lines, next), end) // no double blank where the quote was
		}
	}
	kept = append(kept, lines[next:end]...)
	for len(kept) > 0 && (isBlank(kept[len(kept)-1]) || isRule(kept[len(kept)-1])) {
		kept = kept[:len(kept)-1]
	}
	return kept, !cut && start == nextNonBlank(lines, 0)
}

// attrSpan is an attribution: it starts at one line, ends on line end and
// introduces the quote that starts at line quote.
type attrSpan struct{ end, quote int }

// historyStart returns where the history, a signature or a trailer starts
// at or after line start (len(lines) when none does), and the attributions
// of the quote blocks before it, by their first line.
func (r *rules) historyStart(start int) (int, map[int]attrSpan) {
	lines := r.lines
	n := len(lines)
	attrs := map[int]attrSpan{}
	for i := start; i < n; i++ {
		l := lines[i]
		if isBlank(l) || r.quoted[i] {
			continue
		}
		if r.endsText(i) {
			return r.withLabelAbove(start, i), attrs
		}
		if end, strong, ok := r.attribution(lines, i); ok {
			k := nextNonBlank(lines, end+1)
			switch {
			case k < n && r.quoted[k]:
				attrs[i] = attrSpan{end: end, quote: k}
				i = end
				continue
			case strong:
				return i, attrs
			}
		}
	}
	return n, attrs
}

// endsText reports whether line i, outside a quote, starts what is not the
// author's text: a signature, a mail app's footer, a separator, a quoted
// header block or a trailer.
func (r *rules) endsText(i int) bool {
	l := r.lines[i]
	return isSigDelimiter(l) || r.isAppFooter(i) || isSeparator(l) || isHeaderBlock(r.lines, i) || r.isTrailer(i)
}

// withLabelAbove returns i, or the line above it when that is a dash-framed
// label ("--------- 원본 메일 ---------", "==== Original ====") that
// introduces what starts at i.
func (r *rules) withLabelAbove(start, i int) int {
	p := i - 1
	for p >= start && isBlank(r.lines[p]) {
		p--
	}
	if p >= start && !r.quoted[p] && framedLabel.MatchString(strings.TrimSpace(r.lines[p])) {
		return p
	}
	return i
}

// framedLabel is a short label between runs of dashes or other rule
// characters.
var framedLabel = regexp.MustCompile(`^[-=_*~]{2,}\s*[^-=_*~\s][^-=_*~]{0,40}\s*[-=_*~]{2,}$`)

// skipTop returns where the author's text starts: after an attribution that
// is followed directly by unquoted text, and after the separator and header
// block that start a forwarded mail.
func (r *rules) skipTop() int {
	lines := r.lines
	n := len(lines)
	i := nextNonBlank(lines, 0)
	if i == n || r.quoted[i] {
		return i
	}
	if end, strong, ok := r.attribution(lines, i); ok {
		if k := nextNonBlank(lines, end+1); strong && (k == n || !r.quoted[k]) {
			return k
		}
		return i
	}
	j := i
	if isSeparator(lines[j]) {
		j = nextNonBlank(lines, j+1)
	}
	if j < n && isHeaderBlock(lines, j) {
		for j < n && !isBlank(lines[j]) {
			j++
		}
	}
	if j == i {
		return i
	}
	return nextNonBlank(lines, j)
}

// quoteBlockEnd returns the index after the quote block that starts at line
// i: quoted lines, and blank lines between quoted lines.
func (r *rules) quoteBlockEnd(i int) int {
	end := i
	for j := i; j < len(r.lines); j++ {
		if r.quoted[j] {
			end = j + 1
		} else if !isBlank(r.lines[j]) {
			break
		}
	}
	return end
}

// quoteMask marks the lines of "> " quotes: the quoted lines, and the lines
// a client wrapped out of a long quoted line without repeating the ">" (Outlook
// Express, many webmails).
func quoteMask(lines []string) []bool {
	q := make([]bool, len(lines))
	for i, l := range lines {
		q[i] = isQuote(l)
	}
	for i := 1; i < len(lines); i++ {
		if !q[i] && q[i-1] && isQuote(lines[i-1]) && isWrapped(lines, i) {
			q[i] = true
		}
	}
	return q
}

// A bottom-posted reply may have a greeting above the quote: at most this
// many lines of text, none longer than maxGreetingRunes ("안녕하세요.", "Hi
// Bob,"). More text above makes the quote context for the text below it.
const (
	maxGreetingLines = 2
	maxGreetingRunes = 40
)

// Quoted lines are wrapped at about this many columns; wider ones, and
// lines the next word would have made wider, were broken by the client.
const (
	wrapWidth    = 76
	minWrapWidth = 60
)

// isWrapped reports whether line i continues the quoted line above it: the
// quoted line is long, does not end a sentence, and the first word of line i
// would not have fit on it; and line i ends the quote or the quote goes on
// below it. A line of the author directly under a quote is usually short of
// that, starts a sentence of its own, or is followed by more text.
func isWrapped(lines []string, i int) bool {
	prev, l := strings.TrimRight(lines[i-1], " \t"), strings.TrimSpace(lines[i])
	if l == "" || isRule(l) || utf8.RuneCountInString(l) > maxAttrLine {
		return false
	}
	w := displayWidth(prev)
	if w < minWrapWidth || w > 2*wrapWidth {
		return false
	}
	if last, _ := utf8.DecodeLastRuneInString(prev); strings.ContainsRune(".!?。！？:;", last) {
		return false
	}
	first, _, _ := strings.Cut(l, " ")
	if w+1+displayWidth(first) <= wrapWidth {
		return false
	}
	switch {
	case i+1 < len(lines) && isQuote(lines[i+1]):
		return true
	case i+1 == len(lines) || isBlank(lines[i+1]):
		c, _ := utf8.DecodeRuneInString(l)
		return !unicode.IsUpper(c)
	}
	return false
}

// displayWidth is the width of s in columns: East Asian wide characters
// (Hangul, CJK, full-width forms) take two.
func displayWidth(s string) int {
	w := 0
	for _, c := range s {
		switch {
		case c == '\t':
			w += 8 - w%8
		case isWide(c):
			w += 2
		default:
			w++
		}
	}
	return w
}

func isWide(c rune) bool {
	return (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) ||
		(c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
		(c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) || (c >= 0xffe0 && c <= 0xffe6)
}

func nextNonBlank(lines []string, i int) int {
	for i < len(lines) && isBlank(lines[i]) {
		i++
	}
	return i
}

// hasText reports whether lines hold a line that is not blank, quoted or a
// rule.
func hasText(lines []string) bool {
	for _, l := range lines {
		if !isBlank(l) && !isQuote(l) && !isRule(l) {
			return true
		}
	}
	return false
}

// joinTrimmed joins lines without the leading blank lines and the trailing
// white space.
func joinTrimmed(lines []string) string {
	i := nextNonBlank(lines, 0)
	return strings.TrimRightFunc(strings.Join(lines[i:], "\n"), unicode.IsSpace)
}

// isBlank reports whether l shows nothing: white space and invisible
// characters (zero-width spaces and joiners, BOM, soft hyphen) only.
func isBlank(l string) bool {
	for _, c := range l {
		switch {
		case unicode.IsSpace(c), c == '\u200b', c == '\u200c', c == '\u200d', c == '\ufeff', c == '\u2060', c == '\u00ad':
		default:
			return false
		}
	}
	return true
}

// isQuote reports whether l is quoted with ">" (RFC 3676 section 4.5 and the
// common variants with leading space).
func isQuote(l string) bool {
	return strings.HasPrefix(strings.TrimLeft(l, " \t"), ">")
}

// isRule reports whether l is only a line drawn with punctuation, such as the
// "________________________________" Outlook writes above its header block,
// or the "ᐧ" some Gmail add-ons append.
func isRule(l string) bool {
	t := strings.TrimSpace(l)
	return t != "" && strings.Trim(t, "-_=+~#*ᐧ—–─━═ \t\u00a0") == ""
}

// isSigDelimiter reports whether l is the signature delimiter "-- " of RFC
// 3676 section 4.3, or "--" alone as many clients and users write it.
func isSigDelimiter(l string) bool {
	return strings.TrimRight(l, " \t") == "--"
}

// separators start the quoted or forwarded mail in many clients.
var separators = []*regexp.Regexp{
	regexp.MustCompile(`(?i)^-{2,}\s*(original message|forwarded message|reply message|forwarded|` +
		`message d'origine|message transféré|ursprüngliche nachricht|weitergeleitete nachricht|` +
		`mensaje original|mensaje reenviado|messaggio originale|messaggio inoltrato|` +
		`mensagem original|mensagem encaminhada|oorspronkelijk bericht|doorgestuurd bericht|` +
		`originalmeddelande|vidarebefordrat meddelande|opprinnelig melding|videresendt melding|` +
		`исходное сообщение|пересылаемое сообщение|原始邮件|转发邮件|元のメッセージ|転送されたメッセージ|` +
		`oprindelig (besked|meddelelse)|videresendt (besked|meddelelse)|alkuperäinen viesti|eredeti üzenet|` +
		`wiadomość oryginalna|oryginalna wiadomość|missatge original|` +
		`원본\s*메시지|원본\s*메세지|원본\s*메일|원문\s*메일|전달된\s*메시지|전달된\s*메일|전달\s*메시지)\s*-{2,}$`),
	regexp.MustCompile(`(?i)^(begin forwarded message|début du message (transféré|réexpédié)|` +
		`anfang der weitergeleiteten nachricht|전달된\s*메일|전달된\s*메시지)\s*[:：]?$`),
}

func isSeparator(l string) bool {
	t := strings.Trim(l, " \t*_\u00a0")
	if !strings.ContainsAny(t, "-:：") || utf8.RuneCountInString(t) > maxMarkerRunes {
		return false
	}
	for _, re := range separators {
		if re.MatchString(t) {
			return true
		}
	}
	return false
}

var (
	// markdownLink is "[text](url)": the text stays.
	markdownLink = regexp.MustCompile(`\[([^\]]+)\]\([^)]*\)`)
	// trailingURL is a bare link at the end of a line.
	trailingURL = regexp.MustCompile(`\s*https?://\S*$`)
	// bracketURL is "<https://...>" or "(https://...)" after a link text.
	bracketURL = regexp.MustCompile(`\s*[<(]\s*https?://[^>)]*[>)]`)
)

// mobileSignatures are the lines mobile mail apps add below what the user
// typed. They are matched against the whole trimmed line.
var mobileSignatures = []*regexp.Regexp{
	regexp.MustCompile(`(?i)^sent (from|via|with|using|by) (my |the |an? )?(iphone|ipad|ipod|android|mobile|phone|cell|smartphone|` +
		`samsung|galaxy|htc|blackberry|huawei|xiaomi|pixel|nokia|windows|mail|mailbox|outlook|yahoo|gmail|` +
		`aol|airmail|spark|proton|k-9|bluemail|sparrow|\S+ (phone|mobile|device|tablet|smartphone))\b.{0,60}$`),
	regexp.MustCompile(`(?i)^(get )?outlook for (ios|android)\b.{0,40}$`),
	regexp.MustCompile(`(?i)^(ios|android)용 outlook( 받기)?$`),
	regexp.MustCompile(`(?i)^envoyé (depuis|de) (mon|ma|yahoo)\b`),
	regexp.MustCompile(`(?i)^von meinem .{1,40} gesendet\.?$`),
	regexp.MustCompile(`(?i)^diese nachricht wurde von .{1,80} gesendet\.?$`),
	regexp.MustCompile(`(?i)^enviado (desde|do|de) (mi|meu|o meu) `),
	regexp.MustCompile(`(?i)^inviato da (il mio |iphone|ipad|android|samsung|libero|yahoo)`),
	regexp.MustCompile(`(?i)^(sendt fra min|skickat från min|verzonden (met|vanaf mijn)|verstuurd vanaf mijn) `),
	regexp.MustCompile(`^(從我的|发自我的|來自我的) ?(iPhone|iPad|Android|手机|手機)`),
	regexp.MustCompile(`^(iPhone|iPad|Android)から送信`),
	regexp.MustCompile(`(?i)^(나의 |내 )?(iphone|ipad|ipod|galaxy|갤럭시|samsung|삼성|android|안드로이드|스마트폰|휴대폰|휴대전화|모바일|` +
		`네이버 ?메일|naver|다음 ?메일|daum|outlook)[^.!?]{0,30}에서 (보냄|보냈습니다|보낸 메일(입니다)?)\.?$`),
}

// mobileFirst holds the first letters (lower-cased) of the mobile
// signatures, to skip most lines without a regular expression.
const mobileFirst = "sgoievdan從发來나내갤삼안스휴모네다"

func isMobileSignature(l string) bool {
	t := strings.TrimSpace(l)
	if t == "" || utf8.RuneCountInString(t) > maxMarkerRunes || !utf8.ValidString(t) {
		return false
	}
	c, _ := utf8.DecodeRuneInString(strings.TrimLeft(t, "(<[ "))
	if !strings.ContainsRune(mobileFirst, unicode.ToLower(c)) {
		return false
	}
	if c >= 0xac00 && c <= 0xd7a3 && !strings.Contains(t, "에서") {
		return false // the Korean forms all say "...에서 보냄"
	}
	t = linkText(t)
	for _, re := range mobileSignatures {
		if re.MatchString(t) {
			return true
		}
	}
	return false
}

// appFooters are the open forms of the lines mail apps add: a device or an
// app named freely. Because they are open, they count only as a paragraph of
// their own (a blank line or the text's edge above and below), and only when
// short; see isAppFooter.
var appFooters = []*regexp.Regexp{
	// Sent from my Xperia 10 / Sent from TypeApp / Sent from Mail for
	// Windows / Sent from Yahoo Mail on Android.
	regexp.MustCompile(`(?i)^sent (from|with|using|via) (my )?[\p{L}\p{N}][\p{L}\p{N} .+'&/-]{0,40}$`),
	// Outlook's mobile apps in other languages: "Outlook für Android
	// herunterladen", "Télécharger Outlook pour iOS", "Obtener Outlook para
	// Android", "Scarica Outlook per iOS".
	regexp.MustCompile(`(?i)^(\p{L}+ ){0,2}outlook (for|für|pour|para|per|voor|voo|för|for|dla|pro|na|для) (ios|android)( \p{L}+){0,2}$`),
	// Any device or app "에서 보냄": "Galaxy S24에서 보냈습니다.", "카카오메일 앱에서
	// 보냄", "다음 메일 앱에서 보낸 메일입니다.".
	regexp.MustCompile(`^[\p{L}\p{N} +._-]{1,30}에서 (보냄|보냈습니다|보낸 메일(입니다)?|발송됨|전송됨)\.?$`),
	// Japanese and Chinese: "Galaxyから送信", "发自我的小米手机".
	regexp.MustCompile(`^[\p{L}\p{N} +._-]{1,30}から送信$`),
	regexp.MustCompile(`^(发自|發自|来自|來自)[\p{L}\p{N} +._-]{1,30}$`),
}

// isAppFooter reports whether line i is a mail app's footer: one of the
// fixed lines of mobileSignatures anywhere, or an open form of appFooters
// standing as a paragraph of its own.
func (r *rules) isAppFooter(i int) bool {
	l := r.lines[i]
	if isMobileSignature(l) {
		return true
	}
	if (i > 0 && !isBlank(r.lines[i-1])) || (i+1 < len(r.lines) && !isBlank(r.lines[i+1])) {
		return false
	}
	t := strings.TrimSpace(l)
	if len(t) > 4*maxMarkerRunes {
		return false
	}
	if t = linkText(t); t == "" || utf8.RuneCountInString(t) > 60 || !utf8.ValidString(t) {
		return false
	}
	for _, re := range appFooters {
		if re.MatchString(t) {
			return true
		}
	}
	return false
}

// linkText is t with the links mail apps put in their footers removed:
// "[text](url)" keeps the text, "<https://...>" and a bare link at the end
// go.
func linkText(t string) string {
	if strings.ContainsAny(t, "[<(") {
		t = markdownLink.ReplaceAllString(t, "$1")
		t = bracketURL.ReplaceAllString(t, "")
	}
	if strings.Contains(t, "://") {
		t = trailingURL.ReplaceAllString(t, "") // HTML rendered: "받기https://aka.ms/..."
	}
	return strings.TrimSpace(strings.Trim(t, "()<>"))
}

// isTrailer reports whether line i starts a block that gateways and mailing
// lists append under a mail: a legal disclaimer, or a list's footer. A
// disclaimer must start a paragraph and say two of the things disclaimers
// say, so a customer's sentence that mentions one of the words stays.
func (r *rules) isTrailer(i int) bool {
	l := strings.TrimSpace(r.lines[i])
	if l == "" || len(l) > maxAttrLine*4 {
		return false
	}
	if c := l[0] | 0x20; c == 'y' || c == 't' || c == 'h' || strings.HasSuffix(l, " list") {
		for _, re := range listFooters {
			if re.MatchString(l) {
				return true
			}
		}
	}
	if i > 0 && !isBlank(r.lines[i-1]) && !isRule(r.lines[i-1]) {
		return false // not the start of a paragraph
	}
	if !disclaimerStart.MatchString(l) {
		return false
	}
	// The paragraph, up to a few lines.
	var sb strings.Builder
	for j := i; j < len(r.lines) && j < i+8 && !isBlank(r.lines[j]); j++ {
		sb.WriteString(r.lines[j])
		sb.WriteByte(' ')
	}
	p := strings.ToLower(sb.String())
	found := 0
	for _, w := range disclaimerWords {
		if strings.Contains(p, w) {
			found++
		}
	}
	return found >= 2
}

// listFooters are the first lines of mailing lists' footers: Mailman's
// "<list> mailing list" and listinfo link, Google Groups' "You received this
// message because you are subscribed", and unsubscribe lines.
var listFooters = []*regexp.Regexp{
	regexp.MustCompile(`(?i)^[\w.+-]{1,60} mailing list$`),
	regexp.MustCompile(`(?i)^https?://\S+/(mailman|cgi-bin/mailman|postorius)/listinfo/\S*$`),
	regexp.MustCompile(`(?i)^you received this (message|email|e-mail) because you are subscribed to\b`),
	regexp.MustCompile(`(?i)^to unsubscribe( from this (group|list))?,? (send|e-?mail|visit|go to|click)\b`),
}

// disclaimerStart is how disclaimers begin: "본 메일은", "이 메일에는",
// "※ 본 이메일은", "This e-mail and any attachments", "The information in
// this message", "CONFIDENTIALITY NOTICE:", "Disclaimer:".
var disclaimerStart = regexp.MustCompile(`(?i)^[※*#\[(]*\s*(` +
	`(본|이|해당)\s*(메일|이메일|e-?mail|전자\s*우편|메시지|메세지)\s*(은|는|에는|의|에|및)|` +
	`(this|the) (e-?mail|message|communication|transmission)\b|` +
	`the (information|contents?) (in|of|contained in) this (e-?mail|message)|` +
	`(confidentiality|privacy|legal) (notice|disclaimer)|disclaimer\s*[:：]|` +
	`(este|ce|dieser|questo|dit) (correo|mensaje|message|courriel|e-?mail|nachricht|messaggio|bericht))`)

// disclaimerWords are what disclaimers say (matched lower-cased): that the
// mail is confidential, for its addressee only, not to be passed on, to be
// deleted if received in error, with legal effect.
var disclaimerWords = []string{
	"법적", "기밀", "비밀", "무단", "배포", "삭제", "수신자", "발신 전용", "발신전용", "정보통신망", "열람", "금지",
	"confidential", "privileged", "intended recipient", "intended solely", "intended only", "addressee",
	"prohibited", "delete", "disclosure", "unauthori", "in error", "legally",
	"vertraulich", "confidentiel", "confidencial", "riservat",
}

// Classes of header fields in a quoted header block.
const (
	hdrFrom = iota + 1
	hdrDate
	hdrTo
	hdrCc
	hdrSubject
	hdrReplyTo
)

// headerKeys maps the lower-cased names of header fields, as mail clients
// write them in many languages above a quoted or forwarded mail, to their
// class.
var headerKeys = map[string]int{
	"from": hdrFrom, "sent": hdrDate, "date": hdrDate, "to": hdrTo, "cc": hdrCc, "bcc": hdrCc,
	"subject": hdrSubject, "reply-to": hdrReplyTo,
	// Korean: Outlook, Samsung Email, Naver, Daum.
	"보낸 사람": hdrFrom, "보낸사람": hdrFrom, "발신": hdrFrom, "발신자": hdrFrom,
	"보낸 날짜": hdrDate, "보낸날짜": hdrDate, "날짜": hdrDate, "보낸 시간": hdrDate,
	"받는 사람": hdrTo, "받는사람": hdrTo, "수신": hdrTo, "수신자": hdrTo,
	"참조": hdrCc, "숨은 참조": hdrCc, "제목": hdrSubject,
	// German, French, Spanish, Portuguese, Italian, Dutch.
	"von": hdrFrom, "gesendet": hdrDate, "datum": hdrDate, "an": hdrTo, "betreff": hdrSubject,
	"de": hdrFrom, "expéditeur": hdrFrom, "envoyé": hdrDate, "à": hdrTo, "destinataire": hdrTo,
	"objet": hdrSubject, "répondre à": hdrReplyTo,
	"enviado": hdrDate, "enviada em": hdrDate, "fecha": hdrDate, "para": hdrTo, "asunto": hdrSubject, "assunto": hdrSubject,
	"da": hdrFrom, "inviato": hdrDate, "data": hdrDate, "a": hdrTo, "oggetto": hdrSubject, "risposta": hdrReplyTo,
	"van": hdrFrom, "verzonden": hdrDate, "aan": hdrTo, "onderwerp": hdrSubject, "beantwoorden - aan": hdrReplyTo,
	// Scandinavian, Russian, Chinese, Japanese.
	"från": hdrFrom, "skickat": hdrDate, "till": hdrTo, "ämne": hdrSubject,
	"fra": hdrFrom, "sendt": hdrDate, "til": hdrTo, "emne": hdrSubject, "dato": hdrDate,
	"от": hdrFrom, "отправлено": hdrDate, "дата": hdrDate, "кому": hdrTo, "копия": hdrCc, "тема": hdrSubject,
	"发件人": hdrFrom, "发送时间": hdrDate, "日期": hdrDate, "收件人": hdrTo, "抄送": hdrCc, "主题": hdrSubject,
	"差出人": hdrFrom, "送信日時": hdrDate, "宛先": hdrTo, "件名": hdrSubject,
}

// headerField returns the class of the header field l starts, or 0.
func headerField(l string) int {
	t := strings.TrimLeft(l, " \t*\u00a0")
	i := strings.IndexAny(t[:min(len(t), 44)], ":：")
	if i <= 0 || i > 40 {
		return 0
	}
	// French puts a (no-break) space before the colon: "De : ", "Objet\u00a0: ".
	key := strings.Trim(t[:i], " \t*\u00a0\u202f")
	if strings.Contains(key, "  ") || strings.ContainsRune(key, '\t') {
		key = strings.Join(strings.Fields(key), " ")
	}
	return headerKeys[strings.ToLower(key)]
}

// isHeaderBlock reports whether a quoted header block starts at line i: at
// least three header fields of different names, one of them the sender. A
// field that wraps onto the next line (a long "From:" or "보낸 사람:" in
// Outlook) is taken in: a line that is no field counts as the one above's
// continuation when a field follows it, at most twice in a block.
func isHeaderBlock(lines []string, i int) bool {
	if headerField(lines[i]) == 0 {
		return false
	}
	var seen [hdrReplyTo + 1]bool
	count, wrapped := 0, 0
	for j := i; j < len(lines) && j < i+10; j++ {
		c := headerField(lines[j])
		if c == 0 {
			if isBlank(lines[j]) || wrapped == 2 || j+1 >= len(lines) || headerField(lines[j+1]) == 0 {
				break
			}
			wrapped++
			continue
		}
		if !seen[c] {
			seen[c] = true
			count++
		}
	}
	return count >= 3 && seen[hdrFrom]
}

// strongAttributions are the lines, possibly wrapped (joined with single
// spaces), by which clients introduce the quoted mail. Each has a date or an
// address, so a line of the author's own text rarely looks like one.
var strongAttributions = []*regexp.Regexp{
	// On Mon, Apr 2, 2012 at 6:26 PM, Megan One <xxx@gmail.com> wrote:
	// At 6/16/2016 08:32 PM, you wrote:
	// ---- On Tue, 22 Dec 2015 14:17:36 +0530 Sam <info@example.org> wrote ----
	regexp.MustCompile(`^(On|At)\s.*\d.*\s(wrote|writes)\s*:?$`),
	// Some One <info@example.org> wrote: / Gavin (gs@example.org) wrote:
	regexp.MustCompile(`(?i)^.{0,200}[\w.+-]+@[\w-]+(\.[\w-]+)+.{0,40}\s(wrote|writes|schrieb|a écrit|escribió|escreveu|ha scritto)\s*:$`),
	// codinghorror via Discourse Meta wrote:
	regexp.MustCompile(`(?i)^.+\svia\s.+\s(wrote|schrieb)\s*:$`),
	// Max <max@example.org> schrieb am Fr., 28. Apr. 2017 um 11:53 Uhr:
	regexp.MustCompile(`(?i)^.+\s(wrote|schrieb)\s+(on|am)\s.*\d.*:$`),
	// Le 4 janv. 2016 19:03, "Neil" <info@example.org> a écrit :
	regexp.MustCompile(`^Le\s.*\d.*\s(a\s+écrit|nous a dit)\s*:?$`),
	// Am 03.02.2016 3:35 nachm. schrieb Max <noreply@example.org>:
	regexp.MustCompile(`^Am\s.*\d.*\s(schrieb|geschrieben|schrieben Sie)\b.*:$`),
	// El jueves, 21 de noviembre de 2013, codinghorror escribió:
	regexp.MustCompile(`^El\s.*\d.*\sescribió\s*:?$`),
	// Em 2 de fevereiro de 2015 10:58, discourse <info@example.org> escreveu:
	regexp.MustCompile(`^Em\s.*\d.*\sescreveu\s*:?$`),
	// Il 26 marzo 2016 alle 13.16 Sam <info@example.org> ha scritto:
	regexp.MustCompile(`^Il\s.*\d.*\sha scritto\s*:?$`),
	// Op 16 aug. 2014 05:13 schreef "x" <info@example.org> het volgende geschreven:
	regexp.MustCompile(`^Op\s.*\d.*\s(schreef|geschreven)\b.*:$`),
	// Den 15. jun. 2016 kl. 20.42 skrev Jeff <info@example.org>:
	regexp.MustCompile(`(?i)^.*\d.*\sskrev\s.+:$`),
	// Dnia 14 lip 2015 o godz. 00:25 Michael <info@example.org> napisał(a):
	regexp.MustCompile(`^.*\d.*\snapisał(\(a\))?\s*:$`),
	// 20 окт. 2016 г. 19:37 пользователь "R" <meta@example.org> написал:
	// 30 серп. 2016 р. 20:45 "Arpit" <no-reply@example.com> пише:
	regexp.MustCompile(`^.*\d.*\s(написал(а|\(а\))?|пише)\s*:$`),
	// 在 2016年12月12日，下午8:45，Erlend <meta@example.org> 写道：
	regexp.MustCompile(`^在.*\d.*写道\s*[:：]?$`),
	// 2026년 11월 20일 (목) 오후 3:12, 홍길동 <hong@example.com>님이 작성:
	// 2026. 11. 20. 오후 3:12, 홍길동 <hong@example.com> 작성:
	regexp.MustCompile(`^.*\d{4}.*(@.*\s|님이\s*)작성(함|한 메시지|했습니다)?\s*[:：]$`),
	// A date, an address and a colon:
	// 2015-10-18 0:17 GMT+03:00 Matt <info@example.org>:
	// 26.06.2014, 14:41, "Alexander L" <abc@example.com>:
	// Thu, 26 Jun 2014 14:00:51 +0400 от Alexander L <abc@example.com>:
	regexp.MustCompile(`^.*\d{4}.*<\s*[^<>\s@]+@[^<>\s]+\s*>\s*[:：]$`),
	// 2013/7/20 sam via Discourse Meta <info@example.org>
	regexp.MustCompile(`^\d{4}[/.-]\d{1,2}[/.-]\d{1,2}\s.*<[^<>\s@]+@[^<>\s]+>$`),
	// 2016-03-03 17:21 GMT+01:00 Some One
	regexp.MustCompile(`^\d{4}-\d\d-\d\d \d{1,2}:\d\d GMT[+-]\d\d:\d\d\s.+$`),
}

// datedAttribution is any language's verb after a date, the verb perhaps
// followed by a parenthesis ("ezt írta (időpont: ...)"); it is tried only
// on lines that have a verb and end with a colon:
//
//	2026-11-20 오후 3:05에 홍길동 이(가) 쓴 글:       (Thunderbird, Korean)
//	2026년 11월 20일 금요일, 홍길동님이 쓴 글:
//	W dniu 20.11.2026 o 15:05, Hong <hong@example.com> pisze:
//	pe 20. marrask. 2026 klo 15.05 Matti <matti@example.fi> kirjoitti:
//	2026年11月20日(金) 15:05 山田太郎 <taro@example.jp>のメッセージ:
//	张三 <zhang@example.cn> 于2026年11月20日周五 下午3:05写道：
//	El dv., 20 de nov. 2026 a les 15:05, Hong (<hong@example.com>) va escriure:
var datedAttribution = regexp.MustCompile(`^.*\d.*` + attributionVerbs + `\s*(\([^()]*\))?\s*[:：]$`)

// attributionVerbs are the verbs by which clients say who wrote the quoted
// mail, in the languages the rules know.
const attributionVerbs = `(wrote|writes|said|says|schrieb|geschrieben|écrit|nous a dit|escribió|escreveu|` +
	`scritto|schreef|skrev|napisał(\(a\))?|pisze|napsal(\(a\))?|написал(а|\(а\))?|пише|kirjoitti|írta|` +
	`ha escrit|va escriure|escrit|yazdı|写道|寫道|書きました|のメッセージ|` +
	`(님이|이\(가\)|[가이>])\s*(작성|쓴\s*글)(함|한 메시지|했습니다)?)`

// attributionWords are the verbs of attributionVerbs as plain text, to
// tell quickly whether a line has one. With an address (an "@"), a verb
// also makes a weak attribution: a line that introduces a quote only when
// a quote follows it ("Bob wrote:", "홍길동 님이 작성:").
var attributionWords = []string{
	"wrote", "writes", "said", "says", "schrieb", "geschrieben", "écrit", "nous a dit", "escribió", "escreveu",
	"scritto", "schreef", "skrev", "napisa", "pisze", "napsal", "написал", "пише", "kirjoitti", "írta",
	"escrit", "escriure", "yazdı", "写道", "寫道", "書きました", "のメッセージ", "작성", "쓴 글", "쓴글",
}

// hasAttributionWord reports whether s has one of attributionWords.
func hasAttributionWord(s string) bool {
	for _, w := range attributionWords {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// matchAttribution classifies s, one line or wrapped lines joined with single
// spaces.
func (r *rules) matchAttribution(s string) (strong, weak bool) {
	s = strings.Trim(s, " \t*-_\u00a0")
	if s == "" || !utf8.ValidString(s) {
		return false, false
	}
	// Most lines of text can be told apart without a regular expression:
	// every form ends with a colon, except a few that start with "On" and
	// the like, or with a date.
	end, _ := utf8.DecodeLastRuneInString(s)
	colon := end == ':' || end == '：'
	if !colon && !('0' <= s[0] && s[0] <= '9') && !hasAnyPrefix(s, "On ", "At ", "Le ", "El ", "Em ", "Il ") {
		return false, false
	}
	hasAt := strings.ContainsRune(s, '@')
	verb := func() bool { return hasAttributionWord(lineTail(s, maxVerbTail)) }
	if !hasAt && !strings.Contains(s, "GMT") && !verb() {
		return false, false // every form has a verb, an address or a GMT offset
	}
	if r.budget <= 0 {
		return false, false
	}
	r.budget--
	for _, re := range strongAttributions {
		if re.MatchString(s) {
			return true, true
		}
	}
	if !colon {
		return false, false
	}
	if verb() {
		return datedAttribution.MatchString(s), true
	}
	return false, hasAt
}

// maxVerbTail is how far from its end an attribution has its verb: only a
// parenthesis or a name and an address come after it.
const maxVerbTail = 120

// lineTail returns the last n bytes of s or fewer, starting at a character.
func lineTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := len(s) - n
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return s[i:]
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// attribution reports whether an attribution starts at line i, and the line
// it ends on. A strong attribution has a date or an address and marks the
// history even without a quote after it; a weak one only introduces a quote.
func (r *rules) attribution(lines []string, i int) (end int, strong, ok bool) {
	first := lines[i]
	if r.budget <= 0 || isBlank(first) || isQuote(first) || len(first) > maxAttrLine {
		return 0, false, false
	}
	if s, w := r.matchAttribution(first); w {
		return i, s, true
	}
	// Wrapped: the first line starts like an attribution, the last line
	// ends with a colon, and together they make a strong match. The
	// attribution starts at the latest line that still makes one, so a line
	// of text before it is not taken in.
	if !startsAttribution(first) {
		return 0, false, false
	}
	for e := i + 1; e < len(lines) && e < i+maxAttrLines; e++ {
		l := strings.TrimRight(lines[e], " \t")
		if len(l) > maxAttrLine {
			return 0, false, false
		}
		if !strings.HasSuffix(l, ":") && !strings.HasSuffix(l, "：") {
			continue
		}
		s, _ := r.matchAttribution(joinLines(lines[i : e+1]))
		if !s {
			continue // only strong forms are taken over several lines
		}
		for k := i + 1; k <= e; k++ {
			if !startsAttribution(lines[k]) {
				continue // a continuation: "<addr> wrote:"
			}
			if p := joinLines(lines[i:k]); strings.Count(p, "<") > strings.Count(p, ">") ||
				strings.Count(p, "(") > strings.Count(p, ")") || strings.HasSuffix(p, ",") {
				continue // the lines before are cut inside an address, a parenthesis or a list
			}
			if later, _ := r.matchAttribution(joinLines(lines[k : e+1])); later {
				return 0, false, false
			}
		}
		return e, true, true
	}
	return 0, false, false
}

// attributionStart is how the first line of a wrapped attribution starts:
// with the word before the date ("On", "Le", "Am", ...), with the date, or
// with a name before an address ("Max <max@example.org> schrieb am Fr.,").
var attributionStart = regexp.MustCompile(`^((On|At|Le|Am|El|Em|Op|Il|Dnia|Dňa|Den|den|W dniu|在)\s|\d|\p{L}{1,5}\.?,?\s\d|[^<>@]*[^<>@\s]\s*<[^<>\s]*@)`)

// startsAttribution reports whether l can be the first line of a wrapped
// attribution; continuation lines ("<addr> wrote:", "um 12:52 Uhr:") and
// most lines of text cannot.
func startsAttribution(l string) bool {
	t := strings.Trim(l, " \t*-_\u00a0")
	switch {
	case t == "":
		return false
	case '0' <= t[0] && t[0] <= '9':
		return true
	case !strings.ContainsRune(t, '@') && !hasAnyPrefix(t, "On", "At", "Le", "Am", "El", "Em", "Op", "Il", "Dn", "De", "de", "W ", "在") &&
		!strings.ContainsAny(t[:min(len(t), 12)], "0123456789"):
		return false
	}
	return attributionStart.MatchString(t)
}

// joinLines joins wrapped lines with single spaces.
func joinLines(lines []string) string {
	return strings.Join(strings.Fields(strings.Join(lines, " ")), " ")
}
