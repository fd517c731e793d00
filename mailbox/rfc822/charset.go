package rfc822

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/transform"
)

// cp949Labels are the names Korean mailers give to CP949 (Unified Hangul
// Code, a superset of EUC-KR). golang.org/x/text's korean.EUCKR decodes the
// whole of CP949, including syllables such as 똠 that EUC-KR lacks; go-message
// only knows some of these names on its own. Keys must be lower-case.
var cp949Labels = []string{"cp949", "x-windows-949", "ms949", "uhc", "windows-949", "ks_c_5601-1987"}

func init() {
	for _, l := range cp949Labels {
		charset.RegisterEncoding(l, korean.EUCKR)
	}
	// Both header encoded-words and bodies decoded through go-message go
	// through this reader.
	message.CharsetReader = charsetReader
}

// NewWordDecoder returns a decoder of RFC 2047 encoded-words with every
// charset Parse knows, including CP949 under all its names and
// ISO-2022-KR. Use it wherever headers are decoded outside Parse, e.g. as
// imapclient.Options.WordDecoder.
func NewWordDecoder() *mime.WordDecoder { return &mime.WordDecoder{CharsetReader: charsetReader} }

// wordDecoder is Parse's: a mime.WordDecoder is safe for concurrent use.
var wordDecoder = NewWordDecoder()

// normCharset returns a charset label lower-cased and stripped of the quotes,
// spaces and stray semicolons that appear in the wild.
func normCharset(label string) string {
	return strings.ToLower(strings.Trim(label, " \t\r\n\"';"))
}

// isUTF8Label reports whether label names UTF-8 or a subset of it, which need
// no conversion (only a validity check).
func isUTF8Label(l string) bool {
	switch normCharset(l) {
	case "utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968", "x-utf_8j":
		return true
	}
	return false
}

// isISO2022KR reports whether label names ISO-2022-KR (RFC 1557).
func isISO2022KR(l string) bool {
	switch normCharset(l) {
	case "iso-2022-kr", "csiso2022kr":
		return true
	}
	return false
}

// charsetReader returns a reader that converts input from the named charset
// to UTF-8. It has the signature of message.CharsetReader and
// mime.WordDecoder.CharsetReader.
//
// Labels that the WHATWG encoding standard maps to its "replacement" encoding
// (which turns the whole text into one U+FFFD) are reported as unknown instead,
// except ISO-2022-KR, which is decoded properly.
func charsetReader(label string, input io.Reader) (io.Reader, error) {
	l := normCharset(label)
	switch {
	case l == "":
		return nil, fmt.Errorf("charset: empty charset name")
	case isUTF8Label(l):
		return input, nil
	case isISO2022KR(l):
		return transform.NewReader(input, newISO2022KRDecoder()), nil
	case isUTF7(l):
		b, err := io.ReadAll(input)
		if err != nil {
			return nil, fmt.Errorf("charset %q: %w", label, err)
		}
		return strings.NewReader(decodeUTF7(b)), nil
	}
	if enc, err := htmlindex.Get(l); err == nil && enc == encoding.Replacement {
		return nil, fmt.Errorf("charset %q: not supported", label)
	}
	r, err := charset.Reader(l, input)
	if err != nil {
		return nil, fmt.Errorf("charset %q: %w", label, err)
	}
	return r, nil
}

// decodeCharset converts b from the named charset to UTF-8. It returns an
// error when the charset is unknown; the caller then falls back to
// bestEffortUTF8.
func decodeCharset(b []byte, label string) (string, error) {
	r, err := charsetReader(label, bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return string(out), fmt.Errorf("charset %q: %w", label, err)
	}
	return string(out), nil
}

// decodeDeclared decodes b from its declared charset label. 8-bit bytes
// under a 7-bit label (ISO-2022-JP, -KR, -CN, HZ), which that charset
// cannot hold, are the bytes of another charset (Shift_JIS under an
// ISO-2022-JP label is common): they are guessed as bestEffortUTF8 does,
// with hints after the label, and used names the charset taken ("" when the
// label was used).
func decodeDeclared(b []byte, label string, hints ...string) (s, used string, err error) {
	if l := normCharset(label); (strings.HasPrefix(l, "iso-2022-") || l == "csiso2022jp" || l == "hz-gb-2312") &&
		!utf8.Valid(b) && hasHighByte(b) {
		s, used = bestEffortUTF8(b, append([]string{l}, hints...)...)
		return s, used, nil
	}
	s, err = decodeCharset(b, label)
	return s, "", err
}

func hasHighByte(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// bestEffortUTF8 returns b as valid UTF-8. Valid UTF-8 (RFC 6532) is kept as
// it is. Otherwise the candidates of guessCharsets are tried in turn, and the
// first that decodes b without a single invalid sequence (and, for a guess,
// reads like text in its script) wins. As a last resort, every byte that is
// not part of a valid UTF-8 sequence is read as Latin-1. The second result
// names the charset used ("" when b was valid).
func bestEffortUTF8(b []byte, hints ...string) (string, string) {
	return bestEffort(b, false, hints)
}

// bestEffortText is bestEffortUTF8 for a text body, whose line ends become
// LF (CRLF and a lone CR): in the same copy, for valid UTF-8 and for the
// Latin-1 fallback, so that a large body is not copied again for it.
func bestEffortText(b []byte, hints ...string) (string, string) {
	return bestEffort(b, true, hints)
}

func bestEffort(b []byte, lf bool, hints []string) (string, string) {
	if utf8.Valid(b) {
		if lf {
			return lfString(b), ""
		}
		return string(b), ""
	}
	for _, c := range guessCharsets(hints) {
		s, ok := decodeStrict(b, c.label)
		if !ok || (c.check && (!readsAsCJK(b, s) || !coreShare(b, c.label))) {
			continue
		}
		if lf {
			s = normalizeNewlines(s)
		}
		return s, c.label
	}
	return latin1Fallback(b, lf), "latin-1"
}

// candidate is a charset to try on bytes that are not UTF-8; check asks
// that the result read as CJK text (readsAsCJK).
type candidate struct {
	label string
	check bool
}

// guessCharsets returns the charsets to try, in order, on bytes that are not
// UTF-8, given the labels declared nearby (a part's charset, the body's):
//   - a declared multi-byte charset first, as it is;
//   - for a 7-bit CJK label (ISO-2022-JP, ISO-2022-CN, HZ), which 8-bit bytes
//     cannot be, the 8-bit charsets of its language (Shift_JIS and EUC-JP,
//     GB18030);
//   - then the CJK charsets likely for the bytes, Korean first for this
//     center: CP949 (a superset of EUC-KR), Shift_JIS, GB18030, Big5. Only
//     CP949 is taken without a check when nothing single-byte was declared;
//     the others, and CP949 against a declared single-byte charset, must
//     read as CJK text, as Latin-1 letters before ASCII ones would
//     otherwise pass for Chinese;
//   - then a declared Latin charset (ISO-8859-1, windows-1252, ...), which
//     decodes any bytes and is often the label of another part, not of
//     these bytes. Other single-byte charsets (KOI8-R, windows-1251, ...)
//     are kept in their place: their bytes read as nothing else.
func guessCharsets(hints []string) []candidate {
	var out, single []candidate
	seen := map[string]bool{}
	add := func(to *[]candidate, label string, check bool) {
		if label != "" && !seen[label] && !isUTF8Label(label) {
			seen[label] = true
			*to = append(*to, candidate{label, check})
		}
	}
	for _, h := range hints {
		h = normCharset(h)
		switch {
		case h == "" || isUTF8Label(h):
		case strings.HasPrefix(h, "iso-2022-jp") || h == "csiso2022jp":
			add(&out, "shift_jis", false)
			add(&out, "euc-jp", false)
		case strings.HasPrefix(h, "iso-2022-cn") || h == "hz-gb-2312":
			add(&out, "gb18030", false)
		case latinCharset(h):
			add(&single, h, false)
		default:
			add(&out, h, false)
		}
	}
	add(&out, "cp949", len(single) > 0)
	for _, l := range []string{"shift_jis", "gb18030", "big5"} {
		add(&out, l, true)
	}
	return append(out, single...)
}

// latinCharset reports whether label names a single-byte charset of Latin
// script, which decodes any bytes at all.
func latinCharset(label string) bool {
	enc, err := htmlindex.Get(label)
	if err != nil {
		return false
	}
	switch name, _ := htmlindex.Name(enc); name {
	case "windows-1252", "iso-8859-2", "iso-8859-3", "iso-8859-4", "iso-8859-10", "iso-8859-13", "iso-8859-14",
		"iso-8859-15", "iso-8859-16", "windows-1250", "windows-1254", "windows-1257", "windows-1258", "macintosh":
		return true
	}
	return false
}

// coreShare reports whether the two-byte characters of b lie mostly in the
// common core of the charset guessed, as real text in it does: the Hangul
// syllables of KS X 1001 (lead 0xB0-0xC8, second byte 0xA1-0xFE) for CP949,
// whose extension would otherwise read Shift_JIS and Chinese bytes as rare
// syllables; GB2312's second bytes (0xA1-0xFE) for GB18030, which would
// otherwise take Big5. Other charsets have no such check.
func coreShare(b []byte, label string) bool {
	var in func(lead, trail byte) bool
	var share float64
	switch label {
	case "cp949":
		in, share = func(l, t byte) bool { return l >= 0xb0 && l <= 0xc8 && t >= 0xa1 && t <= 0xfe }, 0.7
	case "gb18030":
		in, share = func(_, t byte) bool { return t >= 0xa1 && t <= 0xfe }, 0.8
	default:
		return true
	}
	pairs, core := 0, 0
	for i := 0; i+1 < len(b); i++ {
		if b[i] < 0x80 {
			continue
		}
		pairs++
		if in(b[i], b[i+1]) {
			core++
		}
		i++
	}
	return pairs > 0 && float64(core) >= share*float64(pairs)
}

// readsAsCJK reports whether s, decoded from b, reads as Korean, Japanese or
// Chinese text: at least two characters of those scripts, no other
// character outside ASCII (half-width katakana included: they are what
// Latin-1 capitals become in Shift_JIS), and no multi-byte character inside
// an ASCII word, which is what Latin-1 accents look like in these charsets
// ("Formação", "Verão": an ASCII letter before the lead byte and one right
// after the character's first byte or as its second; "Ärger": a letter as
// the second byte and another after it). A Japanese word glued
// to an ASCII one is read as Latin-1 too: a wrong Latin-1 guess keeps every
// byte visible, a wrong CJK guess turns a name into Chinese.
func readsAsCJK(b []byte, s string) bool {
	cjk := 0
	for _, c := range s {
		switch {
		case c < 0x80:
		case (c >= 0xac00 && c <= 0xd7a3) || (c >= 0x3130 && c <= 0x318f) || // Hangul
			(c >= 0x3040 && c <= 0x30ff) || // kana
			(c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0xf900 && c <= 0xfaff) || // Han
			(c >= 0x3000 && c <= 0x303f) || (c >= 0xff01 && c <= 0xff60) || // CJK and full-width punctuation
			(c >= 0x2000 && c <= 0x206f) || (c >= 0x2460 && c <= 0x25ff): // general punctuation, circled numbers, shapes
			cjk++
		default:
			return false
		}
	}
	if cjk < 2 {
		return false
	}
	letter := func(i int) bool {
		if i < 0 || i >= len(b) {
			return false
		}
		c := b[i] | 0x20
		return c >= 'a' && c <= 'z'
	}
	for i := 0; i < len(b); i++ {
		if b[i] < 0x80 {
			continue
		}
		if (letter(i-1) && (letter(i+1) || letter(i+2))) || (letter(i+1) && letter(i+2)) {
			return false // "Forma|çã|o", "Ver|ão", "|Är|ger"
		}
		i++ // the character's second byte
	}
	return true
}

// lfString is b as a string with CRLF and lone CR turned into LF.
func lfString(b []byte) string {
	if bytes.IndexByte(b, '\r') < 0 {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b))
	for {
		i := bytes.IndexByte(b, '\r')
		if i < 0 {
			sb.Write(b)
			return sb.String()
		}
		sb.Write(b[:i])
		sb.WriteByte('\n')
		b = b[i+1:]
		if len(b) > 0 && b[0] == '\n' {
			b = b[1:]
		}
	}
}

// decodeStrict decodes b from charset label and reports whether that worked
// without any replacement character. b is known to be invalid UTF-8, so it
// cannot hold a legitimate U+FFFD encoded in UTF-8. It decodes as a stream
// and stops at the first replacement: bytes of another charset (a long
// mail of them, say) fail after a few bytes, not after decoding it all.
func decodeStrict(b []byte, label string) (string, bool) {
	var r io.Reader
	if label == "cp949" {
		// The common case; skip the lookup.
		r = transform.NewReader(bytes.NewReader(b), korean.EUCKR.NewDecoder())
	} else {
		var err error
		if r, err = charsetReader(label, bytes.NewReader(b)); err != nil {
			return "", false
		}
	}
	var out strings.Builder
	out.Grow(min(len(b), 64<<10))
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if bytes.ContainsRune(buf[:n], utf8.RuneError) {
			return "", false
		}
		out.Write(buf[:n])
		if err == io.EOF {
			break
		} else if err != nil {
			return "", false
		}
	}
	s := out.String()
	return s, utf8.ValidString(s)
}

// latin1Fallback reads b, which is not valid UTF-8, as ISO-8859-1. When
// valid multi-byte UTF-8 sequences make up more of b than the invalid bytes
// do (UTF-8 text with a few stray bytes), those sequences are kept as UTF-8
// and only the stray bytes are read as ISO-8859-1. With lf, CRLF and a
// lone CR become LF. The result is built in one allocation of its exact
// size.
func latin1Fallback(b []byte, lf bool) string {
	utf8Bytes, bad := 0, 0
	for rest := b; len(rest) > 0; {
		r, size := utf8.DecodeRune(rest)
		switch {
		case r == utf8.RuneError && size <= 1:
			bad++
		case size > 1:
			utf8Bytes += size
		}
		rest = rest[size:]
	}
	keepUTF8 := utf8Bytes > bad
	// latin1 reads the next character: r is -1 for a CR dropped before LF.
	latin1 := func(b []byte) (r rune, size int) {
		r, size = utf8.DecodeRune(b)
		switch {
		case lf && r == '\r' && len(b) > 1 && b[1] == '\n':
			return -1, 1
		case lf && r == '\r':
			return '\n', 1
		case (r == utf8.RuneError && size <= 1) || (!keepUTF8 && size > 1):
			// ISO-8859-1 maps byte n to U+00nn.
			return rune(b[0]), 1
		}
		return r, size
	}
	n := 0
	for rest := b; len(rest) > 0; {
		r, size := latin1(rest)
		if r >= 0 {
			n += utf8.RuneLen(r)
		}
		rest = rest[size:]
	}
	var sb strings.Builder
	sb.Grow(n)
	for len(b) > 0 {
		r, size := latin1(b)
		if r >= 0 {
			sb.WriteRune(r)
		}
		b = b[size:]
	}
	return sb.String()
}

// validString returns s unchanged when it is valid UTF-8 and otherwise
// decodes it with bestEffortUTF8.
func validString(s string, hints ...string) string {
	if utf8.ValidString(s) {
		return s
	}
	out, _ := bestEffortUTF8([]byte(s), hints...)
	return out
}

// iso2022KRDesignator is the escape sequence that designates KS X 1001 as
// the shifted character set (RFC 1557 section 2). It carries no text.
var iso2022KRDesignator = []byte{0x1b, '$', ')', 'C'}

// iso2022KRToEUCKR turns ISO-2022-KR (RFC 1557) into EUC-KR: bytes between
// SO (0x0E) and SI (0x0F) are KS X 1001 code points in GL, which become
// EUC-KR by setting the high bit. The designator line is dropped. Every line
// starts in ASCII (RFC 1557 section 2), so a line break also ends a shift.
type iso2022KRToEUCKR struct {
	shifted bool
}

func newISO2022KRDecoder() transform.Transformer {
	return transform.Chain(&iso2022KRToEUCKR{}, korean.EUCKR.NewDecoder())
}

// Reset implements transform.Transformer.
func (t *iso2022KRToEUCKR) Reset() { t.shifted = false }

// Transform implements transform.Transformer.
func (t *iso2022KRToEUCKR) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		c := src[nSrc]
		switch c {
		case 0x1b:
			rest := src[nSrc:]
			if bytes.HasPrefix(rest, iso2022KRDesignator) {
				nSrc += len(iso2022KRDesignator)
				continue
			}
			if !atEOF && len(rest) < len(iso2022KRDesignator) && bytes.HasPrefix(iso2022KRDesignator, rest) {
				return nDst, nSrc, transform.ErrShortSrc
			}
		case 0x0e: // SO
			t.shifted = true
			nSrc++
			continue
		case 0x0f: // SI
			t.shifted = false
			nSrc++
			continue
		case '\r', '\n':
			t.shifted = false
		}
		if nDst >= len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		if t.shifted && c >= 0x21 && c <= 0x7e {
			c |= 0x80
		}
		dst[nDst] = c
		nDst++
		nSrc++
	}
	return nDst, nSrc, nil
}

// isUTF7 reports whether label names UTF-7 (RFC 2152), which golang.org/x/text
// does not decode.
func isUTF7(l string) bool {
	switch normCharset(l) {
	case "utf-7", "utf7", "unicode-1-1-utf-7", "csunicode11utf7", "x-unicode-2-0-utf-7":
		return true
	}
	return false
}

// decodeUTF7 decodes UTF-7 (RFC 2152): "+" starts a run of modified base64
// (no padding) holding UTF-16 code units, which ends at the first character
// outside the base64 alphabet; a "-" ending the run is dropped, and "+-"
// stands for "+". Anything else is taken as it is. Unpaired surrogates and
// bytes that are not US-ASCII become U+FFFD.
func decodeUTF7(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for i := 0; i < len(b); {
		c := b[i]
		if c != '+' {
			if c < 0x80 {
				sb.WriteByte(c)
			} else {
				sb.WriteRune(utf8.RuneError)
			}
			i++
			continue
		}
		i++
		if i < len(b) && b[i] == '-' {
			sb.WriteByte('+')
			i++
			continue
		}
		var bits uint32
		nbits := 0
		var units []uint16
		for ; i < len(b) && base64Val[b[i]] >= 0; i++ {
			bits = bits<<6 | uint32(base64Val[b[i]])
			nbits += 6
			if nbits >= 16 {
				nbits -= 16
				units = append(units, uint16(bits>>nbits))
				bits &= 1<<nbits - 1
			}
		}
		sb.WriteString(string(utf16.Decode(units)))
		if i < len(b) && b[i] == '-' {
			i++
		}
	}
	return sb.String()
}
