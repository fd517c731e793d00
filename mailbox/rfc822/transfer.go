package rfc822

// Content-Transfer-Encoding decoders that keep what is readable: base64, quoted-printable, uuencode.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"strings"
)

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
