package main

// The mailbox leases of a node that shares a PostgreSQL store with others
// (store.driver postgres): which mailboxes this node polls and IDLEs.

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketd/ticketd/store/postgres"
)

// nodeLeases keeps this node's leases: a round every ttl/3 renews them,
// gives back what is beyond the node's share and takes free ones; the
// store checks the lease in every transaction that writes a cursor (see
// postgres.Store.SetFence).
type nodeLeases struct {
	l         *postgres.Leases
	pool      *pgxpool.Pool // the leases' own connections
	node      string
	names     []string // every mailbox, by cursor name
	ttl       time.Duration
	log       *slog.Logger
	onAcquire func(name string) // runs on its own goroutine

	mu      sync.Mutex
	held    map[string]postgres.Lease
	validTo time.Time     // the leases count until then, by this node's clock
	changed chan struct{} // closed (and replaced) when held changes
	failing bool
}

func newNodeLeases(db *postgres.Store, names []string, ttl time.Duration, log *slog.Logger) (*nodeLeases, error) {
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	node := fmt.Sprintf("%s:%d", host, os.Getpid())
	// The renewal has connections of its own: it must not wait behind the
	// ingest and the outbox, or the leases lapse under load.
	pool, err := db.SidePool(context.Background(), 2)
	if err != nil {
		return nil, err
	}
	l, err := postgres.NewLeases(pool, node, ttl)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &nodeLeases{l: l, pool: pool, node: node, names: names, ttl: ttl, log: log.With("node", node), held: map[string]postgres.Lease{}, changed: make(chan struct{})}, nil
}

// lease returns the lease this node holds on mailbox, if it still counts.
func (n *nodeLeases) lease(mailbox string) (postgres.Lease, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	l, ok := n.held[mailbox]
	return l, ok && time.Now().Before(n.validTo)
}

// holds reports whether this node holds mailbox now, and the channel
// closed at the next change.
func (n *nodeLeases) holds(mailbox string) (bool, <-chan struct{}) {
	_, ok := n.lease(mailbox)
	n.mu.Lock()
	defer n.mu.Unlock()
	return ok, n.changed
}

// run keeps the leases until ctx is done, then gives them back so that
// another node takes the mailboxes at once.
func (n *nodeLeases) run(ctx context.Context) {
	t := time.NewTicker(n.ttl / 3)
	defer t.Stop()
	for {
		n.round(ctx)
		select {
		case <-ctx.Done():
			n.releaseAll()
			n.pool.Close()
			return
		case <-t.C:
		}
	}
}

// round is one renewal (see postgres.Leases.Claim). When the database
// cannot be reached the leases lapse here at their time too, as they do
// in the database.
func (n *nodeLeases) round(ctx context.Context) {
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, n.ttl/3)
	defer cancel()
	got, err := n.l.Claim(rctx, n.names)
	n.mu.Lock()
	defer n.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil && !n.failing {
			n.log.Error("mailbox leases cannot be renewed; this node stops polling when they lapse (logged again when it recovers)", "err", err, "lapse_in", time.Until(n.validTo).Round(time.Second).String())
		}
		n.failing = ctx.Err() == nil
		return
	}
	if n.failing {
		n.log.Info("mailbox leases renewed again")
		n.failing = false
	}
	now := map[string]postgres.Lease{}
	for _, l := range got {
		now[l.Mailbox] = l
	}
	changed := false
	for name, l := range now {
		if old, ok := n.held[name]; !ok || old.Token != l.Token {
			n.log.Info("mailbox lease acquired; this node polls it", "mailbox", name, "token", l.Token)
			changed = true
			if n.onAcquire != nil {
				go n.onAcquire(name)
			}
		}
	}
	for name, l := range n.held {
		if _, ok := now[name]; !ok {
			n.log.Info("mailbox lease given up or lost; another node polls it", "mailbox", name, "token", l.Token)
			changed = true
		}
	}
	n.held = now
	n.validTo = start.Add(n.ttl * 9 / 10) // a margin for the clocks' rates
	if changed {
		close(n.changed)
		n.changed = make(chan struct{})
	}
}

func (n *nodeLeases) releaseAll() {
	n.mu.Lock()
	held := slices.Collect(maps.Values(n.held))
	n.held = map[string]postgres.Lease{}
	close(n.changed)
	n.changed = make(chan struct{})
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, l := range held {
		if err := n.l.Release(ctx, l); err != nil {
			n.log.Warn("a mailbox lease could not be given back; another node takes it when it lapses", "mailbox", l.Mailbox, "err", err)
		}
	}
}
