package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Three ticketd serve nodes on one PostgreSQL and one Dovecot with 20
// mailboxes: the leases spread over the nodes; a node killed with SIGKILL
// in the middle of the ingestion has its mailboxes taken over after its
// lease; a node stopped with SIGSTOP past its lease has them taken over,
// and when it goes on (SIGCONT) its commits are refused by the lease check.
// In the end every mail is one ticket, none is stored twice, none is
// missing an acknowledgement, and the duplicate acknowledgements are
// counted: at most one per outbox connection (8) for the crash and for the
// pause each, since a node stopped in the middle of a send finishes it when
// it goes on, after another node took the mail over past its outbox lease.
// Then every database connection of the nodes is terminated
// (pg_terminate_backend) while more mail arrives: they reconnect.
func TestNodesShareMailboxes(t *testing.T) {
	const boxes, nodes = 20, 3
	var users []string
	for i := 1; i <= boxes; i++ {
		users = append(users, fmt.Sprintf("m%02d", i))
	}
	s := StartWith(t, 41000, "MAILSTACK_USERS=support agent customer "+strings.Join(users, " "))
	pg := StartPostgres(t, 41000)
	bin := buildTicketd(t, s.RepoRoot())
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(dsnFile, []byte(pg.DSN()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var cfgs []string
	keyFile := writeKey(t, t.TempDir()) // the nodes share the key as they share the database
	for range nodes {
		cfg, _ := writeConfig(t, s,
			fmt.Sprintf("store: {driver: postgres, dsn_file: %s, lease: 3s}", dsnFile),
			"privacy: {key_file: "+keyFile+"}",
			"limits: {auto_min_interval: -1s, auto_per_hour: 100000, auto_per_day: 100000}",
			"outbox: {lease: 2s, min_backoff: 200ms, max_backoff: 1s}")
		cfgs = append(cfgs, withMailboxes(t, s, cfg, users))
	}
	logs := make([]*lockedBuffer, nodes)
	procs := make([]*exec.Cmd, nodes)
	for i := range nodes {
		procs[i], logs[i] = serveNode(t, bin, cfgs[i])
	}
	ctx := context.Background()
	db, err := pgxpool.New(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// holders: the live leases by node process id.
	holders := func() map[int]int {
		out := map[int]int{}
		rows, err := db.Query(ctx, "SELECT owner FROM mailbox_leases WHERE expires_at > clock_timestamp()")
		if err != nil {
			return out
		}
		defer rows.Close()
		for rows.Next() {
			var owner string
			rows.Scan(&owner)
			_, pid, _ := strings.Cut(owner, ":")
			n, _ := strconv.Atoi(pid)
			out[n]++
		}
		return out
	}
	waitSpread := func(alive int) map[int]int {
		t.Helper()
		var h map[int]int
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			h = holders()
			total, most := 0, 0
			for _, n := range h {
				total += n
				most = max(most, n)
			}
			if len(h) == alive && total == boxes && most <= (boxes+alive-1)/alive {
				return h
			}
		}
		t.Fatalf("leases did not spread over %d nodes: %v", alive, h)
		return nil
	}
	h := waitSpread(nodes)
	fmt.Printf("nodes: leases spread over %d nodes: %v (node pid: mailboxes)\n", nodes, h)

	mail := 0
	appendMails := func(per int) {
		t.Helper()
		for _, u := range users {
			var raws [][]byte
			for range per {
				raws = append(raws, fmt.Appendf(nil, "From: customer+n%d@example.test\r\nTo: %s\r\nSubject: nodes %d\r\nMessage-ID: <nodes-%d@example.test>\r\n"+
					"Date: Thu, 03 Dec 2026 10:00:00 +0900\r\n\r\n문의 %d\r\n", mail, s.Address(u), mail, mail, mail))
				mail++
			}
			if err := s.Append(u, "INBOX", raws); err != nil {
				t.Fatal(err)
			}
		}
	}
	// SIGKILL in the middle of the ingestion: the node that holds m01.
	appendMails(10)
	time.Sleep(300 * time.Millisecond)
	victim := -1
	for i, p := range procs {
		if h := holders(); h[p.Process.Pid] > 0 {
			victim = i
			break
		}
	}
	procs[victim].Process.Kill()
	procs[victim].Wait()
	killedAt := time.Now()
	appendMails(5)
	h = waitSpread(nodes - 1)
	fmt.Printf("nodes: node %d killed (SIGKILL); its mailboxes taken over within %v: %v\n", victim, time.Since(killedAt).Round(100*time.Millisecond), h)

	// SIGSTOP past the lease, then SIGCONT.
	paused := -1
	for i := range procs {
		if i != victim {
			paused = i
			break
		}
	}
	procs[paused].Process.Signal(syscall.SIGSTOP)
	appendMails(5)
	time.Sleep(5 * time.Second) // past the 3 s lease
	h = waitSpread(nodes - 2)
	procs[paused].Process.Signal(syscall.SIGCONT)
	appendMails(5)
	time.Sleep(2 * time.Second)

	// Every database connection of the nodes cut (pg_terminate_backend):
	// they reconnect and go on.
	admin, err := pgxpool.New(ctx, pg.AdminDSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var cut int
	if err := admin.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1", pg.User).Scan(&cut); err != nil {
		t.Fatal(err)
	}
	appendMails(5)
	fmt.Printf("nodes: %d database connections of the nodes terminated while mail arrived\n", cut)

	want := mail
	var list []struct {
		Subject  string `json:"subject"`
		Messages int    `json:"messages"`
	}
	alive := 3 - victim - paused // the node neither killed nor paused
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, out := runTicketd(t, bin, cfgs[alive], "tickets", "list", "--json")
		list = list[:0]
		if code == 0 && json.Unmarshal([]byte(out), &list) == nil && len(list) >= want {
			break
		}
		if time.Now().After(deadline) {
			have := map[string]bool{}
			for _, tk := range list {
				have[tk.Subject] = true
			}
			for i := range want {
				if !have[fmt.Sprintf("nodes %d", i)] {
					id := fmt.Sprintf("nodes-%d@example.test", i)
					for n := range logs {
						for _, line := range strings.Split(logs[n].String(), "\n") {
							if strings.Contains(line, id) || strings.Contains(line, fmt.Sprintf("uid %d\"", i%25+1)) {
								t.Logf("node %d: %s", n, line)
							}
						}
					}
					t.Logf("missing: %s", id)
				}
			}
			_, q := runTicketd(t, bin, cfgs[alive], "quarantine", "list")
			t.Fatalf("%d tickets after 2 minutes, want %d; quarantine:\n%s", len(list), want, q)
		}
		time.Sleep(time.Second)
	}
	subjects := map[string]int{}
	for _, tk := range list {
		subjects[tk.Subject]++
	}
	twice := 0
	for _, n := range subjects {
		if n > 1 {
			twice++
		}
	}
	// Acknowledgements: one per mail, a duplicate only from the crash.
	var acks [][]byte
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		if acks, _ = s.Messages("customer", "INBOX"); len(acks) >= want {
			break
		}
	}
	time.Sleep(3 * time.Second) // a retry after an outbox lease would land now
	acks, _ = s.Messages("customer", "INBOX")
	per := map[string]int{}
	for _, a := range acks {
		if m := inReplyTo.FindSubmatch(a); m != nil {
			per[string(m[1])]++
		}
	}
	missing, dups := 0, 0
	for i := range want {
		switch n := per[fmt.Sprintf("nodes-%d@example.test", i)]; {
		case n == 0:
			missing++
		case n > 1:
			dups += n - 1
		}
	}
	refused := strings.Count(logs[paused].String(), "another node holds the mailbox now")
	fmt.Printf("nodes: %d mails into %d mailboxes, 1 SIGKILL, 1 SIGSTOP of 5 s, connections terminated: %d tickets, %d stored twice, %d acknowledgements missing, %d duplicate acknowledgements (at most 16 allowed); the paused node's log names %d refused commit(s)\n",
		want, boxes, len(list), twice, missing, dups, refused)
	if len(list) != want || len(subjects) != want || twice != 0 {
		t.Errorf("%d tickets for %d distinct subjects, %d stored twice; want %d, none twice", len(list), len(subjects), twice, want)
	}
	if missing != 0 || dups > 16 {
		t.Errorf("%d acknowledgements missing, %d duplicates", missing, dups)
	}
}

// withMailboxes rewrites cfg (as writeConfig wrote it) to poll the
// mailboxes of users instead of support's, each every second (IDLE on),
// marking what it took \Seen, and returns its path.
func withMailboxes(t *testing.T, s *Stack, cfg string, users []string) string {
	t.Helper()
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	head, rest, _ := bytes.Cut(text, []byte("mailboxes:\n"))
	_, tail, _ := bytes.Cut(rest, []byte("smtp:\n"))
	pw := regexp.MustCompile(`password_file: (\S+)`).FindSubmatch(rest)[1]
	var mb strings.Builder
	mb.WriteString("mailboxes:\n")
	for _, u := range users {
		fmt.Fprintf(&mb, "  - {name: %s, host: 127.0.0.1, port: %d, security: tls, ca_file: %s, username: %s, password_file: %s, schedule: \"@every 1s\", post_action: seen}\n",
			u, s.IMAPSPort, s.CACert, s.Address(u), pw)
	}
	out := append(append(append(head, mb.String()...), "smtp:\n"...), tail...)
	if err := os.WriteFile(cfg, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// serveNode starts ticketd serve on cfg; it is killed when the test ends
// (continued first, if stopped), its log's tail shown if the test failed.
func serveNode(t *testing.T, bin, cfg string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	log := &lockedBuffer{}
	cmd := exec.Command(bin, "--config", cfg, "serve")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGCONT)
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("%s serve log (tail):\n%s", filepath.Base(filepath.Dir(cfg)), tail([]byte(log.String()), 40))
		}
	})
	return cmd, log
}
