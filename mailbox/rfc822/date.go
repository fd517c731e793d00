package rfc822

import (
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Dates (RFC 5322 section 3.3), and the obsolete and broken forms mail carries.

// dateLayouts are tried after net/mail.ParseDate fails; they cover dates
// seen in the wild that are not RFC 5322 section 3.3 (nor its obsolete
// forms). The day name has been removed before.
var dateLayouts = []string{
	"2 Jan 2006 15:04:05 -0700",
	"2 Jan 2006 15:04 -0700",
	"2 Jan 06 15:04:05 -0700",
	"2 Jan 06 15:04 -0700",
	"2 January 2006 15:04:05 -0700",
	"Jan 2 15:04:05 2006 -0700",
	"Jan 2 2006 15:04:05 -0700",
	"Jan 2, 2006 15:04:05 -0700",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02T15:04:05Z07:00",
	"02.01.2006 15:04:05 -0700",
	"1/2/2006 15:04:05 -0700",
}

// dateLayoutsNoZone are tried last, for dates without a (readable) zone,
// which are then taken as UTC.
var dateLayoutsNoZone = []string{
	"2 Jan 2006 15:04:05",
	"2 Jan 2006 15:04",
	"2 Jan 06 15:04:05",
	"Jan 2 15:04:05 2006",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
}

// obsZones are the zone names of RFC 5322 section 4.3 (obs-zone). Go's
// time.Parse would read them with a zero offset.
var obsZones = map[string]string{
	"UT": "+0000", "UTC": "+0000", "GMT": "+0000",
	"EST": "-0500", "EDT": "-0400", "CST": "-0600", "CDT": "-0500",
	"MST": "-0700", "MDT": "-0600", "PST": "-0800", "PDT": "-0700",
}

// colonSpaces matches white space around the colons of a time of day.
var colonSpaces = regexp.MustCompile(`\s*:\s*`)

// parseDate parses a Date field (RFC 5322 section 3.3) leniently: comments
// and the day name are dropped, obsolete zone names get their offsets, and
// common malformed layouts are tried. A date whose zone cannot be read is
// taken as UTC.
func parseDate(v string) (time.Time, error) {
	s := strings.Join(strings.Fields(stripComments(v)), " ")
	s = colonSpaces.ReplaceAllString(s, ":")
	// Drop the day name, which is often misspelt or localised.
	if i := strings.IndexByte(s, ','); i >= 0 && i < 12 {
		s = strings.TrimSpace(s[i+1:])
	} else if f := strings.Fields(s); len(f) > 0 && isDayName(f[0]) {
		s = strings.Join(f[1:], " ")
	}
	s = strings.TrimSuffix(s, ".")
	s = strings.NewReplacer("GMT+", "+", "UTC+", "+", "GMT-", "-", "UTC-", "-").Replace(s)
	f := strings.Fields(s)
	if len(f) > 0 {
		if z, ok := obsZones[strings.ToUpper(f[len(f)-1])]; ok {
			f[len(f)-1] = z
			s = strings.Join(f, " ")
		}
	}
	for _, cand := range []string{s, fixZone(s)} {
		if t, err := mail.ParseDate(cand); err == nil {
			return t, nil
		}
		for _, l := range dateLayouts {
			if t, err := time.Parse(l, cand); err == nil {
				return t, nil
			}
		}
	}
	noZone := s
	if len(f) > 1 && !strings.Contains(f[len(f)-1], ":") {
		noZone = strings.Join(f[:len(f)-1], " ")
	}
	for _, cand := range []string{s, noZone} {
		for _, l := range dateLayoutsNoZone {
			if t, err := time.Parse(l, cand); err == nil {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("rfc822: unreadable date %q", v)
}

func isDayName(s string) bool {
	s = strings.ToLower(strings.TrimRight(s, ".,"))
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		if strings.HasPrefix(s, d) {
			return true
		}
	}
	return false
}

// fixZone turns a zone like "+100" or "+01:00" into "+0100".
func fixZone(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return s
	}
	z := f[len(f)-1]
	if len(z) < 2 || (z[0] != '+' && z[0] != '-') {
		return s
	}
	digits := strings.ReplaceAll(z[1:], ":", "")
	if _, err := strconv.Atoi(digits); err != nil || len(digits) > 4 {
		return s
	}
	if len(digits) <= 2 {
		digits += "00"
	}
	for len(digits) < 4 {
		digits = "0" + digits
	}
	f[len(f)-1] = z[:1] + digits
	return strings.Join(f, " ")
}

// shorten cuts s to at most n bytes, on a rune boundary.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
