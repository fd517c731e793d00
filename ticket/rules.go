package ticket

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
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

// CanonicalMessageID strips angle brackets and space from a Message-ID.
// Message-IDs compare byte-exactly (RFC 5322 section 3.6.4), except that we
// treat the domain part case-insensitively as most mail systems do.
func CanonicalMessageID(id string) string {
	id = strings.TrimSpace(id)
	id = strings.TrimPrefix(id, "<")
	id = strings.TrimSuffix(id, ">")
	id = strings.TrimSpace(id)
	if at := strings.LastIndexByte(id, '@'); at >= 0 {
		id = id[:at] + strings.ToLower(id[at:])
	}
	return id
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
