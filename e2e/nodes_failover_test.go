package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Two ticketd serve nodes on a PostgreSQL primary with a synchronous
// standby, the connection string naming both (target_session_attrs=
// read-write): the primary is killed in the middle of the ingestion and
// the standby promoted; the nodes reconnect to it and every mail is one
// ticket, none twice, each acknowledged.
func TestNodesSurviveAPromotion(t *testing.T) {
	const boxes, per = 4, 40
	var users []string
	for i := 1; i <= boxes; i++ {
		users = append(users, fmt.Sprintf("p%02d", i))
	}
	s := StartWith(t, 42000, "MAILSTACK_USERS=support agent customer "+strings.Join(users, " "))
	pg := StartPostgres(t, 42000)
	if err := pg.StartStandby(); err != nil {
		t.Fatal(err)
	}
	bin := buildTicketd(t, s.RepoRoot())
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(dsnFile, []byte(pg.FailoverDSN()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var cfgs []string
	keyFile := writeKey(t, t.TempDir())
	for range 2 {
		cfg, _ := writeConfig(t, s,
			fmt.Sprintf("store: {driver: postgres, dsn_file: %s, lease: 3s}", dsnFile),
			"privacy: {key_file: "+keyFile+"}",
			"limits: {auto_min_interval: -1s, auto_per_hour: 100000, auto_per_day: 100000}",
			"outbox: {lease: 2s, min_backoff: 200ms, max_backoff: 1s}")
		cfgs = append(cfgs, withMailboxes(t, s, cfg, users))
	}
	var logs []*lockedBuffer
	for _, cfg := range cfgs {
		_, l := serveNode(t, bin, cfg)
		logs = append(logs, l)
	}
	mail := 0
	appendMails := func(n int) {
		t.Helper()
		for _, u := range users {
			var raws [][]byte
			for range n {
				raws = append(raws, fmt.Appendf(nil, "From: customer+f%d@example.test\r\nTo: %s\r\nSubject: failover %d\r\nMessage-ID: <failover-%d@example.test>\r\n"+
					"Date: Thu, 03 Dec 2026 10:00:00 +0900\r\n\r\n문의 %d\r\n", mail, s.Address(u), mail, mail, mail))
				mail++
			}
			if err := s.Append(u, "INBOX", raws); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendMails(per / 2)
	time.Sleep(200 * time.Millisecond) // into the ingestion
	if err := pg.KillPrimary(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if err := pg.Promote(); err != nil {
		t.Fatal(err)
	}
	promoted := time.Since(killed)
	appendMails(per / 2)
	want := mail
	var list []struct {
		Subject string `json:"subject"`
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		code, out := runTicketd(t, bin, cfgs[0], "tickets", "list", "--json")
		list = list[:0]
		if code == 0 && json.Unmarshal([]byte(out), &list) == nil && len(list) >= want {
			break
		}
		if time.Now().After(deadline) {
			for i, l := range logs {
				t.Logf("node %d log (tail):\n%s", i, tail([]byte(l.String()), 30))
			}
			t.Fatalf("%d tickets after 2 minutes, want %d", len(list), want)
		}
	}
	subjects := map[string]int{}
	for _, tk := range list {
		subjects[tk.Subject]++
	}
	// Every mail acknowledged: a send cut by the failover is retried.
	missing, dups := want, 0
	for deadline := time.Now().Add(90 * time.Second); missing > 0 && time.Now().Before(deadline); time.Sleep(time.Second) {
		acks, _ := s.Messages("customer", "INBOX")
		per := map[string]int{}
		for _, a := range acks {
			if m := inReplyTo.FindSubmatch(a); m != nil {
				per[string(m[1])]++
			}
		}
		missing, dups = 0, 0
		for i := range want {
			switch n := per[fmt.Sprintf("failover-%d@example.test", i)]; {
			case n == 0:
				missing++
			case n > 1:
				dups += n - 1
			}
		}
	}
	fmt.Printf("nodes failover: %d mails, the primary killed in the middle and the standby promoted in %v: %d tickets, %d distinct, %d acknowledgements missing, %d duplicate acknowledgements\n",
		want, promoted.Round(10*time.Millisecond), len(list), len(subjects), missing, dups)
	if dups > 16 { // at most one per outbox connection of each node
		t.Errorf("%d duplicate acknowledgements, want at most 16", dups)
	}
	if len(list) != want || len(subjects) != want || missing != 0 {
		t.Errorf("%d tickets for %d subjects (want %d each), %d acknowledgements missing", len(list), len(subjects), want, missing)
	}
}
