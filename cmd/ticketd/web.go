package main

// The agents' web view (web.listen): a ticket whole, the queue and search,
// read-only and masked. A page opens for a configured agent by a link
// signed for that agent (each notification has two: the ticket, and the
// queue, which starts a session), by the session's cookie, or by the
// trusted header of a single sign-on proxy. Everything else gets 403.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ticketd/ticketd/mailbox/quote"
	"github.com/ticketd/ticketd/mailbox/rfc822"
	"github.com/ticketd/ticketd/templates"
	"github.com/ticketd/ticketd/ticket"
)

const (
	// webCookie holds the session: the agent, its expiry and their
	// signature, as a signed link's query for the pseudo-path webSession
	// (which no link can be signed for, so a link is never a session).
	webCookie  = "ticketd_session"
	webSession = "session"
	// webCSP is every page's Content-Security-Policy: no script at all,
	// images and the style sheet from the view itself.
	webCSP = "default-src 'none'; img-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
	// webRows is the most tickets one list of the queue shows.
	webRows = 100
	// webAssetLifetime is how long the links a page makes to its
	// attachments and images work.
	webAssetLifetime = time.Hour
)

// Why a request is refused.
var (
	errWebNoAuth   = errors.New("no signed link, session or trusted header")
	errWebNotAgent = errors.New("not a configured agent")
)

// webServer serves the web view.
type webServer struct {
	d      *daemon
	set    webSettings
	signer *ticket.Signer
	pages  *templates.Web
	static http.Handler
	lang   string
	center string
	secure bool // the cookie is Secure: HTTPS here or at the proxy
	now    func() time.Time
	srv    *http.Server
	done   chan struct{}
}

// newWebServer is the view's handler, not yet listening.
func newWebServer(d *daemon) (*webServer, error) {
	lang := d.s.Config.Center.Language
	pages, err := templates.NewWeb(lang, d.s.Loc)
	if err != nil {
		return nil, err
	}
	center := d.s.Ticket.Support.Name
	if center == "" {
		center = templates.WebTerm(lang, "title")
	}
	ws := &webServer{d: d, set: d.s.Web, signer: d.signer, pages: pages, lang: lang, center: center,
		static: http.StripPrefix("/static/", http.FileServerFS(templates.WebStatic())),
		secure: d.s.Web.CertFile != "" || strings.HasPrefix(d.s.Ticket.WebURL, "https:"), now: time.Now}
	if now := clock(); now != nil {
		ws.now = now
	}
	return ws, nil
}

// listenWeb starts the web view on web.listen; nil when it is off. The
// caller closes it (close accepts nil).
func listenWeb(d *daemon) (*webServer, error) {
	if d.s.Web.Listen == "" {
		return nil, nil
	}
	ws, err := newWebServer(d)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", d.s.Web.Listen)
	if err != nil {
		return nil, fmt.Errorf("web.listen %s: %w (set web.listen to a free port, or \"off\")", d.s.Web.Listen, err)
	}
	if ws.set.CertFile != "" {
		cert, err := tlsKeyPair(ws.set.CertFile, ws.set.KeyFile)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("web.cert_file: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	errLog := slog.NewLogLogger(d.log.Handler(), slog.LevelWarn)
	ws.srv = &http.Server{Handler: ws.handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10, ErrorLog: errLog}
	ws.done = make(chan struct{})
	go func() {
		defer close(ws.done)
		if err := ws.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("web view stopped", "err", err)
		}
	}()
	d.log.Info("web: serving the agents' web view", "addr", ln.Addr().String(), "url", d.s.Ticket.WebURL, "tls", ws.set.CertFile != "")
	return ws, nil
}

// close stops the view, giving requests in flight 5 seconds.
func (ws *webServer) close() {
	if ws == nil || ws.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ws.srv.Shutdown(ctx); err != nil {
		ws.srv.Close()
	}
	<-ws.done
}

// handler routes the view's pages, behind the security headers and the
// panic boundary of each request.
func (ws *webServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", ws.queuePage)
	mux.HandleFunc("GET /login", ws.login)
	mux.HandleFunc("GET /logout", ws.logout)
	mux.HandleFunc("GET /search", ws.searchPage)
	mux.HandleFunc("GET /t/{id}", ws.ticketPage)
	mux.HandleFunc("GET /t/{id}/a/{n}", ws.attachment)
	mux.Handle("GET /static/", ws.static)
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		ws.fail(w, r, http.StatusNotFound, "not_found", "not_found_text")
	})
	return ws.headers(mux)
}

// headers sets the security headers of every response and recovers a
// request's panic (a 500; the daemon goes on).
func (ws *webServer) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", webCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store") // personal data, even masked
		}
		if ws.set.CertFile != "" {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				ws.d.metrics.panicked()
				ws.d.log.Error("web: a request panicked", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// who is the agent a request comes from: by a link signed for its path
// (when link), the trusted header from a trusted proxy, or the session
// cookie. session tells whether the agent has a session (or the proxy's
// sign-on), which opens the queue and search.
func (ws *webServer) who(r *http.Request, link bool) (agent ticket.Agent, session bool, err error) {
	now := ws.now()
	var email string
	if h := ws.set.TrustedHeader; h != "" && ws.fromProxy(r) {
		email = strings.TrimSpace(r.Header.Get(h))
		session = email != ""
	}
	if email == "" {
		if c, cerr := r.Cookie(webCookie); cerr == nil {
			if q, perr := url.ParseQuery(c.Value); perr == nil {
				if e, serr := ws.signer.CheckWebLink(webSession, q, now); serr == nil {
					email, session = e, true
				}
			}
		}
	}
	if q := r.URL.Query(); link && q.Has("sig") {
		e, lerr := ws.signer.CheckWebLink(r.URL.Path, q, now)
		switch {
		case lerr != nil && session:
			e = email // an old link in a signed-in browser: the session decides
		case lerr != nil:
			return ticket.Agent{}, false, lerr
		}
		if !strings.EqualFold(e, email) {
			session = false // another agent's session does not go with this link
		}
		email = e
	}
	if email == "" {
		return ticket.Agent{}, false, errWebNoAuth
	}
	for _, a := range ws.d.s.Ticket.Agents {
		if strings.EqualFold(a.Email, email) {
			return a, session, nil
		}
	}
	return ticket.Agent{}, false, fmt.Errorf("%s: %w", email, errWebNotAgent)
}

// fromProxy reports whether r came straight from a trusted proxy.
func (ws *webServer) fromProxy(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	return slices.ContainsFunc(ws.set.TrustedProxies, func(p netip.Prefix) bool { return p.Contains(ip) })
}

// deny answers 403 and logs why (never the query: it holds a signature).
func (ws *webServer) deny(w http.ResponseWriter, r *http.Request, err error) {
	ws.d.log.Info("web: refused", "path", r.URL.Path, "remote", r.RemoteAddr, "why", err.Error())
	text := "forbidden_text"
	switch {
	case errors.Is(err, ticket.ErrLinkExpired):
		text = "expired_text"
	case errors.Is(err, errWebNotAgent):
		text = "not_agent_text"
	}
	ws.fail(w, r, http.StatusForbidden, "forbidden", text)
}

// webPage is what every page template reads.
type webPage struct {
	Title, Center, Agent string
	Session              bool
	ErrorTitle           string
	ErrorText            string
	Ticket               *webTicket
	// The queue.
	Lists                 []webList
	Groups, Categories    []string
	Group, Category       string
	Query, Status, Notice string
	Statuses              []ticket.Status
	Searched              bool
	Hits                  []webRow
}

type webList struct {
	ID, Title string
	Rows      []webRow
	More      int
}

// webRow is a ticket in a list.
type webRow struct {
	ID                                  uint64
	Status                              ticket.Status
	Subject, Requester, Category, Group string
	Assignee, Link, Coverage            string
	Updated                             time.Time
	Overdue                             bool
}

type webTicket struct {
	ticketView
	Participants              []ticket.Address
	Follows                   uint64
	Erased                    time.Time
	LateFirst, LateResolution bool
	Messages                  []webMessage
}

type webMessage struct {
	ID            uint64
	Kind          ticket.Kind
	From          ticket.Address
	To, Cc        []ticket.Address
	Date          time.Time
	Delivery      string
	DeliveryError string
	Automatic     string
	Warnings      []string
	Visible, Body string
	Shown, Whole  htmltemplate.HTML // HTML: the author's part, the whole
	Quoted        bool
	Files         []webFile
}

type webFile struct {
	ticket.Attachment
	URL   string
	Image bool
}

// render writes a page; a template that fails is logged and answered 500.
func (ws *webServer) render(w http.ResponseWriter, status int, name string, p webPage) {
	p.Center = ws.center
	var b strings.Builder
	if err := ws.pages.Render(&b, name, p); err != nil {
		ws.d.log.Error("web: a page could not be rendered", "page", name, "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprint(w, b.String())
}

func (ws *webServer) fail(w http.ResponseWriter, r *http.Request, status int, title, text string) {
	term := func(k string) string { return templates.WebTerm(ws.lang, k) }
	ws.render(w, status, "error", webPage{Title: term(title), ErrorTitle: term(title), ErrorText: term(text)})
}

// audit records a page view; the page is not shown without its record.
func (ws *webServer) audit(tx ticket.Tx, agent ticket.Agent, id uint64, detail string) error {
	return tx.AddAudit(&ticket.AuditRecord{At: ws.now().UTC(), Who: agent.Email, Action: ticket.AuditWebView, Ticket: id, Reason: "web", Detail: detail})
}

func (ws *webServer) ticketPage(w http.ResponseWriter, r *http.Request) {
	agent, session, err := ws.who(r, true)
	if err != nil {
		ws.deny(w, r, err)
		return
	}
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		ws.fail(w, r, http.StatusNotFound, "not_found", "not_found_text")
		return
	}
	var t ticket.Ticket
	var msgs []ticket.Message
	err = ws.d.db.Update(func(tx ticket.Tx) error {
		var err error
		if t, msgs, err = (localBackend{d: ws.d}).readTicket(tx, id); err != nil {
			return err
		}
		return ws.audit(tx, agent, id, "ticket")
	})
	switch {
	case errors.Is(err, errNoTicket):
		ws.fail(w, r, http.StatusNotFound, "not_found", "not_found_text")
		return
	case err != nil:
		ws.d.log.Error("web: reading a ticket", "ticket", id, "err", err)
		ws.fail(w, r, http.StatusInternalServerError, "failed", "failed_text")
		return
	}
	wt := ws.ticketOf(t, msgs, agent)
	ws.render(w, http.StatusOK, "ticket", webPage{Title: fmt.Sprintf("#%d %s", t.ID, wt.Subject), Agent: agent.Email, Session: session, Ticket: wt})
}

// ticketOf is the page's view of t, masked, its attachments linked for
// agent.
func (ws *webServer) ticketOf(t ticket.Ticket, msgs []ticket.Message, agent ticket.Agent) *webTicket {
	now := ws.now()
	v := newTicketView(t, msgs, true)
	wt := &webTicket{ticketView: v, Participants: t.Participants, Follows: t.Follows, Erased: t.Erased}
	for _, o := range t.Overdue(now) {
		wt.LateFirst = wt.LateFirst || o == "first_response"
		wt.LateResolution = wt.LateResolution || o == "resolution"
	}
	exp := now.Add(webAssetLifetime)
	n := 0 // attachments before this message's, as attachment get counts them
	for i, m := range msgs {
		mv := v.Messages[i]
		wm := webMessage{ID: m.ID, Kind: m.Kind, From: m.From, To: m.To, Cc: m.Cc, Date: m.Date, Delivery: m.Delivery,
			DeliveryError: m.DeliveryError, Automatic: m.Automatic, Warnings: m.Warnings, Visible: mv.Visible, Body: mv.Body}
		cids := map[string]string{}
		for j, a := range m.Attachments {
			path := fmt.Sprintf("/t/%d/a/%d", t.ID, n+j+1)
			f := webFile{Attachment: a, URL: path + "?" + ws.signer.WebLinkQuery(path, agent.Email, exp), Image: safeImage(a.ContentType)}
			f.Filename = ticket.MaskPersonalData(f.Filename)
			if a.ContentID != "" {
				cids[strings.Trim(a.ContentID, "<> ")] = f.URL
			}
			wm.Files = append(wm.Files, f)
		}
		n += len(m.Attachments)
		if m.HTML != "" {
			whole := rfc822.RewriteHTML(m.HTML, ticket.MaskPersonalData, func(id string) (string, bool) {
				u, ok := cids[id]
				return u, ok
			})
			wm.Whole = htmltemplate.HTML(whole) // sanitised by RewriteHTML
			if author := quote.AuthorHTML(whole); author != "" {
				wm.Shown = htmltemplate.HTML(rfc822.SanitizeHTML(author))
			}
			wm.Quoted = wm.Shown == "" || string(wm.Shown) != whole
		} else {
			wm.Quoted = strings.TrimSpace(mv.Body) != strings.TrimSpace(mv.Visible)
		}
		wt.Messages = append(wt.Messages, wm)
	}
	return wt
}

// safeImage reports whether a content type is an image a browser may show
// in place: raster formats only (an SVG can hold a script).
func safeImage(ct string) bool {
	mt, _, _ := mime.ParseMediaType(ct)
	switch strings.ToLower(mt) {
	case "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp":
		return true
	}
	return false
}

func (ws *webServer) attachment(w http.ResponseWriter, r *http.Request) {
	agent, _, err := ws.who(r, true)
	if err != nil {
		ws.deny(w, r, err)
		return
	}
	id, err1 := strconv.ParseUint(r.PathValue("id"), 10, 64)
	k, err2 := strconv.Atoi(r.PathValue("n"))
	if err1 != nil || err2 != nil || k < 1 {
		ws.fail(w, r, http.StatusNotFound, "not_found", "not_found_text")
		return
	}
	f, err := (localBackend{d: ws.d}).attachment(id, k)
	if err == nil {
		err = ws.d.db.Update(func(tx ticket.Tx) error { return ws.audit(tx, agent, id, fmt.Sprintf("attachment %d", k)) })
	}
	if err != nil {
		ws.d.log.Info("web: attachment not served", "ticket", id, "attachment", k, "err", err)
		ws.fail(w, r, http.StatusNotFound, "not_found", "not_found_text")
		return
	}
	name := rfc822.SafeFilename(f.Filename)
	h := w.Header()
	// Never a page: a download, or an image of a safe type that is one.
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	mt, _, _ := mime.ParseMediaType(f.ContentType)
	if safeImage(f.ContentType) && http.DetectContentType(f.Data) == strings.ToLower(mt) {
		h.Set("Content-Type", strings.ToLower(mt))
		h.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": name}))
	} else {
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	}
	h.Set("Content-Length", strconv.Itoa(len(f.Data)))
	w.Write(f.Data)
}

// login starts a session from a link signed for /login and shows the
// queue.
func (ws *webServer) login(w http.ResponseWriter, r *http.Request) {
	if !r.URL.Query().Has("sig") {
		ws.deny(w, r, ticket.ErrLinkUnsigned)
		return
	}
	agent, _, err := ws.who(r, true)
	if err != nil {
		ws.deny(w, r, err)
		return
	}
	exp := ws.now().Add(ws.set.SessionLifetime)
	http.SetCookie(w, &http.Cookie{Name: webCookie, Value: ws.signer.WebLinkQuery(webSession, agent.Email, exp), Path: "/",
		Expires: exp, HttpOnly: true, Secure: ws.secure, SameSite: http.SameSiteStrictMode})
	ws.queue(w, r, agent)
}

func (ws *webServer) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: webCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: ws.secure, SameSite: http.SameSiteStrictMode})
	ws.fail(w, r, http.StatusOK, "signed_out", "signed_out_text")
}

// sessionAgent is the agent of a page only a session opens.
func (ws *webServer) sessionAgent(w http.ResponseWriter, r *http.Request) (ticket.Agent, bool) {
	agent, session, err := ws.who(r, false)
	if err == nil && !session {
		err = errWebNoAuth
	}
	if err != nil {
		ws.deny(w, r, err)
		return ticket.Agent{}, false
	}
	return agent, true
}

func (ws *webServer) queuePage(w http.ResponseWriter, r *http.Request) {
	if agent, ok := ws.sessionAgent(w, r); ok {
		ws.queue(w, r, agent)
	}
}

// queue shows the agent's lists: a group's or category's open tickets
// when asked, the agent's own, the unassigned and the overdue.
func (ws *webServer) queue(w http.ResponseWriter, r *http.Request, agent ticket.Agent) {
	group, category := r.URL.Query().Get("group"), r.URL.Query().Get("category")
	var all []ticket.Ticket
	err := ws.d.db.Update(func(tx ticket.Tx) error {
		var err error
		if all, err = tx.Tickets(ticket.TicketFilter{}); err != nil {
			return err
		}
		return ws.audit(tx, agent, 0, "queue")
	})
	if err != nil {
		ws.d.log.Error("web: reading the queue", "err", err)
		ws.fail(w, r, http.StatusInternalServerError, "failed", "failed_text")
		return
	}
	now := ws.now()
	slices.SortStableFunc(all, func(a, b ticket.Ticket) int { return b.UpdatedAt.Compare(a.UpdatedAt) })
	term := func(k string) string { return templates.WebTerm(ws.lang, k) }
	p := webPage{Title: term("queue"), Agent: agent.Email, Session: true, Group: group, Category: category}
	for _, g := range ws.d.s.Config.Groups {
		p.Groups = append(p.Groups, g.Name)
	}
	lists := []webList{{ID: "mine", Title: term("mine")}, {ID: "unassigned", Title: term("unassigned")}, {ID: "overdue", Title: term("overdue")}}
	if group != "" || category != "" {
		lists = append([]webList{{ID: "filtered", Title: term("filtered")}}, lists...)
	}
	seen := map[string]bool{}
	for _, t := range all {
		if t.Category != "" && !seen[t.Category] {
			seen[t.Category] = true
			p.Categories = append(p.Categories, t.Category)
		}
		if t.Status == ticket.StatusSolved || t.Status == ticket.StatusClosed {
			continue
		}
		row := ws.row(t, now)
		for i := range lists {
			var in bool
			switch lists[i].ID {
			case "filtered":
				in = (group == "" || t.Group == group) && (category == "" || t.Category == category)
			case "mine":
				in = strings.EqualFold(t.Assignee, agent.Email)
			case "unassigned":
				in = t.Assignee == ""
			case "overdue":
				in = row.Overdue
			}
			if in {
				if len(lists[i].Rows) < webRows {
					lists[i].Rows = append(lists[i].Rows, row)
				} else {
					lists[i].More++
				}
			}
		}
	}
	slices.Sort(p.Categories)
	p.Lists = lists
	ws.render(w, http.StatusOK, "queue", p)
}

// row is t in a list, masked.
func (ws *webServer) row(t ticket.Ticket, now time.Time) webRow {
	return webRow{ID: t.ID, Status: t.Status, Subject: ticket.MaskPersonalData(t.Subject), Requester: t.Requester.Email,
		Category: t.Category, Group: t.Group, Assignee: t.Assignee, Link: fmt.Sprintf("/t/%d", t.ID),
		Updated: t.UpdatedAt, Overdue: len(t.Overdue(now)) > 0}
}

func (ws *webServer) searchPage(w http.ResponseWriter, r *http.Request) {
	agent, ok := ws.sessionAgent(w, r)
	if !ok {
		return
	}
	term := func(k string) string { return templates.WebTerm(ws.lang, k) }
	q := r.URL.Query()
	p := webPage{Title: term("search"), Agent: agent.Email, Session: true, Query: q.Get("q"), Status: q.Get("status"),
		Statuses: []ticket.Status{ticket.StatusNew, ticket.StatusOpen, ticket.StatusPending, ticket.StatusSolved, ticket.StatusClosed}}
	if strings.TrimSpace(p.Query) == "" {
		ws.render(w, http.StatusOK, "search", p)
		return
	}
	req := searchRequest{Query: p.Query}
	if p.Status != "" {
		s, err := ticket.ParseStatus(p.Status)
		if err != nil {
			p.Notice = term("search_bad_query")
			ws.render(w, http.StatusBadRequest, "search", p)
			return
		}
		req.Status = s
	}
	hits, err := ws.d.search(r.Context(), req)
	if err == nil {
		err = ws.d.db.Update(func(tx ticket.Tx) error { return ws.audit(tx, agent, 0, fmt.Sprintf("search (%d found)", len(hits))) })
	}
	switch {
	case errors.Is(err, ticket.ErrSearchQuery):
		p.Notice = term("search_no_word")
	case errors.Is(err, ticket.ErrSearchIndex):
		p.Notice = term("search_unbuilt")
	case err != nil:
		ws.d.log.Error("web: search", "err", err)
		ws.fail(w, r, http.StatusInternalServerError, "failed", "failed_text")
		return
	default:
		p.Searched = true
		now := ws.now()
		for _, h := range hits {
			row := ws.row(h.Ticket, now)
			row.Coverage = fmt.Sprintf("%.0f%%", h.Coverage*100)
			p.Hits = append(p.Hits, row)
		}
	}
	ws.render(w, http.StatusOK, "search", p)
}
