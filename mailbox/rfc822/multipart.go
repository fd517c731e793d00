package rfc822

// Multipart bodies (RFC 2046 section 5.1), split in place.
//
// The raw mail is always in memory, so a multipart body is split on the
// buffer itself: every body part is a slice of the raw mail, never a copy.
// The splitter keeps a stack of the boundaries of the open multiparts
// (parser.bounds, outermost first) and reads lines as follows:
//
//   - A line is a delimiter line when it starts with "--" and a boundary of
//     the stack. RFC 2046 section 5.1.1 says the boundary must not appear
//     "as the prefix of any line" inside the parts, so a prefix is enough:
//     "--ab" delimits boundary "a". When the line starts with several
//     boundaries of the stack, the innermost one wins: with "a--" outside
//     and "a----" inside, "--a----" delimits the inner part and "--a------"
//     closes the inner multipart.
//   - "--boundary--" is the close delimiter. The preamble before the first
//     delimiter and the epilogue after the close delimiter are ignored.
//   - A delimiter of an enclosing multipart ends the inner multipart too
//     (RFC 2046 section 5.1.2): its missing close delimiter is warned about.
//   - The line break before a delimiter line belongs to the delimiter.
//   - A part header ends at the first empty line; a line that is not a
//     header field is read as in the header of the mail (scanHeader): a
//     broken line among fields is dropped, otherwise it starts the body.
//     Either way the fields read are kept and a warning is added.
//   - A part cut off by the end of the mail keeps what is there, with a
//     warning ("closing boundary missing").
//
// go-message's multipart reader, which Parse used before, matched only a
// boundary followed by white space, stopped at a part header line without
// a colon, and could not tell nested boundaries such as "a--" and "a----"
// apart.

import (
	"bufio"
	"bytes"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// delim is a delimiter line found in a multipart body.
type delim struct {
	line  int  // offset of the line ("--boundary...")
	after int  // offset after the line and its line break
	level int  // index in the boundary stack of the boundary it belongs to
	close bool // a close delimiter ("--boundary--")
}

// bodyEnd returns where a body that starts at start ends when d follows
// it: the line break before the delimiter line is not part of the body.
func (d delim) bodyEnd(buf []byte, start int) int {
	end := d.line
	if end > start && buf[end-1] == '\n' {
		end--
		if end > start && buf[end-1] == '\r' {
			end--
		}
	}
	return end
}

// matchDelim reports whether the line that starts at buf[i] is a delimiter
// line of one of the boundaries in stack (outermost first); the innermost
// boundary the line starts with wins.
func matchDelim(buf []byte, i int, stack []string) (delim, bool) {
	rest := buf[i:]
	if len(rest) < 3 || rest[0] != '-' || rest[1] != '-' {
		return delim{}, false
	}
	rest = rest[2:]
	for lvl := len(stack) - 1; lvl >= 0; lvl-- {
		b := stack[lvl]
		if len(rest) < len(b) || string(rest[:len(b)]) != b {
			continue
		}
		d := delim{line: i, level: lvl, after: len(buf)}
		tail := rest[len(b):]
		d.close = len(tail) >= 2 && tail[0] == '-' && tail[1] == '-'
		if nl := bytes.IndexByte(tail, '\n'); nl >= 0 {
			d.after = i + 2 + len(b) + nl + 1
		}
		return d, true
	}
	return delim{}, false
}

// dashLine is what precedes every delimiter line that is not at the start.
var dashLine = []byte("\n--")

// findDelim returns the first delimiter line of the boundaries in stack
// that starts at or after from, which must be the start of a line.
func findDelim(buf []byte, from int, stack []string) (delim, bool) {
	if len(stack) == 0 {
		return delim{}, false
	}
	if d, ok := matchDelim(buf, from, stack); ok {
		return d, true
	}
	for i := from; i < len(buf); {
		j := bytes.Index(buf[i:], dashLine)
		if j < 0 {
			return delim{}, false
		}
		i += j + 1
		if d, ok := matchDelim(buf, i, stack); ok {
			return d, true
		}
	}
	return delim{}, false
}

// partBody returns the body of an entity that starts at buf[start:]: up to
// the next delimiter line of an open multipart, or to the end of buf. The
// second result is where the entity ends: the offset of that delimiter line,
// or len(buf).
func (p *parser) partBody(buf []byte, start int) ([]byte, int) {
	d, ok := findDelim(buf, start, p.bounds)
	if !ok {
		return buf[start:], len(buf)
	}
	return buf[start:d.bodyEnd(buf, start)], d.line
}

// multipart walks the parts of a multipart entity whose body starts at
// buf[start:], and returns where the entity ends (see walk). Parts read
// before a problem are kept.
func (p *parser) multipart(h textproto.Header, mt string, params map[string]string, buf []byte, start, depth int, where string) int {
	boundary := strings.TrimRight(params["boundary"], " \t")
	if boundary == "" {
		region, end := p.partBody(buf, start)
		boundary = guessBoundary(region[:min(len(region), 64<<10)])
		if boundary == "" || p.isOpenBoundary(boundary) {
			p.warnf("%s: no boundary, read as text", label(where, mt))
			p.leaf(h, "text/plain", params, region, where, "")
			return end
		}
		p.warnf("%s: no boundary parameter, guessed %q", label(where, mt), boundary)
	}
	if p.isOpenBoundary(boundary) {
		p.warnf("%s: boundary %q is that of an enclosing multipart; its delimiters are read as this one's", label(where, mt), boundary)
	}
	if mt == "multipart/report" {
		// RFC 6522: the returned message is no forwarded message.
		p.inReport++
		defer func() { p.inReport-- }()
	}
	outer := p.bounds
	p.bounds = append(outer[:len(outer):len(outer)], boundary)
	defer func() { p.bounds = outer }()
	level := len(outer)
	for guessed := false; ; guessed = true {
		d, ok := findDelim(buf, start, p.bounds)
		if ok && d.level == level {
			return p.readParts(buf, d, depth, mt, where)
		}
		// No delimiter of this multipart before its body ends: the
		// boundary is wrong or the body is not multipart. Read what is
		// there rather than lose it.
		end, bodyEnd := len(buf), len(buf)
		if ok {
			end, bodyEnd = d.line, d.bodyEnd(buf, start)
		}
		region := buf[start:bodyEnd]
		if !guessed {
			if g := guessBoundary(region); g != "" && g != boundary && !p.isOpenBoundary(g) {
				p.warnf("%s: no part with boundary %q, using %q found in the body", label(where, mt), boundary, g)
				boundary = g
				p.bounds[level] = g
				continue
			}
		}
		p.warnf("%s: no part found, body read as text", label(where, mt))
		p.leaf(textproto.Header{}, "text/plain", params, region, where, "")
		return end
	}
}

// isOpenBoundary reports whether b is the boundary of an open multipart.
func (p *parser) isOpenBoundary(b string) bool {
	for _, o := range p.bounds {
		if o == b {
			return true
		}
	}
	return false
}

// readParts walks the parts of the innermost open multipart, the first of
// which starts after the delimiter line d, and returns where the multipart
// ends: at the delimiter of an enclosing multipart after its epilogue (or
// instead of its close delimiter), or at len(buf).
func (p *parser) readParts(buf []byte, d delim, depth int, mt, where string) int {
	level := len(p.bounds) - 1
	for n := 1; ; n++ {
		if d.close {
			if n == 1 {
				p.warnf("%s: no part found", label(where, mt))
			}
			// The epilogue runs to a delimiter of an enclosing multipart.
			e, ok := findDelim(buf, d.after, p.bounds[:level])
			if !ok {
				return len(buf)
			}
			return e.line
		}
		if p.parts > maxParts {
			return len(buf) // walk has warned
		}
		path := partPath(where, n)
		h, bodyStart := p.partHeader(buf, d.after, path)
		end := p.walk(h, buf, bodyStart, depth+1, path, mt)
		if p.parts > maxParts {
			return len(buf)
		}
		var ok bool
		if end < len(buf) {
			d, ok = matchDelim(buf, end, p.bounds)
		}
		if !ok {
			p.warnf("%s: closing boundary missing", label(where, mt))
			return len(buf)
		}
		if d.level < level {
			p.warnf("%s: closing boundary missing, ended by the boundary of the enclosing multipart", label(where, mt))
			return end
		}
	}
}

// headerLine classifies a line of a part header.
type headerLine int

const (
	lineEnd          headerLine = iota // the empty line that ends the header
	lineField                          // "name: value"
	lineContinuation                   // starts with white space
	lineDelim                          // a delimiter line of an open multipart
	lineBad                            // anything else
)

// classify returns the kind of the header line that starts at buf[i] and
// ends before next; first tells whether it is the first line of the header.
func (p *parser) classify(buf []byte, i, next int, first bool) headerLine {
	line := bytes.TrimRight(buf[i:next], "\r\n")
	switch {
	case len(line) == 0:
		return lineEnd
	case line[0] == ' ' || line[0] == '\t':
		if first {
			if len(bytes.TrimLeft(line, " \t")) == 0 {
				return lineEnd // white space only: taken for the empty line
			}
			return lineBad
		}
		return lineContinuation
	case line[0] == '-' && len(line) > 1 && line[1] == '-':
		if _, ok := matchDelim(buf, i, p.bounds); ok {
			return lineDelim
		}
	}
	if isFieldLine(line) {
		return lineField
	}
	return lineBad
}

// nextLine returns the offset after the line that starts at buf[i].
func nextLine(buf []byte, i int) int {
	if nl := bytes.IndexByte(buf[i:], '\n'); nl >= 0 {
		return i + nl + 1
	}
	return len(buf)
}

// partHeader reads the header of the body part that starts at buf[start:]
// and returns it with the offset where the part's body starts (see
// scanHeader).
func (p *parser) partHeader(buf []byte, start int, where string) (textproto.Header, int) {
	hb, bodyStart := p.scanHeader(buf, start, where, false)
	return p.readPartHeader(hb, where), bodyStart
}

// maxLookahead bounds how many lines scanHeader looks at after a line that
// is not a header field.
const maxLookahead = 64

// scanHeader delimits a header block that starts at buf[start:], leniently,
// and returns its fields (a slice of buf, or a cleaned copy) and the offset
// where the body starts. The header ends at the first empty line, or, in a
// body part, at a delimiter line (with a warning). top is set for the
// header of the mail itself (or of a forwarded message), which has no
// delimiters and must have a field.
//
// A line that is not a header field (RFC 5322 section 2.2) is, after a
// field that ends with ";" and when it holds "=", a parameter of that field
// that lost the indent of its continuation line. Otherwise it is read by
// what follows it, up to the empty line: when mostly fields follow, it is a
// broken header line and is dropped, with a warning; else the header ended
// without its empty line: the fields read so far are kept, and that line
// starts the body, with a warning. In the header of the mail, lines before
// the first field are always dropped.
func (p *parser) scanHeader(buf []byte, start int, where string, top bool) ([]byte, int) {
	var rebuilt []byte // the header without its broken lines, once one is found
	last := -1         // start of the last field line kept
	dropping := false  // the continuation lines of a dropped line go too
	dropped := 0
	end := func(i int) []byte {
		if top && dropped > 1 {
			p.warnf("dropped %d malformed header lines in all", dropped)
		}
		if rebuilt != nil {
			return rebuilt
		}
		return buf[start:i]
	}
	for i := start; i < len(buf); {
		next := nextLine(buf, i)
		switch p.classify(buf, i, next, i == start) {
		case lineEnd:
			return end(i), next
		case lineField:
			last, dropping = i, false
			if rebuilt != nil {
				rebuilt = append(rebuilt, buf[i:next]...)
			}
			i = next
			continue
		case lineContinuation:
			if rebuilt != nil && !dropping && last >= 0 {
				rebuilt = append(rebuilt, buf[i:next]...)
			}
			i = next
			continue
		case lineDelim:
			if i > start {
				p.warnf("%s: part header not ended by an empty line", label(where, ""))
			}
			return end(i), i
		}
		line := bytes.TrimRight(buf[i:next], "\r\n")
		if last >= 0 && bytes.IndexByte(line, '=') > 0 &&
			bytes.HasSuffix(bytes.TrimRight(buf[last:i], " \t\r\n"), []byte(";")) {
			// "Content-Type: text/plain;" then "charset=utf-8": a parameter
			// that lost the indent of its continuation line.
			if rebuilt == nil {
				rebuilt = append([]byte{}, buf[start:i]...)
			}
			rebuilt = append(append(rebuilt, ' '), buf[i:next]...)
			i = next
			continue
		}
		if !(top && last < 0) && !p.headerGoesOn(buf, next) {
			if top {
				p.warnf("no empty line between header and body")
			} else {
				p.warnf("%s: part header line without a field name %q, read as the start of the body", label(where, ""), shorten(string(line), 80))
			}
			return end(i), i
		}
		if rebuilt == nil {
			rebuilt = append([]byte{}, buf[start:i]...)
		}
		if dropped++; dropped == 1 {
			if top {
				p.warnf("dropped header line without a field name: %q", shorten(string(line), 80))
			} else {
				p.warnf("%s: dropped part header line without a field name: %q", label(where, ""), shorten(string(line), 80))
			}
		}
		dropping = true
		i = next
	}
	// The input ends inside the header: there is no body.
	return end(len(buf)), len(buf)
}

// headerGoesOn reports whether the header goes on after a line that is not
// a field, which ends before buf[i]: whether an empty line follows and,
// up to it (or within maxLookahead lines), more header fields than other
// lines.
func (p *parser) headerGoesOn(buf []byte, i int) bool {
	fields, other := 0, 0
	for n := 0; n < maxLookahead && i < len(buf); n++ {
		next := nextLine(buf, i)
		switch p.classify(buf, i, next, false) {
		case lineEnd:
			return fields > other
		case lineField:
			fields++
		case lineContinuation:
		case lineDelim:
			return false
		default:
			other++
		}
		i = next
	}
	return i < len(buf) && fields > other
}

// readPartHeader parses the fields of a part header that scanHeader
// delimited: every line is a field or a continuation line.
func (p *parser) readPartHeader(hb []byte, where string) textproto.Header {
	if len(hb) == 0 {
		return textproto.Header{}
	}
	if p.hdrReader == nil {
		p.hdrReader = bufio.NewReaderSize(nil, 1024)
	}
	p.byteReader.Reset(hb)
	p.hdrReader.Reset(&p.byteReader)
	h, err := textproto.ReadHeader(p.hdrReader)
	if err != nil {
		p.warnf("%s: part header: %v", label(where, ""), shorten(err.Error(), 120))
	}
	return h
}

// guessBoundary returns the boundary of the first line that looks like a
// delimiter line ("--" and at least one more character), or "".
func guessBoundary(b []byte) string {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		line = bytes.TrimRight(line, " \t\r")
		if len(line) > 2 && len(line) <= 72 && bytes.HasPrefix(line, []byte("--")) {
			g := string(line[2:])
			return strings.TrimSuffix(g, "--")
		}
	}
	return ""
}
