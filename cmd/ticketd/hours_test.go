package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHoursCommand: ticketd hours prints each day of 2026's 추석 weeks:
// open hours, the holidays by name, the weekend, and center.holidays.
func TestHoursCommand(t *testing.T) {
	s := newStack(t, "")
	cfg := strings.Replace(readFile(t, s.cfg), "center: {name: \"서민금융 고객센터\", address: support@example.test}",
		"center: {name: \"서민금융 고객센터\", address: support@example.test, holidays: [\"2026-09-30 센터 휴무\"], hours: {breaks: [\"12:00-13:00\"], special: [\"2026-10-02 09:00-13:00\"]}}", 1)
	writeFile(t, s.cfg, cfg)
	code, out, errs := s.ticketd(t, nil, "hours", "--from", "2026-09-21", "--days", "15")
	if code != 0 {
		t.Fatalf("hours: exit %d %s", code, errs)
	}
	for _, want := range []string{"2026-09-23  수    09:00-12:00, 13:00-18:00", "2026-09-24  목    휴무: 추석", "2026-09-27  일    휴무 (정기)",
		"2026-09-28  월    09:00-12:00, 13:00-18:00", "2026-09-30  수    휴무: 센터 휴무", "2026-10-02  금    09:00-13:00 (특별 운영)", "2026-10-03  토    휴무: 개천절", "2026-10-05  월    휴무: 개천절 대체공휴일"} {
		if !strings.Contains(out, want) {
			t.Errorf("hours lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = s.ticketd(t, nil, "hours", "--from", "2026-06-03", "--days", "1", "--json")
	var days []calendarDay
	if code != 0 || json.Unmarshal([]byte(out), &days) != nil || len(days) != 1 || days[0].Holiday != "제9회 전국동시지방선거일" || days[0].Open != "" {
		t.Fatalf("hours --json: exit %d %s", code, out)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestOverdueList: tickets list --overdue lists the tickets past a due
// time (an inquiry of long ago, never answered), --due-before those due
// before a date, and the JSON of tickets show carries the due times.
func TestOverdueList(t *testing.T) {
	s := newStack(t, "")
	old := "From: kim@example.org\r\nTo: support@example.test\r\nSubject: old\r\nMessage-ID: <od@example.org>\r\n\r\nx\r\n"
	if code, _, errs := s.ticketd(t, []byte(old), "ingest"); code != 0 {
		t.Fatalf("ingest: %s", errs)
	}
	v := s.show(t, 1)
	due, _ := v["due"].(map[string]any)
	if due == nil || due["first_response"] == nil || due["resolution"] == nil {
		t.Fatalf("no due times in tickets show --json: %v", v)
	}
	// Nothing is overdue right after it came; all of it is due before 2100.
	if code, out, _ := s.ticketd(t, nil, "tickets", "list", "--overdue", "--json"); code != 0 || strings.Contains(out, `"id": 1`) {
		t.Fatalf("--overdue right away: exit %d %s", code, out)
	}
	if code, out, _ := s.ticketd(t, nil, "tickets", "list", "--due-before", "2100-01-01", "--json"); code != 0 || !strings.Contains(out, `"id": 1`) {
		t.Fatalf("--due-before 2100: exit %d %s", code, out)
	}
	if code, _, errs := s.ticketd(t, nil, "tickets", "list", "--due-before", "soon"); code == 0 || !strings.Contains(errs, "--due-before") {
		t.Fatalf("a bad --due-before: exit %d %s", code, errs)
	}
}

// TestHolidaysFromICS: center.holidays_ics adds the days of an iCalendar
// file's events (all-day, DTEND not included), named by their SUMMARY; a
// broken file is a config error naming the key.
func TestHolidaysFromICS(t *testing.T) {
	s := newStack(t, "")
	ics := filepath.Join(s.dir, "closed.ics")
	writeFile(t, ics, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"+
		"BEGIN:VEVENT\r\nUID:1@test\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20261229\r\nDTEND;VALUE=DATE:20261231\r\nSUMMARY:연말 시스템 점검\r\nEND:VEVENT\r\n"+
		"BEGIN:VEVENT\r\nUID:2@test\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20270104\r\nSUMMARY:시무식\r\nEND:VEVENT\r\n"+
		"END:VCALENDAR\r\n")
	cfg := readFile(t, s.cfg)
	writeFile(t, s.cfg, strings.Replace(cfg, "address: support@example.test}", "address: support@example.test, holidays_ics: "+ics+"}", 1))
	code, out, errs := s.ticketd(t, nil, "hours", "--from", "2026-12-28", "--days", "8")
	if code != 0 {
		t.Fatalf("hours: exit %d %s", code, errs)
	}
	for _, want := range []string{"2026-12-28  월    09:00-18:00", "2026-12-29  화    휴무: 연말 시스템 점검", "2026-12-30  수    휴무: 연말 시스템 점검",
		"2026-12-31  목    09:00-18:00", "2027-01-01  금    휴무: 신정", "2027-01-04  월    휴무: 시무식"} {
		if !strings.Contains(out, want) {
			t.Errorf("hours lacks %q:\n%s", want, out)
		}
	}
	writeFile(t, ics, "BEGIN:VCALENDAR\r\nnot a calendar")
	if code, _, errs := s.ticketd(t, nil, "check-config"); code == 0 || !strings.Contains(errs, "center.holidays_ics") {
		t.Fatalf("a broken .ics: exit %d %s", code, errs)
	}
}
