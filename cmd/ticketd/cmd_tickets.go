package main

// The agents' commands: tickets, reply, note, close, solve, assign,
// attachment.

import (
	"errors"
	"flag"
	"fmt"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ticketd/ticketd/mailbox/rfc822"
	"github.com/ticketd/ticketd/templates"
	"github.com/ticketd/ticketd/ticket"
)

// ticketCommands read and act on tickets.
func ticketCommands() []command {
	asFlag := func(c *cli, fs *flag.FlagSet) {
		fs.StringVar(&c.as, "as", os.Getenv("TICKETD_AGENT"), "the agent acting, by address or configured name (default $TICKETD_AGENT)")
	}
	textFlags := func(c *cli, fs *flag.FlagSet) {
		asFlag(c, fs)
		fs.StringVar(&c.file, "file", "", "read the text from this file (default: stdin)")
	}
	return []command{
		{name: "tickets list", args: "[--status S] [--category C] [--group G] [--overdue] [--due-before T] [--json]", help: "list tickets", run: cmdTicketsList,
			flags: func(c *cli, fs *flag.FlagSet) {
				jsonFlag(c, fs)
				fs.StringVar(&c.category, "category", "", "only tickets of this category (routing)")
				fs.StringVar(&c.group, "group", "", "only tickets of this group (groups)")
				fs.StringVar(&c.status, "status", "", "only tickets with this status (new, open, pending, solved, closed)")
				fs.BoolVar(&c.overdue, "overdue", false, "only tickets past a due time (sla)")
				fs.StringVar(&c.dueBefore, "due-before", "", "only tickets with a due time before this (YYYY-MM-DD or YYYY-MM-DDTHH:MM, in timezone)")
			}},
		{name: "tickets show", args: "N [--json] [--unmask --reason WHY [--as AGENT]]", help: "show a ticket and its messages (personal data masked; --unmask shows it and writes an audit record)", run: cmdTicketsShow,
			flags: func(c *cli, fs *flag.FlagSet) {
				jsonFlag(c, fs)
				asFlag(c, fs)
				fs.BoolVar(&c.unmask, "unmask", false, "show the personal data as stored; needs --reason, and is recorded in the audit log")
				fs.StringVar(&c.reason, "reason", "", "why the personal data is shown (kept in the audit log)")
			}},
		{name: "reply", args: "N --as AGENT [--file F] [--attach FILE]...", help: "send an agent's reply to the customer (text from --file or stdin)", run: cmdReply,
			flags: func(c *cli, fs *flag.FlagSet) {
				textFlags(c, fs)
				fs.Var(&c.attach, "attach", "attach this file (repeatable)")
			}},
		{name: "note", args: "N [--as AGENT] [TEXT...]", help: "add an internal note (text from the arguments, --file or stdin)", run: cmdNote, flags: textFlags},
		{name: "close", args: "N [--as AGENT]", help: "close a ticket", run: cmdStatus(ticket.StatusClosed), flags: asFlag},
		{name: "solve", args: "N [--as AGENT]", help: "mark a ticket solved", run: cmdStatus(ticket.StatusSolved), flags: asFlag},
		{name: "pending", args: "N [--as AGENT]", help: "wait for the customer's answer", run: cmdStatus(ticket.StatusPending), flags: asFlag},
		{name: "open", args: "N [--as AGENT]", help: "open a ticket again", run: cmdStatus(ticket.StatusOpen), flags: asFlag},
		{name: "priority", args: "N low|normal|high [--as AGENT]", help: "set a ticket's priority", run: cmdPriority, flags: asFlag},
		{name: "assign", args: "N AGENT | N --group GROUP [--as AGENT]", help: "assign a ticket to an agent (by address or configured name), or move it to a group; they are mailed", run: cmdAssign,
			flags: func(c *cli, fs *flag.FlagSet) {
				asFlag(c, fs)
				fs.StringVar(&c.group, "group", "", "move the ticket to this group instead (groups)")
			}},
		{name: "merge", args: "N --into M [--as AGENT]", help: "merge ticket N into M: its messages move to M, N is closed, and mail for N threads into M; N's customer is told if not M's", run: cmdMerge,
			flags: func(c *cli, fs *flag.FlagSet) {
				asFlag(c, fs)
				fs.Uint64Var(&c.into, "into", 0, "the ticket to merge into")
			}},
		{name: "split", args: "N MESSAGE [--following] [--as AGENT]", help: "move message MESSAGE (its number in tickets show) of ticket N into a new ticket, and with --following every later one too", run: cmdSplit,
			flags: func(c *cli, fs *flag.FlagSet) {
				asFlag(c, fs)
				fs.BoolVar(&c.following, "following", false, "move the messages after it too")
			}},
		{name: "attachment get", args: "N INDEX --out DIR", help: "save attachment INDEX (as tickets show numbers them) of ticket N into DIR", run: cmdAttachmentGet,
			flags: func(c *cli, fs *flag.FlagSet) { fs.StringVar(&c.out, "out", ".", "directory to save into") }},
	}
}

func cmdTicketsList(c *cli) int {
	s, ok := c.settings()
	if !ok {
		return exitConfig
	}
	var st ticket.Status
	if c.status != "" {
		var err error
		if st, err = ticket.ParseStatus(c.status); err != nil {
			return c.fail("--status: %v", err)
		}
	}
	b, err := c.backend(s, newLogger(c.stderr, s.Config.Log, s.Loc), false)
	if err != nil {
		return c.fail("%v", err)
	}
	defer b.Close()
	ts, err := b.Tickets(c.ctx, st)
	if err != nil {
		return c.fail("%v", err)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].ID < ts[j].ID })
	if c.category != "" || c.group != "" {
		kept := ts[:0]
		for _, t := range ts {
			if (c.category == "" || strings.EqualFold(t.Category, c.category)) && (c.group == "" || strings.EqualFold(t.Group, c.group)) {
				kept = append(kept, t)
			}
		}
		ts = kept
	}
	if c.overdue || c.dueBefore != "" {
		var before time.Time
		if c.dueBefore != "" {
			for _, layout := range []string{"2006-01-02T15:04", time.DateOnly} {
				if t, err := time.ParseInLocation(layout, c.dueBefore, s.Loc); err == nil {
					before = t
					break
				}
			}
			if before.IsZero() {
				return c.fail("--due-before: want YYYY-MM-DD or YYYY-MM-DDTHH:MM, got %q", c.dueBefore)
			}
		}
		now := time.Now()
		kept := ts[:0]
		for _, t := range ts {
			if c.overdue && len(t.Overdue(now)) == 0 {
				continue
			}
			if !before.IsZero() && !dueBefore(t, before, now) {
				continue
			}
			kept = append(kept, t)
		}
		ts = kept
	}
	if c.asJSON {
		return c.printJSON(ts)
	}
	printTickets(c.stdout, ts, s.Loc, s.Config.Center.Language)
	return exitOK
}

// dueBefore reports whether a due time of t not yet met falls before b.
func dueBefore(t ticket.Ticket, b, now time.Time) bool {
	if t.Due == nil {
		return false
	}
	if !t.Due.FirstResponse.IsZero() && t.Due.Responded.IsZero() && t.Due.FirstResponse.Before(b) {
		return true
	}
	open := t.Status != ticket.StatusSolved && t.Status != ticket.StatusClosed
	return open && !t.Due.Resolution.IsZero() && t.Due.Resolution.Before(b)
}

func cmdTicketsShow(c *cli) int {
	s, ok := c.settings()
	if !ok {
		return exitConfig
	}
	if len(c.args) != 1 {
		return c.fail("usage: ticketd tickets show N [--json]")
	}
	id, err := strconv.ParseUint(strings.TrimPrefix(c.args[0], "#"), 10, 64)
	if err != nil || id == 0 {
		return c.fail("tickets show: %q is not a ticket number", c.args[0])
	}
	b, err := c.backend(s, newLogger(c.stderr, s.Config.Log, s.Loc), false)
	if err != nil {
		return c.fail("%v", err)
	}
	defer b.Close()
	var v ticketView
	if c.unmask {
		if strings.TrimSpace(c.reason) == "" {
			return c.fail("%s", templates.Term(s.Config.Center.Language, "unmask_reason"))
		}
		v, err = b.TicketUnmasked(c.ctx, id, whoAmI(c.as), c.reason)
	} else {
		v, err = b.Ticket(c.ctx, id)
	}
	if err != nil {
		return c.fail("%v", err)
	}
	if c.asJSON {
		return c.printJSON(v)
	}
	printTicket(c.stdout, v, s.Loc, s.Config.Center.Language)
	return exitOK
}

func cmdReply(c *cli) int {
	id, ok := c.ticketArg()
	if !ok || len(c.args) > 1 {
		return c.fail("usage: ticketd reply N --as AGENT [--file F] [--attach FILE]...")
	}
	if c.as == "" {
		return c.fail("reply: --as AGENT is required (or set $TICKETD_AGENT)")
	}
	text, err := c.text()
	if err != nil {
		return c.fail("reply: %v", err)
	}
	req := actionRequest{Action: "reply", ID: id, As: c.as, Text: text}
	for _, f := range c.attach {
		data, err := os.ReadFile(f)
		if err != nil {
			return c.fail("reply: %v", err)
		}
		ct := mime.TypeByExtension(filepath.Ext(f))
		if ct == "" {
			ct = http.DetectContentType(data)
		}
		req.Attachments = append(req.Attachments, ticket.OutAttachment{Filename: filepath.Base(f), ContentType: ct, Data: data})
	}
	return c.act(req)
}

func cmdNote(c *cli) int {
	id, ok := c.ticketArg()
	if !ok {
		return c.fail("usage: ticketd note N [--as AGENT] [TEXT...]")
	}
	text, err := c.text()
	if err != nil {
		return c.fail("note: %v", err)
	}
	return c.act(actionRequest{Action: "note", ID: id, As: c.as, Text: text})
}

func cmdStatus(st ticket.Status) func(c *cli) int {
	return func(c *cli) int {
		id, ok := c.ticketArg()
		if !ok || len(c.args) != 1 {
			return c.fail("usage: ticketd %s N [--as AGENT]", map[ticket.Status]string{ticket.StatusClosed: "close", ticket.StatusSolved: "solve",
				ticket.StatusPending: "pending", ticket.StatusOpen: "open"}[st])
		}
		return c.act(actionRequest{Action: "status", ID: id, As: c.as, Status: st})
	}
}

func cmdPriority(c *cli) int {
	id, ok := c.ticketArg()
	if !ok || len(c.args) != 2 {
		return c.fail("usage: ticketd priority N low|normal|high [--as AGENT]")
	}
	return c.act(actionRequest{Action: "priority", ID: id, As: c.as, To: c.args[1]})
}

func cmdAssign(c *cli) int {
	id, ok := c.ticketArg()
	if c.group != "" && ok && len(c.args) == 1 {
		return c.act(actionRequest{Action: "group", ID: id, As: c.as, To: c.group})
	}
	if !ok || len(c.args) != 2 || c.group != "" {
		return c.fail("usage: ticketd assign N AGENT [--as AGENT], or ticketd assign N --group GROUP [--as AGENT]")
	}
	return c.act(actionRequest{Action: "assign", ID: id, As: c.as, To: c.args[1]})
}

func cmdMerge(c *cli) int {
	id, ok := c.ticketArg()
	if !ok || len(c.args) != 1 || c.into == 0 {
		return c.fail("usage: ticketd merge N --into M [--as AGENT]")
	}
	return c.act(actionRequest{Action: "merge", ID: id, As: c.as, Into: c.into})
}

func cmdSplit(c *cli) int {
	id, ok := c.ticketArg()
	if !ok || len(c.args) != 2 {
		return c.fail("usage: ticketd split N MESSAGE [--following] [--as AGENT]")
	}
	msg, err := strconv.ParseUint(c.args[1], 10, 64)
	if err != nil || msg == 0 {
		return c.fail("split: MESSAGE is a message's number as tickets show %d prints it, got %q", id, c.args[1])
	}
	return c.act(actionRequest{Action: "split", ID: id, As: c.as, Message: msg, Following: c.following})
}

// cmdAttachmentGet saves one attachment under a sanitised name; it never
// overwrites a file.
func cmdAttachmentGet(c *cli) int {
	id, ok := c.ticketArg()
	if !ok || len(c.args) != 2 {
		return c.fail("usage: ticketd attachment get N INDEX --out DIR")
	}
	index, err := strconv.Atoi(c.args[1])
	if err != nil || index < 1 {
		return c.fail("attachment get: INDEX must be 1 or more, got %q", c.args[1])
	}
	_, b, code := c.open()
	if b == nil {
		return code
	}
	defer b.Close()
	out, err := b.Admin(c.ctx, adminOp{List: "attachment", Op: "get", ID: id, Index: index})
	if err != nil {
		return c.fail("attachment get: %v", err)
	}
	if err := os.MkdirAll(c.out, 0o750); err != nil {
		return c.fail("attachment get: --out: %v", err)
	}
	name := rfc822.SafeFilename(out.File.Filename)
	ext := filepath.Ext(name)
	for i := 1; ; i++ {
		path := filepath.Join(c.out, name)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) && i < 1000 {
			name = fmt.Sprintf("%s (%d)%s", strings.TrimSuffix(rfc822.SafeFilename(out.File.Filename), ext), i, ext)
			continue
		}
		if err != nil {
			return c.fail("attachment get: %v", err)
		}
		_, err = f.Write(out.File.Data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return c.fail("attachment get: %v", err)
		}
		fmt.Fprintf(c.stdout, "%s (%s)\n", path, templates.Size(int64(len(out.File.Data))))
		return exitOK
	}
}
