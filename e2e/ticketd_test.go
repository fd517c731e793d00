package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/text/encoding/korean"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/ticket"
)

// buildTicketd builds the ticketd binary into a temporary directory.
func buildTicketd(t *testing.T, root string, tags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ticketd")
	args := []string{"build", "-o", bin}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.Command("go", append(args, "./cmd/ticketd")...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// writeKey writes a new random encryption key (privacy.key_file) in dir
// and returns its path; nodes of one database share one.
func writeKey(t testing.TB, dir string) string {
	t.Helper()
	keyFile := filepath.Join(dir, "db-key")
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	return keyFile
}

// writeConfig writes a ticketd config for the stack: IMAPS and submission
// with STARTTLS + AUTH, both verifying the stack's certificate, the
// password from a file.
func writeConfig(t *testing.T, s *Stack, extra ...string) (cfg, dataDir string) {
	t.Helper()
	if !strings.Contains(strings.Join(extra, "\n"), "http:") {
		extra = append(extra, `http: {listen: "off"}`) // tests run serve side by side
	}
	dir, err := os.MkdirTemp("", "td-e2e")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pwFile := filepath.Join(dir, "password")
	os.WriteFile(pwFile, []byte(s.Password+"\n"), 0o600)
	if !strings.Contains(strings.Join(extra, "\n"), "privacy:") {
		// Encrypted at rest, as an installed ticketd is.
		extra = append(extra, "privacy: {key_file: "+writeKey(t, dir)+"}")
	}
	support := s.Address("support")
	c := fmt.Sprintf(`data_dir: %s/data
center:
  name: 서민금융 고객센터
  address: %s
mailboxes:
  - name: support
    host: 127.0.0.1
    port: %d
    security: tls
    ca_file: %s
    username: %s
    password_file: %s
    post_action: move
    move_to: Processed
smtp:
  host: 127.0.0.1
  port: %d
  security: starttls
  ca_file: %s
  username: %s
  password_file: %s
%s
`, dir, support, s.IMAPSPort, s.CACert, support, pwFile, s.SubmissionPort, s.CACert, support, pwFile, strings.Join(extra, "\n"))
	cfg = filepath.Join(dir, "ticketd.yaml")
	if err := os.WriteFile(cfg, []byte(c), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, filepath.Join(dir, "data")
}

// lockedBuffer collects the output of a ticketd process; safe for concurrent
// use (exec copies the output in a goroutine of its own).
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// writeFile writes a test's file or fails the test.
func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func runTicketd(t *testing.T, bin, cfg string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--config", cfg}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return code, out.String()
}

func euckrMail(t *testing.T, msgid string) []byte {
	enc := func(s string) []byte {
		b, err := korean.EUCKR.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var b bytes.Buffer
	b.WriteString("From: customer@example.test\r\nTo: support@example.test\r\n")
	b.WriteString("Subject: =?EUC-KR?B?" + b64(enc("햇살론 상환 문의")) + "?=\r\n")
	b.WriteString("Message-ID: <" + msgid + ">\r\nDate: Tue, 24 Nov 2026 10:00:00 +0900\r\nMIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: multipart/mixed; boundary=\"xx\"\r\n\r\n--xx\r\n")
	b.WriteString("Content-Type: text/plain; charset=euc-kr\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.Write(enc("상환일을 변경하고 싶습니다.\r\n"))
	b.WriteString("--xx\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"doc.pdf\"\r\n")
	b.WriteString("Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--xx--\r\n")
	return b.Bytes()
}

func TestTicketdAgainstDovecotAndPostfix(t *testing.T) {
	s := Start(t, 24000)
	bin := buildTicketd(t, s.RepoRoot())
	cfg, dataDir := writeConfig(t, s)
	if code, out := runTicketd(t, bin, cfg, "check-config"); code != 0 {
		t.Fatalf("check-config: %d\n%s", code, out)
	}

	// A customer writes to support through Postfix.
	if err := s.SendMail("customer@example.test", []string{"support@example.test"}, euckrMail(t, "e2e-1@example.test")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitMessage("support", "INBOX", HasMessageID("e2e-1@example.test"), 30*time.Second); err != nil {
		t.Fatalf("mail never reached support's INBOX: %v", err)
	}
	code, out := runTicketd(t, bin, cfg, "poll")
	if code != 0 || !strings.Contains(out, "new tickets 1") {
		t.Fatalf("poll: exit %d\n%s", code, out)
	}

	// The acknowledgement is read back from the customer's INBOX over IMAP.
	raw, err := s.WaitMessage("customer", "INBOX", Contains("Auto-Submitted: auto-replied"), 30*time.Second)
	if err != nil {
		t.Fatalf("acknowledgement never arrived: %v", err)
	}
	ack, err := mailbox.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if ack.Subject != "[#1] 햇살론 상환 문의" || ack.InReplyTo != "e2e-1@example.test" ||
		ack.Headers["X-Auto-Response-Suppress"] != "All" || !strings.Contains(ack.Text, "#1") {
		t.Fatalf("acknowledgement: subject %q in-reply-to %q headers %v\n%s", ack.Subject, ack.InReplyTo, ack.Headers, ack.Text)
	}
	t.Logf("acknowledgement received: %q from %s", ack.Subject, ack.From.Email)

	// The mail was moved to Processed after it was stored.
	if left, _ := s.Messages("support", "INBOX"); len(left) != 0 {
		t.Errorf("support INBOX still holds %d mails after move", len(left))
	}
	if moved, _ := s.Messages("support", "Processed"); len(moved) != 1 {
		t.Errorf("Processed holds %d mails, want 1", len(moved))
	}

	// The customer replies to the acknowledgement: a follow-up on #1.
	reply := fmt.Sprintf("From: customer@example.test\r\nTo: support@example.test\r\nSubject: Re: [#1] follow-up\r\n"+
		"Message-ID: <e2e-2@example.test>\r\nIn-Reply-To: <%s>\r\nReferences: <e2e-1@example.test> <%s>\r\n\r\nthanks\r\n",
		ack.MessageID, ack.MessageID)
	s.SendMail("customer@example.test", []string{"support@example.test"}, []byte(reply))
	s.WaitMessage("support", "INBOX", HasMessageID("e2e-2@example.test"), 30*time.Second)
	if code, out := runTicketd(t, bin, cfg, "poll"); code != 0 || !strings.Contains(out, "follow-ups 1") {
		t.Fatalf("second poll: exit %d\n%s", code, out)
	}

	code, out = runTicketd(t, bin, cfg, "tickets", "show", "1", "--json")
	if code != 0 {
		t.Fatalf("tickets show: %d\n%s", code, out)
	}
	var v ticketJSON
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if v.Subject != "햇살론 상환 문의" || len(v.Messages) != 3 {
		t.Fatalf("ticket #1: subject %q, %d messages", v.Subject, len(v.Messages))
	}
	if m := v.Messages[0]; strings.TrimSpace(m.Body) != "상환일을 변경하고 싶습니다." || len(m.Attachments) != 1 || m.Attachments[0].Size != 9 {
		t.Errorf("customer message: body %q, attachments %+v", m.Body, m.Attachments)
	}
	if v.Messages[1].Delivery != "sent" || v.Messages[2].MessageID != "e2e-2@example.test" {
		t.Errorf("ack delivery %q, follow-up message-id %q", v.Messages[1].Delivery, v.Messages[2].MessageID)
	}

	// serve holds the database; the CLI goes through its admin socket, and
	// SIGTERM stops it cleanly.
	serve := exec.Command(bin, "--config", cfg, "serve")
	serveLog := &lockedBuffer{}
	serve.Stdout, serve.Stderr = serveLog, serveLog
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	// The admin socket appears after serve has its signal handler and the
	// database; until then a CLI command could open the database itself.
	sock := filepath.Join(dataDir, "ticketd.sock")
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
	}
	_, listOut := runTicketd(t, bin, cfg, "tickets", "list")
	serve.Process.Signal(syscall.SIGTERM)
	err = serve.Wait()
	if !strings.Contains(listOut, "#1") {
		t.Errorf("tickets list while serving: %q\nserve log:\n%s", listOut, serveLog.String())
	}
	if err != nil {
		t.Errorf("serve after SIGTERM: %v\n%s", err, serveLog.String())
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

type ticketJSON struct {
	Subject  string `json:"subject"`
	Messages []struct {
		Body        string `json:"body"`
		MessageID   string `json:"message_id"`
		Delivery    string `json:"delivery"`
		Attachments []struct {
			Size int64 `json:"size"`
		} `json:"attachments"`
	} `json:"messages"`
}

// agentAnswers sends the agent's reply (raw, Message-ID mid) to the
// notification's Reply-To address to, waits until it is in the support
// mailbox, polls, and returns the answer the customer received (the mail
// In-Reply-To the customer's first mail, customerMID).
func agentAnswers(t *testing.T, s *Stack, to, mid string, raw []byte, customerMID string, poll func()) *ticket.Mail {
	t.Helper()
	if err := s.SendMail("agent@example.test", []string{to}, raw); err != nil {
		t.Fatal(err)
	}
	s.WaitMessage("support", "INBOX", HasMessageID(mid), 30*time.Second)
	poll()
	got, err := s.WaitMessage("customer", "INBOX", func(raw []byte) bool {
		return Contains("In-Reply-To: <"+customerMID+">")(raw) && !Contains("Auto-Submitted:")(raw)
	}, 30*time.Second)
	if err != nil {
		t.Fatalf("the customer never got the agent's answer: %v", err)
	}
	m, err := mailbox.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
