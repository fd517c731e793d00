package ticket

import (
	"errors"
)

// thread finds the ticket a customer's mail follows up on, in this order:
//
//  1. a valid signed token in a To, Cc or Delivered-To address;
//  2. In-Reply-To, then References (newest first), naming one of our signed
//     Message-IDs, a stored message (ours or the customer's), or a
//     notification we sent;
//  3. the subject tag [#N], only when the sender is ticket N's requester or
//     a participant.
//
// A token whose signature fails counts as no token. When the subject names
// a ticket the sender is not on, mentioned is that ticket's number and the
// mail opens a new ticket.
func (s *Service) thread(tx Tx, m *Mail) (t Ticket, found bool, mentioned uint64, err error) {
	try := func(id uint64) (bool, error) {
		var err error
		t, err = tx.Ticket(id)
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	for _, a := range tokenAddresses(m) {
		id, ok := s.cfg.Signer.TicketFromAddress(s.cfg.Support.Email, a)
		if !ok {
			continue
		}
		if ok, err := try(id); ok || err != nil {
			return t, ok, 0, err
		}
	}
	for _, mid := range referencedIDs(m) {
		id, err := s.ticketOfMessageID(tx, mid)
		if err != nil {
			return Ticket{}, false, 0, err
		}
		if id == 0 {
			continue
		}
		if ok, err := try(id); ok || err != nil {
			return t, ok, 0, err
		}
	}
	if n, ok := SubjectTag(m.Subject); ok {
		found, err := try(n)
		if err != nil {
			return Ticket{}, false, 0, err
		}
		if found && t.IsParticipant(m.From.Email) {
			return t, true, 0, nil
		}
		if found {
			mentioned = n
		}
	}
	return Ticket{}, false, mentioned, nil
}

// ticketOfMessageID returns the ticket a Message-ID belongs to, or 0.
func (s *Service) ticketOfMessageID(tx Tx, mid string) (uint64, error) {
	mid = CanonicalMessageID(mid)
	if id, ok := s.cfg.Signer.TicketFromMessageID(mid); ok {
		return id, nil
	}
	prev, err := tx.MessageByMessageID(mid)
	if err == nil {
		return prev.TicketID, nil
	} else if !errors.Is(err, ErrNotFound) {
		return 0, err
	}
	n, err := tx.Notification(mid)
	if err == nil {
		return n.TicketID, nil
	} else if !errors.Is(err, ErrNotFound) {
		return 0, err
	}
	return 0, nil
}

// tokenAddresses are the addresses a reply's token may be in.
func tokenAddresses(m *Mail) []string {
	var out []string
	for _, a := range append(append([]Address(nil), m.To...), m.Cc...) {
		out = append(out, a.Email)
	}
	if d := m.Headers["Delivered-To"]; d != "" {
		out = append(out, CanonicalMessageID(d)) // strips any <>
	}
	if d := m.Headers["X-Original-To"]; d != "" {
		out = append(out, CanonicalMessageID(d))
	}
	return out
}

// referencedIDs are In-Reply-To then References, newest first.
func referencedIDs(m *Mail) []string {
	ids := make([]string, 0, 1+len(m.References))
	if m.InReplyTo != "" {
		ids = append(ids, m.InReplyTo)
	}
	for i := len(m.References) - 1; i >= 0; i-- {
		ids = append(ids, m.References[i])
	}
	return ids
}
