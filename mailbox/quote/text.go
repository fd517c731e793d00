package quote

import (
	"regexp"
	"slices"
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
// history or a signature:
//   - an attribution such as "On <date>, <name> wrote:", also wrapped over a
//     few lines and in the forms of other languages and clients ("Le ... a
//     écrit :", "Am ... schrieb ...:", Gmail's "2026년 11월 20일 (목) 오후 3:12,
//     이름 <addr>님이 작성:", Apple's "2026. 11. 20. 오후 3:12, 이름 <addr>
//     작성:", ...);
//   - a separator such as "-----Original Message-----", "---------- Forwarded
//     message ---------", "-------- 원본 메시지 --------";
//   - a quoted header block: three or more consecutive header fields, one of
//     them the sender ("From:", "*From:*", "보낸 사람:", "발신:", "Von:", ...),
//     as Outlook, Naver, Samsung Email and others write them;
//   - the signature delimiter "-- " (RFC 3676 section 4.3; "--" alone too);
//   - a mobile client's signature ("Sent from my iPhone", "iPhone에서 보냄",
//     "Samsung Galaxy 스마트폰에서 보냈습니다.", "Get Outlook for Android", ...).
//
// A trailing block of "> " quoted lines is cut too, with its attribution. A
// quote followed by more of the author's text is an interleaved reply: the
// quote and the text stay, only the attribution line goes. A reply written
// below an attribution and its quote (bottom-posting) keeps only what follows
// the quote, and a mail that starts with a forwarded header block keeps the
// forwarded text. Sign-offs such as "감사합니다." or "Thanks, Bob" are text
// and stay.
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
	r := &rules{budget: attrBudget}
	kept := r.visibleLines(lines)
	if !hasText(kept) {
		return joinTrimmed(lines)
	}
	if tail := len(lines) - len(kept); slices.Equal(kept, lines[tail:]) {
		// Nothing was cut at the end: a substring of text, not a copy (a
		// 25 MB text body would otherwise be copied once more).
		first := nextNonBlank(lines, tail)
		off := 0
		for _, l := range lines[:first] {
			off += len(l) + 1
		}
		return strings.TrimRightFunc(text[min(off, len(text)):], unicode.IsSpace)
	}
	return joinTrimmed(kept)
}

// rules applies the rules of Visible to one text.
type rules struct {
	budget int // attribution candidates left to look at
}

// visibleLines applies the rules of Visible to lines.
func (r *rules) visibleLines(lines []string) []string {
	n := len(lines)
	start := r.skipTop(lines)
	var kept []string
scan:
	for i := start; i < n; i++ {
		l := lines[i]
		if isBlank(l) || isQuote(l) {
			kept = append(kept, l)
			continue
		}
		if isSigDelimiter(l) || isMobileSignature(l) || isSeparator(l) || isHeaderBlock(lines, i) {
			break
		}
		if end, strong, ok := r.attribution(lines, i); ok {
			k := nextNonBlank(lines, end+1)
			switch {
			case k < n && isQuote(lines[k]):
				if !r.textAfterQuote(lines, quoteBlockEnd(lines, k)) {
					break scan
				}
				// An interleaved reply: keep the quote and the text after
				// it, drop only the attribution.
				i = end
				continue
			case strong:
				break scan
			}
		}
		kept = append(kept, l)
	}
	return r.trimTrailing(kept)
}

// skipTop returns where the author's text starts: after an attribution and
// its quote when the reply is written below them (bottom-posting), after an
// attribution that is followed directly by unquoted text, and after the
// separator and header block that start a forwarded mail.
func (r *rules) skipTop(lines []string) int {
	n := len(lines)
	i := nextNonBlank(lines, 0)
	if i == n || isQuote(lines[i]) {
		return i
	}
	if end, strong, ok := r.attribution(lines, i); ok {
		k := nextNonBlank(lines, end+1)
		switch {
		case k < n && isQuote(lines[k]):
			m := nextNonBlank(lines, quoteBlockEnd(lines, k))
			if m < n && !quoteBefore(lines, m) {
				return m // bottom-posted: what follows the quote is the reply
			}
			return k // interleaved from the top, or nothing but the quote
		case strong:
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

// trimTrailing removes trailing blank lines, lines that are only a rule
// ("-----", "_____", "ᐧ"), and a trailing block of quoted lines together with
// the attribution just before it, as long as some unquoted text stays.
func (r *rules) trimTrailing(l []string) []string {
	// first is the first line of text; lines are only ever cut from the
	// end, so "some text stays" is first < the new length.
	first := len(l)
	for i, s := range l {
		if !isBlank(s) && !isQuote(s) && !isRule(s) {
			first = i
			break
		}
	}
	for {
		for len(l) > 0 && (isBlank(l[len(l)-1]) || isRule(l[len(l)-1])) {
			l = l[:len(l)-1]
		}
		if len(l) == 0 || !isQuote(l[len(l)-1]) {
			return l
		}
		q := len(l)
		for q > 0 && (isQuote(l[q-1]) || isBlank(l[q-1])) {
			q--
		}
		if first >= q {
			return l // only a quote: keep it, there is nothing else
		}
		l = l[:q]
		for len(l) > 0 && isBlank(l[len(l)-1]) {
			l = l[:len(l)-1]
		}
		// The attribution of the quote ends on the last line left.
		last := len(l) - 1
		for s := last; s >= 0 && s > last-maxAttrLines; s-- {
			if end, _, ok := r.attribution(l, s); ok && end == last {
				l = l[:s]
				break
			}
		}
	}
}

// textAfterQuote reports whether unquoted text of the author follows line i
// (the end of a quote block) before the next marker of history or signature:
// then the quote is interleaved in the reply rather than trailing.
func (r *rules) textAfterQuote(lines []string, i int) bool {
	for ; i < len(lines); i++ {
		l := lines[i]
		switch {
		case isBlank(l) || isQuote(l) || isRule(l):
			continue
		case isSigDelimiter(l) || isMobileSignature(l) || isSeparator(l) || isHeaderBlock(lines, i):
			return false
		}
		if end, strong, ok := r.attribution(lines, i); ok {
			if k := nextNonBlank(lines, end+1); k < len(lines) && isQuote(lines[k]) {
				i = end // the attribution of a further quote
				continue
			}
			if strong {
				return false
			}
		}
		return true
	}
	return false
}

// quoteBefore reports whether a quoted line comes at or after line i, before
// the next marker of history or signature.
func quoteBefore(lines []string, i int) bool {
	for ; i < len(lines); i++ {
		l := lines[i]
		switch {
		case isQuote(l):
			return true
		case isSigDelimiter(l) || isMobileSignature(l) || isSeparator(l) || isHeaderBlock(lines, i):
			return false
		}
	}
	return false
}

// quoteBlockEnd returns the index after the quote block that starts at line
// i: quoted lines, and blank lines between quoted lines.
func quoteBlockEnd(lines []string, i int) int {
	end := i
	for j := i; j < len(lines); j++ {
		if isQuote(lines[j]) {
			end = j + 1
		} else if !isBlank(lines[j]) {
			break
		}
	}
	return end
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
		`원본\s*메시지|원본\s*메세지|전달된\s*메시지|전달된\s*메일|전달\s*메시지)\s*-{2,}$`),
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
	if c, _ := utf8.DecodeRuneInString(strings.TrimLeft(t, "(<[ ")); !strings.ContainsRune(mobileFirst, unicode.ToLower(c)) {
		return false
	}
	if strings.ContainsAny(t, "[<(") {
		t = markdownLink.ReplaceAllString(t, "$1")
		t = bracketURL.ReplaceAllString(t, "")
	}
	t = strings.TrimSpace(strings.Trim(t, "()<>"))
	for _, re := range mobileSignatures {
		if re.MatchString(t) {
			return true
		}
	}
	return false
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
	"fra": hdrFrom, "sendt": hdrDate, "til": hdrTo, "emne": hdrSubject,
	"от": hdrFrom, "отправлено": hdrDate, "дата": hdrDate, "кому": hdrTo, "копия": hdrCc, "тема": hdrSubject,
	"发件人": hdrFrom, "发送时间": hdrDate, "日期": hdrDate, "收件人": hdrTo, "抄送": hdrCc, "主题": hdrSubject,
	"差出人": hdrFrom, "送信日時": hdrDate, "宛先": hdrTo, "件名": hdrSubject,
}

// headerField returns the class of the header field l starts, or 0.
func headerField(l string) int {
	t := strings.TrimLeft(l, " \t*")
	i := strings.IndexAny(t[:min(len(t), 44)], ":：")
	if i <= 0 || i > 40 {
		return 0
	}
	key := strings.Trim(t[:i], " \t*")
	if strings.Contains(key, "  ") || strings.ContainsRune(key, '\t') {
		key = strings.Join(strings.Fields(key), " ")
	}
	return headerKeys[strings.ToLower(key)]
}

// isHeaderBlock reports whether a quoted header block starts at line i: at
// least three consecutive header fields of different names, one of them the
// sender.
func isHeaderBlock(lines []string, i int) bool {
	if headerField(lines[i]) == 0 {
		return false
	}
	seen := map[int]bool{}
	count := 0
	for j := i; j < len(lines) && j < i+8; j++ {
		c := headerField(lines[j])
		if c == 0 {
			break
		}
		seen[c] = true
		count++
	}
	return count >= 3 && len(seen) >= 3 && seen[hdrFrom]
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

// attributionWord is the verb of an attribution in the languages the rules
// know. With an address (an "@"), it also makes a weak attribution: a line
// that introduces a quote only when a quote follows it ("Bob wrote:",
// "홍길동 님이 작성:").
var attributionWord = regexp.MustCompile(`(?i)(wrote|writes|said|says|schrieb|geschrieben|écrit|nous a dit|` +
	`escribió|escreveu|scritto|schreef|skrev|napisał|написал|пише|写道|작성|書きました)`)

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
	if !hasAt && !strings.Contains(s, "GMT") && !attributionWord.MatchString(s) {
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
	return false, colon && (hasAt || attributionWord.MatchString(s))
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
			if p := joinLines(lines[i:k]); strings.Count(p, "<") > strings.Count(p, ">") || strings.HasSuffix(p, ",") {
				continue // the lines before are cut inside an address or a list
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
var attributionStart = regexp.MustCompile(`^((On|At|Le|Am|El|Em|Op|Il|Dnia|Dňa|Den|den|在)\s|\d|[^<>@]*[^<>@\s]\s*<[^<>\s]*@)`)

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
	case !strings.ContainsRune(t, '@') && !hasAnyPrefix(t, "On", "At", "Le", "Am", "El", "Em", "Op", "Il", "Dn", "De", "de", "在"):
		return false
	}
	return attributionStart.MatchString(t)
}

// joinLines joins wrapped lines with single spaces.
func joinLines(lines []string) string {
	return strings.Join(strings.Fields(strings.Join(lines, " ")), " ")
}
