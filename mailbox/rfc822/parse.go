package rfc822

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/emersion/go-message/textproto"
	htmlcharset "golang.org/x/net/html/charset"
)

// ErrNotMail is wrapped by the error Parse returns when its input is not a
// mail at all: empty, or without a single header field. The caller should
// reject such input rather than store it.
var ErrNotMail = errors.New("not a mail")

// Limits that keep one hostile mail from using unbounded time or memory.
const (
	// maxHeaderBytes bounds one header block (go-message's default of 1 MiB
	// rejects real mail with huge Received or DKIM chains).
	maxHeaderBytes = 4 << 20
	// maxDepth bounds multipart nesting.
	maxDepth = 32
	// maxParts bounds the number of body parts looked at.
	maxParts = 5000
	// maxWarnings bounds Mail.Warnings.
	maxWarnings = 50
	// maxForwardDepth bounds how deep forwarded messages (message/rfc822
	// parts inside message/rfc822 parts) are read into the text.
	maxForwardDepth = 4
)

// Options for [Parse]. The zero value reads the mail without copying any
// header field into Message.Headers.
type Options struct {
	// Headers are the header fields copied into Message.Headers (first
	// value, by canonical name): those the caller's rules look at.
	Headers []string
}

// Parse reads one RFC 5322 mail. It never panics and is best-effort: whatever
// is readable is returned, problems go to Mail.Warnings. It returns an error
// only when the input is not a mail at all (empty, or no header field at all),
// i.e. the caller should reject it; that error wraps ErrNotMail.
//
// Every string in the result is valid UTF-8. Text is the decoded text/plain
// body (or, for HTML-only mail, the HTML rendered as text) with "\n" line
// endings, followed by a section for each forwarded message (a
// message/rfc822 part that no delivery report returns; see forward), which
// Visible keeps whole; HTML is the first text/html body part. Attachment
// bytes are decoded once, hashed while decoding and never kept; body parts
// are slices of raw.
//
// Parse uses go-message's header parser (textproto) and its own multipart
// splitter (multipart.go) rather than mail.Reader: mail.Reader converts the
// charset of text attachments (so their hash would not be that of the
// file), stops at the first part with an unknown Content-Transfer-Encoding,
// and gives up on the whole message when one nested multipart is truncated.
func Parse(raw []byte, opts Options) (m *Message, err error) {
	p := &parser{mail: &Message{Headers: map[string]string{}}, fields: opts.Headers}
	// The one panic boundary of a parse: a bug on one odd mail gives what
	// was read so far, with a warning and the panic in m.Panic.
	defer func() {
		if r := recover(); r != nil {
			m, err = p.salvage(&PanicError{Value: fmt.Sprint(r), Stack: string(debug.Stack())}), nil
		}
	}()
	if err := p.parse(raw); err != nil {
		return nil, err
	}
	m = p.finish(false)
	m.Bounce = p.bounce(m) // bounce: delivery failure reports, see bounce.go
	p.addForwarded(m)
	return m, nil
}

// InternalError starts the warning for a panic Parse recovered from.
const InternalError = "internal parser error"

// PanicError is a panic the reader recovered from: a bug, reported with
// its stack so that it can be fixed.
type PanicError struct {
	Value string
	Stack string
}

func (e *PanicError) Error() string { return InternalError + ": " + e.Value }

// salvage returns what was read before the panic pe, with a warning: the
// text parts read so far (none: the raw body), not rendered from HTML,
// since the renderer may be what failed.
func (p *parser) salvage(pe *PanicError) *Message {
	p.warnf("%s, result is partial: %v", InternalError, pe.Value)
	if len(p.plain) == 0 && p.body != nil {
		p.plain = append(p.plain, string(p.body))
	}
	m := p.finish(true)
	m.Bounce, m.Forwarded, m.Panic = nil, nil, pe
	return m
}

// parser holds the state of one Parse call.
type parser struct {
	mail   *Message
	fields []string // header fields to copy (Options.Headers)
	hdr    textproto.Header
	body   []byte   // top-level body, raw
	plain  []string // text/plain body parts, decoded
	html   []string // text/html body parts, decoded
	hint   string   // first charset declared on a text part, for raw 8-bit headers
	parts  int      // leaf parts seen
	warns  map[string]bool
	// keep, when set, makes leaf keep each attachment's decoded bytes in
	// files (ExtractAttachments); Parse only hashes and counts them.
	keep  bool
	files []File
	// report keeps the parts a delivery report is read from (bounce.go).
	report reportParts

	// bounds holds the boundaries of the open multiparts, outermost first
	// (multipart.go).
	bounds []string
	// inReport counts the open multipart/report entities.
	inReport int
	// forwarded holds the sections that render forwarded messages
	// (message/rfc822 parts) for the text, in the order of the parts.
	forwarded []string
	// fwdDepth is how deep the message read is nested in forwarded
	// messages: 0 for the mail itself.
	fwdDepth int
	// inner, set for a forwarded message, makes leaf skip attachments:
	// they are listed once, as the message/rfc822 part of the mail.
	inner bool

	// The leaves settleParts decides on once the walk is done (parts.go).
	plainLeaves int             // text/plain body parts with content
	htmlLeaves  []textLeaf      // text/html body parts
	namedText   *textLeaf       // the first inline text/plain part with a file name
	names       map[string]bool // attachment names used, lower-cased

	// Reused buffers.
	byteReader bytes.Reader
	hdrReader  *bufio.Reader
	copyBuf    []byte
}

func (p *parser) warnf(format string, args ...any) {
	w := validString(fmt.Sprintf(format, args...))
	if p.warns == nil {
		p.warns = map[string]bool{}
	}
	if p.warns[w] {
		return
	}
	p.warns[w] = true
	switch {
	case len(p.mail.Warnings) < maxWarnings:
		p.mail.Warnings = append(p.mail.Warnings, w)
	case len(p.mail.Warnings) == maxWarnings:
		p.mail.Warnings = append(p.mail.Warnings, "further problems not listed")
	}
}

func (p *parser) parse(raw []byte) error {
	raw = trimLeadingBlankLines(raw)
	if len(bytes.TrimSpace(raw)) == 0 {
		return fmt.Errorf("rfc822: parse: empty input: %w", ErrNotMail)
	}
	hdr, body := p.readHeader(raw)
	if hdr.Len() == 0 {
		return fmt.Errorf("rfc822: parse: no header field: %w", ErrNotMail)
	}
	p.hdr, p.body = hdr, body

	p.walk(hdr, body, 0, 0, "", "")
	p.settleParts()
	p.headers()
	return nil
}

// trimLeadingBlankLines drops what some tools put before the header: empty
// lines and lines of white space only, and a UTF-8 byte order mark. RFC 5322
// would otherwise read an empty header, as other parsers do not.
func trimLeadingBlankLines(b []byte) []byte {
	for {
		b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
		i := 0
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\f' || b[i] == '\v') {
			i++
		}
		if i == len(b) || b[i] != '\n' {
			return b
		}
		b = b[i+1:]
	}
}

// splitHeader splits raw at the first empty line (RFC 5322 section 2.1). It
// reports whether there was one.
func splitHeader(raw []byte) (header, body []byte, found bool) {
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\n')
		if j < 0 {
			break
		}
		line := raw[i : i+j+1]
		if len(line) == 1 || (len(line) == 2 && line[0] == '\r') {
			return raw[:i], raw[i+len(line):], true
		}
		i += j + 1
	}
	return raw, nil, false
}

// skipMboxFrom drops the "From sender date" line that starts each message in
// an mbox file (RFC 4155 section 2), which mail exported from mbox keeps.
func skipMboxFrom(hb []byte) []byte {
	// "From " then the envelope sender; "From : x" or "From  : x" is a
	// (sloppy) From field.
	if !bytes.HasPrefix(hb, []byte("From ")) || len(hb) < 6 || hb[5] == ' ' || hb[5] == ':' || hb[5] == '\t' {
		return hb
	}
	if i := bytes.IndexByte(hb, '\n'); i >= 0 {
		return hb[i+1:]
	}
	return nil
}

// readHeader parses the top-level header of raw and returns it with the raw
// body. A malformed header is read leniently (see scanHeader).
func (p *parser) readHeader(raw []byte) (textproto.Header, []byte) {
	raw = trimLeadingBlankLines(skipMboxFrom(raw))
	hb, body, _ := splitHeader(raw)
	if len(hb) > maxHeaderBytes {
		p.warnf("header larger than %d bytes, rest dropped", maxHeaderBytes)
		cut := bytes.LastIndexByte(hb[:maxHeaderBytes], '\n')
		hb = hb[:cut+1]
	}
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(hb)))
	if err == nil {
		return h, body
	}
	p.warnf("malformed header (%v), read leniently", shorten(err.Error(), 120))
	hb, start := p.scanHeader(raw, 0, "", true)
	if len(hb) > maxHeaderBytes {
		hb = hb[:bytes.LastIndexByte(hb[:maxHeaderBytes], '\n')+1]
	}
	return p.reparse(hb), raw[start:]
}

func (p *parser) reparse(hb []byte) textproto.Header {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(hb)))
	if err != nil {
		p.warnf("header unreadable: %v", shorten(err.Error(), 120))
		return textproto.Header{}
	}
	return h
}

// isFieldLine reports whether line starts with a field name and a colon (RFC
// 5322 section 2.2: printable US-ASCII except colon).
func isFieldLine(line []byte) bool {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return false
	}
	name := bytes.TrimRight(line[:i], " \t")
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// walk handles one entity whose body starts at buf[start:] and runs to the
// next delimiter line of an open multipart, or to the end of buf:
// multiparts are descended into, other parts become body text or
// attachments. It returns where the entity ends: the offset of that
// delimiter line, or len(buf).
func (p *parser) walk(h textproto.Header, buf []byte, start, depth int, where, parent string) int {
	mt, params := p.contentType(h, parent == "multipart/digest", where)
	if strings.HasPrefix(mt, "multipart/") {
		if depth < maxDepth {
			return p.multipart(h, mt, params, buf, start, depth, where)
		}
		p.warnf("%s: multipart nested deeper than %d levels, skipped", label(where, mt), maxDepth)
		_, end := p.partBody(buf, start)
		return end
	}
	body, end := p.partBody(buf, start)
	p.parts++
	if p.parts > maxParts {
		if p.parts == maxParts+1 {
			p.warnf("more than %d parts, rest skipped", maxParts)
		}
		return end
	}
	p.leaf(h, mt, params, body, where, parent)
	return end
}

// contentType returns the media type and parameters of an entity. A missing
// or unreadable Content-Type means text/plain (RFC 2045 section 5.2), or
// message/rfc822 inside multipart/digest (RFC 2046 section 5.1.5).
func (p *parser) contentType(h textproto.Header, inDigest bool, where string) (string, map[string]string) {
	def := "text/plain"
	if inDigest {
		def = "message/rfc822"
	}
	v := h.Get("Content-Type")
	if strings.TrimSpace(v) == "" {
		return def, map[string]string{}
	}
	mt, params := parseMediaType(v, p.hint)
	if mt == "" {
		p.warnf("%s: malformed Content-Type %q, read as %s", label(where, ""), shorten(v, 80), def)
		return def, params
	}
	if strings.HasPrefix(mt, "text/") && p.hint == "" && params["charset"] != "" {
		p.hint = params["charset"]
	}
	return mt, params
}

func label(where, mt string) string {
	if where == "" {
		where = "message"
	} else {
		where = "part " + where
	}
	if mt != "" {
		where += " (" + mt + ")"
	}
	return where
}

func partPath(where string, i int) string {
	if where == "" {
		return strconv.Itoa(i)
	}
	return where + "." + strconv.Itoa(i)
}

// leaf handles a part that is not multipart: body text or attachment.
// parent is the media type of the enclosing multipart, if any. body is the
// part's body as sent (transfer-encoded), a slice of the mail.
func (p *parser) leaf(h textproto.Header, mt string, params map[string]string, body []byte, where, parent string) {
	disp, dparams := "", map[string]string{}
	if v := h.Get("Content-Disposition"); strings.TrimSpace(v) != "" {
		disp, dparams = parseMediaType(v, p.hint)
		disp = strings.ToLower(disp)
	}
	filename := dparams["filename"]
	if filename == "" {
		filename = params["name"]
	}
	bodyText := (mt == "text/plain" || mt == "text/html") && disp != "attachment" && filename == ""
	if mt == "text/plain" && disp != "attachment" && filename != "" && p.namedText == nil {
		p.namedText = &textLeaf{h: h, params: params, body: body, where: where, name: filename}
	}
	if (mt == "text/enriched" || mt == "text/richtext") && disp != "attachment" && filename == "" {
		// RFC 1896 text: another rendering of the body inside
		// multipart/alternative (RFC 2046 section 5.1.4), else the body.
		if parent == "multipart/alternative" {
			return
		}
		bodyText = true
	}
	if !bodyText {
		p.attachment(h, mt, body, filename, disp, where)
		return
	}
	switch {
	case mt == "text/html":
		p.htmlLeaves = append(p.htmlLeaves, textLeaf{h: h, params: params, body: body, where: where, parent: parent})
	case len(bytes.TrimSpace(body)) > 0:
		p.plainLeaves++
	}
	if p.keep && (mt != "text/plain" || !hasUUBegin(body)) {
		return // ExtractAttachments: the files alone, no text decoded
	}
	text := p.leafText(h, mt, params, body, where)
	switch mt {
	case "text/html":
		p.html = append(p.html, text)
	case "text/enriched", "text/richtext":
		p.plain = append(p.plain, enrichedText(text))
	default:
		text = p.uuFiles(text, where)
		if !p.keep {
			p.plain = append(p.plain, text)
		}
	}
}

// leafText decodes a text part: its transfer encoding, then its charset.
func (p *parser) leafText(h textproto.Header, mt string, params map[string]string, body []byte, where string) string {
	dec, prob := p.transferDecoder(h.Get("Content-Transfer-Encoding"), body, where, mt)
	b := body
	if dec != nil {
		b, _ = io.ReadAll(dec) // the decoders read from memory: no error
	}
	prob.report(p, where, mt)
	return p.decodeBody(b, params["charset"], where, mt, prob, mt != "text/html")
}

// enrichedText renders RFC 1896 text/enriched (and its ancestor
// text/richtext, RFC 1341) as plain text: formatting commands are dropped
// with the content of <param>, "<<" is "<", and line breaks follow the
// format: a lone line break is a space, n in a row are n-1. text/richtext
// marks breaks with <nl> and treats line breaks as spaces.
func enrichedText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	param := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '<' && i+1 < len(s) && s[i+1] == '<':
			if param == 0 {
				b.WriteByte('<')
			}
			i++
		case c == '<':
			end := strings.IndexByte(s[i:], '>')
			if end < 0 {
				b.WriteString(s[i:]) // not a command: keep the text
				return b.String()
			}
			cmd := strings.ToLower(strings.TrimSpace(s[i+1 : i+end]))
			i += end
			switch cmd {
			case "param":
				param++
			case "/param":
				param = max(0, param-1)
			case "nl", "np": // text/richtext's line and page breaks
				if param == 0 {
					b.WriteByte('\n')
				}
			}
		case c == '\n':
			n := 1
			for i+1 < len(s) && s[i+1] == '\n' {
				n++
				i++
			}
			if param > 0 {
				continue
			}
			if n == 1 {
				b.WriteByte(' ')
			} else {
				b.WriteString(strings.Repeat("\n", n-1))
			}
		default:
			if param == 0 {
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}

// attachment lists a part that is not body text as an attachment: its
// bytes are decoded once, while they are hashed and counted. A forwarded
// message (message/rfc822) is also rendered for the text (see forward).
func (p *parser) attachment(h textproto.Header, mt string, body []byte, filename, disp, where string) {
	isMessage := mt == "message/rfc822" || mt == "message/global"
	// A message returned by a delivery or other report (RFC 6522) is no
	// forwarded message; ExtractAttachments wants only the files.
	forward := isMessage && p.inReport == 0 && p.fwdDepth < maxForwardDepth && !p.keep
	if p.inner && !forward {
		return // the attachments of a forwarded message are not listed
	}
	dec, prob := p.transferDecoder(h.Get("Content-Transfer-Encoding"), body, where, mt)
	if p.inner {
		if dec != nil {
			body, _ = io.ReadAll(dec)
		}
		p.forward(body, where)
		return
	}
	var cid string
	if ids := msgIDs(h.Get("Content-Id")); len(ids) > 0 {
		cid = validString(ids[0])
	}
	derived := filename == ""
	if derived {
		filename = p.deriveName(mt, cid)
	} else {
		p.useName(filename)
	}
	a := Attachment{
		Filename:    filename,
		NameDerived: derived,
		ContentType: mt,
		ContentID:   cid,
		// An explicit "attachment" wins over a Content-ID: Gmail gives
		// every attachment one.
		Inline: disp == "inline" || (disp != "attachment" && cid != "" && !strings.HasPrefix(mt, "text/")),
	}
	hash := sha256.New()
	var w io.Writer = hash
	var data *bytes.Buffer
	if p.keep || (forward && dec != nil) {
		data = &bytes.Buffer{}
		w = io.MultiWriter(hash, data)
	}
	w = p.report.tee(mt, w) // bounce: keep report parts, see bounce.go
	if dec == nil {
		_, _ = w.Write(body)
		a.Size = int64(len(body))
	} else {
		if p.copyBuf == nil {
			p.copyBuf = make([]byte, 32<<10)
		}
		a.Size, _ = io.CopyBuffer(w, dec, p.copyBuf) // from memory: no error
	}
	prob.report(p, where, mt)
	a.SHA256 = hex.EncodeToString(hash.Sum(nil))
	p.mail.Attachments = append(p.mail.Attachments, a)
	if p.keep {
		p.files = append(p.files, File{Filename: filename, ContentType: mt, Data: data.Bytes(), Inline: a.Inline})
	}
	if forward {
		if dec != nil {
			body = data.Bytes()
		}
		p.forward(body, where)
	}
}

// forwardMarker starts the section that renders a forwarded message in the
// text, as Gmail writes it above a forwarded message.
const forwardMarker = "---------- Forwarded message ----------"

// forward renders a forwarded message (the decoded body of a message/rfc822
// part) as a section of the text: forwardMarker, the message's From, Date,
// Subject, To and Cc, an empty line and the message's text. The message is
// read with the same parser, its own forwarded messages too (up to
// maxForwardDepth); its attachments are not listed again. Input that is not
// a mail gives no section.
func (p *parser) forward(raw []byte, where string) {
	sub := &parser{mail: &Message{Headers: map[string]string{}}, fwdDepth: p.fwdDepth + 1, inner: true, parts: p.parts}
	defer func() { p.parts = max(p.parts, sub.parts) }()
	if err := sub.parse(raw); err != nil {
		return
	}
	p.forwarded = append(p.forwarded, sub.section())
}

// section returns the forwarded section of the message p has read.
func (p *parser) section() string {
	m := p.mail
	var sb strings.Builder
	sb.WriteString(forwardMarker + "\n")
	field := func(name, v string) {
		if v = strings.TrimSpace(normalizeNewlines(v)); v != "" {
			sb.WriteString(name + ": " + strings.ReplaceAll(v, "\n", " ") + "\n")
		}
	}
	var from []Address
	if m.From.Email != "" {
		from = append(from, m.From)
	}
	field("From", formatAddresses(from))
	switch {
	case !m.Date.IsZero():
		field("Date", m.Date.Format("Mon, 2 Jan 2006 15:04:05 -0700"))
	default:
		field("Date", shorten(p.raw8bit("Date", p.hdr.Get("Date")), 80))
	}
	field("Subject", m.Subject)
	field("To", formatAddresses(m.To))
	field("Cc", formatAddresses(m.Cc))
	if text := strings.TrimRight(WithSections(p.ownText(), p.forwarded), " \t\n"); strings.TrimSpace(text) != "" {
		sb.WriteString("\n" + text)
	}
	return validString(sb.String())
}

// formatAddresses writes mailboxes as "Name <address>", or the address
// alone, separated by commas.
func formatAddresses(l []Address) string {
	var sb strings.Builder
	for i, a := range l {
		if i > 0 {
			sb.WriteString(", ")
		}
		if a.Name != "" {
			sb.WriteString(a.Name + " <" + a.Email + ">")
		} else {
			sb.WriteString(a.Email)
		}
	}
	return sb.String()
}

// addForwarded records the forwarded sections (none for a delivery
// report: the message it returns is ours, not the sender's).
func (p *parser) addForwarded(m *Message) {
	if m.Bounce == nil {
		m.Forwarded = p.forwarded
	}
}

// decodeBody converts a text body to UTF-8 from its declared charset. prob
// is what the transfer decoding had to skip, if anything. With lf the line
// ends become LF as it decodes (as joinParts would do with another copy).
func (p *parser) decodeBody(b []byte, cs, where, mt string, prob *transferProblem, lf bool) string {
	switch {
	case cs == "" && mt == "text/html" && !utf8.Valid(b):
		// The charset may be declared in a <meta> element instead.
		if _, name, _ := htmlcharset.DetermineEncoding(b, ""); name != "windows-1252" && name != "utf-8" && name != "" {
			cs = name
		}
	}
	switch {
	case (cs == "" || isUTF8Label(cs)) && prob != nil && prob.at >= 0 && prob.at < len(b) &&
		utf8.Valid(b[:prob.at]) && !utf8.Valid(b):
		// The text was readable up to where the transfer encoding broke
		// down: keep that, and mark each byte decoded from the garbage after
		// it with U+FFFD, rather than guess a charset for the whole part.
		p.warnf("%s: text unreadable after %d bytes (broken %s), marked with U+FFFD", label(where, mt), prob.at, prob.kind)
		return string(b[:prob.at]) + markInvalid(b[prob.at:len(b)-prob.partial])
	case cs == "" || isUTF8Label(cs):
		decode := bestEffortUTF8
		if lf {
			decode = bestEffortText
		}
		s, used := decode(b, p.hint)
		if used != "" {
			if cs == "" {
				cs = "none"
			}
			p.warnf("%s: text is not valid UTF-8 (charset %s), decoded as %s", label(where, mt), cs, used)
		}
		return s
	}
	s, used, err := decodeDeclared(b, cs, p.hint)
	switch {
	case err != nil:
		p.warnf("%s: unknown charset %s", label(where, mt), normCharset(cs))
		s, _ = bestEffortUTF8(b)
	case used != "":
		p.warnf("%s: 8-bit bytes under charset %s, decoded as %s", label(where, mt), normCharset(cs), used)
	}
	return validString(s)
}

// markInvalid returns b as text with each byte that is not part of a valid
// UTF-8 sequence replaced by U+FFFD.
func markInvalid(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		sb.WriteRune(r) // utf8.RuneError for an invalid byte
		b = b[size:]
	}
	return sb.String()
}

// ownText returns the text of the message read, without its forwarded
// messages: the text/plain parts, or the HTML rendered as text when they
// hold nothing.
func (p *parser) ownText() string {
	text := joinParts(p.plain)
	if strings.TrimSpace(text) == "" && len(p.html) > 0 {
		var rendered []string
		for _, h := range p.html {
			rendered = append(rendered, HTMLToText(h))
		}
		text = joinParts(rendered)
	}
	return text
}

// finish assembles Text (without the forwarded sections, see addForwarded)
// and makes sure every string is valid UTF-8.
//
// Salvaging, it renders no HTML: the text is the plain parts alone.
func (p *parser) finish(salvaging bool) *Message {
	m := p.mail
	if len(p.html) > 0 {
		m.HTML = p.html[0]
	}
	if salvaging {
		m.Text = joinParts(p.plain)
	} else {
		m.Text = p.ownText()
	}

	m.From.Name, m.From.Email = validString(m.From.Name), validString(m.From.Email)
	for _, l := range [][]Address{m.To, m.Cc, m.ReplyTo} {
		for i := range l {
			l[i].Name, l[i].Email = validString(l[i].Name), validString(l[i].Email)
		}
	}
	m.Subject = validString(m.Subject)
	m.MessageID = validString(m.MessageID)
	m.InReplyTo = validString(m.InReplyTo)
	for i := range m.References {
		m.References[i] = validString(m.References[i])
	}
	m.Text = validString(m.Text)
	m.HTML = validString(m.HTML)
	for i := range m.Attachments {
		a := &m.Attachments[i]
		a.Filename, a.ContentType, a.ContentID = validString(a.Filename), validString(a.ContentType), validString(a.ContentID)
	}
	for k, v := range m.Headers {
		m.Headers[k] = validString(v)
	}
	for i := range m.Warnings {
		m.Warnings[i] = validString(m.Warnings[i])
	}
	m.FromHTML = !salvaging && len(p.html) == 1 && blankParts(p.plain)
	return m
}

// joinParts normalises line endings to "\n" and joins the parts with one
// empty line between them.
func joinParts(parts []string) string {
	var out []string
	for _, s := range parts {
		s = normalizeNewlines(s)
		if len(parts) > 1 {
			s = strings.TrimRight(s, "\n")
			if strings.TrimSpace(s) == "" {
				continue
			}
		}
		out = append(out, s)
	}
	return strings.Join(out, "\n\n")
}

// blankParts reports whether every part is white space only.
func blankParts(parts []string) bool {
	for _, s := range parts {
		if strings.TrimSpace(s) != "" {
			return false
		}
	}
	return true
}

// normalizeNewlines turns CRLF and lone CR into LF, in one copy.
func normalizeNewlines(s string) string {
	if strings.IndexByte(s, '\r') < 0 {
		return s
	}
	// lfString only reads its bytes: s's own, without a copy.
	return lfString(unsafe.Slice(unsafe.StringData(s), len(s)))
}
