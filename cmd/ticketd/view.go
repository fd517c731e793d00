package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

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
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	Messages  []messageView   `json:"messages"`
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
	// Beyond the contract, for operators.
	Warnings  []string `json:"warnings,omitempty"`
	Delivery  string   `json:"delivery,omitempty"`
	Automatic string   `json:"automatic,omitempty"`
}

func newTicketView(t ticket.Ticket, msgs []ticket.Message) ticketView {
	v := ticketView{ID: t.ID, Subject: t.Subject, Status: t.Status, Requester: t.Requester, Assignee: t.Assignee, Priority: t.Priority,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, Messages: []messageView{}}
	for _, m := range msgs {
		mv := messageView{
			ID: m.ID, Direction: m.Direction, Kind: m.Kind, From: m.From,
			To: nonNil(m.To), Cc: nonNil(m.Cc), Subject: m.Subject,
			MessageID: m.MessageID, InReplyTo: m.InReplyTo, References: nonNil(m.References),
			Body: m.Body, Visible: m.Visible, Attachments: nonNil(m.Attachments),
			Warnings: m.Warnings, Delivery: m.Delivery, Automatic: m.Automatic,
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

func printTickets(w io.Writer, ts []ticket.Ticket, loc *time.Location) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tUPDATED\tMSGS\tREQUESTER\tASSIGNEE\tSUBJECT")
	for _, t := range ts {
		assignee := t.Assignee
		if assignee == "" {
			assignee = "-"
		}
		fmt.Fprintf(tw, "#%d\t%s\t%s\t%d\t%s\t%s\t%s\n", t.ID, t.Status, t.UpdatedAt.In(loc).Format("2006-01-02 15:04"),
			t.Messages, oneLine(t.Requester.Email, 40), oneLine(assignee, 40), oneLine(t.Subject, 60))
	}
	tw.Flush()
}

func printTicket(w io.Writer, v ticketView, loc *time.Location) {
	fmt.Fprintf(w, "Ticket #%d  [%s]  %s\n", v.ID, v.Status, oneLine(v.Subject, 200))
	if v.Assignee != "" {
		fmt.Fprintf(w, "Assignee:  %s\n", v.Assignee)
	}
	if v.Priority != "" {
		fmt.Fprintf(w, "Priority:  %s\n", v.Priority)
	}
	fmt.Fprintf(w, "Requester: %s\nCreated:   %s\nUpdated:   %s\n", v.Requester,
		v.CreatedAt.In(loc).Format(time.RFC3339), v.UpdatedAt.In(loc).Format(time.RFC3339))
	att := 0
	for _, m := range v.Messages {
		date := ""
		if m.Date != nil {
			date = m.Date.In(loc).Format("2006-01-02 15:04")
		}
		fmt.Fprintf(w, "\n--- message %d  %s/%s  %s  from %s", m.ID, m.Direction, m.Kind, date, m.From)
		if m.Delivery != "" {
			fmt.Fprintf(w, "  (%s)", m.Delivery)
		}
		fmt.Fprintf(w, "\nSubject: %s\n", oneLine(m.Subject, 200))
		for _, a := range m.Attachments {
			att++
			fmt.Fprintf(w, "Attachment [%d]: %s (%s, %d bytes, sha256 %.12s…)\n", att, oneLine(a.Filename, 100), a.ContentType, a.Size, a.SHA256)
		}
		for _, warn := range m.Warnings {
			fmt.Fprintf(w, "Warning: %s\n", oneLine(warn, 200))
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
