package ticket

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Audit actions of the rights of the people whose data is kept.
const (
	AuditErase  = "erase"  // a requester's tickets anonymised, their raw mail purged
	AuditExport = "export" // everything kept about a requester handed out
	AuditPurge  = "purge"  // the retention purged raw mail and anonymised tickets
	AuditRotate = "rotate" // the database key was rotated
)

// Erasure says what Erase did, or with DryRun would do.
type Erasure struct {
	DryRun   bool     `json:"dry_run"`
	Tickets  []uint64 `json:"tickets"`
	Messages int      `json:"messages"`
	// Raw is how many raw mails were purged, Outgoing how many queued
	// mails were dropped.
	Raw      int `json:"raw_purged"`
	Outgoing int `json:"outgoing_dropped"`
	// Lists is set when the address was on the suppression, rate-limit or
	// held-acknowledgement records, which lose it.
	Lists bool `json:"lists"`
}

// errDryRun rolls a dry run's transaction back.
var errDryRun = errors.New("dry run")

// AddressDigest is how the audit log names an address without keeping it:
// the first 16 hex digits of the SHA-256 of the lower-cased address, so a
// privacy officer can match a request to its record.
func AddressDigest(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// Erase anonymises every ticket whose requester or participant is email
// (the right to erasure): subjects, names, addresses, texts, attachment
// names and Message-IDs are removed from the ticket and its messages, the
// raw mails are purged, mail still queued for the ticket is dropped, the
// dedupe keys and Message-ID index entries of its messages are removed (so
// mail from the address afterwards starts a fresh ticket), and the
// suppression, rate-limit and held-acknowledgement records lose the
// address. The skeleton stays for statistics: ids, status, dates, kinds,
// sizes. It writes an audit record naming the address only by its digest.
// With dryRun nothing changes and the report says what would.
func (s *Service) Erase(email, who, reason string, dryRun bool) (Erasure, error) {
	email = strings.TrimSpace(email)
	if err := checkRequest(email, who, reason); err != nil {
		return Erasure{}, fmt.Errorf("ticket: erase: %w", err)
	}
	var out Erasure
	err := s.update(dryRun, func(tx Tx) error {
		out = Erasure{DryRun: dryRun, Tickets: []uint64{}}
		ts, err := ticketsOf(tx, email)
		if err != nil {
			return err
		}
		for _, t := range ts {
			out.Tickets = append(out.Tickets, t.ID)
			if err := s.eraseTicket(tx, t, &out); err != nil {
				return fmt.Errorf("ticket #%d: %w", t.ID, err)
			}
		}
		if _, err := tx.Suppression(email); err == nil {
			out.Lists = true
			if err := tx.DeleteSuppression(email); err != nil {
				return err
			}
		}
		if sent, err := tx.AutoSent(email); err == nil && len(sent) > 0 {
			out.Lists = true
			if err := tx.PutAutoSent(email, nil); err != nil {
				return err
			}
		}
		if _, err := tx.HeldAcks(email); err == nil {
			out.Lists = true
			if err := tx.DeleteHeldAcks(email); err != nil {
				return err
			}
		}
		if dryRun {
			return nil
		}
		return tx.AddAudit(&AuditRecord{At: s.cfg.Now().UTC(), Who: who, Action: AuditErase, Reason: reason,
			Detail: fmt.Sprintf("%s: %d ticket(s) %v, %d message(s), %d raw mail(s) purged", AddressDigest(email), len(out.Tickets), out.Tickets, out.Messages, out.Raw)})
	})
	if err != nil {
		return Erasure{}, fmt.Errorf("ticket: erase: %w", err)
	}
	return out, nil
}

// checkRequest checks a request about a person's data: an address, who
// asks, and why.
func checkRequest(email, who, reason string) error {
	if email == "" || !strings.Contains(email, "@") {
		return fmt.Errorf("%q is not an address", email)
	}
	if strings.TrimSpace(who) == "" || strings.TrimSpace(reason) == "" {
		return errors.New("who and why are required")
	}
	return nil
}

// ticketsOf returns the tickets where email is the requester or a
// participant.
func ticketsOf(tx ReadTx, email string) ([]Ticket, error) {
	ts, err := tx.Tickets(TicketFilter{})
	if err != nil {
		return nil, err
	}
	var out []Ticket
	for _, t := range ts {
		if t.IsParticipant(email) {
			out = append(out, t)
		}
	}
	return out, nil
}

// eraseTicket anonymises t and its messages (see Erase).
func (s *Service) eraseTicket(tx Tx, t Ticket, out *Erasure) error {
	msgs, err := tx.Messages(t.ID)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		out.Messages++
		// The dedupe keys it may be stored under: its Message-ID's and
		// its raw mail's hash (a mail without a Message-ID).
		if m.MessageID != "" {
			if err := tx.Unsee(DedupeKey(m.MessageID, nil)); err != nil {
				return err
			}
		}
		if m.RawSHA256 != "" {
			if err := tx.Unsee("sha:" + m.RawSHA256); err != nil {
				return err
			}
		}
		if m.RawSize > 0 {
			out.Raw++
		}
		if err := tx.DeleteRaw(m.ID); err != nil {
			return err
		}
		for _, mid := range []string{m.MessageID, m.OriginalMessageID, SafeMessageID(m.MessageID)} {
			if err := tx.UnindexMessageID(mid, m.ID); err != nil {
				return err
			}
		}
		if err := tx.PutMessage(anonymised(m)); err != nil {
			return err
		}
	}
	var drop []uint64
	if err := tx.EachOutgoing(func(o Outgoing) error {
		if o.TicketID == t.ID {
			drop = append(drop, o.ID)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, id := range drop {
		if err := tx.DeleteOutgoing(id); err != nil {
			return err
		}
		out.Outgoing++
	}
	t.Subject, t.BaseSubject, t.Requester, t.Participants = "", "", Address{}, nil
	t.Erased = s.cfg.Now().UTC()
	return tx.PutTicket(t)
}

// anonymised is m without anything that names or quotes a person: the
// skeleton (ids, direction, kind, dates, sizes, content types) stays.
func anonymised(m Message) Message {
	m.From, m.To, m.Cc, m.ReplyTo = Address{}, nil, nil, nil
	m.Subject, m.Body, m.Visible, m.HTML = "", "", "", ""
	m.MessageID, m.InReplyTo, m.References, m.OriginalMessageID = "", "", nil, ""
	m.Warnings, m.PersonalData, m.DeliveryError, m.Automatic = nil, nil, "", ""
	m.RawSHA256 = ""
	atts := make([]Attachment, len(m.Attachments))
	for i, a := range m.Attachments {
		atts[i] = Attachment{ContentType: a.ContentType, Size: a.Size, Inline: a.Inline}
	}
	m.Attachments = atts
	return m
}

// Purge says what the retention did (or with DryRun would do).
type Purge struct {
	DryRun bool `json:"dry_run"`
	// RawTickets are the tickets whose raw mails were purged (Raw mails
	// in all); Anonymised the tickets anonymised.
	RawTickets []uint64 `json:"raw_tickets"`
	Raw        int      `json:"raw_purged"`
	Anonymised []uint64 `json:"anonymised"`
}

// purgeBatch is how many tickets one transaction of the retention handles.
const purgeBatch = 50

// Purge applies the retention to closed tickets: rawAfter after closing
// their raw mails (with the attachments in them) are purged, anonAfter
// after closing they are anonymised as Erase does (0: never). It works in
// transactions of purgeBatch tickets; each ticket records what was done to
// it, so a crash or a second run does nothing twice. It writes one audit
// record when it did anything; with dryRun it changes nothing and says what
// it would do.
func (s *Service) Purge(rawAfter, anonAfter time.Duration, who string, dryRun bool) (Purge, error) {
	now := s.cfg.Now().UTC()
	out := Purge{DryRun: dryRun, RawTickets: []uint64{}, Anonymised: []uint64{}}
	due := func(t Ticket, after time.Duration) bool {
		if after <= 0 || t.Status != StatusClosed {
			return false
		}
		closed := t.ClosedAt
		if closed.IsZero() {
			closed = t.UpdatedAt
		}
		return !closed.Add(after).After(now)
	}
	// What is due is read once; each batch re-reads its tickets, so what
	// changed meanwhile (reopened, already done) is left alone.
	var anon, raw []uint64
	err := s.store.View(func(tx ReadTx) error {
		ts, err := tx.Tickets(TicketFilter{Status: StatusClosed})
		for _, t := range ts {
			switch {
			case t.Erased.IsZero() && due(t, anonAfter):
				anon = append(anon, t.ID)
			case t.RawPurged.IsZero() && t.Erased.IsZero() && due(t, rawAfter):
				raw = append(raw, t.ID)
			}
		}
		return err
	})
	if err != nil {
		return out, fmt.Errorf("ticket: purge: %w", err)
	}
	if dryRun {
		out.Anonymised, out.RawTickets = append(out.Anonymised, anon...), append(out.RawTickets, raw...)
		return out, nil
	}
	work := append(append([]uint64(nil), anon...), raw...)
	for batch := range slices.Chunk(work, purgeBatch) {
		err := s.store.Update(func(tx Tx) error {
			for _, id := range batch {
				t, err := tx.Ticket(id)
				if err != nil {
					return err
				}
				switch {
				case t.Erased.IsZero() && due(t, anonAfter):
					var e Erasure
					if err := s.eraseTicket(tx, t, &e); err != nil {
						return fmt.Errorf("ticket #%d: %w", t.ID, err)
					}
					out.Anonymised, out.Raw = append(out.Anonymised, t.ID), out.Raw+e.Raw
				case t.RawPurged.IsZero() && t.Erased.IsZero() && due(t, rawAfter):
					msgs, err := tx.Messages(t.ID)
					if err != nil {
						return err
					}
					for _, m := range msgs {
						if m.RawSize > 0 {
							out.Raw++
						}
						if err := tx.DeleteRaw(m.ID); err != nil {
							return err
						}
					}
					t.RawPurged = now
					out.RawTickets = append(out.RawTickets, t.ID)
					if err := tx.PutTicket(t); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return out, fmt.Errorf("ticket: purge: %w", err)
		}
	}
	if len(out.RawTickets)+len(out.Anonymised) > 0 {
		err := s.store.Update(func(tx Tx) error {
			return tx.AddAudit(&AuditRecord{At: now, Who: who, Action: AuditPurge, Reason: "retention",
				Detail: fmt.Sprintf("raw mail of %d ticket(s) purged (%d mails), %d ticket(s) anonymised", len(out.RawTickets), out.Raw, len(out.Anonymised))})
		})
		if err != nil {
			return out, fmt.Errorf("ticket: purge: %w", err)
		}
	}
	return out, nil
}

// Export is everything kept about a requester (the right of access): the
// tickets where the address is requester or participant, their messages
// unmasked, and the raw mails by message id.
type Export struct {
	Email   string            `json:"email"`
	Tickets []ExportedTicket  `json:"tickets"`
	Raw     map[uint64][]byte `json:"-"`
}

// ExportedTicket is one ticket of an Export.
type ExportedTicket struct {
	Ticket   Ticket    `json:"ticket"`
	Messages []Message `json:"messages"`
}

// Export gathers everything kept about email and writes an audit record
// (the address by its digest).
func (s *Service) Export(email, who, reason string) (Export, error) {
	email = strings.TrimSpace(email)
	if err := checkRequest(email, who, reason); err != nil {
		return Export{}, fmt.Errorf("ticket: export: %w", err)
	}
	out := Export{Email: email, Tickets: []ExportedTicket{}, Raw: map[uint64][]byte{}}
	err := s.store.Update(func(tx Tx) error {
		ts, err := ticketsOf(tx, email)
		if err != nil {
			return err
		}
		for _, t := range ts {
			msgs, err := tx.Messages(t.ID)
			if err != nil {
				return err
			}
			for _, m := range msgs {
				if raw, err := tx.Raw(m.ID); err == nil {
					out.Raw[m.ID] = raw
				} else if !errors.Is(err, ErrNotFound) {
					return err
				}
			}
			out.Tickets = append(out.Tickets, ExportedTicket{Ticket: t, Messages: msgs})
		}
		return tx.AddAudit(&AuditRecord{At: s.cfg.Now().UTC(), Who: who, Action: AuditExport, Reason: reason,
			Detail: fmt.Sprintf("%s: %d ticket(s), %d raw mail(s)", AddressDigest(email), len(out.Tickets), len(out.Raw))})
	})
	if err != nil {
		return Export{}, fmt.Errorf("ticket: export: %w", err)
	}
	return out, nil
}
