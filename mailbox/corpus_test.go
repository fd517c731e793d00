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

	"github.com/ticketd/ticketd/mailbox/rfc822"
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
var corpusExclusions = map[string]string{
	// imap_tools walks into message/rfc822 parts: it appends the text of a
	// forwarded or bounced message to the text of the mail and lists the
	// attachments inside it. ticketd keeps a message/rfc822 part whole, as
	// one attachment, and appends the text of a forwarded message as a
	// section (compareField compares those mails without the sections'
	// header blocks); but a message returned by a delivery report is our
	// own mail, not forwarded, and is not shown.
	"mime_emails/raw_email_with_mimepart_without_content_type.eml|text": returnedText,
	"multipart_report_emails/multi_address_bounce1.eml|text":            returnedText,
	"multipart_report_emails/multi_address_bounce2.eml|text":            returnedText,
	"multipart_report_emails/multipart_report_multiple_status.eml|text": returnedText +
		"; it also reads the blocks of message/delivery-status (RFC 3464) as text/plain parts, which ticketd keeps as an attachment",
	"attachment_2_base64.eml|text": "Python does not decode base64 on a message/rfc822 part (RFC 2046 section 5.2.1 forbids it) and takes the base64 " +
		"lines for the text of a headerless inner message; ticketd decodes the two attached messages and shows them as forwarded sections " +
		"after the text rendered from the HTML-only body (\"two attach\")",

	// (compareField's attachment rules cover the other differences of
	// attachments: parts imap_tools does not list, message/rfc822 bytes.)
	"attachment_emails/attachment_message_rfc822.eml|attachments":              insideMessage + " (broken.pdf)",
	"multipart_report_emails/multipart_report_multiple_status.eml|attachments": insideMessage + " (its text/plain and text/html parts)",
	"text_with_content_id.eml|attachments": "the text/plain body has a Content-ID; imap_tools lists every part with a Content-ID " +
		"as an attachment, even the body, ticketd keeps it as the body only",

	// Python drops bytes it cannot decode in the declared charset; ticketd
	// keeps them (as UTF-8 when they are, else CP949, else Latin-1).
	"plain_emails/raw_email6.eml|text": "declared us-ascii but holds UTF-8 \"Envoyé\"; Python drops the two bytes, ticketd keeps the valid UTF-8",
	"error_emails/content_transfer_encoding_plain.eml|text": "declared us-ascii but holds UTF-8 \"ìIGTSî\" (sender's mojibake); " +
		"Python drops the bytes, ticketd keeps them",
	"error_emails/invalid_subject_characters.eml|subject": "raw 8-bit Latin-1 Subject (\"Formação\"); Python drops the bytes, " +
		"ticketd decodes them as Latin-1 after UTF-8 and CP949 fail",
	"error_emails/content_transfer_encoding_empty.eml|text": "the big5 HTML holds bytes that are not Big5; Python leaves lone " +
		"surrogates (see _note in the JSON, they are dropped on reading), ticketd puts U+FFFD",

	// A header that Python gives up on: at the first line that is not a
	// field it ends the header and makes the rest the body. ticketd drops
	// the bad line (with a warning) and reads the fields after it.
	"plain_emails/raw_email_incorrect_header.eml|subject": badHeaderLine,
	"plain_emails/raw_email_incorrect_header.eml|from":    badHeaderLine,
	"plain_emails/raw_email_incorrect_header.eml|to":      badHeaderLine,
	"plain_emails/raw_email_incorrect_header.eml|date":    badHeaderLine,
	"plain_emails/raw_email_incorrect_header.eml|text":    badHeaderLine,
	"rfc2822/example13.eml|subject":                       badHeaderLine + " (\"__\" line in RFC 2822 appendix A.6.3)",
	"rfc2822/example13.eml|from":                          badHeaderLine + " (\"__\" line in RFC 2822 appendix A.6.3)",
	"rfc2822/example13.eml|date":                          badHeaderLine + " (\"__\" line in RFC 2822 appendix A.6.3)",
	"rfc2822/example13.eml|text":                          badHeaderLine + " (\"__\" line in RFC 2822 appendix A.6.3)",

	// Addresses.
	"error_emails/encoding_madness.eml|reply_to": "Reply-To: \"KLAUS- HÄNSCHEL\" <> has an empty address; imap_tools returns \"\", ticketd no address",
	"error_emails/missing_body.eml|to": "To: <Undisclosed-Recipient:@mailman.enron.com;> holds no mailbox; imap_tools returns " +
		"\"\" and \"@mailman.enron.com\", ticketd no address",
	"mime_emails/raw_email11.eml|to": "To: matmail (a local user, no domain); imap_tools returns \"\", ticketd keeps \"matmail\"",
	"plain_emails/raw_email_with_at_display_name.eml|to": "\"Mikel@Lindsaar <raasdnil@gmail.com>\" is one mailbox with an " +
		"unquoted @ in its display name; imap_tools makes two addresses of it",
	"plain_emails/mix_caps_content_type.eml|from": "From: Big Bug bb@bug.com (no angle brackets); imap_tools returns the " +
		"whole string as the address, ticketd bb@bug.com with the name Big Bug",

	// Other.
	"rfc2822/example14.eml|subject": "\"Re: TEST =?ISO-2022-JP?...?=\": RFC 2047 section 6.2 keeps the space between ordinary " +
		"text and an encoded-word; Python's decode_header drops it",
	"mime_emails/raw_email4.eml|text": "imap_tools joins text parts with nothing, ticketd with an empty line; and imap_tools keeps " +
		"the malformed closing line \"--boundary-\" as text, where ticketd reads a delimiter line (RFC 2046 section 5.1.1: " +
		"the boundary is a prefix of the line) and warns that the close delimiter is missing",
}

// Reasons shared by several exclusions.
const (
	returnedText  = "imap_tools appends the text of the message returned by this delivery report; ticketd keeps it as an attachment only"
	insideMessage = "imap_tools also lists the parts inside the attached message; ticketd lists the message as one attachment"
	badHeaderLine = "a header line without a field name: Python ends the header there and makes the rest the body, " +
		"ticketd drops that line and reads the fields after it"
)

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

// forwardedSections returns the forwarded sections Parse appends to the
// text of raw (see parser.forward), in order.
func forwardedSections(raw []byte) []string {
	m, err := rfc822.Parse(raw, rfc822.Options{})
	if err != nil {
		return nil
	}
	return m.Forwarded
}

// splitForwarded splits the text Parse returned into the text of the mail
// itself and, for each forwarded section, the forwarded message's text
// without the section's header block. It reports false when text does not
// end with the sections.
func splitForwarded(text string, sections []string) (own string, inner []string, ok bool) {
	if len(sections) == 0 {
		return text, nil, true
	}
	all := strings.Join(sections, "\n\n")
	if !strings.HasSuffix(text, all) {
		return text, nil, false
	}
	for _, s := range sections {
		_, body, _ := strings.Cut(s, "\n\n")
		inner = append(inner, body)
	}
	return strings.TrimRight(strings.TrimSuffix(text, all), "\n"), inner, true
}

// dropEmptyLines normalises s (normText) and removes its empty lines.
func dropEmptyLines(s string) string {
	lines := strings.Split(normText(s), "\n")
	out := lines[:0]
	for _, l := range lines {
		if l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
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
		out = append(out, rfc822.NormEmail(e))
	}
	return out
}

// valueDiff returns "" when got and exp print the same, or where they
// start to differ, for the corpus comparisons.
func valueDiff(got, exp any) string {
	g, e := fmt.Sprintf("%q", got), fmt.Sprintf("%q", exp)
	if g == e {
		return ""
	}
	i := 0
	for i < len(g) && i < len(e) && g[i] == e[i] {
		i++
	}
	from := max(0, i-60)
	return fmt.Sprintf("differ at byte %d: got %.200s, want %.200s", i, g[from:], e[from:])
}

// compareField returns "" when got agrees with want for the field, or a
// description of the difference.
// fwd holds the forwarded sections of the text (forwardedSections).
func compareField(field string, m *ticket.Mail, want *expectedMail, fwd []string) string {
	diff := valueDiff
	switch field {
	case "subject":
		return diff(normSpace(m.Subject), normSpace(want.Subject))
	case "from":
		return diff(m.From.Email, rfc822.NormEmail(want.From))
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
			if strings.TrimSpace(m.Text) == "" && strings.TrimSpace(rfc822.HTMLToText(want.HTML)) != "" {
				return "no text rendered from the HTML"
			}
			return ""
		}
		if len(fwd) > 0 {
			// imap_tools appends the text of each forwarded message
			// (message/rfc822 part) to the text, with nothing between the
			// parts; ticketd appends it too, as a section under a header
			// block (see parser.forward). Compare without the header
			// blocks and without empty lines.
			own, inner, ok := splitForwarded(m.Text, fwd)
			if !ok {
				return "the text does not end with the forwarded sections"
			}
			return diff(dropEmptyLines(strings.Join(append([]string{own}, inner...), "\n")), dropEmptyLines(want.Text))
		}
		return diff(normText(m.Text), normText(want.Text))
	case "attachments":
		// Two rules, each a difference on every mail of its kind:
		//  - imap_tools lists a part only when it has a filename or a
		//    Content-ID (a message/rfc822 part always); ticketd lists every
		//    part that is not body text (a delivery-status report, an
		//    unnamed image): those of ours are left out here;
		//  - imap_tools' size and hash of a message/rfc822 part are those of
		//    Python re-serialising the parsed message (Message.as_bytes:
		//    attachment_7bit.eml sends 4047 bytes, as_bytes gives 4048),
		//    ticketd's are of the bytes sent: for those parts the name and
		//    type are compared (ticketd names an unnamed one forwarded.eml,
		//    imap_tools leaves the name empty).
		//  - ticketd derives a name for a nameless part ("image.jpg"); the
		//    corpus has the names the sender gave, so a derived one is "".
		var got, exp []string
		for _, a := range m.Attachments {
			switch {
			case isMessageType(a.ContentType):
				got = append(got, fmt.Sprintf("%s|%s", strings.TrimSuffix(a.Filename, "forwarded.eml"), a.ContentType))
			case !a.NameDerived || a.ContentID != "":
				// The corpus has the sender's names: a derived one is "".
				got = append(got, fmt.Sprintf("%s|%s|%d|%s", ownName(a), a.ContentType, a.Size, a.SHA256))
			}
		}
		for _, a := range want.Attachments {
			ct := strings.ToLower(a.ContentType)
			if isMessageType(ct) {
				exp = append(exp, fmt.Sprintf("%s|%s", a.Filename, ct))
			} else {
				exp = append(exp, fmt.Sprintf("%s|%s|%d|%s", a.Filename, ct, a.Payload.Size, a.Payload.SHA256))
			}
		}
		return diff(got, exp)
	}
	panic("unknown field " + field)
}

func isMessageType(ct string) bool { return ct == "message/rfc822" || ct == "message/global" }

// TestCorpus parses every imap_tools mail and compares the fields with what
// imap_tools expects. Each field must agree on at least 95% of the mails that
// are not excluded, and every disagreement must be listed in
// corpusExclusions with its reason (so a change in any result shows up).
// The agreement over all mails, exclusions counted as disagreements, is
// printed as well.
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
		for _, w := range m.Warnings {
			if strings.HasPrefix(w, rfc822.InternalError) {
				t.Errorf("%s: recovered panic: %s", rel, w)
			}
		}
		fwd := forwardedSections(raw)
		for _, f := range corpusFields {
			key := rel + "|" + f
			reason, isExcluded := corpusExclusions[key]
			d := compareField(f, m, &want, fwd)
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
		raw := float64(agree[f]) / float64(n)
		net := float64(agree[f]) / float64(n-excluded[f])
		line := fmt.Sprintf("corpus agreement %-12s %3d/%d = %5.1f%% of all mails; %5.1f%% without the %d documented exclusions",
			f, agree[f], n, 100*raw, 100*net, excluded[f])
		t.Log(line)
		if testing.Verbose() {
			fmt.Println(line)
		}
		if net < 0.95 {
			t.Errorf("%s: agreement %.1f%% (without exclusions) is below 95%%", f, 100*net)
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

// ownName is the name an attachment came with: "" for a derived one.
func ownName(a ticket.Attachment) string {
	if a.NameDerived {
		return ""
	}
	return a.Filename
}
