package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The shares of the mix (issue 7): ~70% text, ~25% with a 100-300 KB
// attachment, the rest (~5%) with a 2-5 MB attachment.
const (
	textShare   = 0.70
	mediumShare = 0.25

	textMin, textMax     = 2 << 10, 8 << 10
	mediumMin, mediumMax = 100 << 10, 300 << 10
	largeMin, largeMax   = 2 << 20, 5 << 20

	corpusMax = 8 << 10 // larger corpus mails are not used as a base
)

// kind is the class of a mail in the mix.
type kind int

const (
	kindText kind = iota
	kindMedium
	kindLarge
)

func (k kind) String() string {
	return [...]string{"text 2-8 KB", "100-300 KB attachment", "2-5 MB attachment"}[k]
}

// field is one header field as it appears in the mail, continuation lines
// included, without the final CRLF.
type field struct {
	name string // lower case
	raw  string
}

// corpusMail is a corpus mail split into header fields and body, with CRLF
// line endings.
type corpusMail struct {
	name     string
	fields   []field
	body     []byte
	paddable bool // a single text/plain part whose end can take ASCII lines
}

// dropFields are replaced by the bench's own (From, To, Subject, ...) or
// would make ticketd treat the mail as automatic, thread it, or answer an
// address outside the stack.
var dropFields = []string{
	"message-id", "subject", "from", "sender", "reply-to", "to", "cc", "bcc",
	"date", "return-path", "in-reply-to", "references", "delivered-to",
	"auto-submitted", "precedence", "x-autoreply", "x-autorespond",
	"x-auto-response-suppress", "x-spam-flag", "x-ticketd-loop",
	"disposition-notification-to", "return-receipt-to",
}

func dropped(name string) bool {
	return slices.Contains(dropFields, name) || strings.HasPrefix(name, "list-") || strings.HasPrefix(name, "resent-")
}

// loadCorpus reads the .eml files under dirs (relative to root) that can
// serve as the base of a text mail: at most corpusMax bytes, with a header
// and a body, no NUL byte, and not a delivery report.
func loadCorpus(root string, dirs ...string) ([]corpusMail, error) {
	var out []corpusMail
	for _, d := range dirs {
		base := filepath.Join(root, d)
		err := filepath.WalkDir(base, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(p, ".eml") {
				return err
			}
			raw, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if m, ok := splitCorpusMail(rel, raw); ok {
				out = append(out, m)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("corpus %s: %w", base, err)
		}
	}
	if len(out) < 20 {
		return nil, fmt.Errorf("corpus under %s: only %d usable mails in %v", root, len(out), dirs)
	}
	slices.SortFunc(out, func(a, b corpusMail) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

func splitCorpusMail(name string, raw []byte) (corpusMail, bool) {
	if len(raw) > corpusMax || bytes.IndexByte(raw, 0) >= 0 {
		return corpusMail{}, false
	}
	raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	raw = bytes.ReplaceAll(raw, []byte("\n"), []byte("\r\n"))
	hdr, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok || len(bytes.TrimSpace(body)) == 0 {
		return corpusMail{}, false
	}
	m := corpusMail{name: name, body: body}
	for _, line := range strings.Split(string(hdr), "\r\n") {
		if (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) && len(m.fields) > 0 {
			m.fields[len(m.fields)-1].raw += "\r\n" + line
			continue
		}
		n, _, ok := strings.Cut(line, ":")
		if !ok {
			return corpusMail{}, false // not a header we want to build on
		}
		m.fields = append(m.fields, field{name: strings.ToLower(strings.TrimSpace(n)), raw: line})
	}
	ct := strings.ToLower(m.value("content-type"))
	if strings.HasPrefix(ct, "multipart/report") || strings.HasPrefix(ct, "message/") {
		return corpusMail{}, false
	}
	cte := strings.ToLower(strings.TrimSpace(m.value("content-transfer-encoding")))
	m.paddable = (ct == "" || strings.HasPrefix(ct, "text/plain")) && !strings.Contains(ct, "utf-16") &&
		!strings.Contains(ct, "utf-32") && (cte == "" || cte == "7bit" || cte == "8bit" || cte == "quoted-printable")
	return m, true
}

// value returns the unfolded value of the first field called name.
func (m corpusMail) value(name string) string {
	for _, f := range m.fields {
		if f.name == name {
			_, v, _ := strings.Cut(f.raw, ":")
			return strings.TrimSpace(strings.NewReplacer("\r\n ", " ", "\r\n\t", " ").Replace(v))
		}
	}
	return ""
}

// subjectField returns "Subject: <tag>: <original>", keeping the original's
// folding (and any encoded-words) as it was.
func (m corpusMail) subjectField(tag string) string {
	for _, f := range m.fields {
		if f.name == "subject" {
			_, v, _ := strings.Cut(f.raw, ":")
			if strings.TrimSpace(v) == "" {
				break
			}
			return "Subject: " + tag + ": " + strings.TrimLeft(v, " \t")
		}
	}
	return "Subject: " + tag
}

// mix is the reproducible set of mails the bench appends.
type mix struct {
	seed   uint64
	kinds  []kind
	corpus []corpusMail
}

func newMix(seed uint64, n int, corpus []corpusMail) *mix {
	nText := int(float64(n)*textShare + 0.5)
	nMedium := int(float64(n)*mediumShare + 0.5)
	if nText+nMedium > n {
		nMedium = n - nText
	}
	kinds := make([]kind, n)
	for i := range kinds {
		switch {
		case i < nText:
			kinds[i] = kindText
		case i < nText+nMedium:
			kinds[i] = kindMedium
		default:
			kinds[i] = kindLarge
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x6d6978)) // "mix"
	rng.Shuffle(n, func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	return &mix{seed: seed, kinds: kinds, corpus: corpus}
}

// tag is the start of mail i's subject; tickets are matched to mails by it.
func tag(i int) string { return fmt.Sprintf("inquiry %05d", i) }

// padLines are appended to plain text corpus mails to reach the drawn size.
var padLines = []string{
	"I tried to change the repayment date in the app but it shows an error.",
	"Could you tell me which documents I need to send for the loan review?",
	"My account number is in the attached statement; please check it again.",
	"The automatic transfer failed twice this month although the balance was fine.",
	"Please call me back after six in the evening if that is possible.",
	"I moved last month, so the address on the contract needs to be updated.",
	"Is there a fee if I repay the remaining amount before the due date?",
	"The verification code never arrives on my phone, I waited ten minutes.",
	"I already sent this question last week and have not heard back yet.",
	"Thank you for your help, and sorry for the long message.",
}

// customerAddress is the sender of mail i of the mix, to whom its
// acknowledgement goes: the customer's mailbox, a distinct address a mail.
func customerAddress(i int) string { return fmt.Sprintf("customer+b%05d@example.test", i) }

// build returns mail i of the mix (CRLF line endings). The same seed and i
// always give the same bytes.
func (m *mix) build(i int) []byte {
	rng := rand.New(rand.NewPCG(m.seed, uint64(i)+1))
	k := m.kinds[i]
	base := m.pickBase(rng, k)
	msgid := fmt.Sprintf("<bench.%d.%05d.%08x@customer.example.test>", m.seed, i, rng.Uint32())
	date := time.Date(2026, 11, 24, 9, 0, 0, 0, time.FixedZone("KST", 9*3600)).Add(time.Duration(i) * time.Minute)

	var b bytes.Buffer
	fmt.Fprintf(&b, "From: \"Customer %05d\" <%s>\r\n", i, customerAddress(i))
	b.WriteString("To: support@example.test\r\n")
	b.WriteString(base.subjectField(tag(i)) + "\r\n")
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: %s\r\n", date.Format(time.RFC1123Z), msgid)
	fmt.Fprintf(&b, "X-Bench-Base: %s\r\n", base.name)

	if k == kindText {
		for _, f := range base.fields {
			if !dropped(f.name) {
				b.WriteString(f.raw + "\r\n")
			}
		}
		b.WriteString("\r\n")
		b.Write(base.body)
		target := textMin + rng.IntN(textMax-textMin+1)
		if base.paddable && b.Len() < target {
			if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
				b.WriteString("\r\n")
			}
			b.WriteString("\r\n")
			for b.Len() < target {
				b.WriteString(padLines[rng.IntN(len(padLines))] + "\r\n")
			}
		}
		return b.Bytes()
	}

	// An attachment mail: the corpus mail's content becomes the first part
	// of a multipart/mixed, the attachment the second.
	var content []string
	for _, f := range base.fields {
		switch {
		case strings.HasPrefix(f.name, "content-"):
			content = append(content, f.raw)
		case f.name == "mime-version" || dropped(f.name):
		default:
			b.WriteString(f.raw + "\r\n")
		}
	}
	if len(content) == 0 {
		content = []string{"Content-Type: text/plain; charset=us-ascii"}
	}
	boundary := fmt.Sprintf("=_tb_%016x", rng.Uint64())
	lo, hi := mediumMin, mediumMax
	if k == kindLarge {
		lo, hi = largeMin, largeMax
	}
	size := lo + rng.IntN(hi-lo+1)
	att := attachmentTypes[rng.IntN(len(attachmentTypes))]
	fmt.Fprintf(&b, "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", boundary)
	b.WriteString("This is a multi-part message in MIME format.\r\n")
	fmt.Fprintf(&b, "--%s\r\n%s\r\n\r\n", boundary, strings.Join(content, "\r\n"))
	b.Write(base.body)
	if !bytes.HasSuffix(base.body, []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	name := fmt.Sprintf("%s-%05d.%s", att.prefix, i, att.ext)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: %s; name=\"%s\"\r\nContent-Disposition: attachment; filename=\"%s\"\r\n"+
		"Content-Transfer-Encoding: base64\r\n\r\n", boundary, att.typ, name, name)
	writeBase64(&b, randomBytes(m.seed, i, size))
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes()
}

var attachmentTypes = []struct{ typ, prefix, ext string }{
	{"application/pdf", "statement", "pdf"},
	{"image/jpeg", "photo", "jpg"},
	{"image/png", "screenshot", "png"},
	{"application/zip", "documents", "zip"},
}

// pickBase draws the corpus mail a mail is built on. A text mail prefers a
// base that reaches textMin, by itself or padded.
func (m *mix) pickBase(rng *rand.Rand, k kind) corpusMail {
	var c corpusMail
	for try := 0; try < 20; try++ {
		c = m.corpus[rng.IntN(len(m.corpus))]
		if k != kindText || c.paddable || len(c.body) >= textMin-600 {
			return c
		}
	}
	return c
}

// randomBytes returns n incompressible bytes, the same for the same seed
// and mail.
func randomBytes(seed uint64, i, n int) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[0:], seed)
	binary.LittleEndian.PutUint64(key[8:], uint64(i))
	copy(key[16:], "ticketd-bench-at")
	buf := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(buf) // never fails
	return buf
}

// writeBase64 writes data base64-encoded in lines of 76 characters, CRLF.
func writeBase64(b *bytes.Buffer, data []byte) {
	const chunk = 57 // 57 bytes encode to 76 characters
	line := make([]byte, 76)
	for len(data) > 0 {
		n := min(chunk, len(data))
		base64.StdEncoding.Encode(line, data[:n])
		b.Write(line[:base64.StdEncoding.EncodedLen(n)])
		b.WriteString("\r\n")
		data = data[n:]
	}
}
