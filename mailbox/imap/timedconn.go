package imap

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// literalMinRate is the slowest transfer a literal's deadline allows for:
// a literal of n bytes must be read within the timeout plus n at 32 KiB/s
// (25 MiB: about 14 minutes more), while any single read still has only
// the timeout to bring something.
const literalMinRate = 32 << 10

// timedConn is the network connection under an IMAP client, and it owns
// the read and write deadlines. go-imap sets its own (none while it waits
// for a response to begin, 30 s per response once begun, 5 minutes for a
// whole literal); they are ignored here. Instead:
//
//   - while the server owes us an answer ("expecting"), a read that brings
//     nothing for the timeout fails: a server that stops answering SELECT,
//     SEARCH or FETCH, or a connection that went half-open after a NAT or
//     firewall timeout, is noticed within the timeout;
//   - while it owes nothing (we are busy committing, or idling), reads wait
//     as long as they need, so our own slowness is never blamed on it;
//   - a literal must arrive by its own deadline (see [timedConn.literal]),
//     so a server trickling a byte a minute is noticed too;
//   - every write must complete within the timeout.
//
// A read that fails this way closes the connection, so everything waiting
// on the client returns, and records the error for [timedConn.err].
type timedConn struct {
	net.Conn
	timeout time.Duration

	expecting atomic.Int32 // > 0: the server owes an answer
	since     atomic.Int64 // unix ns of the last progress, or of expecting's start
	hard      atomic.Int64 // unix ns by which the literal being read must be done; 0: none

	mu      sync.Mutex
	stalled error
}

func newTimedConn(c net.Conn, timeout time.Duration, expecting bool) *timedConn {
	tc := &timedConn{Conn: c, timeout: timeout}
	tc.since.Store(time.Now().UnixNano())
	if expecting {
		tc.expecting.Store(1)
	}
	return tc
}

// ours marks a stretch of our own work: the server owes nothing meanwhile.
// Call the returned function when it is over; the server then has the whole
// timeout again.
func (c *timedConn) ours() (done func()) {
	c.expecting.Add(-1)
	return func() {
		c.since.Store(time.Now().UnixNano())
		c.expecting.Add(1)
	}
}

// expect marks a stretch in which the server owes an answer (on a
// connection made without expecting, the IDLE watch's).
func (c *timedConn) expect() (done func()) {
	if c.expecting.Add(1) == 1 {
		c.since.Store(time.Now().UnixNano())
	}
	return func() { c.expecting.Add(-1) }
}

// literal gives the literal of n bytes about to be read its deadline: the
// timeout plus n at literalMinRate. Call the returned function when it has
// been read.
func (c *timedConn) literal(n int64) (done func()) {
	d := c.timeout + time.Duration(n)*time.Second/literalMinRate
	c.hard.Store(time.Now().Add(d).UnixNano())
	return func() { c.hard.Store(0) }
}

// err is why the connection was closed for a stall, or nil.
func (c *timedConn) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stalled
}

func (c *timedConn) Read(b []byte) (int, error) {
	for {
		now := time.Now()
		dl := now.Add(c.timeout)
		if c.expecting.Load() > 0 {
			dl = time.Unix(0, c.since.Load()).Add(c.timeout)
		}
		if h := c.hard.Load(); h != 0 && time.Unix(0, h).Before(dl) {
			dl = time.Unix(0, h)
		}
		if !dl.After(now) {
			dl = now.Add(time.Millisecond) // decided below, after one more try
		}
		c.Conn.SetReadDeadline(dl)
		n, err := c.Conn.Read(b)
		if n > 0 {
			c.since.Store(time.Now().UnixNano())
			return n, err
		}
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		now = time.Now()
		switch h := c.hard.Load(); {
		case h != 0 && !now.Before(time.Unix(0, h)):
			return 0, c.stall(errors.New("a literal was not read within its deadline (the timeout plus 32 KiB/s of its size); connection closed"))
		case c.expecting.Load() > 0 && now.Sub(time.Unix(0, c.since.Load())) >= c.timeout:
			return 0, c.stall(fmt.Errorf("no answer from the server within %v; connection closed", c.timeout))
		}
		// Nobody waits for the server, or not for that long yet: read on.
	}
}

func (c *timedConn) Write(b []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	n, err := c.Conn.Write(b)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = c.stall(fmt.Errorf("the server took no data for %v; connection closed", c.timeout))
	}
	return n, err
}

// stall records err, closes the connection and returns err.
func (c *timedConn) stall(err error) error {
	c.mu.Lock()
	if c.stalled == nil {
		c.stalled = err
	}
	c.mu.Unlock()
	c.Conn.Close()
	return err
}

// The deadlines are this type's; those of the client above are ignored.
func (c *timedConn) SetDeadline(time.Time) error      { return nil }
func (c *timedConn) SetReadDeadline(time.Time) error  { return nil }
func (c *timedConn) SetWriteDeadline(time.Time) error { return nil }
