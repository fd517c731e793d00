package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ticketd/ticketd/store"
	"github.com/ticketd/ticketd/ticket"
)

// BenchmarkWebPages measures the web view's pages as an agent's browser
// asks for them (the handler, with its audit record and commit), on
// generated stores of 2,000 tickets (one message each) and 25,000 tickets
// (four each): the queue (which reads every ticket), one ticket, and a
// Korean search. It reports p50 and p95.
//
//	go test ./cmd/ticketd -run XXX -bench BenchmarkWebPages -benchtime 100x
func BenchmarkWebPages(b *testing.B) {
	for _, size := range []struct{ tickets, per int }{{2000, 1}, {25000, 4}} {
		b.Run(fmt.Sprintf("tickets=%d,messages=%d", size.tickets, size.tickets*size.per), func(b *testing.B) {
			dir := b.TempDir()
			cfg := filepath.Join(dir, "ticketd.yaml")
			os.WriteFile(cfg, []byte(`data_dir: `+dir+`
center: {name: 서민금융 고객센터, address: support@example.test}
mailboxes: [{name: support, host: 127.0.0.1, port: 1, security: plain, username: support@example.test, password_env: TD_BENCH_PW}]
smtp: {host: 127.0.0.1, port: 1, security: plain}
agents: [{name: 김상담, email: agent@example.test}]
web: {listen: "127.0.0.1:1"}
log: {level: error}
`), 0o600)
			b.Setenv("TD_BENCH_PW", "x")
			s, errs := loadConfig(cfg)
			if len(errs) > 0 {
				b.Fatal(errs)
			}
			db, err := store.Open(s.DBPath, nil)
			if err != nil {
				b.Fatal(err)
			}
			words := []string{"햇살론", "대출신청이", "안 됩니다", "앱에서", "로그인이", "안돼요", "상환일을", "바꾸고", "싶습니다", "채무조정", "서류를", "제출했는데", "확인", "부탁드립니다"}
			for start := 0; start < size.tickets; start += 500 {
				err := db.Update(func(tx ticket.Tx) error {
					for range min(500, size.tickets-start) {
						id, err := tx.NextTicketID()
						if err != nil {
							return err
						}
						at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(id) * time.Minute)
						text := func(k int) string {
							return words[(int(id)+k)%len(words)] + " " + words[(int(id)*7+k)%len(words)] + " " + words[(int(id)*3+k)%len(words)]
						}
						if err := tx.PutTicket(ticket.Ticket{ID: id, Subject: text(0), Status: ticket.StatusOpen, CreatedAt: at, UpdatedAt: at,
							Requester: ticket.Address{Email: fmt.Sprintf("c%d@example.org", id)}, Messages: size.per}); err != nil {
							return err
						}
						for k := range size.per {
							m := &ticket.Message{TicketID: id, Direction: ticket.DirIn, Kind: ticket.KindCustomer, Subject: text(0),
								From: ticket.Address{Email: fmt.Sprintf("c%d@example.org", id)}, Body: text(k) + "\n" + text(k+1), Date: at, ReceivedAt: at}
							m.Visible = m.Body
							if err := tx.AddMessage(m, nil); err != nil {
								return err
							}
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			for {
				n, err := db.IndexPending(256)
				if err != nil {
					b.Fatal(err)
				}
				if n == 0 {
					break
				}
			}
			d, err := wire(s, slog.New(slog.DiscardHandler), db)
			if err != nil {
				b.Fatal(err)
			}
			defer d.close()
			ws, err := newWebServer(d)
			if err != nil {
				b.Fatal(err)
			}
			h := ws.handler()
			cookie := &http.Cookie{Name: webCookie, Value: d.signer.WebLinkQuery(webSession, "agent@example.test", time.Now().Add(time.Hour))}
			for _, page := range []struct{ name, path string }{
				{"queue", "/"}, {"ticket", fmt.Sprintf("/t/%d", size.tickets/2)}, {"search", "/search?q=" + url.QueryEscape("로그인안돼요")},
			} {
				b.Run(page.name, func(b *testing.B) {
					var took []time.Duration
					for b.Loop() {
						r := httptest.NewRequest(http.MethodGet, page.path, nil)
						r.AddCookie(cookie)
						w := httptest.NewRecorder()
						start := time.Now()
						h.ServeHTTP(w, r)
						took = append(took, time.Since(start))
						if w.Code != 200 {
							b.Fatalf("%s: %d %s", page.path, w.Code, w.Body)
						}
					}
					slices.Sort(took)
					b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "p95-ms")
				})
			}
		})
	}
}
