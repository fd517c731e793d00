package ticket

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotAgent means an action named someone who is not a configured agent.
var ErrNotAgent = errors.New("not a configured agent")

// ErrNotGroup is returned when a ticket is moved to a group that is not
// configured.
var ErrNotGroup = errors.New("not a configured group")

// ErrEmptyText is the error of a reply or note without text.
var ErrEmptyText = errors.New("empty text")

// act runs fn on ticket id (or the ticket it was merged into) for agent
// by, in one transaction, then wakes the outbox if mail was queued. An
// empty by is the operator (recorded as the support address); only agents
// may reply.
func (s *Service) act(id uint64, by string, fn func(tx Tx, t *Ticket, a Agent) (queued bool, err error)) error {
	a, err := s.actor(by)
	if err != nil {
		return err
	}
	var queued bool
	err = s.store.Update(func(tx Tx) error {
		t, err := liveTicket(tx, id) // on a merged ticket: the one it joined
		if err != nil {
			return err
		}
		t.UpdatedAt = s.cfg.Now().UTC()
		if queued, err = fn(tx, &t, a); err != nil {
			return err
		}
		return tx.PutTicket(t)
	})
	if err != nil {
		return fmt.Errorf("ticket: #%d: %w", id, err)
	}
	if queued && s.cfg.OnQueue != nil {
		s.cfg.OnQueue()
	}
	return nil
}

// Reply relays an agent's reply to the ticket's customer, as an emailed
// reply would be; attachments go with it.
func (s *Service) Reply(id uint64, by, text string, atts []OutAttachment) error {
	text = strings.TrimSpace(text)
	if text == "" {
		return fmt.Errorf("ticket: reply: %w", ErrEmptyText)
	}
	if _, ok := s.agentByNameOrEmail(by); !ok {
		return fmt.Errorf("ticket: reply as %q: %w", by, ErrNotAgent)
	}
	return s.act(id, by, func(tx Tx, t *Ticket, a Agent) (bool, error) {
		meta := make([]Attachment, 0, len(atts))
		for _, at := range atts {
			meta = append(meta, Attachment{Filename: at.Filename, ContentType: at.ContentType, Size: int64(len(at.Data)),
				SHA256: rawSum(at.Data)})
		}
		now := s.cfg.Now().UTC()
		if _, err := s.relayWith(tx, t, a, text, meta, atts, now); err != nil {
			return false, err
		}
		return true, nil
	})
}

// Note adds an internal note; nothing is sent.
func (s *Service) Note(id uint64, by, text string) error {
	text = strings.TrimSpace(text)
	if text == "" {
		return fmt.Errorf("ticket: note: %w", ErrEmptyText)
	}
	return s.act(id, by, func(tx Tx, t *Ticket, a Agent) (bool, error) {
		now := s.cfg.Now().UTC()
		n := &Message{TicketID: t.ID, Direction: DirIn, Kind: KindNote, From: Address{Name: a.Name, Email: a.Email},
			Body: text, Visible: text, Date: now, ReceivedAt: now, Source: "cli", Attachments: []Attachment{}}
		findInMessage(n)
		if err := tx.AddMessage(n, nil); err != nil {
			return false, err
		}
		t.Messages++
		return false, nil
	})
}

// SetStatus changes a ticket's status, recording who did it.
func (s *Service) SetStatus(id uint64, by string, st Status) error {
	name := map[Status]string{StatusClosed: "close", StatusSolved: "solve", StatusPending: "pending", StatusOpen: "open"}[st]
	if name == "" {
		return fmt.Errorf("ticket: status %q cannot be set by hand", st)
	}
	return s.command(id, by, Command{Name: name})
}

// Assign gives a ticket to an agent.
func (s *Service) Assign(id uint64, by, to string) error {
	a, ok := s.agentByNameOrEmail(to)
	if !ok {
		return fmt.Errorf("ticket: assign to %s: %w", to, ErrNotAgent)
	}
	return s.command(id, by, Command{Name: "assign", Arg: a.Email})
}

// SetGroup moves a ticket to a group of agents, which is told; an
// assignee outside the group is unassigned.
func (s *Service) SetGroup(id uint64, by, group string) error {
	g, ok := s.group(group)
	if !ok {
		return fmt.Errorf("ticket: group %s: %w", group, ErrNotGroup)
	}
	return s.command(id, by, Command{Name: "group", Arg: g.Name})
}

// SetPriority sets a ticket's priority: low, normal or high.
func (s *Service) SetPriority(id uint64, by string, p Priority) error {
	switch p {
	case PriorityLow, PriorityNormal, PriorityHigh:
	default:
		return fmt.Errorf("ticket: priority %q: want low, normal or high", p)
	}
	return s.command(id, by, Command{Name: "priority", Arg: string(p)})
}

func (s *Service) command(id uint64, by string, c Command) error {
	return s.act(id, by, func(tx Tx, t *Ticket, a Agent) (bool, error) {
		return s.apply(tx, t, Address{Name: a.Name, Email: a.Email}, []Command{c}, s.cfg.Now().UTC())
	})
}
