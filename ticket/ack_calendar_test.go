package ticket_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ticketd/ticketd/ticket"
)

// The acknowledgement says truthfully when an answer can be expected: in
// hours, at night, on a weekend, and on the eve of 추석.
func TestAckTellsWhenTheAnswerComes(t *testing.T) {
	loc := time.FixedZone("KST", 9*3600)
	hours := ticket.Hours{Days: []time.Weekday{1, 2, 3, 4, 5}, Open: 9 * time.Hour, Close: 18 * time.Hour, Loc: loc, Holidays: map[string]ticket.Holiday{}}
	for _, h := range ticket.KoreanHolidays(2026) {
		if _, ok := hours.Holidays[h.Date]; !ok {
			hours.Holidays[h.Date] = h
		}
	}
	cases := []struct {
		now       string
		want, not []string
	}{
		{"2026-09-23 19:30", []string{"추석 연휴(9월 24일~9월 26일)로 휴무이므로, 9월 28일(월) 09:00부터 순서대로 확인하여 답변드리겠습니다."}, nil},
		{"2026-12-01 20:00", []string{"현재는 상담 운영시간이 아니므로, 12월 2일(수) 09:00부터 순서대로 확인하여 답변드리겠습니다."}, []string{"연휴"}},
		{"2026-12-05 11:00", []string{"12월 7일(월) 09:00부터"}, []string{"휴무이므로"}},
		{"2026-12-07 10:00", []string{"영업시간 중에 접수되었으므로 12월 7일(월) 18:00까지 답변드리겠습니다."}, []string{"현재는 상담 운영시간이 아니므로", "휴무이므로"}},
		{"2026-10-02 18:30", []string{"개천절 연휴(10월 3일~10월 5일)로 휴무이므로, 10월 6일(화) 09:00부터"}, nil},
	}
	for _, c := range cases {
		now, err := time.ParseInLocation("2006-01-02 15:04", c.now, loc)
		if err != nil {
			t.Fatal(err)
		}
		svc, db := setup(t, func(cfg *ticket.Config) {
			cfg.Hours, cfg.Now, cfg.SLAFirstResponse = hours, func() time.Time { return now }, 8*time.Hour
		})
		ingest(t, svc, mail("kim@example.org", "문의", "a-"+c.now+"@example.org"))
		var ack ticket.Outgoing
		for _, o := range mailTo(t, db, "kim@example.org") {
			if o.Kind == ticket.KindAuto {
				ack = o
			}
		}
		for _, w := range c.want {
			html := strings.NewReplacer("<strong>", "", "</strong>", "").Replace(ack.HTML)
			if !strings.Contains(ack.Text, w) || !strings.Contains(html, w) {
				t.Errorf("%s: the acknowledgement lacks %q:\n%s", c.now, w, ack.Text)
			}
		}
		for _, w := range c.not {
			if strings.Contains(ack.Text, w) {
				t.Errorf("%s: the acknowledgement says %q:\n%s", c.now, w, ack.Text)
			}
		}
	}
}

// SLA due times in business time; pending stops the resolution clock and
// resuming moves the due time on by the business time waited; an agent's
// answer meets the first response; Overdue says which are passed.
func TestSLADueTimes(t *testing.T) {
	loc := time.FixedZone("KST", 9*3600)
	hours := ticket.Hours{Days: []time.Weekday{1, 2, 3, 4, 5}, Open: 9 * time.Hour, Close: 18 * time.Hour, Loc: loc}
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, loc) // Monday
	svc, db := setup(t, withAgents(false), func(cfg *ticket.Config) {
		cfg.Hours, cfg.Now, cfg.SLAFirstResponse, cfg.SLAResolution = hours, func() time.Time { return now }, 8*time.Hour, 45*time.Hour
	})
	ingest(t, svc, mail("kim@example.org", "문의", "sla1@example.org"))
	tk := getTicket(t, db, 1)
	kst := func(x time.Time) string { return x.In(loc).Format("2006-01-02 15:04") }
	if tk.Due == nil || kst(tk.Due.FirstResponse) != "2026-12-07 18:00" || kst(tk.Due.Resolution) != "2026-12-14 10:00" {
		t.Fatalf("due: %+v", tk.Due)
	}
	if o := tk.Overdue(time.Date(2026, 12, 7, 19, 0, 0, 0, loc)); len(o) != 1 || o[0] != "first_response" {
		t.Fatalf("overdue at 19:00: %v", o)
	}
	now = time.Date(2026, 12, 8, 10, 0, 0, 0, loc) // Tuesday: waiting for the customer
	if err := svc.SetStatus(1, agentKim.Email, ticket.StatusPending); err != nil {
		t.Fatal(err)
	}
	// Pending: weeks later only the unanswered first response is overdue.
	if o := getTicket(t, db, 1).Overdue(time.Date(2027, 1, 4, 10, 0, 0, 0, loc)); len(o) != 1 || o[0] != "first_response" {
		t.Fatalf("a pending ticket weeks later: overdue %v", o)
	}
	now = time.Date(2026, 12, 10, 10, 0, 0, 0, loc) // Thursday: the customer answers
	n := mail("kim@example.org", "Re: [#1] 문의", "sla2@example.org")
	n.InReplyTo = "sla1@example.org"
	ingest(t, svc, n)
	tk = getTicket(t, db, 1)
	if tk.Status != ticket.StatusOpen || kst(tk.Due.Resolution) != "2026-12-16 10:00" || !tk.Due.PausedSince.IsZero() {
		t.Fatalf("after 18 business hours pending: status %s, resolution %s", tk.Status, kst(tk.Due.Resolution))
	}
	if err := svc.Reply(1, agentKim.Email, "답변드립니다.", nil); err != nil {
		t.Fatal(err)
	}
	tk = getTicket(t, db, 1)
	if tk.Due.Responded.IsZero() || tk.Overdue(time.Date(2026, 12, 15, 10, 0, 0, 0, loc)) != nil {
		t.Fatalf("after the answer: %+v, overdue %v", tk.Due, tk.Overdue(time.Date(2026, 12, 15, 10, 0, 0, 0, loc)))
	}
	if o := tk.Overdue(time.Date(2026, 12, 16, 11, 0, 0, 0, loc)); len(o) != 1 || o[0] != "resolution" {
		t.Fatalf("overdue after the resolution due: %v", o)
	}
}
