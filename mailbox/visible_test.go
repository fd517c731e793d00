package mailbox_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/mailbox/quote"
)

// quotesDir holds ticketd's own Korean reply fixtures: NAME.eml and the
// visible text Parse must give, NAME.visible.txt (see README.md there).
const quotesDir = "../testdata/quotes"

func TestParseVisibleKorean(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(quotesDir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("found %d fixtures in %s, want at least 10", len(files), quotesDir)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".eml")
		t.Run(name, func(t *testing.T) {
			m, err := mailbox.Parse(readTestFile(t, f))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Warnings) > 0 {
				t.Errorf("warnings: %v", m.Warnings)
			}
			want := strings.TrimRight(string(readTestFile(t, filepath.Join(quotesDir, name+".visible.txt"))), "\n")
			if m.Visible != want {
				t.Errorf("Visible:\n got %q\nwant %q", m.Visible, want)
			}
			if !strings.Contains(m.Text, strings.Split(want, "\n")[0]) {
				t.Errorf("Text %q does not hold the visible text", m.Text)
			}
		})
	}
}

// TestParseVisibleSource checks where Parse takes Visible from: the HTML
// structure for HTML-only mail, the text rules otherwise.
func TestParseVisibleSource(t *testing.T) {
	// The HTML marks the quote, the text part does not: with a text part,
	// Visible follows the text.
	const html = `<div>답장</div><div class="gmail_quote">X aliandika:<div>옛 내용</div></div>`
	alt := "From: a@example.com\nSubject: x\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b\n\n" +
		"--b\nContent-Type: text/plain; charset=utf-8\n\n답장\n\nX aliandika:\n옛 내용\n" +
		"--b\nContent-Type: text/html; charset=utf-8\n\n" + html + "\n--b--\n"
	m, err := mailbox.Parse([]byte(alt))
	if err != nil {
		t.Fatal(err)
	}
	if want := "답장\n\nX aliandika:\n옛 내용"; m.Visible != want {
		t.Errorf("with a text part: Visible %q, want %q", m.Visible, want)
	}
	only := "From: a@example.com\nSubject: x\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n" + html + "\n"
	m, err = mailbox.Parse([]byte(only))
	if err != nil {
		t.Fatal(err)
	}
	if m.Visible != "답장" {
		t.Errorf("HTML only: Visible %q, want %q", m.Visible, "답장")
	}
	if !strings.Contains(m.Text, "옛 내용") {
		t.Errorf("HTML only: Text %q lost the quote", m.Text)
	}
}

// talonDir holds the tests of mailgun/talon (Apache-2.0, see LICENSE there):
// standard_replies/*.eml and html_replies/*.html with the reply that should
// remain in expected/**.expected.txt, as listed in expected/index.json.
const talonDir = "../testdata/corpus/talon"

// talonExclusions are the talon expectations ticketd disagrees with on
// purpose, with the reason and what Visible gives instead.
var talonExclusions = map[string]struct{ reason, own string }{
	"standard_replies/iphone.eml": {
		reason: `talon keeps the mobile signature "Sent from my iPhone"; ticketd drops mobile signatures`,
		own:    "Hello",
	},
	"standard_replies/sparrow.eml": {
		reason: `talon keeps the signature after the "-- " delimiter (RFC 3676 section 4.3); ticketd drops it`,
		own:    "Hello",
	},
}

// talonCase is one entry of expected/index.json.
type talonCase struct {
	Input    string `json:"input"`
	Expected string `json:"expected"`
	Compare  string `json:"compare"`
}

var allSpace = regexp.MustCompile(`\s+`)

func TestTalon(t *testing.T) {
	var cases []talonCase
	if err := json.Unmarshal(readTestFile(t, filepath.Join(talonDir, "expected", "index.json")), &cases); err != nil {
		t.Fatal(err)
	}
	type tally struct {
		agree, compared int
		failed          []string
	}
	tallies := map[string]*tally{}
	seen := map[string]bool{}
	for _, c := range cases {
		// "tests/fixtures/standard_replies/x.eml" -> "standard_replies/x.eml"
		in := strings.TrimPrefix(c.Input, "tests/fixtures/")
		exp := strings.TrimPrefix(c.Expected, "_derived_expected/")
		corpus := filepath.Dir(in)
		raw := readTestFile(t, filepath.Join(talonDir, in))
		want := string(readTestFile(t, filepath.Join(talonDir, "expected", exp)))
		var got string
		var same func(a, b string) bool
		switch corpus {
		case "standard_replies":
			m, err := mailbox.Parse(raw)
			if err != nil {
				t.Fatalf("%s: %v", in, err)
			}
			got = m.Visible
			// talon: "exact after .strip()"
			same = func(a, b string) bool { return strings.TrimSpace(a) == strings.TrimSpace(b) }
		case "html_replies":
			got = quote.Visible("", string(raw), true)
			// talon: "whitespace-insensitive (all \s removed)"
			same = func(a, b string) bool { return allSpace.ReplaceAllString(a, "") == allSpace.ReplaceAllString(b, "") }
		default:
			t.Fatalf("%s: unknown talon corpus %q", in, corpus)
		}
		seen[in] = true
		if ex, ok := talonExclusions[in]; ok {
			if got != ex.own {
				t.Errorf("%s (excluded: %s): got %q, want %q", in, ex.reason, got, ex.own)
			}
			if same(got, want) {
				t.Errorf("%s is excluded but now agrees with talon: remove the exclusion", in)
			}
			continue
		}
		tl := tallies[corpus]
		if tl == nil {
			tl = &tally{}
			tallies[corpus] = tl
		}
		tl.compared++
		if same(got, want) {
			tl.agree++
			continue
		}
		tl.failed = append(tl.failed, in)
		t.Errorf("%s: disagrees with talon\n--- got:\n%s\n--- want:\n%s", in, got, want)
	}
	for in := range talonExclusions {
		if !seen[in] {
			t.Errorf("exclusion %s is not in the corpus", in)
		}
	}
	if len(tallies) != 2 {
		t.Errorf("talon corpora tested: %d, want 2", len(tallies))
	}
	names := make([]string, 0, len(tallies))
	for k := range tallies {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		tl := tallies[k]
		excluded := 0
		for in := range talonExclusions {
			if filepath.Dir(in) == k {
				excluded++
			}
		}
		rate := 100 * float64(tl.agree) / float64(max(tl.compared, 1))
		msg := fmt.Sprintf("quote corpus talon/%s: %d/%d agree (%.1f%%), %d excluded; disagreeing: %v",
			k, tl.agree, tl.compared, rate, excluded, tl.failed)
		t.Log(msg)
		if testing.Verbose() {
			fmt.Println(msg)
		}
		if rate < 90 {
			t.Errorf("agreement with talon/%s is %.1f%%, below 90%%", k, rate)
		}
	}
}

func readTestFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
