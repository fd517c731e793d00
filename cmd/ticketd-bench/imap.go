package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// mixInfo describes the appended mails.
type mixInfo struct {
	count   [3]int   // per kind
	bytes   int64    // all mails
	kbytes  [3]int64 // per kind
	largest int64
}

// dial logs in as user over mode ("plain" or "imaps"). The connection is
// closed when ctx is done, which ends any command in progress.
func (b *bench) dial(ctx context.Context, mode, user string) (*imapclient.Client, func(), error) {
	var (
		c   *imapclient.Client
		err error
	)
	if mode == "imaps" {
		c, err = b.stack.DialIMAPS(user)
	} else {
		c, err = b.stack.DialIMAP(user)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s login as %s: %w", mode, user, err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	return c, func() { stop(); c.Close() }, nil
}

// fill appends the mix to support's INBOX, one mail at a time on one
// connection, and records the highest UID.
func (b *bench) fill(ctx context.Context) error {
	c, done, err := b.dial(ctx, "plain", "support")
	if err != nil {
		return err
	}
	defer done()
	start := time.Now()
	last := start
	for i := range b.mix.kinds {
		raw := b.mix.build(i)
		k := b.mix.kinds[i]
		b.info.count[k]++
		b.info.bytes += int64(len(raw))
		b.info.kbytes[k] += int64(len(raw))
		b.info.largest = max(b.info.largest, int64(len(raw)))
		cmd := c.Append("INBOX", int64(len(raw)), nil)
		if _, err := cmd.Write(raw); err != nil {
			return fmt.Errorf("APPEND mail %d: %w", i, err)
		}
		if err := cmd.Close(); err != nil {
			return fmt.Errorf("APPEND mail %d: %w", i, err)
		}
		data, err := cmd.Wait()
		if err != nil {
			return fmt.Errorf("APPEND mail %d: %w", i, err)
		}
		if data != nil && data.UID != 0 {
			b.maxUID = max(b.maxUID, uint32(data.UID))
		}
		if time.Since(last) > 10*time.Second {
			last = time.Now()
			b.log.Info("appending", "done", i+1, "of", len(b.mix.kinds), "MB", mb(b.info.bytes))
		}
	}
	sel, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return fmt.Errorf("EXAMINE INBOX: %w", err)
	}
	if int(sel.NumMessages) != len(b.mix.kinds) {
		return fmt.Errorf("support INBOX holds %d mails after appending %d", sel.NumMessages, len(b.mix.kinds))
	}
	if b.maxUID == 0 { // no UIDPLUS answer: the mails are UIDs 1..UIDNEXT-1
		b.maxUID = uint32(sel.UIDNext) - 1
	}
	b.log.Info("support INBOX filled", "mails", len(b.mix.kinds), "MB", mb(b.info.bytes),
		"text", b.info.count[kindText], "medium", b.info.count[kindMedium], "large", b.info.count[kindLarge],
		"largest_MB", mb(b.info.largest), "took", time.Since(start).Round(time.Millisecond))
	return c.Logout().Wait()
}

// drainResult is one raw drain.
type drainResult struct {
	mails int
	bytes int64
	dur   time.Duration
}

// drain reads every mail of support's INBOX with one UID FETCH 1:*
// BODY.PEEK[] into io.Discard, and times it from the dial to the logout.
func (b *bench) drain(ctx context.Context, mode string) (drainResult, error) {
	return b.drainInto(ctx, mode, func(lit io.Reader) (int64, error) { return io.Copy(io.Discard, lit) })
}

// ceiling is the durable ceiling: the drain, plus what no ingester that
// keeps mail safely can skip: each raw mail read whole and hashed
// (SHA-256), and its bytes appended to a file by a second goroutine that
// fdatasyncs every 4 MiB (and at the end, which is timed too).
func (b *bench) ceiling(ctx context.Context, mode string) (drainResult, error) {
	f, err := os.CreateTemp(b.work, "ceiling-*.raw")
	if err != nil {
		return drainResult{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	start := time.Now()
	pieces := make(chan []byte, 16)
	written := make(chan error, 1)
	go func() {
		var werr error
		since := 0
		for p := range pieces {
			if werr != nil {
				continue
			}
			if _, werr = f.Write(p); werr != nil {
				continue
			}
			if since += len(p); since >= 4<<20 {
				werr, since = syscall.Fdatasync(int(f.Fd())), 0
			}
		}
		if werr == nil {
			werr = syscall.Fdatasync(int(f.Fd()))
		}
		written <- werr
	}()
	r, err := b.drainInto(ctx, mode, func(lit io.Reader) (int64, error) {
		data, err := io.ReadAll(lit)
		if err != nil {
			return 0, err
		}
		sha256.Sum256(data)
		pieces <- data
		return int64(len(data)), nil
	})
	close(pieces)
	if werr := <-written; err == nil && werr != nil {
		err = fmt.Errorf("the ceiling's file: %w", werr)
	}
	r.dur = time.Since(start)
	return r, err
}

// drainInto is the drain with each mail's literal given to sink.
func (b *bench) drainInto(ctx context.Context, mode string, sink func(io.Reader) (int64, error)) (drainResult, error) {
	var r drainResult
	start := time.Now()
	c, done, err := b.dial(ctx, mode, "support")
	if err != nil {
		return r, err
	}
	defer done()
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return r, fmt.Errorf("EXAMINE INBOX: %w", err)
	}
	cmd := c.Fetch(imap.UIDSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{
		UID:         true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	})
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		for {
			item := msg.Next()
			if item == nil {
				break
			}
			if body, ok := item.(imapclient.FetchItemDataBodySection); ok && body.Literal != nil {
				n, err := sink(body.Literal)
				if err != nil {
					cmd.Close()
					return r, fmt.Errorf("reading a literal: %w", err)
				}
				r.mails++
				r.bytes += n
			}
		}
	}
	if err := cmd.Close(); err != nil {
		return r, fmt.Errorf("UID FETCH 1:* BODY.PEEK[]: %w", err)
	}
	if err := c.Logout().Wait(); err != nil {
		return r, fmt.Errorf("LOGOUT: %w", err)
	}
	r.dur = time.Since(start)
	return r, nil
}

// status returns the number of messages and of unseen ones in user's INBOX.
func (b *bench) status(ctx context.Context, user string) (messages, unseen uint32, err error) {
	c, done, err := b.dial(ctx, "plain", user)
	if err != nil {
		return 0, 0, err
	}
	defer done()
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, NumUnseen: true}).Wait()
	if err != nil {
		return 0, 0, fmt.Errorf("STATUS INBOX of %s: %w", user, err)
	}
	if st.NumMessages != nil {
		messages = *st.NumMessages
	}
	if st.NumUnseen != nil {
		unseen = *st.NumUnseen
	}
	return messages, unseen, c.Logout().Wait()
}

// resetSupport makes the support INBOX what it was after fill: \Seen
// removed from the bench's mails, and anything that arrived since (a bounce,
// say) deleted. It returns how many mails it deleted.
func (b *bench) resetSupport(ctx context.Context) (extra int, err error) {
	c, done, err := b.dial(ctx, "plain", "support")
	if err != nil {
		return 0, err
	}
	defer done()
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		return 0, fmt.Errorf("SELECT INBOX: %w", err)
	}
	if uint32(sel.UIDNext) > b.maxUID+1 {
		var set imap.UIDSet
		set.AddRange(imap.UID(b.maxUID+1), 0)
		found, err := c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}}, nil).Wait()
		if err != nil {
			return 0, fmt.Errorf("UID SEARCH: %w", err)
		}
		var del imap.UIDSet
		for _, u := range found.AllUIDs() {
			if uint32(u) > b.maxUID {
				del.AddNum(u)
				extra++
			}
		}
		if extra > 0 {
			if err := c.Store(del, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
				return 0, fmt.Errorf("UID STORE +FLAGS (\\Deleted): %w", err)
			}
			if err := c.UIDExpunge(del).Close(); err != nil {
				return 0, fmt.Errorf("UID EXPUNGE: %w", err)
			}
		}
	}
	all := imap.UIDSet{{Start: 1, Stop: imap.UID(b.maxUID)}}
	if err := c.Store(all, &imap.StoreFlags{Op: imap.StoreFlagsDel, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close(); err != nil {
		return extra, fmt.Errorf("UID STORE -FLAGS (\\Seen): %w", err)
	}
	return extra, c.Logout().Wait()
}

// emptyInbox deletes every message in user's INBOX.
func (b *bench) emptyInbox(ctx context.Context, user string) error {
	c, done, err := b.dial(ctx, "plain", user)
	if err != nil {
		return err
	}
	defer done()
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		return fmt.Errorf("SELECT INBOX of %s: %w", user, err)
	}
	if sel.NumMessages > 0 {
		all := imap.UIDSet{{Start: 1, Stop: 0}}
		if err := c.Store(all, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			return fmt.Errorf("STORE +FLAGS (\\Deleted) in %s's INBOX: %w", user, err)
		}
		if err := c.Expunge().Close(); err != nil {
			return fmt.Errorf("EXPUNGE %s's INBOX: %w", user, err)
		}
	}
	return c.Logout().Wait()
}

// waitDelivered waits until user's INBOX holds want messages, or until the
// count has not moved for quiet, and returns the count.
func (b *bench) waitDelivered(ctx context.Context, user string, want int, quiet time.Duration) (int, error) {
	var last uint32
	moved := time.Now()
	for {
		n, _, err := b.status(ctx, user)
		if err != nil {
			return int(last), err
		}
		if int(n) >= want {
			return int(n), nil
		}
		if n != last {
			last, moved = n, time.Now()
		} else if time.Since(moved) > quiet {
			return int(n), nil
		}
		select {
		case <-ctx.Done():
			return int(n), ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
