package imap

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
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/mailbox/oauth"
	"github.com/ticketd/ticketd/mailbox/rfc822"
	"github.com/ticketd/ticketd/ticket"
)

// Post-actions applied to a mail on the server after it is committed.
const (
	PostSeen = "seen"
	PostMove = "move"
)

// Config describes one polled IMAP folder.
type Config struct {
	// Name identifies the mailbox in logs and in the cursor key.
	Name string
	Host string
	Port int
	// Security is "tls" (implicit TLS), "starttls" or "plain"; plain is
	// refused unless Host is a loopback address.
	Security string
	Username string
	Password string
	// Auth is "login" ("" too), "plain" (AUTHENTICATE PLAIN), or
	// oauth.AuthXOAuth2 or oauth.AuthOAuthBearer with an access token from Tokens
	// instead of Password.
	Auth   string
	Tokens oauth.Tokens
	Folder string
	// PostAction is PostSeen or PostMove to MoveTo.
	PostAction string
	MoveTo     string
	TLSConfig  *tls.Config
	// BatchSize is how many mails one UID FETCH asks for; the post-action
	// is applied after each.
	BatchSize int
	// Pipe bounds the parse-and-commit pipeline a poll feeds.
	Pipe mailbox.PipeOptions
	// MaxMessageBytes is the largest mail downloaded. A larger one (by RFC822.SIZE) stays on the server, moved to
	// OversizedFolder when set (else marked \Seen); a ticket is opened from
	// its header with a note, and the sender gets one "too large" reply.
	MaxMessageBytes int64
	OversizedFolder string
	// SpamFolder, when set, receives mail the upstream filter flagged as
	// spam (the ticket, marked spam, is kept too), instead of the
	// post-action.
	SpamFolder string
	// Timeout bounds every command and read: a server that
	// owes an answer and sends nothing for this long, or a write it does
	// not take, fails the poll; a literal of n bytes also has n at 32 KiB/s
	// more in all (see timedConn). Our own work (committing) never counts.
	Timeout time.Duration
	// DialTimeout bounds connecting, TLS, the greeting and the login (0:
	// Timeout).
	DialTimeout time.Duration
}

// CursorKey is the key of the folder's cursor in the store.
func (c Config) CursorKey() string { return c.Name + "/" + c.Folder }

// Poller fetches new mail from one IMAP folder into the ticket service.
type Poller struct {
	cfg Config
	svc *ticket.Service
	log *slog.Logger
}

// NewPoller checks cfg and returns a Poller. It takes cfg as it is: a
// missing or out-of-range value is an error, never replaced.
func NewPoller(cfg Config, svc *ticket.Service, log *slog.Logger) (*Poller, error) {
	switch cfg.Security {
	case "tls", "starttls":
	case "plain":
		if !mailbox.IsLoopback(cfg.Host) {
			return nil, fmt.Errorf("mailbox %s: plain IMAP is only allowed to a loopback host, not %q; use tls or starttls", cfg.Name, cfg.Host)
		}
	default:
		return nil, fmt.Errorf("mailbox %s: unknown security %q (want tls, starttls or plain)", cfg.Name, cfg.Security)
	}
	switch cfg.Auth {
	case "", "login", "plain":
	case oauth.AuthXOAuth2, oauth.AuthOAuthBearer:
		if cfg.Tokens == nil {
			return nil, fmt.Errorf("mailbox %s: auth %s needs Tokens", cfg.Name, cfg.Auth)
		}
	default:
		return nil, fmt.Errorf("mailbox %s: unknown auth %q", cfg.Name, cfg.Auth)
	}
	switch {
	case cfg.PostAction != PostSeen && cfg.PostAction != PostMove:
		return nil, fmt.Errorf("mailbox %s: post-action %q: want %s or %s", cfg.Name, cfg.PostAction, PostSeen, PostMove)
	case cfg.PostAction == PostMove && cfg.MoveTo == "":
		return nil, fmt.Errorf("mailbox %s: post_action move needs move_to", cfg.Name)
	case cfg.Folder == "":
		return nil, fmt.Errorf("mailbox %s: no folder", cfg.Name)
	case cfg.BatchSize <= 0 || cfg.MaxMessageBytes <= 0 || cfg.Timeout <= 0:
		return nil, fmt.Errorf("mailbox %s: batch size, largest mail and timeout must be positive, got %d, %d, %v",
			cfg.Name, cfg.BatchSize, cfg.MaxMessageBytes, cfg.Timeout)
	}
	if err := cfg.Pipe.Check(); err != nil {
		return nil, fmt.Errorf("mailbox %s: %w", cfg.Name, err)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = cfg.Timeout
	}
	if log == nil {
		log = slog.Default()
	}
	return &Poller{cfg: cfg, svc: svc, log: log.With("mailbox", cfg.CursorKey())}, nil
}

// Name is the poller's cursor key ("support/INBOX").
func (p *Poller) Name() string { return p.cfg.CursorKey() }

// PollStats counts what one poll did.
type PollStats struct {
	mailbox.PipeStats
	// Oversized counts the mails handled from their header (over the size
	// limit, or undownloadable); they count in Fetched too.
	Oversized int
}

// add counts what a pipe committed.
func (st *PollStats) add(ps mailbox.PipeStats) {
	st.Fetched += ps.Fetched
	st.NewTickets += ps.NewTickets
	st.FollowUps += ps.FollowUps
	st.Duplicates += ps.Duplicates
	st.Rejected += ps.Rejected
	st.Deferred += ps.Deferred
	st.Withheld += ps.Withheld
	st.Acknowledged += ps.Acknowledged
	st.Bytes += ps.Bytes
	st.Commits += ps.Commits
}

// maxBadPerPoll bounds how many undownloadable mails one poll handles by
// reconnecting; the rest waits for the next poll.
const maxBadPerPoll = 20

// Poll connects, ingests every mail above the cursor, applies the
// post-action to the mails it committed, and logs out. When ctx is cancelled
// it closes the connection, commits what it has fetched, and returns ctx's
// error.
//
// Every command and read has the mailbox's Timeout (see timedConn): a
// server that stops answering, or a connection gone half-open, fails the
// poll within it. A mail that cannot be downloaded (its body is far larger
// than its RFC822.SIZE said, or the server refuses or leaves out its body)
// is handled once like an oversized one: a ticket from its header, with a
// note, the post-action of oversized mail, and the cursor moves past it.
func (p *Poller) Poll(ctx context.Context) (PollStats, error) {
	var st PollStats
	bad := map[goimap.UID]*badMail{}
	for {
		err := p.pollOnce(ctx, &st, bad)
		var bm *badMail
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		if !errors.As(err, &bm) || len(bad) >= maxBadPerPoll || bad[bm.uid] != nil {
			return st, err
		}
		// The fetch was dropped in the middle of its literal: a new
		// connection handles that mail from its header, then goes on.
		p.log.Warn("imap: a mail cannot be downloaded; it is handled from its header", "uid", bm.uid, "reason", bm.reason)
		bad[bm.uid] = bm
	}
}

// badMail is a mail that cannot be downloaded; size is its real size when
// known.
type badMail struct {
	uid    goimap.UID
	size   int64
	reason string
	// serverSaid is the server's refusal, as it said it ("" when it
	// sent no body without a word).
	serverSaid string
}

func (b *badMail) Error() string { return fmt.Sprintf("uid %d: %s", b.uid, b.reason) }

// pollOnce is one connection's part of Poll; bad are the mails found
// undownloadable so far, handled from their header.
func (p *Poller) pollOnce(ctx context.Context, st *PollStats, bad map[goimap.UID]*badMail) (err error) {
	c, err := p.dial(ctx)
	if err != nil {
		return err
	}
	// Cancelling closes the connection: nothing waits on the server then.
	defer context.AfterFunc(ctx, func() { c.tc.Close() })()
	defer func() {
		if err == nil {
			if lerr := c.Logout().Wait(); lerr != nil {
				p.log.Debug("imap logout", "err", lerr)
			}
		}
		c.Close()
		if err != nil {
			err = p.connErr(c.tc, ctx, err)
		}
	}()

	folder := p.cfg.Folder
	sel, err := c.Select(folder, nil).Wait()
	if err != nil {
		return fmt.Errorf("mailbox %s: select %s: %w", p.cfg.Name, folder, err)
	}
	key := p.cfg.CursorKey()
	done := c.tc.ours()
	cur, found, err := p.svc.Cursor(key)
	if err == nil && (!found || cur.UIDValidity != sel.UIDValidity) {
		if found {
			// RFC 3501 section 2.3.1.1: UIDs from the old validity mean
			// nothing. Rescan everything; the dedupe entries keep it from
			// storing anything twice.
			p.log.Warn("imap: UIDVALIDITY changed; rescanning the folder (duplicates are skipped)",
				"old", cur.UIDValidity, "new", sel.UIDValidity)
		}
		cur = ticket.Cursor{UIDValidity: sel.UIDValidity}
		// Stored now, so that whatever this poll handles moves it on.
		err = p.svc.UpdateCursor(key, func(c *ticket.Cursor) { *c = cur })
	}
	done()
	if err != nil {
		return err
	}

	if cur.ActedUID < cur.LastUID {
		// Committed before, but the post-action did not finish (a crash or a
		// dropped connection): apply it now.
		if err := p.catchUp(c, cur); err != nil {
			return err
		}
	}

	var uids []goimap.UID
	if sel.NumMessages > 0 && (sel.UIDNext == 0 || uint32(sel.UIDNext) > cur.LastUID+1) {
		var set goimap.UIDSet
		set.AddRange(goimap.UID(cur.LastUID+1), 0) // LastUID+1:*
		data, err := c.UIDSearch(&goimap.SearchCriteria{UID: []goimap.UIDSet{set}}, nil).Wait()
		if err != nil {
			return fmt.Errorf("mailbox %s: uid search: %w", p.cfg.Name, err)
		}
		all, _ := data.All.(goimap.UIDSet).Nums()
		for _, u := range all {
			if uint32(u) > cur.LastUID { // "n:*" also matches the last mail when n > max
				uids = append(uids, u)
			}
		}
		slices.Sort(uids)
	}
	if len(uids) == 0 {
		return nil
	}
	// RFC822.SIZE first: a mail over the limit is never downloaded.
	normal, big, err := p.split(c, uids, bad)
	if err != nil {
		return err
	}
	if len(big) > 0 {
		if err := p.oversized(c, big, st); err != nil {
			return err
		}
	}
	r := p.newRun(cur.UIDValidity, normal)
	for len(normal) > 0 && err == nil {
		n := min(len(normal), p.cfg.BatchSize)
		chunk := normal[:n]
		normal = normal[n:]
		if err = r.fetch(ctx, c, chunk); err == nil {
			err = r.act(c)
		}
	}
	r.pipe.Close()
	done = c.tc.ours()
	werr := r.pipe.Wait()
	done()
	if err == nil {
		err = werr
	}
	st.add(r.pipe.Stats())
	if err == nil && len(r.bad) > 0 {
		// Mails the server refused or left out, alone too: from their
		// header, then the cursor may pass them.
		err = p.oversized(c, r.bad, st)
		if err == nil {
			r.gone(slices.Collect(maps.Keys(r.bad)))
		}
	}
	if err == nil {
		// Every mail is committed: the cursor passes the last one, and
		// mails the server did not return (expunged meanwhile) too.
		last := uint32(uids[len(uids)-1])
		done = c.tc.ours()
		err = p.svc.UpdateCursor(p.cfg.CursorKey(), func(c *ticket.Cursor) {
			if c.UIDValidity == cur.UIDValidity {
				c.LastUID = max(c.LastUID, last)
			}
		})
		done()
	}
	if err == nil {
		err = r.act(c)
	}
	return err
}

// run is one poll's ingest: the pipeline committing the UIDs asked for,
// and what is committed but not yet acted on.
type run struct {
	p        *Poller
	validity uint32
	pipe     *mailbox.Pipe

	done, spam []goimap.UID            // committed, post-action (or spam move) to do
	acted      uint32                  // the cursor's ActedUID as this run knows it
	bad        map[goimap.UID]*badMail // refused or left out by the server, to handle from their header
}

func (p *Poller) newRun(validity uint32, uids []goimap.UID) *run {
	f := &mailbox.Folder{Mailbox: p.cfg.CursorKey(), Validity: validity, UIDs: make([]uint32, len(uids))}
	for i, u := range uids {
		f.UIDs[i] = uint32(u)
	}
	return &run{p: p, validity: validity, pipe: mailbox.NewPipe(p.svc, p.cfg.Pipe, f, p.log)}
}

// gone lets the cursor pass UIDs the server did not return (expunged by
// another client) or that were handled from their header.
func (r *run) gone(uids []goimap.UID) {
	for _, u := range uids {
		r.pipe.Skip(uint32(u))
	}
}

// take collects what the pipe committed since the last time and returns
// the cursor position.
func (r *run) take() uint32 {
	c := r.pipe.Take()
	for _, u := range c.Done {
		r.done = append(r.done, goimap.UID(u))
	}
	for _, u := range c.Spam {
		if r.p.cfg.SpamFolder == "" {
			r.done = append(r.done, goimap.UID(u)) // kept in the folder like any mail
		} else {
			r.spam = append(r.spam, goimap.UID(u))
		}
	}
	return c.Safe
}

// act applies the post-action to the mails committed so far, below the
// cursor, and records it.
func (r *run) act(c *conn) error {
	safe := r.take()
	var done, spam []goimap.UID
	r.done, done = split(r.done, safe)
	r.spam, spam = split(r.spam, safe)
	acted := r.acted
	p := r.p
	if len(spam) > 0 {
		if err := p.act(c, spam, PostMove, p.cfg.SpamFolder); err != nil {
			if c.broken() {
				return err
			}
			p.log.Warn("imap: moving spam failed", "err", err)
		}
	}
	if len(done) > 0 {
		if err := p.postAction(c, done); err != nil {
			if c.broken() {
				return err // the poll fails; the next one applies it (catch-up)
			}
			p.log.Warn("imap: post-action failed; it is retried on the next poll", "err", err)
			return nil
		}
	}
	if safe > acted && (len(done) > 0 || len(spam) > 0) {
		if err := p.markActed(r.validity, goimap.UID(safe)); err != nil {
			return err
		}
		r.acted = safe
	}
	return nil
}

// split separates the UIDs up to limit from the others.
func split(uids []goimap.UID, limit uint32) (rest, upTo []goimap.UID) {
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
// pipeline has too many bytes in flight. A mail the server refuses (the
// FETCH ends in NO), leaves out though it still exists, or sends without a
// body is tried once more alone, then put in r.bad; one whose body is far
// larger than its RFC822.SIZE said ends the fetch with a *badMail.
func (r *run) fetch(ctx context.Context, c *conn, chunk []goimap.UID) error {
	missing, err := r.fetchSet(ctx, c, chunk)
	if perMail(err) {
		err = nil // some mail it cannot read: which, is found out below
	}
	if err != nil {
		return err
	}
	if len(missing) == 0 {
		return nil
	}
	// Expunged meanwhile (the cursor may pass them), or withheld?
	slices.Sort(missing)
	data, err := c.UIDSearch(&goimap.SearchCriteria{UID: []goimap.UIDSet{goimap.UIDSetNum(missing...)}}, nil).Wait()
	if err != nil {
		return fmt.Errorf("mailbox %s: uid search: %w", r.p.cfg.Name, err)
	}
	exist, _ := data.All.(goimap.UIDSet).Nums()
	var gone []goimap.UID
	for _, u := range missing {
		if !slices.Contains(exist, u) {
			gone = append(gone, u)
		}
	}
	r.gone(gone)
	for _, u := range exist {
		if !slices.Contains(missing, u) {
			continue // "n:*" matches the last mail too
		}
		still, err := r.fetchSet(ctx, c, []goimap.UID{u})
		switch {
		case perMail(err):
			r.addBad(u, "the server refused to send it: "+err.Error(), err.Error())
		case err != nil:
			return err
		case len(still) > 0:
			r.addBad(u, "the server sent no body for it", "")
		}
	}
	return nil
}

// fetchSet runs one UID FETCH of uids into the pipeline and returns the
// UIDs it did not bring (with an *goimap.Error when the server said NO, as a
// server does for a mail it cannot read).
func (r *run) fetchSet(ctx context.Context, c *conn, uids []goimap.UID) (missing []goimap.UID, err error) {
	p := r.p
	section := &goimap.FetchItemBodySection{Peek: true}
	cmd := c.Fetch(goimap.UIDSetNum(uids...), &goimap.FetchOptions{
		UID: true, RFC822Size: true, BodySection: []*goimap.FetchItemBodySection{section},
	})
	closed := false
	defer func() {
		if !closed {
			cmd.Close() // already failing; the first error is the one to report
		}
	}()
	asked := make(map[goimap.UID]bool, len(uids))
	for _, u := range uids {
		asked[u] = true
	}
	for {
		if ctx.Err() != nil {
			// Abandon the rest of the FETCH; the cursor is consistent.
			closed = true
			abandon(c, cmd, false)
			return nil, ctx.Err()
		}
		msg := cmd.Next()
		if msg == nil {
			break
		}
		uid, raw, reserved, err := p.readMessage(ctx, c, msg, r.pipe)
		if err != nil {
			// Cancelled, the pipeline stopped, a short read, a lying size:
			// the rest of the FETCH (hundreds of MB, maybe) is not worth
			// reading, and the connection ends with this poll anyway.
			r.pipe.Release(reserved)
			closed = true
			abandon(c, cmd, errors.As(err, new(*literalError)))
			return nil, err
		}
		if uid == 0 || !asked[uid] || raw == nil {
			r.pipe.Release(reserved)
			continue // unsolicited FETCH (a flag change by another client), or no body
		}
		delete(asked, uid)
		src := fmt.Sprintf("imap %s uid %d", p.cfg.CursorKey(), uid)
		done := c.tc.ours() // a full pipeline is our own slowness
		r.pipe.Submit(&mailbox.Job{Raw: raw, UID: uint32(uid), In: ticket.Incoming{Source: src}}, reserved)
		done()
	}
	closed = true
	missing = slices.Collect(maps.Keys(asked))
	if err := cmd.Close(); err != nil {
		var ierr *goimap.Error
		if errors.As(err, &ierr) && c.tc.err() == nil {
			return missing, ierr // a NO: the connection is fine
		}
		return nil, fmt.Errorf("mailbox %s: uid fetch: %w", p.cfg.Name, err)
	}
	return missing, nil
}

// perMail reports whether err is a NO of the server that may be about
// one mail (SERVERBUG, CORRUPTION, PARSE, UNKNOWN-CTE, TOOBIG, no code),
// rather than about the server's state right now (UNAVAILABLE, LIMIT,
// INUSE, OVERQUOTA, ...), which a later poll retries.
func perMail(err error) bool {
	var ierr *goimap.Error
	if !errors.As(err, &ierr) || ierr.Type != goimap.StatusResponseTypeNo {
		return false
	}
	switch ierr.Code {
	case "", goimap.ResponseCodeServerBug, goimap.ResponseCodeCorruption, goimap.ResponseCodeParse,
		goimap.ResponseCodeUnknownCTE, goimap.ResponseCodeTooBig, goimap.ResponseCodeCannot:
		return true
	}
	return false
}

// addBad records a mail of the run that cannot be downloaded.
func (r *run) addBad(uid goimap.UID, reason, serverSaid string) {
	r.p.log.Warn("imap: a mail cannot be downloaded; it is handled from its header", "uid", uid, "reason", reason)
	if r.bad == nil {
		r.bad = map[goimap.UID]*badMail{}
	}
	r.bad[uid] = &badMail{uid: uid, reason: reason, serverSaid: serverSaid}
}

// abandon drops a FETCH in progress: the connection is closed under the
// client, so its reader fails, and the command is drained.
//
// After a read of a literal failed, go-imap's reader goes on decoding at
// once while draining the command would read that literal again, both on
// one buffer: so then (midLiteral) the drain waits until the reader has
// stopped, which the closed connection makes it do at its next read.
// Between two messages the reader waits for the drain instead.
func abandon(c *conn, cmd *imapclient.FetchCommand, midLiteral bool) {
	c.tc.Close()
	if midLiteral {
		t := time.NewTimer(5 * time.Second)
		select {
		case <-c.Closed():
		case <-t.C:
		}
		t.Stop()
	}
	_ = cmd.Close() // an error: the connection just closed
}

// readMessage reads one FETCH response; the body's bytes are reserved in
// pipe before they are read (the caller releases or submits them). A body
// far larger than the limit (so than the RFC822.SIZE the server gave) is a
// *badMail; a second body is discarded as it streams.
func (p *Poller) readMessage(ctx context.Context, c *conn, msg *imapclient.FetchMessageData, pipe *mailbox.Pipe) (uid goimap.UID, raw []byte, reserved int64, err error) {
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
			if it.Literal == nil {
				continue
			}
			if raw != nil {
				if err := c.discard(it.Literal); err != nil {
					return uid, nil, reserved, &literalError{fmt.Errorf("mailbox %s: discard an unasked literal: %w", p.cfg.Name, err)}
				}
				continue
			}
			n := it.Literal.Size()
			if n > p.cfg.MaxMessageBytes+p.cfg.MaxMessageBytes/4 {
				// RFC822.SIZE said it was small enough; the server lied.
				return uid, nil, reserved, &badMail{uid: uid, size: n,
					reason: fmt.Sprintf("the server said RFC822.SIZE %d but sent %d bytes", size, n)}
			}
			done := c.tc.ours()
			err := pipe.Reserve(ctx, n)
			done()
			if err != nil {
				return uid, nil, reserved, err
			}
			reserved = n
			buf := make([]byte, n)
			read := c.tc.literal(n)
			_, err = io.ReadFull(it.Literal, buf)
			read()
			if err != nil {
				return uid, nil, reserved, &literalError{fmt.Errorf("mailbox %s: read body: %w", p.cfg.Name, err)}
			}
			raw = buf
		}
	}
}

// literalError is a failed read of a literal (see abandon).
type literalError struct{ err error }

func (e *literalError) Error() string { return e.err.Error() }
func (e *literalError) Unwrap() error { return e.err }

// discard reads and drops a literal, under its deadline.
func (c *conn) discard(lit goimap.LiteralReader) error {
	defer c.tc.literal(lit.Size())()
	_, err := io.Copy(io.Discard, lit)
	return err
}

// catchUp re-applies the post-action to mails committed before whose
// post-action was not recorded as done.
func (p *Poller) catchUp(c *conn, cur ticket.Cursor) error {
	var set goimap.UIDSet
	set.AddRange(goimap.UID(cur.ActedUID+1), goimap.UID(cur.LastUID))
	crit := &goimap.SearchCriteria{UID: []goimap.UIDSet{set}}
	if p.cfg.PostAction == PostSeen {
		crit.NotFlag = []goimap.Flag{goimap.FlagSeen}
	}
	data, err := c.UIDSearch(crit, nil).Wait()
	if err != nil {
		return fmt.Errorf("mailbox %s: uid search (catch-up): %w", p.cfg.Name, err)
	}
	uids, _ := data.All.(goimap.UIDSet).Nums()
	if len(uids) > 0 {
		p.log.Info("imap: applying the post-action left undone", "count", len(uids))
		if err := p.postAction(c, uids); err != nil {
			return err
		}
	}
	return p.markActed(cur.UIDValidity, goimap.UID(cur.LastUID))
}

func (p *Poller) markActed(validity uint32, uid goimap.UID) error {
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
func (p *Poller) postAction(c *conn, uids []goimap.UID) error {
	return p.act(c, uids, p.cfg.PostAction, p.cfg.MoveTo)
}

// act applies a post-action (PostSeen, or PostMove to folder) to uids.
func (p *Poller) act(c *conn, uids []goimap.UID, action, folder string) error {
	set := goimap.UIDSetNum(uids...)
	if action == PostSeen {
		err := c.Store(set, &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Silent: true, Flags: []goimap.Flag{goimap.FlagSeen}}, nil).Close()
		if err != nil {
			return fmt.Errorf("mailbox %s: mark seen: %w", p.cfg.Name, err)
		}
		return nil
	}
	err := p.move(c, set, folder)
	var ierr *goimap.Error
	if errors.As(err, &ierr) && ierr.Code == goimap.ResponseCodeTryCreate {
		if cerr := c.Create(folder, nil).Wait(); cerr != nil {
			return fmt.Errorf("mailbox %s: create %s: %w", p.cfg.Name, folder, cerr)
		}
		p.log.Info("imap: created folder", "folder", folder)
		err = p.move(c, set, folder)
	}
	return err
}

func (p *Poller) move(c *conn, set goimap.UIDSet, folder string) error {
	caps := c.Caps()
	if caps.Has(goimap.CapMove) || caps.Has(goimap.CapIMAP4rev2) {
		if _, err := c.Move(set, folder).Wait(); err != nil {
			return fmt.Errorf("mailbox %s: move to %s: %w", p.cfg.Name, folder, err)
		}
		return nil
	}
	if _, err := c.Copy(set, folder).Wait(); err != nil {
		return fmt.Errorf("mailbox %s: copy to %s: %w", p.cfg.Name, folder, err)
	}
	if err := c.Store(set, &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Silent: true, Flags: []goimap.Flag{goimap.FlagDeleted}}, nil).Close(); err != nil {
		return fmt.Errorf("mailbox %s: flag copied mail deleted: %w", p.cfg.Name, err)
	}
	if caps.Has(goimap.CapUIDPlus) {
		if err := c.UIDExpunge(set).Close(); err != nil {
			return fmt.Errorf("mailbox %s: uid expunge: %w", p.cfg.Name, err)
		}
	}
	return nil
}

// conn is one IMAP connection: the client and the connection under it,
// which holds the deadlines.
type conn struct {
	*imapclient.Client
	tc *timedConn
}

// broken reports whether the connection is gone (closed for a stall, or
// by the server), as opposed to a command the server refused.
func (c *conn) broken() bool {
	if c.tc.err() != nil {
		return true
	}
	select {
	case <-c.Closed():
		return true
	default:
		return false
	}
}

// dial connects and logs in, for a poll: the connection expects answers
// (see timedConn) except where the poll marks its own work.
func (p *Poller) dial(ctx context.Context) (*conn, error) {
	return p.dialWith(ctx, nil, true)
}

// dialWith is dial with a handler for unilateral server data and the
// connection's initial state: for IDLE, not expecting, since IDLE is
// quiet by design.
func (p *Poller) dialWith(ctx context.Context, h *imapclient.UnilateralDataHandler, expecting bool) (*conn, error) {
	c, err := p.dialOnce(ctx, h, expecting)
	if errors.Is(err, errTokenRefused) && ctx.Err() == nil {
		// The access token may have been revoked before it expired: once
		// more, on a new connection, with a new one.
		p.log.Info("imap: the server refused the access token; trying once more with a new one", "err", err)
		c, err = p.dialOnce(ctx, h, expecting)
	}
	return c, err
}

// errTokenRefused marks a login whose access token the server refused.
var errTokenRefused = errors.New("the server refused the access token")

// abortOnChallenge is an OAuth SASL client for IMAP: a challenge (the
// server's JSON error: the token is refused) ends the exchange with an
// error. The client cannot answer it as the mechanisms want: go-imap
// sends an empty response as "=", which servers such as Dovecot refuse in
// a continuation, so the connection is given up and a new one made.
type abortOnChallenge struct{ sasl.Client }

func (a abortOnChallenge) Next(challenge []byte) ([]byte, error) {
	a.Client.Next(challenge) // records the server's error, if it is one
	return nil, fmt.Errorf("%w: %s", errTokenRefused, challenge)
}

func (p *Poller) dialOnce(ctx context.Context, h *imapclient.UnilateralDataHandler, expecting bool) (*conn, error) {
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
		WordDecoder:           rfc822.NewWordDecoder(),
		UnilateralDataHandler: h,
	}
	fail := func(what string, err error) (*conn, error) {
		return nil, fmt.Errorf("mailbox %s: %s %s (%s): %w", p.cfg.Name, what, addr, p.cfg.Security, err)
	}
	dctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	nc, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
	if err != nil {
		return fail("connect", err)
	}
	tc := newTimedConn(nc, p.cfg.Timeout, true) // the greeting and login are owed
	// Until the login is done, ctx or the dial timeout ends it all.
	stop := context.AfterFunc(dctx, func() { tc.Close() })
	defer stop()
	var c *imapclient.Client
	switch p.cfg.Security {
	case "tls":
		tlsConn := tls.Client(tc, tlsCfg)
		if err := tlsConn.HandshakeContext(dctx); err != nil {
			tc.Close()
			return fail("TLS handshake with", err)
		}
		c = imapclient.New(tlsConn, opts)
	case "starttls":
		c, err = imapclient.NewStartTLS(tc, opts)
		if err != nil {
			tc.Close()
			return fail("STARTTLS with", err)
		}
	default:
		c = imapclient.New(tc, opts)
	}
	dialErr := func(err error) error {
		if serr := tc.err(); serr != nil {
			return serr
		}
		if ctx.Err() == nil && dctx.Err() != nil {
			return fmt.Errorf("no answer from the server within %v (connecting and logging in); connection closed", p.cfg.DialTimeout)
		}
		return p.connErr(tc, ctx, err)
	}
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return fail("greeting from", dialErr(err))
	}
	if err := p.login(dctx, c); err != nil {
		c.Close()
		return nil, fmt.Errorf("mailbox %s: login as %s at %s: %w", p.cfg.Name, p.cfg.Username, addr, dialErr(err))
	}
	if !expecting {
		tc.expecting.Add(-1)
	}
	return &conn{Client: c, tc: tc}, nil
}

// login authenticates c as the configured user. An access token the
// server refuses is refused at its source (so that the next one is new),
// and the error is errTokenRefused: dialWith tries once more.
func (p *Poller) login(ctx context.Context, c *imapclient.Client) error {
	switch p.cfg.Auth {
	case "plain":
		return c.Authenticate(sasl.NewPlainClient("", p.cfg.Username, p.cfg.Password))
	case oauth.AuthXOAuth2, oauth.AuthOAuthBearer:
		mech := oauth.Mechanism(p.cfg.Auth)
		tok, err := p.cfg.Tokens.Token(ctx)
		if err != nil {
			return err
		}
		client, err := oauth.NewClient(mech, p.cfg.Username, tok)
		if err != nil {
			return err
		}
		err = c.Authenticate(abortOnChallenge{client})
		if ie, no := errors.AsType[*goimap.Error](err); errors.Is(err, errTokenRefused) || no && ie.Type == goimap.StatusResponseTypeNo {
			p.cfg.Tokens.Refuse(tok)
			if !errors.Is(err, errTokenRefused) {
				err = fmt.Errorf("%w: %w", errTokenRefused, err)
			}
		}
		return err
	}
	return c.Login(p.cfg.Username, p.cfg.Password).Wait()
}

// connErr explains err of a command on tc: the stall that closed the
// connection, or the context that ended, when one did.
func (p *Poller) connErr(tc *timedConn, ctx context.Context, err error) error {
	if serr := tc.err(); serr != nil {
		return serr
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}
