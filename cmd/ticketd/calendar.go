package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"github.com/ticketd/ticketd/ticket"
)

// icsHolidays reads the closed days of an iCalendar file (center.holidays_ics,
// e.g. a government holiday calendar exported as .ics): every day each event
// covers, from DTSTART up to its DTEND (not included), named by its
// SUMMARY, in loc. Repeating events are not expanded: a holiday calendar
// lists each year's days.
func icsHolidays(path string, loc *time.Location) ([]ticket.Holiday, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := ical.NewDecoder(f)
	var out []ticket.Holiday
	for {
		cal, err := dec.Decode()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, ev := range cal.Events() {
			name := ""
			if p := ev.Props.Get(ical.PropSummary); p != nil {
				name, _ = p.Text()
			}
			start, err := ev.DateTimeStart(loc)
			if err != nil {
				return nil, fmt.Errorf("%s: an event's DTSTART: %w", path, err)
			}
			end, err := ev.DateTimeEnd(loc)
			if err != nil {
				return nil, fmt.Errorf("%s: an event's DTEND: %w", path, err)
			}
			if strings.TrimSpace(name) == "" {
				name = "휴무"
			}
			day := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, loc)
			for n := 0; n < 366 && (n == 0 || day.Before(end)); n++ {
				out = append(out, ticket.Holiday{Date: day.Format(time.DateOnly), Name: name, NameEn: name})
				day = day.AddDate(0, 0, 1)
			}
		}
	}
	return out, nil
}
