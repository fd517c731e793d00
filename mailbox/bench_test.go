package mailbox_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/store"
	"github.com/ticketd/ticketd/ticket"
	"github.com/ticketd/ticketd/ticket/tickettest"
)

var msgIDLine = regexp.MustCompile(`(?im)^message-id:[^\n]*\n`)

// benchMix is every imap_tools corpus mail plus generated Korean inquiries:
// text only, with a 200 KB screenshot, and with a 2 MB PDF, in roughly the
// proportions a help desk sees (most mail small, a quarter with an
// attachment, a few large).
func benchMix(b *testing.B) [][]byte {
	var mix [][]byte
	root := filepath.Join("..", "testdata", "corpus", "imap_tools", "messages")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".eml") {
			raw, rerr := os.ReadFile(p)
			if rerr != nil {
				return rerr
			}
			mix = append(mix, raw)
		}
		return err
	})
	if err != nil || len(mix) < 100 {
		b.Fatalf("corpus: %d mails, %v", len(mix), err)
	}
	text := "From: 김고객 <kim@example.test>\r\nTo: support@example.test\r\nSubject: =?UTF-8?B?" +
		base64.StdEncoding.EncodeToString([]byte("대출 상환 문의")) + "?=\r\nMIME-Version: 1.0\r\n"
	for i := 0; i < 60; i++ {
		mix = append(mix, []byte(text+"Content-Type: text/plain; charset=utf-8\r\n\r\n"+strings.Repeat("상환일 변경을 요청드립니다. ", 100)+"\r\n"))
	}
	rng := mrand.New(mrand.NewPCG(1, 2)) // the same mix every run
	for i, size := range append(make([]int, 40), 2<<20, 2<<20, 2<<20, 2<<20) {
		if size == 0 {
			size = 200 << 10
		}
		att := make([]byte, size)
		for j := range att {
			att[j] = byte(rng.Uint32())
		}
		var m bytes.Buffer
		m.WriteString(text + "Content-Type: multipart/mixed; boundary=BB\r\n\r\n--BB\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n첨부합니다.\r\n")
		fmt.Fprintf(&m, "--BB\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"s%d.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", i)
		enc := base64.StdEncoding.EncodeToString(att)
		for len(enc) > 76 {
			m.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		m.WriteString(enc + "\r\n--BB--\r\n")
		mix = append(mix, m.Bytes())
	}
	// The benchmarks give each mail a Message-ID of their own.
	for i, raw := range mix {
		mix[i] = msgIDLine.ReplaceAll(raw, nil)
	}
	return mix
}

// BenchmarkParseMix measures Parse alone (no store) over the mix; B/op is
// what one Parse allocates.
func BenchmarkParseMix(b *testing.B) {
	mix := benchMix(b)
	var total int64
	for _, m := range mix {
		total += int64(len(m))
	}
	b.ReportAllocs()
	b.SetBytes(total / int64(len(mix)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := mailbox.Parse(mix[i%len(mix)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseStore measures parse + store of one mail (one bbolt commit
// with fsync each), over the mix, into a plain and an encrypted database
// (privacy.key_file). It reports mails/s, MB/s of raw mail, and (with
// -benchmem) bytes allocated per mail as B/op.
func BenchmarkParseStore(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchParseStore(b, tickettest.DB(b)) })
	b.Run("encrypted", func(b *testing.B) { benchParseStore(b, tickettest.EncryptedDB(b)) })
}

func benchParseStore(b *testing.B, db *store.DB) {
	mix := benchMix(b)
	svc := tickettest.Service(b, db, ticket.Config{})
	// Each mail gets a unique Message-ID so none is a duplicate.
	mails := make([][]byte, b.N)
	var total int64
	for i := range mails {
		mails[i] = append(fmt.Appendf(nil, "Message-ID: <bench-%d@example.test>\r\n", i), mix[i%len(mix)]...)
		total += int64(len(mails[i]))
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		res, _, err := mailbox.Deliver(svc, mails[i], ticket.Incoming{Source: "bench"}, nil)
		if err != nil || res.Duplicate {
			b.Fatalf("mail %d: %+v %v", i, res, err)
		}
	}
	secs := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N)/secs, "mails/s")
	b.ReportMetric(float64(total)/secs/1e6, "MB/s")
	b.ReportMetric(float64(total)/float64(b.N), "rawB/mail")
}

// BenchmarkIngestPeakMemory measures the peak heap growth while one mail is
// parsed and stored, as a multiple of the mail's size, for mails of 1, 10
// and 25 MB that are mostly attachment (base64) or all text: UTF-8 Korean
// in lines, one single line, bytes that are not UTF-8 though declared so,
// and 8-bit bytes with no charset at all (both read as Latin-1, so the
// text is twice the bytes).
//
// The collector runs as in ticketd (GOGC 50 unless GOGC is set), since
// garbage not yet collected counts in the peak.
func BenchmarkIngestPeakMemory(b *testing.B) {
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(50))
	}
	for _, mb := range []int{1, 10, 25} {
		for _, kind := range []string{"attachment", "text", "invalid-utf8", "one-line", "unlabeled-8bit"} {
			b.Run(fmt.Sprintf("%dMB-%s", mb, kind), func(b *testing.B) {
				svc, _ := testService(b, nil)
				size := mb << 20
				var worst float64
				for i := 0; i < b.N; i++ {
					raw := bigMail(i, size, kind)
					runtime.GC()
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					base := ms.HeapAlloc
					var peak atomic.Uint64
					stop := make(chan struct{})
					done := make(chan struct{})
					go func() {
						defer close(done)
						var m runtime.MemStats
						for {
							runtime.ReadMemStats(&m)
							if m.HeapAlloc > base && m.HeapAlloc-base > peak.Load() {
								peak.Store(m.HeapAlloc - base)
							}
							select {
							case <-stop:
								return
							case <-time.After(time.Millisecond):
							}
						}
					}()
					if _, _, err := mailbox.Deliver(svc, raw, ticket.Incoming{Source: "bench"}, nil); err != nil {
						b.Fatal(err)
					}
					close(stop)
					<-done
					worst = max(worst, float64(peak.Load())/float64(len(raw)))
				}
				b.ReportMetric(worst, "peak/size")
			})
		}
	}
}

// bigMail builds a mail of about size bytes: one base64 attachment, or a
// long text body.
func bigMail(i, size int, kind string) []byte {
	var m bytes.Buffer
	fmt.Fprintf(&m, "From: kim@example.test\r\nTo: support@example.test\r\nSubject: big %d\r\nMessage-ID: <big-%d-%d@example.test>\r\nMIME-Version: 1.0\r\n", i, i, size)
	switch kind {
	case "text":
		m.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n")
		line := strings.Repeat("상환일 변경 요청드립니다. ", 5) + "\r\n"
		for m.Len() < size {
			m.WriteString(line)
		}
		return m.Bytes()
	case "invalid-utf8", "unlabeled-8bit":
		// Bytes of 0x80-0xff in lines: declared UTF-8 (and so invalid), or
		// with no charset at all (so guessed).
		if kind == "invalid-utf8" {
			m.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
		}
		m.WriteString("Content-Transfer-Encoding: 8bit\r\n\r\n")
		r := mrand.New(mrand.NewPCG(uint64(i), 1))
		line := make([]byte, 78)
		for m.Len() < size {
			for j := range line {
				line[j] = byte(0x80 + r.IntN(0x80))
			}
			m.Write(line)
			m.WriteString("\r\n")
		}
		return m.Bytes()
	case "one-line":
		m.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n")
		word := "상환일변경요청"
		for m.Len() < size {
			m.WriteString(word)
		}
		m.WriteString("\r\n")
		return m.Bytes()
	}
	m.WriteString("Content-Type: multipart/mixed; boundary=BB\r\n\r\n--BB\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n")
	m.WriteString("--BB\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=big.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	data := make([]byte, size*3/4)
	rand.Read(data)
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		m.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	m.WriteString(enc + "\r\n--BB--\r\n")
	return m.Bytes()
}

// BenchmarkPipe measures the parse-and-commit pipeline a poll feeds, over
// the mix, without IMAP: "serial" is one parser and one commit per mail (as
// ticketd ingested before the pipeline), "pipelined" the defaults (a parser
// per core, batches of up to 64 mails or 8 MiB).
func BenchmarkPipe(b *testing.B) {
	mix := benchMix(b)
	for _, c := range []struct {
		name string
		opt  mailbox.PipeOptions
	}{
		{"serial", mailbox.PipeOptions{Workers: 1, BatchMails: 1}},
		{"pipelined", mailbox.PipeOptions{}},
	} {
		b.Run(c.name, func(b *testing.B) {
			svc, _ := testService(b, nil)
			mails := make([][]byte, b.N)
			var total int64
			for i := range mails {
				mails[i] = append(fmt.Appendf(nil, "Message-ID: <pipe-%d@example.test>\r\n", i), mix[i%len(mix)]...)
				total += int64(len(mails[i]))
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			p := mailbox.NewPipe(svc, mailbox.PipeForTest(c.opt), nil, nil)
			ctx := context.Background()
			for i, raw := range mails {
				if err := p.Reserve(ctx, int64(len(raw))); err != nil {
					b.Fatal(err)
				}
				p.Submit(&mailbox.Job{Raw: raw, UID: uint32(i)}, int64(len(raw)))
			}
			p.Close()
			if err := p.Wait(); err != nil {
				b.Fatal(err)
			}
			secs := time.Since(start).Seconds()
			if st := p.Stats(); st.NewTickets+st.FollowUps != b.N {
				b.Fatalf("%d of %d mails stored", st.NewTickets+st.FollowUps, b.N)
			}
			b.ReportMetric(float64(b.N)/secs, "mails/s")
			b.ReportMetric(float64(total)/secs/1e6, "MB/s")
		})
	}
}
