package main

import (
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"golang.org/x/text/width"

	"github.com/ticketd/ticketd/templates"
	"github.com/ticketd/ticketd/ticket"
)

// ticketView is the stable JSON contract of `tickets show --json`.
type ticketView struct {
	ID        uint64          `json:"id"`
	Subject   string          `json:"subject"`
	Status    ticket.Status   `json:"status"`
	Requester ticket.Address  `json:"requester"`
	Assignee  string          `json:"assignee"`           // the agent's address, "" for nobody
	Priority  ticket.Priority `json:"priority,omitempty"` // low, normal, high
	// Due are the service-level due times; Overdue those passed now
	// ("first_response", "resolution").
	Due     *ticket.Due `json:"due,omitempty"`
	Overdue []string    `json:"overdue"`
	// Category, Group and Route are where routing put the ticket;
	// Identity the address of ours it was written to ("": the support
	// address); Suggested the FAQ entries its acknowledgement offered.
	Category  string              `json:"category,omitempty"`
	Group     string              `json:"group,omitempty"`
	Route     string              `json:"route,omitempty"`
	Identity  string              `json:"identity,omitempty"`
	Suggested []ticket.Suggestion `json:"suggested,omitempty"`
	// MergedInto is the ticket this one was merged into (its mail goes
	// there), Merged the tickets merged into this one, SplitFrom the
	// ticket this one was split from.
	MergedInto uint64        `json:"merged_into,omitempty"`
	Merged     []uint64      `json:"merged,omitempty"`
	SplitFrom  uint64        `json:"split_from,omitempty"`
	CreatedAt  time.Time     `json:"created_at"`
	UpdatedAt  time.Time     `json:"updated_at"`
	Messages   []messageView `json:"messages"`
}

type messageView struct {
	ID          uint64              `json:"id"`
	Direction   ticket.Direction    `json:"direction"`
	Kind        ticket.Kind         `json:"kind"`
	From        ticket.Address      `json:"from"`
	To          []ticket.Address    `json:"to"`
	Cc          []ticket.Address    `json:"cc"`
	Subject     string              `json:"subject"`
	Date        *time.Time          `json:"date"`
	MessageID   string              `json:"message_id"`
	InReplyTo   string              `json:"in_reply_to"`
	References  []string            `json:"references"`
	Body        string              `json:"body"`
	Visible     string              `json:"visible"`
	Attachments []ticket.Attachment `json:"attachments"`
	// PersonalData counts the personal data found in the subject and
	// body, by kind; the texts above show it masked.
	PersonalData []ticket.PersonalCount `json:"personal_data"`
	// Beyond the contract, for operators.
	Warnings  []string `json:"warnings,omitempty"`
	Delivery  string   `json:"delivery,omitempty"`
	Automatic string   `json:"automatic,omitempty"`
}

// newTicketView is the view of t and its messages, with the personal data
// in every text masked (ticket.MaskPersonalData) when mask is set.
func newTicketView(t ticket.Ticket, msgs []ticket.Message, masked bool) ticketView {
	mask := ticket.MaskPersonalData
	if !masked {
		mask = func(s string) string { return s }
	}
	v := ticketView{ID: t.ID, Subject: mask(t.Subject), Status: t.Status, Requester: t.Requester, Assignee: t.Assignee, Priority: t.Priority,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, Messages: []messageView{}, Due: t.Due, Overdue: nonNil(t.Overdue(time.Now())),
		Category: t.Category, Group: t.Group, Route: t.Route, Identity: t.Identity, Suggested: t.Suggested,
		MergedInto: t.MergedInto, Merged: t.Merged, SplitFrom: t.SplitFrom}
	for _, m := range msgs {
		mv := messageView{
			ID: m.ID, Direction: m.Direction, Kind: m.Kind, From: m.From,
			To: nonNil(m.To), Cc: nonNil(m.Cc), Subject: mask(m.Subject),
			MessageID: m.MessageID, InReplyTo: m.InReplyTo, References: nonNil(m.References),
			Body: mask(m.Body), Visible: mask(m.Visible), Attachments: nonNil(m.Attachments),
			PersonalData: nonNil(ticket.CountPersonal(m.PersonalData)),
			Warnings:     m.Warnings, Delivery: m.Delivery, Automatic: m.Automatic,
		}
		if !m.Date.IsZero() {
			d := m.Date
			mv.Date = &d
		}
		v.Messages = append(v.Messages, mv)
	}
	return v
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func printTickets(w io.Writer, ts []ticket.Ticket, loc *time.Location, lang string) {
	term := func(k string) string { return templates.Term(lang, k) }
	rows := [][]string{{term("id"), term("status"), term("updated"), term("messages"), term("requester"), term("assignee"), term("group"), term("subject")}}
	for _, t := range ts {
		assignee := t.Assignee
		if assignee == "" {
			assignee = term("nobody")
		}
		rows = append(rows, []string{fmt.Sprintf("#%d", t.ID), templates.StatusName(lang, t.Status), t.UpdatedAt.In(loc).Format("2006-01-02 15:04"),
			fmt.Sprint(t.Messages), oneLine(t.Requester.Email, 40), oneLine(assignee, 40), oneLine(orDash(t.Group), 20), oneLine(t.Subject, 60)})
	}
	writeTable(w, rows)
}

// writeTable writes rows as columns two spaces apart, aligned by display
// width: Hangul and other wide characters take two columns (text/tabwriter
// counts them as one, which skews a Korean table).
func writeTable(w io.Writer, rows [][]string) {
	var widths []int
	for _, r := range rows {
		for i, cell := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], displayWidth(cell))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, cell := range r {
			b.WriteString(cell)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-displayWidth(cell)+2))
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

// displayWidth is the width of s on a terminal.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}

func printTicket(w io.Writer, v ticketView, loc *time.Location, lang string) {
	term := func(k string) string { return templates.Term(lang, k) }
	labelWidth := 0
	for _, k := range []string{"assignee_label", "priority_label", "requester_label", "created_label", "updated_label", "category_label", "group_label", "faq_label", "merged_into_label", "merged_label", "split_from_label"} {
		labelWidth = max(labelWidth, displayWidth(term(k))+2)
	}
	label := func(k string) string { // "고객:" padded to the widest label by display width
		l := term(k) + ":"
		return l + strings.Repeat(" ", labelWidth-displayWidth(l)+1)
	}
	fmt.Fprintf(w, "%s #%d  [%s]  %s\n", term("ticket"), v.ID, templates.StatusName(lang, v.Status), oneLine(v.Subject, 200))
	if v.Assignee != "" {
		fmt.Fprintf(w, "%s%s\n", label("assignee_label"), v.Assignee)
	}
	if v.Priority != "" {
		fmt.Fprintf(w, "%s%s\n", label("priority_label"), templates.PriorityName(lang, v.Priority))
	}
	if v.Category != "" {
		fmt.Fprintf(w, "%s%s\n", label("category_label"), v.Category)
	}
	if v.Group != "" {
		fmt.Fprintf(w, "%s%s\n", label("group_label"), v.Group)
	}
	for _, s := range v.Suggested {
		fmt.Fprintf(w, "%s%s (%.2f) %s\n", label("faq_label"), oneLine(s.Question, 100), s.Score, s.URL)
	}
	if v.MergedInto != 0 {
		fmt.Fprintf(w, "%s#%d\n", label("merged_into_label"), v.MergedInto)
	}
	if len(v.Merged) > 0 {
		ids := make([]string, len(v.Merged))
		for i, id := range v.Merged {
			ids[i] = fmt.Sprintf("#%d", id)
		}
		fmt.Fprintf(w, "%s%s\n", label("merged_label"), strings.Join(ids, ", "))
	}
	if v.SplitFrom != 0 {
		fmt.Fprintf(w, "%s#%d\n", label("split_from_label"), v.SplitFrom)
	}
	fmt.Fprintf(w, "%s%s\n%s%s\n%s%s\n", label("requester_label"), v.Requester,
		label("created_label"), v.CreatedAt.In(loc).Format(time.RFC3339), label("updated_label"), v.UpdatedAt.In(loc).Format(time.RFC3339))
	att := 0
	for _, m := range v.Messages {
		date := ""
		if m.Date != nil {
			date = m.Date.In(loc).Format("2006-01-02 15:04")
		}
		fmt.Fprintf(w, "\n--- %s %d  %s/%s  %s  %s %s", term("message"), m.ID, term(string(m.Direction)), term(string(m.Kind)), date, term("from"), m.From)
		if m.Delivery != "" {
			fmt.Fprintf(w, "  (%s)", term(m.Delivery))
		}
		fmt.Fprintf(w, "\n%s: %s\n", term("subject_label"), oneLine(m.Subject, 200))
		for _, a := range m.Attachments {
			att++
			fmt.Fprintf(w, "%s [%d]: %s (%s, %s)\n", term("attachment"), att, oneLine(a.Filename, 100), templates.FileType(lang, a.ContentType), templates.Size(a.Size))
		}
		for _, warn := range m.Warnings {
			fmt.Fprintf(w, "%s: %s\n", term("warning"), oneLine(warn, 200))
		}
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(m.Visible, "\n"))
	}
}

// oneLine makes s safe for one terminal line: control characters become
// spaces and it is cut at n runes.
func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// whoAmI names the person at the command line for the audit log: the agent
// given (--as, $TICKETD_AGENT), with the operating system user (the one
// who ran sudo, when it did).
func whoAmI(as string) string {
	osUser := fmt.Sprintf("uid %d", os.Getuid())
	if u, err := user.Current(); err == nil {
		osUser = u.Username
	}
	if u := os.Getenv("SUDO_USER"); u != "" {
		osUser = u + " (sudo -u " + osUser + ")"
	}
	if as = strings.TrimSpace(as); as != "" {
		return as + " (" + osUser + ")"
	}
	return osUser
}

// orDash is s, or "-" for nothing.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
