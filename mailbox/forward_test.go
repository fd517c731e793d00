package mailbox_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/mailbox/quote"
	"github.com/ticketd/ticketd/ticket"
)

// The forwarded sections are added to Text and Visible by Parse (the reader
// gives them apart, quote.Visible reads the sender's own text).

func parseMailFixture(t *testing.T, name string) *ticket.Mail {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("../testdata/mail", name))
	if err != nil {
		t.Fatal(err)
	}
	m, err := mailbox.Parse(raw)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return m
}

func fcompare(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %#v\nwant %#v", what, got, want)
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestForwardedKorean: a forwarded message (message/rfc822) stays one
// attachment and appears in the text as a section with its sender, date,
// subject and recipients (RFC 2047, EUC-KR and UTF-8) and its text
// (base64 EUC-KR); its own attachment is not listed.
func TestForwardedKorean(t *testing.T) {
	m := parseMailFixture(t, "forwarded_ko.eml")
	fcompare(t, "subject", m.Subject, "Fwd: 상환일 안내")
	fcompare(t, "text", m.Text, "아래 메일 확인 부탁드립니다.\n\n김고객 드림\n\n"+
		"---------- Forwarded message ----------\n"+
		"From: 홍길동 <hong@bank.example>\n"+
		"Date: Fri, 6 Sep 2024 15:12:00 +0900\n"+
		"Subject: 상환일 안내\n"+
		"To: 김고객 <kim@customer.example>\n"+
		"Cc: loans@bank.example\n\n"+
		"고객님의 상환일은 9월 20일입니다.\n문의는 이 메일에 회신해 주세요.")
	raw, err := os.ReadFile("../testdata/mail/forwarded_ko.eml")
	if err != nil {
		t.Fatal(err)
	}
	_, inner, _ := bytes.Cut(raw, []byte("Content-Disposition: attachment\r\n\r\n"))
	inner, _, _ = bytes.Cut(inner, []byte("\r\n\r\n--outer--"))
	inner = append(inner, "\r\n"...)
	fcompare(t, "attachments", m.Attachments, []ticket.Attachment{
		{Filename: "forwarded.eml", NameDerived: true, ContentType: "message/rfc822", Size: int64(len(inner)), SHA256: sha(inner)},
	})
	// Visible keeps the forwarded message whole: it is what the customer
	// wants read, though its marker line would start a quote.
	fcompare(t, "visible", m.Visible, m.Text)
	fcompare(t, "warnings", m.Warnings, []string(nil))
}

// TestForwardedVisible: the customer's own text loses its signature, the
// forwarded section stays visible, and the forwarded message's text is
// kept whole.
func TestForwardedVisible(t *testing.T) {
	raw := "From: kim@customer.example\r\nTo: support@example.com\r\nSubject: Fwd: invoice\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nSee below, the invoice is wrong.\r\n\r\n-- \r\nKim\r\n" +
		"--b\r\nContent-Type: message/rfc822\r\n\r\n" +
		"From: Billing <billing@shop.example>\r\nSubject: Your invoice\r\nDate: Mon, 2 Sep 2024 09:00:00 +0000\r\n\r\n" +
		"Dear customer,\r\nyour invoice is 120 EUR.\r\n\r\nOn Sun, 1 Sep 2024, Kim wrote:\r\n> what do I owe?\r\n" +
		"--b--\r\n"
	m, err := mailbox.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	section := "---------- Forwarded message ----------\nFrom: Billing <billing@shop.example>\n" +
		"Date: Mon, 2 Sep 2024 09:00:00 +0000\nSubject: Your invoice\n\n" +
		"Dear customer,\nyour invoice is 120 EUR.\n\nOn Sun, 1 Sep 2024, Kim wrote:\n> what do I owe?"
	fcompare(t, "text", m.Text, "See below, the invoice is wrong.\n\n-- \nKim\n\n"+section)
	fcompare(t, "visible", m.Visible, "See below, the invoice is wrong.\n\n"+section)
	// The quote rules alone would take the section for quoted history.
	if v := quote.Visible(m.Text, "", false); strings.Contains(v, "120 EUR") {
		t.Errorf("quote.Visible keeps the forwarded text now (%q): Parse need not add the sections after it", v)
	}
}

// TestForwardedNested: a forwarded message inside a forwarded message is a
// section inside the section; the nesting is bounded; a base64 message is
// decoded once, for its hash and its section; a body that is not a mail
// gives no section.
func TestForwardedNested(t *testing.T) {
	msg := func(subject, body string) string {
		return "From: a@example.com\r\nSubject: " + subject + "\r\n\r\n" + body
	}
	wrap := func(subject, text, inner string) string {
		return "From: a@example.com\r\nSubject: " + subject + "\r\nContent-Type: multipart/mixed; boundary=\"" + subject + "\"\r\n\r\n" +
			"--" + subject + "\r\nContent-Type: text/plain\r\n\r\n" + text + "\r\n" +
			"--" + subject + "\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "\r\n--" + subject + "--\r\n"
	}
	two := wrap("s1", "top", wrap("s2", "middle", msg("s3", "bottom")))
	m, err := mailbox.Parse([]byte(two))
	if err != nil {
		t.Fatal(err)
	}
	fcompare(t, "nested", m.Text, "top\n\n"+
		"---------- Forwarded message ----------\nFrom: a@example.com\nSubject: s2\n\nmiddle\n\n"+
		"---------- Forwarded message ----------\nFrom: a@example.com\nSubject: s3\n\nbottom")
	fcompare(t, "attachments", len(m.Attachments), 1)

	deep := msg("bottom", "deepest")
	for i := 0; i < 4+2; i++ {
		deep = wrap(fmt.Sprintf("d%d", i), "level", deep)
	}
	m, err = mailbox.Parse([]byte(deep))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(m.Text, "---------- Forwarded message ----------"); n != 4 {
		t.Errorf("%d forwarded sections, want %d", n, 4)
	}

	inner := msg("encoded", "from base64")
	enc := "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString([]byte(inner)) + "\r\n" +
		"--b\r\nContent-Type: message/rfc822\r\n\r\nnot a mail at all\r\n--b--\r\n"
	m, err = mailbox.Parse([]byte(enc))
	if err != nil {
		t.Fatal(err)
	}
	fcompare(t, "base64 text", m.Text, "---------- Forwarded message ----------\nFrom: a@example.com\nSubject: encoded\n\nfrom base64")
	if len(m.Attachments) != 2 || m.Attachments[0].SHA256 != sha([]byte(inner)) || m.Attachments[1].Size != int64(len("not a mail at all")) {
		t.Errorf("attachments %+v", m.Attachments)
	}
}

// TestForwardedNotInReports: the message a delivery report returns is our
// own mail, not a forwarded one.
func TestForwardedNotInReports(t *testing.T) {
	returned := "From: support@example.com\r\nTo: gone@example.org\r\nSubject: Re: your ticket\r\nMessage-ID: <ours-1@example.com>\r\n\r\nour answer\r\n"
	for _, raw := range []string{
		// RFC 3464 delivery status notification.
		"From: MAILER-DAEMON@mx.example.net\r\nTo: support@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n" +
			"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n" +
			"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n" +
			"Final-Recipient: rfc822; gone@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n" +
			"--b\r\nContent-Type: message/rfc822\r\n\r\n" + returned + "--b--\r\n",
		// A text bounce that attaches the returned message.
		"From: MAILER-DAEMON@mx.example.net\r\nTo: support@example.com\r\nSubject: failure notice\r\n" +
			"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: text/plain\r\n\r\nHi. This is the qmail-send program at mx.example.net.\r\n" +
			"I'm afraid I wasn't able to deliver your message to the following addresses.\r\n" +
			"This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n" +
			"<gone@example.org>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n" +
			"--b\r\nContent-Type: message/rfc822\r\n\r\n" + returned + "--b--\r\n",
	} {
		m, err := mailbox.Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if m.Bounce == nil || m.Bounce.OriginalMessageID != "ours-1@example.com" {
			t.Errorf("bounce %+v", m.Bounce)
		}
		if strings.Contains(m.Text, "---------- Forwarded message ----------") || strings.Contains(m.Visible, "our answer") {
			t.Errorf("returned message shown as forwarded: %q", m.Text)
		}
		if len(m.Attachments) == 0 || m.Attachments[len(m.Attachments)-1].ContentType != "message/rfc822" {
			t.Errorf("attachments %+v", m.Attachments)
		}
	}
}
