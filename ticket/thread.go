package ticket

import (
	"errors"
	"fmt"
	"slices"
)

// link is a ticket a mail points at but was not threaded onto: via says
// how it points ("reference" or "subject"), cause why it was refused
// ("not_participant", or "auth_failed" at Config.AuthServID).
type link struct {
	ticket     uint64
	via, cause string
}

// why is the link in English, for logs and results.
func (l link) why() string {
	how := fmt.Sprintf("it refers to a message of #%d", l.ticket)
	if l.via == "subject" {
		how = fmt.Sprintf("the subject names #%d", l.ticket)
	}
	if l.cause == "auth_failed" {
		return how + ", but the sender's address failed authentication"
	}
	return how + ", but the sender is not on that ticket"
}

// thread finds the ticket a customer's mail follows up on, in this order:
//
//  1. a valid signed token in a To, Cc or Delivered-To address;
//  2. In-Reply-To, then References (newest first), naming a message we
//     sent: one of our signed Message-IDs, a notification we sent, or an
//     outgoing message we stored;
//  3. the same references naming a customer's message stored on a ticket,
//     and the subject tag [#N], only when the sender is that ticket's
//     requester or a participant.
//
// The first two are evidence only someone we wrote to has; the third rests
// on the From address, which anybody can write. So when our receiving MX
// says the mail failed authentication for its From domain (see
// Config.AuthServID) the third kind counts for nothing. A token whose
// signature fails counts as no token. When the mail points at a ticket it
// may not join, that ticket comes back as the link, and the mail opens a
// new ticket.
func (s *Service) thread(tx Tx, m *Mail) (t Ticket, found bool, refused link, err error) {
	try := func(id uint64) (bool, error) {
		var err error
		t, err = liveTicket(tx, id) // a merged ticket's mail goes where it was merged
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	for _, a := range tokenAddresses(m) {
		id, ok := s.ticketFromAddress(a)
		if !ok {
			continue
		}
		if ok, err := try(id); ok || err != nil {
			return t, ok, link{}, err
		}
	}
	// onTicket says whether the sender may join t on the strength of the
	// From address alone.
	onTicket := func(t Ticket) (bool, string) {
		if !t.IsParticipant(m.From.Email) {
			return false, "not_participant"
		}
		if s.cfg.AuthServID != "" && checkAuth(m.Headers["Authentication-Results"], s.cfg.AuthServID, m.From.Email).failed {
			return false, "auth_failed"
		}
		return true, ""
	}
	for _, mid := range referencedIDs(m) {
		id, ours, err := s.ticketOfReference(tx, mid)
		if err != nil {
			return Ticket{}, false, link{}, err
		}
		if id == 0 {
			continue
		}
		found, err := try(id)
		if err != nil {
			return Ticket{}, false, link{}, err
		}
		if !found {
			continue
		}
		if ours {
			return t, true, link{}, nil
		}
		if ok, why := onTicket(t); ok {
			return t, true, link{}, nil
		} else if refused.ticket == 0 {
			refused = link{ticket: id, via: "reference", cause: why}
		}
	}
	if n, ok := SubjectTag(m.Subject); ok {
		found, err := try(n)
		if err != nil {
			return Ticket{}, false, link{}, err
		}
		if found {
			if ok, why := onTicket(t); ok {
				return t, true, link{}, nil
			} else if refused.ticket == 0 {
				refused = link{ticket: n, via: "subject", cause: why}
			}
		}
	}
	return Ticket{}, false, refused, nil
}

// ticketOfMessageID returns the ticket a Message-ID belongs to, or 0.
func (s *Service) ticketOfMessageID(tx Tx, mid string) (uint64, error) {
	id, _, err := s.ticketOfReference(tx, mid)
	return id, err
}

// ticketOfReference returns the ticket a Message-ID belongs to (0 for
// none), and whether it names a mail we sent: one of our signed
// Message-IDs, a notification, or an outgoing message we stored.
func (s *Service) ticketOfReference(tx Tx, mid string) (id uint64, ours bool, err error) {
	mid = CanonicalMessageID(mid)
	// The stored message first: a message split off into another ticket
	// keeps its Message-ID, signed with the ticket it was sent on.
	prev, err := tx.MessageByMessageID(mid)
	if err == nil {
		if _, ok := s.cfg.Signer.TicketFromMessageID(mid); ok {
			return prev.TicketID, true, nil // ours, wherever it is now
		}
		return prev.TicketID, prev.Direction == DirOut, nil
	} else if !errors.Is(err, ErrNotFound) {
		return 0, false, err
	}
	if id, ok := s.cfg.Signer.TicketFromMessageID(mid); ok {
		return id, true, nil
	}
	n, err := tx.Notification(mid)
	if err == nil {
		return n.TicketID, true, nil
	} else if !errors.Is(err, ErrNotFound) {
		return 0, false, err
	}
	return 0, false, nil
}

// tokenAddresses are the addresses a reply's token may be in.
func tokenAddresses(m *Mail) []string {
	var out []string
	for _, a := range append(append([]Address(nil), m.To...), m.Cc...) {
		out = append(out, a.Email)
	}
	out = append(out, m.Delivered...)
	for _, k := range []string{"Delivered-To", "X-Original-To"} {
		// A Mail built without Delivered (the header alone) still counts.
		if d := CanonicalMessageID(m.Headers[k]); d != "" && !slices.Contains(out, d) { // strips any <>
			out = append(out, d)
		}
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

// ticketFromAddress returns the ticket a signed customer plus-address of
// one of our identities names ("loan+t1024-SIG@").
func (s *Service) ticketFromAddress(addr string) (uint64, bool) {
	for _, id := range s.identities() {
		if n, ok := s.cfg.Signer.TicketFromAddress(id.Address, addr); ok {
			return n, true
		}
	}
	return 0, false
}
