package rfc822

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/mail"
	stdtextproto "net/textproto"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
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
	defer func() {
		if r := recover(); r != nil {
			m, err = p.salvage(r), nil
		}
	}()
	if err := p.parse(raw); err != nil {
		return nil, err
	}
	m = p.finish()
	m.Bounce = p.bounce(m) // bounce: delivery failure reports, see bounce.go
	p.addForwarded(m)
	return m, nil
}

// InternalError starts the warning for a panic Parse recovered from.
const InternalError = "internal parser error"

// salvage turns a panic during parsing into a warning and returns what was
// read so far; if no text was read yet, the raw body stands in for it.
func (p *parser) salvage(r any) (m *Message) {
	p.warnf("%s, result is partial: %v", InternalError, r)
	if len(p.plain) == 0 && len(p.html) == 0 && p.body != nil {
		p.plain = append(p.plain, string(p.body))
	}
	defer func() {
		if r2 := recover(); r2 != nil {
			// finish itself failed: return the bare minimum, still valid.
			m = &Message{
				Headers:  map[string]string{},
				Warnings: []string{validString(fmt.Sprintf("%s, result is partial: %v", InternalError, r))},
			}
		}
	}()
	return p.finish()
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
	p.headers()
	return nil
}

// trimLeadingBlankLines drops empty lines before the header, which some
// tools prepend; RFC 5322 would otherwise read them as an empty header.
func trimLeadingBlankLines(b []byte) []byte {
	for {
		switch {
		case bytes.HasPrefix(b, []byte("\r\n")):
			b = b[2:]
		case bytes.HasPrefix(b, []byte("\n")):
			b = b[1:]
		default:
			return b
		}
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
	raw = skipMboxFrom(raw)
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

	dec, prob := p.transferDecoder(h.Get("Content-Transfer-Encoding"), body, where, mt)
	b := body
	if dec != nil {
		b, _ = io.ReadAll(dec) // the decoders read from memory: no error
	}
	prob.report(p, where, mt)
	text := p.decodeBody(b, params["charset"], where, mt, prob, mt != "text/html")
	switch mt {
	case "text/html":
		p.html = append(p.html, text)
	case "text/enriched", "text/richtext":
		p.plain = append(p.plain, enrichedText(text))
	default:
		p.plain = append(p.plain, text)
	}
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
	if isMessage && filename == "" {
		filename = "forwarded.eml"
	}
	var cid string
	if ids := msgIDs(h.Get("Content-Id")); len(ids) > 0 {
		cid = validString(ids[0])
	}
	a := Attachment{
		Filename:    filename,
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
	defer func() {
		p.parts = max(p.parts, sub.parts)
		if r := recover(); r != nil {
			p.warnf("%s while reading the forwarded message in %s: %v", InternalError, label(where, ""), r)
		}
	}()
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
	s, err := decodeCharset(b, cs)
	if err != nil {
		p.warnf("%s: unknown charset %s", label(where, mt), normCharset(cs))
		s, _ = bestEffortUTF8(b)
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
func (p *parser) finish() *Message {
	m := p.mail
	if len(p.html) > 0 {
		m.HTML = p.html[0]
	}
	m.Text = p.ownText()

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
	m.FromHTML = len(p.html) == 1 && blankParts(p.plain)
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

// headers fills the header-derived fields of the mail.
func (p *parser) headers() {
	m, h := p.mail, p.hdr
	m.Subject = strings.TrimSpace(p.text("Subject", h.Get("Subject")))

	if from := p.addresses("From"); len(from) > 0 {
		m.From = from[0]
	} else if sender := p.addresses("Sender"); len(sender) > 0 {
		p.warnf("no From address, using Sender")
		m.From = sender[0]
	} else {
		p.warnf("no From address")
	}
	m.To = p.addresses("To")
	m.Cc = p.addresses("Cc")
	m.ReplyTo = p.addresses("Reply-To")

	if v := strings.TrimSpace(h.Get("Date")); v == "" {
		p.warnf("no Date")
	} else if t, err := parseDate(v); err != nil {
		p.warnf("unreadable Date %q", shorten(v, 80))
	} else {
		m.Date = t
	}

	if ids := msgIDs(h.Get("Message-Id")); len(ids) > 0 {
		m.MessageID = ids[0]
	}
	if ids := msgIDs(h.Get("In-Reply-To")); len(ids) > 0 {
		m.InReplyTo = ids[0]
	}
	m.References = dedupe(msgIDs(h.Get("References")))

	for _, k := range p.fields {
		k = stdtextproto.CanonicalMIMEHeaderKey(strings.TrimSpace(k))
		if _, done := m.Headers[k]; !done && h.Has(k) {
			m.Headers[k] = p.raw8bit(k, h.Get(k))
		}
	}
}

func dedupe(l []string) []string {
	seen := map[string]bool{}
	out := l[:0]
	for _, s := range l {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// raw8bit returns a header value as valid UTF-8. Raw 8-bit values (not
// allowed by RFC 5322 section 2.2, common with Korean mailers) are tried as
// the body's charset, then CP949, then Latin-1.
func (p *parser) raw8bit(field, v string) string {
	if utf8.ValidString(v) {
		return v
	}
	s, used := bestEffortUTF8([]byte(v), p.hint)
	p.warnf("%s: raw 8-bit text, decoded as %s", field, used)
	return s
}

// text decodes an unstructured header value: raw 8-bit bytes, then RFC 2047
// encoded-words.
func (p *parser) text(field, v string) string {
	v = p.raw8bit(field, v)
	if !strings.Contains(v, "=?") {
		return v
	}
	v = mergeEncodedWords(v)
	out, err := WordDecoder.DecodeHeader(v)
	if err != nil || encodedWord.MatchString(out) {
		if err != nil {
			p.warnf("%s: %v", field, shorten(err.Error(), 80))
		} else {
			p.warnf("%s: malformed encoded-word", field)
		}
		out = decodeWordsLeniently(v, p.hint)
	}
	if !utf8.ValidString(out) {
		s, used := bestEffortUTF8([]byte(out), p.hint)
		p.warnf("%s: encoded-word is not valid in its charset, decoded as %s", field, used)
		out = s
	}
	return out
}

// encodedWord matches an RFC 2047 encoded-word.
var encodedWord = regexp.MustCompile(`=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=`)

// decodeWordsLeniently decodes each RFC 2047 encoded-word on its own (see
// decodeWord) and keeps those that cannot be decoded as they are. White space
// between two encoded-words is dropped (RFC 2047 section 6.2).
func decodeWordsLeniently(v, hint string) string {
	var sb strings.Builder
	lastWord := false
	for len(v) > 0 {
		start := strings.Index(v, "=?")
		if start < 0 {
			sb.WriteString(v)
			break
		}
		end := encodedWordEnd(v[start:])
		if end < 0 {
			sb.WriteString(v)
			break
		}
		between := v[:start]
		word := v[start : start+end]
		dec, ok := decodeWord(word, hint)
		if !ok {
			sb.WriteString(between)
			sb.WriteString(word)
			lastWord = false
		} else {
			if !(lastWord && strings.TrimSpace(between) == "") {
				sb.WriteString(between)
			}
			sb.WriteString(dec)
			lastWord = true
		}
		v = v[start+end:]
	}
	return sb.String()
}

// decodeWord decodes one encoded-word ("=?charset?enc?text?=") leniently: a
// language suffix (RFC 2231 section 5) is ignored, base64 with bad padding
// or stray characters yields what it holds, and text in a charset we do not
// know is read as best-effort UTF-8.
func decodeWord(word, hint string) (string, bool) {
	if len(word) < 8 || !strings.HasPrefix(word, "=?") || !strings.HasSuffix(word, "?=") {
		return "", false
	}
	f := strings.SplitN(word[2:len(word)-2], "?", 3)
	if len(f) != 3 {
		return "", false
	}
	cs, text := f[0], f[2]
	if i := strings.IndexByte(cs, '*'); i >= 0 {
		cs = cs[:i]
	}
	b, ok := wordBytes(f[1], text)
	if !ok {
		return "", false
	}
	if !isUTF8Label(cs) {
		if s, err := decodeCharset(b, cs); err == nil {
			return validString(s, hint), true
		}
	}
	s, _ := bestEffortUTF8(b, hint)
	return s, true
}

// wordBytes undoes the "B" or "Q" encoding of an encoded-word's text (RFC
// 2047 section 4) leniently.
func wordBytes(enc, text string) ([]byte, bool) {
	var b []byte
	switch strings.ToUpper(enc) {
	case "B":
		r := &base64Reader{src: []byte(text), prob: &transferProblem{at: -1}}
		b, _ = io.ReadAll(r)
	case "Q":
		for i := 0; i < len(text); i++ {
			c := text[i]
			if c == '_' {
				c = ' '
			} else if c == '=' && i+2 < len(text) {
				hi, ok1 := unhex(text[i+1])
				lo, ok2 := unhex(text[i+2])
				if ok1 && ok2 {
					c = hi<<4 | lo
					i += 2
				}
			}
			b = append(b, c)
		}
	default:
		return nil, false
	}
	return b, true
}

// mergeEncodedWords joins adjacent encoded-words in the same charset,
// separated only by white space, into one "B" encoded-word holding the
// bytes of all of them. Mailers split a long text into encoded-words
// wherever the length limit falls, even in the middle of a multi-byte
// character (which RFC 2047 section 5 forbids); decoding each word on its own
// would then garble that character. The white space between encoded-words is
// not part of the text (RFC 2047 section 6.2), so nothing is lost.
func mergeEncodedWords(v string) string {
	if strings.Count(v, "=?") < 2 {
		return v
	}
	var sb strings.Builder
	var cs string    // charset of the pending run
	var run []byte   // bytes of the pending run
	var first string // the run's first word, kept as it is if it stays alone
	words := 0
	flush := func() {
		switch {
		case words == 1:
			sb.WriteString(first)
		case words > 1:
			sb.WriteString("=?" + cs + "?B?" + base64.StdEncoding.EncodeToString(run) + "?=")
		}
		cs, run, first, words = "", nil, "", 0
	}
	for len(v) > 0 {
		start := strings.Index(v, "=?")
		if start < 0 {
			break
		}
		end := encodedWordEnd(v[start:])
		if end < 0 {
			flush()
			sb.WriteString(v[:start+2])
			v = v[start+2:]
			continue
		}
		between, word := v[:start], v[start:start+end]
		f := strings.SplitN(word[2:len(word)-2], "?", 3)
		b, ok := []byte(nil), len(f) == 3
		if ok {
			b, ok = wordBytes(f[1], f[2])
		}
		if !ok {
			flush()
			sb.WriteString(between + word)
			v = v[start+end:]
			continue
		}
		wcs, _, _ := strings.Cut(f[0], "*")
		if words > 0 && (strings.TrimSpace(between) != "" || !strings.EqualFold(wcs, cs)) {
			flush()
		}
		if words == 0 {
			sb.WriteString(between)
			cs, first = wcs, word
		}
		run = append(run, b...)
		words++
		v = v[start+end:]
	}
	flush()
	sb.WriteString(v)
	return sb.String()
}

// encodedWordEnd returns the length of the encoded-word at the start of s
// ("=?charset?enc?text?="), or -1.
func encodedWordEnd(s string) int {
	q := 0
	for i := 2; i < len(s); i++ {
		switch s[i] {
		case '?':
			q++
			if q == 3 && i+1 < len(s) && s[i+1] == '=' {
				return i + 2
			}
			if q == 3 {
				return -1
			}
		case ' ', '\t':
			return -1
		}
	}
	return -1
}

// addressParser decodes RFC 2047 display names with every charset we know.
var addressParser = mail.AddressParser{WordDecoder: WordDecoder}

// addresses parses the named address list (RFC 5322 section 3.4). Repeated
// To, Cc or Reply-To fields, which RFC 5322 section 3.6 does not allow, are
// read as one list; for From and Sender only the first field counts. When
// the strict parser fails, the list is read leniently and a warning is added.
func (p *parser) addresses(field string) []Address {
	var vs []string
	for _, v := range p.hdr.Values(field) {
		if strings.TrimSpace(v) != "" {
			vs = append(vs, v)
		}
	}
	if field == "From" || field == "Sender" {
		vs = vs[:min(1, len(vs))]
	}
	v := strings.Join(vs, ", ")
	if strings.TrimSpace(v) == "" {
		return nil
	}
	v = mergeEncodedWords(p.raw8bit(field, v))
	var out []Address
	list, err := addressParser.ParseList(v)
	if err == nil {
		for _, a := range list {
			out = appendAddress(out, p.name(a.Name), a.Address)
		}
		return out
	}
	for _, piece := range splitAddressList(v) {
		if a, err := addressParser.Parse(piece); err == nil {
			out = appendAddress(out, p.name(a.Name), a.Address)
			continue
		}
		name, email := lenientAddress(piece)
		out = appendAddress(out, p.text(field, name), email)
	}
	p.warnf("%s: %v; read leniently", field, shorten(err.Error(), 80))
	return out
}

// name finishes a display name from net/mail, which leaves encoded-words
// it cannot decode as they are.
func (p *parser) name(n string) string {
	n = validString(n, p.hint)
	if strings.Contains(n, "=?") {
		n = decodeWordsLeniently(n, p.hint)
	}
	return n
}

// appendAddress appends a mailbox unless the address is empty or has no
// local part; an address without a domain (a local user) is kept.
func appendAddress(l []Address, name, email string) []Address {
	email = NormEmail(email)
	if email == "" || strings.HasPrefix(email, "@") || strings.HasSuffix(email, "@") ||
		strings.ContainsAny(email, " \t") {
		return l
	}
	return append(l, Address{Name: strings.TrimSpace(name), Email: email})
}

// NormEmail trims an address and lower-cases its domain.
func NormEmail(e string) string {
	e = strings.Trim(strings.TrimSpace(e), "<>\"' ")
	if i := strings.LastIndexByte(e, '@'); i >= 0 {
		e = e[:i+1] + strings.ToLower(e[i+1:])
	}
	return e
}

// splitAddressList splits an address list at commas outside quoted strings,
// comments and angle brackets, and strips group syntax (RFC 5322 section
// 3.4: "name: a, b;").
func splitAddressList(v string) []string {
	var out []string
	var cur strings.Builder
	inQuote, angle, paren := false, 0, 0
	flush := func() {
		s := strings.TrimSpace(cur.String())
		cur.Reset()
		if s != "" {
			out = append(out, s)
		}
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case inQuote:
			if c == '\\' && i+1 < len(v) {
				cur.WriteByte(c)
				i++
				c = v[i]
			} else if c == '"' {
				inQuote = false
			}
		case c == '"':
			inQuote = true
		case c == '(':
			paren++
		case c == ')' && paren > 0:
			paren--
		case paren > 0:
		case c == '<':
			angle++
		case c == '>' && angle > 0:
			angle--
		case angle > 0:
		case c == ',' || c == ';':
			flush()
			continue
		case c == ':':
			// Group name: drop what came before.
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	flush()
	return out
}

// lenientAddress extracts a display name and an address from a piece that
// net/mail rejected: the address is within angle brackets, or else the first
// word holding an "@".
func lenientAddress(s string) (name, email string) {
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		rest := s[i+1:]
		if j := strings.IndexByte(rest, '>'); j >= 0 {
			rest = rest[:j]
		}
		return unquote(s[:i]), cleanAddrSpec(rest)
	}
	words := strings.Fields(cleanAddrSpec(s))
	for i, w := range words {
		if strings.Contains(w, "@") {
			rest := append(append([]string{}, words[:i]...), words[i+1:]...)
			return unquote(strings.Join(rest, " ")), strings.Trim(w, "()[]\"'")
		}
	}
	return "", ""
}

// addrSpaces matches white space around the "." and "@" of an addr-spec
// (obs-local-part and obs-domain, RFC 5322 section 4.4).
var addrSpaces = regexp.MustCompile(`\s*([.@])\s*`)

// cleanAddrSpec removes comments, obsolete white space and a source route
// ("@a,@b:user@c", RFC 5322 section 4.4) or stray group name from an
// address.
func cleanAddrSpec(s string) string {
	s = addrSpaces.ReplaceAllString(stripComments(s), "$1")
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.Contains(s, `"`) {
		s = s[i+1:]
	}
	return strings.Trim(strings.TrimSpace(s), ";,")
}

// unquote strips the quotes and comment parentheses around a display name.
func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = strings.ReplaceAll(s[1:len(s)-1], `\"`, `"`)
	}
	if len(s) >= 2 && s[0] == '(' && s[len(s)-1] == ')' {
		s = s[1 : len(s)-1]
	}
	return strings.TrimSpace(s)
}

// msgIDs extracts message identifiers leniently (RFC 5322 section 3.6.4):
// every "<...>", or, if there are no angle brackets, every word. Identifiers
// come back without brackets and without white space.
func msgIDs(v string) []string {
	var ids []string
	add := func(id string) {
		id = strings.Join(strings.Fields(id), "")
		if id != "" {
			ids = append(ids, id)
		}
	}
	rest := v
	for {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i+1:], '>')
		if j < 0 {
			if f := strings.Fields(rest[i+1:]); len(f) > 0 {
				add(f[0])
			}
			break
		}
		add(rest[i+1 : i+1+j])
		rest = rest[i+1+j+1:]
	}
	if len(ids) > 0 {
		return ids
	}
	for _, w := range strings.Fields(stripComments(v)) {
		add(strings.Trim(w, "<>,;\"'"))
	}
	return ids
}

// stripComments removes RFC 5322 comments ("(...)", possibly nested).
func stripComments(s string) string {
	if !strings.Contains(s, "(") {
		return s
	}
	var sb strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && depth > 0:
			i++
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
			if depth == 0 {
				sb.WriteByte(' ')
			}
		case depth == 0:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// dateLayouts are tried after net/mail.ParseDate fails; they cover dates
// seen in the wild that are not RFC 5322 section 3.3 (nor its obsolete
// forms). The day name has been removed before.
var dateLayouts = []string{
	"2 Jan 2006 15:04:05 -0700",
	"2 Jan 2006 15:04 -0700",
	"2 Jan 06 15:04:05 -0700",
	"2 Jan 06 15:04 -0700",
	"2 January 2006 15:04:05 -0700",
	"Jan 2 15:04:05 2006 -0700",
	"Jan 2 2006 15:04:05 -0700",
	"Jan 2, 2006 15:04:05 -0700",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02T15:04:05Z07:00",
	"02.01.2006 15:04:05 -0700",
	"1/2/2006 15:04:05 -0700",
}

// dateLayoutsNoZone are tried last, for dates without a (readable) zone,
// which are then taken as UTC.
var dateLayoutsNoZone = []string{
	"2 Jan 2006 15:04:05",
	"2 Jan 2006 15:04",
	"2 Jan 06 15:04:05",
	"Jan 2 15:04:05 2006",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
}

// obsZones are the zone names of RFC 5322 section 4.3 (obs-zone). Go's
// time.Parse would read them with a zero offset.
var obsZones = map[string]string{
	"UT": "+0000", "UTC": "+0000", "GMT": "+0000",
	"EST": "-0500", "EDT": "-0400", "CST": "-0600", "CDT": "-0500",
	"MST": "-0700", "MDT": "-0600", "PST": "-0800", "PDT": "-0700",
}

// colonSpaces matches white space around the colons of a time of day.
var colonSpaces = regexp.MustCompile(`\s*:\s*`)

// parseDate parses a Date field (RFC 5322 section 3.3) leniently: comments
// and the day name are dropped, obsolete zone names get their offsets, and
// common malformed layouts are tried. A date whose zone cannot be read is
// taken as UTC.
func parseDate(v string) (time.Time, error) {
	s := strings.Join(strings.Fields(stripComments(v)), " ")
	s = colonSpaces.ReplaceAllString(s, ":")
	// Drop the day name, which is often misspelt or localised.
	if i := strings.IndexByte(s, ','); i >= 0 && i < 12 {
		s = strings.TrimSpace(s[i+1:])
	} else if f := strings.Fields(s); len(f) > 0 && isDayName(f[0]) {
		s = strings.Join(f[1:], " ")
	}
	s = strings.TrimSuffix(s, ".")
	s = strings.NewReplacer("GMT+", "+", "UTC+", "+", "GMT-", "-", "UTC-", "-").Replace(s)
	f := strings.Fields(s)
	if len(f) > 0 {
		if z, ok := obsZones[strings.ToUpper(f[len(f)-1])]; ok {
			f[len(f)-1] = z
			s = strings.Join(f, " ")
		}
	}
	for _, cand := range []string{s, fixZone(s)} {
		if t, err := mail.ParseDate(cand); err == nil {
			return t, nil
		}
		for _, l := range dateLayouts {
			if t, err := time.Parse(l, cand); err == nil {
				return t, nil
			}
		}
	}
	noZone := s
	if len(f) > 1 && !strings.Contains(f[len(f)-1], ":") {
		noZone = strings.Join(f[:len(f)-1], " ")
	}
	for _, cand := range []string{s, noZone} {
		for _, l := range dateLayoutsNoZone {
			if t, err := time.Parse(l, cand); err == nil {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("rfc822: unreadable date %q", v)
}

func isDayName(s string) bool {
	s = strings.ToLower(strings.TrimRight(s, ".,"))
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		if strings.HasPrefix(s, d) {
			return true
		}
	}
	return false
}

// fixZone turns a zone like "+100" or "+01:00" into "+0100".
func fixZone(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return s
	}
	z := f[len(f)-1]
	if len(z) < 2 || (z[0] != '+' && z[0] != '-') {
		return s
	}
	digits := strings.ReplaceAll(z[1:], ":", "")
	if _, err := strconv.Atoi(digits); err != nil || len(digits) > 4 {
		return s
	}
	if len(digits) <= 2 {
		digits += "00"
	}
	for len(digits) < 4 {
		digits = "0" + digits
	}
	f[len(f)-1] = z[:1] + digits
	return strings.Join(f, " ")
}

// shorten cuts s to at most n bytes, on a rune boundary.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// parseMediaType reads a Content-Type or Content-Disposition value leniently
// (RFC 2045 section 5.1, RFC 2183): the value is lower-cased and parameter
// names too; parameter values may be quoted or not, may hold spaces, and
// may be split and charset-encoded (RFC 2231 sections 3 and 4) in any
// charset we know. RFC 2047 encoded-words in values, which RFC 2047 section
// 5 does not allow but many mailers send, are decoded as well. The media type
// is "" when the value does not start with "type/subtype" (for
// Content-Disposition, with a token).
func parseMediaType(v, hint string) (string, map[string]string) {
	v = strings.TrimSpace(v)
	head, rest, _ := strings.Cut(v, ";")
	head = strings.TrimSpace(head)
	if i := strings.IndexAny(head, " \t"); i >= 0 {
		// "text/plain charset=utf-8": the separator is missing.
		rest = head[i:] + ";" + rest
		head = head[:i]
	}
	head = strings.ToLower(head)
	if strings.Contains(head, "/") {
		t, s, _ := strings.Cut(head, "/")
		if !isToken(t) || !isToken(s) {
			head = ""
		}
	} else if !isToken(head) {
		head = ""
	}
	return head, parseParams(rest, hint)
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

// rfc2231Section is one piece of a parameter split per RFC 2231 section 3.
type rfc2231Section struct {
	value   string
	encoded bool
}

// parseParams parses parameters such as "; a=b; c=\"d e\"; f*=utf-8'ko'%41".
func parseParams(s, hint string) map[string]string {
	plain := map[string]string{}
	sections := map[string]map[int]rfc2231Section{}
	for len(s) > 0 {
		s = strings.TrimLeft(s, " \t;")
		if s == "" {
			break
		}
		eq := strings.IndexAny(s, "=;")
		if eq < 0 || s[eq] == ';' {
			// A parameter without a value: skip it.
			if eq < 0 {
				break
			}
			s = s[eq+1:]
			continue
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val string
		if strings.HasPrefix(s, `"`) {
			var sb strings.Builder
			i := 1
			for ; i < len(s); i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
					sb.WriteByte(s[i])
					continue
				}
				if s[i] == '"' {
					break
				}
				sb.WriteByte(s[i])
			}
			val = sb.String()
			s = s[min(i+1, len(s)):]
			if j := strings.IndexByte(s, ';'); j >= 0 {
				s = s[j:]
			} else {
				s = ""
			}
		} else {
			j := strings.IndexByte(s, ';')
			if j < 0 {
				j = len(s)
			}
			val = strings.TrimSpace(s[:j])
			s = s[j:]
		}
		if key == "" {
			continue
		}
		name, sec, hasSec, enc := splitParamName(key)
		if !hasSec && !enc {
			if _, ok := plain[name]; !ok {
				plain[name] = val
			}
			continue
		}
		if sections[name] == nil {
			sections[name] = map[int]rfc2231Section{}
		}
		if _, ok := sections[name][sec]; !ok {
			sections[name][sec] = rfc2231Section{val, enc}
		}
	}
	out := map[string]string{}
	for k, v := range plain {
		out[k] = decodeParamWords(v, hint)
	}
	for name, secs := range sections {
		if v, ok := joinRFC2231(secs, hint); ok {
			out[name] = v
		}
	}
	return out
}

// splitParamName splits "name*2*" into name, section 2, has section, encoded.
func splitParamName(key string) (name string, sec int, hasSec, enc bool) {
	if strings.HasSuffix(key, "*") {
		enc = true
		key = key[:len(key)-1]
	}
	if i := strings.LastIndexByte(key, '*'); i >= 0 {
		if n, err := strconv.Atoi(key[i+1:]); err == nil && n >= 0 && n < 1000 {
			return key[:i], n, true, enc
		}
	}
	return key, 0, false, enc
}

// joinRFC2231 joins the sections of one parameter (RFC 2231 section 3),
// percent-decodes the encoded ones and converts the result from the charset
// named in the first section (RFC 2231 section 4).
func joinRFC2231(secs map[int]rfc2231Section, hint string) (string, bool) {
	idx := make([]int, 0, len(secs))
	for i := range secs {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var buf []byte
	cs := ""
	for n, i := range idx {
		if i != n {
			break // a gap: RFC 2231 section 3 says stop
		}
		sec := secs[i]
		v := sec.value
		if sec.encoded {
			if n == 0 {
				if parts := strings.SplitN(v, "'", 3); len(parts) == 3 {
					cs, v = parts[0], parts[2]
				}
			}
			buf = append(buf, percentDecode(v)...)
		} else {
			buf = append(buf, v...)
		}
	}
	if len(idx) == 0 {
		return "", false
	}
	var s string
	if cs != "" && !isUTF8Label(cs) {
		if d, err := decodeCharset(buf, cs); err == nil {
			s = d
		}
	}
	if s == "" {
		s, _ = bestEffortUTF8(buf, cs, hint)
	}
	return decodeParamWords(s, hint), true
}

func percentDecode(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if b, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				out = append(out, byte(b))
				i += 2
				continue
			}
		}
		out = append(out, s[i])
	}
	return out
}

// decodeParamWords decodes RFC 2047 encoded-words in a parameter value and
// makes it valid UTF-8.
func decodeParamWords(v, hint string) string {
	v = validString(v, hint)
	if !strings.Contains(v, "=?") {
		return v
	}
	v = mergeEncodedWords(v)
	out, err := WordDecoder.DecodeHeader(v)
	if err != nil || encodedWord.MatchString(out) {
		out = decodeWordsLeniently(v, hint)
	}
	return validString(out, hint)
}

// transferProblem collects what a lenient transfer decoder had to skip.
type transferProblem struct {
	kind string // "base64", "quoted-printable", "uuencode"
	bad  bool
	// at is the number of bytes decoded before the encoding broke down
	// (base64: a character outside the alphabet, or data after the padding
	// that ends the data, RFC 2045 section 6.8), or -1.
	at int
	// partial is the number of bytes decoded from a last group of fewer
	// than four characters after such a padding.
	partial int
	// raw is set when the body is not in the encoding at all and is kept
	// as it is.
	raw bool
}

func (t *transferProblem) report(p *parser, where, mt string) {
	switch {
	case t == nil:
	case t.raw:
		p.warnf("%s: declared %s but is not, kept as it is", label(where, mt), t.kind)
	case t.bad:
		p.warnf("%s: malformed %s, decoded what was readable", label(where, mt), t.kind)
	}
}

// transferDecoder returns a reader that undoes the Content-Transfer-Encoding
// (RFC 2045 section 6) of body, or nil when body is to be used as it is
// (7bit, 8bit, binary). Misspelt encodings are recognised; an unknown one
// leaves the body as it is, with a warning. A body declared base64 whose
// first line is not base64 is kept as it is (see looksBase64).
func (p *parser) transferDecoder(cte string, body []byte, where, mt string) (io.Reader, *transferProblem) {
	enc := strings.ToLower(strings.Trim(cte, " \t\"';"))
	if i := strings.IndexAny(enc, "; \t"); i >= 0 && !strings.HasPrefix(enc, "quoted") {
		enc = enc[:i]
	}
	switch enc {
	case "", "7bit", "8bit", "binary", "7-bit", "8-bit", "7bits", "8bits", "none":
		return nil, nil
	case "base64", "base-64":
		return newBase64Reader(body)
	case "quoted-printable", "quoted printable", "quoted_printable", "quotedprintable", "qp":
		t := &transferProblem{kind: "quoted-printable", at: -1}
		return &qpReader{r: smallReader(body), prob: t}, t
	case "x-uuencode", "uuencode", "x-uue", "uue":
		t := &transferProblem{kind: "uuencode", at: -1}
		return &uuReader{r: smallReader(body), prob: t}, t
	}
	switch {
	case strings.Contains(enc, "base64"):
		return newBase64Reader(body)
	case strings.HasPrefix(enc, "quoted"):
		t := &transferProblem{kind: "quoted-printable", at: -1}
		return &qpReader{r: smallReader(body), prob: t}, t
	}
	p.warnf("%s: unknown transfer encoding %q, body kept as it is", label(where, mt), shorten(cte, 40))
	return nil, nil
}

// smallReader returns a buffered reader of b with a buffer no larger than
// needed.
func smallReader(b []byte) *bufio.Reader {
	return bufio.NewReaderSize(bytes.NewReader(b), min(max(len(b), 512), 4096))
}

// newBase64Reader returns the base64 decoder of body, or, when body is not
// base64 at all, nil (body is kept as it is) and a problem saying so.
func newBase64Reader(body []byte) (io.Reader, *transferProblem) {
	t := &transferProblem{kind: "base64", at: -1}
	if !looksBase64(body) {
		t.raw = true
		return nil, t
	}
	return &base64Reader{src: body, prob: t}, t
}

// looksBase64 reports whether b looks like base64 (RFC 2045 section 6.8):
// its first character that is not white space is in the base64 alphabet,
// and so are at least three quarters of the others on that line. A body
// that fails this was mislabelled (plain text, a placeholder, a raw file)
// and decoding it would only give garbage; stray characters in base64 are
// skipped by the decoder instead.
func looksBase64(b []byte) bool {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		good, bad := 0, 0
		for _, c := range line {
			switch {
			case base64Val[c] >= 0 || c == '=':
				good++
			case c == ' ' || c == '\t' || c == '\r':
			case good == 0:
				return false
			default:
				bad++
			}
		}
		if good > 0 {
			return bad*3 <= good
		}
	}
	return true
}

// base64Val maps base64 alphabet bytes to their value, others to -1.
var base64Val = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alpha); i++ {
		t[alpha[i]] = int8(i)
	}
	return t
}()

// base64Reader decodes base64 (RFC 2045 section 6.8) leniently from memory:
// characters outside the alphabet are skipped (as RFC 2045 asks), padding
// in the middle ends a quantum (concatenated encodings), and a truncated
// last quantum yields what it holds. Runs of whole quanta are decoded with
// encoding/base64.
type base64Reader struct {
	src   []byte
	i     int // next byte of src
	prob  *transferProblem
	q     [4]byte
	nq    int
	out   [3]byte
	nout  int
	iout  int
	n     int  // bytes decoded so far
	ended bool // a padding has ended the data
	eof   bool
	slow  int // src is read byte by byte up to here
}

func (b *base64Reader) flushQuantum() {
	switch b.nq {
	case 0:
	case 1:
		b.prob.bad = true
	default:
		v := uint32(b.q[0])<<18 | uint32(b.q[1])<<12 | uint32(b.q[2])<<6 | uint32(b.q[3])
		b.out = [3]byte{byte(v >> 16), byte(v >> 8), byte(v)}
		b.nout, b.iout = b.nq-1, 0
		b.n += b.nout
	}
	b.q, b.nq = [4]byte{}, 0
}

// problem records that the data broke down after the bytes decoded so far.
func (b *base64Reader) problem() {
	if b.prob.at < 0 {
		b.prob.at = b.n
	}
}

// Read implements io.Reader.
func (b *base64Reader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if b.iout < b.nout {
			c := copy(p[n:], b.out[b.iout:b.nout])
			n += c
			b.iout += c
			continue
		}
		if b.i >= len(b.src) {
			if b.eof {
				break
			}
			b.eof = true
			if b.ended && b.nq > 1 {
				b.prob.partial = b.nq - 1
			}
			b.flushQuantum()
			continue
		}
		if b.nq == 0 && b.i >= b.slow {
			// Fast path: whole quanta at the start of the rest of the line,
			// decoded by encoding/base64, which checks the characters.
			rest := b.src[b.i:]
			line, next := rest, len(rest)
			if nl := bytes.IndexByte(rest, '\n'); nl >= 0 {
				line, next = rest[:nl], nl+1
			}
			line = bytes.TrimSuffix(line, []byte("\r"))
			k := min(len(line), (len(p)-n)/3*4)
			k -= k % 4
			switch {
			case k == 0 && len(p)-n < 3:
				// No room left in p: the next call decodes the line.
			case k == 0 || line[k-1] == '=':
				b.slow = b.i + next // a short line or padding: byte by byte
			default:
				m, err := base64.StdEncoding.Decode(p[n:], line[:k])
				if err != nil {
					b.slow = b.i + next // not only base64 characters: byte by byte
					break
				}
				if b.ended {
					b.problem() // data after the end
				}
				n += m
				b.n += m
				if k == len(line) {
					b.i += next
				} else {
					b.i += k
				}
				continue
			}
		}
		c := b.src[b.i]
		b.i++
		switch v := base64Val[c]; {
		case v >= 0:
			if b.ended {
				b.problem() // data after the end
			}
			b.q[b.nq] = byte(v)
			b.nq++
			if b.nq == 4 {
				b.flushQuantum()
			}
		case c == '=':
			if b.nq > 1 {
				b.ended = true
			}
			b.flushQuantum()
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		default:
			b.problem()
			b.prob.bad = true
		}
	}
	if n > 0 {
		return n, nil
	}
	return 0, io.EOF
}

// qpReader decodes quoted-printable (RFC 2045 section 6.7) leniently: an "="
// not followed by two hex digits (either case) or a line break stays as it
// is, trailing white space is removed (rule 3), and any byte is accepted.
type qpReader struct {
	r    *bufio.Reader
	prob *transferProblem
	ws   []byte // pending white space, dropped if the line ends
	pend []byte
	err  error
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Read implements io.Reader.
func (q *qpReader) Read(p []byte) (int, error) {
	for len(q.pend) == 0 && q.err == nil {
		q.step()
	}
	if len(q.pend) > 0 {
		n := copy(p, q.pend)
		q.pend = q.pend[n:]
		return n, nil
	}
	return 0, q.err
}

func (q *qpReader) step() {
	c, err := q.r.ReadByte()
	if err != nil {
		q.err = err // pending white space at the end is trailing: dropped
		return
	}
	switch c {
	case ' ', '\t':
		q.ws = append(q.ws, c)
		if len(q.ws) > 4096 {
			q.pend = append(q.pend, q.ws...)
			q.ws = q.ws[:0]
		}
		return
	case '\r', '\n':
		q.ws = q.ws[:0]
		q.pend = append(q.pend, c)
		return
	}
	q.pend = append(q.pend, q.ws...)
	q.ws = q.ws[:0]
	if c != '=' {
		q.pend = append(q.pend, c)
		return
	}
	peek, _ := q.r.Peek(2)
	if len(peek) == 2 {
		hi, ok1 := unhex(peek[0])
		lo, ok2 := unhex(peek[1])
		if ok1 && ok2 {
			_, _ = q.r.Discard(2)
			q.pend = append(q.pend, hi<<4|lo)
			return
		}
	}
	// Soft line break: "=" then optional white space then the line end.
	peek, _ = q.r.Peek(256)
	i := 0
	for i < len(peek) && (peek[i] == ' ' || peek[i] == '\t') {
		i++
	}
	switch {
	case i == len(peek) && len(peek) < 256:
		_, _ = q.r.Discard(i) // "=" at the very end
	case i < len(peek) && peek[i] == '\n':
		_, _ = q.r.Discard(i + 1)
	case i+1 < len(peek) && peek[i] == '\r' && peek[i+1] == '\n':
		_, _ = q.r.Discard(i + 2)
	case i+1 == len(peek) && peek[i] == '\r':
		_, _ = q.r.Discard(i + 1)
	default:
		q.prob.bad = true
		q.pend = append(q.pend, '=')
	}
}

// uuReader decodes a uuencoded body ("begin mode name" ... "end"), as sent
// with the non-standard Content-Transfer-Encoding x-uuencode.
type uuReader struct {
	r     *bufio.Reader
	prob  *transferProblem
	begun bool
	done  bool
	pend  []byte
	err   error
}

// Read implements io.Reader.
func (u *uuReader) Read(p []byte) (int, error) {
	for len(u.pend) == 0 && u.err == nil {
		u.line()
	}
	if len(u.pend) > 0 {
		n := copy(p, u.pend)
		u.pend = u.pend[n:]
		return n, nil
	}
	return 0, u.err
}

func (u *uuReader) line() {
	l, err := u.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		u.prob.bad = true
		for err == bufio.ErrBufferFull {
			_, err = u.r.ReadSlice('\n')
		}
		l = nil
	}
	line := strings.TrimRight(string(l), "\r\n")
	if !u.begun && strings.TrimSpace(line) != "" && !strings.HasPrefix(line, "begin ") {
		u.prob.bad = true // text before "begin" is skipped
	}
	if err != nil {
		u.err = err
	}
	switch {
	case u.done:
	case !u.begun:
		u.begun = strings.HasPrefix(line, "begin ")
	case line == "end":
		u.done = true
	case line == "" || line == "`":
	default:
		n := int((line[0] - ' ') & 63)
		data := line[1:]
		var out []byte
		for i := 0; i+1 < len(data) && len(out) < n; i += 4 {
			var g [4]byte
			for k := 0; k < 4; k++ {
				if i+k < len(data) {
					g[k] = (data[i+k] - ' ') & 63
				}
			}
			out = append(out, g[0]<<2|g[1]>>4, g[1]<<4|g[2]>>2, g[2]<<6|g[3])
		}
		if len(out) < n {
			u.prob.bad = true
		} else {
			out = out[:n]
		}
		u.pend = append(u.pend, out...)
	}
}
