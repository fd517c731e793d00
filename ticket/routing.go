package ticket

import (
	"path"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Route is one routing rule: a mail it matches gets its category and goes
// to its group (Config.Routes, the first matching rule wins).
type Route struct {
	Name     string
	Category string
	Group    string
	// To are addresses or patterns matched against the mail's To, Cc and
	// delivery addresses (Mail.Delivered): "loan@example.com" (and its
	// plus-addresses), "loan@" (that local part at any domain),
	// "*+card@example.com", "*@loan.example.com" ('*' and '?' as in
	// shell patterns), case-insensitively.
	To []string
	// Subject and Body are words looked for in the subject and in the
	// visible text (the quoted history cut): a word matches inside words
	// (particles are glued on: 대출 matches 대출신청이), after NFC
	// normalisation, Latin case-insensitively and only at the start of a
	// Latin word ("app" is not in "happy").
	Subject []string
	Body    []string
}

// matches reports whether m matches r: when r has addresses one of them
// must be a recipient, and when it has words one of them must be in the
// subject (Subject) or the visible text (Body). A rule with neither
// matches nothing.
func (r Route) matches(m *Mail, subject, body string) bool {
	if len(r.To) == 0 && len(r.Subject) == 0 && len(r.Body) == 0 {
		return false
	}
	if len(r.To) > 0 && !anyRecipient(m, r.To) {
		return false
	}
	if len(r.Subject) == 0 && len(r.Body) == 0 {
		return true
	}
	return containsAnyWord(subject, r.Subject) || containsAnyWord(body, r.Body)
}

// anyRecipient reports whether a recipient of m (To, Cc, delivery
// addresses) matches one of the patterns.
func anyRecipient(m *Mail, patterns []string) bool {
	for _, a := range recipients(m) {
		for _, p := range patterns {
			if AddressMatches(p, a) {
				return true
			}
		}
	}
	return false
}

// recipients are the addresses a mail was sent to, in the order the
// identity is chosen by: the delivery addresses (Delivered-To, then
// X-Original-To), To, Cc.
func recipients(m *Mail) []string {
	var out []string
	for _, d := range m.Delivered {
		out = append(out, d)
	}
	for _, k := range []string{"Delivered-To", "X-Original-To"} {
		if d := CanonicalMessageID(m.Headers[k]); d != "" {
			out = append(out, d)
		}
	}
	for _, a := range m.To {
		out = append(out, a.Email)
	}
	for _, a := range m.Cc {
		out = append(out, a.Email)
	}
	return out
}

// AddressMatches reports whether addr matches the routing pattern p (see
// Route.To). An address with a plus-detail matches the pattern of its
// base address too.
func AddressMatches(p, addr string) bool {
	p = strings.ToLower(strings.TrimSpace(p))
	addr = strings.ToLower(strings.TrimSpace(addr))
	if p == "" || addr == "" {
		return false
	}
	if strings.HasSuffix(p, "@") {
		p += "*"
	}
	for _, a := range []string{addr, stripDetail(addr)} {
		if ok, err := path.Match(p, a); err == nil && ok {
			return true
		}
	}
	return false
}

// stripDetail is addr without the "+detail" of its local part.
func stripDetail(addr string) string {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok {
		return addr
	}
	base, _, _ := strings.Cut(local, "+")
	return base + "@" + domain
}

// foldText is text as routing words and the FAQ compare it: NFC, lower
// case.
func foldText(s string) string { return strings.ToLower(norm.NFC.String(s)) }

// containsAnyWord reports whether one of words is in the folded text.
func containsAnyWord(folded string, words []string) bool {
	for _, w := range words {
		if containsWord(folded, foldText(strings.TrimSpace(w))) {
			return true
		}
	}
	return false
}

// containsWord reports whether w (folded) is in the folded text: anywhere
// for Hangul, at the start of a word for a word that starts with a Latin
// letter or digit.
func containsWord(text, w string) bool {
	if w == "" {
		return false
	}
	first := []rune(w)[0]
	latin := first < unicode.MaxASCII && (unicode.IsLetter(first) || unicode.IsDigit(first))
	for i := 0; i < len(text); {
		j := strings.Index(text[i:], w)
		if j < 0 {
			return false
		}
		at := i + j
		if !latin || at == 0 || !asciiAlnum(text[at-1]) {
			return true
		}
		i = at + 1
	}
	return false
}

func asciiAlnum(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// route returns the first rule m matches, or nil.
func (s *Service) route(m *Mail) *Route {
	if len(s.cfg.Routes) == 0 {
		return nil
	}
	subject, body := foldText(m.Subject), foldText(visibleText(m))
	for i := range s.cfg.Routes {
		if s.cfg.Routes[i].matches(m, subject, body) {
			return &s.cfg.Routes[i]
		}
	}
	return nil
}

// visibleText is what the sender of m wrote (Visible, else all of Text).
func visibleText(m *Mail) string {
	if m.Visible != "" {
		return m.Visible
	}
	return m.Text
}

// Group is a named group of agents: the tickets routed or moved to it
// notify its address, or else its members.
type Group struct {
	Name    string
	Address string
	Members []string // agents' addresses
}

// group returns the configured group of this name (case-insensitively).
func (s *Service) group(name string) (Group, bool) {
	for _, g := range s.cfg.Groups {
		if name != "" && strings.EqualFold(g.Name, strings.TrimSpace(name)) {
			return g, true
		}
	}
	return Group{}, false
}

// Identity is an address ticketd sends as (Config.Identities), with the
// display name its mails carry.
type Identity struct {
	Address string
	Name    string
}

// identities are the addresses we send as: the support address first,
// then Config.Identities.
func (s *Service) identities() []Identity {
	out := []Identity{{Address: s.cfg.Support.Email, Name: s.cfg.Support.Name}}
	for _, id := range s.cfg.Identities {
		if !SameMailbox(id.Address, s.cfg.Support.Email) {
			out = append(out, id)
		}
	}
	return out
}

// identityOf returns the identity addr is (or a plus-address of).
func (s *Service) identityOf(addr string) (Identity, bool) {
	for _, id := range s.identities() {
		if SameMailbox(id.Address, addr) || IsSupportAddress(id.Address, addr) {
			return id, true
		}
	}
	return Identity{}, false
}

// writtenTo is the identity a customer's mail was written to: the first of
// its delivery addresses, To and Cc that is an identity other than the
// support address (the delivering server names the mailbox's own address
// in Delivered-To when an alias led there), else the support address.
func (s *Service) writtenTo(m *Mail) string {
	for _, a := range recipients(m) {
		if id, ok := s.identityOf(a); ok && !SameMailbox(id.Address, s.cfg.Support.Email) {
			return id.Address
		}
	}
	return ""
}

// sender is the From of our mail to a customer on t: the identity the
// ticket was written to (Ticket.Identity) while it is still configured,
// else the support address; never an address outside the list.
func (s *Service) sender(t *Ticket) Address {
	if t.Identity != "" {
		if id, ok := s.identityOf(t.Identity); ok {
			name := id.Name
			if name == "" {
				name = s.cfg.Support.Name
			}
			return Address{Name: name, Email: id.Address}
		}
	}
	return s.cfg.Support
}
