package ticket

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNotFound is returned by a [Store] when a ticket, message or record does
// not exist.
var ErrNotFound = errors.New("not found")

// ErrCannotWrite marks a [Store] error that is the machine's, not the
// data's: the disk or the quota is full, the disk is read-only or failing,
// the database file is damaged. What was being stored must wait (a mail
// stays on the server, before the cursor), not be quarantined.
var ErrCannotWrite = errors.New("the store cannot write")

// ErrNotHeld is a store's refusal to write a mailbox's cursor for a node
// that no longer holds the mailbox (several nodes share the store, and
// another took it over): the mails are not to blame, and stay on the
// server for the node that holds it.
var ErrNotHeld = errors.New("another node holds the mailbox now")

// Store persists tickets. Implementations run fn in one transaction: if fn
// returns an error nothing it wrote is kept. Update must not be called from
// inside fn. Implementations are safe for concurrent use.
type Store interface {
	Update(fn func(tx Tx) error) error
	View(fn func(tx ReadTx) error) error
}

// TicketFilter selects tickets for listing. Zero values match everything.
type TicketFilter struct {
	Status Status
}

// ReadTx is a read-only view of the store.
type ReadTx interface {
	Ticket(id uint64) (Ticket, error)
	Tickets(f TicketFilter) ([]Ticket, error)
	// Messages returns the messages of a ticket in the order they were stored.
	Messages(ticketID uint64) ([]Message, error)
	Message(id uint64) (Message, error)
	// MessageByMessageID finds a stored message (incoming or ours) by its
	// Message-ID. A store indexes and looks up CanonicalMessageID of the
	// IDs it is given; the message keeps its Message-ID as received.
	MessageByMessageID(messageID string) (Message, error)
	// Seen reports whether a dedupe key was stored, and by which message (0
	// for a rejected mail).
	Seen(key string) (msgID uint64, ok bool, err error)
	Raw(msgID uint64) ([]byte, error)
	Cursor(mailbox string) (Cursor, bool, error)
	// Outbox lists queued outgoing mail, oldest first.
	Outbox() ([]Outgoing, error)
	// EachOutgoing calls fn with each queued mail, oldest first, decoding
	// one at a time, so that a long queue (acknowledgements after a
	// backlog, replies with attachments) is never all in memory. An error
	// from fn stops it and is returned.
	EachOutgoing(fn func(o Outgoing) error) error
	Outgoing(id uint64) (Outgoing, error)
	Rejected() ([]Rejected, error)
	// Notification returns what we recorded about a notification we sent,
	// by its Message-ID.
	Notification(messageID string) (Notification, error)
	// Suppression returns the suppression of an address (lower-cased).
	Suppression(email string) (Suppression, error)
	Suppressions() ([]Suppression, error)
	// AutoSent returns when automatic mail was last sent to an address.
	AutoSent(email string) ([]time.Time, error)
	RejectedByID(id uint64) (Rejected, error)
	// HeldAcks returns the acknowledgements held back for an address
	// (lower-cased), ErrNotFound when there is no record.
	HeldAcks(email string) (HeldAcks, error)
	// EachHeldAcks calls fn with every record of held acknowledgements.
	EachHeldAcks(fn func(h HeldAcks) error) error
	// EachAudit calls fn with every audit record, oldest first.
	EachAudit(fn func(r AuditRecord) error) error
	// SearchIndex is kept by the store itself: every transaction that
	// changes a ticket or its messages has the ticket indexed anew
	// (SearchTerms), by the transaction or by a crash-safe follower the
	// store runs before a search.
	SearchIndex
}

// OutgoingLocker is a Tx of a store several processes share (several
// nodes on one database): the outbox's claim of a mail locks it, and a
// mail another process's transaction is claiming is skipped rather than
// waited for or fought over.
type OutgoingLocker interface {
	// LockOutgoing returns queued mail id, locked until the transaction
	// ends; ErrNotFound when there is none, or when another transaction
	// holds it (SELECT ... FOR UPDATE SKIP LOCKED).
	LockOutgoing(id uint64) (Outgoing, error)
}

// Tx is a read-write transaction.
type Tx interface {
	ReadTx
	// NextTicketID reserves the next ticket number.
	NextTicketID() (uint64, error)
	PutTicket(t Ticket) error
	// AddMessage assigns m.ID, stores m and raw (raw may be nil for mail we
	// compose) and indexes m.MessageID.
	AddMessage(m *Message, raw []byte) error
	// PutMessage rewrites a stored message; when m.TicketID is not the
	// ticket it is on, the message moves to that ticket (merge, split).
	PutMessage(m Message) error
	MarkSeen(key string, msgID uint64) error
	SetCursor(mailbox string, c Cursor) error
	// Enqueue assigns o.ID and queues o.
	Enqueue(o *Outgoing) error
	PutOutgoing(o Outgoing) error
	DeleteOutgoing(id uint64) error
	// AddRejected assigns r.ID and keeps r with its raw bytes.
	AddRejected(r *Rejected) error
	// IndexMessageID makes messageID (compared as CanonicalMessageID) find
	// the stored message msgID too.
	IndexMessageID(messageID string, msgID uint64) error
	PutNotification(n Notification) error
	PutSuppression(s Suppression) error
	DeleteSuppression(email string) error
	PutAutoSent(email string, times []time.Time) error
	DeleteRejected(id uint64) error
	// Unsee removes a dedupe key.
	Unsee(key string) error
	PutHeldAcks(h HeldAcks) error
	DeleteHeldAcks(email string) error
	// AddAudit assigns r.ID and appends r to the audit log, which has no
	// way to change or delete a record.
	AddAudit(r *AuditRecord) error
	// DeleteRaw removes the raw mail of a message.
	DeleteRaw(msgID uint64) error
	// UnindexMessageID removes messageID from the index when it names the
	// message msgID.
	UnindexMessageID(messageID string, msgID uint64) error
}

// AuditRecord is one entry of the privacy audit log: who saw personal data
// unmasked (or, later, exported, erased or purged it), when, on which
// ticket and why.
type AuditRecord struct {
	ID     uint64    `json:"id"`
	At     time.Time `json:"at"`
	Who    string    `json:"who"`    // the agent (--as) or the operating system user
	Action string    `json:"action"` // AuditUnmask, ...
	Ticket uint64    `json:"ticket,omitempty"`
	Reason string    `json:"reason"`
	// Detail says what was done, naming people only by AddressDigest.
	Detail string `json:"detail,omitempty"`
}

// Audit actions.
const (
	AuditUnmask = "unmask" // a ticket shown with its personal data
	// AuditWebView is a page of the web view an agent opened (masked):
	// a ticket, an attachment, the queue or a search.
	AuditWebView = "web_view"
)

// HeldAcks are the acknowledgements of new tickets held back for one
// address by the rate limits (Config.AutoMinInterval, AutoPerHour,
// AutoPerDay), to be sent together in one mail once the limits allow.
type HeldAcks struct {
	Email string `json:"email"`
	// Tickets are the tickets whose acknowledgement is held; Due is when
	// the next try to send them is (zero when none are held).
	Tickets []uint64  `json:"tickets,omitempty"`
	Due     time.Time `json:"due"`
	// Released is when held acknowledgements last went to this address:
	// a new ticket within AutoMinInterval of it is not acknowledged at
	// all, which ends a loop with an auto-responder that answers every
	// mail as a new inquiry.
	Released time.Time `json:"released"`
}

// Suppression keeps mail from being sent to an address that bounced
// permanently, until Until.
type Suppression struct {
	Email  string    `json:"email"`
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	Ticket uint64    `json:"ticket,omitempty"`
}

// Notification records a mail we sent to an agent about a ticket, so that
// the agent's reply to it can be recognised.
type Notification struct {
	MessageID string    `json:"message_id"`
	TicketID  uint64    `json:"ticket_id"`
	To        string    `json:"to"`
	SentAt    time.Time `json:"sent_at"`
}

// Sender delivers one outgoing mail. refused lists the recipients the
// server refused for good (a 5xx reply to RCPT TO) while the others were
// sent the mail; an error means nobody was, and one for which
// [IsPermanent] is true is not retried (when every recipient was refused,
// refused lists them all).
//
// ready, when not nil, is called before the server can have the mail (at
// the latest just before the end of its data) and may be called more than
// once; when it returns an error, Send makes sure the server does not get
// the mail (it drops the connection) and returns that error.
type Sender interface {
	Send(ctx context.Context, o Outgoing, ready func() error) (refused []Refusal, err error)
}

// Refusal is a recipient a server refused for good.
type Refusal struct {
	Email string `json:"email"`
	// Code is the SMTP reply code (550), Status the RFC 3463 enhanced
	// status code ("5.1.1") when the server gave one.
	Code   int    `json:"code"`
	Status string `json:"status,omitempty"`
	Text   string `json:"text"`
}

// AddressFailure reports whether the refusal says the address itself
// cannot take mail: RFC 3463 classes X.1 (addressing: no such user, bad
// domain) and X.2 (mailbox: disabled, full), permanent. A refusal for any
// other reason (policy, a relay that wants authentication, content) says
// nothing about the address.
func (r Refusal) AddressFailure() bool { return addressFailure(r.Status) }

func addressFailure(status string) bool {
	return strings.HasPrefix(status, "5.1.") || strings.HasPrefix(status, "5.2.")
}

// String is the server's answer: "550 5.1.1 user unknown".
func (r Refusal) String() string {
	s := fmt.Sprint(r.Code)
	if r.Status != "" {
		s += " " + r.Status
	}
	if r.Text != "" {
		s += " " + r.Text
	}
	return s
}

// Renderer renders a named mail template ("ack") in a language ("ko", "en").
type Renderer interface {
	Render(name, lang string, data TemplateData) (Rendered, error)
}

// Change is what an agent's command changed on a ticket, for the note
// that records it and the mail to a new assignee.
type Change struct {
	Command  string // "close", "solve", "pending", "open", "assign", "priority", "group"
	By       Address
	Status   Status   // after the change
	Priority Priority // after the change
	Assignee Address  // for "assign"
	Group    string   // for "group": the group it moved to
}

// Rendered is a rendered mail: subject line and bodies.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
}

// TemplateData is what templates see.
type TemplateData struct {
	TicketID     uint64
	Subject      string // the customer's subject, without our tag
	Customer     Address
	CenterName   string
	SupportEmail string
	// CenterPhone and CenterFooter are the footer of the center's mails:
	// its main telephone number and the operator's lines (address, a
	// privacy line, ...), each shown as written.
	CenterPhone  string
	CenterFooter []string
	// ReceivedAt is when the ticket was received (접수일시), in UTC; the
	// templates show it in the center's zone.
	ReceivedAt time.Time
	Hours      Hours
	OpenNow    bool // whether the center is open at Now
	// NextOpen is when the center opens next, when it is closed at Now
	// (zero when open, or never); Closure the holidays it is closed for,
	// if holidays are why.
	NextOpen time.Time
	Closure  *Closure
	// FirstResponseDue is when the first answer is due
	// (Config.SLAFirstResponse; zero: no SLA).
	FirstResponseDue time.Time
	Now              time.Time
	CustomerText     string // the customer's message text, for notifications
	AgentName        string
	ReplyText        string
	// ReplyHTML is the agent's own HTML of a relayed reply, already
	// sanitised (Config.ReplyHTML), or "" when the reply is rendered from
	// ReplyText.
	ReplyHTML     string
	TicketSubject string // "[#N] subject"
	// For notifications.
	Status      Status
	FollowUp    bool // a customer follow-up rather than a new ticket
	Attachments []Attachment
	// AttachmentsWithheld: the notification lists Attachments but does
	// not carry them (Config.WithholdAttachments).
	AttachmentsWithheld bool
	// WebLink opens the ticket in the web view and WebQueue the agent's
	// queue, each signed for the one agent the notification goes to
	// ("": no web view, Config.WebURL).
	WebLink, WebQueue string
	// For errors mailed to an agent, and to the operator: Error is the
	// English text; CommandError, when it is one, says what was wrong with
	// the agent's command for the template to say in its language.
	Error        string
	CommandError *CommandError
	// For a change an agent made ("history", "assigned").
	Change *Change
	// For the operator's alert of a broken sign-in ("oauth_broken"): the
	// credential, and the command that mends it ("" when none does).
	Credential, Command string
	// For the "too large" reply: the mail's size and the limit, in bytes.
	Size, Limit int64
	// For the summary of held acknowledgements ("ack_summary"): the
	// tickets acknowledged, oldest first.
	Tickets []TicketRef
	// For notifications: the acknowledgement was not sent now. AckReason
	// says why; with AckDue set it is held and sent at about that time,
	// else not at all.
	AckReason *Reason
	AckDue    time.Time
	// Notice is the note ticketd writes on a ticket ("notice").
	Notice *Notice
	// Digest are the tickets of a reminder or escalation digest.
	Digest []DigestLine
	// Suggestions are the FAQ entries the acknowledgement offers (and,
	// in a notification, offered), best first.
	Suggestions []Suggestion
	// Category and Group are the ticket's (for notifications).
	Category, Group string
	// MergedFrom is, in the mail that tells a customer their ticket was
	// merged ("merged"), their ticket's number; TicketID is the one it
	// joined.
	MergedFrom uint64
}

// TicketRef names a ticket in a template.
type TicketRef struct {
	ID        uint64
	Subject   string
	CreatedAt time.Time
}

// Outgoing is a mail in the outbox. Its Message-ID is fixed when it is
// queued, so a retry after a crash sends the same Message-ID.
type Outgoing struct {
	ID         uint64            `json:"id"`
	TicketID   uint64            `json:"ticket_id"`
	MessageRef uint64            `json:"message_ref"` // the Message stored on the ticket
	MessageID  string            `json:"message_id"`
	From       Address           `json:"from"`
	To         []Address         `json:"to"`
	Cc         []Address         `json:"cc,omitempty"`
	ReplyTo    []Address         `json:"reply_to,omitempty"`
	Subject    string            `json:"subject"`
	InReplyTo  string            `json:"in_reply_to,omitempty"`
	References []string          `json:"references,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
	Text       string            `json:"text"`
	HTML       string            `json:"html,omitempty"`
	Kind       Kind              `json:"kind"`
	// Attachments sent with the mail (from the CLI).
	Attachments []OutAttachment `json:"attachments,omitempty"`
	// AttachFrom names a stored message whose attachments are sent too;
	// the outbox worker adds them to Attachments before sending (see
	// OutboxConfig.Attachments).
	AttachFrom uint64 `json:"attach_from,omitempty"`

	CreatedAt   time.Time `json:"created_at"`
	NextAttempt time.Time `json:"next_attempt"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error,omitempty"`
}

// OutAttachment is a file sent with an outgoing mail.
type OutAttachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Data        []byte `json:"data"`
}

// Rejected is a mail that could not be turned into a ticket message. Its raw
// bytes are kept for inspection; nothing is dropped.
type Rejected struct {
	ID         uint64    `json:"id"`
	Reason     string    `json:"reason"`
	Source     string    `json:"source"`
	ReceivedAt time.Time `json:"received_at"`
	Raw        []byte    `json:"-"`
	RawSHA256  string    `json:"raw_sha256"`
	RawSize    int64     `json:"raw_size"`
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as permanent: retrying will not help.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// [Permanent].
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
