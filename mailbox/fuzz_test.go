package mailbox

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ticketd/ticketd/mailbox/rfc822"
	"github.com/ticketd/ticketd/ticket"
)

// mailStrings returns every string of m, for the UTF-8 checks.
func mailStrings(m *ticket.Mail) []string {
	s := []string{m.From.Name, m.From.Email, m.Subject, m.MessageID, m.InReplyTo, m.Text, m.HTML, m.Visible}
	for _, l := range [][]ticket.Address{m.To, m.Cc, m.ReplyTo} {
		for _, a := range l {
			s = append(s, a.Name, a.Email)
		}
	}
	s = append(s, m.References...)
	for _, a := range m.Attachments {
		s = append(s, a.Filename, a.ContentType, a.SHA256, a.ContentID)
	}
	for k, v := range m.Headers {
		s = append(s, k, v)
	}
	return append(s, m.Warnings...)
}

func utf8ValidString(s string) bool { return utf8.ValidString(s) }

// FuzzParse checks that Parse never panics (nor recovers from a panic), that it either rejects the input
// with rfc822.ErrNotMail or returns a mail, and that every string it returns is
// valid UTF-8. It is seeded with every file under testdata.
func FuzzParse(f *testing.F) {
	err := filepath.WalkDir("../testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || filepath.Ext(path) == ".json" || filepath.Ext(path) == ".md" || d.Name() == "LICENSE" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f.Add(b)
		return nil
	})
	if err != nil {
		f.Fatalf("seed corpus: %v", err)
	}
	f.Add([]byte(""))
	f.Add([]byte("Subject: x\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Parse(raw)
		if err != nil {
			if !errors.Is(err, rfc822.ErrNotMail) {
				t.Fatalf("Parse error does not wrap rfc822.ErrNotMail: %v", err)
			}
			if m != nil {
				t.Fatalf("Parse returned a mail and an error")
			}
			return
		}
		if m == nil {
			t.Fatalf("Parse returned neither a mail nor an error")
		}
		for _, s := range mailStrings(m) {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 in result: %q", s)
			}
		}
		// Parse recovers from panics; a recovered panic is still a bug.
		for _, w := range m.Warnings {
			if strings.HasPrefix(w, rfc822.InternalError) {
				t.Fatalf("recovered panic: %s", w)
			}
		}
		for _, a := range m.Attachments {
			if a.Size < 0 || len(a.SHA256) != 64 {
				t.Fatalf("bad attachment %+v", a)
			}
		}
	})
}
