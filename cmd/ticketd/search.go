package main

// Search: tickets search and reindex, over the admin socket when serve
// runs, on the database otherwise; serve builds a missing index in the
// background.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ticketd/ticketd/store"
	"github.com/ticketd/ticketd/templates"
	"github.com/ticketd/ticketd/ticket"
)

func searchCommands() []command {
	return []command{
		{name: "tickets search", args: "QUERY... [--status S] [--from DATE] [--json]", help: "find tickets by words of their subjects, requesters and messages (Korean inside words and across spaces), best and newest first", run: cmdTicketsSearch,
			flags: func(c *cli, fs *flag.FlagSet) {
				jsonFlag(c, fs)
				fs.StringVar(&c.status, "status", "", "only tickets with this status (new, open, pending, solved, closed)")
				fs.StringVar(&c.from, "from", "", "only tickets active on or after this day (YYYY-MM-DD, in timezone)")
			}},
		{name: "reindex", help: "build the search index afresh (serve does it in the background when it is missing)", run: cmdReindex},
	}
}

// searchRequest is a search as the CLI and the web view ask it.
type searchRequest struct {
	Query  string        `json:"query"`
	Status ticket.Status `json:"status,omitempty"`
	From   time.Time     `json:"from,omitzero"`
	Limit  int           `json:"limit,omitempty"`
}

func (r searchRequest) filter() ticket.SearchFilter {
	return ticket.SearchFilter{Status: r.Status, From: r.From, Limit: r.Limit}
}

func cmdTicketsSearch(c *cli) int {
	s, ok := c.settings()
	if !ok {
		return exitConfig
	}
	req := searchRequest{Query: strings.Join(c.args, " ")}
	if strings.TrimSpace(req.Query) == "" {
		return c.fail("tickets search: what to look for? (ticketd tickets search 대출 상환일)")
	}
	if c.status != "" {
		var err error
		if req.Status, err = ticket.ParseStatus(c.status); err != nil {
			return c.fail("--status: %v", err)
		}
	}
	if c.from != "" {
		t, err := time.ParseInLocation(time.DateOnly, c.from, s.Loc)
		if err != nil {
			return c.fail("--from: want YYYY-MM-DD, got %q", c.from)
		}
		req.From = t
	}
	b, err := c.backend(s, newLogger(c.stderr, s.Config.Log, s.Loc), false)
	if err != nil {
		return c.fail("%v", err)
	}
	defer b.Close()
	hits, err := b.Search(c.ctx, req)
	// Over the admin socket the error is its text.
	lang := s.Config.Center.Language
	switch {
	case err == nil:
	case errors.Is(err, ticket.ErrSearchIndex) || strings.Contains(err.Error(), ticket.ErrSearchIndex.Error()):
		return c.fail("%s", templates.Term(lang, "search_unbuilt"))
	case errors.Is(err, ticket.ErrSearchQuery) || strings.Contains(err.Error(), ticket.ErrSearchQuery.Error()):
		return c.fail(templates.Term(lang, "search_no_word"), req.Query)
	default:
		return c.fail("%v", err)
	}
	if c.asJSON {
		return c.printJSON(nonNil(hits))
	}
	if len(hits) == 0 {
		fmt.Fprintln(c.stdout, templates.Term(lang, "search_none"))
		return exitOK
	}
	ts := make([]ticket.Ticket, len(hits))
	for i, h := range hits {
		ts[i] = h.Ticket
	}
	printTickets(c.stdout, ts, s.Loc, s.Config.Center.Language)
	return exitOK
}

func cmdReindex(c *cli) int {
	s, ok := c.settings()
	if !ok {
		return exitConfig
	}
	b, err := c.backend(s, newLogger(c.stderr, s.Config.Log, s.Loc), false)
	if err != nil {
		return c.fail("%v", err)
	}
	defer b.Close()
	start := time.Now()
	n, err := b.Reindex(c.ctx)
	if err != nil {
		return c.fail("reindex: %v", err)
	}
	fmt.Fprintf(c.stdout, "search index built: %d tickets in %s\n", n, time.Since(start).Round(time.Millisecond))
	return exitOK
}

// search runs a search on the database, with the subjects masked as they
// leave it.
func (d *daemon) search(ctx context.Context, req searchRequest) ([]ticket.SearchHit, error) {
	// What was stored since the follower last ran is found too.
	if err := d.catchUpSearch(ctx); err != nil {
		return nil, err
	}
	var hits []ticket.SearchHit
	err := d.db.View(func(tx ticket.ReadTx) error {
		var err error
		hits, err = ticket.Search(tx, req.Query, req.filter())
		return err
	})
	for i := range hits {
		t := &hits[i].Ticket
		t.Subject, t.BaseSubject = ticket.MaskPersonalData(t.Subject), ticket.MaskPersonalData(t.BaseSubject)
	}
	return hits, err
}

// reindex builds the search index, logging its progress.
func (d *daemon) reindex(ctx context.Context) (int, error) {
	var n int
	last := time.Now()
	err := d.db.Reindex(func(done, total int) bool {
		n = done
		if time.Since(last) > 5*time.Second {
			last = time.Now()
			d.log.Info("search: indexing", "done", done, "tickets", total)
		}
		return ctx.Err() == nil
	})
	return n, err
}

// buildSearchIndex builds a missing search index while serve runs (a
// database from before it, or of a rotated key); searches fail with
// ticket.ErrSearchIndex until it is done. Then, until ctx ends, it indexes
// the tickets stored or changed since, every second.
func buildSearchIndex(ctx context.Context, d *daemon, log *slog.Logger) {
	defer followSearchIndex(ctx, d, log)
	built, err := d.db.SearchBuilt()
	if err != nil || built {
		return
	}
	log.Warn("search: the index is missing or of another key; building it in the background")
	start := time.Now()
	n, err := d.reindex(ctx)
	switch {
	case errors.Is(err, store.ErrReindexStopped):
	case err != nil:
		log.Error("search: the index could not be built; run ticketd reindex", "err", err)
	default:
		log.Info("search: index built", "tickets", n, "took", time.Since(start))
	}
}

func (b localBackend) Search(ctx context.Context, req searchRequest) ([]ticket.SearchHit, error) {
	return b.d.search(ctx, req)
}

func (b localBackend) Reindex(ctx context.Context) (int, error) { return b.d.reindex(ctx) }

func (b remoteBackend) Search(ctx context.Context, req searchRequest) ([]ticket.SearchHit, error) {
	q := url.Values{"q": {req.Query}}
	if req.Status != "" {
		q.Set("status", string(req.Status))
	}
	if !req.From.IsZero() {
		q.Set("from", req.From.Format(time.RFC3339))
	}
	if req.Limit > 0 {
		q.Set("limit", strconv.Itoa(req.Limit))
	}
	var out []ticket.SearchHit
	return out, b.do(ctx, http.MethodGet, "/v1/search?"+q.Encode(), nil, &out)
}

func (b remoteBackend) Reindex(ctx context.Context) (int, error) {
	var out struct {
		Tickets int `json:"tickets"`
	}
	return out.Tickets, b.do(ctx, http.MethodPost, "/v1/reindex", nil, &out)
}

// parseSearchRequest reads a search from the query of a request.
func parseSearchRequest(q url.Values) (searchRequest, error) {
	req := searchRequest{Query: q.Get("q")}
	if s := q.Get("status"); s != "" {
		st, err := ticket.ParseStatus(s)
		if err != nil {
			return req, err
		}
		req.Status = st
	}
	if s := q.Get("from"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return req, fmt.Errorf("from: %w", err)
		}
		req.From = t
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return req, fmt.Errorf("limit: want a number, got %q", s)
		}
		req.Limit = n
	}
	return req, nil
}

func (a *adminServer) search(w http.ResponseWriter, r *http.Request) {
	req, err := parseSearchRequest(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	hits, err := a.d.search(r.Context(), req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	writeJSON(w, nonNil(hits))
}

func (a *adminServer) reindex(w http.ResponseWriter, r *http.Request) {
	n, err := a.d.reindex(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, map[string]int{"tickets": n})
}

// followSearchIndex indexes the changed tickets every second until ctx
// ends, followBatch tickets a transaction: each holds the database's one
// writer, which the mail being stored waits for, so none is long.
const followBatch = 64

// catchUpSearch indexes every changed ticket, followBatch a transaction.
func (d *daemon) catchUpSearch(ctx context.Context) error {
	for ctx.Err() == nil {
		n, err := d.db.IndexPending(followBatch)
		if err != nil || n < followBatch {
			return err
		}
	}
	return nil
}

func followSearchIndex(ctx context.Context, d *daemon, log *slog.Logger) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := d.catchUpSearch(ctx)
		if ctx.Err() != nil {
			return
		}
		switch was := d.indexing.set("indexing the changed tickets", err, time.Now()); {
		case err != nil && !was:
			log.Error("search: indexing the changed tickets failed; it is tried again every second", "err", err)
		case err == nil && was:
			log.Info("search: indexing works again")
		}
	}
}

// indexState is whether the search index is kept up to date: what failed
// last, and since when ("" while it works).
type indexState struct {
	mu      sync.Mutex
	failing string
	since   time.Time
}

// set records the outcome of an attempt at what (err nil: it worked) and
// reports whether it was failing before.
func (s *indexState) set(what string, err error, now time.Time) (wasFailing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wasFailing = s.failing != ""
	switch {
	case err == nil:
		s.failing, s.since = "", time.Time{}
	case !wasFailing:
		s.failing, s.since = what+": "+err.Error(), now
	default:
		s.failing = what + ": " + err.Error()
	}
	return wasFailing
}

// warning is the /healthz warning while indexing fails ("": none). Mail is
// stored all the same (the queue of tickets to index is in the database);
// search misses what changed since.
func (s *indexState) warning() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing == "" {
		return ""
	}
	return fmt.Sprintf("search: %s (failing since %s; searches miss what changed since, mail is stored as usual)", s.failing, s.since.UTC().Format(time.RFC3339))
}
