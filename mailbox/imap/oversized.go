package imap

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/ticket"
)

// maxHeaderFetch bounds the header of an oversized or undownloadable mail
// read into memory; the rest of a longer one is discarded as it streams.
const maxHeaderFetch = 1 << 20

// split asks for the RFC822.SIZE of chunk and separates the mails over
// MaxMessageBytes, and those known to be undownloadable (bad), from the
// others. Only the sizes are read: any literal the server sends unasked
// is discarded as it streams.
func (p *Poller) split(c *conn, chunk []goimap.UID, bad map[goimap.UID]*badMail) (normal []goimap.UID, big map[goimap.UID]*badMail, err error) {
	cmd := c.Fetch(goimap.UIDSetNum(chunk...), &goimap.FetchOptions{UID: true, RFC822Size: true})
	size := map[goimap.UID]int64{}
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		var uid goimap.UID
		var n int64
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = it.UID
			case imapclient.FetchItemDataRFC822Size:
				n = it.Size
			case imapclient.FetchItemDataBodySection:
				if it.Literal != nil {
					if err := c.discard(it.Literal); err != nil {
						abandon(c, cmd, true)
						return nil, nil, fmt.Errorf("mailbox %s: discard an unasked literal: %w", p.cfg.Name, err)
					}
				}
			}
		}
		if uid != 0 {
			size[uid] = n
		}
	}
	if err := cmd.Close(); err != nil {
		return nil, nil, fmt.Errorf("mailbox %s: uid fetch rfc822.size: %w", p.cfg.Name, err)
	}
	big = map[goimap.UID]*badMail{}
	for _, u := range chunk {
		switch {
		case bad[u] != nil:
			big[u] = bad[u]
		case size[u] > p.cfg.MaxMessageBytes:
			big[u] = &badMail{uid: u, size: size[u]}
		default:
			normal = append(normal, u)
		}
	}
	return normal, big, nil
}

// oversized opens tickets from the headers of mails that are not
// downloaded, over the size limit (reason "") or undownloadable, and
// applies the post-action of oversized mail (a move to OversizedFolder, or
// \Seen); their bodies are never read. A header the server will not give
// is replaced by one that says so, so nothing goes unrecorded.
func (p *Poller) oversized(c *conn, mails map[goimap.UID]*badMail, st *PollStats) error {
	uids := make([]goimap.UID, 0, len(mails))
	for u := range mails {
		uids = append(uids, u)
	}
	headers, err := p.headers(c, uids)
	var ierr *goimap.Error
	if errors.As(err, &ierr) && c.tc.err() == nil {
		// A NO: the headers it brought are kept, the others asked for one
		// at a time, so that one bad mail costs the others nothing.
		err = nil
		for _, u := range uids {
			if _, ok := headers[u]; ok || len(uids) == 1 {
				continue
			}
			h, herr := p.headers(c, []goimap.UID{u})
			if herr != nil && !errors.As(herr, &ierr) {
				return herr
			}
			maps.Copy(headers, h)
		}
	}
	if err != nil {
		return err
	}
	done := c.tc.ours()
	for _, u := range uids {
		m := mails[u]
		raw, ok := headers[u]
		if !ok {
			raw = fmt.Appendf(nil, "Subject: (a mail the server would not send; %s uid %d)\r\n", p.cfg.CursorKey(), u)
		}
		in := ticket.Incoming{Source: fmt.Sprintf("imap %s uid %d (header only)", p.cfg.CursorKey(), u)}
		switch {
		case m.size > p.cfg.MaxMessageBytes:
			in.Oversized = m.size
		case m.reason != "":
			in.Undownloadable, in.ServerSaid = m.reason, m.serverSaid
		}
		res, _, err := mailbox.Deliver(p.svc, append(raw, "\r\n"...), in, p.log)
		if err != nil {
			done()
			return fmt.Errorf("mailbox %s: uid %d: %w", p.cfg.Name, u, err)
		}
		st.Fetched++
		st.Oversized++
		if res.NewTicket {
			st.NewTickets++
		}
		p.log.Warn("imap: mail not downloaded; a ticket was opened from its header and it stays on the server", "uid", u,
			"size", m.size, "limit", p.cfg.MaxMessageBytes, "reason", m.reason, "ticket", res.TicketID, "folder", p.cfg.OversizedFolder)
	}
	done()
	if p.cfg.OversizedFolder == "" {
		return p.act(c, uids, PostSeen, "")
	}
	return p.act(c, uids, PostMove, p.cfg.OversizedFolder)
}

// headers fetches BODY.PEEK[HEADER] of uids, each at most maxHeaderFetch
// bytes (the rest is discarded as it streams).
func (p *Poller) headers(c *conn, uids []goimap.UID) (map[goimap.UID][]byte, error) {
	hdr := &goimap.FetchItemBodySection{Specifier: goimap.PartSpecifierHeader, Peek: true}
	cmd := c.Fetch(goimap.UIDSetNum(uids...), &goimap.FetchOptions{UID: true, BodySection: []*goimap.FetchItemBodySection{hdr}})
	out := map[goimap.UID][]byte{}
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		var uid goimap.UID
		var raw []byte
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = it.UID
			case imapclient.FetchItemDataBodySection:
				if it.Literal == nil {
					continue
				}
				if raw == nil {
					n := min(it.Literal.Size(), maxHeaderFetch)
					raw = make([]byte, n)
					read := c.tc.literal(n)
					_, err := io.ReadFull(it.Literal, raw)
					read()
					if err != nil {
						abandon(c, cmd, true)
						return nil, fmt.Errorf("mailbox %s: read header: %w", p.cfg.Name, err)
					}
				}
				if err := c.discard(it.Literal); err != nil { // what is left of it, or a second one
					abandon(c, cmd, true)
					return nil, fmt.Errorf("mailbox %s: discard the rest of a header: %w", p.cfg.Name, err)
				}
			}
		}
		if uid != 0 && raw != nil && slices.Contains(uids, uid) {
			out[uid] = raw
		}
	}
	if err := cmd.Close(); err != nil {
		var ierr *goimap.Error
		if errors.As(err, &ierr) {
			return out, ierr
		}
		return nil, fmt.Errorf("mailbox %s: uid fetch header: %w", p.cfg.Name, err)
	}
	return out, nil
}
