package rfc822

import (
	"net/mail"
	"regexp"
	"strings"
)

// Address lists (RFC 5322 section 3.4), read leniently.

// addressParser decodes RFC 2047 display names with every charset we know.
var addressParser = mail.AddressParser{WordDecoder: wordDecoder}

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
	if field == "From" || field == "Sender" || field == "Return-Path" {
		// The first field that names an address: a garbage field before
		// the real one (some gateways add one) does not hide it.
		for i, v := range vs {
			if l := p.addressList(field, v); len(l) > 0 {
				if i > 0 {
					p.warnf("%s: %d field(s) without an address before this one", field, i)
				}
				return l[:1]
			}
		}
		return nil
	}
	return p.addressList(field, strings.Join(vs, ", "))
}

// addressList parses one address list leniently.
func (p *parser) addressList(field, v string) []Address {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	v = mergeEncodedWords(p.raw8bit(field, encodeRawWords(v)))
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
	email = quoteLocal(NormEmail(email))
	if email == "" || strings.HasPrefix(email, "@") || strings.HasSuffix(email, "@") ||
		(strings.ContainsAny(email, " \t") && !strings.HasPrefix(email, `"`)) {
		return l
	}
	return append(l, Address{Name: strings.TrimSpace(name), Email: email})
}

// quoteLocal quotes the local part of an address when it needs quotes (RFC
// 5322 section 3.4.1: "a b"@example.com), which net/mail returns without
// them, so the address stays one address.
func quoteLocal(e string) string {
	at := strings.LastIndexByte(e, '@')
	if at <= 0 || strings.HasPrefix(e, `"`) {
		return e
	}
	local := e[:at]
	if !strings.ContainsAny(local, " \t\"(),:;<>@[\\]") {
		return e
	}
	local = strings.ReplaceAll(strings.ReplaceAll(local, `\`, `\\`), `"`, `\"`)
	return `"` + local + `"` + e[at:]
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
	// A local user without a domain and a comment for its name, as MTAs
	// and cron write their own users: "MAILER-DAEMON (Mail Delivery
	// System)", "root (Cron Daemon)". A bare word without the comment is
	// no address ("From: Whomever").
	if c := commentText(s); len(words) == 1 && c != "" && localUser.MatchString(words[0]) {
		return c, words[0]
	}
	return "", ""
}

// localUser is a bare local part, as MTAs write their own users.
var localUser = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$`)

// commentText returns the text of the first comment in s ("(Mail Delivery
// System)"), or "".
func commentText(s string) string {
	i := strings.IndexByte(s, '(')
	j := strings.LastIndexByte(s, ')')
	if i < 0 || j < i {
		return ""
	}
	return strings.TrimSpace(s[i+1 : j])
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
