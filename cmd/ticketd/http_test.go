package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ticketd/ticketd/mailbox/imap"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// serveInBackground runs `ticketd serve` with cfg until the test ends and
// returns a function that stops it and returns its exit code and stderr.
func serveInBackground(t *testing.T, cfg string) (stop func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var code int
	var errb bytes.Buffer
	wg.Go(func() {
		var out bytes.Buffer
		code = runChecked(t, ctx, []string{"--config", cfg, "serve"}, nil, &out, &errb)
	})
	var once sync.Once
	stop = func() (int, string) {
		once.Do(func() { cancel(); wg.Wait() })
		return code, errb.String()
	}
	t.Cleanup(func() { stop() })
	return stop
}

// get fetches url and returns the status and body; status 0 when nothing
// answers.
func get(url string) (int, string) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor calls check every 50 ms until it returns "" or the deadline
// passes, then fails with its last complaint.
func waitFor(t *testing.T, d time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metricValue returns the value of the sample named series (name and
// labels exactly as exposed) in a /metrics body, or -1.
func metricValue(body, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return v
}

func TestHealthzAndMetrics(t *testing.T) {
	port := freePort(t)
	s := newStack(t, "http: {listen: 127.0.0.1:"+port+"}")
	s.srv.Append("support@example.test", "INBOX", []byte(inquiry))
	stop := serveInBackground(t, s.cfg)
	base := "http://127.0.0.1:" + port

	// serve polls once at start: the mailbox has a last success.
	var h healthReport
	waitFor(t, 15*time.Second, func() string {
		code, body := get(base + "/healthz")
		h = healthReport{}
		if err := json.Unmarshal([]byte(body), &h); err != nil {
			return fmt.Sprintf("/healthz: %d %v: %s", code, err, body)
		}
		if code != http.StatusOK || h.Status != "ok" || len(h.Mailboxes) != 1 || h.Mailboxes[0].LastSuccess == nil {
			return fmt.Sprintf("/healthz after the first poll: %d %s", code, body)
		}
		return ""
	})
	mb := h.Mailboxes[0]
	if mb.Name != "support/INBOX" || !mb.Healthy || mb.ConsecutiveFailures != 0 || mb.FailingSince != nil || mb.LastError != nil {
		t.Errorf("mailbox health %+v", mb)
	}
	if _, err := time.Parse(time.RFC3339, *mb.LastSuccess); err != nil {
		t.Errorf("last_success not RFC 3339: %v", err)
	}

	// The one mail opened one ticket, and its acknowledgement was sent.
	want := map[string]float64{
		`ticketd_mails_fetched_total{mailbox="support/INBOX"}`:         1,
		`ticketd_tickets_created_total`:                                1,
		`ticketd_followups_total`:                                      0,
		`ticketd_duplicates_total`:                                     0,
		`ticketd_quarantined_total`:                                    0,
		`ticketd_acknowledgements_total{result="queued"}`:              1,
		`ticketd_acknowledgements_total{result="deferred"}`:            0,
		`ticketd_acknowledgements_total{result="withheld"}`:            0,
		`ticketd_acknowledgements_total{result="released"}`:            0,
		`ticketd_alerts_total{kind="protected_address_refused"}`:       0,
		`ticketd_mail_sent_total{result="sent"}`:                       1,
		`ticketd_mail_sent_total{result="retry"}`:                      0,
		`ticketd_mail_sent_total{result="failed"}`:                     0,
		`ticketd_errors_total{kind="imap"}`:                            0,
		`ticketd_errors_total{kind="smtp"}`:                            0,
		`ticketd_errors_total{kind="store"}`:                           0,
		`ticketd_errors_total{kind="panic"}`:                           0,
		`ticketd_outbox_depth`:                                         0,
		`ticketd_outbox_oldest_age_seconds`:                            0,
		`ticketd_mailbox_up{mailbox="support/INBOX"}`:                  1,
		`ticketd_poll_duration_seconds_count{mailbox="support/INBOX"}`: 1,
	}
	var body string
	waitFor(t, 15*time.Second, func() string {
		var code int
		code, body = get(base + "/metrics")
		if code != http.StatusOK {
			return fmt.Sprintf("/metrics: %d %s", code, body)
		}
		for series, v := range want {
			if got := metricValue(body, series); got != v {
				return fmt.Sprintf("/metrics: %s = %v, want %v\n%s", series, got, v, body)
			}
		}
		return ""
	})
	// The Go and process collectors are on the registry too.
	for _, series := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if metricValue(body, series) <= 0 {
			t.Errorf("/metrics lacks %s", series)
		}
	}
	if !strings.Contains(body, "# TYPE ticketd_poll_duration_seconds histogram") {
		t.Error("ticketd_poll_duration_seconds is not a histogram")
	}
	code, hb := get(base + "/healthz")
	if err := json.Unmarshal([]byte(hb), &h); err != nil || code != http.StatusOK || h.Outbox.Depth != 0 || h.Outbox.OldestUnsent != nil {
		t.Errorf("/healthz after the send: %d %s", code, hb)
	}
	if code, _ := get(base + "/other"); code != http.StatusNotFound {
		t.Errorf("/other: %d, want 404", code)
	}

	// On exit the endpoint is shut down with the daemon.
	if code, errs := stop(); code != 0 {
		t.Fatalf("serve exited %d: %s", code, errs)
	}
	if code, _ := get(base + "/healthz"); code != 0 {
		t.Errorf("/healthz still answers (%d) after serve stopped", code)
	}
}

func TestHealthzReportsFailingMailbox(t *testing.T) {
	port := freePort(t)
	s := newStack(t, "http: {listen: 127.0.0.1:"+port+"}", "health: {fail_after: 2}")
	// A second config: the same, with a wrong IMAP password, polled every
	// second.
	data, err := os.ReadFile(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	const badPW = "Wr0ng-Secret-9f3"
	bad := strings.Replace(string(data), "password_env: TD_TEST_PW}", `password: "`+badPW+`", schedule: "@every 1s"}`, 1)
	if bad == string(data) {
		t.Fatal("could not rewrite the mailbox line of the test config")
	}
	cfg := filepath.Join(s.dir, "bad.yaml")
	if err := os.WriteFile(cfg, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	serveInBackground(t, cfg)
	base := "http://127.0.0.1:" + port

	var h healthReport
	var body string
	waitFor(t, 20*time.Second, func() string {
		var code int
		code, body = get(base + "/healthz")
		h = healthReport{}
		if err := json.Unmarshal([]byte(body), &h); err != nil {
			return fmt.Sprintf("/healthz: %d %v: %s", code, err, body)
		}
		if code != http.StatusServiceUnavailable {
			return fmt.Sprintf("/healthz with a wrong password: %d, want 503: %s", code, body)
		}
		return ""
	})
	if h.Status != "unhealthy" || len(h.Mailboxes) != 1 || len(h.Problems) != 1 || !strings.Contains(h.Problems[0], "support/INBOX") {
		t.Fatalf("/healthz: %s", body)
	}
	mb := h.Mailboxes[0]
	if mb.Name != "support/INBOX" || mb.Healthy || mb.ConsecutiveFailures < 2 || mb.LastSuccess != nil ||
		mb.FailingSince == nil || mb.LastError == nil || !strings.Contains(*mb.LastError, "login") {
		t.Fatalf("failing mailbox reported as %s", body)
	}
	if _, err := time.Parse(time.RFC3339, *mb.FailingSince); err != nil {
		t.Errorf("failing_since not RFC 3339: %v", err)
	}
	if strings.Contains(body, badPW) {
		t.Errorf("/healthz shows the password: %s", body)
	}
	_, m := get(base + "/metrics")
	if v := metricValue(m, `ticketd_mailbox_up{mailbox="support/INBOX"}`); v != 0 {
		t.Errorf("ticketd_mailbox_up = %v, want 0", v)
	}
	if v := metricValue(m, `ticketd_errors_total{kind="imap"}`); v < 2 {
		t.Errorf(`ticketd_errors_total{kind="imap"} = %v, want at least 2`, v)
	}
	if strings.Contains(m, badPW) {
		t.Error("/metrics shows the password")
	}
}

// A mailbox is unhealthy from fail_after consecutive failures on, and
// healthy again after a success.
func TestMailboxHealthThreshold(t *testing.T) {
	s, errs := loadConfig(newStack(t, "health: {fail_after: 3}").cfg)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	d := &daemon{s: s, log: slog.New(slog.DiscardHandler)}
	mp, err := imap.NewPoller(s.IMAP[0], nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &poller{Poller: mp}
	for i, want := range []bool{true, true, false, false} { // after 1, 2, 3, 4 failures
		d.record(p, imap.PollStats{}, errors.New("connect: connection refused"))
		if got := d.mailboxHealth(p).Healthy; got != want {
			t.Errorf("after %d failures healthy = %v, want %v", i+1, got, want)
		}
	}
	if mh := d.mailboxHealth(p); mh.ConsecutiveFailures != 4 || mh.FailingSince == nil || mh.LastSuccess != nil ||
		mh.LastError == nil || *mh.LastError != "connect: connection refused" {
		t.Errorf("after 4 failures: %+v", mh)
	}
	// A password in an error's text is never shown.
	s.IMAP[0].Password = "s3cret-pw"
	d.record(p, imap.PollStats{}, errors.New("login with s3cret-pw refused"))
	if mh := d.mailboxHealth(p); *mh.LastError != "login with [redacted] refused" {
		t.Errorf("last_error %q, want the password redacted", *mh.LastError)
	}
	d.record(p, imap.PollStats{}, nil)
	if mh := d.mailboxHealth(p); !mh.Healthy || mh.ConsecutiveFailures != 0 || mh.FailingSince != nil || mh.LastSuccess == nil || mh.LastError != nil {
		t.Errorf("after a success: %+v", mh)
	}
}

func TestCheckConfigHTTP(t *testing.T) {
	for _, c := range []struct {
		extra  string
		listen string // "" off; "!" the key is refused
		key    string // the key named in the error
	}{
		{"", "", ""}, // newStack turns it off
		{"http: {}", "127.0.0.1:9180", ""},
		{"http: {listen: off}", "", ""},
		{`http: {listen: ""}`, "", ""},
		{"http: {listen: \"[::1]:9180\"}", "[::1]:9180", ""},
		{"http: {listen: localhost:9180}", "localhost:9180", ""},
		{"http: {listen: 0.0.0.0:9180}", "!", "http.listen"},
		{`http: {listen: ":9180"}`, "!", "http.listen"},
		{"http: {listen: 192.0.2.1:9180}", "!", "http.listen"},
		{"http: {listen: 127.0.0.1}", "!", "http.listen"},
		{"http: {listen: 127.0.0.1:99999}", "!", "http.listen"},
		{"health: {fail_after: -1}", "", "health.fail_after"},
	} {
		s := newStack(t, c.extra)
		code, out, errs := s.ticketd(t, nil, "check-config")
		if c.key != "" {
			if code != exitConfig || !strings.Contains(errs, c.key+":") {
				t.Errorf("%s: check-config exit %d, want 2 naming %s:\n%s%s", c.extra, code, c.key, out, errs)
			}
			continue
		}
		if code != 0 {
			t.Errorf("%s: check-config exit %d: %s", c.extra, code, errs)
			continue
		}
		st, _ := loadConfig(s.cfg)
		if st.HTTPListen != c.listen || st.Config.Health.FailAfter != 3 {
			t.Errorf("%s: listen %q fail_after %d, want %q and 3", c.extra, st.HTTPListen, st.Config.Health.FailAfter, c.listen)
		}
	}
}

// config.example.yaml lists the http and health keys with their defaults.
func TestExampleConfigDocumentsHTTP(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c Config
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Listen != "127.0.0.1:9180" || c.Health.FailAfter != 3 || c.Health.OutboxMaxAge != Duration(15*time.Minute) {
		t.Fatalf("config.example.yaml: http.listen %q, health %+v; want 127.0.0.1:9180, 3 and 15m", c.HTTP.Listen, c.Health)
	}
}
