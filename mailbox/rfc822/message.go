package rfc822

import (
	"strings"
	"time"
)

// Message is a mail as [Parse] read it. Every string is valid UTF-8;
// Message-IDs have no angle brackets.
type Message struct {
	From       Address
	To         []Address
	Cc         []Address
	ReplyTo    []Address
	Subject    string
	Date       time.Time
	MessageID  string
	InReplyTo  string
	References []string
	// Text is the sender's own text: the decoded text/plain body parts
	// (or, for mail without text of its own, its HTML rendered as text),
	// with "\n" line ends, without the forwarded messages.
	Text string
	// HTML is the first text/html body part, as sent.
	HTML string
	// FromHTML says that Text was rendered from HTML, the mail's one
	// text/html part: the quote rules should read that HTML's structure.
	FromHTML bool
	// Forwarded are the sections that render its forwarded messages
	// (message/rfc822 parts), in order: see [WithSections]. A delivery
	// report has none: the message it returns is not the sender's.
	Forwarded   []string
	Attachments []Attachment
	// Headers holds the header fields asked for in [Options.Headers],
	// first value only, by canonical name.
	Headers map[string]string
	// Delivered are the addresses the delivering servers wrote the mail
	// was for: every Delivered-To, then every X-Original-To, in header
	// order (top first), lower-cased, without angle brackets.
	Delivered []string
	// Warnings list what could not be read cleanly.
	Warnings []string
	// Panic, when set, is the bug Parse recovered from: the message is
	// what was read before it (a warning says so).
	Panic *PanicError `json:"-"`
	// Bounce is set when the mail is a delivery failure report.
	Bounce *Bounce
}

// Address is a mailbox: an optional display name and an address (its
// domain lower-cased).
type Address struct {
	Name  string
	Email string
}

// Attachment describes one attachment; its bytes stay in the raw mail.
type Attachment struct {
	// Filename is the part's file name, or when it has none a name derived
	// from its Content-ID or its type ("image001.png", "image.png",
	// "attachment-2.bin"), unique within the mail; NameDerived tells which.
	Filename    string
	NameDerived bool
	ContentType string
	Size        int64
	SHA256      string
	Inline      bool
	ContentID   string
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

// File is an attachment with its decoded bytes ([ExtractAttachments]).
type File struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Data        []byte `json:"data"`
	Inline      bool   `json:"inline"`
}

// WithSections appends the forwarded sections to text, each after an empty
// line: the whole text of a mail that forwards others.
func WithSections(text string, sections []string) string {
	if len(sections) == 0 {
		return text
	}
	text = strings.TrimRight(text, " \t\n")
	if strings.TrimSpace(text) == "" {
		return strings.Join(sections, "\n\n")
	}
	return text + "\n\n" + strings.Join(sections, "\n\n")
}
