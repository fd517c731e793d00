package smtp

import (
	"bytes"
	"net/mail"
	"strings"
	"testing"

	"github.com/ticketd/ticketd/ticket"
)

// A hostile attachment name, subject or display name never becomes a
// header of its own in an outgoing mail.
func TestOutgoingHeadersResistInjection(t *testing.T) {
	o := ticket.Outgoing{
		MessageID: "t1.x.y@example.test",
		From:      ticket.Address{Name: "고객센터\r\nBcc: a@evil.example", Email: "support@example.test"},
		To:        []ticket.Address{{Name: "Kim\nX-Injected: 1", Email: "kim@example.org"}},
		Subject:   "hello\r\nBcc: b@evil.example",
		Text:      "body",
		Attachments: []ticket.OutAttachment{{Filename: "a.pdf\r\nBcc: c@evil.example\r\n\r\n", ContentType: "application/pdf\r\nX-Evil: 1",
			Data: []byte("%PDF")}},
	}
	m, err := BuildMessage(o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	raw := buf.String()
	parsed, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"Bcc", "X-Injected", "X-Evil"} {
		if v := parsed.Header.Get(h); v != "" {
			t.Errorf("header %s injected: %q", h, v)
		}
	}
	for _, line := range strings.Split(raw, "\r\n") {
		if strings.HasPrefix(line, "Bcc:") || strings.HasPrefix(line, "X-Evil:") || strings.HasPrefix(line, "X-Injected:") {
			t.Errorf("injected line %q in\n%s", line, raw)
		}
	}
}
