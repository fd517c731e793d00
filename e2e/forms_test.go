package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/korean"

	"github.com/ticketd/ticketd/mailbox"
)

// TestOddMailAgainstDovecotAndPostfix: a Korean customer's reply in the
// forms Korean mailers and gateways produce, through Postfix and Dovecot:
// raw EUC-KR inside an encoded-word, a Message-ID in mixed case, a reply
// written below the quote with a greeting on top and the company's
// disclaimer under everything, an Outlook inline image without a name, and
// a uuencoded file in the text. The ticket shows what the customer wrote,
// the attachments have names, and the acknowledgement threads exactly.
func TestOddMailAgainstDovecotAndPostfix(t *testing.T) {
	s := Start(t, 32000)
	bin := buildTicketd(t, s.RepoRoot())
	cfg, _ := writeConfig(t, s)
	euckr := func(s string) string {
		b, err := korean.EUCKR.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	png := []byte("\x89PNG\r\n\x1a\nscreenshot")
	raw := "From: =?euc-kr?Q?" + euckr("홍길동") + "?= <customer@example.test>\r\n" +
		"To: support@example.test\r\n" +
		"Subject: =?euc-kr?Q?" + strings.ReplaceAll(euckr("앱 로그인 문의"), " ", "_") + "?=\r\n" +
		"Message-ID: <Odd.Form-1@Mail.Example.TEST>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0900\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/related; boundary=\"rel\"\r\n\r\n" +
		"--rel\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
		"안녕하세요.\r\n\r\n" +
		"2026-11-20 오후 3:05에 고객센터 이(가) 쓴 글:\r\n> 앱을 최신 버전으로 업데이트한 뒤 다시 로그인해 보시기 바랍니다. 그래도 안 되면\r\n" +
		"화면을 캡처해 보내 주세요.\r\n\r\n" +
		"업데이트했는데도 로그인이 안 됩니다. 화면을 첨부합니다.\r\n\r\n" +
		"begin 644 log.txt\r\n" + uuLine("error 403 at login") + "`\r\nend\r\n\r\n" +
		"본 메일은 수신자만을 위한 것으로 기밀 정보를 포함할 수 있으며 무단 배포를 금합니다.\r\n" +
		"--rel\r\nContent-Type: image/png\r\nContent-ID: <image001.png@01DA3C4F.5E6D7A80>\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(png) + "\r\n--rel--\r\n"
	if err := s.SendMail("customer@example.test", []string{"support@example.test"}, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitMessage("support", "INBOX", Contains("Odd.Form-1@Mail.Example.TEST"), 30*time.Second); err != nil {
		t.Fatalf("mail never reached support's INBOX: %v", err)
	}
	if code, out := runTicketd(t, bin, cfg, "poll"); code != 0 || !strings.Contains(out, "new tickets 1") {
		t.Fatalf("poll: exit %d\n%s", code, out)
	}

	code, out := runTicketd(t, bin, cfg, "tickets", "show", "1", "--json")
	if code != 0 {
		t.Fatalf("tickets show: %d\n%s", code, out)
	}
	var v struct {
		Subject  string `json:"subject"`
		Messages []struct {
			From struct {
				Name string `json:"name"`
			} `json:"from"`
			MessageID   string `json:"message_id"`
			Visible     string `json:"visible"`
			Body        string `json:"body"`
			Attachments []struct {
				Filename    string `json:"filename"`
				NameDerived bool   `json:"name_derived"`
				Size        int64  `json:"size"`
			} `json:"attachments"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	m := v.Messages[0]
	if v.Subject != "앱 로그인 문의" || m.From.Name != "홍길동" {
		t.Errorf("subject %q, sender name %q", v.Subject, m.From.Name)
	}
	if m.MessageID != "Odd.Form-1@Mail.Example.TEST" {
		t.Errorf("message_id %q, want it as sent", m.MessageID)
	}
	if want := "안녕하세요.\n\n업데이트했는데도 로그인이 안 됩니다. 화면을 첨부합니다."; m.Visible != want {
		t.Errorf("visible:\n%s\n--- want:\n%s", m.Visible, want)
	}
	if strings.Contains(m.Body, "begin 644") || !strings.Contains(m.Body, "최신 버전") {
		t.Errorf("body (the whole text, the uuencoded file taken out):\n%s", m.Body)
	}
	var names []string
	for _, a := range m.Attachments {
		names = append(names, a.Filename)
		if (a.Filename == "image001.png") != a.NameDerived {
			t.Errorf("attachment %q: name_derived %v", a.Filename, a.NameDerived)
		}
	}
	if strings.Join(names, " ") != "log.txt image001.png" {
		t.Errorf("attachments %v, want log.txt and image001.png", names)
	}

	// The file comes back under its derived name.
	dir := t.TempDir()
	if code, out := runTicketd(t, bin, cfg, "attachment", "get", "1", "2", "--out", dir); code != 0 {
		t.Fatalf("attachment get: %d\n%s", code, out)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "image001.png")); err != nil || string(got) != string(png) {
		t.Errorf("image001.png: %q, %v", got, err)
	}

	// The acknowledgement echoes the Message-ID byte for byte.
	ackRaw, err := s.WaitMessage("customer", "INBOX", Contains("Auto-Submitted: auto-replied"), 30*time.Second)
	if err != nil {
		t.Fatalf("acknowledgement never arrived: %v", err)
	}
	ack, err := mailbox.Parse(ackRaw)
	if err != nil {
		t.Fatal(err)
	}
	if ack.InReplyTo != "Odd.Form-1@Mail.Example.TEST" || !strings.Contains(string(ackRaw), "<Odd.Form-1@Mail.Example.TEST>") {
		t.Errorf("ack In-Reply-To %q", ack.InReplyTo)
	}
}

// uuLine uuencodes s (at most 45 bytes) as one line.
func uuLine(s string) string {
	var sb strings.Builder
	sb.WriteByte(byte(' ' + len(s)))
	for i := 0; i < len(s); i += 3 {
		var c [3]byte
		copy(c[:], s[i:min(i+3, len(s))])
		for _, v := range []byte{c[0] >> 2, (c[0]<<4 | c[1]>>4) & 63, (c[1]<<2 | c[2]>>6) & 63, c[2] & 63} {
			if v == 0 {
				sb.WriteByte('`')
			} else {
				sb.WriteByte(' ' + v)
			}
		}
	}
	return sb.String() + "\r\n"
}
