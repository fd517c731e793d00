package main

// The configuration's commands: check-config, hours, config example.

import (
	"flag"
	"fmt"
	"time"

	"github.com/ticketd/ticketd/templates"
	"github.com/ticketd/ticketd/ticket"
)

// configCommands check and explain the configuration.
func configCommands() []command {
	return []command{
		{name: "check-config", help: "check the configuration; print every problem and exit 2 if any", run: cmdCheckConfig},
		{name: "hours", args: "[--from DATE] [--days N] [--json]", help: "print the center's calendar: each day's opening hours, or closed and why (holidays by name)", run: cmdHours,
			flags: func(c *cli, fs *flag.FlagSet) {
				jsonFlag(c, fs)
				fs.StringVar(&c.from, "from", "", "first day, YYYY-MM-DD (default today)")
				fs.IntVar(&c.days, "days", 14, "how many days")
			}},
		{name: "faq test", args: "FILE.eml [--json]", help: "print the FAQ entries a mail's acknowledgement would suggest, with their scores", run: cmdFAQTest, flags: jsonFlag},
		{name: "config example", help: "print the example configuration with every key, its default and what it does", run: cmdConfigExample},
	}
}

func cmdCheckConfig(c *cli) int {
	path := findConfig(c.config)
	s, errs := loadConfig(path)
	for _, err := range errs {
		fmt.Fprintf(c.stderr, "%s: %v\n", path, err)
	}
	if s != nil {
		for _, w := range s.Warnings {
			fmt.Fprintf(c.stderr, "%s: warning: %s\n", path, w)
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(c.stderr, "%d problem(s) found\n", len(errs))
		return exitConfig
	}
	faq := ""
	if s.FAQ != nil {
		faq = fmt.Sprintf(", FAQ of %d entries", s.FAQ.Len())
	}
	fmt.Fprintf(c.stdout, "%s: ok (%d mailbox(es), data in %s, SMTP %s:%d %s%s)\n",
		path, len(s.IMAP), s.DataDir, s.SMTP.Host, s.SMTP.Port, s.SMTP.Security, faq)
	return exitOK
}

func cmdConfigExample(c *cli) int {
	if len(c.args) != 0 {
		return c.fail("usage: ticketd config example")
	}
	if err := writeExampleConfig(c.stdout); err != nil {
		return c.fail("config example: %v", err)
	}
	return exitOK
}

// calendarDay is one day of ticketd hours.
type calendarDay struct {
	Date    string `json:"date"`
	Weekday string `json:"weekday"`
	Open    string `json:"open,omitempty"` // "09:00-18:00"; "" when closed
	Closed  string `json:"closed,omitempty"`
	Holiday string `json:"holiday,omitempty"`
	Special bool   `json:"special,omitempty"` // other hours than the weekday's
}

// cmdHours prints the calendar from --from for --days days.
func cmdHours(c *cli) int {
	s, ok := c.settings()
	if !ok {
		return exitConfig
	}
	h := s.Ticket.Hours
	lang := s.Config.Center.Language
	from := time.Now().In(s.Loc)
	if c.from != "" {
		var err error
		if from, err = time.ParseInLocation(time.DateOnly, c.from, s.Loc); err != nil {
			return c.fail("hours: --from: want YYYY-MM-DD, got %q", c.from)
		}
	}
	if c.days < 1 || c.days > 3660 {
		return c.fail("hours: --days: want 1 to 3660, got %d", c.days)
	}
	start := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, s.Loc)
	var days []calendarDay
	for i := range c.days {
		d := start.AddDate(0, 0, i)
		cd := calendarDay{Date: d.Format(time.DateOnly), Weekday: templates.WeekdayName(lang, d.Weekday())}
		spans := h.SpansOn(d)
		_, special := h.Special[cd.Date]
		switch hd, isHoliday := h.HolidayOn(d); {
		case len(spans) > 0:
			cd.Open, cd.Special = ticket.JoinSpans(spans), special
		case isHoliday:
			cd.Closed, cd.Holiday = "holiday", hd.Name
			if templates.IsEnglish(lang) {
				cd.Holiday = hd.NameEn
			}
		default:
			cd.Closed = "weekly"
		}
		days = append(days, cd)
	}
	if c.asJSON {
		return c.printJSON(days)
	}
	term := func(k string) string { return templates.Term(lang, k) }
	rows := [][]string{{term("hours_date"), term("hours_day"), term("hours_open")}}
	for _, d := range days {
		what := d.Open
		if d.Special {
			what += " (" + term("hours_special") + ")"
		}
		switch d.Closed {
		case "holiday":
			what = term("hours_holiday") + ": " + d.Holiday
		case "weekly":
			what = term("hours_closed")
		}
		rows = append(rows, []string{d.Date, d.Weekday, what})
	}
	writeTable(c.stdout, rows)
	return exitOK
}
