package hostile

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure [Start].
type Options struct {
	// Messages are the mails of INBOX, UIDs 1, 2, ...
	Messages [][]byte
	Plan     Plan
	// Caps is the capability list (default "IMAP4rev1 IDLE UIDPLUS MOVE").
	Caps string
	// Lifetime is how long the server runs before it closes itself
	// (default 2 minutes).
	Lifetime time.Duration
}

// Plan says how the server misbehaves. The zero Plan is a well-behaved
// server.
type Plan struct {
	// Stall stops the connection, reading and writing nothing more, when
	// the command of this name arrives ("LOGIN", "SELECT", "EXAMINE",
	// "UID SEARCH", "UID FETCH", "UID STORE", "NOOP", "IDLE", "DONE"),
	// once: the one after StallAfter earlier ones of that name (on any
	// connection). Later ones are answered, unless StallAlways.
	Stall       string
	StallAfter  int
	StallAlways bool
	// StallMidLiteral stops the connection half way through the body of
	// this UID, the first time it is fetched.
	StallMidLiteral uint32
	// SizeLie is the RFC822.SIZE given for a UID instead of the truth.
	SizeLie map[uint32]int64
	// BodyLen makes the body (BODY[]) of a UID a generated mail of this
	// many bytes, streamed.
	BodyLen map[uint32]int64
	// HeaderLen makes BODY[HEADER] of a UID this many bytes, streamed.
	HeaderLen map[uint32]int64
	// Unsolicited adds to every answer to a FETCH that asks for no body
	// an unasked BODY[] literal of this many bytes.
	Unsolicited int64
	// FetchNO makes a FETCH of a body answer NO when its set holds one of
	// these UIDs (after answering for the others).
	FetchNO map[uint32]bool
	// Omit makes a FETCH of a body leave these UIDs out.
	Omit map[uint32]bool
}

// Server is a running hostile IMAP server.
type Server struct {
	ln   net.Listener
	opts Options
	// id is in the greeting: the port may be another server's later.
	id   string
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup

	mu       sync.Mutex
	conns    []net.Conn
	commands []string
	seen     map[string]int // commands received, by name
	flags    map[uint32][]string
	midDone  bool // StallMidLiteral has stalled
}

// Start listens on 127.0.0.1 and serves until Close or the lifetime ends.
func Start(opts Options) (*Server, error) {
	if opts.Caps == "" {
		opts.Caps = "IMAP4rev1 IDLE UIDPLUS MOVE"
	}
	if opts.Lifetime <= 0 {
		opts.Lifetime = 2 * time.Minute
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("hostile: %w", err)
	}
	s := &Server{ln: ln, opts: opts, done: make(chan struct{}), seen: map[string]int{}, flags: map[uint32][]string{}, id: rand.Text()[:12]}
	s.wg.Add(1)
	go s.accept()
	time.AfterFunc(opts.Lifetime, s.Close)
	return s, nil
}

// Greeting is the greeting's text after the capabilities: "hostile ready"
// and the server's own id.
func (s *Server) Greeting() string { return "hostile ready " + s.id }

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server and drops every connection.
func (s *Server) Close() {
	s.once.Do(func() {
		// The listener first: a stalled connection ends when done is
		// closed, and whoever sees it end must find the port closed.
		s.ln.Close()
		close(s.done)
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
}

// Commands lists the commands received, in order ("UID FETCH 1:3 (UID
// RFC822.SIZE)").
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands)
}

// Count is how many commands started with prefix.
func (s *Server) Count(prefix string) int {
	n := 0
	for _, c := range s.Commands() {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// Flags returns the flags set on a UID with UID STORE.
func (s *Server) Flags(uid uint32) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.flags[uid])
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.serve(c)
		}()
	}
}

// errStall ends a connection's handling without closing it.
var errStall = errors.New("stalled")

// session is one connection.
type session struct {
	s *Server
	r *bufio.Reader
	w *bufio.Writer
}

func (s *Server) serve(c net.Conn) {
	ss := &session{s: s, r: bufio.NewReader(c), w: bufio.NewWriter(c)}
	ss.printf("* OK [CAPABILITY %s] %s\r\n", s.opts.Caps, s.Greeting())
	for {
		if err := ss.w.Flush(); err != nil {
			return
		}
		line, err := ss.r.ReadString('\n')
		if err != nil {
			return
		}
		tag, name, args := parse(strings.TrimRight(line, "\r\n"))
		if err := ss.command(tag, name, args); err != nil {
			if errors.Is(err, errStall) {
				ss.w.Flush()
				<-s.done // half-open: nothing more either way
			}
			return
		}
	}
}

// parse splits "A1 UID FETCH 1:* (UID)" into its tag, name ("UID FETCH")
// and arguments.
func parse(line string) (tag, name, args string) {
	tag, rest, _ := strings.Cut(line, " ")
	name, args, _ = strings.Cut(rest, " ")
	name = strings.ToUpper(name)
	if name == "UID" {
		var sub string
		sub, args, _ = strings.Cut(args, " ")
		name += " " + strings.ToUpper(sub)
	}
	if tag == "DONE" && name == "" {
		return "", "DONE", ""
	}
	return tag, name, args
}

func (ss *session) printf(format string, a ...any) { fmt.Fprintf(ss.w, format, a...) }

// stall reports whether the plan stops the connection at this command,
// counting the command otherwise.
func (ss *session) stall(name string) bool {
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[name]++
	plan := s.opts.Plan
	return plan.Stall == name && (s.seen[name] == plan.StallAfter+1 || (plan.StallAlways && s.seen[name] > plan.StallAfter))
}

func (ss *session) command(tag, name, args string) error {
	s := ss.s
	s.mu.Lock()
	s.commands = append(s.commands, strings.TrimSpace(name+" "+args))
	s.mu.Unlock()
	if ss.stall(name) {
		return errStall
	}
	n := len(s.opts.Messages)
	switch name {
	case "CAPABILITY":
		ss.printf("* CAPABILITY %s\r\n%s OK done\r\n", s.opts.Caps, tag)
	case "LOGIN", "NOOP", "UID EXPUNGE", "UID COPY", "UID MOVE", "CREATE":
		ss.printf("%s OK done\r\n", tag)
	case "SELECT", "EXAMINE":
		ss.printf("* %d EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT %d] ok\r\n* FLAGS (\\Seen \\Deleted)\r\n%s OK done\r\n", n, n+1, tag)
	case "UID SEARCH":
		set := args
		if i := strings.LastIndex(strings.ToUpper(args), "UID "); i >= 0 {
			set = strings.Fields(args[i+4:])[0]
		}
		var b strings.Builder
		for _, u := range uidSet(set, n) {
			fmt.Fprintf(&b, " %d", u)
		}
		ss.printf("* SEARCH%s\r\n%s OK done\r\n", b.String(), tag)
	case "UID STORE":
		set, rest, _ := strings.Cut(args, " ")
		s.mu.Lock()
		for _, u := range uidSet(set, n) {
			s.flags[u] = append(s.flags[u], rest)
		}
		s.mu.Unlock()
		ss.printf("%s OK done\r\n", tag)
	case "UID FETCH":
		return ss.fetch(tag, args)
	case "IDLE":
		ss.printf("+ idling\r\n")
		if err := ss.w.Flush(); err != nil {
			return err
		}
		line, err := ss.r.ReadString('\n')
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.commands = append(s.commands, strings.TrimSpace(line))
		s.mu.Unlock()
		if ss.stall("DONE") {
			return errStall
		}
		ss.printf("%s OK idle done\r\n", tag)
	case "LOGOUT":
		ss.printf("* BYE\r\n%s OK bye\r\n", tag)
		ss.w.Flush()
		return io.EOF
	default:
		ss.printf("%s BAD unknown command\r\n", tag)
	}
	return nil
}

// fetch answers UID FETCH set (items).
func (ss *session) fetch(tag, args string) error {
	s, plan := ss.s, ss.s.opts.Plan
	set, items, _ := strings.Cut(args, " ")
	items = strings.ToUpper(items)
	body := strings.Contains(items, "BODY.PEEK[]") || strings.Contains(items, "BODY[]")
	header := strings.Contains(items, "BODY.PEEK[HEADER]")
	no := false
	for _, u := range uidSet(set, len(s.opts.Messages)) {
		if (body || header) && plan.FetchNO[u] {
			no = true
			continue
		}
		if body && plan.Omit[u] {
			continue
		}
		raw := s.opts.Messages[u-1]
		size := int64(len(raw))
		if n, ok := plan.BodyLen[u]; ok {
			size = n
		}
		told := size
		if n, ok := plan.SizeLie[u]; ok {
			told = n
		}
		ss.printf("* %d FETCH (UID %d", u, u)
		if strings.Contains(items, "RFC822.SIZE") {
			ss.printf(" RFC822.SIZE %d", told)
		}
		switch {
		case body:
			ss.printf(" BODY[] {%d}\r\n", size)
			s.mu.Lock()
			mid := u == plan.StallMidLiteral && !s.midDone
			s.midDone = s.midDone || mid
			s.mu.Unlock()
			if err := ss.literal(u, raw, size, mid); err != nil {
				return err
			}
		case header:
			h := raw
			if i := strings.Index(string(raw), "\r\n\r\n"); i >= 0 {
				h = raw[:i+4]
			}
			hsize := int64(len(h))
			if n, ok := plan.HeaderLen[u]; ok {
				hsize = n
			}
			ss.printf(" BODY[HEADER] {%d}\r\n", hsize)
			if err := ss.literal(u, h, hsize, false); err != nil {
				return err
			}
		case plan.Unsolicited > 0:
			ss.printf(" BODY[] {%d}\r\n", plan.Unsolicited)
			if err := ss.literal(u, nil, plan.Unsolicited, false); err != nil {
				return err
			}
		}
		ss.printf(")\r\n")
	}
	if no {
		ss.printf("%s NO [SERVERBUG] cannot read a mail\r\n", tag)
	} else {
		ss.printf("%s OK done\r\n", tag)
	}
	return nil
}

// literal writes size bytes: raw, then generated filler (a valid mail
// when raw is empty), stopping half way when stall is set.
func (ss *session) literal(uid uint32, raw []byte, size int64, stall bool) error {
	if len(raw) == 0 || int64(len(raw)) > size {
		raw = fmt.Appendf(nil, "From: gen@example.org\r\nTo: support@example.test\r\nSubject: generated %d\r\nMessage-ID: <gen-%d@hostile>\r\n\r\n", uid, uid)
		if int64(len(raw)) > size {
			raw = raw[:size]
		}
	}
	half := size / 2
	var written int64
	fill := []byte(strings.Repeat("x", 75) + "\r\n")
	for written < size {
		chunk := fill
		if written < int64(len(raw)) {
			chunk = raw[written:]
		}
		chunk = chunk[:min(int64(len(chunk)), size-written)]
		if stall && written+int64(len(chunk)) > half {
			chunk = chunk[:max(half-written, 0)]
			ss.w.Write(chunk)
			return errStall
		}
		if _, err := ss.w.Write(chunk); err != nil {
			return err
		}
		written += int64(len(chunk))
	}
	return nil
}

// uidSet expands "1:3,5,7:*" over UIDs 1..n ("*" is n; "n:*" with n past
// the last UID names the last one, as RFC 3501 says).
func uidSet(set string, n int) []uint32 {
	var out []uint32
	num := func(s string) uint32 {
		if s == "*" {
			return uint32(n)
		}
		v, _ := strconv.ParseUint(s, 10, 32)
		return uint32(v)
	}
	for _, part := range strings.Split(set, ",") {
		a, b, isRange := strings.Cut(part, ":")
		lo, hi := num(a), num(a)
		if isRange {
			hi = num(b)
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		for u := lo; u <= hi && u <= uint32(n); u++ {
			if u > 0 && !slices.Contains(out, u) {
				out = append(out, u)
			}
		}
	}
	return out
}
