package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/mailbox/devserver"
	"github.com/ticketd/ticketd/ticket"
)

// testStack is the embedded IMAP+SMTP servers and a config file for them.
type testStack struct {
	srv *devserver.Server
	cfg string
	dir string
}

func newStack(t *testing.T, extra ...string) *testStack {
	t.Helper()
	srv, err := devserver.Start(devserver.Options{
		Users: map[string]string{"support@example.test": "pw", "kim@example.test": "pw", "lee@example.org": "pw",
			"agent@example.test": "pw", "agent2@example.test": "pw"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	// Unix socket paths are limited to ~104 bytes; t.TempDir() can be long.
	dir, err := os.MkdirTemp("", "td")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// /healthz and /metrics stay off unless a test asks (http_test.go): two
	// test processes must not fight over the default port.
	if !strings.Contains("\n"+strings.Join(extra, "\n"), "\nhttp:") {
		extra = append(extra, `http: {listen: "off"}`)
	}
	ih, ip, _ := net.SplitHostPort(srv.IMAPAddr())
	sh, sp, _ := net.SplitHostPort(srv.SMTPAddr())
	cfg := fmt.Sprintf(`data_dir: %s
center: {name: "서민금융 고객센터", address: support@example.test}
mailboxes:
  - {name: support, host: %s, port: %s, security: plain, username: support@example.test, password_env: TD_TEST_PW}
smtp: {host: %s, port: %s, security: plain}
outbox: {min_backoff: 50ms, max_backoff: 200ms}
log: {level: warn}
%s
`, dir, ih, ip, sh, sp, strings.Join(extra, "\n"))
	path := filepath.Join(dir, "ticketd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TD_TEST_PW", "pw")
	st := &testStack{srv: srv, cfg: path, dir: dir}
	// The database, as an operator makes it; a stack whose config a test
	// made bad on purpose gets none.
	if code, out, errs := st.ticketd(t, nil, "init"); code != exitConfig && (code != 0 || !strings.Contains(out, "created")) {
		t.Fatalf("init: exit %d: %s%s", code, out, errs)
	}
	return st
}

// ticketd runs one command line in-process and returns its exit code and
// output.
func (s *testStack) ticketd(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runChecked(t, context.Background(), append([]string{"--config", s.cfg}, args...), bytes.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func (s *testStack) show(t *testing.T, id int) map[string]any {
	t.Helper()
	code, out, errs := s.ticketd(t, nil, "tickets", "show", strconv.Itoa(id), "--json")
	if code != 0 {
		t.Fatalf("tickets show %d: exit %d: %s", id, code, errs)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("tickets show --json: %v\n%s", err, out)
	}
	return v
}

const inquiry = "From: =?UTF-8?B?6rmA6rOg6rCd?= <kim@example.test>\r\nTo: support@example.test\r\nCc: lee@example.org\r\n" +
	"Subject: =?UTF-8?B?64yA7LacIOyDge2ZmOydvCDrrLjsnZg=?=\r\nMessage-ID: <inq-1@example.test>\r\n" +
	"Date: Tue, 24 Nov 2026 10:00:00 +0900\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
	"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n상환일을 바꾸고 싶습니다.\r\n" +
	"--b\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"screen.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n"

func TestPollAcknowledgeFollowUpAndShow(t *testing.T) {
	s := newStack(t)
	s.srv.Append("support@example.test", "INBOX", []byte(inquiry))
	if code, out, errs := s.ticketd(t, nil, "poll"); code != 0 || !strings.Contains(out, "new tickets 1") {
		t.Fatalf("poll: exit %d\n%s\n%s", code, out, errs)
	}
	// The acknowledgement arrived in the customer's mailbox with our headers.
	msgs, err := s.srv.Messages("kim@example.test", "INBOX")
	if err != nil || len(msgs) != 1 {
		t.Fatalf("customer has %d mails (%v), want the acknowledgement", len(msgs), err)
	}
	ack, err := mailbox.Parse(msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	if ack.Subject != "[#1] 대출 상환일 문의" || ack.InReplyTo != "inq-1@example.test" ||
		strings.Join(ack.References, " ") != "inq-1@example.test" ||
		ack.Headers["Auto-Submitted"] != "auto-replied" || ack.Headers["X-Auto-Response-Suppress"] != "All" ||
		!strings.HasPrefix(ack.MessageID, "t1.") || ack.From.Email != "support@example.test" {
		t.Fatalf("acknowledgement headers wrong: %+v", ack)
	}
	if got, _ := s.srv.Messages("lee@example.org", "INBOX"); len(got) != 0 {
		t.Fatalf("the Cc'd address got %d acknowledgements, want none", len(got))
	}

	// The customer replies to the acknowledgement: a follow-up, no new ack.
	reply := fmt.Sprintf("From: kim@example.test\r\nTo: support@example.test\r\nSubject: Re: %s\r\n"+
		"Message-ID: <inq-2@example.test>\r\nIn-Reply-To: <%s>\r\nReferences: <inq-1@example.test> <%s>\r\n\r\n추가 질문입니다.\r\n",
		"[#1] 대출 상환일 문의", ack.MessageID, ack.MessageID)
	s.srv.Append("support@example.test", "INBOX", []byte(reply))
	if code, out, _ := s.ticketd(t, nil, "poll"); code != 0 || !strings.Contains(out, "follow-ups 1") {
		t.Fatalf("second poll: exit %d: %s", code, out)
	}
	if got, _ := s.srv.Messages("kim@example.test", "INBOX"); len(got) != 1 {
		t.Fatalf("customer has %d mails after a follow-up, want still 1", len(got))
	}

	v := s.show(t, 1)
	for _, k := range []string{"id", "subject", "status", "requester", "created_at", "updated_at", "messages"} {
		if _, ok := v[k]; !ok {
			t.Errorf("tickets show --json lacks %q", k)
		}
	}
	ms := v["messages"].([]any)
	if len(ms) != 3 {
		t.Fatalf("%d messages, want customer mail, ack, follow-up", len(ms))
	}
	first := ms[0].(map[string]any)
	for _, k := range []string{"id", "direction", "kind", "from", "to", "cc", "subject", "date", "message_id",
		"in_reply_to", "references", "body", "visible", "attachments"} {
		if _, ok := first[k]; !ok {
			t.Errorf("message lacks %q", k)
		}
	}
	if first["message_id"] != "inq-1@example.test" || first["direction"] != "in" || first["kind"] != "customer" {
		t.Errorf("first message %v", first)
	}
	if _, err := time.Parse(time.RFC3339, first["date"].(string)); err != nil {
		t.Errorf("date not RFC 3339: %v", first["date"])
	}
	att := first["attachments"].([]any)
	if len(att) != 1 || att[0].(map[string]any)["filename"] != "screen.png" || att[0].(map[string]any)["size"].(float64) != 8 {
		t.Errorf("attachments %v, want screen.png of 8 bytes", att)
	}
	if ms[1].(map[string]any)["direction"] != "out" || ms[1].(map[string]any)["kind"] != "auto" {
		t.Errorf("second message %v, want our ack", ms[1])
	}
	code, out, _ := s.ticketd(t, nil, "tickets", "list", "--json", "--status", "new")
	var list []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0]["messages"].(float64) != 3 {
		t.Fatalf("tickets list --json: exit %d %s", code, out)
	}
	if code, _, errs := s.ticketd(t, nil, "tickets", "show", "7"); code == 0 || !strings.Contains(errs, "#7: 그런 문의가 없습니다.") {
		t.Fatalf("show of a missing ticket: exit %d %s", code, errs)
	}
}

func TestCLIWorksWhileServeRuns(t *testing.T) {
	s := newStack(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var serveCode atomic.Int32
	wg.Go(func() {
		var out, errb bytes.Buffer
		serveCode.Store(int32(runChecked(t, ctx, []string{"--config", s.cfg, "serve"}, nil, &out, &errb)))
	})
	defer func() { cancel(); wg.Wait() }()
	sock := filepath.Join(s.dir, "ticketd.sock")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("serve did not open its admin socket")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// ingest and poll go through the daemon (the database is locked by it).
	if code, out, errs := s.ticketd(t, []byte(inquiry), "ingest"); code != 0 || !strings.Contains(out, "new ticket #1") {
		t.Fatalf("ingest while serving: exit %d %s %s", code, out, errs)
	}
	if code, out, _ := s.ticketd(t, []byte(inquiry), "ingest"); code != 0 || !strings.Contains(out, "already stored") {
		t.Fatalf("second ingest: exit %d %s", code, out)
	}
	// From another customer: one address gets at most one automatic mail
	// per limits.auto_min_interval.
	second := strings.NewReplacer("inq-1@", "inq-9@", "<kim@example.test>", "<lee@example.org>", "Cc: lee@example.org\r\n", "").Replace(inquiry)
	s.srv.Append("support@example.test", "INBOX", []byte(second))
	if code, out, errs := s.ticketd(t, nil, "poll"); code != 0 || !strings.Contains(out, "new tickets 1") {
		t.Fatalf("poll while serving: exit %d %s %s", code, out, errs)
	}
	if v := s.show(t, 2); v["subject"] != "대출 상환일 문의" {
		t.Fatalf("ticket 2 via the daemon: %v", v["subject"])
	}
	// The daemon's outbox worker sends both acknowledgements.
	acks := func() int {
		a, _ := s.srv.Messages("kim@example.test", "INBOX")
		b, _ := s.srv.Messages("lee@example.org", "INBOX")
		return len(a) + len(b)
	}
	for time.Now().Before(deadline) && acks() < 2 {
		time.Sleep(50 * time.Millisecond)
	}
	if n := acks(); n != 2 {
		t.Fatalf("customers got %d acknowledgements from serve, want 2", n)
	}
	cancel()
	wg.Wait()
	if serveCode.Load() != 0 {
		t.Fatalf("serve exited %d after cancel", serveCode.Load())
	}
	if _, err := os.Stat(sock); err == nil {
		t.Error("admin socket left behind after shutdown")
	}
}

func TestOutboxRetriesAndRecordsFailure(t *testing.T) {
	s := newStack(t)
	var calls atomic.Int32
	s.srv.SetSMTPHook(func(from string, rcpts []string, data []byte) error {
		if data == nil {
			return nil
		}
		switch calls.Add(1) {
		case 1:
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		default:
			return nil
		}
	})
	s.srv.Append("support@example.test", "INBOX", []byte(inquiry))
	s.ticketd(t, nil, "poll") // first attempt: 451, stays queued
	if got, _ := s.srv.Messages("kim@example.test", "INBOX"); len(got) != 0 {
		t.Fatal("mail delivered despite 451")
	}
	v := s.show(t, 1)
	if d := v["messages"].([]any)[1].(map[string]any)["delivery"]; d != ticket.DeliveryQueued {
		t.Fatalf("delivery after 451: %v, want queued", d)
	}
	time.Sleep(300 * time.Millisecond) // past the backoff
	s.ticketd(t, nil, "poll")
	if got, _ := s.srv.Messages("kim@example.test", "INBOX"); len(got) != 1 {
		t.Fatalf("after retry the customer has %d mails, want 1", len(got))
	}

	// A permanent failure is recorded on the ticket and not retried.
	s.srv.SetSMTPHook(func(from string, rcpts []string, data []byte) error {
		if data == nil && len(rcpts) == 1 && rcpts[0] == "lee@example.org" {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	})
	other := strings.NewReplacer("kim@example.test", "lee@example.org", "Cc: lee@example.org\r\n", "", "inq-1@", "inq-3@").Replace(inquiry)
	s.srv.Append("support@example.test", "INBOX", []byte(other))
	s.ticketd(t, nil, "poll")
	m := s.show(t, 2)["messages"].([]any)[1].(map[string]any)
	if m["delivery"] != ticket.DeliveryFailed {
		t.Fatalf("after 550: delivery %v, want failed", m["delivery"])
	}
}

func TestCheckConfigNamesEveryKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.yaml")
	os.WriteFile(path, []byte(`data_dir: ""
timezone: Mars/Olympus
center: {address: "not an address", language: fr, hours: {days: "mon-funday", open: "9am"}}
mailboxes:
  - {name: a, host: imap.example.com, security: plain, username: u, schedule: "every minute", post_action: move}
smtp: {host: smtp.example.com, security: plain}
limits: {ingest_workers: -1, ingest_in_flight_bytes: -5}
`), 0o600)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"--config", path, "check-config"}, nil, &out, &errb)
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	for _, key := range []string{"data_dir", "timezone", "center.address", "center.language", "center.hours.days",
		"center.hours.open", "mailboxes[0].security", "mailboxes[0].password", "mailboxes[0].schedule",
		"mailboxes[0].move_to", "smtp.security", "limits.ingest_workers", "limits.ingest_in_flight_bytes"} {
		if !strings.Contains(errb.String(), key+":") {
			t.Errorf("check-config output lacks %s:\n%s", key, errb.String())
		}
	}
	os.WriteFile(path, []byte("data_dir: x\nunknown_key: 1\n"), 0o600)
	errb.Reset()
	if code := run(context.Background(), []string{"--config", path, "check-config"}, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "unknown_key") {
		t.Fatalf("unknown key: exit %d %s", code, errb.String())
	}
}

func TestIngestEveryCorpusMail(t *testing.T) {
	s := newStack(t)
	root := filepath.Join("..", "..", "testdata", "corpus", "imap_tools", "messages")
	var files []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".eml") {
			files = append(files, p)
		}
		return err
	})
	if len(files) < 100 {
		t.Fatalf("found %d corpus mails, want the whole imap_tools corpus", len(files))
	}
	counts := map[int]int{}
	for _, f := range files {
		code, out, errs := s.ticketd(t, nil, "ingest", f)
		counts[code]++
		if code != exitOK && code != exitDataErr {
			t.Errorf("%s: exit %d\n%s%s", f, code, out, errs)
		}
	}
	t.Logf("ingested %d corpus mails: exit codes %v", len(files), counts)
	code, out, _ := s.ticketd(t, nil, "tickets", "list", "--json")
	var list []ticket.Ticket
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) == 0 {
		t.Fatalf("tickets list after corpus: exit %d", code)
	}
	for _, tk := range list {
		s.show(t, int(tk.ID)) // every ticket renders as JSON
	}
	// A non-mail is rejected with 65 and kept.
	if code, out, _ := s.ticketd(t, []byte("\r\n\r\n"), "ingest"); code != exitDataErr || !strings.Contains(out, "rejected") {
		t.Fatalf("empty mail: exit %d %s", code, out)
	}
}

func TestExampleConfigIsValid(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The example points at files that exist only on a real install; take
	// the passwords from the environment instead.
	text := strings.NewReplacer("password_file: /etc/ticketd/imap-password", "password_file: \"\"",
		"password_file: /etc/ticketd/smtp-password", "password_file: \"\"",
		"password_env: \"\"", "password_env: TD_EXAMPLE_PW",
		"key_file: /etc/ticketd/db-key", "key_file: \"\"", "file: /etc/ticketd/faq.yaml", "file: \"\"", "key_env: \"\"", "key_env: TD_EXAMPLE_KEY").Replace(string(data))
	t.Setenv("TD_EXAMPLE_PW", "x")
	t.Setenv("TD_EXAMPLE_KEY", strings.Repeat("ab", 32))
	path := filepath.Join(t.TempDir(), "example.yaml")
	os.WriteFile(path, []byte(text), 0o600)
	s, errs := loadConfig(path)
	if len(errs) > 0 {
		t.Fatalf("config.example.yaml: %v", errs)
	}
	if s.IMAP[0].Port != 993 || s.SMTP.Port != 587 || s.Ticket.Language != "ko" || s.Loc.String() != "Asia/Seoul" || len(s.Key) != 32 {
		t.Fatalf("example settings %+v", s)
	}
}
