package store

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"gopkg.in/yaml.v3"

	"github.com/ticketd/ticketd/ticket"
)

// BenchmarkSearch measures ticket.Search on generated stores: 2,000
// tickets of one message (the benchmark box's size) and 25,000 tickets
// of four messages (100,000 messages). The messages are sentences of the
// FAQ test sets' inquiries (ticket/testdata), shuffled and joined, 2 to 6
// a message. It reports the index build (Reindex) time, the database's
// size with and without the index, and the p50 and p95 of a query (a
// word or two of the inquiries, Korean and Latin).
//
//	go test ./store -run XXX -bench BenchmarkSearch -benchtime 200x
func BenchmarkSearch(b *testing.B) {
	sentences := inquirySentences(b)
	for _, size := range []struct{ tickets, per int }{{2000, 1}, {25000, 4}} {
		b.Run(fmt.Sprintf("tickets=%d,messages=%d", size.tickets, size.tickets*size.per), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "t.db")
			db, err := Open(path, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			rng := rand.New(rand.NewPCG(1, 2))
			// Stored without the index (as a database from before it),
			// a thousand tickets a transaction.
			if err := db.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Delete(metaSearch) }); err != nil {
				b.Fatal(err)
			}
			for start := 0; start < size.tickets; start += 1000 {
				err := db.Update(func(tx ticket.Tx) error {
					for range min(1000, size.tickets-start) {
						id, err := tx.NextTicketID()
						if err != nil {
							return err
						}
						at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(id) * time.Minute)
						tk := ticket.Ticket{ID: id, Subject: sentences[rng.IntN(len(sentences))], Status: ticket.StatusOpen, CreatedAt: at, UpdatedAt: at,
							Requester: ticket.Address{Name: "고객", Email: fmt.Sprintf("c%d@example.org", id)}, Messages: size.per}
						if err := tx.PutTicket(tk); err != nil {
							return err
						}
						for range size.per {
							var parts []string
							for range 2 + rng.IntN(5) {
								parts = append(parts, sentences[rng.IntN(len(sentences))])
							}
							text := strings.Join(parts, " ")
							m := ticket.Message{TicketID: id, Direction: ticket.DirIn, Subject: tk.Subject, Body: text, Visible: text, ReceivedAt: at}
							if err := tx.AddMessage(&m, nil); err != nil {
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
			before := fileSize(b, db)
			start := time.Now()
			if err := db.Reindex(nil); err != nil {
				b.Fatal(err)
			}
			build := time.Since(start)
			after := fileSize(b, db)
			queries := []string{"대출", "상환일", "로그인 안돼요", "로그인안돼요", "앱", "햇살론 서류", "채무조정 신청", "비밀번호", "pdf", "재직증명서 제출", "본인인증이 안돼요", "중도상환수수료"}
			var took []time.Duration
			var found int
			i := 0
			for b.Loop() {
				q := queries[i%len(queries)]
				i++
				t0 := time.Now()
				err := db.View(func(tx ticket.ReadTx) error {
					hits, err := ticket.Search(tx, q, ticket.SearchFilter{})
					found += len(hits)
					return err
				})
				took = append(took, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "p95-ms")
			b.ReportMetric(float64(found)/float64(len(took)), "hits/query")
			b.ReportMetric(build.Seconds(), "build-s")
			b.ReportMetric(float64(before)/(1<<20), "db-MiB")
			b.ReportMetric(float64(after-before)/(1<<20), "index-MiB")
		})
	}
}

func fileSize(b *testing.B, db *DB) int64 {
	b.Helper()
	var n int64
	if err := db.bolt.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil }); err != nil {
		b.Fatal(err)
	}
	return n
}

// inquirySentences are the sentences of the FAQ test sets' inquiries.
func inquirySentences(b *testing.B) []string {
	var out []string
	for _, set := range []string{"faq", "faqdev"} {
		data, err := os.ReadFile(filepath.Join("..", "ticket", "testdata", set, "inquiries.yaml"))
		if err != nil {
			b.Fatal(err)
		}
		var inq []struct{ Subject, Body string }
		if err := yaml.Unmarshal(data, &inq); err != nil {
			b.Fatal(err)
		}
		for _, q := range inq {
			out = append(out, q.Subject)
			for _, s := range strings.FieldsFunc(q.Body, func(r rune) bool { return r == '\n' || r == '.' || r == '?' }) {
				if s = strings.TrimSpace(s); s != "" && !strings.HasPrefix(s, ">") {
					out = append(out, s)
				}
			}
		}
	}
	return out
}
