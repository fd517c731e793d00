package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketd/ticketd/e2e"
)

// The migrations apply once, however many nodes start together; a
// second run changes nothing; a database newer than the build is refused.
func TestMigrate(t *testing.T) {
	pool := database(t, false)
	ctx := context.Background()
	var wg sync.WaitGroup
	results := make([][2]int, 4)
	errs := make([]error, 4)
	for i := range 4 {
		wg.Go(func() { results[i][0], results[i][1], errs[i] = Migrate(ctx, pool) })
	}
	wg.Wait()
	applied := 0
	for i := range 4 {
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i, errs[i])
		}
		if results[i][1] != SchemaVersion() {
			t.Fatalf("node %d: version %d after Migrate, want %d", i, results[i][1], SchemaVersion())
		}
		if results[i][0] == 0 {
			applied++
		}
	}
	if applied != 1 {
		t.Fatalf("%d of 4 concurrent Migrate calls started from version 0, want exactly 1 (%v)", applied, results)
	}
	var rows int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM schema_version").Scan(&rows); err != nil || rows != SchemaVersion() {
		t.Fatalf("schema_version has %d rows (%v), want %d", rows, err, SchemaVersion())
	}
	if from, to, err := Migrate(ctx, pool); err != nil || from != to || to != SchemaVersion() {
		t.Fatalf("second Migrate = %d, %d, %v", from, to, err)
	}
	if _, err := pool.Exec(ctx, "INSERT INTO schema_version (version, name) VALUES ($1, 'from_the_future.sql')", SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Migrate(ctx, pool); err == nil || !strings.Contains(err.Error(), "newer than this ticketd") {
		t.Fatalf("Migrate on a newer schema: %v, want a refusal", err)
	}
}

func mailboxNames(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("support%02d/INBOX", i))
	}
	return out
}

func newLeases(t *testing.T, pool *pgxpool.Pool, node string, ttl time.Duration) *Leases {
	t.Helper()
	l, err := NewLeases(pool, node, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Three nodes over 20 mailboxes: the first takes all while alone; as the
// others join, each gives back what is beyond its share, and after a few
// rounds each holds 6 or 7, none twice, all held.
func TestLeasesSpread(t *testing.T) {
	pool := database(t, true)
	ctx := context.Background()
	boxes := mailboxNames(20)
	nodes := []*Leases{newLeases(t, pool, "node-a", 30*time.Second), newLeases(t, pool, "node-b", 30*time.Second), newLeases(t, pool, "node-c", 30*time.Second)}
	held, err := nodes[0].Claim(ctx, boxes)
	if err != nil || len(held) != 20 {
		t.Fatalf("the first node alone holds %d (%v), want all 20", len(held), err)
	}
	got := map[string][]Lease{}
	for round := range 4 {
		for _, n := range nodes {
			ls, err := n.Claim(ctx, boxes)
			if err != nil {
				t.Fatal(err)
			}
			got[n.node] = ls
		}
		t.Logf("round %d: %d / %d / %d", round, len(got["node-a"]), len(got["node-b"]), len(got["node-c"]))
	}
	owner := map[string]string{}
	for node, ls := range got {
		if len(ls) < 6 || len(ls) > 7 {
			t.Errorf("%s holds %d, want 6 or 7", node, len(ls))
		}
		for _, l := range ls {
			if o, ok := owner[l.Mailbox]; ok {
				t.Errorf("%s held by %s and %s", l.Mailbox, o, node)
			}
			owner[l.Mailbox] = node
		}
	}
	if len(owner) != 20 {
		t.Errorf("%d of 20 mailboxes held", len(owner))
	}
}

// A node paused past its lease loses it: another takes the mailbox over
// with a higher token, the paused node's writes are refused by the token
// check, and its next Claim no longer returns the lease. While a holder's
// transaction that checked its lease is open, no takeover happens.
func TestLeaseFencing(t *testing.T) {
	pool := database(t, true)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "CREATE TABLE writes (who text, token bigint)"); err != nil {
		t.Fatal(err)
	}
	const ttl = time.Second
	box := []string{"support/INBOX"}
	a, b, c := newLeases(t, pool, "node-a", ttl), newLeases(t, pool, "node-b", ttl), newLeases(t, pool, "node-c", ttl)
	write := func(l Lease) error {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		if err := l.Check(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO writes VALUES ($1, $2)", l.Owner, l.Token); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}
	la, err := a.Claim(ctx, box)
	if err != nil || len(la) != 1 {
		t.Fatalf("a: %v %v", la, err)
	}
	if err := write(la[0]); err != nil {
		t.Fatalf("a's write under its lease: %v", err)
	}
	if lb, err := b.Claim(ctx, box); err != nil || len(lb) != 0 {
		t.Fatalf("b took a held lease: %v %v", lb, err)
	}

	time.Sleep(ttl + 200*time.Millisecond) // a is paused (SIGSTOP, GC) past its lease
	lb, err := b.Claim(ctx, box)
	if err != nil || len(lb) != 1 || lb[0].Token != la[0].Token+1 {
		t.Fatalf("b's takeover: %v %v; want token %d", lb, err, la[0].Token+1)
	}
	if err := write(la[0]); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("a's write after the takeover: %v, want ErrLeaseLost", err)
	}
	if again, err := a.Claim(ctx, box); err != nil || len(again) != 0 {
		t.Fatalf("a's Claim after the takeover: %v %v, want none", again, err)
	}

	// b checks its lease in a transaction and holds it open past the lease:
	// c's takeover skips the locked row until that transaction ends.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := lb[0].Check(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO writes VALUES ('node-b', $1)", lb[0].Token); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ttl + 200*time.Millisecond)
	if lc, err := c.Claim(ctx, box); err != nil || len(lc) != 0 {
		t.Fatalf("c took the lease while b's transaction that checked it was open: %v %v", lc, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	lc, err := c.Claim(ctx, box)
	if err != nil || len(lc) != 1 || lc[0].Token != lb[0].Token+1 {
		t.Fatalf("c's takeover after b's commit: %v %v", lc, err)
	}
	var who []string
	rows, err := pool.Query(ctx, "SELECT who || ':' || token FROM writes ORDER BY token")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		who = append(who, s)
	}
	want := []string{fmt.Sprintf("node-a:%d", la[0].Token), fmt.Sprintf("node-b:%d", lb[0].Token)}
	if !slices.Equal(who, want) {
		t.Fatalf("writes %v, want %v (the paused node's second write refused)", who, want)
	}
}

// A released lease is taken at once by another node, not after its time.
func TestLeaseRelease(t *testing.T) {
	pool := database(t, true)
	ctx := context.Background()
	box := []string{"support/INBOX"}
	a, b := newLeases(t, pool, "node-a", time.Minute), newLeases(t, pool, "node-b", time.Minute)
	la, err := a.Claim(ctx, box)
	if err != nil || len(la) != 1 {
		t.Fatal(la, err)
	}
	if err := a.Release(ctx, la[0]); err != nil {
		t.Fatal(err)
	}
	lb, err := b.Claim(ctx, box)
	if err != nil || len(lb) != 1 || lb[0].Token != la[0].Token+1 {
		t.Fatalf("b after a's release: %v %v", lb, err)
	}
}

// The database fails over: a synchronous standby is promoted after the
// primary is killed, the node's pool finds the new primary
// (target_session_attrs=read-write), its lease and what it wrote under it
// are there, and it goes on with the same token.
func TestLeasesSurviveAPromotion(t *testing.T) {
	srv := e2e.StartPostgres(t, pgBase+100)
	if err := srv.StartStandby(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, srv.FailoverDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, _, err := Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "CREATE TABLE writes (n int)"); err != nil {
		t.Fatal(err)
	}
	box := []string{"support/INBOX"}
	a := newLeases(t, pool, "node-a", 30*time.Second)
	write := func(l Lease, n int) error {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		if err := l.Check(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO writes VALUES ($1)", n); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}
	before, err := a.Claim(ctx, box)
	if err != nil || len(before) != 1 {
		t.Fatal(before, err)
	}
	for n := range 100 {
		if err := write(before[0], n); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.KillPrimary(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := srv.Promote(); err != nil {
		t.Fatal(err)
	}
	var after []Lease
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if after, err = a.Claim(ctx, box); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || len(after) != 1 || after[0].Token != before[0].Token {
		t.Fatalf("after the promotion: %v %v; want the same lease (token %d)", after, err, before[0].Token)
	}
	if err := write(after[0], 100); err != nil {
		t.Fatalf("a write on the new primary: %v", err)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM writes").Scan(&n); err != nil || n != 101 {
		t.Fatalf("%d writes on the new primary (%v), want 101: a committed write was lost", n, err)
	}
	fmt.Printf("postgres promotion: the node renewed its lease on the new primary %v after the primary was killed; 100 of 100 writes committed before are there\n",
		time.Since(start).Round(10*time.Millisecond))
}

// The node's database connections are killed (pg_terminate_backend), one
// of them in the middle of a transaction: that transaction's write is not
// there, the pool reconnects, and the node keeps its lease.
func TestLeasesSurviveKilledConnections(t *testing.T) {
	pool := database(t, true)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "CREATE TABLE writes (n int)"); err != nil {
		t.Fatal(err)
	}
	box := []string{"support/INBOX"}
	a := newLeases(t, pool, "node-a", 30*time.Second)
	before, err := a.Claim(ctx, box)
	if err != nil || len(before) != 1 {
		t.Fatal(before, err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := before[0].Check(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO writes VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	admin, err := pgxpool.New(ctx, pgSrv.AdminDSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var killed int
	if err := admin.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1 AND datname = $2",
		pgSrv.User, strings.ToLower(t.Name())).Scan(&killed); err != nil || killed == 0 {
		t.Fatalf("killed %d connections (%v)", killed, err)
	}
	if err := tx.Commit(ctx); err == nil {
		t.Fatal("a transaction whose connection was killed committed")
	}
	var after []Lease
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if after, err = a.Claim(ctx, box); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || len(after) != 1 || after[0].Token != before[0].Token {
		t.Fatalf("after the kill: %v %v; want the same lease", after, err)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM writes").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d writes (%v), want 0: the killed transaction's write is there", n, err)
	}
	t.Logf("%d connections killed; the lease was renewed with token %d", killed, after[0].Token)
}

// A node stopped in the middle of a transaction that checked its lease
// (SIGSTOP) loses the transaction after idle_in_transaction_session_timeout:
// its lock goes, another node takes the mailbox over, and the stopped
// node's commit fails.
func TestAPausedTransactionEnds(t *testing.T) {
	dsn := freshDSN(t)
	ctx := context.Background()
	st, err := Open(ctx, dsn, &Options{IdleInTx: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	box := []string{"support/INBOX"}
	a, b := newLeases(t, st.Pool(), "node-a", time.Second), newLeases(t, st.Pool(), "node-b", time.Second)
	la, err := a.Claim(ctx, box)
	if err != nil || len(la) != 1 {
		t.Fatal(la, err)
	}
	tx, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := la[0].Check(ctx, tx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // "paused": idle in the transaction past its timeout and the lease
	lb, err := b.Claim(ctx, box)
	if err != nil || len(lb) != 1 || lb[0].Token != la[0].Token+1 {
		t.Fatalf("b's takeover: %v %v", lb, err)
	}
	if err := tx.Commit(ctx); err == nil {
		t.Fatal("the paused transaction committed")
	}
}
