package ticket

import (
	"fmt"
	"strings"
	"time"
)

// Status is the life-cycle state of a ticket.
type Status string

// Ticket statuses. A new ticket starts as StatusNew; a customer follow-up on a
// solved ticket makes it open again.
const (
	StatusNew     Status = "new"
	StatusOpen    Status = "open"
	StatusPending Status = "pending"
	StatusSolved  Status = "solved"
	StatusClosed  Status = "closed"
)

// ParseStatus checks s against the known statuses.
func ParseStatus(s string) (Status, error) {
	switch st := Status(strings.ToLower(strings.TrimSpace(s))); st {
	case StatusNew, StatusOpen, StatusPending, StatusSolved, StatusClosed:
		return st, nil
	}
	return "", fmt.Errorf("unknown status %q (want new, open, pending, solved or closed)", s)
}

// Address is a mailbox: an optional display name and an address.
// Email is stored lower-cased in its domain part and trimmed.
type Address struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// String formats the address for logs and display, not for mail headers.
func (a Address) String() string {
	if a.Name == "" {
		return a.Email
	}
	return fmt.Sprintf("%s <%s>", a.Name, a.Email)
}

// SameMailbox reports whether a and b name the same mailbox. Local parts are
// compared case-insensitively, as every mail system a helpdesk meets does.
func SameMailbox(a, b string) bool {
	return a != "" && strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}

// Ticket is one customer inquiry and its conversation.
type Ticket struct {
	ID        uint64    `json:"id"`
	Subject   string    `json:"subject"`
	Status    Status    `json:"status"`
	Requester Address   `json:"requester"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Messages is the number of messages on the ticket.
	Messages int `json:"messages"`
	// Participants are other customers on the conversation (the Cc of the
	// customer's mails); their replies thread in and our replies Cc them.
	Participants []Address `json:"participants,omitempty"`
	Assignee     string    `json:"assignee,omitempty"`
	Priority     Priority  `json:"priority,omitempty"`
	// Follows is the closed ticket this one continues, if any.
	Follows uint64 `json:"follows,omitempty"`
	// MergedInto is the ticket this one was merged into (Service.Merge):
	// its messages are there, and mail that would thread here threads
	// there. Merged are the tickets merged into this one; SplitFrom the
	// ticket this one was split from (Service.Split).
	MergedInto uint64   `json:"merged_into,omitempty"`
	Merged     []uint64 `json:"merged,omitempty"`
	SplitFrom  uint64   `json:"split_from,omitempty"`
	// Spam is set when the upstream filter flagged the first mail as spam.
	Spam bool `json:"spam,omitempty"`
	// BaseSubject is Subject without reply and forward prefixes, as the
	// mail reader found it (Mail.BaseSubject): our replies say "Re: " and
	// it.
	BaseSubject string `json:"base_subject,omitempty"`
	// Erased is when the ticket was anonymised (Service.Erase, or the
	// retention), if it was; RawPurged when its raw mails were purged.
	Erased    time.Time `json:"erased,omitzero"`
	RawPurged time.Time `json:"raw_purged,omitzero"`
	// ClosedAt is when the ticket was last closed (UpdatedAt stands in for
	// tickets closed before it was kept).
	ClosedAt time.Time `json:"closed_at,omitzero"`
	// Due are the ticket's service-level due times (nil: no SLA).
	Due *Due `json:"due,omitempty"`
	// PendingSince is when the ticket last went pending; PendingReminded
	// when the customer was reminded since (RunPending).
	PendingSince    time.Time `json:"pending_since,omitzero"`
	PendingReminded time.Time `json:"pending_reminded,omitzero"`
	// Category and Group are the ticket's topic and the agents' group it
	// is with: from the routing rule its first mail matched (Route), or
	// Config.DefaultCategory; the group is moved by #group.
	Category string `json:"category,omitempty"`
	Group    string `json:"group,omitempty"`
	// Route names the routing rule that matched the first mail.
	Route string `json:"route,omitempty"`
	// Identity is the address of ours the customer wrote to (one of
	// Config.Identities), which our mails to the customer come from; ""
	// is the support address.
	Identity string `json:"identity,omitempty"`
	// Suggested are the FAQ entries the acknowledgement offered the
	// customer, best first, with their scores.
	Suggested []Suggestion `json:"suggested,omitempty"`
}

// Due are a ticket's service-level due times, in business time
// (Config.SLAFirstResponse, SLAResolution).
type Due struct {
	FirstResponse time.Time `json:"first_response,omitzero"`
	Resolution    time.Time `json:"resolution,omitzero"`
	// Responded is when an agent's first answer was relayed.
	Responded time.Time `json:"responded,omitzero"`
	// PausedSince is when the ticket went pending: the resolution clock
	// stops while the customer is asked, and the due time moves on by the
	// business time it waited.
	PausedSince time.Time `json:"paused_since,omitzero"`
	// When each due time was in a reminder and in an escalation digest
	// (each at most once).
	RemindedFirst       time.Time `json:"reminded_first,omitzero"`
	EscalatedFirst      time.Time `json:"escalated_first,omitzero"`
	RemindedResolution  time.Time `json:"reminded_resolution,omitzero"`
	EscalatedResolution time.Time `json:"escalated_resolution,omitzero"`
	// BreachedFirst and BreachedResolution are the due times that passed
	// unmet, recorded when the reminder job saw them.
	BreachedFirst      time.Time `json:"breached_first,omitzero"`
	BreachedResolution time.Time `json:"breached_resolution,omitzero"`
}

// Overdue lists the due times t has passed at now: "first_response" until
// an agent answered, "resolution" until it is solved or closed (not while
// pending).
func (t Ticket) Overdue(now time.Time) []string {
	if t.Due == nil {
		return nil
	}
	var out []string
	if !t.Due.FirstResponse.IsZero() && t.Due.Responded.IsZero() && now.After(t.Due.FirstResponse) {
		out = append(out, "first_response")
	}
	open := t.Status != StatusSolved && t.Status != StatusClosed && t.Status != StatusPending
	if !t.Due.Resolution.IsZero() && open && now.After(t.Due.Resolution) {
		out = append(out, "resolution")
	}
	return out
}

// base is the subject our replies answer: BaseSubject, or for a ticket
// stored before it was kept, Subject.
func (t Ticket) base() string {
	if t.BaseSubject != "" {
		return t.BaseSubject
	}
	return strings.TrimSpace(t.Subject)
}

// Priority of a ticket.
type Priority string

// Priorities. The zero value means normal.
const (
	PriorityLow    Priority = "low"
	PriorityNormal Priority = "normal"
	PriorityHigh   Priority = "high"
)

// IsParticipant reports whether email is the requester or a participant.
func (t Ticket) IsParticipant(email string) bool {
	if SameMailbox(t.Requester.Email, email) {
		return true
	}
	for _, p := range t.Participants {
		if SameMailbox(p.Email, email) {
			return true
		}
	}
	return false
}

// Agent is a person who answers tickets.
type Agent struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Direction says whether a message came in or went out.
type Direction string

// Message directions.
const (
	DirIn  Direction = "in"
	DirOut Direction = "out"
)

// Kind says who wrote a message.
type Kind string

// Message kinds.
const (
	KindCustomer Kind = "customer"
	KindAgent    Kind = "agent"
	KindAuto     Kind = "auto"
	KindNote     Kind = "note"
)

// Attachment describes one attachment of a message. The bytes themselves
// stay inside the raw mail, which is kept byte-exact.
type Attachment struct {
	// Filename is the attachment's own name, or when it came without one
	// a name derived from its Content-ID or type ("image.png"); NameDerived
	// tells which.
	Filename    string `json:"filename"`
	NameDerived bool   `json:"name_derived,omitempty"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	Inline      bool   `json:"inline"`
	ContentID   string `json:"content_id"`
}

// Mail is an incoming mail as the parser understood it. Message-IDs have
// no angle brackets and no surrounding space, and are otherwise as received.
type Mail struct {
	From    Address
	To      []Address
	Cc      []Address
	ReplyTo []Address
	Subject string
	// BaseSubject is Subject without its reply and forward prefixes
	// ("Re:", "Fwd:", "회신:", ...), as the mail reader's one rule set
	// for them reads it.
	BaseSubject string
	Date        time.Time
	MessageID   string
	InReplyTo   string
	References  []string
	Text        string // the whole decoded text body
	HTML        string // the HTML body, if any, as sent
	Attachments []Attachment
	// Headers holds the header fields the core's rules look at, keyed by
	// canonical name (e.g. "Auto-Submitted"), first value only.
	Headers map[string]string
	// Delivered are the addresses the delivering servers wrote the mail
	// was for: every Delivered-To, then every X-Original-To, top first,
	// lower-cased (the mailbox's own address, and the alias or
	// plus-address the customer wrote to).
	Delivered []string
	// Warnings lists what the parser could not read cleanly; the mail is still
	// stored with whatever was readable.
	Warnings []string
	// Visible is what the sender wrote: Text without the quoted history
	// and the signature, as the mail reader's quote rules found it (the
	// rules are the reader's, not the core's); empty means all of Text.
	Visible string
	// Bounce is set when the mail is a delivery failure report (a DSN or a
	// common non-standard bounce).
	Bounce *Bounce
}

// Bounce is what a delivery failure report says.
type Bounce struct {
	// OriginalMessageID is the Message-ID of the mail that failed, from
	// the returned headers or Original-Message-ID; may be empty.
	OriginalMessageID string
	Recipients        []BounceRecipient
	// Standard is true for an RFC 3464 multipart/report; false for a
	// recognised non-standard bounce.
	Standard bool
}

// BounceRecipient is one failed (or delayed) recipient.
type BounceRecipient struct {
	Email string
	// Status is the RFC 3463 enhanced status code ("5.1.1"), or "5.0.0" /
	// "4.0.0" when only the class is known.
	Status string
	// Action is the RFC 3464 action: failed, delayed, delivered, relayed,
	// expanded.
	Action     string
	Diagnostic string
}

// Permanent reports whether the recipient failed permanently (5.x.x).
func (r BounceRecipient) Permanent() bool {
	return strings.HasPrefix(r.Status, "5") && (r.Action == "" || r.Action == "failed")
}

// AddressFailure reports whether the recipient failed for good because of
// its address (classes 5.1 and 5.2, see [Refusal.AddressFailure]): only
// that suppresses the address.
func (r BounceRecipient) AddressFailure() bool { return r.Permanent() && addressFailure(r.Status) }

// Message is one stored message on a ticket.
type Message struct {
	ID          uint64       `json:"id"`
	TicketID    uint64       `json:"ticket_id"`
	Direction   Direction    `json:"direction"`
	Kind        Kind         `json:"kind"`
	From        Address      `json:"from"`
	To          []Address    `json:"to"`
	Cc          []Address    `json:"cc"`
	ReplyTo     []Address    `json:"reply_to,omitempty"`
	Subject     string       `json:"subject"`
	Date        time.Time    `json:"date"`
	MessageID   string       `json:"message_id"`
	InReplyTo   string       `json:"in_reply_to"`
	References  []string     `json:"references"`
	Body        string       `json:"body"`
	Visible     string       `json:"visible"`
	HTML        string       `json:"html,omitempty"`
	Attachments []Attachment `json:"attachments"`
	Warnings    []string     `json:"warnings,omitempty"`
	// Source names where the message came from ("imap:support/INBOX uid 17",
	// "ingest", "outbox"), for operators.
	Source     string    `json:"source,omitempty"`
	RawSHA256  string    `json:"raw_sha256,omitempty"`
	RawSize    int64     `json:"raw_size,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	// Delivery is set on messages we send: "queued", "sent" or "failed".
	Delivery      string `json:"delivery,omitempty"`
	DeliveryError string `json:"delivery_error,omitempty"`
	// Automatic names why an incoming mail was judged machine-sent, if it was.
	Automatic string `json:"automatic,omitempty"`
	// OriginalMessageID is the agent's own Message-ID of a reply we relayed
	// under our Message-ID.
	OriginalMessageID string `json:"original_message_id,omitempty"`
	// PersonalData is where the subject and body hold personal data
	// (FindPersonalData: kinds and offsets, never the values).
	PersonalData []Finding `json:"personal_data,omitempty"`
}

// Delivery states of an outgoing message.
const (
	DeliveryQueued = "queued"
	DeliverySent   = "sent"
	DeliveryFailed = "failed"
)

// Cursor is the ingest position in one IMAP folder.
type Cursor struct {
	UIDValidity uint32 `json:"uidvalidity"`
	// LastUID is the highest UID whose mail is committed; every mail at or
	// below it is stored (or rejected, or was expunged before we saw it).
	LastUID uint32 `json:"last_uid"`
	// ActedUID is the highest UID up to which the post-action (seen or move)
	// is known to be done. Between ActedUID and LastUID it is re-applied.
	ActedUID uint32 `json:"acted_uid"`
}
