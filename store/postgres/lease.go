package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ticketd/ticketd/ticket"
)

// DB is what the leases need of a pool or connection.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ErrLeaseLost is Lease.Check's error when the lease expired or another
// node holds the mailbox now.
var ErrLeaseLost = fmt.Errorf("postgres: the mailbox's lease was lost (expired, or another node took it over): %w", ticket.ErrNotHeld)

// Lease is a node's hold on one mailbox, with the fencing token it was
// acquired with.
type Lease struct {
	Mailbox string
	Owner   string
	Token   int64
}

// Check locks the lease's row (FOR SHARE) in tx and fails with
// ErrLeaseLost unless the lease is still this one (same owner and token)
// and unexpired by the database's clock at this moment. Call it in the
// transaction that writes what the lease allows (the mailbox's cursor and
// messages): a takeover skips the row until tx ends, so what tx commits
// was written under a valid lease.
func (l Lease) Check(ctx context.Context, tx pgx.Tx) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM mailbox_leases
		WHERE mailbox = $1 AND owner = $2 AND token = $3 AND expires_at > clock_timestamp()
		FOR SHARE`, l.Mailbox, l.Owner, l.Token).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %s (token %d)", ErrLeaseLost, l.Mailbox, l.Token)
	} else if err != nil {
		return fmt.Errorf("postgres: check the lease of %s: %w", l.Mailbox, err)
	}
	return nil
}

// Leases hands out mailbox leases to one node.
type Leases struct {
	db   DB
	node string
	ttl  time.Duration
}

// NewLeases returns the leases of node (a name unique among the nodes,
// such as host:pid) that last ttl unless renewed. Renew them (Claim) well
// within ttl, e.g. every ttl/3.
func NewLeases(db DB, node string, ttl time.Duration) (*Leases, error) {
	if node == "" {
		return nil, errors.New("postgres: leases: the node's name is empty")
	}
	if ttl < time.Second {
		return nil, fmt.Errorf("postgres: leases: ttl %v is under a second", ttl)
	}
	return &Leases{db: db, node: node, ttl: ttl}, nil
}

// Claim is one round of a node's leases over mailboxes (the names of
// every mailbox the nodes serve): the node says it is alive, renews the
// leases it holds, gives back those beyond its share (the mailboxes
// divided by the nodes alive, rounded up) so that a node that joined gets
// them, and takes expired or free ones up to its share, each with one
// conditional UPDATE that increments its token. It returns the leases the
// node holds now, in the order of mailboxes. A lease it held and does not
// return was lost: the node must stop polling that mailbox.
func (l *Leases) Claim(ctx context.Context, mailboxes []string) ([]Lease, error) {
	ttl := l.ttl.Seconds()
	if _, err := l.db.Exec(ctx, `INSERT INTO nodes (name, seen_at) VALUES ($1, clock_timestamp())
		ON CONFLICT (name) DO UPDATE SET seen_at = excluded.seen_at`, l.node); err != nil {
		return nil, fmt.Errorf("postgres: leases: heartbeat: %w", err)
	}
	var alive int
	if err := l.db.QueryRow(ctx, `SELECT count(*) FROM nodes WHERE seen_at > clock_timestamp() - make_interval(secs => $1)`, ttl).Scan(&alive); err != nil {
		return nil, fmt.Errorf("postgres: leases: nodes alive: %w", err)
	}
	share := (len(mailboxes) + max(alive, 1) - 1) / max(alive, 1)
	if _, err := l.db.Exec(ctx, `INSERT INTO mailbox_leases (mailbox) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, mailboxes); err != nil {
		return nil, fmt.Errorf("postgres: leases: %w", err)
	}

	held := map[string]int64{}
	rows, err := l.db.Query(ctx, `UPDATE mailbox_leases SET expires_at = clock_timestamp() + make_interval(secs => $3)
		WHERE mailbox = ANY($1) AND owner = $2 AND expires_at > clock_timestamp()
		RETURNING mailbox, token`, mailboxes, l.node, ttl)
	if err != nil {
		return nil, fmt.Errorf("postgres: leases: renew: %w", err)
	}
	for rows.Next() {
		var m string
		var tok int64
		if err := rows.Scan(&m, &tok); err != nil {
			rows.Close()
			return nil, fmt.Errorf("postgres: leases: renew: %w", err)
		}
		held[m] = tok
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: leases: renew: %w", err)
	}

	// Beyond the share: give back the last ones in this node's order.
	order := l.order(mailboxes)
	var mine []string
	for _, m := range order {
		if _, ok := held[m]; ok {
			mine = append(mine, m)
		}
	}
	for _, m := range mine[min(share, len(mine)):] {
		if err := l.release(ctx, Lease{Mailbox: m, Owner: l.node, Token: held[m]}); err != nil {
			return nil, err
		}
		delete(held, m)
	}

	for _, m := range order {
		if len(held) >= share {
			break
		}
		if _, ok := held[m]; ok {
			continue
		}
		var tok int64
		// A row locked by a holder's open transaction (Check) is skipped,
		// not waited for: it is taken in a later round, once that
		// transaction ended (or the server ended it, a node paused past
		// idle_in_transaction_session_timeout).
		err := l.db.QueryRow(ctx, `UPDATE mailbox_leases
			SET owner = $2, token = token + 1, expires_at = clock_timestamp() + make_interval(secs => $3)
			WHERE mailbox = (SELECT mailbox FROM mailbox_leases WHERE mailbox = $1 AND expires_at <= clock_timestamp() FOR UPDATE SKIP LOCKED)
			RETURNING token`, m, l.node, ttl).Scan(&tok)
		switch {
		case errors.Is(err, pgx.ErrNoRows): // another node holds it, or its transaction still runs
		case err != nil:
			return nil, fmt.Errorf("postgres: leases: acquire %s: %w", m, err)
		default:
			held[m] = tok
		}
	}
	var out []Lease
	for _, m := range mailboxes {
		if tok, ok := held[m]; ok {
			out = append(out, Lease{Mailbox: m, Owner: l.node, Token: tok})
		}
	}
	return out, nil
}

// order is the order in which this node tries the mailboxes: each node
// starts at its own place, so that nodes that start together do not all
// race for the same first mailbox.
func (l *Leases) order(mailboxes []string) []string {
	if len(mailboxes) == 0 {
		return nil
	}
	sorted := slices.Sorted(slices.Values(mailboxes))
	h := fnv.New32a()
	h.Write([]byte(l.node))
	i := int(h.Sum32() % uint32(len(sorted)))
	return append(sorted[i:], sorted[:i]...)
}

// Release gives a lease back (on shutdown) so that another node takes the
// mailbox at once instead of after the lease's time.
func (l *Leases) Release(ctx context.Context, le Lease) error { return l.release(ctx, le) }

func (l *Leases) release(ctx context.Context, le Lease) error {
	if _, err := l.db.Exec(ctx, `UPDATE mailbox_leases SET owner = '', expires_at = '-infinity'
		WHERE mailbox = $1 AND owner = $2 AND token = $3`, le.Mailbox, le.Owner, le.Token); err != nil {
		return fmt.Errorf("postgres: leases: release %s: %w", le.Mailbox, err)
	}
	return nil
}

// Holders names the nodes that hold an unexpired lease now, by the
// database's clock: the nodes serving, for commands that must run with
// every node stopped.
func Holders(ctx context.Context, db DB) ([]string, error) {
	rows, err := db.Query(ctx, "SELECT DISTINCT owner FROM mailbox_leases WHERE owner <> '' AND expires_at > clock_timestamp() ORDER BY owner")
	if err != nil {
		return nil, fmt.Errorf("postgres: leases: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: leases: %w", err)
	}
	return out, nil
}
