package rfc822

import (
	"encoding/base64"
	"io"
	stdtextproto "net/textproto"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// The header fields of a mail: RFC 2047 encoded words and raw 8-bit text.

// headers fills the header-derived fields of the mail.
func (p *parser) headers() {
	m, h := p.mail, p.hdr
	m.Subject = strings.TrimSpace(p.text("Subject", h.Get("Subject")))

	m.To = p.addresses("To")
	m.Cc = p.addresses("Cc")
	m.ReplyTo = p.addresses("Reply-To")
	m.From = p.sender()

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

	for _, k := range []string{"Delivered-To", "X-Original-To"} {
		for _, v := range h.Values(k) {
			if a := strings.ToLower(strings.Trim(strings.TrimSpace(v), "<> \t")); a != "" && !slices.Contains(m.Delivered, a) {
				m.Delivered = append(m.Delivered, validString(a))
			}
		}
	}
	for _, k := range p.fields {
		k = stdtextproto.CanonicalMIMEHeaderKey(strings.TrimSpace(k))
		if _, done := m.Headers[k]; !done && h.Has(k) {
			m.Headers[k] = p.raw8bit(k, h.Get(k))
		}
	}
}

// sender returns who the mail is from: the From address, or when the mail
// names none (no field, an empty "<>", garbage), the first of Sender,
// Reply-To and the envelope sender the delivering server wrote into
// Return-Path, with a warning naming the field used. The display name of
// an unusable From is kept with the address found.
func (p *parser) sender() Address {
	if from := p.addresses("From"); len(from) > 0 {
		return from[0]
	}
	name := ""
	if v := p.hdr.Get("From"); v != "" {
		if i := strings.LastIndexByte(v, '<'); i > 0 {
			name = unquote(p.text("From", v[:i]))
		}
	}
	for _, f := range []string{"Sender", "Reply-To", "Return-Path"} {
		if l := p.addresses(f); len(l) > 0 {
			p.warnf("no From address, using %s", f)
			a := l[0]
			if a.Name == "" {
				a.Name = name
			}
			return a
		}
	}
	p.warnf("no From address")
	return Address{}
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
	v = p.raw8bit(field, encodeRawWords(v))
	if !strings.Contains(v, "=?") {
		return v
	}
	v = mergeEncodedWords(v)
	out, err := wordDecoder.DecodeHeader(v)
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

// encodeRawWords rewrites each encoded-word of v that holds raw 8-bit bytes
// ("=?euc-kr?Q?<raw EUC-KR>?=", which some Korean mailers write) as a "B"
// encoded-word of the same bytes and charset. The raw 8-bit text around
// the words is then decoded on its own, and each word's bytes once, in the
// word's charset, not first as raw text and then again.
func encodeRawWords(v string) string {
	if !strings.Contains(v, "=?") || !hasHighByte([]byte(v)) {
		return v
	}
	var sb strings.Builder
	for {
		start := strings.Index(v, "=?")
		if start < 0 {
			break
		}
		end := encodedWordEnd(v[start:])
		if end < 0 {
			sb.WriteString(v[:start+2])
			v = v[start+2:]
			continue
		}
		word := v[start : start+end]
		if f := strings.SplitN(word[2:len(word)-2], "?", 3); len(f) == 3 && hasHighByte([]byte(f[2])) {
			if b, ok := wordBytes(f[1], f[2]); ok {
				word = "=?" + f[0] + "?B?" + base64.StdEncoding.EncodeToString(b) + "?="
			}
		}
		sb.WriteString(v[:start])
		sb.WriteString(word)
		v = v[start+end:]
	}
	sb.WriteString(v)
	return sb.String()
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
		if s, _, err := decodeDeclared(b, cs, hint); err == nil {
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
