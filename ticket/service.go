package ticket

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// LoopHeader is the header every mail we send carries, naming the
// installation; an incoming mail that carries it came from a ticketd and is
// treated as automatic.
const LoopHeader = "X-Ticketd-Loop"

// Config is the policy of a [Service].
type Config struct {
	// Support is the address our mails come from; mail from it is never
	// acknowledged.
	Support Address
	// Domain is the right-hand side of the Message-IDs we make.
	Domain string
	// Language of the templates: "ko" (default) or "en".
	Language   string
	CenterName string
	Hours      Hours
	// Installation names this ticketd in the loop header.
	Installation string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// OnQueue, if set, is called after a transaction that queued mail has
	// committed (the outbox worker's wake-up).
	OnQueue func()
}

// Service applies the ticket rules to incoming mail.
type Service struct {
	store  Store
	render Renderer
	cfg    Config
	log    *slog.Logger
}

// NewService returns a Service. A nil log discards.
func NewService(store Store, render Renderer, cfg Config, log *slog.Logger) *Service {
	if cfg.Language == "" {
		cfg.Language = "ko"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Installation == "" {
		cfg.Installation = cfg.Support.Email
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, render: render, cfg: cfg, log: log}
}

// Incoming is one mail to ingest.
type Incoming struct {
	Mail   *Mail
	Raw    []byte
	Source string // for operators: "imap support/INBOX uid 17", "ingest"
	// Mailbox, when set, is the cursor key of the IMAP folder the mail came
	// from; Cursor is then stored in the same transaction as the mail.
	Mailbox string
	Cursor  Cursor
}

// Result says what Ingest did.
type Result struct {
	TicketID     uint64
	MessageID    uint64 // the stored message; 0 for a rejected mail
	NewTicket    bool
	Duplicate    bool
	Acknowledged bool
	Automatic    string // why the mail counts as automatic, if it does
}

// Ingest stores one parsed mail as a new ticket or a follow-up, in one
// transaction with its dedupe entry, the mailbox cursor and any
// acknowledgement. A mail already stored is not stored again (Duplicate).
func (s *Service) Ingest(in Incoming) (Result, error) {
	if in.Mail == nil {
		return Result{}, errors.New("ticket: ingest: no parsed mail")
	}
	m := in.Mail
	key := DedupeKey(m.MessageID, in.Raw)
	var res Result
	queued := false
	err := s.store.Update(func(tx Tx) error {
		res, queued = Result{}, false
		if err := advanceCursor(tx, in.Mailbox, in.Cursor); err != nil {
			return err
		}
		if id, ok, err := tx.Seen(key); err != nil {
			return err
		} else if ok {
			res.Duplicate, res.MessageID = true, id
			if id != 0 {
				if prev, err := tx.Message(id); err == nil {
					res.TicketID = prev.TicketID
				}
			}
			return nil
		}
		now := s.cfg.Now().UTC()
		t, found, err := s.thread(tx, m)
		if err != nil {
			return err
		}
		auto, why := IsAutomatic(m, LoopHeader)
		res.Automatic = why
		if found {
			switch t.Status {
			case StatusSolved, StatusClosed, StatusPending:
				if !auto {
					t.Status = StatusOpen
				}
			}
		} else {
			id, err := tx.NextTicketID()
			if err != nil {
				return err
			}
			t = Ticket{ID: id, Subject: strings.TrimSpace(m.Subject), Status: StatusNew, Requester: m.From, CreatedAt: now}
			res.NewTicket = true
		}
		t.UpdatedAt = now
		kind := KindCustomer
		if auto {
			kind = KindAuto
		}
		msg := &Message{
			TicketID: t.ID, Direction: DirIn, Kind: kind,
			From: m.From, To: m.To, Cc: m.Cc, ReplyTo: m.ReplyTo,
			Subject: m.Subject, Date: m.Date,
			MessageID: CanonicalMessageID(m.MessageID), InReplyTo: CanonicalMessageID(m.InReplyTo),
			References: m.References, Body: m.Text, Visible: m.Text, HTML: m.HTML,
			Attachments: m.Attachments, Warnings: m.Warnings,
			Source: in.Source, RawSize: int64(len(in.Raw)), RawSHA256: rawSum(in.Raw),
			ReceivedAt: now, Automatic: why,
		}
		if err := tx.AddMessage(msg, in.Raw); err != nil {
			return err
		}
		if err := tx.MarkSeen(key, msg.ID); err != nil {
			return err
		}
		t.Messages++
		res.TicketID, res.MessageID = t.ID, msg.ID
		if res.NewTicket && !auto && !SameMailbox(m.From.Email, s.cfg.Support.Email) {
			if err := s.queueAck(tx, &t, msg, now); err != nil {
				return err
			}
			res.Acknowledged, queued = true, true
		}
		return tx.PutTicket(t)
	})
	if err != nil {
		return Result{}, fmt.Errorf("ticket: ingest %s: %w", key, err)
	}
	if queued && s.cfg.OnQueue != nil {
		s.cfg.OnQueue()
	}
	return res, nil
}

// thread finds the ticket a mail follows up on: a stored message named in
// In-Reply-To or References (newest first), else the subject tag [#N] when
// the sender is that ticket's requester.
func (s *Service) thread(tx Tx, m *Mail) (Ticket, bool, error) {
	ids := make([]string, 0, 1+len(m.References))
	if m.InReplyTo != "" {
		ids = append(ids, m.InReplyTo)
	}
	for i := len(m.References) - 1; i >= 0; i-- {
		ids = append(ids, m.References[i])
	}
	for _, id := range ids {
		prev, err := tx.MessageByMessageID(CanonicalMessageID(id))
		if errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return Ticket{}, false, err
		}
		t, err := tx.Ticket(prev.TicketID)
		if errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return Ticket{}, false, err
		}
		return t, true, nil
	}
	if n, ok := SubjectTag(m.Subject); ok {
		t, err := tx.Ticket(n)
		if err == nil && SameMailbox(t.Requester.Email, m.From.Email) {
			return t, true, nil
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			return Ticket{}, false, err
		}
	}
	return Ticket{}, false, nil
}

// queueAck renders the acknowledgement of a new ticket, stores it as an
// outgoing message on the ticket and queues it in the outbox.
func (s *Service) queueAck(tx Tx, t *Ticket, in *Message, now time.Time) error {
	data := TemplateData{
		TicketID: t.ID, Subject: t.Subject, Customer: t.Requester,
		CenterName: s.cfg.CenterName, SupportEmail: s.cfg.Support.Email,
		Hours: s.cfg.Hours, OpenNow: s.cfg.Hours.OpenAt(now), Now: now,
		TicketSubject: TaggedSubject(t.ID, t.Subject),
	}
	r, err := s.render.Render("ack", s.cfg.Language, data)
	if err != nil {
		return fmt.Errorf("render acknowledgement: %w", err)
	}
	refs := append([]string(nil), in.References...)
	if in.MessageID != "" {
		refs = append(refs, in.MessageID)
	}
	headers := map[string]string{
		"Auto-Submitted":           "auto-replied", // RFC 3834 section 5
		"X-Auto-Response-Suppress": "All",
		LoopHeader:                 s.cfg.Installation,
	}
	return s.queue(tx, t, Outgoing{
		From: s.cfg.Support, To: []Address{t.Requester},
		Subject: r.Subject, InReplyTo: in.MessageID, References: refs,
		Headers: headers, Text: r.Text, HTML: r.HTML, Kind: KindAuto,
	}, now)
}

// queue stores o as an outgoing message of ticket t and puts it in the
// outbox, inside tx.
func (s *Service) queue(tx Tx, t *Ticket, o Outgoing, now time.Time) error {
	o.TicketID = t.ID
	o.MessageID = NewMessageID(t.ID, s.cfg.Domain)
	o.CreatedAt, o.NextAttempt = now, now
	msg := &Message{
		TicketID: t.ID, Direction: DirOut, Kind: o.Kind,
		From: o.From, To: o.To, Cc: o.Cc, ReplyTo: o.ReplyTo,
		Subject: o.Subject, Date: now, MessageID: o.MessageID,
		InReplyTo: o.InReplyTo, References: o.References,
		Body: o.Text, Visible: o.Text, Source: "outbox", ReceivedAt: now,
		Delivery: DeliveryQueued, Attachments: []Attachment{},
	}
	if err := tx.AddMessage(msg, nil); err != nil {
		return err
	}
	// A copy of our own mail that comes back to the support mailbox (a Bcc,
	// a forward, a misrouted reply) is then a duplicate, not a new ticket.
	if err := tx.MarkSeen(DedupeKey(o.MessageID, nil), msg.ID); err != nil {
		return err
	}
	o.MessageRef = msg.ID
	t.Messages++
	return tx.Enqueue(&o)
}

// Reject keeps a mail that could not be parsed at all, with the reason, and
// advances the cursor past it. A mail rejected before is not kept twice.
func (s *Service) Reject(in Incoming, reason string) (Result, error) {
	key := DedupeKey("", in.Raw)
	var res Result
	err := s.store.Update(func(tx Tx) error {
		res = Result{}
		if err := advanceCursor(tx, in.Mailbox, in.Cursor); err != nil {
			return err
		}
		if _, ok, err := tx.Seen(key); err != nil {
			return err
		} else if ok {
			res.Duplicate = true
			return nil
		}
		r := &Rejected{Reason: reason, Source: in.Source, ReceivedAt: s.cfg.Now().UTC(),
			Raw: in.Raw, RawSHA256: rawSum(in.Raw), RawSize: int64(len(in.Raw))}
		if err := tx.AddRejected(r); err != nil {
			return err
		}
		return tx.MarkSeen(key, 0)
	})
	if err != nil {
		return Result{}, fmt.Errorf("ticket: reject %s: %w", key, err)
	}
	return res, nil
}

func rawSum(raw []byte) string {
	if raw == nil {
		return ""
	}
	return strings.TrimPrefix(DedupeKey("", raw), "sha:")
}

// Cursor returns the stored position of an IMAP folder.
func (s *Service) Cursor(mailbox string) (Cursor, bool, error) {
	var c Cursor
	var ok bool
	err := s.store.View(func(tx ReadTx) error {
		var err error
		c, ok, err = tx.Cursor(mailbox)
		return err
	})
	if err != nil {
		return Cursor{}, false, fmt.Errorf("ticket: cursor %s: %w", mailbox, err)
	}
	return c, ok, nil
}

// UpdateCursor changes the stored cursor of mailbox with fn, in one
// transaction.
func (s *Service) UpdateCursor(mailbox string, fn func(c *Cursor)) error {
	err := s.store.Update(func(tx Tx) error {
		c, _, err := tx.Cursor(mailbox)
		if err != nil {
			return err
		}
		fn(&c)
		return tx.SetCursor(mailbox, c)
	})
	if err != nil {
		return fmt.Errorf("ticket: cursor %s: %w", mailbox, err)
	}
	return nil
}

// advanceCursor moves the cursor of mailbox forward to c.LastUID. A new
// UIDVALIDITY starts the cursor afresh.
func advanceCursor(tx Tx, mailbox string, c Cursor) error {
	if mailbox == "" {
		return nil
	}
	cur, _, err := tx.Cursor(mailbox)
	if err != nil {
		return err
	}
	if cur.UIDValidity != c.UIDValidity {
		cur = Cursor{UIDValidity: c.UIDValidity}
	}
	cur.LastUID = max(cur.LastUID, c.LastUID)
	return tx.SetCursor(mailbox, cur)
}
