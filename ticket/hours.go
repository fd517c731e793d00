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
	// Holidays are the days closed, by date ("2006-01-02" in Loc): the
	// public holidays (KoreanHolidays) and the center's own.
	Holidays map[string]Holiday
}

// HolidayOn returns the holiday of t's day in Loc, if it is one.
func (h Hours) HolidayOn(t time.Time) (Holiday, bool) {
	hd, ok := h.Holidays[t.In(h.location()).Format(time.DateOnly)]
	return hd, ok
}

// OpenAt reports whether t falls inside the hours on a day that is no
// holiday.
func (h Hours) OpenAt(t time.Time) bool {
	if h.Loc != nil {
		t = t.In(h.Loc)
	}
	if _, ok := h.HolidayOn(t); ok {
		return false
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

// maxClosedDays bounds the search for the next opening: a calendar with
// no open day in it has none.
const maxClosedDays = 60

// NextOpen is t when the center is open at t, else when it opens next
// (the zero time for hours that never open).
func (h Hours) NextOpen(t time.Time) time.Time {
	loc := h.location()
	t = t.In(loc)
	if h.OpenAt(t) {
		return t
	}
	if h.Close <= h.Open || len(h.Days) == 0 {
		return time.Time{}
	}
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	for i := 0; i <= maxClosedDays; i++ {
		d := day.AddDate(0, 0, i)
		open := d.Add(h.Open)
		if open.Before(t) {
			continue
		}
		if h.OpenAt(open) {
			return open
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
	loc := h.location()
	cur := h.NextOpen(t)
	for i := 0; i < 20000 && !cur.IsZero(); i++ {
		cur = cur.In(loc)
		closeAt := time.Date(cur.Year(), cur.Month(), cur.Day(), 0, 0, 0, 0, loc).Add(h.Close)
		left := closeAt.Sub(cur)
		if d <= left {
			return cur.Add(d)
		}
		d -= left
		cur = h.NextOpen(closeAt)
	}
	return time.Time{}
}

// BusinessBetween is the business time (open hours) between a and b (0
// when b is not after a).
func (h Hours) BusinessBetween(a, b time.Time) time.Duration {
	var total time.Duration
	loc := h.location()
	cur := h.NextOpen(a)
	for i := 0; i < 20000 && !cur.IsZero() && cur.Before(b); i++ {
		cur = cur.In(loc)
		closeAt := time.Date(cur.Year(), cur.Month(), cur.Day(), 0, 0, 0, 0, loc).Add(h.Close)
		if b.Before(closeAt) {
			return total + b.Sub(cur)
		}
		total += closeAt.Sub(cur)
		cur = h.NextOpen(closeAt)
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
