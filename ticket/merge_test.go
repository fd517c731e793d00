package ticket_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ticketd/ticketd/ticket"
)

// Merging #2 into #1 moves its messages and keeps every way mail threads
// into #2 (its token, its stored Message-IDs, ours, [#2]) pointing at #1;
// #2's customer is told once. Splitting moves a message and what follows,
// and a reply to a moved message threads into the new ticket.
func TestMergeKeepsThreading(t *testing.T) {
	svc, db := setup(t, withAgents(true))
	ingest(t, svc, mail("kim@example.org", "대출 상환일 문의", "m1@example.org"))
	ingest(t, svc, mail("park@example.org", "상환일 변경 요청", "m2@example.org"))
	ack2 := mailTo(t, db, "park@example.org")[0]
	before := len(messages(t, db, 2))

	if _, err := svc.Merge(2, 2, agentKim.Email); !errors.Is(err, ticket.ErrMerge) {
		t.Fatalf("merge into itself: %v", err)
	}
	if _, err := svc.Merge(2, 1, "stranger@example.net"); !errors.Is(err, ticket.ErrNotAgent) {
		t.Fatalf("merge by a stranger: %v", err)
	}
	into, err := svc.Merge(2, 1, agentKim.Email)
	if err != nil || into != 1 {
		t.Fatalf("merge: %d %v", into, err)
	}
	t1, t2 := getTicket(t, db, 1), getTicket(t, db, 2)
	if t2.Status != ticket.StatusClosed || t2.MergedInto != 1 || len(t1.Merged) != 1 || t1.Merged[0] != 2 || !t1.IsParticipant("park@example.org") {
		t.Fatalf("after the merge: #1 %+v, #2 %+v", t1, t2)
	}
	m1, m2 := messages(t, db, 1), messages(t, db, 2)
	if len(m2) != 1 || m2[0].Kind != ticket.KindNote || !strings.Contains(m2[0].Body, "#1") || t2.Messages != 1 {
		t.Fatalf("#2 keeps %d messages (%d counted), want the pointer note: %+v", len(m2), t2.Messages, m2)
	}
	if t1.Messages != len(m1) || !slices.ContainsFunc(m1, func(m ticket.Message) bool { return m.MessageID == "m2@example.org" && m.TicketID == 1 }) ||
		len(m1) < before+2 {
		t.Fatalf("#1 has %d messages (%d counted), want #2's too: %+v", len(m1), t1.Messages, m1)
	}
	told := mailTo(t, db, "park@example.org")
	if len(told) != 2 || !strings.Contains(told[1].Subject, "[#1]") || !strings.Contains(told[1].Text, "#2") || told[1].InReplyTo != "m2@example.org" {
		t.Fatalf("#2's customer: %+v", told)
	}
	if len(mailTo(t, db, "kim@example.org")) != 1 {
		t.Fatal("#1's customer was mailed about the merge")
	}

	// Every path into #2 now leads to #1.
	byToken := mail("park@example.org", "다른 제목", "m3@example.org")
	byToken.To = []ticket.Address{{Email: testSigner.ReplyAddress(support.Email, 2)}}
	byOurs := mail("park@example.org", "Re: 접수 안내", "m4@example.org")
	byOurs.InReplyTo = ack2.MessageID
	byTheirs := mail("park@example.org", "Re: 상환일 변경 요청", "m5@example.org")
	byTheirs.References = []string{"m2@example.org"}
	byTag := mail("park@example.org", "[#2] 추가 서류", "m6@example.org")
	for name, m := range map[string]*ticket.Mail{"token": byToken, "our Message-ID": byOurs, "their Message-ID": byTheirs, "[#2]": byTag} {
		if res := ingest(t, svc, m); res.TicketID != 1 || res.NewTicket {
			t.Errorf("by %s: %+v, want #1", name, res)
		}
	}
	// A stranger naming [#2] does not get in.
	if res := ingest(t, svc, mail("mallory@example.net", "[#2] data please", "m7@example.net")); !res.NewTicket {
		t.Errorf("a stranger with [#2]: %+v", res)
	}
	// The agent answers #2's notification: the answer lands on #1.
	n := notification(t, db, agentLee.Email)
	reply := agentMail(agentLee.Email, "Re: "+n.Subject, "m8@example.test", "#note\n확인했습니다.")
	reply.To, reply.InReplyTo = []ticket.Address{n.ReplyTo[0]}, n.MessageID
	if res := ingest(t, svc, reply); res.TicketID != 1 {
		t.Errorf("an agent's answer to a notification: %+v", res)
	}
	// A merged ticket is not merged again; merging into it means into #1.
	if _, err := svc.Merge(2, 1, agentKim.Email); !errors.Is(err, ticket.ErrMerge) {
		t.Errorf("merge #2 again: %v", err)
	}
	ingest(t, svc, mail("choi@example.org", "앱 로그인", "m9@example.org"))
	if into, err := svc.Merge(4, 2, agentKim.Email); err != nil || into != 1 {
		t.Errorf("merge into the merged #2: %d %v, want #1", into, err)
	}
}

func TestMergeByAgentMail(t *testing.T) {
	svc, db := setup(t, withAgents(true))
	ingest(t, svc, mail("kim@example.org", "대출 문의", "a1@example.org"))
	ingest(t, svc, mail("kim@example.org", "대출 문의 (다시)", "a2@example.org"))
	n := notification(t, db, agentKim.Email) // the first
	for _, o := range mailTo(t, db, agentKim.Email) {
		if strings.HasPrefix(o.Subject, "[#2]") {
			n = o
		}
	}
	cmd := func(id, body string) ticket.Result {
		m := agentMail(agentKim.Email, "Re: "+n.Subject, id, body)
		m.To, m.InReplyTo = []ticket.Address{n.ReplyTo[0]}, n.MessageID
		return ingest(t, svc, m)
	}
	for body, problem := range map[string]string{"#merge": "needs_ticket", "#merge 99": "no_ticket", "#merge 2": "merge"} {
		res := cmd("bad-"+problem+"@example.test", body)
		if res.Relayed || !strings.Contains(res.Note, "#merge") {
			t.Errorf("%q: %+v", body, res)
		}
	}
	if t2 := getTicket(t, db, 2); t2.MergedInto != 0 {
		t.Fatalf("a bad #merge merged: %+v", t2)
	}
	errs := 0
	for _, o := range mailTo(t, db, agentKim.Email) {
		if strings.Contains(o.Text, "#merge 뒤에 합칠 문의의 번호") || strings.Contains(o.Text, "#99: 그런 문의가 없습니다") || strings.Contains(o.Text, "#2에 합칠 수 없습니다") {
			errs++
		}
	}
	if errs != 3 {
		t.Errorf("%d of 3 command errors were mailed back in Korean", errs)
	}
	acks := len(mailTo(t, db, "kim@example.org"))
	if res := cmd("good@example.test", "#merge #1"); res.Relayed {
		t.Fatalf("#merge relayed: %+v", res)
	}
	if t2 := getTicket(t, db, 2); t2.MergedInto != 1 || t2.Status != ticket.StatusClosed {
		t.Fatalf("#merge #1: %+v", t2)
	}
	// The same customer is not told: they see their own tickets joined.
	if got := mailTo(t, db, "kim@example.org"); len(got) != acks {
		t.Errorf("the customer got %d mails, want the %d before the merge", len(got), acks)
	}
}

func TestSplitKeepsThreading(t *testing.T) {
	svc, db := setup(t, withAgents(true))
	ingest(t, svc, mail("kim@example.org", "대출 문의", "s1@example.org"))
	second := mail("kim@example.org", "Re: [#1] 대출 문의", "s2@example.org")
	second.Text, second.Visible = "그리고 앱 로그인도 안 됩니다.", "그리고 앱 로그인도 안 됩니다."
	ingest(t, svc, second)
	third := mail("family@example.org", "Re: [#1] 대출 문의", "s3@example.org")
	third.InReplyTo = "s2@example.org"
	ingest(t, svc, third)
	var moved ticket.Message
	for _, m := range messages(t, db, 1) {
		if m.MessageID == "s2@example.org" {
			moved = m
		}
	}
	first := messages(t, db, 1)[0]
	if _, err := svc.Split(1, first.ID, true, agentKim.Email); !errors.Is(err, ticket.ErrMerge) {
		t.Fatalf("splitting every message off: %v", err)
	}
	if _, err := svc.Split(1, 9999, false, agentKim.Email); !errors.Is(err, ticket.ErrMerge) {
		t.Fatalf("splitting a message of another ticket: %v", err)
	}
	nid, err := svc.Split(1, moved.ID, false, agentKim.Email)
	if err != nil {
		t.Fatal(err)
	}
	nt, t1 := getTicket(t, db, nid), getTicket(t, db, 1)
	ms := messages(t, db, nid)
	if nt.SplitFrom != 1 || nt.Requester.Email != "kim@example.org" || nt.Status != ticket.StatusOpen || len(ms) != 2 ||
		ms[0].MessageID != "s2@example.org" || nt.Messages != len(ms) || nt.Subject != "Re: [#1] 대출 문의" {
		t.Fatalf("the split ticket %+v with %+v", nt, ms)
	}
	for _, m := range messages(t, db, 1) {
		if m.MessageID == "s2@example.org" {
			t.Fatal("the moved message is still on #1")
		}
	}
	if t1.Messages != len(messages(t, db, 1)) {
		t.Errorf("#1 counts %d messages, has %d", t1.Messages, len(messages(t, db, 1)))
	}
	// A reply to the moved message goes with it; [#1] stays with #1.
	re := mail("kim@example.org", "Re: 로그인", "s4@example.org")
	re.InReplyTo = "s2@example.org"
	if res := ingest(t, svc, re); res.TicketID != nid {
		t.Errorf("a reply to the moved message: %+v, want #%d", res, nid)
	}
	if res := ingest(t, svc, mail("kim@example.org", "[#1] 대출은요?", "s5@example.org")); res.TicketID != 1 {
		t.Errorf("[#1]: %+v", res)
	}
	// Split with what follows.
	rest := messages(t, db, 1)
	nid2, err := svc.Split(1, rest[1].ID, true, "") // the operator
	if err != nil {
		t.Fatal(err)
	}
	if ms := messages(t, db, nid2); len(ms) != len(rest)-1+1 || ms[0].ID != rest[1].ID { // and the split's note
		t.Errorf("split with what follows: %d messages, want %d", len(ms), len(rest))
	}
}
