package ticket

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrMerge is the error of a merge or split that cannot be done; the
// message says why.
var ErrMerge = errors.New("cannot merge or split")

// Why a merge or split cannot be done; each is ErrMerge.
var (
	ErrMergeSelf     = fmt.Errorf("a ticket cannot be merged into itself: %w", ErrMerge)
	ErrMergedAlready = fmt.Errorf("the ticket was merged into another already: %w", ErrMerge)
	ErrMergeErased   = fmt.Errorf("an erased ticket is not merged or split: %w", ErrMerge)
	ErrSplitMessage  = fmt.Errorf("the message is not on the ticket: %w", ErrMerge)
	ErrSplitAll      = fmt.Errorf("that would move every message of the ticket: %w", ErrMerge)
)

// maxMergeHops bounds the chain of merges liveTicket follows.
const maxMergeHops = 16

// liveTicket reads ticket id, following merges to the ticket it was merged
// into: the one mail for id threads into.
func liveTicket(tx ReadTx, id uint64) (Ticket, error) {
	t, err := tx.Ticket(id)
	for hops := 0; err == nil && t.MergedInto != 0; hops++ {
		if hops == maxMergeHops {
			return Ticket{}, fmt.Errorf("#%d: more than %d merges in a row: %w", id, maxMergeHops, ErrMergedAlready)
		}
		t, err = tx.Ticket(t.MergedInto)
	}
	return t, err
}

// actor is the agent acting as by (a name or an address); "" is the
// operator, who acts for the center.
func (s *Service) actor(by string) (Agent, error) {
	if by == "" {
		return Agent{Name: s.cfg.CenterName, Email: s.cfg.Support.Email}, nil
	}
	a, ok := s.agentByNameOrEmail(by)
	if !ok {
		return Agent{}, fmt.Errorf("ticket: %s: %w", by, ErrNotAgent)
	}
	return a, nil
}

// Merge merges ticket src into ticket into (or the ticket that one was
// merged into): src's messages move to it, src's requester and
// participants become its participants, and src is closed with a pointer
// to it. From then on mail that would thread into src (its tokens, its
// Message-IDs, [#src] in a subject) threads into it. When src's requester
// is not its requester, they are told once by mail (template "merged"),
// threaded to their own last mail. It returns the ticket merged into.
func (s *Service) Merge(src, into uint64, by string) (uint64, error) {
	a, err := s.actor(by)
	if err != nil {
		return 0, err
	}
	var queued bool
	var dst Ticket
	err = s.store.Update(func(tx Tx) error {
		n, err := tx.Ticket(src)
		if err != nil {
			return fmt.Errorf("#%d: %w", src, err)
		}
		if dst, err = liveTicket(tx, into); err != nil {
			return fmt.Errorf("#%d: %w", into, err)
		}
		queued, err = s.merge(tx, &n, &dst, a)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("ticket: merge #%d into #%d: %w", src, into, err)
	}
	if queued && s.cfg.OnQueue != nil {
		s.cfg.OnQueue()
	}
	return dst.ID, nil
}

// merge merges n into m in tx (see Merge) and stores both.
func (s *Service) merge(tx Tx, n, m *Ticket, a Agent) (queued bool, err error) {
	switch {
	case n.MergedInto != 0:
		return false, fmt.Errorf("#%d into #%d: %w", n.ID, n.MergedInto, ErrMergedAlready)
	case n.ID == m.ID:
		return false, fmt.Errorf("#%d: %w", n.ID, ErrMergeSelf)
	case !n.Erased.IsZero() || !m.Erased.IsZero():
		return false, ErrMergeErased
	}
	now := s.cfg.Now().UTC()
	msgs, err := tx.Messages(n.ID)
	if err != nil {
		return false, err
	}
	for _, msg := range msgs {
		msg.TicketID = m.ID
		if err := tx.PutMessage(msg); err != nil {
			return false, err
		}
	}
	m.Messages += len(msgs)
	n.Messages -= len(msgs)
	for _, p := range append([]Address{n.Requester}, n.Participants...) {
		if p.Email != "" && !m.IsParticipant(p.Email) {
			m.Participants = append(m.Participants, p)
		}
	}
	m.Merged = append(append(m.Merged, n.ID), n.Merged...)
	n.MergedInto, n.Merged = m.ID, nil
	active := n.Status != StatusSolved && n.Status != StatusClosed
	s.setStatus(n, StatusClosed, now)
	if active && (m.Status == StatusSolved || m.Status == StatusClosed) {
		s.setStatus(m, StatusOpen, now) // n's customer still waits
	}
	n.UpdatedAt, m.UpdatedAt = now, now
	who := a.Name
	if who == "" {
		who = a.Email
	}
	w := &work{s: s, tx: tx, now: now, res: &Result{}}
	if err := w.notice(m, Notice{Kind: NoticeMerged, Ticket: n.ID, Text: who}); err != nil {
		return false, err
	}
	if err := w.notice(n, Notice{Kind: NoticeMergedInto, Ticket: m.ID, Text: who}); err != nil {
		return false, err
	}
	if to := n.Requester; to.Email != "" && !SameMailbox(to.Email, m.Requester.Email) && !n.Spam && s.neverSend(to.Email) == "" {
		if err := s.mailMerged(tx, n, m, msgs, now); err != nil {
			return false, err
		}
		queued = true
	}
	if err := tx.PutTicket(*n); err != nil {
		return false, err
	}
	return queued, tx.PutTicket(*m)
}

// mailMerged tells n's requester that n is now m, threaded to their last
// mail on n (msgs), with m's Reply-To.
func (s *Service) mailMerged(tx Tx, n, m *Ticket, msgs []Message, now time.Time) error {
	var irt string
	var refs []string
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Direction == DirIn && msgs[i].Kind == KindCustomer && SameMailbox(msgs[i].From.Email, n.Requester.Email) {
			irt, refs = threadHeaders(&msgs[i])
			break
		}
	}
	data := s.templateData(m, now)
	data.Customer, data.MergedFrom = n.Requester, n.ID
	r, err := s.render.Render("merged", s.cfg.Language, data)
	if err != nil {
		return fmt.Errorf("render merged: %w", err)
	}
	_, err = s.queue(tx, m, Outgoing{From: s.sender(m), To: []Address{n.Requester}, ReplyTo: s.customerReplyTo(m),
		Subject: r.Subject, InReplyTo: irt, References: refs, Headers: s.autoHeaders("auto-generated"),
		Text: r.Text, HTML: r.HTML, Kind: KindAuto}, now, true)
	return err
}

// Split moves message msgID of ticket id (and, with following, every later
// message) into a new ticket, whose requester is the message's sender when
// a customer wrote it, and the ticket's requester otherwise; category,
// group and identity are the ticket's. Mail that answers a moved message
// (by its Message-ID) threads into the new ticket; the old ticket's tokens
// and [#id] stay with it. Nothing is mailed. It returns the new ticket.
func (s *Service) Split(id, msgID uint64, following bool, by string) (uint64, error) {
	a, err := s.actor(by)
	if err != nil {
		return 0, err
	}
	var nt Ticket
	err = s.store.Update(func(tx Tx) error {
		t, err := tx.Ticket(id)
		if err != nil {
			return fmt.Errorf("#%d: %w", id, err)
		}
		if !t.Erased.IsZero() {
			return ErrMergeErased
		}
		if t.MergedInto != 0 {
			return fmt.Errorf("#%d into #%d: %w", id, t.MergedInto, ErrMergedAlready)
		}
		msgs, err := tx.Messages(id)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(msgs, func(m Message) bool { return m.ID == msgID })
		if i < 0 {
			return fmt.Errorf("message %d, #%d: %w", msgID, id, ErrSplitMessage)
		}
		moving := msgs[i : i+1]
		if following {
			moving = msgs[i:]
		}
		if len(moving) == len(msgs) {
			return fmt.Errorf("#%d: %w", id, ErrSplitAll)
		}
		first := moving[0]
		now := s.cfg.Now().UTC()
		nid, err := tx.NextTicketID()
		if err != nil {
			return err
		}
		nt = Ticket{ID: nid, Subject: strings.TrimSpace(first.Subject), Status: StatusOpen, Requester: t.Requester,
			CreatedAt: now, UpdatedAt: now, Category: t.Category, Group: t.Group, Identity: t.Identity, SplitFrom: t.ID,
			Spam: t.Spam}
		if first.Direction == DirIn && first.Kind == KindCustomer && first.From.Email != "" {
			nt.Requester = first.From
		}
		if nt.Subject == "" {
			nt.Subject = t.Subject
		}
		for _, p := range append([]Address{t.Requester}, t.Participants...) {
			if p.Email != "" && !nt.IsParticipant(p.Email) && t.IsParticipant(p.Email) {
				nt.Participants = append(nt.Participants, p)
			}
		}
		s.startSLA(&nt, now)
		for _, m := range moving {
			m.TicketID = nid
			if err := tx.PutMessage(m); err != nil {
				return err
			}
		}
		nt.Messages, t.Messages = len(moving), t.Messages-len(moving)
		t.UpdatedAt = now
		who := a.Name
		if who == "" {
			who = a.Email
		}
		w := &work{s: s, tx: tx, now: now, res: &Result{}}
		if err := w.notice(&t, Notice{Kind: NoticeSplit, Ticket: nid, More: len(moving), Text: who}); err != nil {
			return err
		}
		if err := w.notice(&nt, Notice{Kind: NoticeSplitFrom, Ticket: t.ID, More: len(moving), Text: who}); err != nil {
			return err
		}
		if err := tx.PutTicket(t); err != nil {
			return err
		}
		return tx.PutTicket(nt)
	})
	if err != nil {
		return 0, fmt.Errorf("ticket: split #%d: %w", id, err)
	}
	return nt.ID, nil
}

// mergeProblem is what stops t from being merged into ticket arg (a
// number) by an agent's #merge: "" when nothing does.
func (s *Service) mergeProblem(tx ReadTx, t Ticket, arg string) (CommandProblem, error) {
	into, err := strconv.ParseUint(arg, 10, 64)
	if err != nil {
		return ProblemNeedsTicket, nil
	}
	m, err := liveTicket(tx, into)
	switch {
	case errors.Is(err, ErrNotFound):
		return ProblemNoTicket, nil
	case errors.Is(err, ErrMerge):
		return ProblemMerge, nil
	case err != nil:
		return "", err
	case m.ID == t.ID || t.MergedInto != 0 || !t.Erased.IsZero() || !m.Erased.IsZero():
		return ProblemMerge, nil
	}
	return "", nil
}
