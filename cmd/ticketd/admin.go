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
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/mailbox/rfc822"
	"github.com/ticketd/ticketd/templates"
	"github.com/ticketd/ticketd/ticket"
)

// backend is what the CLI commands need; it is the running daemon (over the
// admin socket) or the database opened directly when no daemon runs.
type backend interface {
	Tickets(ctx context.Context, status ticket.Status) ([]ticket.Ticket, error)
	Ticket(ctx context.Context, id uint64) (ticketView, error)
	// TicketUnmasked is Ticket with the personal data as stored, for who,
	// who said why; it writes an audit record first.
	TicketUnmasked(ctx context.Context, id uint64, who, reason string) (ticketView, error)
	Poll(ctx context.Context) ([]pollResult, error)
	Ingest(ctx context.Context, raw []byte, source string) (ingestResult, error)
	Act(ctx context.Context, req actionRequest) (string, error)
	Admin(ctx context.Context, op adminOp) (adminReply, error)
	// Backup writes a consistent copy of the database to w.
	Backup(ctx context.Context, w io.Writer) (int64, error)
	// Search finds tickets (ticket.Search), subjects masked; Reindex
	// builds the search index afresh and says of how many tickets.
	Search(ctx context.Context, req searchRequest) ([]ticket.SearchHit, error)
	Reindex(ctx context.Context) (int, error)
	Close()
}

// adminOp is an operator's request on the quarantine or suppression list.
type adminOp struct {
	List  string `json:"list"` // quarantine, suppressions, attachment
	Op    string `json:"op"`   // list, show, retry, drop, remove, get
	ID    uint64 `json:"id,omitempty"`
	Email string `json:"email,omitempty"`
	Index int    `json:"index,omitempty"` // attachment number on the ticket, from 1
	Name  string `json:"name,omitempty"`  // an oauth credential
	State []byte `json:"state,omitempty"` // its new state (oauth put)
	// For privacy erase and export: who asks, why, and whether to change
	// nothing.
	Who    string `json:"who,omitempty"`
	Reason string `json:"reason,omitempty"`
	DryRun bool   `json:"dry_run,omitempty"`
}

// adminReply is its answer.
type adminReply struct {
	Quarantine   []ticket.Rejected    `json:"quarantine,omitempty"`
	Raw          []byte               `json:"raw,omitempty"`
	Suppressions []ticket.Suppression `json:"suppressions,omitempty"`
	Message      string               `json:"message,omitempty"`
	File         *rfc822.File         `json:"file,omitempty"`
	OAuth        []oauthStatus        `json:"oauth,omitempty"`
	Audit        []ticket.AuditRecord `json:"audit,omitempty"`
	Erasure      *ticket.Erasure      `json:"erasure,omitempty"`
	Export       *ticket.Export       `json:"export,omitempty"`
	Purge        *ticket.Purge        `json:"purge,omitempty"`
	Pending      *ticket.PendingRun   `json:"pending,omitempty"`
	ExportRaw    map[uint64][]byte    `json:"export_raw,omitempty"`
}

// actionRequest is an agent's action from the CLI.
type actionRequest struct {
	Action      string                 `json:"action"` // reply, note, status, assign, group, priority, merge, split
	ID          uint64                 `json:"id"`
	As          string                 `json:"as"`
	Text        string                 `json:"text,omitempty"`
	Status      ticket.Status          `json:"status,omitempty"`
	To          string                 `json:"to,omitempty"`
	Attachments []ticket.OutAttachment `json:"attachments,omitempty"`
	// Into is the ticket merge merges into; Message the message split
	// moves, with the ones after it when Following.
	Into      uint64 `json:"into,omitempty"`
	Message   uint64 `json:"message,omitempty"`
	Following bool   `json:"following,omitempty"`
}

// ingestResult is the outcome of one piped mail.
type ingestResult struct {
	TicketID  uint64 `json:"ticket_id"`
	NewTicket bool   `json:"new_ticket"`
	Duplicate bool   `json:"duplicate"`
	Rejected  bool   `json:"rejected"`
	Reason    string `json:"reason,omitempty"`
}

var errNoTicket = errors.New("no such ticket")

// saidError is an error told to the user in the center's language; it
// still matches its sentinel with errors.Is.
type saidError struct {
	text string
	err  error
}

func (e *saidError) Error() string { return e.text }
func (e *saidError) Unwrap() error { return e.err }

// say is the sentence of key (a format in templates' CLI terms) in the
// center's language.
func (b localBackend) say(key string, args ...any) string {
	return fmt.Sprintf(templates.Term(b.d.s.Config.Center.Language, key), args...)
}

// noTicket is errNoTicket for ticket id, in the center's language.
func (b localBackend) noTicket(id uint64) error {
	return &saidError{text: b.say("no_ticket", id), err: errNoTicket}
}

// localBackend works on the daemon's parts in this process: the database
// opened directly by a CLI command (direct), or the daemon serving the admin
// socket.
type localBackend struct {
	d      *daemon
	direct bool
}

func (b localBackend) Close() { b.d.close() }

func (b localBackend) Tickets(_ context.Context, status ticket.Status) ([]ticket.Ticket, error) {
	var out []ticket.Ticket
	err := b.d.db.View(func(tx ticket.ReadTx) error {
		var err error
		out, err = tx.Tickets(ticket.TicketFilter{Status: status})
		return err
	})
	for i := range out {
		// They leave the database here.
		out[i].Subject, out[i].BaseSubject = ticket.MaskPersonalData(out[i].Subject), ticket.MaskPersonalData(out[i].BaseSubject)
	}
	return out, err
}

func (b localBackend) TicketUnmasked(ctx context.Context, id uint64, who, reason string) (ticketView, error) {
	who, reason = strings.TrimSpace(who), strings.TrimSpace(reason)
	if who == "" || reason == "" {
		return ticketView{}, errors.New("unmask: who and why are required")
	}
	var v ticketView
	err := b.d.db.Update(func(tx ticket.Tx) error {
		t, msgs, err := b.readTicket(tx, id)
		if err != nil {
			return err
		}
		// The record goes in with the reading: no view without it.
		if err := tx.AddAudit(&ticket.AuditRecord{At: time.Now().UTC(), Who: who, Action: ticket.AuditUnmask, Ticket: id, Reason: reason}); err != nil {
			return err
		}
		v = newTicketView(t, msgs, false)
		return nil
	})
	if err == nil {
		b.d.log.Warn("ticket shown unmasked", "ticket", id, "who", who, "reason", reason)
	}
	return v, err
}

func (b localBackend) Ticket(_ context.Context, id uint64) (ticketView, error) {
	var v ticketView
	err := b.d.db.View(func(tx ticket.ReadTx) error {
		t, msgs, err := b.readTicket(tx, id)
		v = newTicketView(t, msgs, true)
		return err
	})
	return v, err
}

// readTicket reads ticket id and its messages.
func (b localBackend) readTicket(tx ticket.ReadTx, id uint64) (ticket.Ticket, []ticket.Message, error) {
	t, err := tx.Ticket(id)
	if errors.Is(err, ticket.ErrNotFound) {
		return t, nil, b.noTicket(id)
	} else if err != nil {
		return t, nil, err
	}
	msgs, err := tx.Messages(id)
	return t, msgs, err
}

func (b localBackend) Poll(ctx context.Context) ([]pollResult, error) {
	res := b.d.pollAll(ctx)
	if b.direct {
		// No daemon runs its loop: held acknowledgements now due go too.
		b.d.releaseHeld()
	}
	// A one-shot poll also sends what it queued; what cannot be sent now
	// stays in the outbox for the next run or for serve.
	if _, _, _, err := b.d.outbox.Flush(ctx); err != nil {
		return res, err
	}
	return res, nil
}

func (b localBackend) Ingest(ctx context.Context, raw []byte, source string) (ingestResult, error) {
	res, rejected, err := mailbox.Deliver(b.d.svc, raw, ticket.Incoming{Source: source}, b.d.log)
	if err != nil {
		return ingestResult{}, err
	}
	b.d.metrics.ingested(res, rejected)
	out := ingestResult{TicketID: res.TicketID, NewTicket: res.NewTicket, Duplicate: res.Duplicate, Rejected: rejected}
	if rejected {
		out.Reason = "not a mail (kept as rejected)"
	}
	return out, nil
}

func (b localBackend) Act(_ context.Context, r actionRequest) (string, error) {
	svc, lang := b.d.svc, b.d.s.Config.Center.Language
	var err error
	var done string
	switch r.Action {
	case "reply":
		err, done = svc.Reply(r.ID, r.As, r.Text, r.Attachments), b.say("done_reply", r.ID)
	case "note":
		err, done = svc.Note(r.ID, r.As, r.Text), b.say("done_note", r.ID)
	case "status":
		err, done = svc.SetStatus(r.ID, r.As, r.Status), b.say("done_status", r.ID, templates.StatusName(lang, r.Status))
	case "assign":
		err, done = svc.Assign(r.ID, r.As, r.To), b.say("done_assign", r.ID, r.To)
	case "group":
		err, done = svc.SetGroup(r.ID, r.As, r.To), b.say("done_group", r.ID, r.To)
	case "priority":
		p := ticket.Priority(strings.ToLower(strings.TrimSpace(r.To)))
		if p != ticket.PriorityLow && p != ticket.PriorityNormal && p != ticket.PriorityHigh {
			return "", errors.New(b.say("bad_priority", r.To))
		}
		err, done = svc.SetPriority(r.ID, r.As, p), b.say("done_priority", r.ID, templates.PriorityName(lang, p))
	case "merge":
		var into uint64
		if into, err = svc.Merge(r.ID, r.Into, r.As); err == nil {
			done = b.say("done_merge", r.ID, into)
		}
	case "split":
		var nid uint64
		if nid, err = svc.Split(r.ID, r.Message, r.Following, r.As); err == nil {
			done = b.say("done_split", r.ID, nid)
		}
	default:
		return "", fmt.Errorf("unknown action %q", r.Action)
	}
	for sentinel, key := range map[error]string{ticket.ErrMergeSelf: "merge_self", ticket.ErrMergedAlready: "merged_already",
		ticket.ErrMergeErased: "merge_erased", ticket.ErrSplitMessage: "split_message", ticket.ErrSplitAll: "split_all"} {
		if errors.Is(err, sentinel) {
			args := []any{r.ID}
			if strings.HasPrefix(key, "split_") {
				args = append(args, r.Message)
			}
			return "", &saidError{text: b.say(key, args...), err: err}
		}
	}
	if errors.Is(err, ticket.ErrNotFound) {
		return "", b.noTicket(r.ID)
	}
	if errors.Is(err, ticket.ErrNotAgent) {
		who := r.As
		if r.Action == "assign" && !strings.Contains(err.Error(), "as "+r.As) {
			who = r.To
		}
		return "", &saidError{text: b.say("not_agent", who), err: err}
	}
	if errors.Is(err, ticket.ErrNotGroup) {
		return "", &saidError{text: b.say("not_group", r.To), err: err}
	}
	if errors.Is(err, ticket.ErrEmptyText) {
		return "", &saidError{text: b.say("empty_text"), err: err}
	}
	if err != nil {
		return "", err
	}
	if b.direct {
		// No daemon runs: send now; what fails stays queued for serve.
		if _, _, _, ferr := b.d.outbox.Flush(context.Background()); ferr != nil {
			b.d.log.Warn("outbox", "err", ferr)
		}
	}
	return done, nil
}

func (b localBackend) Admin(_ context.Context, op adminOp) (adminReply, error) {
	svc := b.d.svc
	switch op.List + " " + op.Op {
	case "quarantine list":
		var out adminReply
		err := b.d.db.View(func(tx ticket.ReadTx) error {
			var err error
			out.Quarantine, err = tx.Rejected()
			return err
		})
		for i := range out.Quarantine {
			out.Quarantine[i].Raw = nil
		}
		return out, err
	case "quarantine show":
		r, err := svc.Quarantined(op.ID)
		return adminReply{Quarantine: []ticket.Rejected{r}, Raw: r.Raw}, err
	case "quarantine retry":
		res, err := mailbox.Retry(svc, op.ID, b.d.log)
		if err != nil {
			return adminReply{}, err
		}
		return adminReply{Message: fmt.Sprintf("quarantined mail %d stored on ticket #%d", op.ID, res.TicketID)}, nil
	case "quarantine drop":
		return adminReply{Message: fmt.Sprintf("quarantined mail %d deleted", op.ID)}, svc.DropQuarantined(op.ID)
	case "suppressions list":
		var out adminReply
		err := b.d.db.View(func(tx ticket.ReadTx) error {
			var err error
			out.Suppressions, err = tx.Suppressions()
			return err
		})
		return out, err
	case "privacy erase":
		e, err := svc.Erase(op.Email, op.Who, op.Reason, op.DryRun)
		if err == nil && !op.DryRun {
			b.d.log.Warn("privacy: a requester's tickets erased", "address", ticket.AddressDigest(op.Email), "tickets", e.Tickets, "who", op.Who)
		}
		return adminReply{Erasure: &e}, err
	case "privacy export":
		x, err := svc.Export(op.Email, op.Who, op.Reason)
		if err == nil {
			b.d.log.Warn("privacy: a requester's data exported", "address", ticket.AddressDigest(op.Email), "tickets", len(x.Tickets), "who", op.Who)
		}
		return adminReply{Export: &x, ExportRaw: x.Raw}, err
	case "pending run":
		p, err := svc.RunPending(op.DryRun)
		return adminReply{Pending: &p}, err
	case "privacy purge":
		p, err := b.d.purge(op.DryRun)
		return adminReply{Purge: &p}, err
	case "audit list":
		var out adminReply
		err := b.d.db.View(func(tx ticket.ReadTx) error {
			return tx.EachAudit(func(r ticket.AuditRecord) error { out.Audit = append(out.Audit, r); return nil })
		})
		return out, err
	case "attachment get":
		f, err := b.attachment(op.ID, op.Index)
		return adminReply{File: f}, err
	case "oauth status":
		return adminReply{OAuth: b.d.oauthStatuses()}, nil
	case "oauth put":
		return adminReply{}, b.d.putOAuth(op.Name, op.State)
	case "db check":
		start := time.Now()
		if err := b.d.db.Check(); err != nil {
			return adminReply{}, err
		}
		st, _ := os.Stat(b.d.db.Path())
		var size int64
		if st != nil {
			size = st.Size()
		}
		enc := "not encrypted (no privacy.key_file)"
		if b.d.db.Encrypted() {
			enc = "encrypted, and the key opens it"
		}
		return adminReply{Message: fmt.Sprintf("ok: every page checked (%d bytes in %s); %s", size, time.Since(start).Round(time.Millisecond), enc)}, nil
	case "suppressions remove":
		return adminReply{Message: op.Email + " removed from the suppression list"}, svc.Unsuppress(op.Email)
	}
	return adminReply{}, fmt.Errorf("unknown request %s %s", op.List, op.Op)
}

func (b localBackend) Backup(_ context.Context, w io.Writer) (int64, error) {
	return b.d.db.WriteTo(w)
}

// attachment returns the index-th attachment (from 1) of ticket id, in the
// order tickets show lists them, with its bytes taken from the raw mail.
func (b localBackend) attachment(id uint64, index int) (*rfc822.File, error) {
	var out *rfc822.File
	err := b.d.db.View(func(tx ticket.ReadTx) error {
		msgs, err := tx.Messages(id)
		if err != nil {
			return err
		}
		n := 0
		for _, m := range msgs {
			if n+len(m.Attachments) < index {
				n += len(m.Attachments)
				continue
			}
			raw, err := tx.Raw(m.ID)
			if err != nil {
				return fmt.Errorf("attachment %d of #%d was sent from the CLI and is not kept after sending", index, id)
			}
			files, err := rfc822.ExtractAttachments(raw)
			if pe := (*rfc822.PanicError)(nil); errors.As(err, &pe) {
				b.d.log.Error("attachment get: the reader recovered from a panic", "ticket", id, "panic", pe.Value, "stack", pe.Stack)
			}
			if k := index - n - 1; k < len(files) {
				out = &files[k]
				return nil
			}
			return fmt.Errorf("attachment %d of #%d could not be read back from the raw mail", index, id)
		}
		return fmt.Errorf("ticket #%d has %d attachments, not %d", id, n, index)
	})
	return out, err
}

// adminServer serves the admin API on a unix socket (mode 0600).
type adminServer struct {
	d   *daemon
	ctx context.Context
	srv *http.Server
	ln  net.Listener
}

func listenAdmin(ctx context.Context, d *daemon, path string) (*adminServer, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("admin socket %s: another ticketd is answering on it", path)
	}
	os.Remove(path) // a stale socket from a process that died
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	a := &adminServer{d: d, ctx: ctx, ln: ln}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/tickets", a.tickets)
	mux.HandleFunc("GET /v1/tickets/{id}", a.ticket)
	mux.HandleFunc("POST /v1/tickets/{id}/unmask", a.unmask)
	mux.HandleFunc("POST /v1/poll", a.poll)
	mux.HandleFunc("POST /v1/ingest", a.ingest)
	mux.HandleFunc("POST /v1/action", a.action)
	mux.HandleFunc("POST /v1/admin", a.admin)
	mux.HandleFunc("GET /v1/backup", a.backup)
	mux.HandleFunc("GET /v1/search", a.search)
	mux.HandleFunc("POST /v1/reindex", a.reindex)
	a.srv = &http.Server{Handler: a.recoverer(mux), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelWarn)}
	go func() {
		defer func() {
			if r := recover(); r != nil {
				d.log.Error("admin server panic", "panic", r, "stack", string(debug.Stack()))
			}
		}()
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("admin server", "err", err)
		}
	}()
	return a, nil
}

func (a *adminServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a.srv.Shutdown(ctx)
	os.Remove(a.ln.Addr().String())
}

func (a *adminServer) recoverer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				a.d.log.Error("admin request panic", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (a *adminServer) tickets(w http.ResponseWriter, r *http.Request) {
	var st ticket.Status
	if s := r.URL.Query().Get("status"); s != "" {
		var err error
		if st, err = ticket.ParseStatus(s); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	ts, err := localBackend{d: a.d}.Tickets(r.Context(), st)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, ts)
}

func (a *adminServer) ticket(w http.ResponseWriter, r *http.Request) {
	a.ticketView(w, r, http.StatusInternalServerError, func(id uint64) (ticketView, error) {
		return localBackend{d: a.d}.Ticket(r.Context(), id)
	})
}

func (a *adminServer) unmask(w http.ResponseWriter, r *http.Request) {
	var req unmaskRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	a.ticketView(w, r, http.StatusUnprocessableEntity, func(id uint64) (ticketView, error) {
		return localBackend{d: a.d}.TicketUnmasked(r.Context(), id, req.Who, req.Reason)
	})
}

// ticketView answers with the view read of the ticket the path names: 404
// for no such ticket, failed for another error.
func (a *adminServer) ticketView(w http.ResponseWriter, r *http.Request, failed int, read func(id uint64) (ticketView, error)) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		http.Error(w, "bad ticket number", http.StatusBadRequest)
		return
	}
	v, err := read(id)
	if errors.Is(err, errNoTicket) {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	} else if err != nil {
		http.Error(w, err.Error(), failed)
		return
	}
	writeJSON(w, v)
}

func (a *adminServer) poll(w http.ResponseWriter, _ *http.Request) {
	// The daemon's context, not the request's: a client that goes away must
	// not cut a poll short.
	writeJSON(w, a.d.pollAll(a.ctx))
}

func (a *adminServer) ingest(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read mail: "+err.Error(), http.StatusBadRequest)
		return
	}
	res, err := localBackend{d: a.d}.Ingest(a.ctx, raw, r.URL.Query().Get("source"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, res)
}

func (a *adminServer) action(w http.ResponseWriter, r *http.Request) {
	var req actionRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<20)).Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	msg, err := localBackend{d: a.d}.Act(a.ctx, req)
	if errors.Is(err, errNoTicket) {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	} else if err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	writeJSON(w, msg)
}

// backup streams a consistent copy of the database (one read transaction)
// while writers go on; the CLI writes it to its file.
func (a *adminServer) backup(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	if n, err := a.d.db.WriteTo(w); err != nil {
		a.d.log.Error("backup", "err", err, "written", n)
		return // the client sees a short body and reports it
	}
}

func (a *adminServer) admin(w http.ResponseWriter, r *http.Request) {
	var op adminOp
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&op); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	out, err := localBackend{d: a.d}.Admin(a.ctx, op)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	writeJSON(w, out)
}

// remoteBackend talks to a running daemon over its admin socket.
type remoteBackend struct{ c *http.Client }

// dialAdmin connects to the daemon's admin socket; ok is false when no
// daemon answers there.
func dialAdmin(path string) (remoteBackend, bool) {
	c, err := net.DialTimeout("unix", path, time.Second)
	// A socket that refuses may be one serve has bound but not yet
	// listens on (it is starting): ask again for a moment before taking it
	// for the stale socket of a serve that died.
	for i := 0; i < 10 && errors.Is(err, syscall.ECONNREFUSED); i++ {
		time.Sleep(100 * time.Millisecond)
		c, err = net.DialTimeout("unix", path, time.Second)
	}
	if err != nil {
		return remoteBackend{}, false
	}
	c.Close()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return remoteBackend{&http.Client{Transport: tr}}, true
}

func (b remoteBackend) Close() { b.c.CloseIdleConnections() }

func (b remoteBackend) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://ticketd"+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := b.c.Do(req)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s: %w", bytes.TrimSpace(msg), errNoTicket)
	}
	if resp.StatusCode != http.StatusOK {
		// The daemon's message says what is wrong; the HTTP status says
		// nothing an agent can act on.
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if m := bytes.TrimSpace(msg); len(m) > 0 {
			return errors.New(string(m))
		}
		return fmt.Errorf("the running ticketd answered %s", resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (b remoteBackend) Tickets(ctx context.Context, status ticket.Status) ([]ticket.Ticket, error) {
	var out []ticket.Ticket
	q := ""
	if status != "" {
		q = "?status=" + string(status)
	}
	return out, b.do(ctx, http.MethodGet, "/v1/tickets"+q, nil, &out)
}

func (b remoteBackend) Ticket(ctx context.Context, id uint64) (ticketView, error) {
	var v ticketView
	return v, b.do(ctx, http.MethodGet, fmt.Sprintf("/v1/tickets/%d", id), nil, &v)
}

func (b remoteBackend) TicketUnmasked(ctx context.Context, id uint64, who, reason string) (ticketView, error) {
	body, err := json.Marshal(unmaskRequest{Who: who, Reason: reason})
	if err != nil {
		return ticketView{}, err
	}
	var v ticketView
	return v, b.do(ctx, http.MethodPost, fmt.Sprintf("/v1/tickets/%d/unmask", id), body, &v)
}

// unmaskRequest is the body of POST /v1/tickets/{id}/unmask.
type unmaskRequest struct {
	Who    string `json:"who"`
	Reason string `json:"reason"`
}

func (b remoteBackend) Poll(ctx context.Context) ([]pollResult, error) {
	var out []pollResult
	return out, b.do(ctx, http.MethodPost, "/v1/poll", nil, &out)
}

func (b remoteBackend) Ingest(ctx context.Context, raw []byte, source string) (ingestResult, error) {
	var out ingestResult
	return out, b.do(ctx, http.MethodPost, "/v1/ingest?source="+url.QueryEscape(source), raw, &out)
}

func (b remoteBackend) Act(ctx context.Context, req actionRequest) (string, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	var msg string
	return msg, b.do(ctx, http.MethodPost, "/v1/action", body, &msg)
}

func (b remoteBackend) Admin(ctx context.Context, op adminOp) (adminReply, error) {
	body, err := json.Marshal(op)
	if err != nil {
		return adminReply{}, err
	}
	var out adminReply
	return out, b.do(ctx, http.MethodPost, "/v1/admin", body, &out)
}

func (b remoteBackend) Backup(ctx context.Context, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://ticketd/v1/backup", nil)
	if err != nil {
		return 0, err
	}
	resp, err := b.c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("daemon: %s", resp.Status)
	}
	return io.Copy(w, resp.Body)
}
