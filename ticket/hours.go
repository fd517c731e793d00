package ticket

import (
	"fmt"
	"strings"
	"time"
)

// Hours are the center's opening hours: the same span on each listed
// weekday, less the daily breaks, with days of other hours and closed days.
type Hours struct {
	Days  []time.Weekday
	Open  time.Duration // since midnight
	Close time.Duration // since midnight
	Loc   *time.Location
	// Week, when it names a weekday, gives that day other spans than
	// Open-Close (a Saturday morning); Days still says which days open.
	Week map[time.Weekday][]Span
	// Breaks are closed spans inside every open day (a lunch break).
	Breaks []Span
	// Special are days with other hours than their weekday's, by date
	// ("2006-01-02" in Loc); no spans: closed.
	Special map[string][]Span
	// Holidays are the days closed, by date ("2006-01-02" in Loc): the
	// public holidays (KoreanHolidays) and the center's own.
	Holidays map[string]Holiday
}

// Span is an open span of a day, from Open to Close (since midnight).
type Span struct{ Open, Close time.Duration }

// String is "09:00-12:00".
func (s Span) String() string { return clock(s.Open) + "-" + clock(s.Close) }

// HolidayOn returns the holiday of t's day in Loc, if it is one.
func (h Hours) HolidayOn(t time.Time) (Holiday, bool) {
	hd, ok := h.Holidays[t.In(h.location()).Format(time.DateOnly)]
	return hd, ok
}

// SpansOn returns the open spans of t's day in Loc, in order: its special
// hours if it has them, none on a holiday or a weekday that is not open,
// else the daily span less the breaks.
func (h Hours) SpansOn(t time.Time) []Span {
	t = t.In(h.location())
	date := t.Format(time.DateOnly)
	if sp, ok := h.Special[date]; ok {
		return sp
	}
	if _, ok := h.Holidays[date]; ok {
		return nil
	}
	for _, d := range h.Days {
		if d == t.Weekday() {
			if sp, ok := h.Week[d]; ok {
				return h.lessBreaks(sp)
			}
			return h.regular()
		}
	}
	return nil
}

// regular is the daily span less the breaks.
func (h Hours) regular() []Span {
	if h.Close <= h.Open {
		return nil
	}
	return h.lessBreaks([]Span{{h.Open, h.Close}})
}

// lessBreaks is spans without the breaks.
func (h Hours) lessBreaks(spans []Span) []Span {
	for _, b := range h.Breaks {
		var next []Span
		for _, s := range spans {
			if b.Close <= s.Open || b.Open >= s.Close {
				next = append(next, s)
				continue
			}
			if b.Open > s.Open {
				next = append(next, Span{s.Open, b.Open})
			}
			if b.Close < s.Close {
				next = append(next, Span{b.Close, s.Close})
			}
		}
		spans = next
	}
	return spans
}

// midnight is the start of t's day in Loc.
func (h Hours) midnight(t time.Time) time.Time {
	t = t.In(h.location())
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, h.location())
}

// spanEnd returns the end of the open span t is in, if it is in one.
func (h Hours) spanEnd(t time.Time) (time.Time, bool) {
	day := h.midnight(t)
	since := t.Sub(day)
	for _, s := range h.SpansOn(t) {
		if since >= s.Open && since < s.Close {
			return day.Add(s.Close), true
		}
	}
	return time.Time{}, false
}

// OpenAt reports whether t falls inside an open span of its day.
func (h Hours) OpenAt(t time.Time) bool {
	_, ok := h.spanEnd(t)
	return ok
}

// maxClosedDays bounds the search for the next opening: a calendar with
// no open day in it has none.
const maxClosedDays = 60

// NextOpen is t when the center is open at t, else when it opens next
// (the zero time for hours that never open).
func (h Hours) NextOpen(t time.Time) time.Time {
	t = t.In(h.location())
	if h.OpenAt(t) {
		return t
	}
	day := h.midnight(t)
	for i := 0; i <= maxClosedDays; i++ {
		d := day.AddDate(0, 0, i)
		for _, s := range h.SpansOn(d) {
			if open := d.Add(s.Open); !open.Before(t) {
				return open
			}
		}
	}
	return time.Time{}
}

// AddBusiness returns the time d of business time (open hours) after t:
// the clock runs only while the center is open (a non-positive d gives
// t; the zero time for hours that never open).
func (h Hours) AddBusiness(t time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return t
	}
	cur := h.NextOpen(t)
	for i := 0; i < 40000 && !cur.IsZero(); i++ {
		end, _ := h.spanEnd(cur)
		if left := end.Sub(cur); d <= left {
			return cur.Add(d)
		} else {
			d -= left
		}
		cur = h.NextOpen(end)
	}
	return time.Time{}
}

// BusinessBetween is the business time (open hours) between a and b (0
// when b is not after a).
func (h Hours) BusinessBetween(a, b time.Time) time.Duration {
	var total time.Duration
	cur := h.NextOpen(a)
	for i := 0; i < 40000 && !cur.IsZero() && cur.Before(b); i++ {
		end, _ := h.spanEnd(cur)
		if b.Before(end) {
			return total + b.Sub(cur)
		}
		total += end.Sub(cur)
		cur = h.NextOpen(end)
	}
	return total
}

// Closure is a run of holidays the center is closed for, between a time
// and the next opening.
type Closure struct {
	Holiday            // the first day's
	From, To time.Time // the first and the last day, at midnight in Loc
	Days     int
}

// ClosureAt returns the run of consecutive holidays (weekends between
// them included) that keeps the center closed from t to its next opening,
// if a holiday does; ok is false when only the hours or a weekend do.
func (h Hours) ClosureAt(t time.Time) (Closure, bool) {
	next := h.NextOpen(t)
	if next.IsZero() || !next.After(t) {
		return Closure{}, false
	}
	loc := h.location()
	t = t.In(loc)
	var c Closure
	for d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc); d.Before(next); d = d.AddDate(0, 0, 1) {
		hd, ok := h.HolidayOn(d)
		if !ok {
			continue
		}
		if c.Days == 0 {
			c.Holiday, c.From = hd, d
		}
		c.To = d
		c.Days = int(c.To.Sub(c.From).Hours()/24+0.5) + 1
	}
	return c, c.Days > 0
}

// location is Loc, UTC when unset.
func (h Hours) location() *time.Location {
	if h.Loc == nil {
		return time.UTC
	}
	return h.Loc
}

// Span formats the daily spans, breaks left out: "09:00-18:00" or
// "09:00-12:00, 13:00-18:00".
func (h Hours) Span() string {
	return JoinSpans(h.regular())
}

// JoinSpans formats spans as "09:00-12:00, 13:00-18:00".
func JoinSpans(spans []Span) string {
	parts := make([]string, len(spans))
	for i, sp := range spans {
		parts[i] = sp.String()
	}
	return strings.Join(parts, ", ")
}

// ParseSpans parses "09:00-12:00, 13:00-18:00": spans in order, each
// closing after it opens, none overlapping the one before.
func ParseSpans(s string) ([]Span, error) {
	var out []Span
	for _, part := range strings.Split(s, ",") {
		a, b, ok := strings.Cut(strings.TrimSpace(part), "-")
		if !ok {
			return nil, fmt.Errorf("want HH:MM-HH:MM, got %q", part)
		}
		open, err := ParseClock(a)
		if err != nil {
			return nil, err
		}
		close, err := ParseClock(b)
		if err != nil {
			return nil, err
		}
		if close <= open {
			return nil, fmt.Errorf("%q closes before it opens", part)
		}
		if n := len(out); n > 0 && open < out[n-1].Close {
			return nil, fmt.Errorf("%q overlaps the span before it", part)
		}
		out = append(out, Span{open, close})
	}
	return out, nil
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
