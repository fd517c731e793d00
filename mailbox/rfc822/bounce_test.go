package rfc822

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// bounceDir holds the bounce fixtures (see its README.md).
const bounceDir = "../../testdata/bounces"

// wantRecipient is one expected recipient; diag is a part of the expected
// Diagnostic ("" expects none).
type wantRecipient struct {
	email, status, action, diag string
}

// bounceCases are every bounce fixture and every bounce in the corpus, with
// what Parse must make of them. Paths are relative to ../testdata.
var bounceCases = []struct {
	file     string
	standard bool
	origID   string
	recips   []wantRecipient
}{
	// The corpus (imap_tools, from the Ruby mail gem's fixtures).
	{"corpus/imap_tools/messages/multipart_report_emails/multi_address_bounce1.eml", true,
		"118707422.15521266992174819.JavaMail.root@lvmail01", multiAddressBounce},
	{"corpus/imap_tools/messages/multipart_report_emails/multi_address_bounce2.eml", true,
		"118707422.15521266992174819.JavaMail.root@lvmail01", multiAddressBounce},
	// The first message/delivery-status part holds prose, not fields.
	{"corpus/imap_tools/messages/multipart_report_emails/multipart_report_multiple_status.eml", true,
		"4c2a146147ac8_61ff157c4ec1652df@s.h.c.mail",
		[]wantRecipient{{"u@ci.com", "5.3.0", "failed", ""}}},
	{"corpus/imap_tools/messages/multipart_report_emails/report_422.eml", true,
		"15655788.13.1200472642578.JavaMail.Administrator@mail.ttttt.com.au",
		[]wantRecipient{{"fraser@oooooooo.com.au", "4.2.2", "delayed", "452 4.2.2 <fraser@oooooooo.com.au>... Mailbox full"}}},
	{"corpus/imap_tools/messages/multipart_report_emails/report_530.eml", true,
		"200712232303.lBNN3jDq002941@mail12.rrrr.com.au",
		[]wantRecipient{{"edwin@zzzzzzz.com", "5.3.0", "failed", "553 5.3.0 <edwin@zzzzzzz.com>... Unknown E-Mail Address"}}},
	// Sendmail delay warning; its first part has no Content-Type.
	{"corpus/imap_tools/messages/mime_emails/raw_email_with_mimepart_without_content_type.eml", true,
		"89d7557c0610181510r6fa5ebd8n66a7deec71ade118@mail.gmail.com",
		[]wantRecipient{{"larose.julie@courrier.uqam.ca", "4.5.0", "delayed", ""}}},

	// RFC 3464 reports written for ticketd.
	{"bounces/postfix_delayed_dsn.eml", true, "ticketd.1031.7.1710115960@example.com",
		[]wantRecipient{{"bob@example.net", "4.4.1", "delayed", "connect to mx.example.net[192.0.2.30]:25: Connection timed out"}}},
	{"bounces/gmail_dsn.eml", true, "CAKx9r3Y1-Hx7QpLw0f+2mZ@mail.gmail.com",
		[]wantRecipient{{"nobody@example.org", "5.1.1", "failed", "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table"}}},
	{"bounces/o365_ndr.eml", true, "ticketd.1052.3.1710208980@example.com", []wantRecipient{
		{"j.doe@contoso.example", "5.1.10", "failed", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient j.doe@contoso.example not found by SMTP address lookup"},
		{"m.kim@contoso.example", "5.4.1", "failed", "550 5.4.1 Recipient address rejected: Access denied."},
	}},

	// Text bounces.
	{"bounces/postfix_text.eml", false, "", []wantRecipient{
		// The address we sent to, not the one the alias expanded to.
		{"sales@example.net", "5.1.1", "failed", "said: 550 5.1.1 <frank@example.net>: Recipient address rejected"},
		{"hana@example.org", "5.0.0", "failed", "552-Requested mail action aborted"},
		{"ivan@example.org", "5.0.0", "failed", "Host or domain name not found."},
	}},
	{"bounces/sendmail_text.eml", false, "ticketd.1057.5.1710324121@example.com",
		[]wantRecipient{{"erin@example.net", "5.1.1", "failed", "(reason: 550 5.1.1 <erin@example.net>... User unknown)"}}},
	{"bounces/qmail_failure.eml", false, "ticketd.1060.2.1710403280@example.com", []wantRecipient{
		{"carol@example.net", "5.1.1", "failed", "Sorry, no mailbox here by that name. (#5.1.1)"},
		{"dave@example.net", "5.2.2", "failed", "Remote host said: 552 5.2.2 Mailbox quota exceeded"},
	}},
	{"bounces/exim_failed.eml", false, "ticketd.977.4.1363688100@example.com", []wantRecipient{
		{"nobody@example.net", "5.1.1", "failed", "550 5.1.1 <nobody@example.net>: Recipient address rejected"},
		// No code: "This is a permanent error" says 5.0.0.
		{"ghost@nowhere.example", "5.0.0", "failed", "Unrouteable address"},
	}},
	{"bounces/exim_delayed.eml", false, "",
		[]wantRecipient{{"alice@slow.example.org", "4.7.1", "delayed", "451 4.7.1 Greylisting in action"}}},
	{"bounces/exchange_text.eml", false, "ticketd.1042.6.1710321630@example.com",
		[]wantRecipient{{"grace@example.org", "5.1.1", "failed", "#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##"}}},
	{"bounces/gmail_text_failed.eml", false, "CAPx7dU+9rQ2gK=tY4ydZx0Yk1w@mail.gmail.com",
		[]wantRecipient{{"henry@example.net", "5.1.1", "failed", "The error that the other server returned was: 550 550 5.1.1"}}},
	// No code at all: "has been delayed", "will be retried" say 4.0.0.
	{"bounces/gmail_text_delayed.eml", false, "CAPx7dU-1a2b3c4d5e6f7g8h9i0j@mail.gmail.com",
		[]wantRecipient{{"irene@example.org", "4.0.0", "delayed", ""}}},
	{"bounces/naver_ko.eml", false, "",
		[]wantRecipient{{"jimin@example.co.kr", "5.1.1", "failed", "받는 사람의 메일 주소가 존재하지 않습니다. (550 5.1.1"}}},
	{"bounces/daum_ko.eml", false, "ticketd.1078.2.1710464700@example.com",
		[]wantRecipient{{"minji@example.co.kr", "5.2.2", "failed", "메일함 용량이 초과되었습니다. (552 5.2.2 Mailbox full)"}}},
}

var multiAddressBounce = func() []wantRecipient {
	var l []wantRecipient
	for _, local := range []string{"bbbbvhvbbvkjbhfbvbvjhb", "bscdbcjhasbcjhbdscbhbsdhcbj", "egyfefsdvsfvvhjsd", "kfhejkfbsjkjsbhds", "qfvhgsvhgsduiohncdhcvhsdfvsfygusd"} {
		l = append(l, wantRecipient{local + "@gmail.com", "5.1.1", "failed", "550-5.1.1 The email account that you tried to reach does not exist."})
	}
	return l
}()

func parseFile(t *testing.T, path string) *Message {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := parse(raw)
	if err != nil {
		t.Fatalf("parse(%s): %v", path, err)
	}
	return m
}

// checkBounce compares b with the expectation, reports every difference
// and says whether there was none.
func checkBounce(t *testing.T, name string, b *Bounce, standard bool, origID string, want []wantRecipient) bool {
	t.Helper()
	fails := 0
	errorf := func(format string, args ...any) {
		t.Helper()
		fails++
		t.Errorf(format, args...)
	}
	if b == nil {
		errorf("%s: not recognised as a bounce", name)
		return false
	}
	if b.Standard != standard {
		errorf("%s: Standard = %v, want %v", name, b.Standard, standard)
	}
	if b.OriginalMessageID != origID {
		errorf("%s: OriginalMessageID = %q, want %q", name, b.OriginalMessageID, origID)
	}
	if len(b.Recipients) != len(want) {
		errorf("%s: %d recipients, want %d: %+v", name, len(b.Recipients), len(want), b.Recipients)
		return false
	}
	for i, w := range want {
		r := b.Recipients[i]
		got := wantRecipient{r.Email, r.Status, r.Action, ""}
		if (w.diag == "") != (r.Diagnostic == "") || !strings.Contains(r.Diagnostic, w.diag) {
			errorf("%s: recipient %d: Diagnostic %q, want one holding %q", name, i, r.Diagnostic, w.diag)
		}
		w.diag = ""
		if got != w {
			errorf("%s: recipient %d = %+v, want %+v", name, i, got, w)
		}
		if len(r.Diagnostic) > maxDiagnostic+3 {
			errorf("%s: recipient %d: Diagnostic of %d bytes", name, i, len(r.Diagnostic))
		}
	}
	return fails == 0
}

func TestBounces(t *testing.T) {
	std, nonstd, good, recips := 0, 0, 0, 0
	for _, c := range bounceCases {
		m := parseFile(t, filepath.Join("../../testdata", c.file))
		if checkBounce(t, c.file, m.Bounce, c.standard, c.origID, c.recips) {
			good++
		}
		recips += len(c.recips)
		for _, w := range m.Warnings {
			if strings.Contains(w, InternalError) {
				t.Errorf("%s: recovered panic: %q", c.file, w)
			}
		}
		if c.standard {
			std++
		} else {
			nonstd++
		}
	}
	t.Logf("bounces: %d of %d recognised exactly as expected (%d RFC 3464, %d text; %d recipients)",
		good, len(bounceCases), std, nonstd, recips)

	// Every fixture is in the table, and every bounce of the corpus.
	listed := map[string]bool{}
	for _, c := range bounceCases {
		listed[c.file] = true
	}
	files, _ := filepath.Glob(filepath.Join(bounceDir, "*.eml"))
	corpusReports, _ := filepath.Glob("../../testdata/corpus/imap_tools/messages/multipart_report_emails/*.eml")
	for _, f := range append(files, corpusReports...) {
		rel, _ := filepath.Rel("../../testdata", f)
		if !listed[filepath.ToSlash(rel)] && !strings.HasPrefix(filepath.Base(f), "neg_") {
			t.Errorf("%s is not in bounceCases", rel)
		}
	}
}

// TestNotBounces checks that no ordinary mail is taken for a bounce: every
// mail of the corpus that is not one, the parser fixtures, talon's client
// replies, and the negative bounce fixtures (a customer writing about a
// failed delivery, a forwarded and an attached bounce, an out-of-office
// reply with a null Return-Path, a postmaster answering, a read receipt, a
// success report).
func TestNotBounces(t *testing.T) {
	bounces := map[string]bool{}
	for _, c := range bounceCases {
		bounces[filepath.Clean(filepath.Join("../../testdata", c.file))] = true
	}
	var files []string
	for _, dir := range []string{"../../testdata/corpus/imap_tools/messages", "../../testdata/mail", "../../testdata/corpus/talon"} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(p, ".eml") && !bounces[filepath.Clean(p)] {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	neg, _ := filepath.Glob(filepath.Join(bounceDir, "neg_*.eml"))
	if len(neg) < 7 {
		t.Fatalf("only %d negative bounce fixtures", len(neg))
	}
	files = append(files, neg...)
	sort.Strings(files)
	checked, falsePos := 0, 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := parse(raw)
		if err != nil {
			continue // not a mail; nothing to check
		}
		checked++
		if m.Bounce != nil {
			falsePos++
			t.Errorf("%s: false positive: %+v", f, *m.Bounce)
		}
	}
	if checked < 100 {
		t.Errorf("only %d non-bounces checked", checked)
	}
	t.Logf("non-bounces checked: %d (%d negative bounce fixtures), false positives: %d", checked, len(neg), falsePos)
}

func TestReadDSN(t *testing.T) {
	status := func(s string) []*cappedBuffer {
		b := &cappedBuffer{limit: maxReportPart}
		b.Write([]byte(strings.ReplaceAll(s, "\n", "\r\n")))
		return []*cappedBuffer{b}
	}
	d := readDSN(status(`Reporting-MTA: dns; mx.example.net
Original-Message-ID: <abc@Example.COM>

Final-Recipient: rfc822; <A.User@Example.NET>

Action: failed
Status: 5.7.1 (delivery not authorized)

Final-Recipient: utf-8; \x{AE40}\x{BBFC}\x{C218}@example.kr
Action: delayed
Diagnostic-Code: smtp; 421 4.4.2 connection dropped

Final-Recipient: rfc822; ok@example.net
Action: relayed
Status: 2.0.0

Final-Recipient: rfc822; nostatus@example.net
Action: failed

Final-Recipient: rfc822; onlystatus@example.net
Status: 2.1.5

Final-Recipient: rfc822; noaction@example.net
Status: 4.2.2
Diagnostic-Code: x-unix; quota
`))
	if d.groups != 6 {
		t.Errorf("groups = %d, want 6", d.groups)
	}
	if d.messageID != "abc@Example.COM" {
		t.Errorf("messageID = %q", d.messageID)
	}
	want := []BounceRecipient{
		// The group was split by an empty line.
		{Email: "A.User@example.net", Status: "5.7.1", Action: "failed"},
		{Email: "김민수@example.kr", Status: "4.4.2", Action: "delayed", Diagnostic: "421 4.4.2 connection dropped"},
		{Email: "nostatus@example.net", Status: "5.0.0", Action: "failed"},
		{Email: "noaction@example.net", Status: "4.2.2", Action: "delayed", Diagnostic: "quota"},
	}
	if !reflect.DeepEqual(d.recips, want) {
		t.Errorf("recipients:\ngot  %+v\nwant %+v", d.recips, want)
	}

	d = readDSN(status("Reporting-MTA: dns; mx.example.net\nX-Original-Message-ID: <x1@mail.example.com>\n\n" +
		"Final-Recipient: rfc822;orig-wins@example.org\nOriginal-Recipient: rfc822;we-sent-to@example.com\nAction: failed\nStatus: 5.1.1\n"))
	if d.messageID != "x1@mail.example.com" || len(d.recips) != 1 || d.recips[0].Email != "we-sent-to@example.com" {
		t.Errorf("X-Original-Message-ID and Original-Recipient: %+v", d)
	}
}

// TestBounceFromMessageIDField: with no returned headers, the report's own
// (X-)Original-Message-ID names the mail.
func TestBounceFromMessageIDField(t *testing.T) {
	raw := "From: MAILER-DAEMON@mx.example.net\r\nTo: support@example.com\r\nSubject: Delivery Status Notification (Failure)\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		// base64 of "Original-Message-ID: <m1@example.com>\r\n\r\nFinal-Recipient: rfc822; x@example.org\r\nAction: failed\r\nStatus: 5.1.2\r\n"
		"T3JpZ2luYWwtTWVzc2FnZS1JRDogPG0xQGV4YW1wbGUuY29tPg0KDQpGaW5hbC1SZWNpcGllbnQ6IHJmYzgyMjsgeEBleGFtcGxlLm9yZw0KQWN0aW9uOiBmYWlsZWQNClN0YXR1czogNS4xLjINCg==\r\n" +
		"--b--\r\n"
	m, err := parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	checkBounce(t, "base64 status part", m.Bounce, true, "m1@example.com", []wantRecipient{{"x@example.org", "5.1.2", "failed", ""}})
}

// TestBounceUnreadableReport: a multipart/report of delivery status whose
// status part and text name no recipient is still a bounce, without
// recipients; one whose status part lists only deliveries is none.
func TestBounceUnreadableReport(t *testing.T) {
	head := "From: MAILER-DAEMON@mx.example.net\r\nTo: support@example.com\r\nSubject: Returned mail\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
	m, err := parse([]byte(head + "--b\r\nContent-Type: text/plain\r\n\r\nSomething went wrong.\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\ngarbage\r\n--b--\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	checkBounce(t, "unreadable report", m.Bounce, true, "", nil)

	m, err = parse([]byte(head + "--b\r\nContent-Type: message/delivery-status\r\n\r\n" +
		"Reporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; a@example.org\r\nAction: delivered\r\nStatus: 2.0.0\r\n--b--\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Bounce != nil {
		t.Errorf("success report taken for a bounce: %+v", *m.Bounce)
	}
}

func TestStatusCodes(t *testing.T) {
	for _, c := range []struct{ in, enhanced, basic string }{
		{"550-5.1.1 The email account", "5.1.1", "5"},
		{"said: 452 4.2.2 Mailbox full", "4.2.2", "4"},
		{"(#5.1.1)", "5.1.1", ""},
		{"#550 5.1.10 RESOLVER.ADR", "5.1.10", "5"},
		{"Status: 4.4.7.", "4.4.7", ""},
		{"host [10.4.5.6] refused", "", ""},
		{"Sendmail 8.14.2/8.14.2", "", ""},
		{"version 5.1.1a", "", ""},
		{"at 12:45:33 after 5 day(s) in 2024", "", ""},
		{"port :450 closed", "", ""},
		{"552-Requested action aborted", "", "5"},
		{"", "", ""},
	} {
		if got := EnhancedCode(c.in); got != c.enhanced {
			t.Errorf("EnhancedCode(%q) = %q, want %q", c.in, got, c.enhanced)
		}
		if got := basicCode(c.in); got != c.basic {
			t.Errorf("basicCode(%q) = %q, want %q", c.in, got, c.basic)
		}
	}
}

func TestCappedBuffer(t *testing.T) {
	const msg = "\r\nReturn-Path: <a@example.com>\r\nMessage-ID: <m@example.com>\r\n\r\nbody\r\n\r\nmore\r\n"
	for _, step := range []int{1, 2, 3, 7, len(msg)} {
		c := &cappedBuffer{limit: maxReportPart, headerOnly: true}
		for i := 0; i < len(msg); i += step {
			if n, err := c.Write([]byte(msg[i:min(i+step, len(msg))])); err != nil || n != min(step, len(msg)-i) {
				t.Fatalf("Write = %d, %v", n, err)
			}
		}
		if got, want := c.buf.String(), msg[2:strings.Index(msg, "body")]; got != want {
			t.Errorf("step %d: kept %q, want %q", step, got, want)
		}
	}
	c := &cappedBuffer{limit: 4}
	if n, _ := c.Write([]byte("abcdef")); n != 6 || c.buf.String() != "abcd" {
		t.Errorf("limit: kept %q", c.buf.String())
	}
}

// TestTextRecipients covers layouts no fixture has: old Exim's
// "------ address ------" blocks, Outlook's "<mailto:...>" after an
// address, and X-Failed-Recipients naming a recipient the text does not.
func TestTextRecipients(t *testing.T) {
	got := textRecipients("The following text was generated during the delivery attempt:\n\n" +
		"------ pat@example.net ------\n\n" +
		"SMTP error from remote mail server after RCPT TO:<pat@example.net>:\n" +
		"host mx.example.net [192.0.2.7]: 550 5.7.1 Relaying denied\n\n" +
		"kim@example.org<mailto:kim@example.org>\n#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##\n")
	want := []BounceRecipient{
		{Email: "pat@example.net", Diagnostic: "SMTP error from remote mail server after RCPT TO:<pat@example.net>: host mx.example.net [192.0.2.7]: 550 5.7.1 Relaying denied"},
		{Email: "kim@example.org", Diagnostic: "#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("textRecipients:\ngot  %+v\nwant %+v", got, want)
	}

	raw := "Return-path: <>\r\nFrom: Mail Delivery System <Mailer-Daemon@mx.example.net>\r\n" +
		"X-Failed-Recipients: lee@example.org,\r\n Park <park@example.org>\r\n" +
		"Subject: Mail delivery failed: returning message to sender\r\n\r\n" +
		"This message was created automatically by mail delivery software.\r\n\r\n" +
		"A message that you sent could not be delivered to one or more of its\r\n" +
		"recipients. This is a permanent error. The following address(es) failed:\r\n\r\n" +
		"  lee@example.org\r\n    mailbox is full: retry timeout exceeded\r\n"
	m, err := parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	checkBounce(t, "X-Failed-Recipients", m.Bounce, false, "", []wantRecipient{
		{"lee@example.org", "5.0.0", "failed", "mailbox is full"},
		{"park@example.org", "5.0.0", "failed", ""},
	})
}
