package ticket_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ticketd/ticketd/store"
	"github.com/ticketd/ticketd/ticket"
)

// mailsSince returns the outbox entries after the first n, to whom and
// with what subject.
func mailsSince(t *testing.T, db *store.DB, n int) []string {
	t.Helper()
	var out []string
	for _, o := range outbox(t, db)[n:] {
		out = append(out, o.To[0].Email+": "+o.Subject)
	}
	return out
}

// Reminders and escalations go out in business hours only, one digest per
// recipient per run, each ticket once per due time.
func TestRemindersInHoursOnly(t *testing.T) {
	loc := time.FixedZone("KST", 9*3600)
	hours := ticket.Hours{Days: []time.Weekday{1, 2, 3, 4, 5}, Open: 9 * time.Hour, Close: 18 * time.Hour, Loc: loc}
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, loc) // Monday
	svc, db := setup(t, withAgents(false), func(c *ticket.Config) {
		c.Hours, c.Now = hours, func() time.Time { return now }
		c.SLAFirstResponse, c.SLARemindBefore, c.EscalateTo = 8*time.Hour, time.Hour, "boss@example.test"
	})
	ingest(t, svc, mail("kim@example.org", "첫 문의", "rm1@example.org"))
	now = now.Add(time.Hour)
	ingest(t, svc, mail("park@example.org", "둘째 문의 900101-1234568", "rm2@example.org"))
	run := func(at string) (ticket.Reminders, []string) {
		t.Helper()
		var err error
		if now, err = time.ParseInLocation("2006-01-02 15:04", at, loc); err != nil {
			t.Fatal(err)
		}
		before := len(outbox(t, db))
		r, err := svc.Remind(false)
		if err != nil {
			t.Fatal(err)
		}
		return r, mailsSince(t, db, before)
	}
	if r, m := run("2026-12-07 16:30"); r.Digests != 0 || len(m) != 0 {
		t.Fatalf("16:30, due 18:00: %+v %v", r, m)
	}
	r, m := run("2026-12-07 17:10")
	if r.Reminded != 1 || r.Digests != 2 || len(m) != 2 || !strings.Contains(m[0], "답변 기한이 다가오는 문의 1건") {
		t.Fatalf("17:10: %+v %v", r, m)
	}
	if r, m := run("2026-12-07 17:20"); r.Digests != 0 || len(m) != 0 {
		t.Fatalf("a second reminder: %+v %v", r, m)
	}
	if r, m := run("2026-12-07 20:00"); !r.Closed || len(m) != 0 {
		t.Fatalf("at night: %+v %v", r, m)
	}
	// Both tickets' first answers came due at night; the next opening
	// mails one escalation with both, and the second's reminder too.
	r, m = run("2026-12-08 09:05")
	esc := ""
	for _, x := range m {
		if strings.HasPrefix(x, "boss@example.test: ") {
			esc = x
		}
	}
	if r.Escalated != 1 || r.Breached != 1 || !strings.Contains(esc, "답변 기한이 지난 문의 1건") {
		t.Fatalf("09:05: %+v %v", r, m)
	}
	r, m = run("2026-12-08 10:05")
	if r.Escalated != 1 || len(m) != 1 || !strings.Contains(m[0], "boss@example.test") {
		t.Fatalf("10:05, the second ticket past due: %+v %v", r, m)
	}
	if r, m := run("2026-12-08 11:00"); r.Digests != 0 || r.Breached != 0 || len(m) != 0 {
		t.Fatalf("nothing new: %+v %v", r, m)
	}
	if d := getTicket(t, db, 1).Due; d.BreachedFirst.IsZero() || !d.BreachedFirst.Equal(d.FirstResponse) {
		t.Fatalf("the breach is not recorded at the due time: %+v", d)
	}
	for _, o := range outbox(t, db) {
		if strings.Contains(o.Text, "1234568") {
			t.Errorf("a digest holds the personal data:\n%s", o.Text)
		}
	}
}

// A ticket waiting for the customer gets one reminder after three business
// days and is solved with a closing mail after seven, in business hours
// only; a customer's answer meanwhile ends it.
func TestPendingFollowUp(t *testing.T) {
	loc := time.FixedZone("KST", 9*3600)
	hours := ticket.Hours{Days: []time.Weekday{1, 2, 3, 4, 5}, Open: 9 * time.Hour, Close: 18 * time.Hour, Loc: loc}
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, loc) // Monday
	svc, db := setup(t, withAgents(false), func(c *ticket.Config) {
		c.Hours, c.Now = hours, func() time.Time { return now }
		c.PendingRemindAfter, c.PendingCloseAfter = 27*time.Hour, 63*time.Hour
	})
	for i, who := range []string{"kim@example.org", "park@example.org"} {
		ingest(t, svc, mail(who, "서류 제출", fmt.Sprintf("pd%d@example.org", i)))
		if err := svc.SetStatus(uint64(i+1), agentKim.Email, ticket.StatusPending); err != nil {
			t.Fatal(err)
		}
	}
	run := func(at string, dry bool) (ticket.PendingRun, []string) {
		t.Helper()
		var err error
		if now, err = time.ParseInLocation("2006-01-02 15:04", at, loc); err != nil {
			t.Fatal(err)
		}
		before := len(outbox(t, db))
		p, err := svc.RunPending(dry)
		if err != nil {
			t.Fatal(err)
		}
		return p, mailsSince(t, db, before)
	}
	if p, m := run("2026-12-09 10:00", false); len(p.Reminded)+len(p.Solved) != 0 || len(m) != 0 {
		t.Fatalf("Wednesday: %+v %v", p, m)
	}
	// Park answers on Wednesday: the ticket is open again, out of it.
	reply := mail("park@example.org", "Re: [#2] 서류 제출", "pd-r@example.org")
	reply.InReplyTo = "pd1@example.org"
	ingest(t, svc, reply)
	if p, m := run("2026-12-10 20:00", false); !p.Closed || len(m) != 0 {
		t.Fatalf("Thursday night: %+v %v", p, m)
	}
	p, m := run("2026-12-10 10:00", false)
	if fmt.Sprint(p.Reminded) != "[1]" || len(m) != 1 || !strings.HasPrefix(m[0], "kim@example.org: [#1] 추가 확인 요청") {
		t.Fatalf("Thursday 10:00: %+v %v", p, m)
	}
	if p, m := run("2026-12-10 15:00", false); len(p.Reminded) != 0 || len(m) != 0 {
		t.Fatalf("a second reminder: %+v %v", p, m)
	}
	if p, _ := run("2026-12-16 10:00", true); fmt.Sprint(p.Solved) != "[1]" || getTicket(t, db, 1).Status != ticket.StatusPending {
		t.Fatalf("dry run: %+v", p)
	}
	p, m = run("2026-12-16 10:00", false)
	if fmt.Sprint(p.Solved) != "[1]" || len(m) != 1 || !strings.Contains(m[0], "문의 처리 완료 안내") {
		t.Fatalf("a week later: %+v %v", p, m)
	}
	if tk := getTicket(t, db, 1); tk.Status != ticket.StatusSolved {
		t.Fatalf("status %s", tk.Status)
	}
	var noted int
	for _, msg := range messages(t, db, 1) {
		if msg.Kind == ticket.KindNote && (strings.Contains(msg.Body, "추가 확인 요청 메일을 보냈습니다") || strings.Contains(msg.Body, "해결됨으로 바꾸고")) {
			noted++
		}
	}
	if noted != 2 {
		t.Fatalf("%d notes on the ticket, want the reminder and the closing", noted)
	}
	if tk := getTicket(t, db, 2); tk.Status != ticket.StatusOpen {
		t.Fatalf("the answered ticket: %s", tk.Status)
	}
}
