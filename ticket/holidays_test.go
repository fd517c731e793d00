package ticket

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// The public holidays of 2025 and 2026 as the government announced them
// (관공서의 공휴일에 관한 규정, 월력요항), and of 2027 as its rules give them.
var officialHolidays = map[int][]string{
	2025: {"01-01", "01-27", "01-28", "01-29", "01-30", "03-01", "03-03", "05-05", "05-06", "06-03", "06-06", "08-15",
		"10-03", "10-05", "10-06", "10-07", "10-08", "10-09", "12-25"},
	2026: {"01-01", "02-16", "02-17", "02-18", "03-01", "03-02", "05-05", "05-24", "05-25", "06-03", "06-06", "08-15", "08-17",
		"09-24", "09-25", "09-26", "10-03", "10-05", "10-09", "12-25"},
	2027: {"01-01", "02-06", "02-07", "02-08", "02-09", "03-01", "05-05", "05-13", "06-06", "08-15", "08-16",
		"09-14", "09-15", "09-16", "10-03", "10-04", "10-09", "10-11", "12-25", "12-27"},
}

func TestKoreanHolidays(t *testing.T) {
	for year, want := range officialHolidays {
		var got []string
		for _, h := range KoreanHolidays(year) {
			if d := h.Date[5:]; !slices.Contains(got, d) {
				got = append(got, d)
			}
			if h.Name == "" || h.NameEn == "" {
				t.Errorf("%s has no name", h.Date)
			}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%d:\n got %v\nwant %v", year, got, want)
		}
	}
	for y := KoreanHolidaysFirst; y <= KoreanHolidaysLast; y++ {
		if n := len(KoreanHolidays(y)); n < 15 {
			t.Errorf("%d: only %d holidays", y, n)
		}
	}
	if KoreanHolidays(KoreanHolidaysLast+1) != nil {
		t.Error("a year past the table has holidays")
	}
}

func kstHours(t *testing.T) Hours {
	t.Helper()
	loc := time.FixedZone("KST", 9*3600)
	h := Hours{Days: []time.Weekday{1, 2, 3, 4, 5}, Open: 9 * time.Hour, Close: 18 * time.Hour, Loc: loc, Holidays: map[string]Holiday{}}
	for y := KoreanHolidaysFirst; y <= KoreanHolidaysLast; y++ {
		for _, hd := range KoreanHolidays(y) {
			if _, ok := h.Holidays[hd.Date]; !ok {
				h.Holidays[hd.Date] = hd
			}
		}
	}
	return h
}

// kstAt is "2006-01-02 15:04" in h's zone.
func kstAt(t *testing.T, h Hours, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, h.Loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestNextOpenAndClosure: when the center answers, and why it is closed:
// on 추석 eve, on a holiday weekend, at night, on a plain weekend and in
// hours.
func TestNextOpenAndClosure(t *testing.T) {
	h := kstHours(t)
	at := func(s string) time.Time { return kstAt(t, h, s) }
	cases := []struct {
		now, next, closure string
		days               int
	}{
		{"2026-09-23 19:30", "2026-09-28 09:00", "추석 2026-09-24..2026-09-26", 3},
		{"2026-10-02 18:00", "2026-10-06 09:00", "개천절 2026-10-03..2026-10-05", 3},
		{"2026-12-01 20:00", "2026-12-02 09:00", "", 0},
		{"2026-12-05 11:00", "2026-12-07 09:00", "", 0},
		{"2026-12-07 08:59", "2026-12-07 09:00", "", 0},
		{"2026-12-07 09:00", "2026-12-07 09:00", "", 0},
		{"2026-02-13 18:00", "2026-02-19 09:00", "설날 2026-02-16..2026-02-18", 3},
		{"2026-06-02 22:00", "2026-06-04 09:00", "제9회 전국동시지방선거일 2026-06-03..2026-06-03", 1},
	}
	for _, c := range cases {
		now := at(c.now)
		if got := h.NextOpen(now); !got.Equal(at(c.next)) {
			t.Errorf("%s: next opening %s, want %s", c.now, got, c.next)
		}
		cl, ok := h.ClosureAt(now)
		got := ""
		if ok {
			got = cl.Name + " " + cl.From.Format(time.DateOnly) + ".." + cl.To.Format(time.DateOnly)
		}
		if got != c.closure || cl.Days != c.days {
			t.Errorf("%s: closure %q (%d days), want %q (%d)", c.now, got, cl.Days, c.closure, c.days)
		}
	}
}

// The next opening is never before the time asked, the center is open
// then, and every minute between is closed.
func TestNextOpenProperties(t *testing.T) {
	h := kstHours(t)
	r := rand.New(rand.NewPCG(7, 7))
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, h.Loc)
	for range 2000 {
		now := start.Add(time.Duration(r.Int64N(int64(7 * 365 * 24 * time.Hour))))
		next := h.NextOpen(now)
		if next.Before(now) || !h.OpenAt(next) {
			t.Fatalf("%s: next opening %s", now, next)
		}
		if next.Sub(now) > 10*24*time.Hour {
			t.Fatalf("%s: closed for %s", now, next.Sub(now))
		}
		for m := now.Truncate(time.Minute).Add(time.Minute); m.Before(next); m = m.Add(37 * time.Minute) {
			if h.OpenAt(m) {
				t.Fatalf("%s: open at %s, before the next opening %s", now, m, next)
			}
		}
	}
}

// Business time: across the evening, a weekend, 추석, exactly at closing;
// and as properties: adding is monotonic, the due time is never before the
// start, and the business time between a start and its due is what was
// added.
func TestBusinessTime(t *testing.T) {
	h := kstHours(t)
	at := func(s string) time.Time { return kstAt(t, h, s) }
	for _, c := range []struct {
		from string
		add  time.Duration
		want string
	}{
		{"2026-12-01 10:00", 2 * time.Hour, "2026-12-01 12:00"},
		{"2026-12-01 17:00", 2 * time.Hour, "2026-12-02 10:00"},
		{"2026-12-04 17:00", 8 * time.Hour, "2026-12-07 16:00"},  // over a weekend
		{"2026-09-23 17:30", 8 * time.Hour, "2026-09-28 16:30"},  // over 추석
		{"2026-12-01 20:00", 9 * time.Hour, "2026-12-02 18:00"},  // a whole day, from the night before
		{"2026-12-05 12:00", 45 * time.Hour, "2026-12-11 18:00"}, // 5 business days from a Saturday
	} {
		if got := h.AddBusiness(at(c.from), c.add); !got.Equal(at(c.want)) {
			t.Errorf("%s + %s business: %s, want %s", c.from, c.add, got.Format("2006-01-02 15:04"), c.want)
		}
	}
	r := rand.New(rand.NewPCG(9, 9))
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, h.Loc)
	for range 1000 {
		from := start.Add(time.Duration(r.Int64N(int64(6 * 365 * 24 * time.Hour))))
		a, b := time.Duration(r.Int64N(int64(60*time.Hour))), time.Duration(r.Int64N(int64(60*time.Hour)))
		if a > b {
			a, b = b, a
		}
		da, db := h.AddBusiness(from, a), h.AddBusiness(from, b)
		if da.Before(from) || db.Before(da) {
			t.Fatalf("%s: +%s = %s, +%s = %s", from, a, da, b, db)
		}
		if got := h.BusinessBetween(from, db); got != b {
			t.Fatalf("%s: business time to %s is %s, want %s", from, db, got, b)
		}
	}
}

// A lunch break and a day of other hours: the clock stops over lunch,
// the center opens again after it, and on the special day it keeps that
// day's hours; the properties hold with both.
func TestBreaksAndSpecialDays(t *testing.T) {
	h := kstHours(t)
	h.Breaks = []Span{{12 * time.Hour, 13 * time.Hour}}
	h.Special = map[string][]Span{"2026-12-24": {{9 * time.Hour, 13 * time.Hour}}}
	at := func(s string) time.Time { return kstAt(t, h, s) }
	if h.OpenAt(at("2026-12-01 12:30")) || !h.OpenAt(at("2026-12-01 13:00")) || h.Span() != "09:00-12:00, 13:00-18:00" {
		t.Fatalf("lunch: open at 12:30 %v, at 13:00 %v, span %q", h.OpenAt(at("2026-12-01 12:30")), h.OpenAt(at("2026-12-01 13:00")), h.Span())
	}
	for _, c := range []struct {
		from string
		add  time.Duration
		want string
	}{
		{"2026-12-01 11:00", 2 * time.Hour, "2026-12-01 14:00"},
		{"2026-12-01 12:30", time.Hour, "2026-12-01 14:00"},
		{"2026-12-24 11:00", 3 * time.Hour, "2026-12-28 10:00"}, // 2h on the short day, 성탄절, a weekend
	} {
		if got := h.AddBusiness(at(c.from), c.add); !got.Equal(at(c.want)) {
			t.Errorf("%s + %s: %s, want %s", c.from, c.add, got.Format("2006-01-02 15:04"), c.want)
		}
	}
	if got := h.NextOpen(at("2026-12-01 12:10")); !got.Equal(at("2026-12-01 13:00")) {
		t.Errorf("next opening after lunch: %s", got)
	}
	r := rand.New(rand.NewPCG(3, 3))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, h.Loc)
	for range 500 {
		from := start.Add(time.Duration(r.Int64N(int64(365 * 24 * time.Hour))))
		d := time.Duration(r.Int64N(int64(40 * time.Hour)))
		due := h.AddBusiness(from, d)
		if due.Before(from) || h.BusinessBetween(from, due) != d {
			t.Fatalf("%s + %s = %s (business between %s)", from, d, due, h.BusinessBetween(from, due))
		}
	}
	// A Saturday morning.
	h.Days = append(h.Days, time.Saturday)
	h.Week = map[time.Weekday][]Span{time.Saturday: {{9 * time.Hour, 12 * time.Hour}}}
	if !h.OpenAt(at("2026-12-05 11:00")) || h.OpenAt(at("2026-12-05 12:30")) || JoinSpans(h.SpansOn(at("2026-12-05 00:00"))) != "09:00-12:00" {
		t.Errorf("Saturday: %v", h.SpansOn(at("2026-12-05 00:00")))
	}
	if got := h.AddBusiness(at("2026-12-04 17:00"), 2*time.Hour); !got.Equal(at("2026-12-05 10:00")) {
		t.Errorf("Friday 17:00 + 2h with Saturday mornings: %s", got)
	}
	if _, err := ParseSpans("09:00-12:00, 11:00-18:00"); err == nil {
		t.Error("overlapping spans parsed")
	}
	if sp, err := ParseSpans("09:00-12:00, 13:00-18:00"); err != nil || JoinSpans(sp) != "09:00-12:00, 13:00-18:00" {
		t.Errorf("spans: %v %v", sp, err)
	}
}
