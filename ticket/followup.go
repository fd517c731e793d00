package ticket

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// DigestLine is one ticket in a reminder or escalation digest.
type DigestLine struct {
	TicketID uint64
	Subject  string // masked
	Due      string // "first_response" or "resolution"
	At       time.Time
	Assignee string
}

// Reminders says what Remind sent (or with DryRun would send).
type Reminders struct {
	DryRun bool `json:"dry_run"`
	// Closed is set when nothing was done because the center is closed:
	// reminders go out in business hours only.
	Closed     bool `json:"closed"`
	Reminded   int  `json:"reminded"`   // tickets in reminder digests
	Breached   int  `json:"breached"`   // due times newly seen passed unmet
	Escalated  int  `json:"escalated"`  // tickets in escalation digests
	Digests    int  `json:"digests"`    // mails queued
	Recipients int  `json:"recipients"` // addresses mailed
}

// Remind mails, in business hours only, one digest per recipient: a
// reminder of the tickets whose due time comes within Config.SLARemindBefore
// (business time) to their assignee (or the agents, or the notify address),
// and an escalation of the tickets past a due time to Config.EscalateTo.
// Each ticket is in one reminder and one escalation per due time at the
// most (recorded on it), so a breach at night is mailed once, at the
// next opening, and never again.
func (s *Service) Remind(dryRun bool) (Reminders, error) {
	now := s.cfg.Now().UTC()
	out := Reminders{DryRun: dryRun}
	if !s.cfg.Hours.OpenAt(now) {
		out.Closed = true
		return out, nil
	}
	queued := false
	err := s.update(dryRun, func(tx Tx) error {
		ts, err := tx.Tickets(TicketFilter{})
		if err != nil {
			return err
		}
		remind := map[string][]DigestLine{} // by recipient address
		names := map[string]Address{}
		escalate := []DigestLine{}
		for i := range ts {
			t := &ts[i]
			if t.Due == nil || t.Status == StatusSolved || t.Status == StatusClosed {
				continue
			}
			changed := false
			for _, due := range s.openDues(t) {
				line := DigestLine{TicketID: t.ID, Subject: MaskPersonalData(t.Subject), Due: due.name, At: due.at, Assignee: t.Assignee}
				switch {
				case now.After(due.at):
					if due.breachAt.IsZero() {
						*due.breachAt = due.at
						out.Breached++
						changed = true
					}
					if s.cfg.EscalateTo == "" || due.escalated() {
						continue
					}
					escalate = append(escalate, line)
					due.markEscalated(now)
					changed = true
				case s.cfg.SLARemindBefore > 0 && !due.reminded() && s.cfg.Hours.BusinessBetween(now, due.at) <= s.cfg.SLARemindBefore:
					for _, to := range s.notifyRecipients(t) {
						k := strings.ToLower(to.Email)
						remind[k] = append(remind[k], line)
						names[k] = to
					}
					due.markReminded(now)
					changed = true
				}
			}
			if changed && !dryRun {
				if err := tx.PutTicket(*t); err != nil {
					return err
				}
			}
		}
		keys := make([]string, 0, len(remind))
		for k := range remind {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		seen := map[uint64]bool{}
		for _, k := range keys {
			for _, l := range remind[k] {
				if !seen[l.TicketID] {
					seen[l.TicketID] = true
					out.Reminded++
				}
			}
			if !dryRun {
				if err := s.queueDigest(tx, names[k], "sla_reminder", remind[k], now); err != nil {
					return err
				}
			}
			out.Digests++
			out.Recipients++
		}
		if len(escalate) > 0 {
			out.Escalated = len(escalate)
			if !dryRun {
				if err := s.queueDigest(tx, Address{Email: s.cfg.EscalateTo}, "sla_escalation", escalate, now); err != nil {
					return err
				}
			}
			out.Digests++
			out.Recipients++
		}
		queued = out.Digests > 0
		return nil
	})
	if err != nil {
		return Reminders{}, fmt.Errorf("ticket: remind: %w", err)
	}
	if queued && !dryRun && s.cfg.OnQueue != nil {
		s.cfg.OnQueue()
	}
	return out, nil
}

// update runs fn in a transaction; with dryRun it is rolled back, so fn
// reports what it would do and changes nothing.
func (s *Service) update(dryRun bool, fn func(tx Tx) error) error {
	err := s.store.Update(func(tx Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		return nil
	}
	return err
}

// dueRef is one due time of a ticket, with its records.
type dueRef struct {
	name     string
	at       time.Time
	remindAt *time.Time
	escalAt  *time.Time
	breachAt *time.Time
}

func (d dueRef) reminded() bool            { return !d.remindAt.IsZero() }
func (d dueRef) escalated() bool           { return !d.escalAt.IsZero() }
func (d dueRef) markReminded(t time.Time)  { *d.remindAt = t }
func (d dueRef) markEscalated(t time.Time) { *d.escalAt = t }

// openDues are the due times of t not met yet: the first response until
// an answer, the resolution unless the ticket waits for the customer.
func (s *Service) openDues(t *Ticket) []dueRef {
	d := t.Due
	var out []dueRef
	if !d.FirstResponse.IsZero() && d.Responded.IsZero() {
		out = append(out, dueRef{"first_response", d.FirstResponse, &d.RemindedFirst, &d.EscalatedFirst, &d.BreachedFirst})
	}
	if !d.Resolution.IsZero() && t.Status != StatusPending {
		out = append(out, dueRef{"resolution", d.Resolution, &d.RemindedResolution, &d.EscalatedResolution, &d.BreachedResolution})
	}
	return out
}

// queueDigest mails lines to to with the template tmpl (sla_reminder or
// sla_escalation), threaded to no ticket.
func (s *Service) queueDigest(tx Tx, to Address, tmpl string, lines []DigestLine, now time.Time) error {
	data := TemplateData{CenterName: s.cfg.CenterName, SupportEmail: s.cfg.Support.Email, Hours: s.cfg.Hours, Now: now,
		CenterPhone: s.cfg.CenterPhone, CenterFooter: s.cfg.CenterFooter, AgentName: to.Name, Digest: lines}
	r, err := s.render.Render(tmpl, s.cfg.Language, data)
	if err != nil {
		return fmt.Errorf("render %s: %w", tmpl, err)
	}
	_, err = s.queue(tx, &Ticket{}, Outgoing{From: s.cfg.Support, To: []Address{to}, Subject: r.Subject,
		Headers: s.autoHeaders("auto-generated"), Text: r.Text, HTML: r.HTML, Kind: KindAuto}, now, false)
	return err
}

// PendingRun says what RunPending did (or with DryRun would do).
type PendingRun struct {
	DryRun   bool     `json:"dry_run"`
	Closed   bool     `json:"closed"` // the center is closed: nothing is sent outside hours
	Reminded []uint64 `json:"reminded"`
	Solved   []uint64 `json:"solved"`
	// Held are the tickets whose mail the automatic-mail limits held back
	// this time; they are tried again at the next run.
	Held []uint64 `json:"held"`
}

// RunPending follows up the tickets waiting for the customer, in business
// hours only: after Config.PendingRemindAfter (business time) pending, one
// reminder mail to the customer ("pending_reminder"); after
// Config.PendingCloseAfter the ticket is solved with a closing mail
// ("pending_closed"). A customer's mail meanwhile reopens the ticket, which
// ends it. Both mails are automatic mail, under its rate limits, and both
// are noted on the ticket.
func (s *Service) RunPending(dryRun bool) (PendingRun, error) {
	now := s.cfg.Now().UTC()
	out := PendingRun{DryRun: dryRun, Reminded: []uint64{}, Solved: []uint64{}, Held: []uint64{}}
	if !s.cfg.Hours.OpenAt(now) {
		out.Closed = true
		return out, nil
	}
	if s.cfg.PendingRemindAfter <= 0 && s.cfg.PendingCloseAfter <= 0 {
		return out, nil
	}
	queued := false
	err := s.update(dryRun, func(tx Tx) error {
		ts, err := tx.Tickets(TicketFilter{Status: StatusPending})
		if err != nil {
			return err
		}
		for i := range ts {
			t := &ts[i]
			if t.PendingSince.IsZero() {
				continue
			}
			waited := s.cfg.Hours.BusinessBetween(t.PendingSince, now)
			tmpl := ""
			switch {
			case s.cfg.PendingCloseAfter > 0 && waited >= s.cfg.PendingCloseAfter:
				tmpl = "pending_closed"
			case s.cfg.PendingRemindAfter > 0 && waited >= s.cfg.PendingRemindAfter && t.PendingReminded.IsZero():
				tmpl = "pending_reminder"
			default:
				continue
			}
			if dryRun {
				if tmpl == "pending_closed" {
					out.Solved = append(out.Solved, t.ID)
				} else {
					out.Reminded = append(out.Reminded, t.ID)
				}
				continue
			}
			d, err := s.mayAutoSend(tx, t.Requester.Email, now)
			if err != nil {
				return err
			}
			if !d.ok {
				out.Held = append(out.Held, t.ID)
				continue
			}
			if err := s.queueCustomerMail(tx, t, tmpl, now); err != nil {
				return err
			}
			queued = true
			w := &work{s: s, tx: tx, now: now, res: &Result{}}
			if tmpl == "pending_closed" {
				s.setStatus(t, StatusSolved, now)
				out.Solved = append(out.Solved, t.ID)
				if err := w.notice(t, Notice{Kind: NoticePendingSolved}); err != nil {
					return err
				}
			} else {
				t.PendingReminded = now
				out.Reminded = append(out.Reminded, t.ID)
				if err := w.notice(t, Notice{Kind: NoticePendingReminded}); err != nil {
					return err
				}
			}
			t.UpdatedAt = now
			if err := tx.PutTicket(*t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return PendingRun{}, fmt.Errorf("ticket: pending: %w", err)
	}
	if queued && s.cfg.OnQueue != nil {
		s.cfg.OnQueue()
	}
	return out, nil
}

// queueCustomerMail renders tmpl for t's requester and queues it, threaded
// to the customer's latest mail and stored on the ticket.
func (s *Service) queueCustomerMail(tx Tx, t *Ticket, tmpl string, now time.Time) error {
	msgs, err := tx.Messages(t.ID)
	if err != nil {
		return err
	}
	var irt string
	var refs []string
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Direction == DirIn && msgs[i].Kind == KindCustomer {
			irt, refs = threadHeaders(&msgs[i])
			break
		}
	}
	r, err := s.render.Render(tmpl, s.cfg.Language, s.templateData(t, now))
	if err != nil {
		return fmt.Errorf("render %s: %w", tmpl, err)
	}
	_, err = s.queue(tx, t, Outgoing{From: s.sender(t), To: []Address{t.Requester}, ReplyTo: s.customerReplyTo(t),
		Subject: r.Subject, InReplyTo: irt, References: refs, Headers: s.autoHeaders("auto-replied"),
		Text: r.Text, HTML: r.HTML, Kind: KindAuto}, now, true)
	return err
}
