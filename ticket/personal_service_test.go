package ticket_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ticketd/ticketd/ticket"
)

// A customer's mail with personal data: the stored message records the
// kinds and offsets (never the values), and the agents' notification shows
// the subject and text masked.
func TestPersonalDataRecordedAndMaskedInNotifications(t *testing.T) {
	svc, db := setup(t, withAgents(false))
	m := mail("kim@example.org", "주민번호 900101-1234568 확인", "p1@example.org")
	m.Text = "카드 4111-1111-1111-1111 분실, 연락처 010-9876-5432\n"
	m.Visible = m.Text
	ingest(t, svc, m)
	msgs := messages(t, db, 1)
	in := msgs[0]
	var kinds []string
	for _, f := range in.PersonalData {
		text := in.Body
		if f.Field == "subject" {
			text = in.Subject
		}
		kinds = append(kinds, f.Field+":"+f.Kind+"="+text[f.Start:f.End])
	}
	if got := strings.Join(kinds, " "); got != "subject:rrn=900101-1234568 body:card=4111-1111-1111-1111 body:phone=010-9876-5432" {
		t.Fatalf("findings: %s", got)
	}
	n := notification(t, db, agentKim.Email)
	for _, v := range []string{"1234568", "4111-1111-1111-1111", "9876"} {
		if strings.Contains(n.Subject, v) || strings.Contains(n.Text, v) {
			t.Errorf("the notification holds %q:\n%s\n%s", v, n.Subject, n.Text)
		}
	}
	if !strings.Contains(n.Subject, "900101-1******") || !strings.Contains(n.Text, "****-****-****-1111") {
		t.Errorf("the notification is not masked as the rules say:\n%s\n%s", n.Subject, n.Text)
	}
}

// An agent's reply with a resident registration number is held: nothing
// goes to the customer, the mail is kept as a note with a warning, the
// agent is told why (without the number); sent again with #send-anyway it
// goes out as written.
func TestAgentReplyWithRRNIsHeld(t *testing.T) {
	svc, db := setup(t, withAgents(false), func(c *ticket.Config) { c.HoldRRNReplies = true })
	ingest(t, svc, mail("kim@example.org", "본인 확인", "h1@example.org"))
	n := notification(t, db, agentKim.Email)
	reply := agentMail(agentKim.Email, "Re: [#1] 본인 확인", "hr1@example.test", "확인된 주민번호는 900101-1234568 입니다.\n")
	reply.InReplyTo = n.MessageID
	if res := ingest(t, svc, reply); res.Relayed {
		t.Fatalf("a reply with an RRN was relayed: %+v", res)
	}
	for _, o := range mailTo(t, db, "kim@example.org") {
		if o.Kind == ticket.KindAgent {
			t.Fatalf("queued to the customer: %+v", o)
		}
	}
	var warned bool
	for _, o := range mailTo(t, db, agentKim.Email) {
		if strings.Contains(o.Text, "#send-anyway") {
			warned = true
			if strings.Contains(o.Text, "1234568") {
				t.Errorf("the warning to the agent repeats the number:\n%s", o.Text)
			}
		}
	}
	if !warned {
		t.Fatal("the agent was not told why the reply was held")
	}
	var kept bool
	for _, m := range messages(t, db, 1) {
		kept = kept || (m.Kind == ticket.KindNote && strings.Contains(strings.Join(m.Warnings, " "), "주민등록번호가 있어 보류함"))
	}
	if !kept {
		t.Fatal("the held reply is not kept as a note with its warning")
	}
	again := agentMail(agentKim.Email, "Re: [#1] 본인 확인", "hr2@example.test", "#send-anyway\n확인된 주민번호는 900101-1234568 입니다.\n")
	again.InReplyTo = n.MessageID
	if res := ingest(t, svc, again); !res.Relayed {
		t.Fatalf("#send-anyway was not relayed: %+v", res)
	}
	o := relayedTo(t, db, "kim@example.org")
	if !strings.Contains(o.Text, "900101-1234568") || strings.Contains(o.Text, "#send-anyway") {
		t.Fatalf("the reply sent anyway:\n%s", o.Text)
	}
}

// With WithholdAttachments the notification lists the customer's files
// (their names masked) but does not carry them.
func TestNotificationWithholdsAttachments(t *testing.T) {
	svc, db := setup(t, withAgents(false), func(c *ticket.Config) { c.WithholdAttachments = true })
	m := mail("kim@example.org", "서류 제출", "w1@example.org")
	m.Attachments = []ticket.Attachment{{Filename: "신분증_900101-1234568.jpg", ContentType: "image/jpeg", Size: 2048}}
	ingest(t, svc, m)
	n := notification(t, db, agentKim.Email)
	if n.AttachFrom != 0 || !strings.Contains(n.Text, "첨부 파일은 이 알림에 넣지 않았습니다") ||
		!strings.Contains(n.Text, "신분증_900101-1******.jpg") {
		t.Fatalf("notification: attach from %d\n%s", n.AttachFrom, n.Text)
	}
}

// TestEraseRequester: the right to erasure. A dry run changes nothing;
// then every ticket where the address is requester or participant is
// anonymised, its raw mail purged and its queued mail dropped, the lists
// lose the address, the audit log names it only by its digest, and the
// same mail fetched again starts a fresh ticket. Other people's tickets
// stay as they were.
func TestEraseRequester(t *testing.T) {
	svc, db := setup(t, withAgents(false))
	ingest(t, svc, mail("kim@example.org", "햇살론 상환 900101-1234568", "e1@example.org"))
	ingest(t, svc, mail("kim@example.org", "채무조정 문의", "e2@example.org"))
	withKim := mail("lee@example.org", "가족 대출", "e3@example.org")
	withKim.Cc = []ticket.Address{{Name: "김고객", Email: "kim@example.org"}}
	ingest(t, svc, withKim)
	ingest(t, svc, mail("park@example.org", "앱 로그인", "e4@example.org"))
	dry, err := svc.Erase("kim@example.org", "privacy officer", "request 2026-17", true)
	if err != nil || !dry.DryRun || fmt.Sprint(dry.Tickets) != "[1 2 3]" || dry.Raw == 0 {
		t.Fatalf("dry run: %+v %v", dry, err)
	}
	if tk := getTicket(t, db, 1); tk.Requester.Email != "kim@example.org" || tk.Subject == "" {
		t.Fatalf("the dry run changed ticket #1: %+v", tk)
	}
	e, err := svc.Erase("KIM@example.org", "privacy officer", "request 2026-17", false)
	if err != nil || fmt.Sprint(e.Tickets) != "[1 2 3]" || e.Messages < 3 || e.Raw < 3 || e.Outgoing == 0 {
		t.Fatalf("erase: %+v %v", e, err)
	}
	for _, id := range []uint64{1, 2, 3} {
		tk := getTicket(t, db, id)
		if tk.Subject != "" || tk.Requester.Email != "" || tk.Participants != nil || tk.Erased.IsZero() {
			t.Errorf("ticket #%d after erasure: %+v", id, tk)
		}
		for _, m := range messages(t, db, id) {
			if m.Body != "" || m.Subject != "" || m.From.Email != "" || m.MessageID != "" || len(m.PersonalData) > 0 {
				t.Errorf("message %d of #%d after erasure: %+v", m.ID, id, m)
			}
			if err := db.View(func(tx ticket.ReadTx) error { _, err := tx.Raw(m.ID); return err }); err == nil {
				t.Errorf("message %d of #%d keeps its raw mail", m.ID, id)
			}
		}
	}
	if tk := getTicket(t, db, 4); tk.Requester.Email != "park@example.org" || tk.Subject != "앱 로그인" {
		t.Errorf("someone else's ticket changed: %+v", tk)
	}
	for _, o := range outbox(t, db) {
		if o.TicketID <= 3 {
			t.Errorf("mail still queued for erased #%d: %s", o.TicketID, o.Subject)
		}
	}
	var audit []ticket.AuditRecord
	db.View(func(tx ticket.ReadTx) error {
		return tx.EachAudit(func(r ticket.AuditRecord) error { audit = append(audit, r); return nil })
	})
	if len(audit) != 1 || audit[0].Action != ticket.AuditErase || strings.Contains(audit[0].Detail, "kim@") ||
		!strings.Contains(audit[0].Detail, ticket.AddressDigest("kim@example.org")) || audit[0].Reason != "request 2026-17" {
		t.Fatalf("audit: %+v (the dry run must not write one)", audit)
	}
	// The same mail again: a fresh ticket, not a duplicate of an erased one.
	res := ingest(t, svc, mail("kim@example.org", "햇살론 상환 900101-1234568", "e1@example.org"))
	if res.Duplicate || !res.NewTicket || res.TicketID != 5 {
		t.Fatalf("kim's mail after erasure: %+v", res)
	}
}

// TestRetentionPurge: closed tickets lose their raw mail after rawAfter and
// are anonymised after anonAfter; open ones keep everything; a second run
// does nothing; a dry run changes nothing; a run that did something is in
// the audit log.
func TestRetentionPurge(t *testing.T) {
	now := time.Date(2026, 1, 5, 1, 0, 0, 0, time.UTC)
	svc, db := setup(t, withAgents(false), func(c *ticket.Config) { c.Now = func() time.Time { return now } })
	for i, subject := range []string{"오래된 문의", "작년 문의", "열린 문의"} {
		ingest(t, svc, mail("kim@example.org", subject, fmt.Sprintf("r%d@example.org", i)))
	}
	if err := svc.SetStatus(1, agentKim.Email, ticket.StatusClosed); err != nil {
		t.Fatal(err)
	}
	now = now.AddDate(0, 6, 0)
	if err := svc.SetStatus(2, agentKim.Email, ticket.StatusClosed); err != nil {
		t.Fatal(err)
	}
	now = now.AddDate(3, 0, 0) // #1 closed 3.5 years ago, #2 3 years ago
	year, three := 365*24*time.Hour, (3*365+30)*24*time.Hour
	dry, err := svc.Purge(year, three, "test", true)
	if err != nil || fmt.Sprint(dry.Anonymised) != "[1]" || fmt.Sprint(dry.RawTickets) != "[2]" {
		t.Fatalf("dry run: %+v %v", dry, err)
	}
	if tk := getTicket(t, db, 1); !tk.Erased.IsZero() {
		t.Fatal("the dry run anonymised #1")
	}
	p, err := svc.Purge(year, three, "test", false)
	if err != nil || fmt.Sprint(p.Anonymised) != "[1]" || fmt.Sprint(p.RawTickets) != "[2]" || p.Raw < 2 {
		t.Fatalf("purge: %+v %v", p, err)
	}
	if tk := getTicket(t, db, 1); tk.Erased.IsZero() || tk.Subject != "" {
		t.Errorf("#1 not anonymised: %+v", tk)
	}
	if tk := getTicket(t, db, 2); tk.RawPurged.IsZero() || tk.Subject != "작년 문의" {
		t.Errorf("#2: %+v", tk)
	}
	for id, wantRaw := range map[uint64]bool{1: false, 2: false, 3: true} {
		m := messages(t, db, id)[0]
		err := db.View(func(tx ticket.ReadTx) error { _, err := tx.Raw(m.ID); return err })
		if (err == nil) != wantRaw {
			t.Errorf("#%d: raw kept %v, want %v", id, err == nil, wantRaw)
		}
	}
	if again, err := svc.Purge(year, three, "test", false); err != nil || len(again.Anonymised)+len(again.RawTickets) != 0 {
		t.Fatalf("a second run: %+v %v", again, err)
	}
	var audit []ticket.AuditRecord
	db.View(func(tx ticket.ReadTx) error {
		return tx.EachAudit(func(r ticket.AuditRecord) error { audit = append(audit, r); return nil })
	})
	if len(audit) != 1 || audit[0].Action != ticket.AuditPurge {
		t.Fatalf("audit: %+v", audit)
	}
}
