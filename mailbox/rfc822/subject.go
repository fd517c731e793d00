package rfc822

import (
	"regexp"
	"strings"
)

// replyPrefix matches one reply or forward prefix of a subject, in the
// languages a Korean help desk meets: Re:, Fw:, Fwd:, AW:, WG:, TR:, SV:,
// VS:, Antw:, 답장:, 회신:, 전달:, with a count ("Re[2]:") and a full-width
// colon allowed.
var replyPrefix = regexp.MustCompile(`(?i)^\s*(?:re|fw|fwd|aw|wg|tr|sv|vs|antw|답장|회신|전달)\s*(?:\[\d+\])?\s*[:：]`)

// BaseSubject returns subject without its reply and forward prefixes
// ("Re: Fwd: 문의" is "문의"), and whether it had any: the one rule set for
// replies, used to thread (the base of a ticket's subject) and to tell a
// person's reply from a report written by mail software.
func BaseSubject(subject string) (base string, reply bool) {
	s := subject
	for {
		loc := replyPrefix.FindStringIndex(s)
		if loc == nil {
			return strings.TrimSpace(s), reply
		}
		s, reply = s[loc[1]:], true
	}
}
