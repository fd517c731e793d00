package mailbox_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ticketd/ticketd/mailbox"
)

// parseMix is the mix of BenchmarkParseStore, built the same way: every
// imap_tools corpus mail, 60 Korean text inquiries, 40 with a 200 KB
// screenshot and 4 with a 2 MB PDF (base64).
func parseMix(b *testing.B) [][]byte {
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
	head := "From: 김고객 <kim@example.test>\r\nTo: support@example.test\r\nSubject: =?UTF-8?B?" +
		base64.StdEncoding.EncodeToString([]byte("대출 상환 문의")) + "?=\r\nMIME-Version: 1.0\r\n"
	for i := 0; i < 60; i++ {
		mix = append(mix, []byte(head+"Content-Type: text/plain; charset=utf-8\r\n\r\n"+strings.Repeat("상환일 변경을 요청드립니다. ", 100)+"\r\n"))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i, size := range append(make([]int, 40), 2<<20, 2<<20, 2<<20, 2<<20) {
		if size == 0 {
			size = 200 << 10
		}
		att := make([]byte, size)
		for j := range att {
			att[j] = byte(rng.Uint32())
		}
		var m bytes.Buffer
		m.WriteString(head + "Content-Type: multipart/mixed; boundary=BB\r\n\r\n--BB\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n첨부합니다.\r\n")
		fmt.Fprintf(&m, "--BB\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"s%d.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", i)
		enc := base64.StdEncoding.EncodeToString(att)
		for len(enc) > 76 {
			m.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		m.WriteString(enc + "\r\n--BB--\r\n")
		mix = append(mix, m.Bytes())
	}
	return mix
}

// BenchmarkParseMix measures Parse alone (no store) over parseMix; B/op is
// what one Parse allocates.
func BenchmarkParseMix(b *testing.B) {
	mix := parseMix(b)
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
