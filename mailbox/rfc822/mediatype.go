package rfc822

import (
	"sort"
	"strconv"
	"strings"
)

// Media types and their parameters (RFC 2045, RFC 2231).

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
	out, err := wordDecoder.DecodeHeader(v)
	if err != nil || encodedWord.MatchString(out) {
		out = decodeWordsLeniently(v, hint)
	}
	return validString(out, hint)
}
