package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketd/ticketd/store/seal"
	"github.com/ticketd/ticketd/ticket"
)

// Store implements ticket.Store on PostgreSQL. Update runs its function in
// a SERIALIZABLE transaction, as bbolt's single writer does, and runs it
// again when PostgreSQL refuses the commit for a conflict with another
// node's (serialization failure or deadlock), up to updateTries times: the
// function must not keep what it learnt from a run that was rolled back.
type Store struct {
	pool *pgxpool.Pool
	ctx  context.Context
	// conflicts counts the runs of Update refused for a conflict.
	conflicts atomic.Int64
	// writer makes this Store's read-write transactions one at a time, as
	// bbolt's are: PostgreSQL's serializable transactions lock whole
	// index pages on a read (the page of the newest ids is every new
	// row's), so concurrent writers of one node would mostly refuse each
	// other (measured: more rollbacks than commits with a poller per
	// mailbox and the outbox's connections writing at once); between
	// nodes, the conflicts that are left are run again.
	writer sync.Mutex
	// fence, when set, is the node's leases: see SetFence.
	fence atomic.Pointer[Fence]
	// s seals the rows (nil: no key, see seal.go); index is the search
	// index's key, indexID its id.
	s       *seal.Sealer
	index   [32]byte
	indexID string
}

// Options are Open's.
type Options struct {
	// IdleInTx, when positive, is the server's
	// idle_in_transaction_session_timeout for the store's sessions: a
	// node stopped in the middle of a transaction (SIGSTOP, a long GC
	// pause, a partition) loses it, and its locks, after this; give the
	// mailbox leases' time, so that a takeover is not held up longer than
	// they are.
	IdleInTx time.Duration
	// Key, when set, encrypts the rows (seal.go): a database with a key
	// needs it, one without gets it. OldKeys open rows sealed with
	// earlier keys while Seal re-encrypts them.
	Key     []byte
	OldKeys [][]byte
}

// Fence says which lease, if any, the node holds on a mailbox (named as its
// cursor is).
type Fence func(mailbox string) (Lease, bool)

// SetFence makes every transaction that writes a mailbox's cursor (each
// ingest batch of a poll, and the post-action's record) check, in that
// transaction, that the node still holds the mailbox's lease with the
// token it was acquired with (Lease.Check): a node paused past its lease
// cannot commit after another took the mailbox over. Without a fence
// (one node, or the CLI) cursors are written unchecked.
func (s *Store) SetFence(f Fence) { s.fence.Store(&f) }

var _ ticket.Store = (*Store)(nil)

// updateTries bounds the runs of one Update refused for a conflict; each
// waits a random time first, up to twice as long as the one before (from
// 2 ms, at most 200 ms).
const updateTries = 20

// blobChunk is the size of the rows raw mail is stored in.
const blobChunk = 64 << 10

// Blob kinds in the blobs table.
const (
	blobRaw      = 1 // a message's raw mail
	blobRejected = 2 // a quarantined mail's
)

// poolConns is the size of a store's connection pool unless the
// connection string says (pool_max_conns): a node's pollers, outbox lanes
// and admin requests each hold one while they work (pgxpool's own default
// is the number of cores, at least 4).
const poolConns = 24

// Open connects to the database dsn names, migrates its schema and
// checks the key (o may be nil).
func Open(ctx context.Context, dsn string, o *Options) (*Store, error) {
	if o == nil {
		o = &Options{}
	}
	st := &Store{ctx: context.WithoutCancel(ctx)}
	if o.Key != nil {
		var err error
		if st.s, err = seal.New(o.Key, o.OldKeys...); err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
	}
	st.index, st.indexID = seal.IndexKey(o.Key)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = poolConns
	}
	if o.IdleInTx > 0 {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = fmt.Sprint(o.IdleInTx.Milliseconds())
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	st.pool = pool
	if _, _, err := Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	if err := st.checkKey(); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return st, nil
}

// Pool is the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// SidePool is a small pool of its own on the same database, for work that
// must not wait behind the store's (the leases' renewal). The caller
// closes it.
func (s *Store) SidePool(ctx context.Context, conns int32) (*pgxpool.Pool, error) {
	cfg := s.pool.Config()
	cfg.MaxConns, cfg.MinConns = conns, 0
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return p, nil
}

// Conflicts is how many times an Update was run again because PostgreSQL
// refused it for a conflict with another transaction.
func (s *Store) Conflicts() int64 { return s.conflicts.Load() }

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Update runs fn in a read-write transaction.
func (s *Store) Update(fn func(tx ticket.Tx) error) error {
	var err error
	wait, lost := 2*time.Millisecond, 0
	for range updateTries {
		s.writer.Lock()
		err = s.update(fn)
		s.writer.Unlock()
		switch {
		case retryable(err):
			s.conflicts.Add(1)
		case transient(err) && lost < connTries:
			// The connection went (a restart, a failover,
			// pg_terminate_backend): the pool dials a new one.
			lost++
			wait = max(wait, 50*time.Millisecond)
		default:
			if transient(err) {
				return fmt.Errorf("postgres: the database cannot be reached (%w): %w", ticket.ErrCannotWrite, err)
			}
			return err
		}
		time.Sleep(time.Duration(rand.Int64N(int64(wait))) + time.Millisecond)
		wait = min(2*wait, 200*time.Millisecond)
	}
	// Not the data's fault: what was being stored waits (a mail stays on
	// the server), it is not quarantined.
	return fmt.Errorf("postgres: gave up after %d conflicting tries (%w): %w", updateTries, ticket.ErrCannotWrite, err)
}

func (s *Store) update(fn func(tx ticket.Tx) error) error {
	tx, err := s.pool.BeginTx(s.ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer tx.Rollback(s.ctx)
	t := &txn{ctx: s.ctx, tx: tx, s: s.s, termKey: s.index, dirty: map[uint64]bool{}}
	if f := s.fence.Load(); f != nil {
		t.fence = *f
	}
	if err := fn(t); err != nil {
		return err
	}
	if err := t.index(); err != nil {
		return fmt.Errorf("postgres: search index: %w", err)
	}
	if err := tx.Commit(s.ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// View runs fn in a read-only transaction on one snapshot.
func (s *Store) View(fn func(tx ticket.ReadTx) error) error {
	tx, err := s.pool.BeginTx(s.ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer tx.Rollback(s.ctx)
	if err := fn(&txn{ctx: s.ctx, tx: tx, s: s.s, termKey: s.index}); err != nil {
		return err
	}
	// Nothing to commit, and what fn read stands whatever the server
	// answers; a rollback would count as one in pg_stat_database.
	_ = tx.Commit(s.ctx)
	return nil

}

// connTries bounds the runs of one Update that lost its connection.
const connTries = 5

// transient reports whether err is the connection's, not the data's: the
// server went away or refused the session (SQLSTATE classes 08, 53, 57,
// 58), or the connection was closed or never reached the server.
func transient(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "08", "53", "57", "58":
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	return pgconn.SafeToRetry(err) || errors.As(err, &ce) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "conn closed")
}

// retryable reports whether err is PostgreSQL refusing a transaction for a
// conflict with another (SQLSTATE 40001, 40P01).
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

type txn struct {
	ctx     context.Context
	tx      pgx.Tx
	s       *seal.Sealer    // nil: no key
	termKey [32]byte        // the search index's key
	dirty   map[uint64]bool // tickets to index anew at commit (nil: read-only)
	// fresh are the tickets numbered in this transaction, with what it
	// stored of them: index needs no query for them (see index).
	fresh map[uint64]*freshTicket
	fence Fence // nil: cursors are written unchecked
}

// freshTicket is a ticket numbered in the transaction: the last PutTicket
// of it (nil before one) and the messages added to it.
type freshTicket struct {
	tk   *ticket.Ticket
	msgs []ticket.Message
}

func (t *txn) touch(id uint64) {
	if t.dirty != nil && id != 0 {
		t.dirty[id] = true
	}
}

// Every query of documents selects two columns, the row's place in its
// table (the key the document is sealed with, see seal) and the document.

// seal encrypts doc, the document at place in table (as it is without a
// key).
func (t *txn) seal(table, place string, doc []byte) []byte {
	return t.s.Seal([]byte(table), []byte(place), doc)
}

// open decrypts what seal stored.
func (t *txn) open(table, place string, doc []byte) ([]byte, error) {
	return t.s.Open([]byte(table), []byte(place), doc)
}

// decode opens and decodes the document at place in table into v.
func (t *txn) decode(table, place string, doc []byte, v any) error {
	doc, err := t.open(table, place, doc)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if err := json.Unmarshal(doc, v); err != nil {
		return fmt.Errorf("postgres: decode %s %s: %w", table, place, err)
	}
	return nil
}

// encode encodes v, the document at place in table, and seals it.
func (t *txn) encode(table, place string, v any) ([]byte, error) {
	doc, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return t.seal(table, place, doc), nil
}

// one decodes the document of one row of table into v; ErrNotFound when
// there is none.
func (t *txn) one(v any, table, sql string, args ...any) error {
	var place string
	var doc []byte
	if err := t.tx.QueryRow(t.ctx, sql, args...).Scan(&place, &doc); errors.Is(err, pgx.ErrNoRows) {
		return ticket.ErrNotFound
	} else if err != nil {
		return err
	}
	return t.decode(table, place, doc, v)
}

// each calls fn with the document of each row of table, decoded into a
// new T.
func each[T any](t *txn, fn func(v T) error, table, sql string, args ...any) error {
	rows, err := t.tx.Query(t.ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var place string
		var doc []byte
		if err := rows.Scan(&place, &doc); err != nil {
			return err
		}
		var v T
		if err := t.decode(table, place, doc, &v); err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return rows.Err()
}

func all[T any](t *txn, table, sql string, args ...any) ([]T, error) {
	out := []T{}
	err := each(t, func(v T) error { out = append(out, v); return nil }, table, sql, args...)
	return out, err
}

// idPlace is the place of the row id.
func idPlace(id uint64) string { return strconv.FormatUint(id, 10) }

func (t *txn) exec(sql string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(t.ctx, sql, args...)
	return tag.RowsAffected(), err
}

// doc returns the record kind/key of the docs table.
func (t *txn) doc(kind, key string, v any) error {
	return t.one(v, "docs", "SELECT kind || '/' || key, doc FROM docs WHERE kind = $1 AND key = $2", kind, key)
}

func (t *txn) putDoc(kind, key string, v any) error {
	doc, err := t.encode("docs", kind+"/"+key, v)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO docs (kind, key, doc) VALUES ($1, $2, $3)
		ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc`, kind, key, doc)
	return err
}

func (t *txn) deleteDoc(kind, key string) (bool, error) {
	n, err := t.exec("DELETE FROM docs WHERE kind = $1 AND key = $2", kind, key)
	return n > 0, err
}

func (t *txn) Ticket(id uint64) (ticket.Ticket, error) {
	var tk ticket.Ticket
	if err := t.one(&tk, "tickets", "SELECT id::text, doc FROM tickets WHERE id = $1", int64(id)); err != nil {
		return ticket.Ticket{}, fmt.Errorf("ticket #%d: %w", id, err)
	}
	return tk, nil
}

func (t *txn) Tickets(f ticket.TicketFilter) ([]ticket.Ticket, error) {
	if f.Status != "" {
		return all[ticket.Ticket](t, "tickets", "SELECT id::text, doc FROM tickets WHERE status = $1 ORDER BY id", string(f.Status))
	}
	return all[ticket.Ticket](t, "tickets", "SELECT id::text, doc FROM tickets ORDER BY id")
}

func (t *txn) Messages(ticketID uint64) ([]ticket.Message, error) {
	return all[ticket.Message](t, "messages", "SELECT id::text, doc FROM messages WHERE ticket_id = $1 ORDER BY id", int64(ticketID))
}

func (t *txn) Message(id uint64) (ticket.Message, error) {
	var m ticket.Message
	if err := t.one(&m, "messages", "SELECT id::text, doc FROM messages WHERE id = $1", int64(id)); err != nil {
		return ticket.Message{}, fmt.Errorf("message %d: %w", id, err)
	}
	return m, nil
}

func (t *txn) MessageByMessageID(mid string) (ticket.Message, error) {
	mid = ticket.CanonicalMessageID(mid)
	if mid == "" {
		return ticket.Message{}, ticket.ErrNotFound
	}
	var id int64
	if err := t.tx.QueryRow(t.ctx, "SELECT msg_id FROM message_ids WHERE message_id = $1", mid).Scan(&id); errors.Is(err, pgx.ErrNoRows) {
		return ticket.Message{}, ticket.ErrNotFound
	} else if err != nil {
		return ticket.Message{}, err
	}
	return t.Message(uint64(id))
}

func (t *txn) Seen(key string) (uint64, bool, error) {
	var id int64
	err := t.tx.QueryRow(t.ctx, "SELECT msg_id FROM seen WHERE key = $1", key).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return uint64(id), err == nil, err
}

// blob returns the bytes of blob kind/id, nil when there are none.
func (t *txn) blob(kind int, id uint64) ([]byte, error) {
	rows, err := t.tx.Query(t.ctx, "SELECT n, chunk FROM blobs WHERE kind = $1 AND id = $2 ORDER BY n", kind, int64(id))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []byte
	found := false
	for rows.Next() {
		var n int32
		var c []byte
		if err := rows.Scan(&n, &c); err != nil {
			return nil, err
		}
		if c, err = t.open("blobs", blobPlace(kind, id, int(n)), c); err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		out, found = append(out, c...), true
	}
	if err := rows.Err(); err != nil || !found {
		return nil, err
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

func (t *txn) putBlob(kind int, id uint64, data []byte) error {
	b := &pgx.Batch{}
	for n := 0; ; n++ {
		piece := data[:min(len(data), blobChunk)]
		b.Queue("INSERT INTO blobs (kind, id, n, chunk) VALUES ($1, $2, $3, $4)", kind, int64(id), n, t.seal("blobs", blobPlace(kind, id, n), piece))
		data = data[len(piece):]
		if len(data) == 0 {
			break
		}
	}
	return t.tx.SendBatch(t.ctx, b).Close()
}

// blobPlace is the place of piece n of blob kind/id.
func blobPlace(kind int, id uint64, n int) string { return fmt.Sprintf("%d/%d/%d", kind, id, n) }

func (t *txn) Raw(msgID uint64) ([]byte, error) {
	v, err := t.blob(blobRaw, msgID)
	if err != nil {
		return nil, fmt.Errorf("raw mail of message %d: %w", msgID, err)
	}
	if v == nil {
		return nil, fmt.Errorf("raw mail of message %d: %w", msgID, ticket.ErrNotFound)
	}
	return v, nil
}

func (t *txn) Cursor(mailbox string) (ticket.Cursor, bool, error) {
	var c ticket.Cursor
	err := t.doc("cursor", mailbox, &c)
	if errors.Is(err, ticket.ErrNotFound) {
		return c, false, nil
	}
	return c, err == nil, err
}

func (t *txn) Outbox() ([]ticket.Outgoing, error) {
	return all[ticket.Outgoing](t, "outgoing", "SELECT id::text, doc FROM outgoing ORDER BY id")
}

func (t *txn) EachOutgoing(fn func(o ticket.Outgoing) error) error {
	return each(t, fn, "outgoing", "SELECT id::text, doc FROM outgoing ORDER BY id")
}

func (t *txn) Outgoing(id uint64) (ticket.Outgoing, error) {
	var o ticket.Outgoing
	if err := t.one(&o, "outgoing", "SELECT id::text, doc FROM outgoing WHERE id = $1", int64(id)); err != nil {
		return ticket.Outgoing{}, fmt.Errorf("outbox %d: %w", id, err)
	}
	return o, nil
}

// LockOutgoing is the outbox's claim (ticket.OutgoingLocker): a mail
// another node's transaction is claiming is skipped, not waited for, so
// the claims of the nodes' outboxes do not fail each other.
func (t *txn) LockOutgoing(id uint64) (ticket.Outgoing, error) {
	var o ticket.Outgoing
	if err := t.one(&o, "outgoing", "SELECT id::text, doc FROM outgoing WHERE id = $1 FOR UPDATE SKIP LOCKED", int64(id)); err != nil {
		return ticket.Outgoing{}, fmt.Errorf("outbox %d: %w", id, err)
	}
	return o, nil
}

var _ ticket.OutgoingLocker = (*txn)(nil)

func (t *txn) Rejected() ([]ticket.Rejected, error) {
	rs, err := all[ticket.Rejected](t, "rejected", "SELECT id::text, doc FROM rejected ORDER BY id")
	if err != nil {
		return nil, err
	}
	for i := range rs {
		if rs[i].Raw, err = t.blob(blobRejected, rs[i].ID); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

func (t *txn) RejectedByID(id uint64) (ticket.Rejected, error) {
	var r ticket.Rejected
	if err := t.one(&r, "rejected", "SELECT id::text, doc FROM rejected WHERE id = $1", int64(id)); err != nil {
		return r, fmt.Errorf("quarantined mail %d: %w", id, err)
	}
	raw, err := t.blob(blobRejected, id)
	r.Raw = raw
	return r, err
}

func (t *txn) Notification(mid string) (ticket.Notification, error) {
	var n ticket.Notification
	if mid == "" {
		return n, ticket.ErrNotFound
	}
	err := t.doc("notification", mid, &n)
	return n, err
}

func (t *txn) Suppression(email string) (ticket.Suppression, error) {
	var s ticket.Suppression
	err := t.doc("suppression", strings.ToLower(email), &s)
	return s, err
}

func (t *txn) Suppressions() ([]ticket.Suppression, error) {
	return all[ticket.Suppression](t, "docs", "SELECT kind || '/' || key, doc FROM docs WHERE kind = 'suppression' ORDER BY key")
}

func (t *txn) AutoSent(email string) ([]time.Time, error) {
	var ts []time.Time
	err := t.doc("auto_sent", strings.ToLower(email), &ts)
	if errors.Is(err, ticket.ErrNotFound) {
		return nil, nil
	}
	return ts, err
}

func (t *txn) HeldAcks(email string) (ticket.HeldAcks, error) {
	var h ticket.HeldAcks
	err := t.doc("held_acks", strings.ToLower(email), &h)
	return h, err
}

func (t *txn) EachHeldAcks(fn func(h ticket.HeldAcks) error) error {
	return each(t, fn, "docs", "SELECT kind || '/' || key, doc FROM docs WHERE kind = 'held_acks' ORDER BY key")
}

func (t *txn) EachAudit(fn func(r ticket.AuditRecord) error) error {
	return each(t, fn, "audit", "SELECT id::text, doc FROM audit ORDER BY id")
}

func (t *txn) Postings(term string, fn func(ticketID uint64, n uint32) error) error {
	rows, err := t.tx.Query(t.ctx, "SELECT ticket_id, n FROM search_postings WHERE term = $1 ORDER BY ticket_id", t.term(term))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var n int32
		if err := rows.Scan(&id, &n); err != nil {
			return err
		}
		if err := fn(uint64(id), uint32(n)); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (t *txn) IndexedTickets() (int, error) {
	var n int
	err := t.tx.QueryRow(t.ctx, "SELECT count(*) FROM search_docs").Scan(&n)
	return n, err
}

// index replaces the postings of every ticket the transaction changed.
//
// A ticket numbered in this transaction is indexed from what the
// transaction stored of it, without a query: it can have no postings yet,
// and its rows are the newest of their indexes, where PostgreSQL's
// serializable transactions lock whole index pages on a read, so that
// reading them back would make every two transactions that store new
// tickets at once conflict.
func (t *txn) index() error {
	ids := make([]uint64, 0, len(t.dirty))
	for id := range t.dirty {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		var tk ticket.Ticket
		var msgs []ticket.Message
		if f := t.fresh[id]; f != nil {
			if f.tk == nil {
				continue
			}
			tk, msgs = *f.tk, f.msgs
		} else {
			if _, err := t.exec("DELETE FROM search_postings WHERE ticket_id = $1", int64(id)); err != nil {
				return err
			}
			if _, err := t.exec("DELETE FROM search_docs WHERE ticket_id = $1", int64(id)); err != nil {
				return err
			}
			var err error
			tk, err = t.Ticket(id)
			if errors.Is(err, ticket.ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			if msgs, err = t.Messages(id); err != nil {
				return err
			}
		}
		terms := ticket.SearchTerms(tk, msgs)
		if len(terms) == 0 {
			continue
		}
		rows := make([][]any, 0, len(terms))
		for term, n := range terms {
			rows = append(rows, []any{t.term(term), int64(id), int32(n)})
		}
		if _, err := t.tx.CopyFrom(t.ctx, pgx.Identifier{"search_postings"}, []string{"term", "ticket_id", "n"}, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		if _, err := t.exec("INSERT INTO search_docs (ticket_id) VALUES ($1)", int64(id)); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) NextTicketID() (uint64, error) {
	var id int64
	if err := t.tx.QueryRow(t.ctx, "SELECT nextval('ticket_ids')").Scan(&id); err != nil {
		return 0, err
	}
	if t.dirty != nil {
		if t.fresh == nil {
			t.fresh = map[uint64]*freshTicket{}
		}
		t.fresh[uint64(id)] = &freshTicket{}
	}
	return uint64(id), nil
}

func (t *txn) PutTicket(tk ticket.Ticket) error {
	if tk.ID == 0 {
		return errors.New("postgres: put ticket: no id")
	}
	doc, err := t.encode("tickets", idPlace(tk.ID), tk)
	if err != nil {
		return err
	}
	t.touch(tk.ID)
	if f := t.fresh[tk.ID]; f != nil {
		f.tk = &tk
	}
	_, err = t.exec(`INSERT INTO tickets (id, status, doc) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET status = excluded.status, doc = excluded.doc`, int64(tk.ID), string(tk.Status), doc)
	return err
}

func (t *txn) AddMessage(m *ticket.Message, raw []byte) error {
	var id int64
	if err := t.tx.QueryRow(t.ctx, "SELECT nextval(pg_get_serial_sequence('messages', 'id'))").Scan(&id); err != nil {
		return err
	}
	m.ID = uint64(id)
	doc, err := t.encode("messages", idPlace(m.ID), m)
	if err != nil {
		return err
	}
	if _, err := t.exec("INSERT INTO messages (id, ticket_id, doc) VALUES ($1, $2, $3)", id, int64(m.TicketID), doc); err != nil {
		return err
	}
	t.touch(m.TicketID)
	if f := t.fresh[m.TicketID]; f != nil {
		f.msgs = append(f.msgs, *m)
	}
	if raw != nil {
		if err := t.putBlob(blobRaw, m.ID, raw); err != nil {
			return fmt.Errorf("postgres: raw mail of message %d: %w", id, err)
		}
	}
	return t.IndexMessageID(m.MessageID, m.ID) // the first message keeps an id
}

func (t *txn) PutMessage(m ticket.Message) error {
	var was int64
	err := t.tx.QueryRow(t.ctx, "SELECT ticket_id FROM messages WHERE id = $1", int64(m.ID)).Scan(&was)
	if m.ID == 0 || errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: put message %d: %w", m.ID, ticket.ErrNotFound)
	} else if err != nil {
		return err
	}
	doc, err := t.encode("messages", idPlace(m.ID), m)
	if err != nil {
		return err
	}
	if _, err := t.exec("UPDATE messages SET ticket_id = $2, doc = $3 WHERE id = $1", int64(m.ID), int64(m.TicketID), doc); err != nil {
		return err
	}
	t.touch(uint64(was)) // the ticket it leaves, when it moves
	t.touch(m.TicketID)
	delete(t.fresh, uint64(was)) // indexed from the database, as any other
	delete(t.fresh, m.TicketID)
	return nil
}

func (t *txn) MarkSeen(key string, msgID uint64) error {
	_, err := t.exec(`INSERT INTO seen (key, msg_id) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET msg_id = excluded.msg_id`, key, int64(msgID))
	return err
}

func (t *txn) Unsee(key string) error {
	_, err := t.exec("DELETE FROM seen WHERE key = $1", key)
	return err
}

func (t *txn) SetCursor(mailbox string, c ticket.Cursor) error {
	if t.fence != nil {
		l, ok := t.fence(mailbox)
		if !ok {
			return fmt.Errorf("%w: this node does not hold %s", ErrLeaseLost, mailbox)
		}
		if err := l.Check(t.ctx, t.tx); err != nil {
			return err
		}
	}
	return t.putDoc("cursor", mailbox, c)
}

func (t *txn) Enqueue(o *ticket.Outgoing) error {
	var id int64
	if err := t.tx.QueryRow(t.ctx, "SELECT nextval(pg_get_serial_sequence('outgoing', 'id'))").Scan(&id); err != nil {
		return err
	}
	o.ID = uint64(id)
	doc, err := t.encode("outgoing", idPlace(o.ID), o)
	if err != nil {
		return err
	}
	if _, err = t.exec("INSERT INTO outgoing (id, doc) VALUES ($1, $2)", id, doc); err != nil {
		return err
	}
	// Delivered to the listening nodes when the transaction commits
	// (ListenOutbox); several in one transaction are folded into one.
	_, err = t.exec("SELECT pg_notify($1, '')", outboxChannel)
	return err
}

func (t *txn) PutOutgoing(o ticket.Outgoing) error {
	if o.ID == 0 {
		return errors.New("postgres: put outgoing: no id")
	}
	doc, err := t.encode("outgoing", idPlace(o.ID), o)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO outgoing (id, doc) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`, int64(o.ID), doc)
	return err
}

func (t *txn) DeleteOutgoing(id uint64) error {
	_, err := t.exec("DELETE FROM outgoing WHERE id = $1", int64(id))
	return err
}

func (t *txn) AddRejected(r *ticket.Rejected) error {
	var id int64
	if err := t.tx.QueryRow(t.ctx, "SELECT nextval(pg_get_serial_sequence('rejected', 'id'))").Scan(&id); err != nil {
		return err
	}
	r.ID = uint64(id)
	doc, err := t.encode("rejected", idPlace(r.ID), r)
	if err != nil {
		return err
	}
	if _, err := t.exec("INSERT INTO rejected (id, doc) VALUES ($1, $2)", id, doc); err != nil {
		return err
	}
	return t.putBlob(blobRejected, r.ID, r.Raw)
}

func (t *txn) DeleteRejected(id uint64) error {
	n, err := t.exec("DELETE FROM rejected WHERE id = $1", int64(id))
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("quarantined mail %d: %w", id, ticket.ErrNotFound)
	}
	_, err = t.exec("DELETE FROM blobs WHERE kind = $1 AND id = $2", blobRejected, int64(id))
	return err
}

func (t *txn) IndexMessageID(mid string, msgID uint64) error {
	mid = ticket.CanonicalMessageID(mid)
	if mid == "" {
		return nil
	}
	_, err := t.exec("INSERT INTO message_ids (message_id, msg_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", mid, int64(msgID))
	return err
}

func (t *txn) UnindexMessageID(mid string, msgID uint64) error {
	mid = ticket.CanonicalMessageID(mid)
	if mid == "" {
		return nil
	}
	_, err := t.exec("DELETE FROM message_ids WHERE message_id = $1 AND msg_id = $2", mid, int64(msgID))
	return err
}

func (t *txn) PutNotification(n ticket.Notification) error {
	return t.putDoc("notification", n.MessageID, n)
}

func (t *txn) PutSuppression(s ticket.Suppression) error {
	s.Email = strings.ToLower(s.Email)
	return t.putDoc("suppression", s.Email, s)
}

func (t *txn) DeleteSuppression(email string) error {
	ok, err := t.deleteDoc("suppression", strings.ToLower(email))
	if err == nil && !ok {
		return fmt.Errorf("suppression of %s: %w", email, ticket.ErrNotFound)
	}
	return err
}

func (t *txn) PutAutoSent(email string, times []time.Time) error {
	k := strings.ToLower(email)
	if len(times) == 0 {
		_, err := t.deleteDoc("auto_sent", k)
		return err
	}
	return t.putDoc("auto_sent", k, times)
}

func (t *txn) PutHeldAcks(h ticket.HeldAcks) error {
	h.Email = strings.ToLower(h.Email)
	return t.putDoc("held_acks", h.Email, h)
}

func (t *txn) DeleteHeldAcks(email string) error {
	_, err := t.deleteDoc("held_acks", strings.ToLower(email))
	return err
}

func (t *txn) AddAudit(r *ticket.AuditRecord) error {
	var id int64
	if err := t.tx.QueryRow(t.ctx, "SELECT nextval(pg_get_serial_sequence('audit', 'id'))").Scan(&id); err != nil {
		return err
	}
	r.ID = uint64(id)
	doc, err := t.encode("audit", idPlace(r.ID), r)
	if err != nil {
		return err
	}
	_, err = t.exec("INSERT INTO audit (id, doc) VALUES ($1, $2)", id, doc)
	return err
}

func (t *txn) DeleteRaw(msgID uint64) error {
	_, err := t.exec("DELETE FROM blobs WHERE kind = $1 AND id = $2", blobRaw, int64(msgID))
	return err
}

// outboxChannel is the LISTEN/NOTIFY channel of the mail queued by any node.
const outboxChannel = "ticketd_outbox"

// ListenOutbox calls wake whenever a node commits mail to the outbox
// (LISTEN on its own connection), until ctx is done; a lost connection is
// dialled again after a second, and wake is called then too (a
// notification may have been missed). It returns ctx's error.
func (s *Store) ListenOutbox(ctx context.Context, wake func()) error {
	for {
		err := s.listen(ctx, wake)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		_ = err // the outbox's own polling covers the gap
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		wake()
	}
}

func (s *Store) listen(ctx context.Context, wake func()) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+outboxChannel); err != nil {
		return err
	}
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		wake()
	}
}
