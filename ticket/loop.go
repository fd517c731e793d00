package ticket

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// mayAutoSend decides whether an automatic mail may go to addr now, and if
// so records it against the rate limits. It refuses a null address, our
// own addresses, no-reply style addresses, suppressed addresses, and
// addresses past AutoPerHour or AutoPerDay.
func (s *Service) mayAutoSend(tx Tx, addr string, now time.Time) (bool, string, error) {
	if reason := s.neverSend(addr); reason != "" {
		return false, reason, nil
	}
	if sup, err := tx.Suppression(addr); err == nil && sup.Until.After(now) {
		return false, "suppressed until " + sup.Until.Format(time.DateOnly) + ": " + sup.Reason, nil
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return false, "", err
	}
	sent, err := tx.AutoSent(addr)
	if err != nil {
		return false, "", err
	}
	kept := sent[:0]
	hour := 0
	var last time.Time
	for _, t := range sent {
		if t.After(last) {
			last = t
		}
		if now.Sub(t) < 24*time.Hour {
			kept = append(kept, t)
			if now.Sub(t) < time.Hour {
				hour++
			}
		}
	}
	if d := now.Sub(last); !last.IsZero() && s.cfg.AutoMinInterval > 0 && d < s.cfg.AutoMinInterval {
		return false, fmt.Sprintf("rate limit: automatic mail sent to this address %s ago", d.Round(time.Second)), tx.PutAutoSent(addr, kept)
	}
	if hour >= s.cfg.AutoPerHour {
		return false, fmt.Sprintf("rate limit: %d automatic mails in the last hour", hour), tx.PutAutoSent(addr, kept)
	}
	if len(kept) >= s.cfg.AutoPerDay {
		return false, fmt.Sprintf("rate limit: %d automatic mails in the last day", len(kept)), tx.PutAutoSent(addr, kept)
	}
	return true, "", tx.PutAutoSent(addr, append(kept, now))
}

// Protected reports whether addr must never be suppressed automatically:
// an agent's address, the notify address, or one of ours. A permanent
// failure there is logged and alerted instead.
func (s *Service) Protected(addr string) bool {
	if _, ok := s.agent(addr); ok {
		return true
	}
	return SameMailbox(addr, s.cfg.NotifyAddress) || s.isOwn(addr)
}

// DeliveryFailed records on its ticket that the outbox gave o up, and for
// a mail to the customer (an acknowledgement, an agent's reply) tells the
// agents, so that someone reaches the customer another way. Nobody is
// suppressed for it. It runs in the outbox's transaction (wire it as
// OutboxConfig.OnFailed).
func (s *Service) DeliveryFailed(tx Tx, o Outgoing, reason string) error {
	t, err := tx.Ticket(o.TicketID)
	if errors.Is(err, ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	res := &Result{}
	w := &work{s: s, tx: tx, now: now, res: res}
	rcpts := addrList(append(append([]Address(nil), o.To...), o.Cc...))
	if err := w.note(&t, s.cfg.Support, fmt.Sprintf("Mail to %s (%s) was not delivered and is given up: %s", rcpts, o.Subject, reason)); err != nil {
		return err
	}
	if o.MessageRef != 0 && !s.cfg.NoNotify {
		data := s.templateData(&t, now)
		data.Error = reason
		data.Customer = t.Requester
		r, err := s.render.Render("failed", s.cfg.Language, data)
		if err != nil {
			return fmt.Errorf("render delivery failure: %w", err)
		}
		for _, to := range s.notifyRecipients(&t) {
			if _, err := s.queue(tx, &t, Outgoing{
				From: s.cfg.Support, To: []Address{to}, Subject: r.Subject,
				Headers: s.autoHeaders("auto-generated"), Text: r.Text, HTML: r.HTML, Kind: KindAuto,
			}, now, false); err != nil {
				return err
			}
		}
		if s.cfg.OnQueue != nil {
			s.cfg.OnQueue() // the worker looks at the queue once this flush is done
		}
	}
	return tx.PutTicket(t)
}

// NeverSend says why no mail at all may go to addr, or "": a null
// address, our own addresses, and no-reply style addresses.
func (s *Service) NeverSend(addr string) string { return s.neverSend(addr) }

func (s *Service) neverSend(addr string) string {
	local, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(addr)), "@")
	switch {
	case addr == "" || addr == "<>":
		return "null address"
	case s.isOwn(addr):
		return "our own address"
	case local == "mailer-daemon" || local == "postmaster" || isNoReply(local):
		return "an address that takes no replies"
	}
	return ""
}

// isOwn reports whether addr is one of ours: the support address, one of
// its plus-addresses, or one of Config.OwnAddresses.
func (s *Service) isOwn(addr string) bool {
	if IsSupportAddress(s.cfg.Support.Email, addr) {
		return true
	}
	for _, own := range s.cfg.OwnAddresses {
		if SameMailbox(own, addr) || IsSupportAddress(own, addr) {
			return true
		}
	}
	return false
}

func isNoReply(local string) bool {
	for _, p := range []string{"noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply"} {
		if strings.HasPrefix(local, p) {
			return true
		}
	}
	return false
}

// bounce records a delivery failure report on the ticket of the mail it is
// about, marks that mail failed, and suppresses permanently failing
// addresses. It is never acknowledged. A report that names no mail of ours
// is kept on a ticket of its own.
func (w *work) bounce() error {
	s, m := w.s, w.m
	w.res.Bounce, w.res.Kind = true, KindAuto
	var tid uint64
	var failed Message
	if mid := CanonicalMessageID(m.Bounce.OriginalMessageID); mid != "" {
		id, err := s.ticketOfMessageID(w.tx, mid)
		if err != nil {
			return err
		}
		tid = id
		if prev, err := w.tx.MessageByMessageID(mid); err == nil && prev.Direction == DirOut {
			failed = prev
		}
	}
	if tid == 0 {
		// Threading by references and tokens, as for any mail.
		t, found, _, err := s.thread(w.tx, m)
		if err != nil {
			return err
		}
		if found {
			tid = t.ID
		}
	}
	var t Ticket
	var err error
	if tid != 0 {
		t, err = w.tx.Ticket(tid)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	if t.ID == 0 {
		id, err := w.tx.NextTicketID()
		if err != nil {
			return err
		}
		t = Ticket{ID: id, Subject: strings.TrimSpace(m.Subject), Status: StatusNew, Requester: m.From, CreatedAt: w.now}
		w.res.NewTicket = true
		w.res.Note = "a delivery failure report about no mail of ours"
	}
	t.UpdatedAt = w.now
	msg := w.incomingMessage(t.ID, KindAuto)
	if err := w.addIncoming(msg); err != nil {
		return err
	}
	t.Messages++
	w.res.TicketID, w.res.MessageID = t.ID, msg.ID

	var lines []string
	for _, r := range m.Bounce.Recipients {
		line := fmt.Sprintf("delivery to %s: %s %s", r.Email, r.Action, r.Status)
		if r.Diagnostic != "" {
			line += " (" + r.Diagnostic + ")"
		}
		lines = append(lines, line)
		switch {
		case !r.AddressFailure() || r.Email == "" || s.neverSend(r.Email) != "":
		case s.Protected(r.Email):
			// An agent's mailbox that bounces must be fixed, not silenced.
			lines[len(lines)-1] += "; not suppressed: it is an agent's or the notify address"
			w.res.Alert = AlertProtectedRefused
			s.log.Error("bounce: an agent's or the notify address failed permanently; it is not suppressed: check it",
				"ticket", t.ID, "address", r.Email, "status", r.Status)
		default:
			sup := Suppression{Email: r.Email, Reason: r.Status + " " + r.Diagnostic, Since: w.now,
				Until: w.now.Add(s.cfg.SuppressFor), Ticket: t.ID}
			if err := w.tx.PutSuppression(sup); err != nil {
				return err
			}
			lines[len(lines)-1] += "; suppressed until " + sup.Until.Format(time.DateOnly)
		}
	}
	if len(lines) == 0 {
		lines = append(lines, "delivery failed (no recipient details in the report)")
	}
	summary := strings.Join(lines, "\n")
	if failed.ID != 0 {
		failed.Delivery, failed.DeliveryError = DeliveryFailed, summary
		if err := w.tx.PutMessage(failed); err != nil {
			return err
		}
	}
	if err := w.note(&t, s.cfg.Support, "Delivery failure reported:\n"+summary); err != nil {
		return err
	}
	return w.tx.PutTicket(t)
}
