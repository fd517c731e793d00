package mailbox

import (
	"errors"
	"log/slog"

	"github.com/ticketd/ticketd/mailbox/quote"
	"github.com/ticketd/ticketd/mailbox/rfc822"
	"github.com/ticketd/ticketd/ticket"
)

// Parse reads one mail as the core needs it, copying the header fields of
// ticket.RuleHeaders; see [ParseWith].
func Parse(raw []byte) (*ticket.Mail, error) { return ParseWith(raw, ticket.RuleHeaders) }

// ParseWith reads one mail as the core needs it: [rfc822.Parse] reads it
// (best-effort; the error wraps rfc822.ErrNotMail for input that is not a
// mail at all), copying the header fields named in headers, and
// [quote.Visible] finds what the sender wrote. The forwarded messages are
// sections at the end of both Text and Visible: they are what the sender
// wants read, so no quote rule may hide them. A bug the reader recovered
// from shows here only as a warning (rfc822.InternalError); the ingest
// pipeline also logs it with its stack.
func ParseWith(raw []byte, headers []string) (*ticket.Mail, error) {
	m, _, err := read(raw, headers)
	return m, err
}

// read is ParseWith that also returns the panic the reader recovered
// from, if any.
func read(raw []byte, headers []string) (*ticket.Mail, *rfc822.PanicError, error) {
	m, err := rfc822.Parse(raw, rfc822.Options{Headers: headers})
	if err != nil {
		return nil, nil, err
	}
	return toMail(m), m.Panic, nil
}

// toMail is m as a ticket.Mail.
func toMail(m *rfc822.Message) *ticket.Mail {
	base, _ := rfc822.BaseSubject(m.Subject)
	out := &ticket.Mail{
		BaseSubject: base,
		From:        address(m.From), To: addresses(m.To), Cc: addresses(m.Cc), ReplyTo: addresses(m.ReplyTo),
		Subject: m.Subject, Date: m.Date, MessageID: m.MessageID, InReplyTo: m.InReplyTo, References: m.References,
		Text:    rfc822.WithSections(m.Text, m.Forwarded),
		Visible: rfc822.WithSections(quote.Visible(m.Text, m.HTML, m.FromHTML), m.Forwarded),
		HTML:    m.HTML, Headers: m.Headers, Delivered: m.Delivered, Warnings: m.Warnings,
	}
	for _, a := range m.Attachments {
		out.Attachments = append(out.Attachments, ticket.Attachment{Filename: a.Filename, NameDerived: a.NameDerived, ContentType: a.ContentType,
			Size: a.Size, SHA256: a.SHA256, Inline: a.Inline, ContentID: a.ContentID})
	}
	if b := m.Bounce; b != nil {
		out.Bounce = &ticket.Bounce{OriginalMessageID: b.OriginalMessageID, Standard: b.Standard}
		for _, r := range b.Recipients {
			out.Bounce.Recipients = append(out.Bounce.Recipients, ticket.BounceRecipient{Email: r.Email, Status: r.Status,
				Action: r.Action, Diagnostic: r.Diagnostic})
		}
	}
	return out
}

func address(a rfc822.Address) ticket.Address { return ticket.Address{Name: a.Name, Email: a.Email} }

func addresses(l []rfc822.Address) []ticket.Address {
	if l == nil {
		return nil
	}
	out := make([]ticket.Address, len(l))
	for i, a := range l {
		out[i] = address(a)
	}
	return out
}

// AuthorHTML returns the part of an agent's HTML reply that the agent wrote,
// sanitised, for the HTML part of the reply relayed to the customer
// (ticket.Config.ReplyHTML); "" when it cannot be told apart from the quoted
// history (see [quote.AuthorHTML]) and the text is to be rendered instead.
func AuthorHTML(html string) string {
	return rfc822.SanitizeHTML(quote.AuthorHTML(html))
}

// Attachments returns the function that gives the attachments of a stored
// raw mail that go with a mail sent about it (the outbox's
// OutboxConfig.Attachments): every one but the inline parts (signature
// logos, pictures in the HTML). What cannot be read is logged on log and
// left out.
func Attachments(log *slog.Logger) func(raw []byte) []ticket.OutAttachment {
	if log == nil {
		log = slog.Default()
	}
	return func(raw []byte) []ticket.OutAttachment {
		files, err := rfc822.ExtractAttachments(raw)
		var pe *rfc822.PanicError
		switch {
		case errors.As(err, &pe):
			log.Error("attachments: the reader recovered from a panic; sending those read before it", "panic", pe.Value, "stack", pe.Stack)
		case err != nil:
			log.Warn("attachments: the stored mail cannot be read; sending none", "err", err)
		}
		var out []ticket.OutAttachment
		for _, f := range files {
			if !f.Inline {
				out = append(out, ticket.OutAttachment{Filename: f.Filename, ContentType: f.ContentType, Data: f.Data})
			}
		}
		return out
	}
}
