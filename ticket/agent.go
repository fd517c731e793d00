package ticket

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// agent returns the configured agent with this address.
func (s *Service) agent(email string) (Agent, bool) {
	for _, a := range s.cfg.Agents {
		if SameMailbox(a.Email, email) {
			return a, true
		}
	}
	return Agent{}, false
}

// agentByNameOrEmail finds the agent a person names on the command line:
// by address, or by the configured name when exactly one agent has it.
func (s *Service) agentByNameOrEmail(who string) (Agent, bool) {
	if a, ok := s.agent(who); ok {
		return a, true
	}
	var found []Agent
	for _, a := range s.cfg.Agents {
		if a.Name != "" && strings.EqualFold(strings.TrimSpace(who), a.Name) {
			found = append(found, a)
		}
	}
	if len(found) == 1 {
		return found[0], true
	}
	return Agent{}, false
}

// agentTicket decides whether a mail from an agent's address is that
// agent's reply: it must carry a token bound to the agent (or to the group
// address) in To/Cc/Delivered-To, or reference a notification we sent to
// the agent (or the group). A customer who sees only customer-facing tokens
// and Message-IDs cannot produce either. With AuthServID set, the mail must
// also be authenticated for the agent's domain.
func (s *Service) agentTicket(tx Tx, m *Mail, a Agent) (Ticket, bool, string, error) {
	if s.cfg.AuthServID != "" && !checkAuth(m.Headers["Authentication-Results"], s.cfg.AuthServID, a.Email).passed {
		return Ticket{}, false, "no dkim, spf or dmarc pass for the agent's domain from " + s.cfg.AuthServID, nil
	}
	recipients := []string{a.Email}
	if s.cfg.NotifyAddress != "" {
		recipients = append(recipients, s.cfg.NotifyAddress)
	}
	for _, g := range s.cfg.Groups {
		if g.Address != "" && slices.ContainsFunc(g.Members, func(e string) bool { return SameMailbox(e, a.Email) }) {
			recipients = append(recipients, g.Address) // a group's member answers for it
		}
	}
	var id uint64
	for _, addr := range tokenAddresses(m) {
		for _, r := range recipients {
			if n, ok := s.cfg.Signer.TicketFromAgentAddress(s.cfg.Support.Email, addr, r); ok {
				id = n
			}
		}
	}
	if id == 0 {
		for _, mid := range referencedIDs(m) {
			n, err := tx.Notification(CanonicalMessageID(mid))
			if errors.Is(err, ErrNotFound) {
				continue
			} else if err != nil {
				return Ticket{}, false, "", err
			}
			for _, r := range recipients {
				if SameMailbox(n.To, r) {
					id = n.TicketID
				}
			}
			if id != 0 {
				break
			}
		}
	}
	if id == 0 {
		return Ticket{}, false, "no agent token and no reference to a notification sent to this agent", nil
	}
	t, err := liveTicket(tx, id) // the agent answers where the ticket was merged
	if errors.Is(err, ErrNotFound) {
		return Ticket{}, false, fmt.Sprintf("token names #%d, which does not exist", id), nil
	}
	return t, err == nil, "", err
}

// Command is an agent's instruction on the first lines of a reply.
type Command struct {
	Name string // note, close, solve, pending, open, assign, priority
	Arg  string
}

// CommandError is a command in an agent's mail that cannot be carried
// out. Problem says what is wrong in words a template can put in the
// reader's language; Error is the English for logs.
type CommandError struct {
	Command string // without the '#'
	Problem CommandProblem
	Arg     string // what the command was given
}

// CommandProblem is what is wrong with a command.
type CommandProblem string

// The problems of commands.
const (
	ProblemUnknown     CommandProblem = "unknown"      // no such command
	ProblemNoArgument  CommandProblem = "no_argument"  // #close and the like take none
	ProblemNeedsAgent  CommandProblem = "needs_agent"  // #assign without an address
	ProblemNotAgent    CommandProblem = "not_agent"    // #assign to someone not an agent
	ProblemPriority    CommandProblem = "priority"     // #priority other than low, normal, high
	ProblemNeedsGroup  CommandProblem = "needs_group"  // #group without a name
	ProblemNotGroup    CommandProblem = "not_group"    // #group naming no configured group
	ProblemNeedsTicket CommandProblem = "needs_ticket" // #merge without a ticket number
	ProblemNoTicket    CommandProblem = "no_ticket"    // #merge naming no ticket
	ProblemMerge       CommandProblem = "merge"        // #merge into itself, a merged or an erased ticket
	// ProblemRRN: the reply holds a resident registration number and is
	// held (Config.HoldRRNReplies) until the agent sends it again with
	// #send-anyway.
	ProblemRRN CommandProblem = "rrn"
)

func (e *CommandError) Error() string {
	switch e.Problem {
	case ProblemNoArgument:
		return fmt.Sprintf("#%s takes no argument, got %q", e.Command, e.Arg)
	case ProblemNeedsAgent:
		return fmt.Sprintf("#assign needs an agent's address, got %q", e.Arg)
	case ProblemNotAgent:
		return fmt.Sprintf("#assign: %s is not a configured agent", e.Arg)
	case ProblemPriority:
		return fmt.Sprintf("#priority takes low, normal or high, got %q", e.Arg)
	case ProblemNeedsGroup:
		return "#group needs a group's name"
	case ProblemNotGroup:
		return fmt.Sprintf("#group: %s is not a configured group", e.Arg)
	case ProblemNeedsTicket:
		return fmt.Sprintf("#merge needs a ticket number, got %q", e.Arg)
	case ProblemNoTicket:
		return fmt.Sprintf("#merge: there is no ticket #%s", e.Arg)
	case ProblemMerge:
		return fmt.Sprintf("#merge: this ticket cannot be merged into #%s (the same ticket, merged already, or erased)", e.Arg)
	case ProblemRRN:
		return "the reply holds a resident registration number; send it again with #send-anyway on the first line to send it as written"
	}
	return fmt.Sprintf("unknown command #%s (known: #note #close #solve #pending #open #assign EMAIL #group NAME #priority low|normal|high #merge NUMBER)", e.Command)
}

var cmdRE = regexp.MustCompile(`^#([A-Za-z][A-Za-z-]*)(?:[ \t]+(.*))?$`)

// ParseCommands reads the commands on the first lines of text ("#close",
// "#assign lee@example.com", ...) and returns them with the rest of the
// text. A line starting with '#' followed by a digit ("#1024 건 관련") is
// text, not a command. An unknown or malformed command is an error.
func ParseCommands(text string, isAgent func(string) bool) ([]Command, string, error) {
	lines := strings.Split(text, "\n")
	var cmds []Command
	i := 0
scan:
	for ; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" {
			if len(cmds) == 0 {
				continue
			}
			break
		}
		m := cmdRE.FindStringSubmatch(line)
		if m == nil {
			break
		}
		c := Command{Name: strings.ToLower(m[1]), Arg: strings.TrimSpace(m[2])}
		switch c.Name {
		case "note":
			if c.Arg != "" { // "#note the text on the same line"
				cmds = append(cmds, Command{Name: "note"})
				lines[i] = c.Arg
				break scan
			}
		case "close", "solve", "pending", "open", "send-anyway":
			if c.Arg != "" {
				return nil, text, &CommandError{Command: c.Name, Problem: ProblemNoArgument, Arg: c.Arg}
			}
		case "assign":
			a, err := mail.ParseAddress(c.Arg)
			if c.Arg == "" || err != nil {
				return nil, text, &CommandError{Command: c.Name, Problem: ProblemNeedsAgent, Arg: c.Arg}
			}
			if isAgent != nil && !isAgent(a.Address) {
				return nil, text, &CommandError{Command: c.Name, Problem: ProblemNotAgent, Arg: a.Address}
			}
			c.Arg = a.Address
		case "group":
			if c.Arg == "" {
				return nil, text, &CommandError{Command: c.Name, Problem: ProblemNeedsGroup}
			}
		case "merge":
			n, err := strconv.ParseUint(strings.TrimPrefix(c.Arg, "#"), 10, 64)
			if err != nil || n == 0 {
				return nil, text, &CommandError{Command: c.Name, Problem: ProblemNeedsTicket, Arg: c.Arg}
			}
			c.Arg = strconv.FormatUint(n, 10)
		case "priority":
			switch Priority(strings.ToLower(c.Arg)) {
			case PriorityLow, PriorityNormal, PriorityHigh:
				c.Arg = strings.ToLower(c.Arg)
			default:
				return nil, text, &CommandError{Command: c.Name, Problem: ProblemPriority, Arg: c.Arg}
			}
		default:
			return nil, text, &CommandError{Command: c.Name, Problem: ProblemUnknown}
		}
		cmds = append(cmds, c)
	}
	return cmds, strings.TrimSpace(strings.Join(lines[min(i, len(lines)):], "\n")), nil
}

// agentReply handles a reply accepted as the agent's: commands are applied,
// the text is relayed to the customer (or kept as a note), and a command
// error is mailed back to the agent with nothing sent to the customer.
func (w *work) agentReply(t Ticket, a Agent) error {
	m := w.m
	visible := m.Visible
	if visible == "" {
		visible = m.Text // the reader found no history to cut
	}
	cmds, text, cerr := ParseCommands(visible, func(e string) bool { _, ok := w.s.agent(e); return ok })
	for _, c := range cmds {
		if _, ok := w.s.group(c.Arg); c.Name == "group" && !ok && cerr == nil {
			cerr = &CommandError{Command: c.Name, Problem: ProblemNotGroup, Arg: c.Arg}
		}
		if c.Name == "merge" && cerr == nil {
			if p, err := w.s.mergeProblem(w.tx, t, c.Arg); err != nil {
				return err
			} else if p != "" {
				cerr = &CommandError{Command: c.Name, Problem: p, Arg: c.Arg}
			}
		}
	}
	if cerr == nil && w.s.cfg.HoldRRNReplies && !hasCommand(cmds, "note") && !hasCommand(cmds, "send-anyway") && holdsRRN(text) {
		// The agent decides, but twice: the customer's resident
		// registration number goes out only when they say so.
		cerr = &CommandError{Command: "send-anyway", Problem: ProblemRRN}
	}
	from := Address{Name: a.Name, Email: a.Email}
	msg := &Message{
		TicketID: t.ID, Direction: DirIn, Kind: KindNote, From: from, To: m.To, Cc: m.Cc,
		Subject: m.Subject, Date: m.Date, MessageID: TrimMessageID(m.MessageID),
		InReplyTo: TrimMessageID(m.InReplyTo), References: m.References,
		Body: m.Text, Visible: text, HTML: m.HTML, Attachments: m.Attachments, Warnings: m.Warnings,
		Source: w.in.Source, RawSize: int64(len(w.in.Raw)), RawSHA256: w.in.rawSum(), ReceivedAt: w.now,
	}
	w.res.TicketID = t.ID
	if cerr != nil {
		// Keep the mail as a note (nothing is lost) and tell the agent.
		var ce *CommandError
		errors.As(cerr, &ce)
		warning, err := w.s.noticeText(&t, Notice{Kind: NoticeCommandError, CommandError: ce, Text: cerr.Error()})
		if err != nil {
			return err
		}
		msg.Warnings = append(msg.Warnings, warning)
		msg.Visible = visible
		if err := w.addIncoming(msg); err != nil {
			return err
		}
		t.Messages++
		w.res.MessageID, w.res.Kind, w.res.Note = msg.ID, KindNote, "agent command error: "+cerr.Error()
		if err := w.queueAgentError(&t, a, m, cerr); err != nil {
			return err
		}
		return w.tx.PutTicket(t)
	}
	isNote := false
	for _, c := range cmds {
		isNote = isNote || c.Name == "note"
	}
	t.UpdatedAt = w.now
	if isNote || text == "" {
		// An internal note, or commands only: nothing goes to the customer.
		if err := w.addIncoming(msg); err != nil {
			return err
		}
		t.Messages++
		w.res.MessageID, w.res.Kind = msg.ID, KindNote
	} else {
		var html string
		if len(cmds) == 0 && m.HTML != "" && w.s.cfg.ReplyHTML != nil {
			// Only a reply without commands: the HTML would still show them.
			html = w.s.cfg.ReplyHTML(m.HTML)
		}
		id, err := w.s.relay(w.tx, &t, a, text, html, m.Attachments, msg, w.in.Raw, w.now)
		if err != nil {
			return err
		}
		w.res.MessageID, w.res.Kind, w.res.Relayed = id, KindAgent, true
		w.queued = true
	}
	queued, err := w.s.apply(w.tx, &t, from, cmds, w.now)
	if err != nil {
		return err
	}
	w.queued = w.queued || queued
	return w.tx.PutTicket(t)
}

// relay stores an agent's reply on t and queues it to the requester (and the
// participants in Cc), threaded into the customer's conversation. msg, when
// not nil, is the agent's mail as stored (its raw bytes in raw); html, when
// not empty, is the part of its HTML the agent wrote, sanitised.
func (s *Service) relay(tx Tx, t *Ticket, a Agent, text, html string, atts []Attachment, msg *Message, raw []byte, now time.Time) (uint64, error) {
	return s.relayFull(tx, t, a, text, html, atts, nil, msg, raw, now)
}

// relayWith relays a reply composed without a mail (the CLI), with files.
func (s *Service) relayWith(tx Tx, t *Ticket, a Agent, text string, meta []Attachment, files []OutAttachment, now time.Time) (uint64, error) {
	return s.relayFull(tx, t, a, text, "", meta, files, nil, nil, now)
}

func (s *Service) relayFull(tx Tx, t *Ticket, a Agent, text, html string, atts []Attachment, files []OutAttachment, msg *Message, raw []byte, now time.Time) (uint64, error) {
	msgs, err := tx.Messages(t.ID)
	if err != nil {
		return 0, err
	}
	var last *Message
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Direction == DirIn && (msgs[i].Kind == KindCustomer) {
			last = &msgs[i]
			break
		}
	}
	var irt string
	var refs []string
	if last != nil {
		irt, refs = threadHeaders(last)
	}
	data := s.templateData(t, now)
	data.AgentName, data.ReplyText, data.ReplyHTML = a.Name, text, html
	r, err := s.render.Render("reply", s.cfg.Language, data)
	if err != nil {
		return 0, fmt.Errorf("render reply: %w", err)
	}
	var cc []Address
	if s.cfg.CcParticipants {
		cc = s.mailable(t.Participants)
	}
	from := s.sender(t)
	center := s.cfg.CenterName
	if from.Email != s.cfg.Support.Email && from.Name != "" {
		center = from.Name // the identity's name stands for the center's
	}
	from.Name = strings.NewReplacer("{agent}", a.Name, "{center}", center).Replace(s.cfg.AgentFrom)
	o := Outgoing{
		From: from, To: []Address{t.Requester}, Cc: cc, ReplyTo: s.customerReplyTo(t),
		Subject: MaskPersonalData(TaggedSubject(t.ID, "Re: "+t.base())), InReplyTo: irt, References: refs,
		Headers: map[string]string{LoopHeader: s.cfg.Installation}, Text: r.Text, HTML: r.HTML, Kind: KindAgent,
		Attachments: files,
	}
	o.TicketID = t.ID
	o.MessageID = s.cfg.Signer.MessageID(t.ID, s.cfg.Domain)
	o.CreatedAt, o.NextAttempt = now, now
	stored := &Message{
		TicketID: t.ID, Direction: DirOut, Kind: KindAgent, From: Address{Name: a.Name, Email: a.Email},
		To: o.To, Cc: o.Cc, ReplyTo: o.ReplyTo, Subject: o.Subject, Date: now, MessageID: o.MessageID,
		InReplyTo: irt, References: refs, Body: text, Visible: text, Attachments: atts,
		Source: "agent", ReceivedAt: now, Delivery: DeliveryQueued,
	}
	if msg != nil {
		stored.Body, stored.HTML, stored.Warnings = msg.Body, msg.HTML, msg.Warnings
		stored.OriginalMessageID, stored.Source = msg.MessageID, msg.Source
		stored.RawSize, stored.RawSHA256 = msg.RawSize, msg.RawSHA256
	}
	if stored.Attachments == nil {
		stored.Attachments = []Attachment{}
	}
	if msg == nil && len(files) > 0 && s.cfg.Record != nil {
		// A record is a record: keep what was sent, files included, as
		// the stored message's raw mail.
		if raw, err = s.cfg.Record(o); err != nil {
			return 0, fmt.Errorf("record reply: %w", err)
		}
		stored.RawSize, stored.RawSHA256 = int64(len(raw)), rawSum(raw)
	}
	findInMessage(stored)
	if err := tx.AddMessage(stored, raw); err != nil {
		return 0, err
	}
	if msg != nil {
		if err := tx.IndexMessageID(msg.MessageID, stored.ID); err != nil {
			return 0, err
		}
		if len(atts) > 0 {
			o.AttachFrom = stored.ID
		}
	}
	t.Messages++
	o.MessageRef = stored.ID
	if err := tx.MarkSeen(DedupeKey(o.MessageID, nil), stored.ID); err != nil {
		return 0, err
	}
	if t.Status == StatusNew || t.Status == StatusPending || t.Status == StatusSolved {
		s.setStatus(t, StatusOpen, now)
	}
	if t.Due != nil && t.Due.Responded.IsZero() {
		t.Due.Responded = now
	}
	return stored.ID, tx.Enqueue(&o)
}

// apply runs the agent's commands on t, recording each as a note in the
// center's language (template "history"); assigning the ticket to another
// agent mails them (template "assigned"); queued reports that mail was
// queued.
func (s *Service) apply(tx Tx, t *Ticket, by Address, cmds []Command, now time.Time) (queued bool, err error) {
	for _, c := range cmds {
		ch := Change{Command: c.Name, By: by}
		switch c.Name {
		case "note", "send-anyway":
			continue
		case "close":
			s.setStatus(t, StatusClosed, now)
		case "solve":
			s.setStatus(t, StatusSolved, now)
		case "pending":
			s.setStatus(t, StatusPending, now)
		case "open":
			s.setStatus(t, StatusOpen, now)
		case "assign":
			t.Assignee = c.Arg
			if a, ok := s.agent(c.Arg); ok {
				ch.Assignee = Address{Name: a.Name, Email: a.Email}
			} else {
				ch.Assignee = Address{Email: c.Arg}
			}
		case "merge":
			into, _ := strconv.ParseUint(c.Arg, 10, 64)
			m, err := liveTicket(tx, into)
			if err != nil {
				return queued, fmt.Errorf("#merge %d: %w", into, err)
			}
			q, err := s.merge(tx, t, &m, Agent{Name: by.Name, Email: by.Email})
			if err != nil {
				return queued, fmt.Errorf("#merge %d: %w", into, err)
			}
			queued = queued || q
			continue // merge notes it on both tickets
		case "priority":
			t.Priority = Priority(c.Arg)
		case "group":
			g, ok := s.group(c.Arg)
			if !ok {
				return queued, fmt.Errorf("#group %s: %w", c.Arg, ErrNotGroup)
			}
			t.Group, ch.Group = g.Name, g.Name
			if t.Assignee != "" && !slices.ContainsFunc(g.Members, func(e string) bool { return SameMailbox(e, t.Assignee) }) {
				t.Assignee = "" // the new group decides who answers
			}
		}
		ch.Status, ch.Priority = t.Status, t.Priority
		t.UpdatedAt = now
		data := s.templateData(t, now)
		data.Change = &ch
		r, err := s.render.Render("history", s.cfg.Language, data)
		if err != nil {
			return queued, fmt.Errorf("render history: %w", err)
		}
		n := &Message{TicketID: t.ID, Direction: DirIn, Kind: KindNote, From: by, Body: r.Subject,
			Visible: r.Subject, Date: now, ReceivedAt: now, Source: "command", Attachments: []Attachment{}}
		if err := tx.AddMessage(n, nil); err != nil {
			return queued, err
		}
		t.Messages++
		if c.Name == "assign" && !SameMailbox(ch.Assignee.Email, by.Email) {
			if err := s.mailAssignee(tx, t, data, ch.Assignee, now); err != nil {
				return queued, err
			}
			queued = true
		}
		if c.Name == "group" {
			g, _ := s.group(ch.Group)
			for _, to := range s.groupRecipients(g) {
				if SameMailbox(to.Email, by.Email) {
					continue
				}
				if err := s.mailAssignee(tx, t, data, to, now); err != nil {
					return queued, err
				}
				queued = true
			}
		}
	}
	return queued, nil
}

// mailAssignee tells the agent a ticket was assigned to (or the group it
// moved to), with a Reply-To bound to them as in a notification, so they
// can answer from the mail.
func (s *Service) mailAssignee(tx Tx, t *Ticket, data TemplateData, to Address, now time.Time) error {
	data.WebLink, data.WebQueue = s.webLinks(t.ID, to.Email, now)
	r, err := s.render.Render("assigned", s.cfg.Language, data)
	if err != nil {
		return fmt.Errorf("render assigned: %w", err)
	}
	replyTo := Address{Name: s.cfg.Support.Name, Email: s.cfg.Support.Email}
	if s.cfg.PlusAddressing {
		replyTo.Email = s.cfg.Signer.AgentReplyAddress(s.cfg.Support.Email, t.ID, to.Email)
	}
	mid, err := s.queue(tx, t, Outgoing{
		From: s.cfg.Support, To: []Address{to}, ReplyTo: []Address{replyTo},
		Subject: r.Subject, Headers: s.autoHeaders("auto-generated"), Text: r.Text, HTML: r.HTML, Kind: KindAuto,
	}, now, false)
	if err != nil {
		return err
	}
	return tx.PutNotification(Notification{MessageID: mid, TicketID: t.ID, To: strings.ToLower(to.Email), SentAt: now})
}

// queueAgentError mails the agent why their reply was not sent.
func (w *work) queueAgentError(t *Ticket, a Agent, m *Mail, cerr error) error {
	data := w.s.templateData(t, w.now)
	data.AgentName, data.Error = a.Name, cerr.Error()
	if ce := (*CommandError)(nil); errors.As(cerr, &ce) {
		data.CommandError = ce
	}
	r, err := w.s.render.Render("agent_error", w.s.cfg.Language, data)
	if err != nil {
		return fmt.Errorf("render agent error: %w", err)
	}
	mid := CanonicalMessageID(m.MessageID)
	_, err = w.s.queue(w.tx, t, Outgoing{
		From: w.s.cfg.Support, To: []Address{{Name: a.Name, Email: a.Email}},
		Subject: r.Subject, InReplyTo: mid, References: nonEmpty(mid),
		Headers: w.s.autoHeaders("auto-replied"), Text: r.Text, HTML: r.HTML, Kind: KindAuto,
	}, w.now, false)
	w.queued = true
	return err
}
