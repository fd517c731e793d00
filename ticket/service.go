package ticket

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
	// Language of the templates: "ko" or "en".
	Language   string
	CenterName string
	// CenterPhone and CenterFooter go into the footer of every mail (see
	// TemplateData).
	CenterPhone  string
	CenterFooter []string
	Hours        Hours
	// Installation names this ticketd in the loop header.
	Installation string
	// Signer signs the ticket tokens. Required.
	Signer *Signer
	// WebURL is the web view's base URL ("https://tickets.example.com";
	// "": no web view): agent notifications carry a link to the ticket
	// there and one to the agent's queue, signed for the agent and valid
	// for WebLinkLifetime.
	WebURL          string
	WebLinkLifetime time.Duration
	// PlusAddressing puts the signed token in the Reply-To of our mails
	// (support+t1024-SIG@domain); only when the mailbox accepts it.
	PlusAddressing bool
	// Agents answer tickets; their replies by mail are relayed to customers.
	Agents []Agent
	// NotifyAddress, when set, receives the notifications of tickets in
	// no group instead of every agent (a group address).
	NotifyAddress string
	// Routes are the routing rules, in order: a new ticket gets the
	// category and group of the first its mail matches, else
	// DefaultCategory and no group.
	Routes          []Route
	DefaultCategory string
	// Groups are the agents' groups: a ticket's notifications go to its
	// assignee, else its group's address, else the group's members.
	Groups []Group
	// Identities are more addresses we send as (the support address
	// always is one): a ticket's mails to its customer come from the one
	// the customer wrote to.
	Identities []Identity
	// FAQ, if set, suggests FAQ entries for a new ticket's
	// acknowledgement (see FAQIndex).
	FAQ FAQ
	// NoNotify turns agent notifications off.
	NoNotify bool
	// CcParticipants sends our replies to the participants in Cc.
	CcParticipants bool
	// ReopenWithin is how long after closing a customer's follow-up reopens
	// a closed ticket; later ones open a new ticket that follows the old
	// (0: never).
	ReopenWithin time.Duration
	// AgentFrom formats the display name of a relayed agent reply:
	// "{agent}" and "{center}" are replaced.
	AgentFrom string
	// AuthServID, when set, makes agent replies count only if the topmost
	// Authentication-Results header from this authserv-id shows dkim=pass
	// or spf=pass for the agent's domain.
	AuthServID string
	// AutoPerHour and AutoPerDay limit automatic mail (acknowledgements,
	// "too large" replies) to one recipient (1 or more).
	AutoPerHour int
	AutoPerDay  int
	// AutoMinInterval is the least time between two automatic mails to one
	// address (0 or less: none; RFC 3834 section 2 asks responders not to
	// answer one sender more than once per period). It stops a loop with an
	// auto-responder that sets no header and drops the [#N] tag.
	AutoMinInterval time.Duration
	// SuppressFor is how long a permanently bouncing address gets no mail.
	SuppressFor time.Duration
	// OwnAddresses are more addresses of ours that never get mail from us
	// (the support address and its plus-addresses always count).
	OwnAddresses []string
	// SpamHeader and SpamValue mark mail the upstream filter flagged as spam
	// (the value matched case-insensitively as a substring): it opens a
	// ticket marked spam, with no acknowledgement and no notification.
	SpamHeader string
	SpamValue  string
	// MaxParticipants bounds the participants of a ticket: the other
	// customers in To/Cc of the customer's mails, whom our replies Cc (0:
	// none). Addresses in our own domains never count.
	MaxParticipants int
	// MaxMessageBytes is only quoted in the "too large" reply.
	MaxMessageBytes int64
	// HoldRRNReplies keeps an agent's reply that holds a resident
	// registration number from the customer, as a note, and tells the
	// agent, until they send it again with #send-anyway.
	HoldRRNReplies bool
	// WithholdAttachments leaves the customer's attachments out of the
	// agents' notifications (they are listed, and kept on the ticket).
	WithholdAttachments bool
	// ReplyHTML, if set, returns the part of an agent's HTML mail that the
	// agent wrote (the quoted history cut), sanitised, for the HTML part of
	// the reply relayed to the customer. Unset, or for a reply that held
	// commands, the reply's HTML is rendered from its text.
	ReplyHTML func(html string) string
	// Record, if set, renders a reply composed without a mail (the CLI's,
	// with files) as the MIME mail that is sent, to be kept as the stored
	// message's raw mail, so its attachments stay on the ticket.
	Record func(o Outgoing) ([]byte, error)
	// SLAFirstResponse and SLAResolution are the service levels in
	// business time (Hours): the first answer and the resolution are due
	// that long after a ticket opens (0: none).
	SLAFirstResponse time.Duration
	SLAResolution    time.Duration
	// SLARemindBefore is how long (business time) before a due time the
	// assignee is reminded (0: never); EscalateTo gets the digest of
	// tickets past a due time ("": nobody). Both only in business hours.
	SLARemindBefore time.Duration
	EscalateTo      string
	// PendingRemindAfter and PendingCloseAfter (business time) follow up
	// a ticket waiting for the customer: one reminder, then solved with
	// a closing mail (0: never).
	PendingRemindAfter time.Duration
	PendingCloseAfter  time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// OnQueue, if set, is called after a transaction that queued mail has
	// committed (the outbox worker's wake-up).
	OnQueue func()
	// OnAlert, if set, hears of what an operator must look at (the Alert
	// kinds), after the transaction that found it committed.
	OnAlert func(kind string)
}

// Service applies the ticket rules to incoming mail and to agents' actions.
type Service struct {
	store  Store
	render Renderer
	cfg    Config
	log    *slog.Logger
}

// NewService returns a Service. It takes cfg as it is: every value an
// operator can set arrives set (their defaults are the configuration's, in
// one table), and one out of range is an error naming the field. A nil
// log is slog.Default(); a nil cfg.Now means time.Now, and an empty
// cfg.Installation the support address.
func NewService(store Store, render Renderer, cfg Config, log *slog.Logger) (*Service, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("ticket: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Installation == "" {
		cfg.Installation = cfg.Support.Email
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{store: store, render: render, cfg: cfg, log: log}, nil
}

// check reports the first field of c that is missing or out of range.
func (c Config) check() error {
	switch {
	case c.Signer == nil:
		return errors.New("Config.Signer is required")
	case c.WebURL != "" && c.WebLinkLifetime <= 0:
		return errors.New("Config.WebLinkLifetime must be positive with a WebURL")
	case c.Support.Email == "":
		return errors.New("Config.Support.Email is required")
	case c.Language == "":
		return errors.New("Config.Language is required (ko or en)")
	case c.Hours.Loc == nil:
		return errors.New("Config.Hours.Loc is required")
	case c.AgentFrom == "":
		return errors.New("Config.AgentFrom is required")
	case c.AutoPerHour < 1 || c.AutoPerDay < 1:
		return fmt.Errorf("Config.AutoPerHour and AutoPerDay must be 1 or more, got %d and %d", c.AutoPerHour, c.AutoPerDay)
	case c.SuppressFor <= 0:
		return fmt.Errorf("Config.SuppressFor must be positive, got %v", c.SuppressFor)
	case c.ReopenWithin < 0 || c.MaxParticipants < 0:
		return errors.New("Config.ReopenWithin and MaxParticipants must not be negative")
	case c.SpamHeader == "" || c.SpamValue == "":
		return errors.New("Config.SpamHeader and SpamValue are required")
	}
	return nil
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
	// Oversized, when set, is the size of a mail over the limit whose
	// header alone is in Raw: the ticket gets a note and the sender a "too
	// large" reply instead of an acknowledgement.
	Oversized int64
	// Undownloadable, when set, says why a mail whose header alone is in
	// Raw could not be downloaded (the server refused or left out its
	// body): the ticket gets a note; the mail stays on the server.
	Undownloadable string
	// ServerSaid is the server's refusal of an undownloadable mail, as it
	// said it ("" when it sent no body without a word).
	ServerSaid string
	// Quarantined, when set, is the quarantine record this mail is retried
	// from; it is removed in the same transaction.
	Quarantined uint64
	// Problem, for IngestBatch, is why a mail without Mail (it could not
	// be parsed) is quarantined.
	Problem string
	// RawSHA256, when set, is the hex SHA-256 of Raw, computed by the
	// caller (the ingest pipeline does it on its parse goroutines, so that
	// the one committing goroutine does not); else it is computed here.
	RawSHA256 string

	contentSHA256 string
}

// rawSum is the hex SHA-256 of in.Raw.
func (in *Incoming) rawSum() string {
	if in.RawSHA256 == "" {
		in.RawSHA256 = rawSum(in.Raw)
	}
	return in.RawSHA256
}

// contentSum is ContentSum of in.Raw, computed once.
func (in *Incoming) contentSum() string {
	if in.contentSHA256 == "" {
		in.contentSHA256 = ContentSum(in.Raw)
	}
	return in.contentSHA256
}

// contentKey is the dedupe key of in by its content alone.
func (in *Incoming) contentKey() string { return "sha:" + in.rawSum() }

// dedupeKey is DedupeKey of in.
func (in *Incoming) dedupeKey() string {
	var mid string
	if in.Mail != nil {
		mid = in.Mail.MessageID
	}
	return dedupeKey(mid, in.rawSum)
}

// Result says what Ingest did.
type Result struct {
	TicketID     uint64
	MessageID    uint64 // the stored message; 0 for a rejected mail
	NewTicket    bool
	Duplicate    bool
	Acknowledged bool
	Automatic    string // why the mail counts as automatic, if it does
	Kind         Kind
	// Relayed is set when an agent's reply was queued for the customer.
	Relayed bool
	// Notified counts the agent notifications queued.
	Notified int
	// FAQ says what the acknowledgement offered from the FAQ: "offered"
	// (Suggested entries), "none" (no entry scored enough), or "" (no
	// FAQ, or no acknowledgement with suggestions).
	FAQ       string
	Suggested int
	// Note explains a decision operators may wonder about (an agent's mail
	// handled as a customer's, a [#N] from a stranger, a command error).
	Note string
	// HeldBack says why the acknowledgement was not sent now (rate limit,
	// suppression, a null or own address); with AckDue set it is held and
	// sent at about that time, folded with the others held for the
	// address (see Service.ReleaseHeld), else it is not sent at all.
	HeldBack string
	// heldReason is HeldBack for the templates.
	heldReason Reason
	AckDue     time.Time
	Bounce     bool
	Spam       bool
	// Alert, when set, is what an operator must look at (an Alert kind);
	// it is told to Config.OnAlert once the mail is committed.
	Alert string
}

// Ingest stores one parsed mail in one transaction with its dedupe entry,
// the mailbox cursor and any mail it causes (acknowledgement, notifications,
// a relayed agent reply). A mail already stored is not stored again
// (Duplicate).
func (s *Service) Ingest(in Incoming) (Result, error) {
	if in.Mail == nil {
		return Result{}, errors.New("ticket: ingest: no parsed mail")
	}
	res, err := s.IngestBatch([]Incoming{in})
	if err != nil {
		return Result{}, err
	}
	return res[0], nil
}

// IngestBatch stores several mails in one transaction, each as Ingest
// would, in order: either all of them are committed or none is. An item
// whose Mail is nil is quarantined with its Problem, as Reject would. One
// commit for many mails is what makes a backlog fast (bbolt rewrites the
// touched pages and syncs once per commit); the caller keeps batches
// bounded by bytes and falls back to one mail at a time when a batch fails,
// so that one bad mail cannot hold back the others.
func (s *Service) IngestBatch(ins []Incoming) ([]Result, error) {
	res := make([]Result, len(ins))
	var queued bool
	var key string
	err := s.store.Update(func(tx Tx) error {
		queued = false
		for i, in := range ins {
			var q bool
			var err error
			if in.Mail == nil {
				key = in.contentKey()
				res[i], err = s.rejectTx(tx, in, key, in.Problem)
			} else {
				key = in.dedupeKey()
				res[i], q, err = s.ingestTx(tx, in, key)
			}
			if err != nil {
				return err
			}
			queued = queued || q
		}
		return nil
	})
	if err != nil {
		if len(ins) > 1 {
			return nil, fmt.Errorf("ticket: ingest batch of %d mails (at %s): %w", len(ins), key, err)
		}
		if ins[0].Mail == nil {
			return nil, fmt.Errorf("ticket: reject %s: %w", key, err)
		}
		return nil, fmt.Errorf("ticket: ingest %s: %w", key, err)
	}
	for i, in := range ins {
		if res[i].Note != "" && in.Mail != nil {
			s.log.Info("ingest: "+res[i].Note, "ticket", res[i].TicketID, "msgid", in.Mail.MessageID, "from", in.Mail.From.Email)
		}
	}
	for _, r := range res {
		if r.Alert != "" && s.cfg.OnAlert != nil {
			s.cfg.OnAlert(r.Alert)
		}
	}
	if queued && s.cfg.OnQueue != nil {
		s.cfg.OnQueue()
	}
	return res, nil
}

// ingestTx is one mail's ingest inside tx; queued says whether it queued
// outgoing mail.
func (s *Service) ingestTx(tx Tx, in Incoming, key string) (res Result, queued bool, err error) {
	if err := advanceCursor(tx, in.Mailbox, in.Cursor); err != nil {
		return res, false, err
	}
	if in.Quarantined != 0 {
		// A retry from quarantine: the record goes, and so does the
		// content key that kept the mail from being fetched again.
		if err := tx.DeleteRejected(in.Quarantined); err != nil {
			return res, false, err
		}
		if id, ok, err := tx.Seen(in.contentKey()); err == nil && ok && id == 0 {
			if err := tx.Unsee(in.contentKey()); err != nil {
				return res, false, err
			}
		}
	}
	var warning string
	if id, ok, err := tx.Seen(key); err != nil {
		return res, false, err
	} else if ok {
		same, prev, err := s.sameMail(tx, id, key, &in)
		if err != nil {
			return res, false, err
		}
		if !same {
			// Another mail under a Message-ID we know: it is kept, under
			// a key of its own, so that it too is stored only once.
			variant := key + "#" + in.contentSum()
			if vid, dup, err := tx.Seen(variant); err != nil {
				return res, false, err
			} else if dup {
				same, id = true, vid
				prev, _ = tx.Message(vid)
			} else {
				key = variant
				warning = fmt.Sprintf("the Message-ID <%s> was already used by another mail with different content (message %d on #%d); this one is stored as a mail of its own",
					in.Mail.MessageID, id, prev.TicketID)
			}
		}
		if same {
			res.Duplicate, res.MessageID, res.TicketID = true, id, prev.TicketID
			return res, false, nil
		}
	}
	w := &work{s: s, tx: tx, in: in, m: in.Mail, now: s.cfg.Now().UTC(), res: &res}
	if warning != "" {
		m := *in.Mail
		m.Warnings = append(slices.Clip(m.Warnings), warning)
		w.m = &m
		res.Note = warning
	}
	if err := w.run(); err != nil {
		return Result{}, false, err
	}
	if err := tx.MarkSeen(key, res.MessageID); err != nil {
		return Result{}, false, err
	}
	return res, w.queued, nil
}

// sameMail reports whether the mail stored as message id (the one a dedupe
// key named) is in: a content key ("sha:") names the same bytes; under a
// Message-ID the stored raw mail's content fingerprint must match. A mail
// we composed (no raw mail; id 0 for a notification) comes back as a copy
// only from one of our own addresses. prev is the stored message (zero for
// id 0).
func (s *Service) sameMail(tx Tx, id uint64, key string, in *Incoming) (bool, Message, error) {
	if !strings.HasPrefix(key, "mid:") {
		return true, Message{}, nil
	}
	if id == 0 {
		return s.isOwn(in.Mail.From.Email), Message{}, nil
	}
	prev, err := tx.Message(id)
	if errors.Is(err, ErrNotFound) {
		return true, prev, nil // nothing to compare with: as before, a duplicate
	} else if err != nil {
		return false, prev, err
	}
	raw, err := tx.Raw(id)
	if errors.Is(err, ErrNotFound) {
		return s.isOwn(in.Mail.From.Email), prev, nil
	} else if err != nil {
		return false, prev, err
	}
	return ContentSum(raw) == in.contentSum(), prev, nil
}

// work is one mail's ingest inside its transaction.
type work struct {
	s      *Service
	tx     Tx
	in     Incoming
	m      *Mail
	now    time.Time
	res    *Result
	queued bool
}

func (w *work) run() error {
	s, m := w.s, w.m
	auto, why := IsAutomatic(m, LoopHeader)
	if m.Bounce != nil {
		auto, why = true, "delivery failure report"
		w.res.Automatic = why
		return w.bounce()
	}
	w.res.Automatic = why
	spam := strings.Contains(strings.ToUpper(m.Headers[s.cfg.SpamHeader]), strings.ToUpper(s.cfg.SpamValue))
	if spam {
		w.res.Spam = true
		auto, why = true, "flagged as spam by "+s.cfg.SpamHeader
		w.res.Automatic = why
	}
	if agent, ok := s.agent(m.From.Email); ok && !auto {
		t, ok, reason, err := s.agentTicket(w.tx, m, agent)
		if err != nil {
			return err
		}
		if ok {
			return w.agentReply(t, agent)
		}
		w.res.Note = "mail from agent " + agent.Email + " handled as a customer's: " + reason
	}

	t, found, refused, err := s.thread(w.tx, m)
	if err != nil {
		return err
	}
	if found && t.Status == StatusClosed && w.now.Sub(t.UpdatedAt) > s.cfg.ReopenWithin && !auto {
		w.res.Note = fmt.Sprintf("follow-up on #%d, closed since %s: a new ticket follows it", t.ID, t.UpdatedAt.Format(time.DateOnly))
		found, t = false, Ticket{Follows: t.ID}
	}
	if found {
		switch t.Status {
		case StatusSolved, StatusClosed, StatusPending:
			if !auto {
				s.setStatus(&t, StatusOpen, w.now)
			}
		}
	} else {
		id, err := w.tx.NextTicketID()
		if err != nil {
			return err
		}
		t = Ticket{ID: id, Subject: strings.TrimSpace(m.Subject), Status: StatusNew, Requester: m.From,
			CreatedAt: w.now, Follows: t.Follows, Spam: spam, BaseSubject: strings.TrimSpace(m.BaseSubject)}
		if !auto && !spam {
			s.startSLA(&t, w.now)
		}
		t.Category, t.Identity = s.cfg.DefaultCategory, s.writtenTo(m)
		if r := s.route(m); r != nil {
			t.Group, t.Route = r.Group, r.Name
			if r.Category != "" {
				t.Category = r.Category
			}
		}
		w.res.NewTicket = true
	}
	t.UpdatedAt = w.now
	var left []string
	kind := KindCustomer
	if auto {
		kind = KindAuto
	} else {
		left = s.addParticipants(&t, m)
	}
	w.res.Kind = kind
	msg := w.incomingMessage(t.ID, kind)
	if err := w.addIncoming(msg); err != nil {
		return err
	}
	t.Messages++
	w.res.TicketID, w.res.MessageID = t.ID, msg.ID
	if w.in.Oversized > 0 {
		if err := w.notice(&t, Notice{Kind: NoticeTooLarge, Size: w.in.Oversized, Limit: s.cfg.MaxMessageBytes}); err != nil {
			return err
		}
	} else if w.in.Undownloadable != "" {
		if err := w.notice(&t, Notice{Kind: NoticeUndownloadable, Text: w.in.ServerSaid}); err != nil {
			return err
		}
	}
	if refused.ticket != 0 {
		w.res.Note = fmt.Sprintf("%s; opened #%d", refused.why(), t.ID)
		if err := w.notice(&t, Notice{Kind: NoticeRefused, Ticket: refused.ticket, Via: refused.via, Cause: refused.cause, Text: s.cfg.AuthServID}); err != nil {
			return err
		}
	}
	if len(left) > 0 {
		shown := left[:min(len(left), 20)]
		if err := w.notice(&t, Notice{Kind: NoticeLeftOut, Emails: shown, More: len(left) - len(shown), Limit: int64(s.cfg.MaxParticipants)}); err != nil {
			return err
		}
	}
	if t.Follows != 0 && w.res.NewTicket {
		if err := w.notice(&t, Notice{Kind: NoticeFollows, Ticket: t.Follows}); err != nil {
			return err
		}
	}
	if !auto && !IsSupportAddress(s.cfg.Support.Email, m.From.Email) {
		if w.res.NewTicket || w.in.Oversized > 0 {
			d, err := s.mayAutoSend(w.tx, m.From.Email, w.now)
			if err != nil {
				return err
			}
			if d.ok {
				tmpl := "ack"
				if w.in.Oversized > 0 {
					tmpl = "toolarge"
				}
				if err := w.queueAck(&t, msg, tmpl); err != nil {
					return err
				}
				w.res.Acknowledged = true
			} else if err := w.holdAck(&t, d); err != nil {
				return err
			}
		}
		n, err := w.notifyAgents(&t, msg)
		if err != nil {
			return err
		}
		w.res.Notified = n
	}
	return w.tx.PutTicket(t)
}

func (w *work) incomingMessage(ticketID uint64, kind Kind) *Message {
	m := w.m
	visible := m.Visible
	if visible == "" {
		visible = m.Text // the reader found no history to cut
	}
	return &Message{
		TicketID: ticketID, Direction: DirIn, Kind: kind,
		From: m.From, To: m.To, Cc: m.Cc, ReplyTo: m.ReplyTo,
		Subject: m.Subject, Date: m.Date,
		MessageID: TrimMessageID(m.MessageID), InReplyTo: TrimMessageID(m.InReplyTo),
		References: m.References, Body: m.Text, Visible: visible, HTML: m.HTML,
		Attachments: m.Attachments, Warnings: m.Warnings,
		Source: w.in.Source, RawSize: int64(len(w.in.Raw)), RawSHA256: w.in.rawSum(),
		ReceivedAt: w.now, Automatic: w.res.Automatic,
	}
}

// addIncoming stores the incoming mail's message with its raw bytes. A
// Message-ID we could not echo byte-exactly is indexed in its safe form
// too (SafeMessageID), which is what our replies carry.
func (w *work) addIncoming(msg *Message) error {
	findInMessage(msg)
	if err := w.tx.AddMessage(msg, w.in.Raw); err != nil {
		return err
	}
	if safe := SafeMessageID(msg.MessageID); safe != msg.MessageID {
		return w.tx.IndexMessageID(safe, msg.ID)
	}
	return nil
}

// note adds an internal note to t.
func (w *work) note(t *Ticket, by Address, text string) error {
	n := &Message{TicketID: t.ID, Direction: DirIn, Kind: KindNote, From: by, Body: text, Visible: text,
		Date: w.now, ReceivedAt: w.now, Source: "ticketd"}
	findInMessage(n)
	if err := w.tx.AddMessage(n, nil); err != nil {
		return err
	}
	t.Messages++
	return nil
}

// addParticipants adds the other customers on a customer's mail (To and
// Cc) to t, when the sender is the requester or a participant: not our own
// addresses or domains, the agents, the notify address or addresses that
// take no mail, and at most Config.MaxParticipants in all. It returns the
// addresses left out for the limit or for being in our own domains, which
// the caller records on the ticket.
func (s *Service) addParticipants(t *Ticket, m *Mail) (left []string) {
	if !t.IsParticipant(m.From.Email) {
		return nil
	}
	for _, a := range append(append([]Address(nil), m.To...), m.Cc...) {
		if a.Email == "" || t.IsParticipant(a.Email) || s.isOwn(a.Email) || SameMailbox(a.Email, s.cfg.NotifyAddress) ||
			s.neverSend(a.Email) != "" || slices.ContainsFunc(left, func(l string) bool { return SameMailbox(l, a.Email) }) {
			continue
		}
		if _, agent := s.agent(a.Email); agent {
			continue
		}
		if s.ownDomain(a.Email) || len(t.Participants) >= s.cfg.MaxParticipants {
			left = append(left, a.Email)
			continue
		}
		t.Participants = append(t.Participants, a)
	}
	return left
}

// ownDomain reports whether addr is in the support address's domain or in
// the domain of one of Config.OwnAddresses.
func (s *Service) ownDomain(addr string) bool {
	d := domainOf(addr)
	if d == "" {
		return false
	}
	if d == domainOf(s.cfg.Support.Email) {
		return true
	}
	for _, id := range s.cfg.Identities {
		if d == domainOf(id.Address) {
			return true
		}
	}
	for _, own := range s.cfg.OwnAddresses {
		if d == domainOf(own) {
			return true
		}
	}
	return false
}

// mailable returns the participants our replies Cc: those still allowed
// (tickets stored before the limit may hold more), at most
// Config.MaxParticipants.
func (s *Service) mailable(ps []Address) []Address {
	var out []Address
	for _, p := range ps {
		if len(out) < s.cfg.MaxParticipants && !s.isOwn(p.Email) && !s.ownDomain(p.Email) {
			out = append(out, p)
		}
	}
	return out
}

// Reject quarantines a mail that could not be handled (not a mail at all, a
// storage failure that persisted, a panic), with its raw bytes and the
// reason, and advances the cursor past it. A mail quarantined before is not
// kept twice.
func (s *Service) Reject(in Incoming, reason string) (Result, error) {
	in.Mail, in.Problem = nil, reason
	res, err := s.IngestBatch([]Incoming{in})
	if err != nil {
		return Result{}, err
	}
	return res[0], nil
}

// rejectTx is Reject inside tx.
func (s *Service) rejectTx(tx Tx, in Incoming, key, reason string) (Result, error) {
	if err := advanceCursor(tx, in.Mailbox, in.Cursor); err != nil {
		return Result{}, err
	}
	if _, ok, err := tx.Seen(key); err != nil {
		return Result{}, err
	} else if ok {
		return Result{Duplicate: true}, nil
	}
	r := &Rejected{Reason: reason, Source: in.Source, ReceivedAt: s.cfg.Now().UTC(),
		Raw: in.Raw, RawSHA256: in.rawSum(), RawSize: int64(len(in.Raw))}
	if err := tx.AddRejected(r); err != nil {
		return Result{}, err
	}
	return Result{}, tx.MarkSeen(key, 0)
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

// Quarantined returns one quarantined mail with its raw bytes.
func (s *Service) Quarantined(id uint64) (Rejected, error) {
	var r Rejected
	err := s.store.View(func(tx ReadTx) error {
		var err error
		r, err = tx.RejectedByID(id)
		return err
	})
	return r, err
}

// DropQuarantined deletes a quarantined mail for good. Its content key
// stays, so the same mail fetched again is not stored.
func (s *Service) DropQuarantined(id uint64) error {
	return s.store.Update(func(tx Tx) error { return tx.DeleteRejected(id) })
}

// Unsuppress removes an address from the suppression list.
func (s *Service) Unsuppress(email string) error {
	return s.store.Update(func(tx Tx) error { return tx.DeleteSuppression(email) })
}
