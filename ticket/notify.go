package ticket

import (
	"fmt"
	"strings"
	"time"
)

// autoHeaders are the headers of every automatic mail we send (RFC 3834
// section 5, and Exchange's X-Auto-Response-Suppress).
func (s *Service) autoHeaders(value string) map[string]string {
	return map[string]string{
		"Auto-Submitted":           value,
		"X-Auto-Response-Suppress": "All",
		LoopHeader:                 s.cfg.Installation,
	}
}

// customerReplyTo is the Reply-To of mail to customers: the signed
// plus-address when the mailbox takes plus-addressing.
func (s *Service) customerReplyTo(t *Ticket) []Address {
	if !s.cfg.PlusAddressing {
		return nil
	}
	from := s.sender(t)
	return []Address{{Name: from.Name, Email: s.cfg.Signer.ReplyAddress(from.Email, t.ID)}}
}

func (s *Service) templateData(t *Ticket, now time.Time) TemplateData {
	d := s.baseTemplateData(t, now)
	if t.Due != nil {
		d.FirstResponseDue = t.Due.FirstResponse
	}
	if !d.OpenNow {
		d.NextOpen = s.cfg.Hours.NextOpen(now)
		if c, ok := s.cfg.Hours.ClosureAt(now); ok {
			d.Closure = &c
		}
	}
	return d
}

func (s *Service) baseTemplateData(t *Ticket, now time.Time) TemplateData {
	return TemplateData{
		TicketID: t.ID, Subject: MaskPersonalData(t.Subject), Customer: t.Requester,
		CenterName: s.cfg.CenterName, SupportEmail: s.cfg.Support.Email,
		CenterPhone: s.cfg.CenterPhone, CenterFooter: s.cfg.CenterFooter, ReceivedAt: t.CreatedAt,
		Hours: s.cfg.Hours, OpenNow: s.cfg.Hours.OpenAt(now), Now: now,
		TicketSubject: MaskPersonalData(TaggedSubject(t.ID, t.Subject)), Status: t.Status,
		Category: t.Category, Group: t.Group,
	}
}

// threadHeaders returns In-Reply-To and References for a reply to m
// (RFC 5322 section 3.6.4), keeping at most the last 20 references.
func threadHeaders(m *Message) (string, []string) {
	refs := append([]string(nil), m.References...)
	if m.MessageID != "" {
		refs = append(refs, m.MessageID)
	}
	if len(refs) > 20 {
		refs = append(refs[:1], refs[len(refs)-19:]...)
	}
	return m.MessageID, refs
}

// queueAck renders the acknowledgement of a new ticket, stores it as an
// outgoing message on the ticket and queues it.
func (w *work) queueAck(t *Ticket, in *Message, tmpl string) error {
	data := w.s.templateData(t, w.now)
	data.Size, data.Limit = w.in.Oversized, w.s.cfg.MaxMessageBytes
	if tmpl == "ack" && w.s.cfg.FAQ != nil && w.res.NewTicket && !t.Spam {
		// The customer may find the answer before an agent reads
		// the mail; what they were offered is kept on the ticket.
		data.Suggestions = w.s.cfg.FAQ.Suggest(FAQSubject(w.m.Subject, w.m.BaseSubject), visibleText(w.m))
		t.Suggested = data.Suggestions
		w.res.FAQ, w.res.Suggested = "none", len(data.Suggestions)
		if len(data.Suggestions) > 0 {
			w.res.FAQ = "offered"
		}
	}
	r, err := w.s.render.Render(tmpl, w.s.cfg.Language, data)
	if err != nil {
		return fmt.Errorf("render acknowledgement: %w", err)
	}
	irt, refs := threadHeaders(in)
	_, err = w.s.queue(w.tx, t, Outgoing{
		From: w.s.sender(t), To: []Address{w.m.From}, ReplyTo: w.s.customerReplyTo(t),
		Subject: r.Subject, InReplyTo: irt, References: refs,
		Headers: w.s.autoHeaders("auto-replied"), Text: r.Text, HTML: r.HTML, Kind: KindAuto,
	}, w.now, true)
	w.queued = true
	return err
}

// queueSummary acknowledges several tickets of one customer in one mail
// (held acknowledgements, see ReleaseHeld): the "ack_summary" template with
// every ticket's number, stored on and threaded to the newest ticket.
func (w *work) queueSummary(ts []Ticket, newest *Message) error {
	t := &ts[len(ts)-1]
	data := w.s.templateData(t, w.now)
	for _, x := range ts {
		data.Tickets = append(data.Tickets, TicketRef{ID: x.ID, Subject: x.Subject, CreatedAt: x.CreatedAt})
	}
	r, err := w.s.render.Render("ack_summary", w.s.cfg.Language, data)
	if err != nil {
		return fmt.Errorf("render acknowledgement summary: %w", err)
	}
	irt, refs := threadHeaders(newest)
	_, err = w.s.queue(w.tx, t, Outgoing{
		From: w.s.sender(t), To: []Address{newest.From}, ReplyTo: w.s.customerReplyTo(t),
		Subject: r.Subject, InReplyTo: irt, References: refs,
		Headers: w.s.autoHeaders("auto-replied"), Text: r.Text, HTML: r.HTML, Kind: KindAuto,
	}, w.now, true)
	w.queued = true
	return err
}

// notifyRecipients are who hears of a ticket: its assignee, else its
// group's address, else the group's members, else the notify address,
// else every agent.
func (s *Service) notifyRecipients(t *Ticket) []Address {
	if s.cfg.NoNotify {
		return nil
	}
	if a, ok := s.agent(t.Assignee); ok {
		return []Address{{Name: a.Name, Email: a.Email}}
	}
	if g, ok := s.group(t.Group); ok {
		if out := s.groupRecipients(g); len(out) > 0 {
			return out
		}
	}
	if s.cfg.NotifyAddress != "" {
		return []Address{{Email: s.cfg.NotifyAddress}}
	}
	var out []Address
	for _, a := range s.cfg.Agents {
		out = append(out, Address{Name: a.Name, Email: a.Email})
	}
	return out
}

// groupRecipients are who hears of a group's tickets: its address, else
// its members.
func (s *Service) groupRecipients(g Group) []Address {
	if g.Address != "" {
		return []Address{{Name: g.Name, Email: g.Address}}
	}
	var out []Address
	for _, m := range g.Members {
		if a, ok := s.agent(m); ok {
			out = append(out, Address{Name: a.Name, Email: a.Email})
		}
	}
	return out
}

// notifyAgents queues, for each recipient, a notification with the
// customer's message and attachments. Its Reply-To carries a token bound to
// that recipient, and its Message-ID is recorded, so the agent's reply is
// recognised.
func (w *work) notifyAgents(t *Ticket, in *Message) (int, error) {
	rcpts := w.s.notifyRecipients(t)
	if len(rcpts) == 0 {
		return 0, nil
	}
	data := w.s.templateData(t, w.now)
	data.Customer = in.From
	data.CustomerText = MaskPersonalData(in.Visible)
	data.FollowUp = !w.res.NewTicket
	if w.res.NewTicket {
		data.Suggestions = t.Suggested
	}
	for _, a := range in.Attachments {
		a.Filename = MaskPersonalData(a.Filename) // "신분증_900101-1234567.jpg"
		data.Attachments = append(data.Attachments, a)
	}
	// One subject per ticket, the ticket's own: a follow-up's "Re: [#1]
	// Re: ..." would split the agents' thread.
	data.TicketSubject = MaskPersonalData(TaggedSubject(t.ID, t.Subject))
	if w.res.heldReason.Code != "" {
		data.AckReason = &w.res.heldReason
	}
	data.AckDue = w.res.AckDue
	attachFrom := in.ID
	if w.s.cfg.WithholdAttachments && len(in.Attachments) > 0 {
		attachFrom, data.AttachmentsWithheld = 0, true
	}
	// One rendering for all, unless the web links (signed for each agent
	// alone) make each agent's own.
	var r Rendered
	for i, to := range rcpts {
		if w.s.cfg.WebURL != "" {
			data.WebLink, data.WebQueue = w.s.webLinks(t.ID, to.Email, w.now)
		}
		if i == 0 || w.s.cfg.WebURL != "" {
			var err error
			if r, err = w.s.render.Render("notify", w.s.cfg.Language, data); err != nil {
				return 0, fmt.Errorf("render notification: %w", err)
			}
		}
		replyTo := Address{Name: w.s.cfg.Support.Name, Email: w.s.cfg.Support.Email}
		if w.s.cfg.PlusAddressing {
			replyTo.Email = w.s.cfg.Signer.AgentReplyAddress(w.s.cfg.Support.Email, t.ID, to.Email)
		}
		mid, err := w.s.queue(w.tx, t, Outgoing{
			From: w.s.notifyFrom(in.From), To: []Address{to}, ReplyTo: []Address{replyTo},
			Subject: r.Subject, InReplyTo: in.MessageID, References: nonEmpty(in.MessageID),
			Headers: w.s.autoHeaders("auto-generated"), Text: r.Text, HTML: r.HTML, Kind: KindAuto,
			AttachFrom: attachFrom,
		}, w.now, false)
		if err != nil {
			return 0, err
		}
		if err := w.tx.PutNotification(Notification{MessageID: mid, TicketID: t.ID, To: strings.ToLower(to.Email), SentAt: w.now}); err != nil {
			return 0, err
		}
	}
	w.queued = true
	return len(rcpts), nil
}

// notifyFrom is the sender of a notification: the support address under
// the customer's name and the center's ("김민수 (서민금융 고객센터)"), so an
// agent's inbox shows who wrote; the center's name alone when the customer
// gave none.
func (s *Service) notifyFrom(customer Address) Address {
	from := s.cfg.Support
	if n := strings.TrimSpace(customer.Name); n != "" {
		if from.Name != "" {
			from.Name = n + " (" + from.Name + ")"
		} else {
			from.Name = n
		}
	}
	return from
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// queue gives o a signed Message-ID and puts it in the outbox. With
// onTicket it is also stored as an outgoing message of t (notifications to
// agents are not: they are recorded as notifications). It returns the
// Message-ID.
func (s *Service) queue(tx Tx, t *Ticket, o Outgoing, now time.Time, onTicket bool) (string, error) {
	o.TicketID = t.ID
	o.MessageID = s.cfg.Signer.MessageID(t.ID, s.cfg.Domain)
	o.CreatedAt, o.NextAttempt = now, now
	if onTicket {
		msg := &Message{
			TicketID: t.ID, Direction: DirOut, Kind: o.Kind,
			From: o.From, To: o.To, Cc: o.Cc, ReplyTo: o.ReplyTo,
			Subject: o.Subject, Date: now, MessageID: o.MessageID,
			InReplyTo: o.InReplyTo, References: o.References,
			Body: o.Text, Visible: o.Text, Source: "outbox", ReceivedAt: now,
			Delivery: DeliveryQueued, Attachments: []Attachment{},
		}
		for _, a := range o.Attachments {
			msg.Attachments = append(msg.Attachments, Attachment{Filename: a.Filename, ContentType: a.ContentType,
				Size: int64(len(a.Data)), SHA256: strings.TrimPrefix(DedupeKey("", a.Data), "sha:")})
		}
		if err := tx.AddMessage(msg, nil); err != nil {
			return "", err
		}
		o.MessageRef = msg.ID
		t.Messages++
	}
	// A copy of our own mail that comes back to the support mailbox (a Bcc,
	// a forward, a misrouted reply) is then a duplicate, not a new ticket.
	if err := tx.MarkSeen(DedupeKey(o.MessageID, nil), o.MessageRef); err != nil {
		return "", err
	}
	return o.MessageID, tx.Enqueue(&o)
}

// AlertOperator mails the operator at to the template tmpl (an alert that
// belongs to no ticket, such as "oauth_broken"), from the support address,
// through the outbox like every mail we send. data needs only the alert's
// own fields; the center's are filled in.
func (s *Service) AlertOperator(to Address, tmpl string, data TemplateData) error {
	now := s.cfg.Now().UTC()
	data.CenterName, data.SupportEmail, data.Hours, data.Now = s.cfg.CenterName, s.cfg.Support.Email, s.cfg.Hours, now
	r, err := s.render.Render(tmpl, s.cfg.Language, data)
	if err != nil {
		return fmt.Errorf("render %s: %w", tmpl, err)
	}
	err = s.store.Update(func(tx Tx) error {
		_, err := s.queue(tx, &Ticket{}, Outgoing{From: s.cfg.Support, To: []Address{to}, Subject: r.Subject,
			Headers: s.autoHeaders("auto-generated"), Text: r.Text, HTML: r.HTML, Kind: KindAuto}, now, false)
		return err
	})
	if err != nil {
		return fmt.Errorf("alert the operator: %w", err)
	}
	if s.cfg.OnQueue != nil {
		s.cfg.OnQueue()
	}
	return nil
}

// webLinks are the links of an agent's notification about ticket id: the
// ticket in the web view, and the agent's queue (which signs the agent in);
// none for an address that is not an agent's.
func (s *Service) webLinks(id uint64, agent string, now time.Time) (ticketLink, queueLink string) {
	if _, ok := s.agent(agent); !ok || s.cfg.WebURL == "" {
		return "", "" // a group's or the notify address: the view opens for agents only
	}
	exp := now.Add(s.cfg.WebLinkLifetime)
	base := strings.TrimRight(s.cfg.WebURL, "/")
	path := fmt.Sprintf("/t/%d", id)
	return base + path + "?" + s.cfg.Signer.WebLinkQuery(path, agent, exp), base + "/login?" + s.cfg.Signer.WebLinkQuery("/login", agent, exp)
}
