package mailbox

import "github.com/ticketd/ticketd/ticket"

// Folder is the IMAP folder a Pipe's jobs come from: each commit then
// carries the folder's cursor, which never passes a UID not yet committed,
// even when the server answers out of order.
type Folder struct {
	// Mailbox is the folder's cursor key; Validity its UIDVALIDITY.
	Mailbox  string
	Validity uint32
	// UIDs are every UID the caller will Submit or Skip, ascending.
	UIDs []uint32
}

// folder is a Folder's state: which of its UIDs are still to commit.
type folder struct {
	Folder
	pending map[uint32]bool // asked for and not committed
	safe    int             // UIDs[:safe] are all committed (or skipped)
}

func newFolder(f *Folder) *folder {
	if f == nil {
		return nil
	}
	st := &folder{Folder: *f, pending: make(map[uint32]bool, len(f.UIDs))}
	for _, u := range f.UIDs {
		st.pending[u] = true
	}
	return st
}

// safeUID is the highest UID up to which every UID is committed.
func (f *folder) safeUID() uint32 {
	for f.safe < len(f.UIDs) && !f.pending[f.UIDs[f.safe]] {
		f.safe++
	}
	if f.safe == 0 {
		return 0
	}
	return f.UIDs[f.safe-1]
}

// PipeStats count what a Pipe committed.
type PipeStats struct {
	Fetched    int
	NewTickets int
	FollowUps  int
	Duplicates int
	Rejected   int
	// Deferred counts acknowledgements held back by the rate limits, to be
	// sent later; Withheld those not sent at all (suppressed, no-reply
	// address, a mail loop).
	Deferred, Withheld int
	// Acknowledged counts acknowledgements queued for new tickets.
	Acknowledged int
	Bytes        int64
	// Commits counts the transactions that stored the mails.
	Commits int
}

// Committed is what a Pipe committed since the last Take, by UID in the
// order committed.
type Committed struct {
	// Done are the mails stored (as new, follow-up or duplicate) or
	// quarantined, but for Spam, the mails the upstream filter flagged.
	Done, Spam []uint32
	// Rejected are the quarantined ones among Done.
	Rejected []uint32
	// Safe is the folder's cursor: every UID up to it is committed or
	// skipped (0 without a Folder).
	Safe uint32
}

// Take returns what was committed since the last Take.
func (p *Pipe) Take() Committed {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.taken
	p.taken = Committed{}
	if p.folder != nil {
		c.Safe = p.folder.safeUID()
	}
	return c
}

// Stats returns what the pipe committed so far.
func (p *Pipe) Stats() PipeStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Skip lets the cursor pass UIDs that will not be submitted: expunged
// meanwhile, or handled another way (from their header).
func (p *Pipe) Skip(uids ...uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.folder == nil {
		return
	}
	for _, u := range uids {
		p.folder.pending[u] = false
	}
}

// prepare sets the cursor a job commits with.
func (p *Pipe) prepare(j *Job) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f := p.folder; f != nil {
		f.pending[j.UID] = false
		j.In.Mailbox = f.Mailbox
		j.In.Cursor = ticket.Cursor{UIDValidity: f.Validity, LastUID: f.safeUID()}
	}
}

// failed records a job that could not be stored: the cursor stays before it.
func (p *Pipe) failed(j *Job) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f := p.folder; f != nil {
		if _, asked := f.pending[j.UID]; asked {
			f.pending[j.UID] = true
		}
	}
}

// committed counts and logs a job that was committed.
func (p *Pipe) committed(j *Job, res ticket.Result, rejected bool) {
	p.mu.Lock()
	st, t := &p.stats, &p.taken
	if res.Spam {
		t.Spam = append(t.Spam, j.UID)
	} else {
		t.Done = append(t.Done, j.UID)
	}
	if rejected {
		t.Rejected = append(t.Rejected, j.UID)
	}
	switch {
	case res.HeldBack != "" && !res.AckDue.IsZero():
		st.Deferred++
	case res.HeldBack != "":
		st.Withheld++
	}
	if res.Acknowledged {
		st.Acknowledged++
	}
	st.Fetched++
	st.Bytes += int64(len(j.Raw))
	switch {
	case rejected:
		st.Rejected++
	case res.Duplicate:
		st.Duplicates++
	case res.NewTicket:
		st.NewTickets++
	default:
		st.FollowUps++
	}
	p.mu.Unlock()

	log := p.log.With("uid", j.UID, "ticket", res.TicketID)
	switch {
	case rejected:
		log.Warn("imap: mail rejected and kept for inspection", "source", j.In.Source)
	case res.Duplicate:
		log.Info("imap: already stored")
	case res.NewTicket:
		log.Info("imap: new ticket", "acknowledged", res.Acknowledged, "automatic", res.Automatic)
	case res.Relayed:
		log.Info("imap: agent reply relayed to the customer", "note", res.Note)
	case res.Kind == ticket.KindNote:
		log.Info("imap: agent mail kept as an internal note", "note", res.Note)
	case res.Bounce:
		log.Info("imap: delivery report recorded")
	default:
		log.Info("imap: follow-up", "notified", res.Notified)
	}
}
