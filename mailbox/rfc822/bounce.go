package rfc822

// Delivery failure reports ("bounces").
//
// Parse sets Mail.Bounce when a mail is a report that mail we sent could
// not be delivered, or is delayed. Two kinds are read:
//
//   - RFC 3464 delivery status notifications: a message/delivery-status
//     part (normally inside multipart/report; report-type=delivery-status,
//     RFC 6522) with one group of per-recipient fields per recipient
//     (../rfc/3464 section 2.3). Bounce.Standard is true.
//   - The text that common mail software writes when it sends no such part:
//     Postfix and Sendmail notices, qmail-send, Exim (with its
//     X-Failed-Recipients header), Exchange and Office 365 NDR text, Gmail's
//     old plain text notices, and two Korean webmail layouts.
//     Bounce.Standard is false.
//
// A text is only taken for a bounce when its header says it comes from mail
// software (From or Return-Path MAILER-DAEMON or postmaster, a null
// Return-Path, X-Failed-Recipients) or its Subject starts like a bounce's,
// and the text holds a phrase one of those programs writes and a list of
// recipients in a layout it uses. Ordinary mail that talks about a failed
// delivery, quotes a bounce or forwards one stays ordinary mail.
//
// A report that lists only successful deliveries (Action delivered,
// relayed or expanded) is not a bounce.

import (
	"bytes"
	"io"
	"regexp"
	"strings"
)

const (
	// maxReportPart bounds how much of one report part is kept.
	maxReportPart = 64 << 10
	// maxReportParts bounds how many parts of each kind are kept.
	maxReportParts = 8
	// maxReportText bounds how much of the text body is searched.
	maxReportText = 64 << 10
	// maxBounceRecipients bounds Bounce.Recipients.
	maxBounceRecipients = 200
	// maxDiagnostic bounds BounceRecipient.Diagnostic, in bytes.
	maxDiagnostic = 300
)

// reportParts keeps, while Parse walks a mail, the decoded bytes of the
// parts a delivery report is read from. leaf hands it every part that is not
// body text (see tee); it keeps only the kinds below.
type reportParts struct {
	// status holds message/delivery-status parts (RFC 3464 section 2).
	status []*cappedBuffer
	// returned holds the returned message: text/rfc822-headers parts (RFC
	// 6522 section 4) and message/rfc822 parts, of which only the header is
	// read.
	returned []*cappedBuffer
}

// tee returns w, or, when mt is a kind of part a delivery report is read
// from, a writer that also keeps the first maxReportPart bytes written.
func (r *reportParts) tee(mt string, w io.Writer) io.Writer {
	var list *[]*cappedBuffer
	switch mt {
	case "message/delivery-status", "message/global-delivery-status":
		list = &r.status
	case "text/rfc822-headers", "message/global-headers", "message/rfc822", "message/global":
		list = &r.returned
	default:
		return w
	}
	if len(*list) >= maxReportParts {
		return w
	}
	// Of a returned message only the header is read.
	b := &cappedBuffer{limit: maxReportPart, headerOnly: list == &r.returned}
	*list = append(*list, b)
	return io.MultiWriter(w, b)
}

// cappedBuffer keeps the first limit bytes written to it, or with
// headerOnly the bytes up to the first empty line, and drops the rest
// without error.
type cappedBuffer struct {
	buf        bytes.Buffer
	limit      int
	headerOnly bool
	done       bool
}

func (c *cappedBuffer) Write(b []byte) (int, error) {
	if c.done {
		return len(b), nil
	}
	n := len(b)
	if c.headerOnly && c.buf.Len() == 0 {
		b = bytes.TrimLeft(b, "\r\n") // empty lines before the header
	}
	if room := c.limit - c.buf.Len(); room > 0 {
		start := max(0, c.buf.Len()-3) // an empty line may span two writes
		c.buf.Write(b[:min(room, len(b))])
		if c.headerOnly {
			tail := c.buf.Bytes()[start:]
			if i := bytes.Index(tail, []byte("\n\n")); i >= 0 {
				c.buf.Truncate(start + i + 2)
				c.done = true
			} else if i := bytes.Index(tail, []byte("\n\r\n")); i >= 0 {
				c.buf.Truncate(start + i + 3)
				c.done = true
			}
		}
	}
	return n, nil
}

// bounce returns what the delivery report in m says, or nil when m is not a
// delivery failure report. It runs once the rest of m is parsed.
func (p *parser) bounce(m *Message) *Bounce {
	b := p.readBounce(m)
	if b == nil {
		return nil
	}
	b.OriginalMessageID = validString(b.OriginalMessageID)
	for i := range b.Recipients {
		r := &b.Recipients[i]
		r.Email = validString(r.Email)
		r.Diagnostic = shorten(validString(r.Diagnostic), maxDiagnostic)
	}
	return b
}

func (p *parser) readBounce(m *Message) *Bounce {
	// RFC 3464: the per-recipient fields decide, and a report that names
	// recipients but none that failed or is delayed is no bounce.
	d := readDSN(p.report.status)
	if d.groups > 0 {
		if len(d.recips) == 0 {
			return nil
		}
		_, quoted := splitReturned(m.Text)
		return &Bounce{Standard: true, OriginalMessageID: p.originalID(m, d.messageID, quoted), Recipients: d.recips}
	}
	mt, params := parseMediaType(p.hdr.Get("Content-Type"), "")
	rt := strings.ToLower(params["report-type"])
	isDSN := mt == "multipart/report" && (rt == "delivery-status" || rt == "global-delivery-status")
	recips, quoted, ok := p.textBounce(m)
	if !ok && !isDSN {
		return nil
	}
	// A text bounce, or a multipart/report whose status part could not be
	// read: its recipients are read from the text, if they can be.
	return &Bounce{Standard: isDSN, OriginalMessageID: p.originalID(m, d.messageID, quoted), Recipients: recips}
}

// originalID returns the Message-ID of the mail a report is about: the
// report's Original-Message-ID field, else the Message-ID of the returned
// message or header, else one quoted in the text, else In-Reply-To (Gmail
// and Exchange set it to the failed mail).
func (p *parser) originalID(m *Message, field, quoted string) string {
	if field != "" {
		return field
	}
	if id := p.returnedMessageID(); id != "" {
		return id
	}
	if id := quotedMessageID(quoted); id != "" {
		return id
	}
	return m.InReplyTo
}

// returnedMessageID returns the Message-ID of the first returned message
// (or returned header) that has one.
func (p *parser) returnedMessageID() string {
	for _, b := range p.report.returned {
		hb, _, _ := splitHeader(trimLeadingBlankLines(b.buf.Bytes()))
		if id := headerMessageID(hb); id != "" {
			return id
		}
	}
	return ""
}

// headerMessageID returns the first identifier in the Message-ID field of a
// header block, read leniently (the block may be cut short).
func headerMessageID(hb []byte) string {
	lines := strings.Split(normalizeNewlines(string(hb)), "\n")
	for i, l := range lines {
		name, v, ok := strings.Cut(l, ":")
		if !ok || l[0] == ' ' || l[0] == '\t' || !strings.EqualFold(strings.TrimSpace(name), "Message-ID") {
			continue
		}
		for _, c := range lines[i+1:] {
			if c == "" || (c[0] != ' ' && c[0] != '\t') {
				break
			}
			v += " " + c
		}
		if ids := msgIDs(v); len(ids) > 0 {
			return ids[0]
		}
	}
	return ""
}

// dsn is what the message/delivery-status parts of a mail say.
type dsn struct {
	// groups counts the per-recipient groups read, whatever their action.
	groups int
	// recips are the recipients that failed or are delayed.
	recips []BounceRecipient
	// messageID is the Original-Message-ID (or X-Original-Message-ID)
	// field, which RFC 3464 does not define but Gmail and others add to the
	// per-message fields.
	messageID string
}

// readDSN reads the per-message and per-recipient fields (RFC 3464 section
// 2.2 and 2.3) of each status part. Groups are separated by empty lines; a
// group without a recipient field right after a recipient group that lacks
// both Action and Status is taken as its rest (some MTAs put an empty line
// inside a group). Text that is not fields is skipped.
func readDSN(parts []*cappedBuffer) dsn {
	var d dsn
	seen := map[string]bool{}
	for _, part := range parts {
		var pending map[string]string
		for _, g := range dsnGroups(part.buf.Bytes()) {
			for _, k := range []string{"original-message-id", "x-original-message-id"} {
				if ids := msgIDs(g[k]); d.messageID == "" && len(ids) > 0 {
					d.messageID = ids[0]
				}
			}
			complete := g["action"] != "" || g["status"] != ""
			if g["final-recipient"] == "" && g["original-recipient"] == "" {
				if pending != nil && complete {
					for k, v := range g {
						pending[k] = v
					}
					d.add(pending, seen)
					pending = nil
				}
				continue
			}
			d.groups++
			if pending != nil {
				d.add(pending, seen)
			}
			pending = g
			if complete {
				d.add(g, seen)
				pending = nil
			}
		}
		if pending != nil {
			d.add(pending, seen)
		}
	}
	return d
}

// add adds the recipient of one per-recipient group if it failed or is
// delayed; a recipient named twice counts once.
func (d *dsn) add(g map[string]string, seen map[string]bool) {
	email := dsnAddress(g["original-recipient"])
	if !strings.Contains(email, "@") {
		if f := dsnAddress(g["final-recipient"]); f != "" {
			email = f
		}
	}
	key := strings.ToLower(email)
	if email == "" || seen[key] {
		return
	}
	seen[key] = true
	action := strings.ToLower(firstWord(g["action"]))
	diag := g["diagnostic-code"]
	if t, rest, ok := strings.Cut(diag, ";"); ok && isToken(strings.TrimSpace(t)) {
		diag = rest // "smtp; 550 ...": drop the diagnostic type
	}
	diag = strings.Join(strings.Fields(diag), " ")
	status := ""
	if mm := dsnStatus.FindStringSubmatch(g["status"]); mm != nil {
		status = mm[1]
	}
	if status == "" {
		status = statusFromText(diag)
	}
	if status == "" {
		status = "5.0.0"
		if action == "delayed" {
			status = "4.0.0"
		}
	}
	if action == "" {
		switch status[0] {
		case '2':
			action = "delivered"
		case '4':
			action = "delayed"
		default:
			action = "failed"
		}
	}
	if (action != "failed" && action != "delayed") || len(d.recips) >= maxBounceRecipients {
		return
	}
	d.recips = append(d.recips, BounceRecipient{Email: email, Status: status, Action: action, Diagnostic: diag})
}

// dsnGroups splits a status part into groups of fields separated by empty
// lines, each keyed by lower-cased field name (first value), with folded
// lines unfolded.
func dsnGroups(b []byte) []map[string]string {
	var groups []map[string]string
	cur := map[string]string{}
	lastKey := ""
	flush := func() {
		if len(cur) > 0 {
			groups = append(groups, cur)
		}
		cur, lastKey = map[string]string{}, ""
	}
	for _, l := range strings.Split(normalizeNewlines(string(b)), "\n") {
		if strings.TrimSpace(l) == "" {
			flush()
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			if lastKey != "" {
				cur[lastKey] += " " + strings.TrimSpace(l)
			}
			continue
		}
		name, v, ok := strings.Cut(l, ":")
		name = strings.ToLower(strings.TrimSpace(name))
		if !ok || !fieldName.MatchString(name) {
			lastKey = ""
			continue
		}
		if _, dup := cur[name]; dup {
			lastKey = ""
			continue
		}
		cur[name] = strings.TrimSpace(v)
		lastKey = name
	}
	flush()
	return groups
}

var (
	fieldName = regexp.MustCompile(`^[a-z0-9-]+$`)
	// dsnStatus reads a Status field (RFC 3464 section 2.3.4, RFC 3463
	// section 2).
	dsnStatus = regexp.MustCompile(`^\s*([245]\.\d{1,3}\.\d{1,3})(?:\D|$)`)
)

// dsnAddress reads an address field value "type; address" (RFC 3464
// section 2.3.1 and 2.3.2). A "utf-8" address (RFC 6533 section 3) has its
// \x{...} escapes undone.
func dsnAddress(v string) string {
	typ, a, ok := strings.Cut(v, ";")
	if !ok {
		a, typ = typ, ""
	}
	a = strings.TrimSpace(a)
	if strings.EqualFold(strings.TrimSpace(typ), "utf-8") {
		a = unescapeUTF8Addr(a)
	}
	if i := strings.IndexByte(a, '<'); i >= 0 {
		if j := strings.IndexByte(a[i:], '>'); j > 0 {
			a = a[i+1 : i+j]
		}
	}
	if f := strings.Fields(a); len(f) > 0 {
		a = f[0]
	} else {
		a = ""
	}
	return NormEmail(a)
}

var utf8AddrEscape = regexp.MustCompile(`\\x\{([0-9A-Fa-f]{1,6})\}`)

func unescapeUTF8Addr(s string) string {
	return utf8AddrEscape.ReplaceAllStringFunc(s, func(e string) string {
		var r rune
		for _, c := range e[3 : len(e)-1] {
			v, _ := unhex(byte(c))
			r = r<<4 | rune(v)
		}
		return string(r)
	})
}

func firstWord(s string) string {
	if f := strings.Fields(strings.NewReplacer("(", " ", ";", " ").Replace(s)); len(f) > 0 {
		return f[0]
	}
	return ""
}

// EnhancedCode returns the first RFC 3463 enhanced status code of class 4 or
// 5 in s ("5.1.1" in "550-5.1.1 The email account..."), or "". A code must
// stand alone: "10.4.5.6" or "8.14.2" hold none.
func EnhancedCode(s string) string {
	for i := 0; i+5 <= len(s); i++ {
		c := s[i]
		if c != '4' && c != '5' {
			continue
		}
		if i > 0 && (isDigit(s[i-1]) || s[i-1] == '.' || isAlpha(s[i-1])) {
			continue
		}
		j := i + 1
		ok := true
		for k := 0; k < 2 && ok; k++ {
			if j >= len(s) || s[j] != '.' {
				ok = false
				break
			}
			j++
			n := 0
			for j < len(s) && isDigit(s[j]) && n < 4 {
				j++
				n++
			}
			ok = n >= 1 && n <= 3
		}
		if !ok {
			continue
		}
		if j < len(s) && (isDigit(s[j]) || isAlpha(s[j]) || (s[j] == '.' && j+1 < len(s) && isDigit(s[j+1]))) {
			continue
		}
		return s[i:j]
	}
	return ""
}

// basicCode returns the class ("4" or "5") of the first SMTP reply code
// 4yz or 5yz (RFC 5321 section 4.2) that stands alone in s, or "".
func basicCode(s string) string {
	for i := 0; i+3 <= len(s); i++ {
		c := s[i]
		if c != '4' && c != '5' {
			continue
		}
		if i > 0 && (isDigit(s[i-1]) || isAlpha(s[i-1]) || strings.IndexByte(".-/:", s[i-1]) >= 0) {
			continue
		}
		if s[i+1] < '0' || s[i+1] > '5' || !isDigit(s[i+2]) {
			continue
		}
		if i+3 < len(s) && s[i+3] != ' ' && s[i+3] != '-' && s[i+3] != '\t' && s[i+3] != '\n' {
			continue
		}
		return string(c)
	}
	return ""
}

// statusFromText returns the enhanced code in s, else "5.0.0" or "4.0.0"
// from a basic reply code, else "".
func statusFromText(s string) string {
	if c := EnhancedCode(s); c != "" {
		return c
	}
	if c := basicCode(s); c != "" {
		return c + ".0.0"
	}
	return ""
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

// Text bounces.

// bounceSenders are local parts of the From or Return-Path address of
// reports written by mail software. Office 365 sends its NDRs from
// MicrosoftExchange<hex>@domain.
var bounceSenders = []string{"mailer-daemon", "mailer_daemon", "mailerdaemon", "mail-daemon", "postmaster", "microsoftexchange"}

// bounceSubjects are how the Subject of a bounce starts (lower-cased).
// A reply or forward ("Re:", "Fwd:") does not match.
var bounceSubjects = []string{
	"undelivered mail returned to sender", // Postfix
	"delayed mail (still being retried)",  // Postfix
	"returned mail:",                      // Sendmail
	"warning: could not send message",     // Sendmail
	"failure notice",                      // qmail
	"mail delivery failed",                // Exim
	"warning: message ",                   // Exim: "Warning: message 1abc-... delayed 24 hours"
	"undeliverable:",                      // Exchange, Office 365
	"delivery status notification (failure)",
	"delivery status notification (delay)", // Gmail, Exchange
	"mail system error - returned mail",
	"메일 발송 실패",    // Naver
	"메일이 반송되었습니다", // Daum
}

// bounceStrong are phrases (lower-cased) that only mail software writes in
// a bounce. A mail with a bounce Subject needs one of them.
var bounceStrong = []string{
	"this is the mail system at host",                                  // Postfix
	"i'm sorry to have to inform you that your message could not",      // Postfix
	"following addresses had permanent fatal errors",                   // Sendmail
	"----- transcript of session follows -----",                        // Sendmail
	"this is the qmail-send program at",                                // qmail
	"i wasn't able to deliver your message to the following addresses", // qmail
	"this message was created automatically by mail delivery software", // Exim
	"delivery has failed to these recipients or groups",                // Exchange
	"the following recipient(s) cannot be reached",                     // Exchange 2003
	"diagnostic information for administrators",                        // Exchange
	"delivery to the following recipient failed permanently",           // Gmail
	"delivery to the following recipients failed permanently",          // Gmail
	"delivery to the following recipient has been delayed",             // Gmail
	"technical details of permanent failure",                           // Gmail
	"technical details of temporary failure",                           // Gmail
	"more info for email admins",                                       // Office 365
	"메일 발송 실패 안내",                                                      // Naver
	"메일이 반송되었습니다",                                                      // Daum
}

// bounceWeak are phrases (lower-cased) common in bounces but also in
// ordinary mail; they count only when the header shows mail software sent
// the mail.
var bounceWeak = []string{
	"could not be delivered", "couldn't be delivered", "couldn’t be delivered",
	"wasn't delivered to", "wasn’t delivered to", "address not found",
	"undeliverable", "delivery failed", "delivery has failed", "permanent error",
	"has not yet been delivered", "problem delivering your message",
	"발송 실패", "반송",
}

// Wording that tells a delayed delivery from a failed one when no code
// says it (lower-cased).
var (
	permanentWords = []string{"failed permanently", "permanent error", "permanent fatal error", "permanent failure", "i've given up"}
	delayWords     = []string{
		"will retry", "will be retried", "still being retried", "will keep trying", "will continue",
		"warning only", "warning message only", "has been delayed", "temporary failure", "has not yet been delivered",
		"지연",
	}
)

// returnedMarkers start the copy of the returned message in a text bounce
// (lower-cased, at the start of a line, maybe indented).
var returnedMarkers = []string{
	"--- below this line is a copy of the message", // qmail
	"------ this is a copy of the message",         // Exim
	"----- original message -----",                 // Gmail
	"----- original message follows -----",
	"----- original message headers -----",
	"----- message header follows -----", // Sendmail
	"original message headers",           // Exchange, Office 365
	"----- 원본 메일 -----",                  // Korean webmail
	"----- 원본 메시지 -----",
}

// returnedHeaderStart matches the first line of a returned header block
// copied into the text without a marker line.
var returnedHeaderStart = regexp.MustCompile(`(?i)^(?:return-path:|received: from )`)

// splitReturned splits the text of a bounce into the report and the copy of
// the returned message, if any.
func splitReturned(text string) (report, quoted string) {
	text = shorten(text, maxReportText)
	off := 0
	for _, l := range strings.SplitAfter(text, "\n") {
		ll := strings.ToLower(strings.TrimSpace(l))
		if returnedHeaderStart.MatchString(l) {
			return text[:off], text[off:]
		}
		for _, mk := range returnedMarkers {
			if strings.HasPrefix(ll, mk) {
				return text[:off], text[off:]
			}
		}
		off += len(l)
	}
	return text, ""
}

var quotedMessageIDLine = regexp.MustCompile(`(?im)^[ \t]*Message-ID:[ \t]*([^\n]*)`)

// quotedMessageID returns the Message-ID of the returned message quoted in
// a text bounce.
func quotedMessageID(quoted string) string {
	if mm := quotedMessageIDLine.FindStringSubmatch(quoted); mm != nil {
		if ids := msgIDs(mm[1]); len(ids) > 0 {
			return ids[0]
		}
	}
	return ""
}

// textBounce reads the recipients of a text bounce, and returns the text
// after the report (the copy of the returned message), or reports false when
// m is not a text bounce.
func (p *parser) textBounce(m *Message) (recips []BounceRecipient, quoted string, ok bool) {
	var failedHdr []string
	for _, v := range p.hdr.Values("X-Failed-Recipients") {
		for _, a := range splitAddressList(v) {
			if _, e := lenientAddress("<" + strings.Trim(a, "<>") + ">"); e != "" {
				failedHdr = append(failedHdr, NormEmail(e))
			}
		}
	}
	// A null Return-Path is weaker evidence than a MAILER-DAEMON sender:
	// RFC 3834 section 3.3 asks auto-replies (out of office) to use it too.
	daemon := isBounceSender(m.From.Email) || isBounceSender(p.hdr.Get("Return-Path"))
	nullPath := strings.TrimSpace(p.hdr.Get("Return-Path")) == "<>"
	subj := strings.ToLower(strings.TrimSpace(m.Subject))
	if _, reply := BaseSubject(subj); reply {
		// A person replying to or forwarding a bounce, or a postmaster
		// answering us: mail software starts its own subject.
		return nil, "", false
	}
	subjOK := false
	for _, s := range bounceSubjects {
		if strings.HasPrefix(subj, s) {
			subjOK = true
			break
		}
	}
	if !daemon && !nullPath && !subjOK && len(failedHdr) == 0 {
		return nil, "", false
	}
	report, quoted := splitReturned(m.Text)
	low := strings.ToLower(report)
	strong := containsAny(low, bounceStrong)
	weak := daemon && containsAny(low, bounceWeak)
	if !strong && !weak && len(failedHdr) == 0 {
		return nil, "", false
	}
	recips = textRecipients(report)
	for _, e := range failedHdr {
		if !hasRecipient(recips, e) && len(recips) < maxBounceRecipients {
			recips = append(recips, BounceRecipient{Email: e})
		}
	}
	if len(recips) == 0 {
		return nil, "", false
	}
	// Status: the recipient's own text, else (one recipient) the report's
	// first reply code, else the wording.
	byWording := "5.0.0"
	if !containsAny(low, permanentWords) && containsAny(low, delayWords) {
		byWording = "4.0.0"
	}
	for i := range recips {
		r := &recips[i]
		r.Status = statusFromText(r.Diagnostic)
		if r.Status == "" && len(recips) == 1 {
			if line := codeLine(report); line != "" {
				r.Status = statusFromText(line)
				if r.Diagnostic == "" {
					r.Diagnostic = line
				}
			}
		}
		if r.Status == "" {
			r.Status = byWording
		}
		r.Action = "failed"
		if r.Status[0] == '4' {
			r.Action = "delayed"
		}
	}
	return recips, quoted, true
}

func isBounceSender(addr string) bool {
	if ids := msgIDs(addr); len(ids) > 0 && strings.Contains(addr, "<") {
		addr = ids[0]
	}
	local, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(addr)), "@")
	for _, s := range bounceSenders {
		if local == s || (s == "microsoftexchange" && strings.HasPrefix(local, s)) {
			return true
		}
	}
	return false
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func hasRecipient(l []BounceRecipient, email string) bool {
	for _, r := range l {
		if strings.EqualFold(r.Email, email) {
			return true
		}
	}
	return false
}

// codeLine returns the first line of s that holds an enhanced status code,
// else the first that holds a basic reply code, with white space collapsed.
func codeLine(s string) string {
	lines := strings.Split(s, "\n")
	for _, find := range []func(string) string{EnhancedCode, basicCode} {
		for _, l := range lines {
			if find(l) != "" {
				return strings.Join(strings.Fields(l), " ")
			}
		}
	}
	return ""
}

// addrPat matches an address; the local part and domain may hold non-ASCII
// letters (RFC 6531).
const addrPat = "[\\p{L}\\p{N}.!#$%&'*+/=?^_`{|}~-]+@[\\p{L}\\p{N}](?:[\\p{L}\\p{N}-]*[\\p{L}\\p{N}])?(?:\\.[\\p{L}\\p{N}](?:[\\p{L}\\p{N}-]*[\\p{L}\\p{N}])?)*"

// Lines that start a recipient in a text bounce (see recipientLine for
// their groups).
var (
	// Postfix and qmail, at the start of a line:
	// "<a@b>: host mx[1.2.3.4] said: 550 ..." or "<a@b>:".
	// The address we sent to comes after "expanded from" when an alias
	// was expanded.
	postfixLine = regexp.MustCompile(`^<(` + addrPat + `)>(?:\s*\(expanded from <(` + addrPat + `)>\))?:\s*(.*)$`)
	// Sendmail's transcript: "<a@b>... User unknown".
	sendmailLine = regexp.MustCompile(`^<(` + addrPat + `)>\.\.\.\s*(.*)$`)
	// Exim, Exchange, Gmail, Sendmail's summary: the address alone on its
	// line, maybe indented, in angle brackets or quotes, with Outlook's
	// "<mailto:...>" after it.
	bareLine = regexp.MustCompile(`^\s*[<"]?(` + addrPat + `)[>"]?(?:\s*<mailto:[^>]*>)?\s*:?\s*$`)
	// Old Exim: "------ a@b ------".
	eximOldLine = regexp.MustCompile(`^-{3,}\s*<?(` + addrPat + `)>?\s*-{3,}\s*$`)
	// Korean webmail: "받는 사람 : a@b".
	koreanLine = regexp.MustCompile(`^\s*(?:받는\s*(?:사람|분|이)|수신자|수신인|수신\s*주소)\s*[:：]\s*[<"]?(` + addrPat + `)[>"]?\s*(.*)$`)
)

// Sentences naming the one recipient: Office 365 and Gmail.
var recipientSentences = []*regexp.Regexp{
	regexp.MustCompile(`(?i)your message to <?(` + addrPat + `)>? couldn[’']?t be delivered`),
	regexp.MustCompile(`(?i)your message wasn[’']?t delivered to <?(` + addrPat + `)>?`),
	regexp.MustCompile(`(?i)problem delivering your message to <?(` + addrPat + `)>?`),
}

// recipientLine reports whether line starts a recipient, with the address,
// the start of the reason, and whether the reason starts after empty lines.
func recipientLine(line string) (addr, reason string, skipBlank, ok bool) {
	if mm := postfixLine.FindStringSubmatch(line); mm != nil {
		if mm[2] != "" {
			return mm[2], mm[3], false, true
		}
		return mm[1], mm[3], false, true
	}
	if mm := sendmailLine.FindStringSubmatch(line); mm != nil {
		return mm[1], mm[2], false, true
	}
	if mm := bareLine.FindStringSubmatch(line); mm != nil {
		return mm[1], "", false, true
	}
	if mm := eximOldLine.FindStringSubmatch(line); mm != nil {
		return mm[1], "", true, true
	}
	if mm := koreanLine.FindStringSubmatch(line); mm != nil {
		return mm[1], mm[2], false, true
	}
	return "", "", false, false
}

// textRecipients reads the recipients of a text bounce's report, with the
// reason given for each (Diagnostic). Status and Action are left empty.
func textRecipients(report string) []BounceRecipient {
	var out []BounceRecipient
	add := func(addr, diag string) {
		addr = NormEmail(addr)
		diag = strings.Join(strings.Fields(diag), " ")
		for i := range out {
			if strings.EqualFold(out[i].Email, addr) {
				// Named again (Exchange lists each recipient twice; the
				// second time with the code for administrators).
				if statusFromText(out[i].Diagnostic) == "" && (statusFromText(diag) != "" || out[i].Diagnostic == "") {
					out[i].Diagnostic = diag
				}
				return
			}
		}
		if len(out) < maxBounceRecipients {
			out = append(out, BounceRecipient{Email: addr, Diagnostic: diag})
		}
	}
	lines := strings.Split(report, "\n")
	for i := 0; i < len(lines); i++ {
		addr, reason, skipBlank, ok := recipientLine(strings.TrimRight(lines[i], " \t"))
		if !ok {
			continue
		}
		parts := []string{reason}
		j := i + 1
		if skipBlank {
			for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
				j++
			}
		}
		for ; j < len(lines); j++ {
			l := strings.TrimRight(lines[j], " \t")
			if strings.TrimSpace(l) == "" {
				break
			}
			if _, _, _, ok := recipientLine(l); ok {
				break
			}
			parts = append(parts, l)
		}
		add(addr, strings.Join(parts, " "))
		i = j - 1
	}
	for _, re := range recipientSentences {
		for _, mm := range re.FindAllStringSubmatch(report, maxBounceRecipients) {
			add(mm[1], "")
		}
	}
	return out
}
