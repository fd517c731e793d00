package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ticketd/ticketd/mailbox"
)

// TestCalendarAgainstDovecotAndPostfix: the acknowledgement a customer
// reads in their Dovecot mailbox says when the answer comes, by the
// center's calendar: on 추석 eve the Monday after the holidays, in hours
// the SLA's time that day. The clock is the binary's test-only one (built
// with -tags e2eclock, set by TICKETD_TEST_NOW); ticketd hours prints the
// same calendar.
func TestCalendarAgainstDovecotAndPostfix(t *testing.T) {
	s := Start(t, 35000)
	bin := buildTicketd(t, s.RepoRoot(), "e2eclock")
	cfg, _ := writeConfig(t, s, "timezone: Asia/Seoul")
	for i, c := range []struct{ now, want string }{
		{"2026-09-23T19:30:00+09:00", "추석 연휴(9월 24일~9월 26일)로 휴무이므로, 9월 28일(월) 09:00부터 순서대로 확인하여 답변드리겠습니다."},
		{"2026-11-30T09:30:00+09:00", "영업시간 중에 접수되었으므로 11월 30일(월) 17:30까지 답변드리겠습니다."},
	} {
		t.Setenv("TICKETD_TEST_NOW", c.now)
		id := fmt.Sprintf("cal-%d@example.test", i)
		raw := fmt.Sprintf("From: 김민수 <customer@example.test>\r\nTo: support@example.test\r\nSubject: 상환일 문의 %d\r\n"+
			"Message-ID: <%s>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n문의드립니다.\r\n", i, id)
		if err := s.SendMail("customer@example.test", []string{"support@example.test"}, []byte(raw)); err != nil {
			t.Fatal(err)
		}
		s.WaitMessage("support", "INBOX", HasMessageID(id), 30*time.Second)
		if code, out := runTicketd(t, bin, cfg, "poll"); code != 0 || !strings.Contains(out, "new tickets 1") {
			t.Fatalf("poll at %s: exit %d\n%s", c.now, code, out)
		}
		ack, err := s.WaitMessage("customer", "INBOX", func(raw []byte) bool { return Contains("In-Reply-To: <" + id + ">")(raw) }, 30*time.Second)
		if err != nil {
			t.Fatalf("no acknowledgement at %s: %v", c.now, err)
		}
		m, _ := mailbox.Parse(ack)
		if !strings.Contains(m.Text, c.want) {
			t.Errorf("the acknowledgement at %s lacks %q:\n%s", c.now, c.want, m.Text)
		}
	}
	code, out := runTicketd(t, bin, cfg, "hours", "--from", "2026-09-23", "--days", "6")
	for _, want := range []string{"2026-09-23  수    09:00-18:00", "2026-09-25  금    휴무: 추석", "2026-09-27  일    휴무 (정기)", "2026-09-28  월    09:00-18:00"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("hours lacks %q:\n%s", want, out)
		}
	}
}
