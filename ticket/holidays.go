package ticket

import (
	"sort"
	"time"
)

// Holiday is a day the center is closed, with its name in Korean and
// English.
type Holiday struct {
	Date   string `json:"date"` // "2006-01-02", in the center's zone
	Name   string `json:"name"`
	NameEn string `json:"name_en"`
}

// holidayRule says how a holiday is made up for when it falls on a day off
// (대체공휴일, under the rules in force since 2023).
type holidayRule int

const (
	noSubstitute   holidayRule = iota // 신정, 현충일, election days, one-off days
	weekendOrOther                    // 삼일절, 어린이날, 부처님오신날, 광복절, 개천절, 한글날, 성탄절: a Saturday, Sunday or another holiday
	sundayOrOther                     // 설날, 추석 (three days): a Sunday or another holiday
)

type baseHoliday struct {
	date       string
	name, en   string
	rule       holidayRule
	group      string // the days of one 설날 or 추석 share a group
	groupFirst bool
}

// krLunar are the holidays that follow the lunar calendar, by year: the
// three days of 설날 and 추석 and 부처님오신날 (as announced by the
// Ministry of the Interior and Safety and the Korea Astronomy and Space
// Science Institute's calendar).
var krLunar = map[int]struct {
	seollal, chuseok [3]string
	buddha           string
}{
	2024: {[3]string{"2024-02-09", "2024-02-10", "2024-02-11"}, [3]string{"2024-09-16", "2024-09-17", "2024-09-18"}, "2024-05-15"},
	2025: {[3]string{"2025-01-28", "2025-01-29", "2025-01-30"}, [3]string{"2025-10-05", "2025-10-06", "2025-10-07"}, "2025-05-05"},
	2026: {[3]string{"2026-02-16", "2026-02-17", "2026-02-18"}, [3]string{"2026-09-24", "2026-09-25", "2026-09-26"}, "2026-05-24"},
	2027: {[3]string{"2027-02-06", "2027-02-07", "2027-02-08"}, [3]string{"2027-09-14", "2027-09-15", "2027-09-16"}, "2027-05-13"},
	2028: {[3]string{"2028-01-25", "2028-01-26", "2028-01-27"}, [3]string{"2028-10-02", "2028-10-03", "2028-10-04"}, "2028-05-02"},
	2029: {[3]string{"2029-02-12", "2029-02-13", "2029-02-14"}, [3]string{"2029-09-21", "2029-09-22", "2029-09-23"}, "2029-05-20"},
	2030: {[3]string{"2030-02-02", "2030-02-03", "2030-02-04"}, [3]string{"2030-09-11", "2030-09-12", "2030-09-13"}, "2030-05-09"},
}

// krOneOff are the election days and the days the government declared
// holidays (임시공휴일) known so far.
var krOneOff = []Holiday{
	{"2024-04-10", "제22대 국회의원 선거일", "National Assembly election day"},
	{"2024-10-01", "국군의 날(임시공휴일)", "Armed Forces Day (temporary holiday)"},
	{"2025-01-27", "임시공휴일", "Temporary holiday"},
	{"2025-06-03", "제21대 대통령 선거일", "Presidential election day"},
	{"2026-06-03", "제9회 전국동시지방선거일", "Local elections day"},
	{"2028-04-12", "제23대 국회의원 선거일", "National Assembly election day"},
}

// KoreanHolidaysFirst and KoreanHolidaysLast are the years the built-in
// table covers. A year is added by its lunar dates in krLunar and its
// election or declared days in krOneOff; the fixed holidays and the
// substitute days follow by rule.
const (
	KoreanHolidaysFirst = 2024
	KoreanHolidaysLast  = 2030
)

// KoreanHolidays returns the public holidays of year (KoreanHolidaysFirst
// to KoreanHolidaysLast; none for another year), substitute holidays
// included, in date order.
func KoreanHolidays(year int) []Holiday {
	lunar, ok := krLunar[year]
	if !ok {
		return nil
	}
	d := func(m, day int) string {
		return time.Date(year, time.Month(m), day, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	}
	base := []baseHoliday{
		{d(1, 1), "신정", "New Year's Day", noSubstitute, "", false},
		{d(3, 1), "삼일절", "Independence Movement Day", weekendOrOther, "", false},
		{d(5, 5), "어린이날", "Children's Day", weekendOrOther, "", false},
		{lunar.buddha, "부처님오신날", "Buddha's Birthday", weekendOrOther, "", false},
		{d(6, 6), "현충일", "Memorial Day", noSubstitute, "", false},
		{d(8, 15), "광복절", "Liberation Day", weekendOrOther, "", false},
		{d(10, 3), "개천절", "National Foundation Day", weekendOrOther, "", false},
		{d(10, 9), "한글날", "Hangul Day", weekendOrOther, "", false},
		{d(12, 25), "성탄절", "Christmas Day", weekendOrOther, "", false},
	}
	for i, s := range lunar.seollal {
		base = append(base, baseHoliday{s, "설날", "Seollal (Lunar New Year)", sundayOrOther, "seollal", i == 0})
	}
	for i, s := range lunar.chuseok {
		base = append(base, baseHoliday{s, "추석", "Chuseok", sundayOrOther, "chuseok", i == 0})
	}
	for _, h := range krOneOff {
		if h.Date[:4] == d(1, 1)[:4] {
			base = append(base, baseHoliday{h.Date, h.Name, h.NameEn, noSubstitute, "", false})
		}
	}
	count := map[string]int{}
	for _, b := range base {
		count[b.date]++
	}
	taken := map[string]bool{}
	for k := range count {
		taken[k] = true
	}
	day := func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }
	// next is the first day after from that is no holiday and no weekend.
	next := func(from time.Time) string {
		for t := from.AddDate(0, 0, 1); ; t = t.AddDate(0, 0, 1) {
			s := t.Format(time.DateOnly)
			if !taken[s] && t.Weekday() != time.Saturday && t.Weekday() != time.Sunday {
				return s
			}
		}
	}
	var out []Holiday
	subFor := map[string]bool{} // a date already made up for
	for _, b := range base {
		out = append(out, Holiday{b.date, b.name, b.en})
	}
	sort.SliceStable(base, func(i, j int) bool { return base[i].date < base[j].date })
	groups := map[string][]baseHoliday{}
	for _, b := range base {
		if b.group != "" {
			groups[b.group] = append(groups[b.group], b)
		}
	}
	// 설날 and 추석 first: one substitute day makes up for a day they share
	// with another holiday, for both.
	for _, b := range base {
		if b.rule != sundayOrOther || !b.groupFirst {
			continue
		}
		g := groups[b.group]
		need := false
		for _, x := range g {
			if day(x.date).Weekday() == time.Sunday || count[x.date] > 1 {
				need = true
			}
		}
		if need {
			s := next(day(g[len(g)-1].date))
			taken[s] = true
			out = append(out, Holiday{s, b.name + " 대체공휴일", "Substitute holiday for " + b.en})
			for _, x := range g {
				subFor[x.date] = true
			}
		}
	}
	for _, b := range base {
		t := day(b.date)
		wd := t.Weekday()
		if b.rule == weekendOrOther && (wd == time.Saturday || wd == time.Sunday || count[b.date] > 1) && !subFor[b.date] {
			subFor[b.date] = true
			s := next(t)
			taken[s] = true
			out = append(out, Holiday{s, b.name + " 대체공휴일", "Substitute holiday for " + b.en})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Date < out[j].Date })
	return out
}
