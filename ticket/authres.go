package ticket

import (
	"errors"
	"strings"
)

// authResult is one result of an Authentication-Results field
// (RFC 8601 section 2.2): a method ("dkim"), its result ("pass") and its
// properties ("header.d" -> "example.com"), values unquoted.
type authResult struct {
	method, result string
	props          map[string]string
}

// parseAuthResults parses the value of an Authentication-Results field as
// RFC 8601 section 2.2 defines it, with comments (RFC 5322 CFWS) skipped
// and quoted strings kept whole wherever they appear: a quoted local part
// such as "x; spf=pass smtp.mailfrom=a@ours"@evil.example is one value
// whose domain is evil.example, not a second result. A result that does
// not parse is skipped; the error reports the first one.
func parseAuthResults(v string) (authservID string, results []authResult, err error) {
	sc := &arScanner{s: v}
	sc.cfws()
	authservID = strings.ToLower(sc.value())
	if authservID == "" {
		return "", nil, errors.New("authentication-results: no authserv-id")
	}
	sc.cfws()
	if sc.i < len(sc.s) && sc.s[sc.i] >= '0' && sc.s[sc.i] <= '9' {
		sc.value() // authres-version
	}
	for {
		sc.cfws()
		if sc.done() {
			return authservID, results, err
		}
		if sc.s[sc.i] != ';' {
			if err == nil {
				err = errors.New("authentication-results: want ';' before a result")
			}
			sc.skipResult()
			continue
		}
		sc.i++
		r, ok := sc.result()
		if !ok {
			if err == nil {
				err = errors.New("authentication-results: malformed result")
			}
			sc.skipResult()
			continue
		}
		if r.method != "" {
			results = append(results, r)
		}
	}
}

// arScanner reads the tokens of an Authentication-Results value.
type arScanner struct {
	s string
	i int
}

func (sc *arScanner) done() bool { return sc.i >= len(sc.s) }

// cfws skips white space and (nested) comments.
func (sc *arScanner) cfws() {
	depth := 0
	for sc.i < len(sc.s) {
		c := sc.s[sc.i]
		switch {
		case c == '\\' && depth > 0:
			sc.i++
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth > 0, c == ' ', c == '\t', c == '\r', c == '\n':
		default:
			return
		}
		sc.i++
	}
}

// word reads a run of plain characters (stopping at '=' when key is set)
// and quoted strings directly next to each other, unquoted, as one value.
func (sc *arScanner) word(key bool) string {
	var b strings.Builder
	for sc.i < len(sc.s) {
		c := sc.s[sc.i]
		switch {
		case c == '"':
			sc.i++
			for sc.i < len(sc.s) && sc.s[sc.i] != '"' {
				if sc.s[sc.i] == '\\' && sc.i+1 < len(sc.s) {
					sc.i++
				}
				b.WriteByte(sc.s[sc.i])
				sc.i++
			}
			sc.i++ // the closing quote
		case c == ' ', c == '\t', c == '\r', c == '\n', c == ';', c == '(', c == ')', key && c == '=':
			return b.String()
		default:
			b.WriteByte(c)
			sc.i++
		}
	}
	return b.String()
}

func (sc *arScanner) value() string { return sc.word(false) }

// result reads "method=result *(property=value)" after a ';'. A bare
// "none" (no results) gives a result without a method.
func (sc *arScanner) result() (authResult, bool) {
	sc.cfws()
	method := strings.ToLower(sc.word(true))
	method, _, _ = strings.Cut(method, "/") // method-version
	sc.cfws()
	if method == "none" && (sc.done() || sc.s[sc.i] != '=') {
		return authResult{}, true
	}
	if method == "" || !sc.eat('=') {
		return authResult{}, false
	}
	sc.cfws()
	r := authResult{method: method, result: strings.ToLower(sc.value()), props: map[string]string{}}
	if r.result == "" {
		return authResult{}, false
	}
	for {
		sc.cfws()
		if sc.done() || sc.s[sc.i] == ';' {
			return r, true
		}
		k := strings.ToLower(sc.word(true))
		sc.cfws()
		if k == "" || !sc.eat('=') {
			return authResult{}, false
		}
		sc.cfws()
		r.props[k] = sc.value()
	}
}

func (sc *arScanner) eat(c byte) bool {
	if sc.i < len(sc.s) && sc.s[sc.i] == c {
		sc.i++
		return true
	}
	return false
}

// skipResult skips to the next ';' outside quotes and comments.
func (sc *arScanner) skipResult() {
	for !sc.done() {
		sc.cfws()
		if sc.done() || sc.s[sc.i] == ';' {
			return
		}
		if sc.word(false) == "" {
			sc.i++ // a stray '=' or ')'
		}
	}
}

// authVerdict is what the topmost Authentication-Results field of our
// receiving MX says about the sender's domain.
type authVerdict struct {
	passed bool // dkim, spf or dmarc passed for the domain
	failed bool // dmarc failed for it, or dkim or spf failed and none passed
}

// checkAuth reads ar (the topmost Authentication-Results field) when it
// comes from authservID and judges sender's domain by it. Only results
// that name the domain count: dkim's header.d (or header.i's domain),
// spf's smtp.mailfrom (or smtp.helo) domain, dmarc's header.from. A field
// from another authserv-id says nothing.
func checkAuth(ar, authservID, sender string) authVerdict {
	id, results, _ := parseAuthResults(ar)
	if id == "" || !strings.EqualFold(id, strings.TrimSpace(authservID)) {
		return authVerdict{}
	}
	domain := domainOf(sender)
	if domain == "" {
		return authVerdict{}
	}
	var v authVerdict
	var dmarcFail, otherFail bool
	for _, r := range results {
		var names []string
		switch r.method {
		case "dkim":
			names = []string{r.props["header.d"], domainOf(r.props["header.i"])}
		case "spf":
			names = []string{domainOf(r.props["smtp.mailfrom"]), r.props["smtp.helo"]}
		case "dmarc":
			names = []string{domainOf(r.props["header.from"])}
		default:
			continue
		}
		match := false
		for _, n := range names {
			match = match || (n != "" && strings.EqualFold(strings.TrimSuffix(n, "."), domain))
		}
		if !match {
			continue
		}
		switch r.result {
		case "pass":
			v.passed = true
		case "fail", "hardfail":
			if r.method == "dmarc" {
				dmarcFail = true
			} else {
				otherFail = true
			}
		}
	}
	v.failed = dmarcFail || (otherFail && !v.passed)
	return v
}

// domainOf returns the domain of an address (after its last '@'; a value
// without '@' is taken as a domain), lower-cased.
func domainOf(addr string) string {
	addr = strings.TrimSpace(addr)
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		addr = addr[i+1:]
	}
	return strings.ToLower(strings.Trim(addr, "<>"))
}
