package ticket_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ticketd/ticketd/mailbox/quote"
	"github.com/ticketd/ticketd/store"
	"github.com/ticketd/ticketd/ticket"
)

func withAgents(plus bool) func(*ticket.Config) {
	return func(c *ticket.Config) {
		c.Agents = []ticket.Agent{agentKim, agentLee}
		c.NoNotify = false
		c.PlusAddressing = plus
		c.CcParticipants = true
	}
}

func getTicket(t *testing.T, db *store.DB, id uint64) ticket.Ticket {
	t.Helper()
	var tk ticket.Ticket
	if err := db.View(func(tx ticket.ReadTx) error { var err error; tk, err = tx.Ticket(id); return err }); err != nil {
		t.Fatal(err)
	}
	return tk
}

// mailTo returns the outbox mails addressed to email.
func mailTo(t *testing.T, db *store.DB, email string) []ticket.Outgoing {
	var out []ticket.Outgoing
	for _, o := range outbox(t, db) {
		for _, a := range append(append([]ticket.Address(nil), o.To...), o.Cc...) {
			if a.Email == email {
				out = append(out, o)
			}
		}
	}
	return out
}

func TestTokens(t *testing.T) {
	other, _ := ticket.NewSigner([]byte("another secret of 32 bytes......"))
	addr := testSigner.ReplyAddress("support@example.test", 42)
	if id, ok := testSigner.TicketFromAddress("support@example.test", strings.ToUpper(addr)); !ok || id != 42 {
		t.Errorf("upper-cased token %s: %d %v", addr, id, ok)
	}
	if _, ok := other.TicketFromAddress("support@example.test", addr); ok {
		t.Error("token verified under another secret")
	}
	forged := strings.Replace(addr, "+t42-", "+t43-", 1)
	if _, ok := testSigner.TicketFromAddress("support@example.test", forged); ok {
		t.Error("token with a changed ticket number verified")
	}
	if _, ok := testSigner.TicketFromAddress("other@example.test", addr); ok {
		t.Error("token verified for another mailbox")
	}
	ag := testSigner.AgentReplyAddress("support@example.test", 42, "agent@example.test")
	if _, ok := testSigner.TicketFromAgentAddress("support@example.test", ag, "lee.agent@example.test"); ok {
		t.Error("agent token verified for another agent")
	}
	if _, ok := testSigner.TicketFromAgentAddress("support@example.test", addr, "agent@example.test"); ok {
		t.Error("customer token accepted as an agent token")
	}
	mid := testSigner.MessageID(7, "example.test")
	if id, ok := testSigner.TicketFromMessageID("<" + mid + ">"); !ok || id != 7 {
		t.Errorf("message-id %s: %d %v", mid, id, ok)
	}
	if _, ok := testSigner.TicketFromMessageID(strings.Replace(mid, "t7.", "t8.", 1)); ok {
		t.Error("message-id with a changed ticket verified")
	}
}

func TestThreadingPaths(t *testing.T) {
	svc, db := setup(t, withAgents(true))
	first := mail("kim@example.org", "대출 문의", "p1@example.org")
	first.Cc = []ticket.Address{{Name: "가족", Email: "family@example.org"}, support}
	ingest(t, svc, first)
	if tk := getTicket(t, db, 1); len(tk.Participants) != 1 || tk.Participants[0].Email != "family@example.org" {
		t.Fatalf("participants %+v, want the Cc'd family member only", tk.Participants)
	}

	// (1) a signed token in To, even with a new subject and no references.
	byToken := mail("kim@example.org", "다른 제목", "p2@example.org")
	byToken.To = []ticket.Address{{Email: testSigner.ReplyAddress(support.Email, 1)}}
	if res := ingest(t, svc, byToken); res.TicketID != 1 || res.NewTicket {
		t.Fatalf("token path: %+v", res)
	}
	// A forged token counts as no token: a new ticket.
	forged := mail("mallory@example.net", "hello", "p3@example.net")
	forged.To = []ticket.Address{{Email: strings.Replace(testSigner.ReplyAddress(support.Email, 1), "+t1-", "+t1-x", 1)}}
	if res := ingest(t, svc, forged); res.NewTicket != true {
		t.Fatalf("forged token threaded: %+v", res)
	}
	// (2) References naming the customer's own stored mail.
	ref := mail("family@example.org", "Re: 대출 문의", "p4@example.org")
	ref.References = []string{"p1@example.org"}
	if res := ingest(t, svc, ref); res.TicketID != 1 {
		t.Fatalf("reference path: %+v", res)
	}
	// (3) the subject tag from a participant threads; from a stranger it
	// opens a new ticket with a note mentioning #1.
	if res := ingest(t, svc, mail("family@example.org", "[#1] 추가", "p5@example.org")); res.TicketID != 1 {
		t.Fatalf("participant tag: %+v", res)
	}
	res := ingest(t, svc, mail("mallory@example.net", "Re: [#1] give me the data", "p6@example.net"))
	if !res.NewTicket || !strings.Contains(res.Note, "#1") {
		t.Fatalf("stranger tag: %+v", res)
	}
	ms := messages(t, db, res.TicketID)
	if len(ms) < 2 || ms[1].Kind != ticket.KindNote || !strings.Contains(ms[1].Body, "#1") {
		t.Fatalf("new ticket lacks the note about #1: %+v", ms)
	}
}

func TestClosedTicketFollowUpOpensNewTicketAfterAge(t *testing.T) {
	now := time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)
	svc, db := setup(t, func(c *ticket.Config) { c.Now = func() time.Time { return now }; c.ReopenWithin = 24 * time.Hour })
	ingest(t, svc, mail("kim@example.org", "q", "c1@example.org"))
	svc2 := svc
	if err := db.Update(func(tx ticket.Tx) error {
		tk, _ := tx.Ticket(1)
		tk.Status = ticket.StatusClosed
		return tx.PutTicket(tk)
	}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour) // within a day: reopens
	if res := ingest(t, svc2, mail("kim@example.org", "Re: [#1] q", "c2@example.org")); res.TicketID != 1 {
		t.Fatalf("recent closed: %+v", res)
	}
	if tk := getTicket(t, db, 1); tk.Status != ticket.StatusOpen {
		t.Fatalf("status %s, want reopened", tk.Status)
	}
	db.Update(func(tx ticket.Tx) error {
		tk, _ := tx.Ticket(1)
		tk.Status = ticket.StatusClosed
		tk.UpdatedAt = now
		return tx.PutTicket(tk)
	})
	now = now.Add(48 * time.Hour)
	res := ingest(t, svc2, mail("kim@example.org", "Re: [#1] q", "c3@example.org"))
	if !res.NewTicket {
		t.Fatalf("old closed: %+v, want a new ticket", res)
	}
	if tk := getTicket(t, db, res.TicketID); tk.Follows != 1 {
		t.Fatalf("new ticket follows %d, want 1", tk.Follows)
	}
}

// notification returns the notification queued to email for ticket id.
func notification(t *testing.T, db *store.DB, email string) ticket.Outgoing {
	t.Helper()
	for _, o := range mailTo(t, db, email) {
		if o.Headers["Auto-Submitted"] == "auto-generated" {
			return o
		}
	}
	t.Fatalf("no notification to %s in %+v", email, outbox(t, db))
	return ticket.Outgoing{}
}

// agentMail is an agent's mail as the mail reader gives it: Visible is
// the body without its quoted history.
func agentMail(from, subject, msgid, body string) *ticket.Mail {
	m := mail(from, subject, msgid)
	m.Text, m.Visible = body, quote.Visible(body, "", false)
	m.From.Name = "김상담"
	return m
}

func TestAgentReplyByEmail(t *testing.T) {
	svc, db := setup(t, withAgents(true))
	first := mail("kim@example.org", "카드 분실", "a1@example.org")
	first.Cc = []ticket.Address{{Email: "family@example.org"}}
	first.Attachments = []ticket.Attachment{{Filename: "card.png", ContentType: "image/png", Size: 10}}
	res := ingest(t, svc, first)
	if res.Notified != 2 {
		t.Fatalf("notified %d agents, want 2", res.Notified)
	}
	n := notification(t, db, agentKim.Email)
	if n.Subject != "[#1] 카드 분실" || n.AttachFrom == 0 || !strings.Contains(n.Text, "본문입니다") {
		t.Fatalf("notification %+v", n)
	}
	if _, ok := testSigner.TicketFromAgentAddress(support.Email, n.ReplyTo[0].Email, agentKim.Email); !ok {
		t.Fatalf("notification Reply-To %v is not bound to the agent", n.ReplyTo)
	}

	// The agent replies from their mail client, quoting the notification.
	reply := agentMail(agentKim.Email, "Re: [#1] 카드 분실", "r1@example.test",
		"재발급 신청을 도와드리겠습니다.\n\n2026년 11월 24일 (화) 오후 7:00, 고객센터 <support@example.test>님이 작성:\n> 새 문의 #1\n")
	reply.To = []ticket.Address{n.ReplyTo[0]}
	reply.InReplyTo = n.MessageID
	res = ingest(t, svc, reply)
	if !res.Relayed || res.Kind != ticket.KindAgent {
		t.Fatalf("agent reply: %+v", res)
	}
	var relayed ticket.Outgoing
	for _, o := range mailTo(t, db, "kim@example.org") {
		if o.Kind == ticket.KindAgent {
			relayed = o
		}
	}
	if relayed.ID == 0 {
		t.Fatal("agent's reply was not queued to the customer")
	}
	if relayed.Subject != "[#1] Re: 카드 분실" || relayed.InReplyTo != "a1@example.org" ||
		relayed.From.Email != support.Email || relayed.From.Name != "김상담 (고객센터)" ||
		len(relayed.Cc) != 1 || relayed.Cc[0].Email != "family@example.org" ||
		!strings.Contains(relayed.Text, "재발급 신청을 도와드리겠습니다.") || strings.Contains(relayed.Text, "새 문의 #1") ||
		relayed.Headers["Auto-Submitted"] != "" {
		t.Fatalf("relayed reply %+v", relayed)
	}
	if tk := getTicket(t, db, 1); tk.Status != ticket.StatusOpen {
		t.Fatalf("status after an answer: %s", tk.Status)
	}
	// The same agent mail fetched twice is relayed once.
	if res := ingest(t, svc, reply); !res.Duplicate {
		t.Fatalf("refetched agent reply: %+v", res)
	}

	// #note reaches nobody; commands change the ticket.
	before := len(outbox(t, db))
	note := agentMail(agentKim.Email, "Re: [#1] 카드 분실", "r2@example.test", "#note\n#priority high\n#assign lee.agent@example.test\n본인 확인 완료")
	note.InReplyTo = n.MessageID
	if res := ingest(t, svc, note); res.Kind != ticket.KindNote || res.Relayed {
		t.Fatalf("#note: %+v", res)
	}
	// Only the new assignee is mailed (the note reaches nobody).
	if after := outbox(t, db); len(after) != before+1 || after[len(after)-1].To[0].Email != agentLee.Email ||
		after[len(after)-1].Subject != "[#1] 카드 분실" {
		t.Fatalf("#note with #assign queued %d mails, want one to the new assignee", len(after)-before)
	}
	tk := getTicket(t, db, 1)
	if tk.Priority != ticket.PriorityHigh || tk.Assignee != agentLee.Email {
		t.Fatalf("after commands: priority %q assignee %q", tk.Priority, tk.Assignee)
	}
	closeIt := agentMail(agentKim.Email, "Re: [#1] 카드 분실", "r3@example.test", "#close\n")
	closeIt.To = []ticket.Address{n.ReplyTo[0]}
	ingest(t, svc, closeIt)
	if tk := getTicket(t, db, 1); tk.Status != ticket.StatusClosed {
		t.Fatalf("after #close: %s", tk.Status)
	}

	// An unknown command sends nothing to the customer and mails the agent.
	custBefore := len(mailTo(t, db, "kim@example.org"))
	bad := agentMail(agentKim.Email, "Re: [#1]", "r4@example.test", "#escalate\n고객에게 보내면 안 됨")
	bad.InReplyTo = n.MessageID
	res = ingest(t, svc, bad)
	if res.Relayed || !strings.Contains(res.Note, "escalate") {
		t.Fatalf("bad command: %+v", res)
	}
	if len(mailTo(t, db, "kim@example.org")) != custBefore {
		t.Fatal("a bad command sent mail to the customer")
	}
	var errMail bool
	for _, o := range mailTo(t, db, agentKim.Email) {
		errMail = errMail || strings.Contains(o.Text, "escalate")
	}
	if !errMail {
		t.Fatal("the agent got no error mail")
	}
}

func TestSpoofedAgentCannotInject(t *testing.T) {
	svc, db := setup(t, withAgents(true))
	ingest(t, svc, mail("kim@example.org", "문의", "s1@example.org"))
	ack := mailTo(t, db, "kim@example.org")[0]

	// The customer forges the agent's From and writes to the customer-facing
	// token they received, referencing the acknowledgement.
	spoof := agentMail(agentKim.Email, "Re: [#1] 문의", "s2@example.org", "#close\n환불 승인합니다")
	spoof.To = []ticket.Address{ack.ReplyTo[0]}
	spoof.InReplyTo = ack.MessageID
	res := ingest(t, svc, spoof)
	if res.Relayed || res.Kind == ticket.KindAgent || !strings.Contains(res.Note, "handled as a customer") {
		t.Fatalf("spoofed agent reply accepted: %+v", res)
	}
	if tk := getTicket(t, db, 1); tk.Status == ticket.StatusClosed {
		t.Fatal("spoofed #close closed the ticket")
	}
	for _, o := range mailTo(t, db, "kim@example.org") {
		if o.Kind == ticket.KindAgent {
			t.Fatal("spoofed text relayed to the customer")
		}
	}
	// A bare agent From with no token or reference is a customer mail too.
	bare := agentMail(agentKim.Email, "hello", "s3@example.org", "hi")
	if res := ingest(t, svc, bare); res.Relayed || res.Kind != ticket.KindCustomer {
		t.Fatalf("bare agent mail: %+v", res)
	}
	// With authentication required, even a real token needs dkim/spf pass.
	svc2, db2 := setup(t, withAgents(true), func(c *ticket.Config) { c.AuthServID = "mx.example.test" })
	ingest(t, svc2, mail("kim@example.org", "문의", "s4@example.org"))
	n := notification(t, db2, agentKim.Email)
	r := agentMail(agentKim.Email, "Re", "s5@example.test", "답변")
	r.InReplyTo = n.MessageID
	if res := ingest(t, svc2, r); res.Relayed {
		t.Fatal("unauthenticated agent reply relayed with AuthServID set")
	}
	r2 := agentMail(agentKim.Email, "Re", "s6@example.test", "답변")
	r2.InReplyTo = n.MessageID
	r2.Headers["Authentication-Results"] = "mx.example.test; dkim=pass header.d=example.test; spf=fail"
	if res := ingest(t, svc2, r2); !res.Relayed {
		t.Fatalf("authenticated agent reply: %+v", res)
	}
}

func TestCLIActions(t *testing.T) {
	svc, db := setup(t, withAgents(false))
	ingest(t, svc, mail("kim@example.org", "문의", "x1@example.org"))
	if err := svc.Reply(1, "kim@example.org", "I am not an agent", nil); err == nil {
		t.Fatal("a non-agent replied")
	}
	att := []ticket.OutAttachment{{Filename: "안내.pdf", ContentType: "application/pdf", Data: []byte("%PDF")}}
	if err := svc.Reply(1, agentKim.Email, "안내문을 첨부합니다.", att); err != nil {
		t.Fatal(err)
	}
	var relayed ticket.Outgoing
	for _, o := range mailTo(t, db, "kim@example.org") {
		if o.Kind == ticket.KindAgent {
			relayed = o
		}
	}
	if len(relayed.Attachments) != 1 || relayed.ReplyTo != nil {
		t.Fatalf("CLI reply %+v (without plus-addressing there is no token Reply-To)", relayed)
	}
	if err := svc.Note(1, "", "operator note"); err != nil {
		t.Fatal(err)
	}
	if err := svc.Assign(1, agentKim.Email, agentLee.Email); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetStatus(1, agentKim.Email, ticket.StatusClosed); err != nil {
		t.Fatal(err)
	}
	tk := getTicket(t, db, 1)
	if tk.Status != ticket.StatusClosed || tk.Assignee != agentLee.Email {
		t.Fatalf("after CLI actions: %+v", tk)
	}
	if err := svc.SetStatus(99, "", ticket.StatusClosed); err == nil {
		t.Fatal("closing a missing ticket succeeded")
	}
	var notes int
	for _, m := range messages(t, db, 1) {
		if m.Kind == ticket.KindNote {
			notes++
		}
	}
	if notes != 3 { // the note, the assignment, the status
		t.Fatalf("%d notes, want 3", notes)
	}
}

func TestParseCommands(t *testing.T) {
	cmds, rest, err := ticket.ParseCommands("\n#solve\n#priority HIGH\n\n감사합니다.", nil)
	if err != nil || len(cmds) != 2 || cmds[1].Arg != "high" || rest != "감사합니다." {
		t.Fatalf("%v %q %v", cmds, rest, err)
	}
	if cmds, rest, _ := ticket.ParseCommands("#1024 건 관련 답변입니다", nil); len(cmds) != 0 || rest != "#1024 건 관련 답변입니다" {
		t.Fatalf("'#1024' read as a command: %v %q", cmds, rest)
	}
	if cmds, rest, _ := ticket.ParseCommands("#note 고객 확인 필요\n둘째 줄", nil); len(cmds) != 1 || rest != "고객 확인 필요\n둘째 줄" {
		t.Fatalf("#note with text: %v %q", cmds, rest)
	}
	for _, bad := range []string{"#close now", "#assign", "#assign not-an-address", "#priority urgent", "#frobnicate"} {
		if _, _, err := ticket.ParseCommands(bad, nil); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParticipantsAreBounded(t *testing.T) {
	svc, db := setup(t, withAgents(false))
	m := mail("kim@example.org", "모두에게", "many@example.org")
	m.To = []ticket.Address{support, {Email: "colleague@example.test"}, {Email: "help+x@example.test"}}
	for i := 0; i < 4001; i++ {
		m.Cc = append(m.Cc, ticket.Address{Email: fmt.Sprintf("c%d@example.net", i)})
	}
	res := ingest(t, svc, m)
	tk := getTicket(t, db, res.TicketID)
	if len(tk.Participants) != 10 {
		t.Fatalf("%d participants, want 10 (limits.max_participants)", len(tk.Participants))
	}
	for _, p := range tk.Participants {
		if strings.HasSuffix(p.Email, "@example.test") {
			t.Fatalf("an address of our own domain became a participant: %s", p.Email)
		}
	}
	var note string
	for _, msg := range messages(t, db, res.TicketID) {
		if msg.Kind == ticket.KindNote && strings.Contains(msg.Body, "참여자로 추가하지 않았으며") {
			note = msg.Body
		}
	}
	if !strings.Contains(note, "주소 3993개는") || !strings.Contains(note, "colleague@example.test") || !strings.Contains(note, "외 3973개") {
		t.Fatalf("note on the addresses left out: %q", note)
	}
	before := len(outbox(t, db))
	if err := svc.Reply(res.TicketID, agentKim.Email, "답변입니다.", nil); err != nil {
		t.Fatal(err)
	}
	ob := outbox(t, db)
	reply := ob[len(ob)-1]
	if len(ob) != before+1 || len(reply.To)+len(reply.Cc) != 11 {
		t.Fatalf("the reply goes to %d To and %d Cc, want 1 and 10", len(reply.To), len(reply.Cc))
	}
}

// TestNotificationsShowTheCustomer: an agent's inbox shows who wrote (the
// customer's name with the center's on the support address), and every
// notification of a ticket has the ticket's one subject.
func TestNotificationsShowTheCustomer(t *testing.T) {
	svc, db := setup(t, withAgents(false))
	ingest(t, svc, mail("kim@example.org", "카드 분실", "q1@example.org"))
	follow := mail("kim@example.org", "Re: [#1] Re: 카드 분실", "q2@example.org")
	follow.InReplyTo = outbox(t, db)[0].MessageID
	if res := ingest(t, svc, follow); res.TicketID != 1 || res.NewTicket {
		t.Fatalf("follow-up %+v", res)
	}
	notes := mailTo(t, db, agentKim.Email)
	if len(notes) != 2 {
		t.Fatalf("%d notifications, want 2", len(notes))
	}
	for _, n := range notes {
		if n.Subject != "[#1] 카드 분실" || n.From.Name != "김고객 (고객센터)" || n.From.Email != support.Email {
			t.Errorf("notification subject %q from %+v", n.Subject, n.From)
		}
	}
	// Without a name, the center's.
	anon := mail("lee@example.org", "문의", "q3@example.org")
	anon.From.Name = ""
	ingest(t, svc, anon)
	notes = mailTo(t, db, agentKim.Email)
	if last := notes[len(notes)-1]; last.From.Name != support.Name {
		t.Errorf("nameless customer: from %+v", last.From)
	}
}

// TestHistoryInTheCentersLanguage: the notes that record agents' changes
// are in the center's language, and assigning mails the new assignee.
func TestHistoryInTheCentersLanguage(t *testing.T) {
	wakes := 0 // the outbox is woken for mail queued
	svc, db := setup(t, withAgents(true), func(c *ticket.Config) { c.Language = "ko"; c.OnQueue = func() { wakes++ } })
	ingest(t, svc, mail("kim@example.org", "카드 분실", "q1@example.org"))
	before := wakes
	if err := svc.Assign(1, agentKim.Email, agentLee.Email); err != nil {
		t.Fatal(err)
	}
	if wakes != before+1 {
		t.Errorf("assigning woke the outbox %d times, want once", wakes-before)
	}
	if err := svc.SetStatus(1, agentKim.Email, ticket.StatusPending); err != nil {
		t.Fatal(err)
	}
	if wakes != before+1 {
		t.Error("a status change woke the outbox")
	}
	var notes []string
	for _, m := range messages(t, db, 1) {
		if m.Kind == ticket.KindNote {
			notes = append(notes, m.Body)
		}
	}
	want := []string{"상담원 배정: 이상담 <lee.agent@example.test> (처리: 김상담)", "상태: 고객 답변 대기 (처리: 김상담)"}
	if strings.Join(notes, "|") != strings.Join(want, "|") {
		t.Errorf("notes %q, want %q", notes, want)
	}
	mails := mailTo(t, db, agentLee.Email)
	last := mails[len(mails)-1]
	if !strings.Contains(last.Text, "문의(접수번호 #1)가 상담원님께 배정되었습니다 (배정: 김상담).") || last.Subject != "[#1] 카드 분실" ||
		len(last.ReplyTo) != 1 || !strings.HasPrefix(last.ReplyTo[0].Email, "support+t1a-") {
		t.Errorf("assignment mail: subject %q reply-to %v\n%s", last.Subject, last.ReplyTo, last.Text)
	}
	// Taking a ticket oneself mails nobody.
	before = len(outbox(t, db))
	if err := svc.Assign(1, agentKim.Email, agentKim.Email); err != nil {
		t.Fatal(err)
	}
	if len(outbox(t, db)) != before {
		t.Error("assigning oneself mailed someone")
	}
}
