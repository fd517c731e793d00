package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// EnvVar must be "1" for Start to run a stack; otherwise the test is skipped.
const EnvVar = "TICKETD_E2E"

const (
	upTimeout   = 20 * time.Minute // includes a first-time apt-get install
	lockTimeout = 10 * time.Minute // waiting for another stack with the same port base
	ioTimeout   = 60 * time.Second // a single SMTP or IMAP session in the helpers
)

// Stack is a running Dovecot + Postfix started by scripts/mailstack/up.sh.
type Stack struct {
	Dir            string // the stack's directory (env, etc/, log/, var/)
	Host           string // always 127.0.0.1
	IMAPPort       int    // plain IMAP (STARTTLS offered, plaintext login allowed)
	IMAPSPort      int    // IMAP over implicit TLS
	SMTPPort       int    // SMTP, no AUTH needed from 127.0.0.1
	SubmissionPort int    // submission: STARTTLS and AUTH required
	SMTPSPort      int    // SMTP over implicit TLS, AUTH required
	CACert         string // path of the self-signed certificate (PEM) to trust
	Password       string // every user's password ("secret")
	Domain         string // mail domain ("example.test")
	Users          []string

	root string
	env  map[string]string

	stop     func() error // StartStack's; nil for Start
	stopOnce sync.Once
	stopErr  error
}

// Start skips the test unless TICKETD_E2E=1, fails it if not run as root,
// then starts a mail stack with scripts/mailstack/up.sh (ports from
// MAILSTACK_PORT_BASE=base) in a directory made with t.TempDir, and stops it
// with down.sh when the test and its subtests end. Give every test that runs
// a stack concurrently with others its own base, 1000 apart.
func Start(t testing.TB, base int) *Stack {
	t.Helper()
	return StartWith(t, base)
}

// StartWith is Start with more of up.sh's settings, as KEY=VALUE (e.g.
// "MAILSTACK_OAUTH_INTROSPECTION_URL=http://127.0.0.1:8080/introspect").
func StartWith(t testing.TB, base int, env ...string) *Stack {
	t.Helper()
	if os.Getenv(EnvVar) != "1" {
		t.Skipf("end-to-end test against a real Dovecot + Postfix: set %s=1 and run as root, e.g. sudo scripts/test.sh", EnvVar)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("%s=1 needs root (Postfix does): run sudo scripts/test.sh", EnvVar)
	}
	if base < 1024 || base > 64000 {
		t.Fatalf("e2e.Start: port base %d out of range [1024, 64000]", base)
	}
	root, err := FindRepoRoot()
	if err != nil {
		t.Fatalf("e2e.Start: %v", err)
	}
	down := filepath.Join(root, "scripts", "mailstack", "down.sh")

	lock, err := lockBase(base, down, t.Logf)
	if err != nil {
		t.Fatalf("e2e.Start: %v", err)
	}
	t.Cleanup(lock.release) // runs last: after down.sh and the TempDir removal
	dir := t.TempDir()
	// Registered after t.TempDir, so it runs before the directory is removed.
	t.Cleanup(func() {
		if t.Failed() {
			logTails(t.Logf, dir)
		}
		out, err := exec.Command("bash", down, dir).CombinedOutput()
		if err != nil {
			t.Errorf("mailstack down.sh %s: %v\n%s", dir, err, out)
		}
	})
	s, err := startIn(context.Background(), root, base, dir, lock, t.Logf, env...)
	if err != nil {
		t.Fatalf("e2e.Start: %v", err)
	}
	return s
}

// StartStack is Start outside a test (e.g. for a benchmark command): it
// must run as root, starts a mail stack on port base in a new directory
// under os.TempDir, and logs through logf (nil: not at all). Cancelling ctx
// while up.sh runs stops it. The caller must call Stop, which stops the
// stack and removes its directory; on error nothing is left running.
//
// env are more MAILSTACK_* settings for up.sh ("MAILSTACK_USERS=support agent m01").
func StartStack(ctx context.Context, base int, logf func(format string, args ...any), env ...string) (*Stack, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("e2e.StartStack: must run as root (Postfix does)")
	}
	if base < 1024 || base > 64000 {
		return nil, fmt.Errorf("e2e.StartStack: port base %d out of range [1024, 64000]", base)
	}
	root, err := FindRepoRoot()
	if err != nil {
		return nil, fmt.Errorf("e2e.StartStack: %w", err)
	}
	down := filepath.Join(root, "scripts", "mailstack", "down.sh")
	lock, err := lockBase(base, down, logf)
	if err != nil {
		return nil, fmt.Errorf("e2e.StartStack: %w", err)
	}
	dir, err := os.MkdirTemp("", "ticketd-stack")
	if err != nil {
		lock.release()
		return nil, fmt.Errorf("e2e.StartStack: %w", err)
	}
	stop := func() error {
		defer lock.release()
		out, err := exec.Command("bash", down, dir).CombinedOutput()
		if err != nil {
			return fmt.Errorf("mailstack down.sh %s: %w\n%s", dir, err, out)
		}
		return nil
	}
	s, err := startIn(ctx, root, base, dir, lock, logf, env...)
	if err != nil {
		logTails(logf, dir)
		if serr := stop(); serr != nil {
			logf("%v", serr)
		}
		return nil, fmt.Errorf("e2e.StartStack: %w", err)
	}
	s.stop = stop
	return s, nil
}

// Stop stops a stack started by StartStack and removes its directory. It
// may be called more than once, from any goroutine; calls after the first
// return its result. A stack from Start is stopped by the test's cleanup,
// and Stop does nothing.
func (s *Stack) Stop() error {
	s.stopOnce.Do(func() {
		if s.stop != nil {
			s.stopErr = s.stop()
		}
	})
	return s.stopErr
}

// startIn runs up.sh in dir, which lock (for base) now names, and reads the
// stack's env file.
func startIn(ctx context.Context, root string, base int, dir string, lock *baseLock, logf func(string, ...any), env ...string) (*Stack, error) {
	if err := lock.record(dir); err != nil {
		return nil, err
	}
	up := filepath.Join(root, "scripts", "mailstack", "up.sh")
	ctx, cancel := context.WithTimeout(ctx, upTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", up, dir)
	cmd.Env = append(append(os.Environ(), "MAILSTACK_PORT_BASE="+strconv.Itoa(base)), env...)
	cmd.Stdin = nil
	cmd.WaitDelay = 10 * time.Second // the daemons detach their stdio; just in case
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("mailstack up.sh (MAILSTACK_PORT_BASE=%d) failed after %v: %w\n%s", base, time.Since(start).Round(time.Millisecond), err, out)
	}
	logf("mail stack up in %v: %s (IMAP %d, SMTP %d)", time.Since(start).Round(time.Millisecond), dir, base+143, base+25)

	s, err := parseEnv(filepath.Join(dir, "env"))
	if err != nil {
		return nil, fmt.Errorf("%w\nup.sh output:\n%s", err, out)
	}
	s.root = root
	return s, nil
}

// RepoRoot returns the path of the repository root (the directory with go.mod).
func (s *Stack) RepoRoot() string { return s.root }

// FindRepoRoot finds go.mod upwards from the working directory.
func FindRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found above the working directory")
		}
		dir = parent
	}
}

// Address returns user's full mail address: "support" -> "support@example.test".
// An argument that already has an @ is returned as it is.
func (s *Stack) Address(user string) string {
	if strings.Contains(user, "@") {
		return user
	}
	return user + "@" + s.Domain
}

// Addr returns "127.0.0.1:port".
func (s *Stack) Addr(port int) string { return net.JoinHostPort(s.Host, strconv.Itoa(port)) }

// RootCAs returns a pool holding the stack's self-signed certificate.
func (s *Stack) RootCAs() (*x509.CertPool, error) {
	pem, err := os.ReadFile(s.CACert)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", s.CACert)
	}
	return pool, nil
}

// TLSConfig returns a client config that verifies the stack's certificate
// (valid for 127.0.0.1 and localhost).
func (s *Stack) TLSConfig() (*tls.Config, error) {
	pool, err := s.RootCAs()
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, ServerName: s.Host, MinVersion: tls.VersionTLS12}, nil
}

// SendMail submits raw (a whole RFC 5322 message) over the plain SMTP port,
// without TLS or AUTH (Postfix accepts mail from 127.0.0.1). Bare LF line
// endings are sent as CRLF.
func (s *Stack) SendMail(from string, to []string, raw []byte) error {
	conn, err := net.DialTimeout("tcp", s.Addr(s.SMTPPort), 10*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		return err
	}
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return err
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("MAIL FROM:<%s>: %w", from, err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return fmt.Errorf("RCPT TO:<%s>: %w", rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(raw); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	return c.Quit()
}

// DialIMAP connects to the plain IMAP port and logs in as user ("support"
// or "support@example.test") with the stack's password. The caller closes
// the client (Logout().Wait() or Close()).
func (s *Stack) DialIMAP(user string) (*imapclient.Client, error) {
	return s.dialIMAP(user, time.Time{})
}

// DialIMAPS is DialIMAP over the implicit-TLS port, verifying the certificate.
func (s *Stack) DialIMAPS(user string) (*imapclient.Client, error) {
	cfg, err := s.TLSConfig()
	if err != nil {
		return nil, err
	}
	c, err := imapclient.DialTLS(s.Addr(s.IMAPSPort), &imapclient.Options{
		TLSConfig: cfg,
		Dialer:    &net.Dialer{Timeout: 10 * time.Second},
	})
	if err != nil {
		return nil, err
	}
	if err := c.Login(s.Address(user), s.Password).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("IMAPS login %s: %w", s.Address(user), err)
	}
	return c, nil
}

// dialIMAP: a non-zero deadline bounds every read and write on the connection.
func (s *Stack) dialIMAP(user string, deadline time.Time) (*imapclient.Client, error) {
	conn, err := net.DialTimeout("tcp", s.Addr(s.IMAPPort), 10*time.Second)
	if err != nil {
		return nil, err
	}
	if !deadline.IsZero() {
		if err := conn.SetDeadline(deadline); err != nil {
			conn.Close()
			return nil, err
		}
	}
	c := imapclient.New(conn, nil)
	if err := c.Login(s.Address(user), s.Password).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("IMAP login %s: %w", s.Address(user), err)
	}
	return c, nil
}

var bodyPeek = &imap.FetchItemBodySection{Peek: true} // BODY.PEEK[]

// fetchRaw fetches BODY.PEEK[] of uids (in the selected mailbox) and returns
// the messages in UID order.
func fetchRaw(c *imapclient.Client, uids imap.UIDSet) ([]imap.UID, [][]byte, error) {
	msgs, err := c.Fetch(uids, &imap.FetchOptions{
		UID:         true,
		BodySection: []*imap.FetchItemBodySection{bodyPeek},
	}).Collect()
	if err != nil {
		return nil, nil, err
	}
	sort.Slice(msgs, func(i, j int) bool { return msgs[i].UID < msgs[j].UID })
	ids := make([]imap.UID, 0, len(msgs))
	raws := make([][]byte, 0, len(msgs))
	for _, m := range msgs {
		raw := m.FindBodySection(bodyPeek)
		if raw == nil {
			return nil, nil, fmt.Errorf("UID %d: no BODY[] in FETCH response", m.UID)
		}
		ids = append(ids, m.UID)
		raws = append(raws, raw)
	}
	return ids, raws, nil
}

// Messages returns the raw bytes of every message in user's folder, in UID
// order, without setting \Seen.
func (s *Stack) Messages(user, folder string) ([][]byte, error) {
	c, err := s.dialIMAP(user, time.Now().Add(ioTimeout))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	sel, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return nil, fmt.Errorf("EXAMINE %q as %s: %w", folder, s.Address(user), err)
	}
	if sel.NumMessages == 0 {
		return nil, c.Logout().Wait()
	}
	_, raws, err := fetchRaw(c, imap.UIDSet{{Start: 1, Stop: 0}}) // 1:*
	if err != nil {
		return nil, err
	}
	return raws, c.Logout().Wait()
}

// WaitMessage polls user's folder over IMAP (plain port, login
// user@domain / password) until a message whose raw bytes satisfy match is
// there (one that was there already counts), or timeout passes. It returns
// the raw bytes of the first (lowest UID) matching message.
func (s *Stack) WaitMessage(user, folder string, match func(raw []byte) bool, timeout time.Duration) ([]byte, error) {
	raws, err := s.WaitMessages(user, folder, match, 1, timeout)
	if err != nil {
		return nil, err
	}
	return raws[0], nil
}

// WaitMessages is WaitMessage for n messages: it polls until at least n
// messages in the folder satisfy match and returns the raw bytes of all the
// matching messages, in UID order. On timeout the error says how many matched.
func (s *Stack) WaitMessages(user, folder string, match func(raw []byte) bool, n int, timeout time.Duration) ([][]byte, error) {
	if n < 1 {
		n = 1
	}
	deadline := time.Now().Add(timeout)
	var (
		c       *imapclient.Client
		lastErr error
		seen    map[imap.UID]bool
		matched map[imap.UID][]byte
	)
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for {
		err := func() error {
			if c == nil {
				var err error
				// a little slack past the deadline so a last poll can finish
				if c, err = s.dialIMAP(user, deadline.Add(5*time.Second)); err != nil {
					return err
				}
				seen, matched = map[imap.UID]bool{}, map[imap.UID][]byte{}
				if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
					return fmt.Errorf("EXAMINE %q: %w", folder, err)
				}
			} else if err := c.Noop().Wait(); err != nil { // lets Dovecot report new mail
				return err
			}
			found, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait() // UID SEARCH ALL
			if err != nil {
				return err
			}
			var fresh imap.UIDSet
			for _, uid := range found.AllUIDs() {
				if !seen[uid] {
					fresh.AddNum(uid)
				}
			}
			if len(fresh) == 0 {
				return nil
			}
			uids, raws, err := fetchRaw(c, fresh)
			if err != nil {
				return err
			}
			for i, uid := range uids {
				seen[uid] = true
				if match == nil || match(raws[i]) {
					matched[uid] = raws[i]
				}
			}
			return nil
		}()
		if err != nil {
			lastErr = err
			if c != nil {
				c.Close()
				c = nil
			}
		} else if len(matched) >= n {
			uids := make([]imap.UID, 0, len(matched))
			for uid := range matched {
				uids = append(uids, uid)
			}
			sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
			out := make([][]byte, len(uids))
			for i, uid := range uids {
				out[i] = matched[uid]
			}
			return out, nil
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("%s/%s: %d of %d wanted messages after %v", s.Address(user), folder, len(matched), n, timeout)
			if lastErr != nil {
				return nil, fmt.Errorf("%s (last error: %w)", msg, lastErr)
			}
			return nil, errors.New(msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// HasMessageID returns a match function for WaitMessage that is true for a
// message whose Message-ID header is id (angle brackets optional).
func HasMessageID(id string) func(raw []byte) bool {
	want := strings.Trim(strings.TrimSpace(id), "<>")
	return func(raw []byte) bool {
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			return false
		}
		return strings.Trim(strings.TrimSpace(m.Header.Get("Message-Id")), "<>") == want
	}
}

// Contains returns a match function that is true for a message whose raw
// bytes contain sub.
func Contains(sub string) func(raw []byte) bool {
	return func(raw []byte) bool { return bytes.Contains(raw, []byte(sub)) }
}

func parseEnv(path string) (*Stack, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		env[k] = strings.Trim(v, "'")
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	s := &Stack{
		Dir:      env["MAILSTACK_DIR"],
		Host:     env["MAILSTACK_HOST"],
		CACert:   env["MAILSTACK_CA_CERT"],
		Password: env["MAILSTACK_PASSWORD"],
		Domain:   env["MAILSTACK_DOMAIN"],
		Users:    strings.Fields(env["MAILSTACK_USERS"]),
		env:      env,
	}
	for key, dst := range map[string]*int{
		"MAILSTACK_IMAP_PORT":       &s.IMAPPort,
		"MAILSTACK_IMAPS_PORT":      &s.IMAPSPort,
		"MAILSTACK_SMTP_PORT":       &s.SMTPPort,
		"MAILSTACK_SUBMISSION_PORT": &s.SubmissionPort,
		"MAILSTACK_SMTPS_PORT":      &s.SMTPSPort,
	} {
		p, err := strconv.Atoi(env[key])
		if err != nil {
			return nil, fmt.Errorf("%s: %s=%q: %v", path, key, env[key], err)
		}
		*dst = p
	}
	if s.Dir == "" || s.Host == "" || s.CACert == "" || s.Domain == "" {
		return nil, fmt.Errorf("%s: incomplete (MAILSTACK_DIR, _HOST, _CA_CERT, _DOMAIN needed)", path)
	}
	return s, nil
}

// logTails logs the end of the stack's logs (for a failed test).
func logTails(logf func(string, ...any), dir string) {
	for _, name := range []string{"start.log", "dovecot.log", "postfix.log"} {
		b, err := os.ReadFile(filepath.Join(dir, "log", name))
		if err != nil || len(b) == 0 {
			continue
		}
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		logf("---- tail of %s/log/%s ----\n%s", dir, name, b)
	}
}

// baseLock makes sure one stack at a time uses a port base on this machine,
// and cleans up after a test binary that died without running its cleanups
// (e.g. killed by go test -timeout): the lock file names the directory of the
// stack that holds it; flock is released by the kernel when its holder dies,
// so a name found in an unlocked file is a leftover stack, stopped by down.sh.
type baseLock struct{ f *os.File }

func lockBase(base int, down string, logf func(string, ...any)) (*baseLock, error) {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("ticketd-mailstack-%d.lock", base))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	waitUntil := time.Now().Add(lockTimeout)
	logged := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("flock %s: %w", path, err)
		}
		if time.Now().After(waitUntil) {
			f.Close()
			return nil, fmt.Errorf("port base %d still in use by another stack after %v (lock %s)", base, lockTimeout, path)
		}
		if !logged {
			logf("port base %d is in use by another stack; waiting for it (lock %s)", base, path)
			logged = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	prev, _ := os.ReadFile(path)
	if old := strings.TrimSpace(string(prev)); old != "" {
		if _, err := os.Stat(filepath.Join(old, ".mailstack")); err == nil {
			out, err := exec.Command("bash", down, old).CombinedOutput()
			logf("stopped a leftover mail stack on port base %d (%s): err=%v %s", base, old, err, out)
		}
	}
	return &baseLock{f: f}, nil
}

func (l *baseLock) record(dir string) error {
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	_, err := l.f.WriteAt([]byte(dir+"\n"), 0)
	return err
}

func (l *baseLock) release() {
	_ = l.f.Truncate(0)
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
}
