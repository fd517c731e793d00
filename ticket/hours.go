package ticket

import (
	"fmt"
	"strings"
	"time"
)

// Hours are the center's opening hours: the same span on each listed weekday.
type Hours struct {
	Days  []time.Weekday
	Open  time.Duration // since midnight
	Close time.Duration // since midnight
	Loc   *time.Location
}

// OpenAt reports whether t falls inside the hours.
func (h Hours) OpenAt(t time.Time) bool {
	if h.Loc != nil {
		t = t.In(h.Loc)
	}
	day := false
	for _, d := range h.Days {
		if d == t.Weekday() {
			day = true
		}
	}
	since := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
	return day && since >= h.Open && since < h.Close
}

// location is Loc, UTC when unset.
func (h Hours) location() *time.Location {
	if h.Loc == nil {
		return time.UTC
	}
	return h.Loc
}

// Span formats the daily span as "09:00-18:00".
func (h Hours) Span() string {
	return clock(h.Open) + "-" + clock(h.Close)
}

// IsWeekdays reports whether the days are exactly Monday to Friday.
func (h Hours) IsWeekdays() bool {
	if len(h.Days) != 5 {
		return false
	}
	for i, d := range h.Days {
		if d != time.Weekday(i+1) {
			return false
		}
	}
	return true
}

func clock(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60)
}

// ParseClock parses "HH:MM" into a duration since midnight.
func ParseClock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("want HH:MM, got %q", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

var weekdayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseDays parses a list such as "mon-fri" or "mon,wed,sat".
func ParseDays(s string) ([]time.Weekday, error) {
	var out []time.Weekday
	seen := map[time.Weekday]bool{}
	for _, part := range strings.Split(strings.ToLower(s), ",") {
		part = strings.TrimSpace(part)
		from, to, isRange := strings.Cut(part, "-")
		a, ok := weekdayNames[strings.TrimSpace(from)]
		if !ok {
			return nil, fmt.Errorf("unknown weekday %q (use sun, mon, tue, wed, thu, fri, sat)", from)
		}
		b := a
		if isRange {
			if b, ok = weekdayNames[strings.TrimSpace(to)]; !ok {
				return nil, fmt.Errorf("unknown weekday %q (use sun, mon, tue, wed, thu, fri, sat)", to)
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
			if d == b {
				break
			}
		}
	}
	return out, nil
}
