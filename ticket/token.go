package ticket

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Signer makes and checks the ticket tokens carried by every mail we send,
// signed with HMAC-SHA256 under the server secret, so that a reply can be
// matched to its ticket and a forged or guessed token is worthless.
//
// Two forms exist:
//
//   - in our Message-IDs: "t1024.RANDOM.SIG@domain", where SIG signs the
//     ticket number and RANDOM; a reply names it in In-Reply-To/References;
//   - in the Reply-To address, where the mailbox accepts plus-addressing:
//     "support+t1024-SIG@domain", where SIG signs the ticket number.
//
// Signatures are 80 bits of the HMAC in lower-case base32, so they survive
// MTAs and clients that change the case of addresses.
type Signer struct{ key []byte }

// NewSigner returns a Signer under key (at least 16 bytes).
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < 16 {
		return nil, fmt.Errorf("ticket: signing secret has %d bytes, want at least 16", len(key))
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func (s *Signer) sig(kind, data string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(kind + "\x00" + data))
	return b32.EncodeToString(m.Sum(nil)[:10])
}

// MessageID returns a new signed Message-ID (no angle brackets) for a mail
// about ticket id.
func (s *Signer) MessageID(id uint64, domain string) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("ticket: crypto/rand: %v", err)) // never happens on Linux
	}
	r := b32.EncodeToString(b[:])
	return fmt.Sprintf("t%d.%s.%s@%s", id, r, s.sig("mid", fmt.Sprintf("%d.%s", id, r)), domain)
}

// TicketFromMessageID returns the ticket a Message-ID we made names, if its
// signature is valid.
func (s *Signer) TicketFromMessageID(mid string) (uint64, bool) {
	local, _, ok := strings.Cut(CanonicalMessageID(mid), "@")
	if !ok || !strings.HasPrefix(local, "t") {
		return 0, false
	}
	parts := strings.Split(local[1:], ".")
	if len(parts) != 3 {
		return 0, false
	}
	id, err := strconv.ParseUint(parts[0], 10, 64)
	if err != nil || id == 0 {
		return 0, false
	}
	want := s.sig("mid", parts[0]+"."+parts[1])
	return id, hmac.Equal([]byte(strings.ToLower(parts[2])), []byte(want))
}

// ReplyAddress returns support's address with the signed ticket token as
// its plus-address detail: "support+t1024-SIG@domain".
func (s *Signer) ReplyAddress(support string, id uint64) string {
	local, domain, ok := strings.Cut(support, "@")
	if !ok {
		return support
	}
	return fmt.Sprintf("%s+t%d-%s@%s", local, id, s.sig("addr", strconv.FormatUint(id, 10)), domain)
}

// AgentReplyAddress is the Reply-To of a notification to an agent (or to
// the agents' group address): "support+t1024a-SIG@domain", signed over the
// ticket and the recipient. Customers never see it, so a customer who forges
// an agent's From cannot produce it.
func (s *Signer) AgentReplyAddress(support string, id uint64, recipient string) string {
	local, domain, ok := strings.Cut(support, "@")
	if !ok {
		return support
	}
	return fmt.Sprintf("%s+t%da-%s@%s", local, id, s.agentSig(id, recipient), domain)
}

func (s *Signer) agentSig(id uint64, recipient string) string {
	return s.sig("agent", fmt.Sprintf("%d:%s", id, strings.ToLower(strings.TrimSpace(recipient))))
}

// TicketFromAgentAddress returns the ticket an agent-bound plus-address of
// support names, if it was made for recipient.
func (s *Signer) TicketFromAgentAddress(support, addr, recipient string) (uint64, bool) {
	num, sig, ok := plusDetail(support, addr)
	if !ok || !strings.HasSuffix(num, "a") {
		return 0, false
	}
	id, err := strconv.ParseUint(strings.TrimSuffix(num, "a"), 10, 64)
	if err != nil || id == 0 {
		return 0, false
	}
	return id, hmac.Equal([]byte(sig), []byte(s.agentSig(id, recipient)))
}

// plusDetail splits "support+t<num>-<sig>@domain" into num and sig, when
// the local part and domain are support's.
func plusDetail(support, addr string) (num, sig string, ok bool) {
	sl, sd, ok1 := strings.Cut(strings.ToLower(support), "@")
	al, ad, ok2 := strings.Cut(strings.ToLower(strings.TrimSpace(addr)), "@")
	if !ok1 || !ok2 || sd != ad {
		return "", "", false
	}
	base, detail, ok := strings.Cut(al, "+")
	if !ok || base != sl || !strings.HasPrefix(detail, "t") {
		return "", "", false
	}
	return strings.Cut(detail[1:], "-")
}

// IsSupportAddress reports whether addr is support or one of its
// plus-addresses.
func IsSupportAddress(support, addr string) bool {
	sl, sd, ok1 := strings.Cut(strings.ToLower(support), "@")
	al, ad, ok2 := strings.Cut(strings.ToLower(strings.TrimSpace(addr)), "@")
	if !ok1 || !ok2 || sd != ad {
		return false
	}
	base, _, _ := strings.Cut(al, "+")
	return base == sl
}

// TicketFromAddress returns the ticket a customer plus-address of support
// names, if its signature is valid. The local part and domain must be
// support's.
func (s *Signer) TicketFromAddress(support, addr string) (uint64, bool) {
	num, sig, ok := plusDetail(support, addr)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseUint(num, 10, 64)
	if err != nil || id == 0 {
		return 0, false
	}
	return id, hmac.Equal([]byte(sig), []byte(s.sig("addr", num)))
}

// WebLinkQuery is the query of a link to path (of the web view) signed
// for agent, valid until exp: "a=AGENT&exp=UNIX&sig=SIG". The signature
// binds the path, the agent's address (lower-cased) and the expiry.
func (s *Signer) WebLinkQuery(path, agent string, exp time.Time) string {
	agent = strings.ToLower(agent)
	e := strconv.FormatInt(exp.Unix(), 10)
	return url.Values{"a": {agent}, "exp": {e}, "sig": {s.sig("web", path+"\x00"+agent+"\x00"+e)}}.Encode()
}

// Web link errors.
var (
	ErrLinkUnsigned = errors.New("the link is not signed")
	ErrLinkExpired  = errors.New("the link has expired")
	ErrLinkBad      = errors.New("the link's signature is wrong")
)

// CheckWebLink checks the query of a link to path (WebLinkQuery) at now
// and returns the agent it was signed for (lower-cased).
func (s *Signer) CheckWebLink(path string, q url.Values, now time.Time) (string, error) {
	agent, e, sig := q.Get("a"), q.Get("exp"), q.Get("sig")
	if agent == "" || e == "" || sig == "" {
		return "", ErrLinkUnsigned
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil {
		return "", ErrLinkBad
	}
	if !hmac.Equal([]byte(sig), []byte(s.sig("web", path+"\x00"+agent+"\x00"+e))) {
		return "", ErrLinkBad
	}
	if !now.Before(time.Unix(exp, 0)) {
		return "", ErrLinkExpired
	}
	return agent, nil
}
