package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// config.example.yaml is exactly what `ticketd config example` prints.
// After changing a key or its doc: go run ./cmd/ticketd config example >
// config.example.yaml
func TestConfigExampleIsGenerated(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if code := run(t.Context(), []string{"config", "example"}, nil, &out, &errs); code != exitOK {
		t.Fatalf("config example: exit %d: %s", code, errs.String())
	}
	if out.String() != string(want) {
		t.Fatalf("config.example.yaml differs from `ticketd config example`; regenerate it with\n\tgo run ./cmd/ticketd config example > config.example.yaml\n%s",
			firstDiff(string(want), out.String()))
	}
}

// firstDiff shows the first line where a and b differ.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + strconv.Itoa(i+1) + ":\n  file:      " + x + "\n  generated: " + y
		}
	}
	return ""
}

// Every key has documentation and every documented key exists; every key
// that is not a section has a value to show.
func TestConfigDocsCoverTheStructs(t *testing.T) {
	docs := configDocs()
	seen := map[string]bool{}
	var walk func(t0 reflect.Type, path string)
	walk = func(t0 reflect.Type, path string) {
		for _, f := range configFields(t0) {
			key := path + f.key
			seen[key] = true
			if _, ok := docs[key]; !ok {
				t.Errorf("%s: no entry in configDocs", key)
			}
			switch {
			case f.section:
				walk(f.typ, key+".")
			case f.list:
				walk(f.typ.Elem(), key+".")
			case !f.hasDefault && !f.hasExample && f.typ.Kind() != reflect.String:
				t.Errorf("%s: neither a default nor an example value", key)
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	for key := range docs {
		if !seen[key] {
			t.Errorf("configDocs documents %s, which is no key", key)
		}
	}
}

// A key left out takes its default, in sections and in every element of a
// list; a key written keeps its value, zero included.
func TestConfigDefaultsOnlyForAbsentKeys(t *testing.T) {
	c, err := parseConfig([]byte(`
data_dir: /x
limits: {auto_min_interval: 0, max_participants: 0}
replies: {cc_participants: false}
mailboxes:
  - {host: a.example}
  - {host: b.example, batch_size: 7, idle_restart: ~}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.AutoMinInterval != 0 || c.Limits.MaxParticipants != 0 || c.Replies.CcParticipants {
		t.Errorf("written zeros were replaced: %+v %+v", c.Limits, c.Replies)
	}
	if c.Limits.AutoPerHour != 5 || c.Limits.SuppressFor != Duration(720*time.Hour) || c.Timezone != "Asia/Seoul" ||
		c.Center.Hours.Open != "09:00" || c.Replies.FromName != "{agent} ({center})" || c.HTTP.Listen != "127.0.0.1:9180" {
		t.Errorf("absent keys without their defaults: %+v", c)
	}
	if len(c.Mailboxes) != 2 {
		t.Fatalf("%d mailboxes", len(c.Mailboxes))
	}
	for i, m := range c.Mailboxes {
		if m.Folder != "INBOX" || m.Schedule != "@every 1m" || m.Security != "tls" || m.Timeout != Duration(2*time.Minute) ||
			m.IdleRestart != Duration(5*time.Minute) {
			t.Errorf("mailboxes[%d] without its defaults: %+v", i, m)
		}
	}
	if c.Mailboxes[0].BatchSize != 500 || c.Mailboxes[1].BatchSize != 7 {
		t.Errorf("batch sizes %d, %d; want 500 (default) and 7", c.Mailboxes[0].BatchSize, c.Mailboxes[1].BatchSize)
	}
}

// A written value that makes no sense is an error naming its key, never
// silently the default.
func TestConfigZeroIsNotTheDefault(t *testing.T) {
	base := func(extra string) string {
		return `data_dir: /x
center: {address: support@example.test}
mailboxes: [{host: 127.0.0.1, security: plain, username: u, password: p}]
smtp: {host: 127.0.0.1, security: plain}
` + extra
	}
	if _, errs := checkConfigText(t, base("")); len(errs) > 0 {
		t.Fatalf("base config: %v", errs)
	}
	for extra, key := range map[string]string{
		"limits: {auto_per_hour: 0}":                            "limits.auto_per_hour",
		"limits: {auto_per_day: 0}":                             "limits.auto_per_day",
		"limits: {suppress_for: 0s}":                            "limits.suppress_for",
		"limits: {max_message_bytes: 0}":                        "limits.max_message_bytes",
		"limits: {ingest_in_flight_bytes: 0}":                   "limits.ingest_in_flight_bytes",
		"outbox: {lease: 0s}":                                   "outbox.lease",
		"health: {fail_after: 0}":                               "health.fail_after",
		"timezone: \"\"":                                        "timezone",
		"center: {address: s@example.test, language: \"\"}":     "center.language",
		"smtp: {host: 127.0.0.1, security: plain, timeout: 0s}": "smtp.timeout",
		"replies: {from_name: \"\"}":                            "replies.from_name",
	} {
		text := base(extra)
		if strings.HasPrefix(extra, "smtp:") {
			text = strings.Replace(base(""), "smtp: {host: 127.0.0.1, security: plain}\n", "", 1) + extra
		}
		if strings.HasPrefix(extra, "center:") {
			text = strings.Replace(base(""), "center: {address: support@example.test}\n", "", 1) + extra
		}
		wantKeyError(t, text, key, extra)
	}
}

// wantKeyError checks the config text and wants an error naming key (what
// says which case it is).
func wantKeyError(t *testing.T, text, key, what string) {
	t.Helper()
	_, errs := checkConfigText(t, text)
	for _, err := range errs {
		if strings.HasPrefix(err.Error(), key+":") {
			return
		}
	}
	t.Errorf("%s: errors %v, want one naming %s", what, errs, key)
}

// checkConfigText parses and checks a config given as text.
func checkConfigText(t *testing.T, text string) (*Settings, []error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ticketd.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return loadConfig(path)
}

// The derived defaults: ports by security, the socket in the data dir,
// the center's name by language, mailbox names by position, a mailbox's
// size limit from limits.
func TestConfigDerivedDefaults(t *testing.T) {
	s, errs := checkConfigText(t, `data_dir: /x
center: {address: support@example.test, language: en}
limits: {max_message_bytes: 1000}
mailboxes:
  - {host: imap.example.test, username: u, password: p}
  - {host: imap.example.test, security: starttls, username: u, password: p, max_message_bytes: 10}
smtp: {host: smtp.example.test, security: tls}
`)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if s.IMAP[0].Port != 993 || s.IMAP[1].Port != 143 || s.SMTP.Port != 465 {
		t.Errorf("ports %d %d %d, want 993 143 465", s.IMAP[0].Port, s.IMAP[1].Port, s.SMTP.Port)
	}
	if s.IMAP[0].Name != "mailbox1" || s.IMAP[1].Name != "mailbox2" || s.IMAP[0].MaxMessageBytes != 1000 || s.IMAP[1].MaxMessageBytes != 10 {
		t.Errorf("mailboxes %+v", s.IMAP)
	}
	if s.Socket != "/x/ticketd.sock" || s.Ticket.CenterName != "Customer Center" || s.Ticket.Support.Name != "Customer Center" {
		t.Errorf("socket %q, center name %q", s.Socket, s.Ticket.CenterName)
	}
	for sec, port := range map[string]int{"starttls": 587, "plain": 25} {
		s, errs := checkConfigText(t, `data_dir: /x
center: {address: support@example.test}
mailboxes: [{host: 127.0.0.1, security: plain, username: u, password: p}]
smtp: {host: 127.0.0.1, security: `+sec+`}
`)
		if len(errs) > 0 || s.SMTP.Port != port || s.SMTP.Timeout != 30*time.Second || s.SMTP.Auth != "plain" {
			t.Errorf("smtp %s: %v, port %d timeout %v auth %q; want %d, 30s, plain", sec, errs, s.SMTP.Port, s.SMTP.Timeout, s.SMTP.Auth, port)
		}
	}
}

// TestConfigYAMLProblemsAtOnce: check-config reports every problem of the
// file's shape at once, each by its key path and line, with the nearest
// known key for a misspelt one.
func TestConfigYAMLProblemsAtOnce(t *testing.T) {
	data := []byte(`data_dir: ./data
center: {name: x, adress: support@example.test}
mailboxes:
  - {name: a, host: imap.example.com, username: u, pasword_file: /x, port: abc}
smtp: {host: smtp.example.com, timeout: 10, security: [tls]}
oauth:
  - {name: o, client-id: x}
agents: {name: k}
`)
	_, err := parseConfig(data)
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		`center.adress: unknown key; did you mean "address"? (line 2)`,
		`mailboxes[0].pasword_file: unknown key; did you mean "password_file"? (line 4)`,
		`mailboxes[0].port: want a whole number, got "abc" (line 4)`,
		`smtp.timeout: want a duration like 30s or 48h, got "10" (line 5)`,
		`smtp.security: want a text, got a list (line 5)`,
		`oauth[0].client-id: unknown key; did you mean "client_id"? (line 7)`,
		`agents: want a list, got a section (line 8)`,
	}
	got := strings.Split(err.Error(), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\n--- want:\n%s", err, strings.Join(want, "\n"))
	}
	// Anchors, aliases and merge keys are YAML, not problems.
	anchored := []byte(`data_dir: ./data
center: {name: x, address: support@example.test}
x-mailbox: &mb {host: imap.example.com, username: u, password_env: P}
mailboxes:
  - {<<: *mb, name: a}
  - *mb
`)
	if _, err := parseConfig(anchored); err != nil && strings.Contains(err.Error(), "mailboxes") {
		t.Errorf("anchors: %v", err)
	}
	if _, errs := checkConfig(Config{Timezone: "KST"}, t.TempDir()); !strings.Contains(fmt.Sprint(errs), `did you mean "Asia/Seoul"?`) {
		t.Errorf("KST: %v", errs)
	}
}

// store: bbolt by default; postgres needs a connection string, which must
// verify the server's certificate unless the host is a loopback one, and
// does not take privacy.key_file yet; the password never shows in an
// error.
func TestConfigStore(t *testing.T) {
	base := `data_dir: /x
center: {address: support@example.test}
mailboxes: [{host: 127.0.0.1, security: plain, username: u, password: p}]
smtp: {host: 127.0.0.1, security: plain}
`
	s, errs := checkConfigText(t, base)
	if len(errs) > 0 || s.StoreDriver != "bbolt" {
		t.Fatalf("default: driver %q, %v", s.StoreDriver, errs)
	}
	t.Setenv("TD_TEST_DSN", "postgres://ticketd:s3cret@127.0.0.1:5432/ticketd?sslmode=disable")
	s, errs = checkConfigText(t, base+"store: {driver: postgres, dsn_env: TD_TEST_DSN}\n")
	if len(errs) > 0 || s.StoreDriver != "postgres" || !strings.Contains(s.StoreDSN, "s3cret") {
		t.Fatalf("postgres on loopback from the environment: %q, %v", s.StoreDriver, errs)
	}
	for extra, key := range map[string]string{
		"store: {driver: sqlite}":                        "store.driver",
		"store: {driver: postgres}":                      "store.dsn",
		"store: {dsn: \"postgres://127.0.0.1/ticketd\"}": "store.dsn",
		"store: {driver: postgres, dsn: \"host=db.example.com dbname=ticketd sslmode=require\"}":         "store.dsn",
		"store: {driver: postgres, dsn: \"postgres://db.example.com,127.0.0.1/ticketd?sslmode=prefer\"}": "store.dsn",
	} {
		wantKeyError(t, base+extra+"\n", key, extra)
	}
	t.Setenv("TD_TEST_KEY", strings.Repeat("ab", 32))
	if s, errs := checkConfigText(t, base+"store: {driver: postgres, dsn_env: TD_TEST_DSN}\nprivacy: {key_env: TD_TEST_KEY}\n"); len(errs) > 0 || len(s.Key) != 32 {
		t.Errorf("a key with postgres: %d bytes, %v", len(s.Key), errs)
	}
	if _, errs := checkConfigText(t, base+"store: {driver: postgres, dsn: \"postgres://db.example.com/ticketd?sslmode=verify-full\"}\n"); len(errs) > 0 {
		t.Errorf("verify-full to a remote host: %v", errs)
	}
	_, errs = checkConfigText(t, base+"store: {driver: postgres, dsn: \"postgres://u:s3cret@db.example.com:notaport/ticketd\"}\n")
	for _, err := range errs {
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the password shows in %q", err)
		}
	}
	if len(errs) == 0 {
		t.Error("a connection string with a bad port was taken")
	}
}
