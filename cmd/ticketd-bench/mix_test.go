package main

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"path/filepath"
	"strings"
	"testing"
)

func testMix(t *testing.T, seed uint64, n int) *mix {
	t.Helper()
	corpus, err := loadCorpus(filepath.Join("..", ".."), "testdata/corpus/imap_tools/messages", "testdata/mail")
	if err != nil {
		t.Fatal(err)
	}
	return newMix(seed, n, corpus)
}

// TestMixReproducible: the same seed gives the same mails, another seed
// other ones.
func TestMixReproducible(t *testing.T) {
	a, b, c := testMix(t, 1, 60), testMix(t, 1, 60), testMix(t, 2, 60)
	differ := 0
	for i := range 60 {
		if !bytes.Equal(a.build(i), b.build(i)) {
			t.Fatalf("mail %d differs between two mixes with seed 1", i)
		}
		if !bytes.Equal(a.build(i), c.build(i)) {
			differ++
		}
	}
	if differ < 55 {
		t.Errorf("only %d of 60 mails differ between seeds 1 and 2", differ)
	}
}

// TestMixShape: the shares of the issue, sizes in range, CRLF only, and
// every mail readable as MIME with our From, Subject and Message-ID.
func TestMixShape(t *testing.T) {
	const n = 200
	m := testMix(t, 1, n)
	var count [3]int
	ids := map[string]bool{}
	for i := range n {
		raw := m.build(i)
		k := m.kinds[i]
		count[k]++
		if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
			t.Errorf("mail %d has a bare LF", i)
		}
		lo, hi := textMin/2, textMax+1024
		switch k {
		case kindMedium:
			lo, hi = mediumMin*4/3, mediumMax*4/3+textMax+4096
		case kindLarge:
			lo, hi = largeMin*4/3, largeMax*4/3+textMax+4096
		}
		if len(raw) < lo || len(raw) > hi {
			t.Errorf("mail %d (%v): %d bytes, want %d-%d", i, k, len(raw), lo, hi)
		}
		hdr, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("mail %d: %v", i, err)
		}
		if !strings.HasPrefix(hdr.Header.Get("Subject"), tag(i)) {
			t.Errorf("mail %d: subject %q", i, hdr.Header.Get("Subject"))
		}
		if from := hdr.Header.Get("From"); !strings.Contains(from, "@example.test>") {
			t.Errorf("mail %d: From %q", i, from)
		}
		id := hdr.Header.Get("Message-Id")
		if ids[id] {
			t.Errorf("mail %d: Message-ID %s twice", i, id)
		}
		ids[id] = true
		if k != kindText {
			mt, params, err := mime.ParseMediaType(hdr.Header.Get("Content-Type"))
			if err != nil || mt != "multipart/mixed" {
				t.Fatalf("mail %d: Content-Type %q: %v", i, hdr.Header.Get("Content-Type"), err)
			}
			mr := multipart.NewReader(hdr.Body, params["boundary"])
			var last *multipart.Part
			parts := 0
			for {
				p, err := mr.NextRawPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("mail %d: part %d: %v", i, parts, err)
				}
				parts++
				last = p
				if _, err := io.Copy(io.Discard, p); err != nil {
					t.Fatalf("mail %d: part %d: %v", i, parts, err)
				}
			}
			if parts != 2 || last.Header.Get("Content-Transfer-Encoding") != "base64" {
				t.Errorf("mail %d: %d parts, want the text and a base64 attachment", i, parts)
			}
		}
	}
	if count[kindText] != 140 || count[kindMedium] != 50 || count[kindLarge] != 10 {
		t.Errorf("kinds %v, want [140 50 10]", count)
	}
}
