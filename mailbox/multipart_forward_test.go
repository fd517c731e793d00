package mailbox_test

import (
	"os"
	"strings"
	"testing"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/ticket"
)

// TestForwardedSectionStaysVisible: a customer's "see below" with a
// forwarded message becomes a ticket message whose visible text (what the
// agent sees first, after quote stripping) holds the forwarded message.
func TestForwardedSectionStaysVisible(t *testing.T) {
	raw, err := os.ReadFile("../testdata/mail/forwarded_ko.eml")
	if err != nil {
		t.Fatal(err)
	}
	svc, db := testService(t, nil)
	res, rejected, err := mailbox.Deliver(svc, raw, ticket.Incoming{Source: "test"}, nil)
	if err != nil || rejected || res.MessageID == 0 {
		t.Fatalf("not stored: %+v rejected=%v err=%v", res, rejected, err)
	}
	var msg ticket.Message
	if err := db.View(func(tx ticket.ReadTx) (err error) { msg, err = tx.Message(res.MessageID); return err }); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"아래 메일 확인 부탁드립니다.", "---------- Forwarded message ----------",
		"From: 홍길동 <hong@bank.example>", "고객님의 상환일은 9월 20일입니다."} {
		if !strings.Contains(msg.Visible, want) {
			t.Errorf("visible text lacks %q:\n%s", want, msg.Visible)
		}
	}
	if len(msg.Attachments) != 1 || msg.Attachments[0].ContentType != "message/rfc822" {
		t.Errorf("attachments %+v", msg.Attachments)
	}
}
