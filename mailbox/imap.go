package mailbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/ticketd/ticketd/ticket"
)

// Post-actions applied to a mail on the server after it is committed.
const (
	PostSeen = "seen"
	PostMove = "move"
)

// IMAPConfig describes one polled IMAP folder.
type IMAPConfig struct {
	// Name identifies the mailbox in logs and in the cursor key.
	Name string
	Host string
	Port int
	// Security is "tls" (implicit TLS), "starttls" or "plain"; plain is
	// refused unless Host is a loopback address.
	Security string
	Username string
	Password string
	// Auth is "login" (default) or "plain" (AUTHENTICATE PLAIN).
	Auth   string
	Folder string // default INBOX
	// PostAction is PostSeen (default) or PostMove to MoveTo.
	PostAction string
	MoveTo     string
	TLSConfig  *tls.Config
	// BatchSize is how many mails one UID FETCH asks for (default 500);
	// the post-action is applied after each.
	BatchSize int
	// Pipe bounds the parse-and-commit pipeline a poll feeds.
	Pipe PipeOptions
	// MaxMessageBytes is the largest mail downloaded (default 25 MiB). A
	// larger one (by RFC822.SIZE) stays on the server, moved to
	// OversizedFolder when set (else marked \Seen); a ticket is opened from
	// its header with a note, and the sender gets one "too large" reply.
	MaxMessageBytes int64
	OversizedFolder string
	// SpamFolder, when set, receives mail the upstream filter flagged as
	// spam (the ticket, marked spam, is kept too), instead of the
	// post-action.
	SpamFolder string
	// DialTimeout bounds connecting and greeting (default 30s).
	DialTimeout time.Duration
}

// CursorKey is the key of the folder's cursor in the store.
func (c IMAPConfig) CursorKey() string { return c.Name + "/" + c.folder() }

func (c IMAPConfig) folder() string {
	if c.Folder == "" {
		return "INBOX"
	}
	return c.Folder
}

// IsLoopback reports whether host names this machine.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Poller fetches new mail from one IMAP folder into the ticket service.
type Poller struct {
	cfg IMAPConfig
	svc *ticket.Service
	log *slog.Logger
}

// NewPoller checks cfg and returns a Poller.
func NewPoller(cfg IMAPConfig, svc *ticket.Service, log *slog.Logger) (*Poller, error) {
	if cfg.Security == "" {
		cfg.Security = "tls"
	}
	switch cfg.Security {
	case "tls", "starttls":
	case "plain":
		if !IsLoopback(cfg.Host) {
			return nil, fmt.Errorf("mailbox %s: plain IMAP is only allowed to a loopback host, not %q; use tls or starttls", cfg.Name, cfg.Host)
		}
	default:
		return nil, fmt.Errorf("mailbox %s: unknown security %q (want tls, starttls or plain)", cfg.Name, cfg.Security)
	}
	if cfg.PostAction == "" {
		cfg.PostAction = PostSeen
	}
	if cfg.PostAction == PostMove && cfg.MoveTo == "" {
		return nil, fmt.Errorf("mailbox %s: post_action move needs move_to", cfg.Name)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 25 << 20
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 30 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Poller{cfg: cfg, svc: svc, log: log.With("mailbox", cfg.CursorKey())}, nil
}

// Name is the poller's cursor key ("support/INBOX").
func (p *Poller) Name() string { return p.cfg.CursorKey() }

// PollStats counts what one poll did.
type PollStats struct {
	Fetched    int
	NewTickets int
	FollowUps  int
	Duplicates int
	Rejected   int
	Oversized  int
	// Deferred counts acknowledgements held back by the rate limits, to be
	// sent later; Withheld those not sent at all (suppressed, no-reply
	// address, a mail loop).
	Deferred, Withheld int
	Bytes              int64

	// Acknowledged counts acknowledgements queued for new tickets.
	Acknowledged int
	// Commits counts the transactions that stored the fetched mails.
	Commits int
}

// Poll connects, ingests every mail above the cursor, applies the
// post-action to the mails it committed, and logs out. When ctx is cancelled
// it finishes the mail in hand, records it, and returns ctx's error.
func (p *Poller) Poll(ctx context.Context) (st PollStats, err error) {
	c, err := p.dial(ctx)
	if err != nil {
		return st, err
	}
	defer func() {
		if cerr := c.Logout().Wait(); cerr != nil && err == nil && ctx.Err() == nil {
			p.log.Debug("imap logout", "err", cerr)
		}
		c.Close()
	}()

	folder := p.cfg.folder()
	sel, err := c.Select(folder, nil).Wait()
	if err != nil {
		return st, fmt.Errorf("mailbox %s: select %s: %w", p.cfg.Name, folder, err)
	}
	key := p.cfg.CursorKey()
	cur, found, err := p.svc.Cursor(key)
	if err != nil {
		return st, err
	}
	if found && cur.UIDValidity != sel.UIDValidity {
		// RFC 3501 section 2.3.1.1: UIDs from the old validity mean nothing.
		// Rescan everything; the dedupe entries keep it from storing twice.
		p.log.Warn("imap: UIDVALIDITY changed; rescanning the folder (duplicates are skipped)",
			"old", cur.UIDValidity, "new", sel.UIDValidity)
		cur = ticket.Cursor{}
	}
	cur.UIDValidity = sel.UIDValidity

	if cur.ActedUID < cur.LastUID {
		// Committed before, but the post-action did not finish (a crash or a
		// dropped connection): apply it now.
		if err := p.catchUp(c, cur); err != nil {
			return st, err
		}
	}

	var uids []imap.UID
	if sel.NumMessages > 0 && (sel.UIDNext == 0 || uint32(sel.UIDNext) > cur.LastUID+1) {
		var set imap.UIDSet
		set.AddRange(imap.UID(cur.LastUID+1), 0) // LastUID+1:*
		data, err := c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}}, nil).Wait()
		if err != nil {
			return st, fmt.Errorf("mailbox %s: uid search: %w", p.cfg.Name, err)
		}
		all, _ := data.All.(imap.UIDSet).Nums()
		for _, u := range all {
			if uint32(u) > cur.LastUID { // "n:*" also matches the last mail when n > max
				uids = append(uids, u)
			}
		}
		slices.Sort(uids)
	}
	if len(uids) == 0 {
		return st, nil
	}
	// RFC822.SIZE first: a mail over the limit is never downloaded.
	normal, big, err := p.split(c, uids)
	if err != nil {
		return st, err
	}
	if len(big) > 0 {
		if err := p.oversized(c, big, &st); err != nil {
			return st, err
		}
	}
	r := p.newRun(cur.UIDValidity, normal, &st)
	for len(normal) > 0 && err == nil {
		n := min(len(normal), p.cfg.BatchSize)
		chunk := normal[:n]
		normal = normal[n:]
		if err = r.fetch(ctx, c, chunk); err == nil {
			err = r.act(c)
		}
	}
	r.pipe.Close()
	if werr := r.pipe.Wait(); err == nil {
		err = werr
	}
	st.Commits = r.pipe.Commits()
	if err == nil {
		// Every mail is committed: the cursor passes the last one, and
		// mails the server did not return (expunged meanwhile) too.
		last := uint32(uids[len(uids)-1])
		err = p.svc.UpdateCursor(p.cfg.CursorKey(), func(c *ticket.Cursor) {
			if c.UIDValidity == cur.UIDValidity {
				c.LastUID = max(c.LastUID, last)
			}
		})
	}
	if err == nil {
		err = r.act(c)
	}
	if err != nil && ctx.Err() != nil {
		return st, ctx.Err()
	}
	return st, err
}

// run is one poll's ingest: the UIDs asked for, the pipeline committing
// them, and what is committed but not yet acted on.
type run struct {
	p        *Poller
	validity uint32
	pipe     *Pipe

	mu      sync.Mutex
	pending map[imap.UID]bool // asked for and not committed
	order   []imap.UID        // every UID asked for, ascending
	safe    int               // order[:safe] are all committed (or gone)
	done    []imap.UID        // committed, post-action to do
	spam    []imap.UID        // committed spam to move
	acted   uint32            // the cursor's ActedUID as this run knows it
	st      *PollStats
}

func (p *Poller) newRun(validity uint32, uids []imap.UID, st *PollStats) *run {
	r := &run{p: p, validity: validity, pending: make(map[imap.UID]bool, len(uids)), order: uids, st: st}
	for _, u := range uids {
		r.pending[u] = true
	}
	r.pipe = NewPipe(p.svc, p.cfg.Pipe, Hooks{
		Prepare: r.prepare,
		Done:    r.committed,
		Failed:  r.failed,
	}, p.log)
	return r
}

// safeUID is the highest UID below which every mail asked for is
// committed: the cursor never passes a mail still unprocessed, even if the
// server answers out of order. r.mu is held.
func (r *run) safeUID() uint32 {
	for r.safe < len(r.order) && !r.pending[r.order[r.safe]] {
		r.safe++
	}
	if r.safe == 0 {
		return 0
	}
	return uint32(r.order[r.safe-1])
}

// prepare sets the cursor a job commits with.
func (r *run) prepare(j *Job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending[j.Tag.(imap.UID)] = false
	j.In.Cursor = ticket.Cursor{UIDValidity: r.validity, LastUID: r.safeUID()}
}

func (r *run) failed(j *Job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending[j.Tag.(imap.UID)] = true
}

// gone marks UIDs the server did not return (expunged by another client).
func (r *run) gone(uids []imap.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range uids {
		r.pending[u] = false
	}
}

func (r *run) committed(j *Job, res ticket.Result, rejected bool) {
	uid := j.Tag.(imap.UID)
	r.mu.Lock()
	st := r.st
	if res.Spam && r.p.cfg.SpamFolder != "" {
		r.spam = append(r.spam, uid)
	} else {
		r.done = append(r.done, uid)
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
	r.mu.Unlock()

	log := r.p.log.With("uid", uid, "ticket", res.TicketID)
	switch {
	case rejected:
		log.Warn("imap: mail rejected and kept for inspection", "source", j.In.Source)
	case res.Duplicate:
		log.Info("imap: already stored")
	case res.NewTicket:
		log.Info("imap: new ticket", "acknowledged", res.Acknowledged, "automatic", res.Automatic)
	default:
		log.Info("imap: follow-up")
	}
}

// act applies the post-action to the mails committed so far, below the
// cursor, and records it.
func (r *run) act(c *imapclient.Client) error {
	r.mu.Lock()
	safe := r.safeUID()
	var done, spam []imap.UID
	r.done, done = split(r.done, safe)
	r.spam, spam = split(r.spam, safe)
	acted := r.acted
	r.mu.Unlock()
	p := r.p
	if len(spam) > 0 {
		if err := p.act(c, spam, PostMove, p.cfg.SpamFolder); err != nil {
			p.log.Warn("imap: moving spam failed", "err", err)
		}
	}
	if len(done) > 0 {
		if err := p.postAction(c, done); err != nil {
			p.log.Warn("imap: post-action failed; it is retried on the next poll", "err", err)
			return nil
		}
	}
	if safe > acted && (len(done) > 0 || len(spam) > 0) {
		if err := p.markActed(r.validity, imap.UID(safe)); err != nil {
			return err
		}
		r.mu.Lock()
		r.acted = safe
		r.mu.Unlock()
	}
	return nil
}

// split separates the UIDs up to limit from the others.
func split(uids []imap.UID, limit uint32) (rest, upTo []imap.UID) {
	for _, u := range uids {
		if uint32(u) <= limit {
			upTo = append(upTo, u)
		} else {
			rest = append(rest, u)
		}
	}
	slices.Sort(upTo)
	return rest, upTo
}

// fetch streams one UID FETCH into the pipeline, holding back while the
// pipeline has too many bytes in flight.
func (r *run) fetch(ctx context.Context, c *imapclient.Client, chunk []imap.UID) error {
	p := r.p
	section := &imap.FetchItemBodySection{Peek: true}
	cmd := c.Fetch(imap.UIDSetNum(chunk...), &imap.FetchOptions{
		UID: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{section},
	})
	closed := false
	defer func() {
		if !closed {
			cmd.Close() // already failing; the first error is the one to report
		}
	}()
	asked := make(map[imap.UID]bool, len(chunk))
	for _, u := range chunk {
		asked[u] = true
	}
	for {
		if ctx.Err() != nil {
			// Abandon the rest of the FETCH; the cursor is consistent.
			closed = true
			abandon(c, cmd)
			return ctx.Err()
		}
		msg := cmd.Next()
		if msg == nil {
			break
		}
		uid, raw, reserved, err := p.readMessage(ctx, msg, r.pipe)
		if err != nil {
			// Cancelled, the pipeline stopped, a short read, a lying size:
			// the rest of the FETCH (hundreds of MB, maybe) is not worth
			// reading, and the connection ends with this poll anyway.
			r.pipe.Release(reserved)
			closed = true
			abandon(c, cmd)
			return err
		}
		if uid == 0 || !asked[uid] || raw == nil {
			r.pipe.Release(reserved)
			continue // unsolicited FETCH (e.g. a flag change by another client)
		}
		delete(asked, uid)
		src := fmt.Sprintf("imap %s uid %d", p.cfg.CursorKey(), uid)
		r.pipe.Submit(&Job{Raw: raw, Tag: uid, In: ticket.Incoming{Source: src, Mailbox: p.cfg.CursorKey()}}, reserved)
	}
	closed = true
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("mailbox %s: uid fetch: %w", p.cfg.Name, err)
	}
	// Mails of the chunk that the server did not return were expunged
	// meanwhile: the cursor may pass them.
	if len(asked) > 0 {
		r.gone(slices.Collect(maps.Keys(asked)))
	}
	return nil
}

// abandon drops a FETCH in progress: the connection is closed and the
// command drained. Client.Close waits for the client's reader, which waits
// for someone to take the next message: so the close runs on its own
// goroutine while this one drains.
func abandon(c *imapclient.Client, cmd *imapclient.FetchCommand) {
	go func() {
		defer func() { _ = recover() }() // closing must not take the daemon down
		c.Close()
	}()
	_ = cmd.Close() // an error: the connection just closed
}

// readMessage reads one FETCH response; the body's bytes are reserved in
// pipe before they are read (the caller releases or submits them).
func (p *Poller) readMessage(ctx context.Context, msg *imapclient.FetchMessageData, pipe *Pipe) (uid imap.UID, raw []byte, reserved int64, err error) {
	var size int64
	for {
		item := msg.Next()
		if item == nil {
			return uid, raw, reserved, nil
		}
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			uid = it.UID
		case imapclient.FetchItemDataRFC822Size:
			size = it.Size
		case imapclient.FetchItemDataBodySection:
			if it.Literal == nil || raw != nil {
				continue
			}
			n := it.Literal.Size()
			if n > p.cfg.MaxMessageBytes+p.cfg.MaxMessageBytes/4 {
				// RFC822.SIZE said it was small enough; the server lied.
				return uid, nil, reserved, fmt.Errorf("mailbox %s: uid %d: %d bytes although RFC822.SIZE was %d; it stays on the server",
					p.cfg.Name, uid, n, size)
			}
			if err := pipe.Reserve(ctx, n); err != nil {
				return uid, nil, reserved, err
			}
			reserved = n
			buf := make([]byte, n)
			if _, err := io.ReadFull(it.Literal, buf); err != nil {
				return uid, nil, reserved, fmt.Errorf("mailbox %s: read body: %w", p.cfg.Name, err)
			}
			raw = buf
		}
	}
}

// catchUp re-applies the post-action to mails committed before whose
// post-action was not recorded as done.
func (p *Poller) catchUp(c *imapclient.Client, cur ticket.Cursor) error {
	var set imap.UIDSet
	set.AddRange(imap.UID(cur.ActedUID+1), imap.UID(cur.LastUID))
	crit := &imap.SearchCriteria{UID: []imap.UIDSet{set}}
	if p.cfg.PostAction == PostSeen {
		crit.NotFlag = []imap.Flag{imap.FlagSeen}
	}
	data, err := c.UIDSearch(crit, nil).Wait()
	if err != nil {
		return fmt.Errorf("mailbox %s: uid search (catch-up): %w", p.cfg.Name, err)
	}
	uids, _ := data.All.(imap.UIDSet).Nums()
	if len(uids) > 0 {
		p.log.Info("imap: applying the post-action left undone", "count", len(uids))
		if err := p.postAction(c, uids); err != nil {
			return err
		}
	}
	return p.markActed(cur.UIDValidity, imap.UID(cur.LastUID))
}

func (p *Poller) markActed(validity uint32, uid imap.UID) error {
	return p.svc.UpdateCursor(p.cfg.CursorKey(), func(cur *ticket.Cursor) {
		if cur.UIDValidity == validity {
			cur.ActedUID = max(cur.ActedUID, uint32(uid))
		}
	})
}

// postAction marks uids \Seen or moves them, safely: with the MOVE
// extension a UID MOVE (atomic on the server); otherwise UID COPY, and only
// after the COPY succeeded, \Deleted and, with UIDPLUS, a UID EXPUNGE of
// exactly these UIDs. Without UIDPLUS the originals stay flagged \Deleted:
// a plain EXPUNGE could remove mail other clients flagged.
func (p *Poller) postAction(c *imapclient.Client, uids []imap.UID) error {
	return p.act(c, uids, p.cfg.PostAction, p.cfg.MoveTo)
}

// act applies a post-action (PostSeen, or PostMove to folder) to uids.
func (p *Poller) act(c *imapclient.Client, uids []imap.UID, action, folder string) error {
	set := imap.UIDSetNum(uids...)
	if action == PostSeen {
		err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
		if err != nil {
			return fmt.Errorf("mailbox %s: mark seen: %w", p.cfg.Name, err)
		}
		return nil
	}
	err := p.move(c, set, folder)
	var ierr *imap.Error
	if errors.As(err, &ierr) && ierr.Code == imap.ResponseCodeTryCreate {
		if cerr := c.Create(folder, nil).Wait(); cerr != nil {
			return fmt.Errorf("mailbox %s: create %s: %w", p.cfg.Name, folder, cerr)
		}
		p.log.Info("imap: created folder", "folder", folder)
		err = p.move(c, set, folder)
	}
	return err
}

func (p *Poller) move(c *imapclient.Client, set imap.UIDSet, folder string) error {
	caps := c.Caps()
	if caps.Has(imap.CapMove) || caps.Has(imap.CapIMAP4rev2) {
		if _, err := c.Move(set, folder).Wait(); err != nil {
			return fmt.Errorf("mailbox %s: move to %s: %w", p.cfg.Name, folder, err)
		}
		return nil
	}
	if _, err := c.Copy(set, folder).Wait(); err != nil {
		return fmt.Errorf("mailbox %s: copy to %s: %w", p.cfg.Name, folder, err)
	}
	if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		return fmt.Errorf("mailbox %s: flag copied mail deleted: %w", p.cfg.Name, err)
	}
	if caps.Has(imap.CapUIDPlus) {
		if err := c.UIDExpunge(set).Close(); err != nil {
			return fmt.Errorf("mailbox %s: uid expunge: %w", p.cfg.Name, err)
		}
	}
	return nil
}

// dial connects and logs in.
func (p *Poller) dial(ctx context.Context) (*imapclient.Client, error) {
	return p.dialWith(ctx, nil)
}

// dialWith is dial with a handler for unilateral server data (for IDLE).
func (p *Poller) dialWith(ctx context.Context, h *imapclient.UnilateralDataHandler) (*imapclient.Client, error) {
	addr := net.JoinHostPort(p.cfg.Host, fmt.Sprint(p.cfg.Port))
	tlsCfg := &tls.Config{ServerName: strings.Trim(p.cfg.Host, "[]"), MinVersion: tls.VersionTLS12}
	if p.cfg.TLSConfig != nil {
		tlsCfg = p.cfg.TLSConfig.Clone()
		if tlsCfg.ServerName == "" {
			tlsCfg.ServerName = strings.Trim(p.cfg.Host, "[]")
		}
	}
	opts := &imapclient.Options{
		TLSConfig:             tlsCfg,
		WordDecoder:           WordDecoder,
		Dialer:                &net.Dialer{Timeout: p.cfg.DialTimeout},
		UnilateralDataHandler: h,
	}
	var c *imapclient.Client
	var err error
	switch p.cfg.Security {
	case "tls":
		c, err = imapclient.DialTLS(addr, opts)
	case "starttls":
		c, err = imapclient.DialStartTLS(addr, opts)
	default:
		c, err = imapclient.DialInsecure(addr, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("mailbox %s: connect %s (%s): %w", p.cfg.Name, addr, p.cfg.Security, err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, fmt.Errorf("mailbox %s: greeting from %s: %w", p.cfg.Name, addr, err)
	}
	if p.cfg.Auth == "plain" {
		err = c.Authenticate(sasl.NewPlainClient("", p.cfg.Username, p.cfg.Password))
	} else {
		err = c.Login(p.cfg.Username, p.cfg.Password).Wait()
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("mailbox %s: login as %s at %s: %w", p.cfg.Name, p.cfg.Username, addr, err)
	}
	return c, nil
}

// split asks for the RFC822.SIZE of chunk and separates the mails over
// MaxMessageBytes.
func (p *Poller) split(c *imapclient.Client, chunk []imap.UID) (normal, big []imap.UID, err error) {
	msgs, err := c.Fetch(imap.UIDSetNum(chunk...), &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return nil, nil, fmt.Errorf("mailbox %s: uid fetch rfc822.size: %w", p.cfg.Name, err)
	}
	size := map[imap.UID]int64{}
	for _, m := range msgs {
		size[m.UID] = m.RFC822Size
	}
	for _, u := range chunk {
		if size[u] > p.cfg.MaxMessageBytes {
			big = append(big, u)
		} else {
			normal = append(normal, u)
		}
	}
	return normal, big, nil
}

// oversized opens tickets from the headers of mails over the size limit and
// moves them aside; their bodies are never downloaded.
func (p *Poller) oversized(c *imapclient.Client, uids []imap.UID, st *PollStats) error {
	hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	msgs, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{hdr}}).Collect()
	if err != nil {
		return fmt.Errorf("mailbox %s: uid fetch header: %w", p.cfg.Name, err)
	}
	var done []imap.UID
	for _, m := range msgs {
		raw := m.FindBodySection(hdr)
		src := fmt.Sprintf("imap %s uid %d (header only: %d bytes)", p.cfg.CursorKey(), m.UID, m.RFC822Size)
		res, _, err := Deliver(p.svc, append(raw, "\r\n"...), ticket.Incoming{Source: src, Oversized: m.RFC822Size})
		if err != nil {
			return fmt.Errorf("mailbox %s: uid %d: %w", p.cfg.Name, m.UID, err)
		}
		st.Fetched++
		st.Oversized++
		if res.NewTicket {
			st.NewTickets++
		}
		p.log.Warn("imap: mail over the size limit left on the server", "uid", m.UID, "size", m.RFC822Size,
			"limit", p.cfg.MaxMessageBytes, "ticket", res.TicketID, "folder", p.cfg.OversizedFolder)
		done = append(done, m.UID)
	}
	if len(done) == 0 {
		return nil
	}
	if p.cfg.OversizedFolder == "" {
		return p.act(c, done, PostSeen, "")
	}
	return p.act(c, done, PostMove, p.cfg.OversizedFolder)
}
