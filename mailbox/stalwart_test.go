package mailbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ticketd/ticketd/mailbox/rfc822"
	"github.com/ticketd/ticketd/ticket"
)

// stalwartDir holds the test mails of stalwartlabs/mail-parser (Rust), each
// NNN.eml with the parse tree that parser produced in NNN.json (from the
// mail with LF line endings; NNN.crlf.json, from CRLF, is not used).
const stalwartDir = "../testdata/corpus/stalwart"

// stalwartFolders are the corpus folders, in report order.
var stalwartFolders = []string{"rfc", "thirdparty", "malformed"}

// stalwartFields are the fields compared, in report order.
var stalwartFields = []string{"subject", "from", "to", "cc", "text", "attachments"}

// stalwartExclusions lists the known disagreements with mail-parser, keyed by
// "folder/file|field", each with the reason: a quirk of mail-parser or a
// deliberate difference of ticketd. Each one was looked at by hand. An
// exclusion that no longer disagrees fails the test, so the list stays exact.
// Differences of ticketd's that hold for every mail are comparison rules
// instead (stalwartRules).
var stalwartExclusions = map[string]string{
	"rfc/000.eml|text":        enriched + " (here a text/enriched part in a multipart/parallel is body text)",
	"rfc/000.eml|attachments": enriched,
	"rfc/003.eml|attachments": enriched + " (here a text/enriched alternative is dropped)",

	"thirdparty/005.eml|text": "\"invalid--1--\": mail-parser ends the part at a delimiter in the middle of a line; " +
		"RFC 2046 section 5.1.1 requires it at the start of a line, so ticketd keeps the text",

	"thirdparty/015.eml|attachments": outerBoundary + " (here a forwarded message declares a multipart that never " +
		"comes, and mail-parser's search for its boundary swallows the two attachments after it)",
	"malformed/009.eml|text":        outerBoundary,
	"malformed/011.eml|text":        outerBoundary,
	"malformed/012.eml|attachments": outerBoundary + " (here it loses the third forwarded message)",

	"malformed/017.eml|attachments": "\"Content-Disposition: ;\" then a folded filename parameter: ticketd reads " +
		"the filename image001.png leniently, mail-parser drops the field",

	"malformed/020.eml|text": twoContentTypes,
	"malformed/021.eml|text": twoContentTypes,
}

// Reasons shared by several stalwart exclusions.
const (
	enriched = "text/enriched (RFC 1896): mail-parser lists it as an attachment; ticketd renders it as body text " +
		"(formatting commands dropped), or drops it inside multipart/alternative where it is another rendering of " +
		"the body (RFC 2046 section 5.1.4)"
	outerBoundary = "a delimiter of an enclosing multipart ends the inner multipart whose close delimiter is " +
		"missing (RFC 2046 section 5.1.2), and ticketd reads on; mail-parser looks only for the innermost boundary " +
		"and reads the outer delimiter line and what follows as part of the inner part"
	twoContentTypes = "the multipart/alternative part has two Content-Type fields (multipart/alternative, then " +
		"text/plain, the first part's header run into it): mail-parser uses the last and shows the raw parts as " +
		"text, ticketd the first and reads the alternatives"
)

// Comparison rules: deliberate differences of ticketd's that hold for every
// mail, applied by compareStalwart rather than listed mail by mail. The test
// logs each field a rule applied to, and how many.
const (
	ruleRecovered  = "recovered"
	ruleNameless   = "nameless"
	ruleBlankPlain = "blank-plain"
	ruleForwarded  = "forwarded"
)

// stalwartRules documents the comparison rules.
var stalwartRules = map[string]string{
	ruleRecovered: "a text/plain or text/html part that mail-parser recovered (cut off by the end of the mail, " +
		"not in its declared transfer encoding, or a multipart without any delimiter) is listed by it as a text " +
		"attachment; ticketd keeps it as body text, because a help desk wants the readable text of a broken mail " +
		"in the ticket rather than in an unnamed attachment (see recoveredText)",
	ruleNameless: "a mailbox without an address (\"From: Whomever\") is left out: mail-parser keeps the name, " +
		"ticketd keeps only mailboxes it can answer (with a warning)",
	ruleBlankPlain: "blank text/plain parts beside an HTML body: mail-parser's text is empty, ticketd renders the " +
		"HTML (TestHTMLFallbackWhenPlainEmpty); the HTML is compared instead",
	ruleForwarded: "a forwarded message (message/rfc822 part): mail-parser keeps its text in that message, ticketd " +
		"also appends it to the text as a forwarded section, which is left out",
}

// swMessage is a parse tree of mail-parser: parts[0] is the message itself,
// and the body lists hold indices into parts. text_body holds the parts that
// make up the text rendering: text/plain parts, and also text/html parts
// (which mail-parser converts to text) and inline images where a text/plain
// alternative is missing; attachments may share indices with it (inline
// images). Byte offsets are ignored.
type swMessage struct {
	TextBody    []int    `json:"text_body"`
	HTMLBody    []int    `json:"html_body"`
	Attachments []int    `json:"attachments"`
	Parts       []swPart `json:"parts"`
}

type swPart struct {
	// IsEncodingProblem is set on a part mail-parser recovered: one cut
	// off by the end of the mail (no delimiter after it), or one whose
	// transfer encoding it could not undo (kept raw).
	IsEncodingProblem bool `json:"is_encoding_problem"`
	Headers           []struct {
		// Name is a string for the fields mail-parser knows, an object
		// for others.
		Name  json.RawMessage `json:"name"`
		Value json.RawMessage `json:"value"`
	} `json:"headers"`
	// Body is one of {"Text": s}, {"Html": s}, {"Binary": [bytes]},
	// {"InlineBinary": [bytes]}, {"Message": swMessage}, {"Multipart": [i]}.
	Body struct {
		Text         *string    `json:"Text"`
		HTML         *string    `json:"Html"`
		BinaryInts   []int      `json:"Binary"`
		InlineBinary []int      `json:"InlineBinary"`
		Message      *swMessage `json:"Message"`
	} `json:"body"`
}

// swHeaderValue is the decoded value of one header field.
type swHeaderValue struct {
	Text        *string `json:"Text"`
	Address     *swAddr `json:"Address"`
	ContentType *struct {
		Type       string  `json:"c_type"`
		Subtype    *string `json:"c_subtype"`
		Attributes []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"attributes"`
	} `json:"ContentType"`
}

type swMailbox struct {
	Name    *string `json:"name"`
	Address *string `json:"address"`
}

type swAddr struct {
	List  []swMailbox `json:"List"`
	Group []struct {
		Addresses []swMailbox `json:"addresses"`
	} `json:"Group"`
}

// header returns the value of the last field called name (mail-parser
// answers with the last occurrence), or nil.
func (p *swPart) header(name string) *swHeaderValue {
	for i := len(p.Headers) - 1; i >= 0; i-- {
		h := p.Headers[i]
		if string(h.Name) != `"`+name+`"` {
			continue
		}
		var v swHeaderValue
		if err := json.Unmarshal(h.Value, &v); err != nil {
			return &swHeaderValue{} // "Empty"
		}
		return &v
	}
	return nil
}

// attribute returns a parameter of a Content-Type or Content-Disposition.
func (v *swHeaderValue) attribute(name string) (string, bool) {
	if v == nil || v.ContentType == nil {
		return "", false
	}
	for _, a := range v.ContentType.Attributes {
		if strings.EqualFold(a.Name, name) {
			return a.Value, true
		}
	}
	return "", false
}

// mailboxes flattens an address header into "name <address>" strings,
// leaving out mailboxes without an address (ruleNameless).
func (p *swPart) mailboxes(name string, use func(rule string)) []string {
	out := []string{}
	v := p.header(name)
	if v == nil || v.Address == nil {
		return out
	}
	l := v.Address.List
	for _, g := range v.Address.Group {
		l = append(l, g.Addresses...)
	}
	for _, a := range l {
		n, e := "", ""
		if a.Name != nil {
			n = normSpace(*a.Name)
		}
		if a.Address != nil {
			e = rfc822.NormEmail(*a.Address)
		}
		if e == "" {
			use(ruleNameless)
			continue
		}
		out = append(out, n+" <"+e+">")
	}
	return out
}

func ourMailboxes(l []ticket.Address) []string {
	out := []string{}
	for _, a := range l {
		out = append(out, normSpace(a.Name)+" <"+a.Email+">")
	}
	return out
}

// recoveredText reports whether part i is body text that mail-parser lists
// as a text attachment only because it recovered it: a part flagged
// is_encoding_problem (cut off by the end of the mail, or with a transfer
// encoding it could not undo), or a multipart in which it found no
// delimiter and whose body it then read as text. Only parts that are body
// text otherwise count: text/plain or text/html (or no Content-Type, RFC
// 2045 section 5.2, or the multipart), no filename, no "attachment"
// disposition. ticketd keeps such parts as body text on purpose: a help desk
// wants the readable text of a truncated or broken mail in the ticket, not
// in an unnamed attachment. The comparison therefore moves them out of the
// attachments, and the text/plain ones (plain) into the text.
func (m *swMessage) recoveredText(i int) (plain, ok bool) {
	p := &m.Parts[i]
	if p.Body.Text == nil {
		return false, false
	}
	ct := p.header("content_type")
	typ, sub := "text", "plain"
	if ct != nil && ct.ContentType != nil {
		typ, sub = ct.ContentType.Type, ""
		if ct.ContentType.Subtype != nil {
			sub = *ct.ContentType.Subtype
		}
	}
	switch {
	case typ == "multipart":
	case !p.IsEncodingProblem:
		return false, false
	case typ != "text" || (sub != "plain" && sub != "html"):
		return false, false
	}
	if _, named := ct.attribute("name"); named {
		return false, false
	}
	disp := p.header("content_disposition")
	if _, named := disp.attribute("filename"); named ||
		(disp != nil && disp.ContentType != nil && strings.EqualFold(disp.ContentType.Type, "attachment")) {
		return false, false
	}
	return sub != "html", true
}

// expectedText joins the text/plain parts of text_body, and the recovered
// text parts (ruleRecovered), in the order of the mail, the way Parse joins
// its text parts (one empty line between them). It reports false when
// text_body holds no text/plain part but an HTML one: the text is then
// mail-parser's rendering of the HTML, which is compared as HTML instead.
func (m *swMessage) expectedText(use func(rule string)) (string, bool) {
	idx := slices.Clone(m.TextBody)
	for _, i := range m.Attachments {
		if plain, ok := m.recoveredText(i); ok && plain {
			use(ruleRecovered)
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	var parts []string
	html := false
	for _, i := range slices.Compact(idx) {
		b := m.Parts[i].Body
		switch {
		case b.Text != nil:
			if s := normText(*b.Text); s != "" {
				parts = append(parts, s)
			}
		case b.HTML != nil:
			html = true
		}
	}
	if len(parts) == 0 && html {
		return "", false
	}
	return strings.Join(parts, "\n\n"), true
}

// attachmentList describes the attachments as "name|size|sha256"; for a
// message/rfc822 part, whose bytes the JSON does not give, "name|message".
// An unnamed message/rfc822 part is called forwarded.eml, as Parse names it.
func (m *swMessage) attachmentList(use func(rule string)) []string {
	out := []string{}
	for _, i := range m.Attachments {
		if _, ok := m.recoveredText(i); ok {
			use(ruleRecovered)
			continue
		}
		p := &m.Parts[i]
		name, ok := p.header("content_disposition").attribute("filename")
		if !ok {
			name, _ = p.header("content_type").attribute("name")
		}
		ct := p.header("content_type")
		isMessage := ct != nil && ct.ContentType != nil && ct.ContentType.Type == "message" &&
			ct.ContentType.Subtype != nil && *ct.ContentType.Subtype == "rfc822"
		var data []byte
		switch b := p.Body; {
		case b.Message != nil || isMessage:
			if name == "" {
				name = "forwarded.eml"
			}
			out = append(out, name+"|message")
			continue
		case b.Text != nil:
			data = []byte(*b.Text)
		case b.HTML != nil:
			data = []byte(*b.HTML)
		case b.BinaryInts != nil:
			data = intBytes(b.BinaryInts)
		default:
			data = intBytes(b.InlineBinary)
		}
		h := sha256.Sum256(data)
		out = append(out, fmt.Sprintf("%s|%d|%s", name, len(data), hex.EncodeToString(h[:])))
	}
	return out
}

func intBytes(l []int) []byte {
	b := make([]byte, len(l))
	for i, v := range l {
		b[i] = byte(v)
	}
	return b
}

// compareStalwart returns "" when Parse's result agrees with mail-parser's
// for the field, or a description of the difference.
// fwd holds the forwarded sections of the text (forwardedSections); use is
// called with each comparison rule that changed what is compared.
func compareStalwart(field string, m *ticket.Mail, want *swMessage, fwd []string, use func(rule string)) string {
	diff := valueDiff
	top := &want.Parts[0]
	switch field {
	case "subject":
		s := ""
		if v := top.header("subject"); v != nil && v.Text != nil {
			s = *v.Text
		}
		return diff(normSpace(m.Subject), normSpace(s))
	case "from":
		from := top.mailboxes("from", use)
		got := []string{}
		if m.From.Email != "" || m.From.Name != "" {
			got = ourMailboxes([]ticket.Address{m.From})
		}
		return diff(got, from[:min(1, len(from))])
	case "to":
		return diff(ourMailboxes(m.To), top.mailboxes("to", use))
	case "cc":
		return diff(ourMailboxes(m.Cc), top.mailboxes("cc", use))
	case "text":
		own, _, fwdOK := splitForwarded(m.Text, fwd)
		if !fwdOK {
			return "the text does not end with the forwarded sections"
		}
		exp, ok := want.expectedText(use)
		if ok && exp == "" && strings.TrimSpace(own) != "" && len(want.HTMLBody) > 0 {
			use(ruleBlankPlain)
			ok = false
		}
		if !ok {
			var html string
			for _, i := range want.HTMLBody {
				if h := want.Parts[i].Body.HTML; h != nil {
					html = *h
					break
				}
			}
			if d := diff(normText(m.HTML), normText(html)); d != "" {
				return "html: " + d
			}
			if strings.TrimSpace(m.Text) == "" && strings.TrimSpace(rfc822.HTMLToText(html)) != "" {
				return "no text rendered from the HTML"
			}
			return ""
		}
		if len(fwd) > 0 {
			use(ruleForwarded)
		}
		return diff(normText(own), exp)
	case "attachments":
		got := []string{}
		for _, a := range m.Attachments {
			if a.ContentType == "message/rfc822" || a.ContentType == "message/global" {
				name := a.Filename
				if a.NameDerived {
					name = "forwarded.eml" // each nameless message, however numbered
				}
				got = append(got, name+"|message")
				continue
			}
			got = append(got, fmt.Sprintf("%s|%d|%s", ownName(a), a.Size, a.SHA256))
		}
		return diff(got, want.attachmentList(use))
	}
	panic("unknown field " + field)
}

// TestStalwartCorpus parses every mail-parser test mail and compares the
// fields with mail-parser's parse tree. Each field must agree on at least
// 95% of the mails that are not excluded, and every disagreement must be
// listed in stalwartExclusions with its reason.
func TestStalwartCorpus(t *testing.T) {
	type count struct{ agree, excluded, n int }
	perField := map[string]*count{}
	perFolder := map[string]*count{} // "folder|field"
	for _, f := range stalwartFields {
		perField[f] = &count{}
	}
	usedExclusions := map[string]bool{}
	ruleFields := map[string]int{} // rule -> fields it applied to
	total := 0
	for _, folder := range stalwartFolders {
		emls, err := filepath.Glob(filepath.Join(stalwartDir, folder, "*.eml"))
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(emls)
		for _, path := range emls {
			rel := folder + "/" + filepath.Base(path)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			jb, err := os.ReadFile(strings.TrimSuffix(path, ".eml") + ".json")
			if err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			var want swMessage
			if err := json.Unmarshal(jb, &want); err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			if len(want.Parts) == 0 {
				t.Fatalf("%s: no parts in the JSON", rel)
			}
			// The JSON was made from the mail with LF line endings.
			m, err := Parse(bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")))
			if err != nil {
				t.Errorf("%s: Parse: %v", rel, err)
				continue
			}
			total++
			fwd := forwardedSections(bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")))
			checkValidUTF8(t, rel, m)
			for _, w := range m.Warnings {
				if strings.HasPrefix(w, rfc822.InternalError) {
					t.Errorf("%s: recovered panic: %s", rel, w)
				}
			}
			for _, f := range stalwartFields {
				key := rel + "|" + f
				fc := perFolder[folder+"|"+f]
				if fc == nil {
					fc = &count{}
					perFolder[folder+"|"+f] = fc
				}
				perField[f].n++
				fc.n++
				reason, isExcluded := stalwartExclusions[key]
				used := map[string]bool{}
				d := compareStalwart(f, m, &want, fwd, func(rule string) { used[rule] = true })
				for rule := range used {
					ruleFields[rule]++
					t.Logf("%s: %s: compared under rule %s", rel, f, rule)
				}
				switch {
				case d == "" && isExcluded:
					t.Errorf("%s: %s agrees now; remove the exclusion (%s)", rel, f, reason)
					perField[f].agree++
					fc.agree++
				case d == "":
					perField[f].agree++
					fc.agree++
				case isExcluded:
					usedExclusions[key] = true
					perField[f].excluded++
					fc.excluded++
					t.Logf("%s: %s: excluded (%s): %s", rel, f, reason, d)
				default:
					t.Errorf("%s: %s: %s (warnings %q)", rel, f, d, m.Warnings)
				}
			}
		}
	}
	for key := range stalwartExclusions {
		if !usedExclusions[key] {
			if _, err := os.Stat(filepath.Join(stalwartDir, strings.Split(key, "|")[0])); err != nil {
				t.Errorf("exclusion %q names no corpus file", key)
			}
		}
	}
	if total < 50 {
		t.Fatalf("parsed %d stalwart mails, want the 53 of the corpus", total)
	}
	report := func(line string) {
		t.Log(line)
		if testing.Verbose() {
			fmt.Println(line)
		}
	}
	for _, f := range stalwartFields {
		c := perField[f]
		net := float64(c.agree) / float64(c.n-c.excluded)
		report(fmt.Sprintf("stalwart agreement %-12s %2d/%d = %5.1f%% of all mails; %5.1f%% without the %d documented exclusions",
			f, c.agree, c.n, 100*float64(c.agree)/float64(c.n), 100*net, c.excluded))
		if net < 0.95 {
			t.Errorf("%s: agreement %.1f%% (without exclusions) is below 95%%", f, 100*net)
		}
		for _, folder := range stalwartFolders {
			c := perFolder[folder+"|"+f]
			report(fmt.Sprintf("    %-10s %2d/%-2d agree, %d excluded", folder, c.agree, c.n, c.excluded))
		}
	}
	report(fmt.Sprintf("stalwart exclusions: %d", len(stalwartExclusions)))
	for _, rule := range slices.Sorted(maps.Keys(stalwartRules)) {
		report(fmt.Sprintf("stalwart rule %-12s applied to %2d fields", rule, ruleFields[rule]))
	}
	for rule := range ruleFields {
		if _, ok := stalwartRules[rule]; !ok {
			t.Errorf("rule %q is not documented in stalwartRules", rule)
		}
	}
}
