package ticket

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var tagRE = regexp.MustCompile(`\[#(\d{1,12})\]`)

// SubjectTag returns the ticket number in a subject's `[#N]` tag.
func SubjectTag(subject string) (uint64, bool) {
	m := tagRE.FindStringSubmatch(subject)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseUint(m[1], 10, 64)
	return n, err == nil && n > 0
}

// TaggedSubject returns "[#N] subject", without adding a second tag for the
// same ticket.
func TaggedSubject(id uint64, subject string) string {
	tag := fmt.Sprintf("[#%d]", id)
	subject = strings.TrimSpace(subject)
	if strings.Contains(subject, tag) {
		return subject
	}
	if subject == "" {
		return tag
	}
	return tag + " " + subject
}

// TrimMessageID strips angle brackets and surrounding space from a
// Message-ID and leaves it otherwise as received: the form a message keeps,
// shows and echoes in our In-Reply-To and References, since clients that
// thread by exact match would not thread a changed one.
func TrimMessageID(id string) string {
	id = strings.TrimSpace(id)
	id = strings.TrimPrefix(id, "<")
	id = strings.TrimSuffix(id, ">")
	return strings.TrimSpace(id)
}

// CanonicalMessageID is the form under which Message-IDs are compared and
// looked up: TrimMessageID, with the domain part lower-cased. Message-IDs
// compare byte-exactly (RFC 5322 section 3.6.4), except that we treat the
// domain part case-insensitively as most mail systems do.
func CanonicalMessageID(id string) string {
	id = TrimMessageID(id)
	if at := strings.LastIndexByte(id, '@'); at >= 0 {
		id = id[:at] + strings.ToLower(id[at:])
	}
	return id
}

// SafeMessageID returns a Message-ID (angle brackets and surrounding
// space removed) as it can be written into In-Reply-To or References of a
// mail we send: unchanged when it is printable ASCII without white space
// and without any of ( ) < > \ " , ; (RFC 5322 section 3.6.4), else with
// each such byte, each byte outside ASCII and each % written as %XX. The
// safe form of a stored mail's unsafe Message-ID is indexed too, so a
// reply that echoes it finds the mail.
func SafeMessageID(id string) string {
	id = strings.TrimSpace(id)
	id = strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
	unsafe := func(c byte) bool {
		return c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>\",;`, c) >= 0
	}
	i := 0
	for i < len(id) && !unsafe(id[i]) {
		i++
	}
	if i == len(id) {
		return id
	}
	var b strings.Builder
	for j := 0; j < len(id); j++ {
		if c := id[j]; unsafe(c) || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// DedupeKey is the key under which a mail is remembered: its canonical
// Message-ID, or the SHA-256 of its raw bytes when it has none.
func DedupeKey(messageID string, raw []byte) string {
	return dedupeKey(messageID, func() string { return rawSum(raw) })
}

// dedupeKey is DedupeKey with the raw mail's hash computed by sum, only
// when it is needed.
func dedupeKey(messageID string, sum func() string) string {
	if id := CanonicalMessageID(messageID); id != "" {
		return "mid:" + id
	}
	return "sha:" + sum()
}

// ContentSum is the content fingerprint of a raw mail: the hex SHA-256
// of its From, Subject, Date and Message-ID fields (unfolded, white space
// collapsed) and of its body (the bytes after the header, with CRs removed
// and trailing white space trimmed). Fields that servers add on the way
// (Received, Delivered-To, Return-Path, Authentication-Results, ...) do not
// count, so a mail delivered twice, or once by IMAP and once through
// `ticketd ingest`, has one fingerprint; a different mail that reuses a
// Message-ID has another.
func ContentSum(raw []byte) string {
	h := sha256.New()
	end := headerEnd(raw)
	header := raw
	var body []byte
	if end >= 0 {
		header, body = raw[:end], raw[end:]
	}
	fields := map[string]string{}
	var name string
	for line := range bytes.Lines(header) {
		line = bytes.TrimRight(line, "\r\n")
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if name != "" {
				fields[name] += " " + string(bytes.TrimSpace(line))
			}
			continue
		}
		name = ""
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch n := strings.ToLower(string(bytes.TrimSpace(k))); n {
		case "from", "subject", "date", "message-id":
			if _, dup := fields[n]; !dup { // the first field of each name
				name, fields[n] = n, string(bytes.TrimSpace(v))
			}
		}
	}
	for _, n := range []string{"from", "subject", "date", "message-id"} {
		fmt.Fprintf(h, "%s\x00%s\x00", n, strings.Join(strings.Fields(fields[n]), " "))
	}
	body = bytes.TrimRight(body, " \t\r\n")
	for len(body) > 0 {
		i := bytes.IndexByte(body, '\r')
		if i < 0 {
			h.Write(body)
			break
		}
		h.Write(body[:i])
		body = body[i+1:]
	}
	return hex.EncodeToString(h.Sum(nil))
}

// headerEnd returns the offset just after the blank line that ends the
// header (CRLF or LF line ends), or -1 when there is none.
func headerEnd(raw []byte) int {
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\n')
		if j < 0 {
			return -1
		}
		if line := raw[i : i+j]; len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			return i + j + 1
		}
		i += j + 1
	}
	return -1
}

// rawSum is the hex SHA-256 of raw.
func rawSum(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// NewMessageID makes a Message-ID for a mail we send about a ticket:
// "t1024.RANDOM@domain" (no angle brackets).
func NewMessageID(ticketID uint64, domain string) string {
	var b [9]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("ticket: crypto/rand: %v", err)) // never happens on Linux
	}
	return fmt.Sprintf("t%d.%s@%s", ticketID, hex.EncodeToString(b[:]), domain)
}

// RuleHeaders are the header fields the core's rules read from
// Mail.Headers: the automatic-mail and loop markers, the delivery
// addresses a token may be in, and the receiving MX's authentication
// verdict. [Service.HeaderFields] adds the configured spam header; a mail
// reader copies those.
var RuleHeaders = []string{
	"Auto-Submitted", "Precedence", "List-Id", "List-Unsubscribe",
	"X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress",
	"Return-Path", "Delivered-To", "X-Original-To", LoopHeader,
	"Authentication-Results", "X-Spam-Flag",
}

// HeaderFields are the header fields the service's rules read from
// Mail.Headers: RuleHeaders and the spam header (Config.SpamHeader).
func (s *Service) HeaderFields() []string {
	out := slices.Clone(RuleHeaders)
	if !slices.Contains(out, s.cfg.SpamHeader) {
		out = append(out, s.cfg.SpamHeader)
	}
	return out
}

// IsAutomatic reports whether a mail was sent by a machine rather than a
// person, and why, following RFC 3834 section 5 and the headers common
// auto-responders use instead. Automatic mail is stored but never
// acknowledged, so two auto-responders cannot ping-pong through us.
func IsAutomatic(m *Mail, loopHeader string) (bool, string) {
	h := func(k string) string { return strings.TrimSpace(m.Headers[k]) }
	if v := strings.ToLower(h("Auto-Submitted")); v != "" && v != "no" {
		return true, "Auto-Submitted: " + v
	}
	switch v := strings.ToLower(h("Precedence")); v {
	case "bulk", "junk", "list", "auto_reply":
		return true, "Precedence: " + v
	}
	for _, k := range []string{"List-Id", "List-Unsubscribe", "X-Autoreply", "X-Autorespond"} {
		if h(k) != "" {
			return true, k
		}
	}
	if v := strings.ToLower(h("X-Auto-Response-Suppress")); v != "" && v != "none" {
		return true, "X-Auto-Response-Suppress: " + v
	}
	if loopHeader != "" && h(loopHeader) != "" {
		return true, loopHeader
	}
	if rp := h("Return-Path"); rp == "<>" {
		return true, "null Return-Path"
	}
	local, _, _ := strings.Cut(strings.ToLower(m.From.Email), "@")
	switch {
	case m.From.Email == "":
		return true, "no sender"
	case local == "mailer-daemon" || local == "postmaster":
		return true, "sender " + local
	case strings.HasPrefix(local, "noreply") || strings.HasPrefix(local, "no-reply") ||
		strings.HasPrefix(local, "no_reply") || strings.HasPrefix(local, "donotreply") ||
		strings.HasPrefix(local, "do-not-reply"):
		return true, "no-reply sender"
	}
	for _, w := range []string{"부재중", "자동 회신", "자동회신", "자동응답", "자동 응답"} {
		if strings.Contains(m.Subject, w) {
			return true, "subject says " + w
		}
	}
	return false, ""
}
