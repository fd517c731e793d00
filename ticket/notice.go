package ticket

import (
	"fmt"
	"strings"
	"time"
)

// Notice kinds: the notes ticketd writes on a ticket by itself. Each is
// rendered by the "notice" template in the center's language; the fields of
// Notice each kind uses are listed with it.
const (
	NoticeNoAck           = "no_ack"           // Reason: the acknowledgement is not sent at all
	NoticeAckHeld         = "ack_held"         // Reason, Due, Emails[0]: held back by the rate limits
	NoticeHeldDropped     = "held_dropped"     // Reason: a held acknowledgement is not sent after all
	NoticeAckCombined     = "ack_combined"     // Ticket, Emails[0]: acknowledged in one mail with Ticket's
	NoticeUndelivered     = "undelivered"      // Emails, Subject, Text: a mail of ours was given up
	NoticeBounce          = "bounce"           // Bounces: a delivery failure report came
	NoticeTooLarge        = "too_large"        // Size, Limit: only the header was read
	NoticeUndownloadable  = "undownloadable"   // Text: only the header was read
	NoticeRefused         = "refused"          // Ticket, Via, Cause, Text: the mail pointed at Ticket but may not join it
	NoticeLeftOut         = "left_out"         // Emails, More, Limit: addresses not made participants
	NoticeFollows         = "follows"          // Ticket: the closed ticket this one continues
	NoticeCommandError    = "command_error"    // CommandError: an agent's mail kept, not sent
	NoticePendingReminded = "pending_reminded" // the customer was reminded of the pending ticket
	NoticePendingSolved   = "pending_solved"   // solved after waiting for the customer, with a closing mail
	NoticeMerged          = "merged"           // Ticket, Text (who): Ticket was merged into this one
	NoticeMergedInto      = "merged_into"      // Ticket, Text (who): this ticket was merged into Ticket
	NoticeSplit           = "split"            // Ticket, More, Text (who): More messages were split off into Ticket
	NoticeSplitFrom       = "split_from"       // Ticket, More, Text (who): this ticket was split from Ticket
)

// Notice is a note ticketd writes on a ticket (see the Notice kinds).
type Notice struct {
	Kind string
	// Reason says why an automatic mail was not sent (now).
	Reason Reason
	// Ticket is the other ticket the notice names.
	Ticket uint64
	// Emails are the addresses concerned; More how many were left out.
	Emails []string
	More   int
	// Size and Limit are in bytes (for NoticeLeftOut, Limit is the
	// participant limit).
	Size, Limit int64
	Due         time.Time
	Subject     string
	// Text holds the words of others, shown as they are: a server's
	// refusal, a download error, an authserv-id.
	Text string
	// Via ("reference" or "subject") and Cause ("not_participant" or
	// "auth_failed") say how a refused mail pointed at Ticket and why it
	// could not join it.
	Via, Cause   string
	Bounces      []BounceLine
	CommandError *CommandError
}

// Total is how many addresses the notice is about: those in Emails and
// the More left out of the list.
func (n Notice) Total() int { return len(n.Emails) + n.More }

// BounceLine is one recipient of a delivery failure report, with what
// ticketd did about the address.
type BounceLine struct {
	Email, Action, Status, Diagnostic string
	// Protected: an agent's or the notify address, not suppressed.
	Protected bool
	// SuppressedUntil, when set, is until when the address gets no mail.
	SuppressedUntil time.Time
}

// String is the line in English, for logs and DeliveryError.
func (b BounceLine) String() string {
	s := fmt.Sprintf("delivery to %s: %s %s", b.Email, b.Action, b.Status)
	if b.Diagnostic != "" {
		s += " (" + b.Diagnostic + ")"
	}
	switch {
	case b.Protected:
		s += "; not suppressed: it is an agent's or the notify address"
	case !b.SuppressedUntil.IsZero():
		s += "; suppressed until " + b.SuppressedUntil.Format(time.DateOnly)
	}
	return s
}

// Reason codes: why an automatic mail may not go to an address (now).
const (
	ReasonNull       = "null"       // the null address
	ReasonOwn        = "own"        // one of our own addresses
	ReasonNoReply    = "noreply"    // an address that takes no replies
	ReasonNoDomain   = "no_domain"  // an address without a domain
	ReasonSuppressed = "suppressed" // Until, Text: it bounced for good
	ReasonInterval   = "interval"   // Ago: automatic mail sent to it that long ago
	ReasonPerHour    = "per_hour"   // Count: automatic mails in the last hour
	ReasonPerDay     = "per_day"    // Count: automatic mails in the last day
	ReasonLoop       = "loop"       // Ago: held acknowledgements were sent to it that long ago
)

// Reason says why an automatic mail is not sent to an address (now).
type Reason struct {
	Code  string
	Ago   time.Duration
	Count int
	Until time.Time
	Text  string
}

// String is the reason in English, for logs and results.
func (r Reason) String() string {
	switch r.Code {
	case "":
		return ""
	case ReasonNull:
		return "null address"
	case ReasonOwn:
		return "our own address"
	case ReasonNoReply:
		return "an address that takes no replies"
	case ReasonNoDomain:
		return "an address without a domain (a user of the sender's own system)"
	case ReasonSuppressed:
		return "suppressed until " + r.Until.Format(time.DateOnly) + ": " + r.Text
	case ReasonInterval:
		return fmt.Sprintf("rate limit: automatic mail sent to this address %s ago", r.Ago.Round(time.Second))
	case ReasonPerHour:
		return fmt.Sprintf("rate limit: %d automatic mails in the last hour", r.Count)
	case ReasonPerDay:
		return fmt.Sprintf("rate limit: %d automatic mails in the last day", r.Count)
	case ReasonLoop:
		return fmt.Sprintf("a possible mail loop: this mail came %s after held acknowledgements were sent to the address", r.Ago.Round(time.Second))
	}
	return r.Code
}

// notice renders n with the "notice" template in the center's language and
// writes it on t as a note from the support address.
func (w *work) notice(t *Ticket, n Notice) error {
	text, err := w.s.noticeText(t, n)
	if err != nil {
		return err
	}
	return w.note(t, w.s.cfg.Support, text)
}

// noticeText is n as the "notice" template renders it for t.
func (s *Service) noticeText(t *Ticket, n Notice) (string, error) {
	data := s.templateData(t, s.cfg.Now())
	data.Notice = &n
	r, err := s.render.Render("notice", s.cfg.Language, data)
	if err != nil {
		return "", fmt.Errorf("render notice %s: %w", n.Kind, err)
	}
	return strings.TrimSpace(r.Text), nil
}
