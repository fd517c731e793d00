package smtp

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ticketd/ticketd/store"
	"github.com/ticketd/ticketd/ticket"
	"github.com/ticketd/ticketd/ticket/tickettest"
)

// BenchmarkOutboxSend sends b.N acknowledgement-sized mails to the
// in-process SMTP server on one kept connection: "sender" by the Sender
// alone, "outbox" through the outbox on a bbolt store (claim and record
// committed, fsync'd). The difference is what the outbox adds a mail.
func BenchmarkOutboxSend(b *testing.B) {
	srv := smtpDev(b, false)
	o := smtpOutgoing()
	o.Text = fmt.Sprintf("%2000s", "접수되었습니다.")
	o.HTML = "<p>" + o.Text + "</p>"
	b.Run("sender", func(b *testing.B) {
		snd := smtpPlainSender(b, srv)
		defer snd.Close()
		b.ResetTimer()
		for b.Loop() {
			if _, err := snd.Send(context.Background(), o, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
	})
	b.Run("outbox", func(b *testing.B) {
		st, err := store.Open(filepath.Join(b.TempDir(), "t.db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		if err := st.Update(func(tx ticket.Tx) error {
			for range b.N {
				q := o
				q.ID = 0
				q.CreatedAt = time.Now()
				if err := tx.Enqueue(&q); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		snd := smtpPlainSender(b, srv)
		defer snd.Close()
		w := tickettest.Outbox(b, st, snd, ticket.OutboxConfig{})
		b.ResetTimer()
		start := time.Now()
		sent, _, _, err := w.Flush(context.Background())
		el := time.Since(start)
		if err != nil || sent != b.N {
			b.Fatalf("sent %d of %d: %v", sent, b.N, err)
		}
		b.ReportMetric(float64(b.N)/el.Seconds(), "mails/s")
	})
}
