package ticket_test

import (
	"strings"
	"testing"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/mailbox/rfc822"
	"github.com/ticketd/ticketd/mailbox/smtp"
	"github.com/ticketd/ticketd/store"
	"github.com/ticketd/ticketd/ticket"
)

// relayedTo returns the last agent reply queued to email.
func relayedTo(t *testing.T, db *store.DB, email string) ticket.Outgoing {
	t.Helper()
	var out ticket.Outgoing
	err := db.View(func(tx ticket.ReadTx) error {
		os, err := tx.Outbox()
		for _, o := range os {
			if o.Kind == ticket.KindAgent && len(o.To) > 0 && o.To[0].Email == email {
				out = o
			}
		}
		return err
	})
	if err != nil || out.ID == 0 {
		t.Fatalf("no agent reply queued to %s (%v)", email, err)
	}
	return out
}

// An agent who writes HTML is relayed in HTML: their own markup, sanitised,
// without the quoted history; a reply that held commands, or whose history
// only the text rules can find, is rendered from its text instead, so
// neither a command nor the history reaches the customer.
func TestAgentHTMLReplyRelayed(t *testing.T) {
	withHTML := func(c *ticket.Config) { c.ReplyHTML = mailbox.AuthorHTML }
	cases := []struct {
		name, text, html string
		want, notWant    []string
	}{
		{
			name: "gmail html",
			text: "재발급 신청을 도와드리겠습니다.\n",
			html: `<div dir="ltr"><b>재발급 신청</b>을 도와드리겠습니다.<script>alert(1)</script><img src="cid:logo@x" alt="로고"></div>` +
				`<div class="gmail_quote"><div class="gmail_attr">2026년 11월 24일 (화) 오후 7:00, 고객센터 님이 작성:</div><blockquote class="gmail_quote">새 문의 옛 내용</blockquote></div>`,
			want:    []string{"<b>재발급 신청</b>을 도와드리겠습니다.", "로고"},
			notWant: []string{"옛 내용", "<script", "alert(1)", "cid:"},
		},
		{
			name: "commands in html",
			text: "#priority high\n재발급 신청을 도와드리겠습니다.\n",
			html: `<div>#priority high</div><div><b>재발급 신청</b>을 도와드리겠습니다.</div>`,
			// rendered from the text: the command is gone, the markup too
			want:    []string{"재발급 신청을 도와드리겠습니다."},
			notWant: []string{"#priority", "<b>"},
		},
		{
			name: "history marked only in the text",
			text: "확인했습니다.\n",
			html: `<div>확인했습니다.</div><div><br></div><div>-----Original Message-----<br>From: 고객센터 &lt;support@example.test&gt;<br>` +
				`To: agent@example.test<br>Subject: [#1] 카드 분실<br><br>옛 내용</div>`,
			want:    []string{"확인했습니다."},
			notWant: []string{"Original Message", "옛 내용"},
		},
		{
			name:    "text only",
			text:    "안내드립니다: 1 < 2 & 3\n\n감사합니다.\n",
			want:    []string{"안내드립니다: 1 &lt; 2 &amp; 3</p>", "감사합니다.</p>"},
			notWant: []string{"1 < 2"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svc, db := setup(t, withAgents(false), withHTML)
			ingest(t, svc, mail("kim@example.org", "카드 분실", "a1@example.org"))
			n := notification(t, db, agentKim.Email)
			reply := agentMail(agentKim.Email, "Re: [#1] 카드 분실", "r1@example.test", c.text)
			reply.HTML = rfc822.SanitizeHTML(c.html)
			reply.InReplyTo = n.MessageID
			if res := ingest(t, svc, reply); !res.Relayed {
				t.Fatalf("not relayed: %+v", res)
			}
			o := relayedTo(t, db, "kim@example.org")
			for _, w := range c.want {
				if !strings.Contains(o.HTML, w) {
					t.Errorf("HTML part lacks %q:\n%s", w, o.HTML)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(o.HTML, w) {
					t.Errorf("HTML part holds %q:\n%s", w, o.HTML)
				}
				if c.html != "" && strings.Contains(o.Text, w) {
					t.Errorf("text part holds %q:\n%s", w, o.Text)
				}
			}
			if !strings.Contains(o.HTML, "접수번호 #1") || !strings.Contains(o.HTML, "word-break:keep-all") {
				t.Errorf("HTML part is not in the center's frame:\n%s", o.HTML)
			}
		})
	}
}

// A reply sent from the CLI with files keeps them on the ticket: the stored
// message's raw mail is the mail that was sent, so the files can be read
// back like a customer's.
func TestCLIReplyKeepsAttachments(t *testing.T) {
	svc, db := setup(t, withAgents(false), func(c *ticket.Config) { c.Record = smtp.Record })
	ingest(t, svc, mail("kim@example.org", "문의", "x1@example.org"))
	pdf := []byte("%PDF-1.4 안내문 " + strings.Repeat("x", 3000))
	att := []ticket.OutAttachment{{Filename: "상환일 변경 안내.pdf", ContentType: "application/pdf", Data: pdf}}
	if err := svc.Reply(1, agentKim.Email, "안내문을 첨부합니다.", att); err != nil {
		t.Fatal(err)
	}
	var stored ticket.Message
	for _, m := range messages(t, db, 1) {
		if m.Kind == ticket.KindAgent {
			stored = m
		}
	}
	var raw []byte
	if err := db.View(func(tx ticket.ReadTx) error { var err error; raw, err = tx.Raw(stored.ID); return err }); err != nil {
		t.Fatalf("the CLI reply has no raw mail: %v", err)
	}
	if stored.RawSize != int64(len(raw)) || len(stored.Attachments) != 1 {
		t.Fatalf("stored reply: raw %d bytes (recorded %d), %d attachments", len(raw), stored.RawSize, len(stored.Attachments))
	}
	files, err := rfc822.ExtractAttachments(raw)
	if err != nil || len(files) != 1 || files[0].Filename != "상환일 변경 안내.pdf" || string(files[0].Data) != string(pdf) {
		t.Fatalf("read back: %d files, err %v", len(files), err)
	}
}
