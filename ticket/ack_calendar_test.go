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
		{"2026-12-07 10:00", nil, []string{"현재는 상담 운영시간이 아니므로", "휴무이므로"}},
		{"2026-10-02 18:30", []string{"개천절 연휴(10월 3일~10월 5일)로 휴무이므로, 10월 6일(화) 09:00부터"}, nil},
	}
	for _, c := range cases {
		now, err := time.ParseInLocation("2006-01-02 15:04", c.now, loc)
		if err != nil {
			t.Fatal(err)
		}
		svc, db := setup(t, func(cfg *ticket.Config) { cfg.Hours = hours; cfg.Now = func() time.Time { return now } })
		ingest(t, svc, mail("kim@example.org", "문의", "a-"+c.now+"@example.org"))
		var ack ticket.Outgoing
		for _, o := range mailTo(t, db, "kim@example.org") {
			if o.Kind == ticket.KindAuto {
				ack = o
			}
		}
		for _, w := range c.want {
			if !strings.Contains(ack.Text, w) || !strings.Contains(ack.HTML, w) {
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
