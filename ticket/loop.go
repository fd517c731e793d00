package ticket

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// autoDecision says whether an automatic mail may go to an address now.
type autoDecision struct {
	ok     bool
	reason Reason    // why not
	until  time.Time // when the rate limits allow it; zero when never (a null, own or suppressed address)
}

// mayAutoSend decides whether an automatic mail may go to addr now, and if
// so records it against the rate limits. It refuses for good a null
// address, our own addresses, no-reply style addresses and suppressed
// addresses; it refuses for now (until the returned time) an address that
// got an automatic mail within AutoMinInterval, or AutoPerHour of them in
// the last hour, or AutoPerDay in the last day.
func (s *Service) mayAutoSend(tx Tx, addr string, now time.Time) (autoDecision, error) {
	if reason := s.neverSendReason(addr); reason.Code != "" {
		return autoDecision{reason: reason}, nil
	}
	if sup, err := tx.Suppression(addr); err == nil && sup.Until.After(now) {
		return autoDecision{reason: Reason{Code: ReasonSuppressed, Until: sup.Until, Text: sup.Reason}}, nil
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return autoDecision{}, err
	}
	sent, err := tx.AutoSent(addr)
	if err != nil {
		return autoDecision{}, err
	}
	var kept, hour []time.Time // within the day and the hour, oldest first
	for _, t := range sent {
		if now.Sub(t) < 24*time.Hour {
			kept = append(kept, t)
			if now.Sub(t) < time.Hour {
				hour = append(hour, t)
			}
		}
	}
	slices.SortFunc(kept, time.Time.Compare)
	slices.SortFunc(hour, time.Time.Compare)
	var d autoDecision
	later := func(t time.Time, reason Reason) {
		if d.reason.Code == "" {
			d.reason = reason
		}
		if t.After(d.until) {
			d.until = t
		}
	}
	if n := len(kept); n > 0 && s.cfg.AutoMinInterval > 0 && now.Sub(kept[n-1]) < s.cfg.AutoMinInterval {
		later(kept[n-1].Add(s.cfg.AutoMinInterval), Reason{Code: ReasonInterval, Ago: now.Sub(kept[n-1])})
	}
	if len(hour) >= s.cfg.AutoPerHour {
		later(hour[len(hour)-s.cfg.AutoPerHour].Add(time.Hour), Reason{Code: ReasonPerHour, Count: len(hour)})
	}
	if len(kept) >= s.cfg.AutoPerDay {
		later(kept[len(kept)-s.cfg.AutoPerDay].Add(24*time.Hour), Reason{Code: ReasonPerDay, Count: len(kept)})
	}
	if d.reason.Code != "" {
		return d, tx.PutAutoSent(addr, kept)
	}
	return autoDecision{ok: true}, tx.PutAutoSent(addr, append(kept, now))
}

// holdAck records why t's acknowledgement is not sent now. When the rate
// limits alone stand in the way it is held, to go with any others held for
// the address once they allow (ReleaseHeld); a customer who writes two
// inquiries within a minute still gets both numbers. It is not sent at
// all to a null, own, no-reply or suppressed address, nor when the
// address got held acknowledgements within AutoMinInterval: an
// auto-responder that answers each of our mails with a "new inquiry" then
// gets one summary and no more.
func (w *work) holdAck(t *Ticket, d autoDecision) error {
	s, addr := w.s, w.m.From.Email
	h, err := w.tx.HeldAcks(addr)
	if errors.Is(err, ErrNotFound) {
		h = HeldAcks{Email: strings.ToLower(addr)}
	} else if err != nil {
		return err
	}
	if !d.until.IsZero() && !h.Released.IsZero() && w.now.Sub(h.Released) < s.cfg.AutoMinInterval {
		d.until = time.Time{}
		d.reason = Reason{Code: ReasonLoop, Ago: w.now.Sub(h.Released)}
	}
	w.res.HeldBack, w.res.heldReason = d.reason.String(), d.reason
	if d.until.IsZero() {
		s.log.Warn("acknowledgement not sent", "ticket", t.ID, "to", addr, "reason", d.reason.String())
		return w.notice(t, Notice{Kind: NoticeNoAck, Reason: d.reason})
	}
	h.Tickets = append(h.Tickets, t.ID)
	if d.until.After(h.Due) {
		h.Due = d.until
	}
	w.res.AckDue = h.Due
	s.log.Info("acknowledgement held back; it is sent when the rate limit allows", "ticket", t.ID, "to", addr, "reason", d.reason.String(), "due", h.Due)
	if err := w.tx.PutHeldAcks(h); err != nil {
		return err
	}
	return w.notice(t, Notice{Kind: NoticeAckHeld, Reason: d.reason, Due: h.Due, Emails: []string{addr}})
}

// ReleaseHeld sends the acknowledgements held back (see Result.HeldBack)
// whose time has come and which the rate limits now allow: one mail per
// address, the ordinary acknowledgement for one ticket, a summary of the
// ticket numbers for several. A ticket an agent has answered meanwhile, or
// that was closed, needs none. It returns how many tickets it acknowledged
// and when the next held acknowledgement is due (zero when none is held).
func (s *Service) ReleaseHeld() (acked int, next time.Time, err error) {
	now := s.cfg.Now().UTC()
	queued := false
	err = s.store.Update(func(tx Tx) error {
		acked, next, queued = 0, time.Time{}, false
		var due []HeldAcks
		if err := tx.EachHeldAcks(func(h HeldAcks) error {
			switch {
			case len(h.Tickets) > 0 && !h.Due.After(now):
				due = append(due, h)
			case len(h.Tickets) > 0:
				if next.IsZero() || h.Due.Before(next) {
					next = h.Due
				}
			case now.Sub(h.Released) > s.cfg.AutoMinInterval:
				due = append(due, h) // a spent record: dropped below
			}
			return nil
		}); err != nil {
			return err
		}
		for _, h := range due {
			if len(h.Tickets) == 0 {
				if err := tx.DeleteHeldAcks(h.Email); err != nil {
					return err
				}
				continue
			}
			n, retry, err := s.releaseTx(tx, h, now)
			if err != nil {
				return err
			}
			acked += n
			queued = queued || n > 0
			if !retry.IsZero() && (next.IsZero() || retry.Before(next)) {
				next = retry
			}
		}
		return nil
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("ticket: release held acknowledgements: %w", err)
	}
	if queued && s.cfg.OnQueue != nil {
		s.cfg.OnQueue()
	}
	return acked, next, nil
}

// releaseTx sends h's held acknowledgements if the rate limits allow, else
// moves h.Due on (returned as retry).
func (s *Service) releaseTx(tx Tx, h HeldAcks, now time.Time) (acked int, retry time.Time, err error) {
	var ts []Ticket
	var firsts []*Message // each ticket's first customer mail
	for _, id := range h.Tickets {
		t, err := tx.Ticket(id)
		if errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return 0, time.Time{}, err
		}
		msgs, err := tx.Messages(id)
		if err != nil {
			return 0, time.Time{}, err
		}
		var first *Message
		answered := t.Status == StatusClosed || t.Status == StatusSolved
		for i := range msgs {
			if msgs[i].Direction == DirIn && msgs[i].Kind == KindCustomer && first == nil {
				first = &msgs[i]
			}
			answered = answered || (msgs[i].Direction == DirOut && msgs[i].Kind == KindAgent)
		}
		if first == nil || answered {
			continue
		}
		ts, firsts = append(ts, t), append(firsts, first)
	}
	if len(ts) == 0 {
		h.Tickets, h.Due = nil, time.Time{}
		return 0, time.Time{}, tx.PutHeldAcks(h)
	}
	d, err := s.mayAutoSend(tx, h.Email, now)
	if err != nil {
		return 0, time.Time{}, err
	}
	if !d.ok {
		if d.until.IsZero() { // suppressed meanwhile, say
			for i := range ts {
				w := &work{s: s, tx: tx, now: now, res: &Result{}}
				if err := w.notice(&ts[i], Notice{Kind: NoticeHeldDropped, Reason: d.reason}); err != nil {
					return 0, time.Time{}, err
				}
				if err := tx.PutTicket(ts[i]); err != nil {
					return 0, time.Time{}, err
				}
			}
			h.Tickets, h.Due = nil, time.Time{}
			return 0, time.Time{}, tx.PutHeldAcks(h)
		}
		h.Due = d.until
		return 0, d.until, tx.PutHeldAcks(h)
	}
	last := len(ts) - 1
	w := &work{s: s, tx: tx, now: now, res: &Result{}, m: &Mail{From: firsts[last].From}}
	if len(ts) == 1 {
		if err := w.queueAck(&ts[0], firsts[0], "ack"); err != nil {
			return 0, time.Time{}, err
		}
	} else {
		if err := w.queueSummary(ts, firsts[last]); err != nil {
			return 0, time.Time{}, err
		}
		for i := range ts[:last] {
			if err := w.notice(&ts[i], Notice{Kind: NoticeAckCombined, Ticket: ts[last].ID, Emails: []string{h.Email}}); err != nil {
				return 0, time.Time{}, err
			}
		}
	}
	for i := range ts {
		if err := tx.PutTicket(ts[i]); err != nil {
			return 0, time.Time{}, err
		}
	}
	h.Tickets, h.Due, h.Released = nil, time.Time{}, now
	return len(ts), time.Time{}, tx.PutHeldAcks(h)
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
	var rcpts []string
	for _, a := range append(append([]Address(nil), o.To...), o.Cc...) {
		rcpts = append(rcpts, a.Email)
	}
	if err := w.notice(&t, Notice{Kind: NoticeUndelivered, Emails: rcpts, Subject: o.Subject, Text: reason}); err != nil {
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

func (s *Service) neverSend(addr string) string { return s.neverSendReason(addr).String() }

// neverSendReason is neverSend's reason, for the templates.
func (s *Service) neverSendReason(addr string) Reason {
	local, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(addr)), "@")
	switch {
	case addr == "" || addr == "<>":
		return Reason{Code: ReasonNull}
	case s.isOwn(addr):
		return Reason{Code: ReasonOwn}
	case local == "mailer-daemon" || local == "postmaster" || isNoReply(local):
		return Reason{Code: ReasonNoReply}
	case !strings.Contains(addr, "@"):
		return Reason{Code: ReasonNoDomain}
	}
	return Reason{}
}

// isOwn reports whether addr is one of ours: the support address or
// another identity, one of their plus-addresses, or one of
// Config.OwnAddresses.
func (s *Service) isOwn(addr string) bool {
	if _, ok := s.identityOf(addr); ok {
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

	var lines []BounceLine
	for _, r := range m.Bounce.Recipients {
		lines = append(lines, BounceLine{Email: r.Email, Action: r.Action, Status: r.Status, Diagnostic: r.Diagnostic})
		switch {
		case !r.AddressFailure() || r.Email == "" || s.neverSend(r.Email) != "":
		case s.Protected(r.Email):
			// An agent's mailbox that bounces must be fixed, not silenced.
			lines[len(lines)-1].Protected = true
			w.res.Alert = AlertProtectedRefused
			s.log.Error("bounce: an agent's or the notify address failed permanently; it is not suppressed: check it",
				"ticket", t.ID, "address", r.Email, "status", r.Status)
		default:
			sup := Suppression{Email: r.Email, Reason: r.Status + " " + r.Diagnostic, Since: w.now,
				Until: w.now.Add(s.cfg.SuppressFor), Ticket: t.ID}
			if err := w.tx.PutSuppression(sup); err != nil {
				return err
			}
			lines[len(lines)-1].SuppressedUntil = sup.Until
		}
	}
	text, err := s.noticeText(&t, Notice{Kind: NoticeBounce, Bounces: lines})
	if err != nil {
		return err
	}
	if failed.ID != 0 {
		// The delivery error is shown with the message: the notice's
		// lines, in the center's language.
		_, detail, _ := strings.Cut(text, "\n")
		failed.Delivery, failed.DeliveryError = DeliveryFailed, strings.TrimSpace(detail)
		if failed.DeliveryError == "" {
			failed.DeliveryError = text
		}
		if err := w.tx.PutMessage(failed); err != nil {
			return err
		}
	}
	if err := w.note(&t, s.cfg.Support, text); err != nil {
		return err
	}
	return w.tx.PutTicket(t)
}
