package rfc822

import "strings"

// Message-ID lists (RFC 5322 section 3.6.4).

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
