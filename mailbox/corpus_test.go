package mailbox

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/ticketd/ticketd/ticket"
)

// corpusDir holds the imap_tools test mails (Apache-2.0, see LICENSE there)
// and what Python's email package plus imap_tools made of them.
const corpusDir = "../testdata/corpus/imap_tools"

// corpusFields are the fields compared with the corpus, in report order.
var corpusFields = []string{"subject", "from", "to", "cc", "reply_to", "date", "text", "attachments"}

// corpusRejects lists corpus mails Parse may reject, with the reason. There
// are none: every corpus file has at least one header field.
var corpusRejects = map[string]string{}

// corpusExclusions lists the known disagreements with the corpus, keyed by
// "file|field", each with the reason. Each one was looked at by hand; they are
// quirks of Python's parser or of imap_tools, or places where ticketd does
// better on purpose. An exclusion that no longer disagrees fails the test, so
// the list stays exact.
var corpusExclusions = map[string]string{}

// expectedMail is the part of an imap_tools expected JSON file we compare.
type expectedMail struct {
	Subject     string   `json:"subject"`
	From        string   `json:"from_"`
	To          []string `json:"to"`
	Cc          []string `json:"cc"`
	ReplyTo     []string `json:"reply_to"`
	Date        string   `json:"date"`
	DateStr     string   `json:"date_str"`
	Text        string   `json:"text"`
	HTML        string   `json:"html"`
	Note        string   `json:"_note"`
	Attachments []struct {
		Filename    string `json:"filename"`
		ContentType string `json:"content_type"`
		Payload     struct {
			Size   int64  `json:"size"`
			SHA256 string `json:"sha256"`
		} `json:"payload"`
	} `json:"attachments"`
}

// corpusFiles returns the .eml files under messages/, relative to it.
func corpusFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	root := filepath.Join(corpusDir, "messages")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".eml") {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk corpus: %v", err)
	}
	sort.Strings(files)
	return files
}

// normText makes texts comparable across parsers: LF line endings, no white
// space at the end of lines or at the end of the text.
func normText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRightFunc(l, unicode.IsSpace)
	}
	return strings.TrimRightFunc(strings.Join(lines, "\n"), unicode.IsSpace)
}

// metaCharset matches the charset of an HTML <meta> element.
var metaCharset = regexp.MustCompile(`(?i)(<meta[^>]*charset=["']?)[a-z0-9_-]+`)

// normMeta sets the charset named in <meta> elements to utf-8: imap_tools
// rewrites it so because it returns the HTML decoded; ticketd keeps the HTML
// as sent.
func normMeta(s string) string {
	return metaCharset.ReplaceAllString(s, "${1}utf-8")
}

// normSpace collapses runs of white space (header unfolding differs).
func normSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func emails(l []ticket.Address) []string {
	out := []string{}
	for _, a := range l {
		out = append(out, a.Email)
	}
	return out
}

func normEmails(l []string) []string {
	out := []string{}
	for _, e := range l {
		out = append(out, normEmail(e))
	}
	return out
}

// compareField returns "" when got agrees with want for the field, or a
// description of the difference.
func compareField(field string, m *ticket.Mail, want *expectedMail) string {
	diff := func(got, exp any) string {
		g, e := fmt.Sprintf("%q", got), fmt.Sprintf("%q", exp)
		if g == e {
			return ""
		}
		// Show where long values start to differ.
		i := 0
		for i < len(g) && i < len(e) && g[i] == e[i] {
			i++
		}
		from := max(0, i-60)
		return fmt.Sprintf("differ at byte %d: got %.200s, want %.200s", i, g[from:], e[from:])
	}
	switch field {
	case "subject":
		return diff(normSpace(m.Subject), normSpace(want.Subject))
	case "from":
		return diff(m.From.Email, normEmail(want.From))
	case "to":
		return diff(emails(m.To), normEmails(want.To))
	case "cc":
		return diff(emails(m.Cc), normEmails(want.Cc))
	case "reply_to":
		return diff(emails(m.ReplyTo), normEmails(want.ReplyTo))
	case "date":
		// imap_tools gives 1900-01-01 when it cannot parse the date, and a
		// time without zone when the zone is unknown: compare wall clock.
		if strings.HasPrefix(want.Date, "1900-01-01") {
			if m.Date.IsZero() {
				return ""
			}
			return diff(m.Date.Format(time.RFC3339), "(unparsed)")
		}
		if m.Date.IsZero() {
			return diff("(unparsed)", want.Date)
		}
		if len(want.Date) == len("2006-01-02T15:04:05") {
			return diff(m.Date.Format("2006-01-02T15:04:05"), want.Date)
		}
		return diff(m.Date.Format("2006-01-02T15:04:05-07:00"), want.Date)
	case "text":
		// imap_tools leaves text empty for HTML-only mail, where ticketd
		// renders the HTML: compare the HTML then, and require a text.
		if strings.TrimSpace(want.Text) == "" && strings.TrimSpace(want.HTML) != "" {
			if d := diff(normMeta(normText(m.HTML)), normMeta(normText(want.HTML))); d != "" {
				return "html: " + d
			}
			if strings.TrimSpace(m.Text) == "" && strings.TrimSpace(HTMLToText(want.HTML)) != "" {
				return "no text rendered from the HTML"
			}
			return ""
		}
		return diff(normText(m.Text), normText(want.Text))
	case "attachments":
		var got, exp []string
		for _, a := range m.Attachments {
			got = append(got, fmt.Sprintf("%s|%s|%d|%s", a.Filename, a.ContentType, a.Size, a.SHA256))
		}
		for _, a := range want.Attachments {
			exp = append(exp, fmt.Sprintf("%s|%s|%d|%s", a.Filename, strings.ToLower(a.ContentType), a.Payload.Size, a.Payload.SHA256))
		}
		return diff(got, exp)
	}
	panic("unknown field " + field)
}

// TestCorpus parses every imap_tools mail and compares the fields with what
// imap_tools expects. Every disagreement must be listed in corpusExclusions
// with its reason, and each field must agree on at least 90% of the mails
// counting the exclusions as disagreements.
func TestCorpus(t *testing.T) {
	files := corpusFiles(t)
	if len(files) < 100 {
		t.Fatalf("found %d corpus mails, want the 113 of imap_tools", len(files))
	}
	agree := map[string]int{}
	excluded := map[string]int{}
	usedExclusions := map[string]bool{}
	for _, rel := range files {
		raw, err := os.ReadFile(filepath.Join(corpusDir, "messages", rel))
		if err != nil {
			t.Fatal(err)
		}
		jb, err := os.ReadFile(filepath.Join(corpusDir, "expected", strings.TrimSuffix(rel, ".eml")+".expected.json"))
		if err != nil {
			t.Fatalf("%s: expected file: %v", rel, err)
		}
		var want expectedMail
		if err := json.Unmarshal(jb, &want); err != nil {
			t.Fatalf("%s: expected file: %v", rel, err)
		}
		m, err := Parse(raw)
		if err != nil {
			if reason, ok := corpusRejects[rel]; ok {
				t.Logf("%s: rejected as expected (%s): %v", rel, reason, err)
				continue
			}
			t.Errorf("%s: Parse: %v", rel, err)
			continue
		}
		if _, ok := corpusRejects[rel]; ok {
			t.Errorf("%s: listed in corpusRejects but parsed", rel)
		}
		checkValidUTF8(t, rel, m)
		for _, f := range corpusFields {
			key := rel + "|" + f
			reason, isExcluded := corpusExclusions[key]
			d := compareField(f, m, &want)
			switch {
			case d == "" && isExcluded:
				t.Errorf("%s: %s agrees now; remove the exclusion (%s)", rel, f, reason)
				agree[f]++
			case d == "":
				agree[f]++
			case isExcluded:
				usedExclusions[key] = true
				excluded[f]++
				t.Logf("%s: %s: excluded (%s): %s", rel, f, reason, d)
			default:
				t.Errorf("%s: %s: %s (warnings %q)", rel, f, d, m.Warnings)
			}
		}
	}
	for key := range corpusExclusions {
		if !usedExclusions[key] {
			if _, err := os.Stat(filepath.Join(corpusDir, "messages", strings.Split(key, "|")[0])); err != nil {
				t.Errorf("exclusion %q names no corpus file", key)
			}
		}
	}
	n := len(files) - len(corpusRejects)
	for _, f := range corpusFields {
		rate := float64(agree[f]) / float64(n)
		line := fmt.Sprintf("corpus agreement %-12s %3d/%d = %5.1f%% (%d documented exclusions)", f, agree[f], n, 100*rate, excluded[f])
		t.Log(line)
		if testing.Verbose() {
			fmt.Println(line)
		}
		if rate < 0.90 {
			t.Errorf("%s: agreement %.1f%% is below 90%%", f, 100*rate)
		}
	}
}

// checkValidUTF8 fails the test when any string of m is not valid UTF-8.
func checkValidUTF8(t *testing.T, name string, m *ticket.Mail) {
	t.Helper()
	for _, s := range mailStrings(m) {
		if !utf8ValidString(s) {
			t.Errorf("%s: invalid UTF-8 in result: %q", name, s)
		}
	}
}
