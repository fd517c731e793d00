package ticket_test

import (
	"strings"
	"testing"

	"github.com/ticketd/ticketd/ticket"
)

var (
	loanTeam = ticket.Group{Name: "대출팀", Address: "loan-team@example.test", Members: []string{agentKim.Email}}
	debtTeam = ticket.Group{Name: "채무조정팀", Members: []string{agentLee.Email}}
)

// withRouting configures two desks: the loan desk by its alias and by
// words, the debt desk by words; and the loan alias as an identity.
func withRouting(c *ticket.Config) {
	withAgents(true)(c)
	c.Groups = []ticket.Group{loanTeam, debtTeam}
	c.Routes = []ticket.Route{
		{Name: "loan-alias", Category: "대출", Group: "대출팀", To: []string{"loan@example.test"}},
		{Name: "card-plus", Category: "카드", To: []string{"*+card@example.test"}},
		{Name: "debt-words", Category: "채무조정", Group: "채무조정팀", Subject: []string{"채무조정", "워크아웃"}, Body: []string{"채무조정", "개인워크아웃"}},
		{Name: "loan-words", Category: "대출", Group: "대출팀", Subject: []string{"햇살론", "대출"}, Body: []string{"햇살론"}},
		{Name: "app", Category: "앱", Body: []string{"app", "OTP"}},
	}
	c.DefaultCategory = "기타"
	c.Identities = []ticket.Identity{{Address: "loan@example.test", Name: "서민금융 대출상담"}}
}

func TestRoutingRules(t *testing.T) {
	for _, tc := range []struct {
		name            string
		edit            func(m *ticket.Mail)
		category, group string
		route           string
	}{
		{"alias in To", func(m *ticket.Mail) { m.To = []ticket.Address{{Email: "LOAN@example.test"}} }, "대출", "대출팀", "loan-alias"},
		{"alias only in X-Original-To (Bcc)", func(m *ticket.Mail) { m.Delivered = []string{"support@example.test", "loan@example.test"} }, "대출", "대출팀", "loan-alias"},
		{"alias in the X-Original-To header alone", func(m *ticket.Mail) { m.Headers["X-Original-To"] = "<loan@example.test>" }, "대출", "대출팀", "loan-alias"},
		{"plus-address of the alias", func(m *ticket.Mail) { m.To = []ticket.Address{{Email: "loan+urgent@example.test"}} }, "대출", "대출팀", "loan-alias"},
		{"plus pattern", func(m *ticket.Mail) { m.Cc = []ticket.Address{{Email: "support+card@example.test"}} }, "카드", "", "card-plus"},
		{"Korean word with a particle, in the body", func(m *ticket.Mail) { m.Text = "개인워크아웃을 신청하고 싶은데요" }, "채무조정", "채무조정팀", "debt-words"},
		{"Korean word glued in the subject", func(m *ticket.Mail) { m.Subject = "햇살론신청이 안돼요" }, "대출", "대출팀", "loan-words"},
		{"decomposed Hangul (NFD) matches after NFC", func(m *ticket.Mail) { m.Subject = "\u1112\u1162\u11ba\u1109\u1161\u11af\u1105\u1169\u11ab 문의" }, "대출", "대출팀", "loan-words"},
		{"Latin word case-insensitively", func(m *ticket.Mail) { m.Text = "The APP crashes" }, "앱", "", "app"},
		{"Latin word glued to a particle", func(m *ticket.Mail) { m.Text = "OTP가 안 와요" }, "앱", "", "app"},
		{"Latin word inside another is no match", func(m *ticket.Mail) { m.Text = "happy to wait" }, "기타", "", ""},
		{"the quoted history does not route", func(m *ticket.Mail) {
			m.Text = "주소 변경 문의입니다.\n\n> 햇살론 안내드립니다"
			m.Visible = "주소 변경 문의입니다."
		}, "기타", "", ""},
		{"first matching rule wins", func(m *ticket.Mail) {
			m.To = []ticket.Address{{Email: "loan@example.test"}}
			m.Subject = "채무조정 문의"
		}, "대출", "대출팀", "loan-alias"},
		{"nothing matches: the default category", func(m *ticket.Mail) {}, "기타", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc, db := setup(t, withRouting)
			m := mail("kim@example.org", "문의드립니다", "r@example.org")
			tc.edit(m)
			res := ingest(t, svc, m)
			tk := getTicket(t, db, res.TicketID)
			if tk.Category != tc.category || tk.Group != tc.group || tk.Route != tc.route {
				t.Fatalf("category %q group %q route %q, want %q %q %q", tk.Category, tk.Group, tk.Route, tc.category, tc.group, tc.route)
			}
		})
	}
}

func TestAddressMatches(t *testing.T) {
	for _, tc := range []struct {
		p, addr string
		want    bool
	}{
		{"loan@example.test", "loan@example.test", true},
		{"loan@example.test", "Loan+x@Example.test", true},
		{"loan@example.test", "loans@example.test", false},
		{"loan@", "loan@other.test", true},
		{"loan@", "xloan@other.test", false},
		{"*+card@example.test", "support+card@example.test", true},
		{"*+card@example.test", "support@example.test", false},
		{"*@loan.example.test", "a@loan.example.test", true},
		{"*@loan.example.test", "a@example.test", false},
		{"[", "a@example.test", false}, // a bad pattern matches nothing
	} {
		if got := ticket.AddressMatches(tc.p, tc.addr); got != tc.want {
			t.Errorf("AddressMatches(%q, %q) = %v", tc.p, tc.addr, got)
		}
	}
}

// TestGroupNotifications: a routed ticket notifies its group's address
// (or its members), not every agent; an assigned one its assignee alone;
// #group moves it, tells the new group, and unassigns an agent outside
// it; a member answers a notification sent to the group's address.
func TestGroupNotifications(t *testing.T) {
	svc, db := setup(t, withRouting)
	m := mail("kim@example.org", "햇살론 대출 문의", "g1@example.org")
	res := ingest(t, svc, m)
	if res.Notified != 1 {
		t.Fatalf("notified %d, want the group address alone", res.Notified)
	}
	n := notification(t, db, loanTeam.Address)
	if len(mailTo(t, db, agentLee.Email)) != 0 || !strings.Contains(n.Text, "담당 그룹: 대출팀") || !strings.Contains(n.Text, "분류: 대출") {
		t.Fatalf("notification to the group: %q; lee got %d", n.Text, len(mailTo(t, db, agentLee.Email)))
	}
	// Kim, a member, answers the group's notification.
	reply := agentMail(agentKim.Email, "Re: [#1] 햇살론 대출 문의", "g1r@example.test", "안내드립니다.")
	reply.To, reply.InReplyTo = []ticket.Address{n.ReplyTo[0]}, n.MessageID
	if r := ingest(t, svc, reply); !r.Relayed {
		t.Fatalf("a member's answer to the group's notification: %+v", r)
	}
	// Lee is no member: the same evidence is not his.
	leeReply := agentMail(agentLee.Email, "Re: [#1] 햇살론 대출 문의", "g1l@example.test", "제가 답합니다.")
	leeReply.To, leeReply.InReplyTo = []ticket.Address{n.ReplyTo[0]}, n.MessageID
	if r := ingest(t, svc, leeReply); r.Relayed {
		t.Fatalf("a non-member answered for the group: %+v", r)
	}

	// A ticket in the debt group (no address) notifies its members.
	res = ingest(t, svc, mail("park@example.org", "채무조정 신청", "g2@example.org"))
	if res.Notified != 1 || len(mailTo(t, db, agentLee.Email)) == 0 {
		t.Fatalf("debt group: notified %d", res.Notified)
	}

	// Assigned, the ticket notifies the assignee alone.
	if err := svc.Assign(1, agentKim.Email, agentKim.Email); err != nil {
		t.Fatal(err)
	}
	before := len(mailTo(t, db, loanTeam.Address))
	follow := mail("kim@example.org", "Re: [#1] 햇살론 대출 문의", "g3@example.org")
	if r := ingest(t, svc, follow); r.TicketID != 1 || r.Notified != 1 || len(mailTo(t, db, loanTeam.Address)) != before {
		t.Fatalf("follow-up on the assigned ticket: %+v", r)
	}

	// #group moves it: the assignee (no member of the debt group) goes,
	// the new group's members are told.
	leeBefore := len(mailTo(t, db, agentLee.Email))
	if err := svc.SetGroup(1, agentKim.Email, "채무조정팀"); err != nil {
		t.Fatal(err)
	}
	tk := getTicket(t, db, 1)
	if tk.Group != "채무조정팀" || tk.Assignee != "" {
		t.Fatalf("after #group: group %q assignee %q", tk.Group, tk.Assignee)
	}
	if len(mailTo(t, db, agentLee.Email)) != leeBefore+1 {
		t.Fatal("the new group's member was not told")
	}
	if err := svc.SetGroup(1, agentKim.Email, "없는팀"); err == nil {
		t.Fatal("moved to a group that does not exist")
	}
	var note string
	for _, msg := range messages(t, db, 1) {
		if msg.Kind == ticket.KindNote && strings.Contains(msg.Body, "담당 그룹") {
			note = msg.Body
		}
	}
	if !strings.Contains(note, "담당 그룹: 채무조정팀") {
		t.Fatalf("no history note of the move: %q", note)
	}

	// By mail: #group with an unknown name is a command error, told to the agent.
	var n2 ticket.Outgoing
	for _, o := range mailTo(t, db, agentLee.Email) {
		if o.TicketID == 1 {
			n2 = o // the mail telling the group of the move
		}
	}
	bad := agentMail(agentLee.Email, "Re: [#1]", "g4@example.test", "#group 없는팀\n\n답변")
	bad.To, bad.InReplyTo = []ticket.Address{n2.ReplyTo[0]}, n2.MessageID
	if r := ingest(t, svc, bad); r.Relayed || !strings.Contains(r.Note, "not a configured group") {
		t.Fatalf("#group to an unknown group: %+v", r)
	}
	good := agentMail(agentLee.Email, "Re: [#1]", "g5@example.test", "#group 대출팀")
	good.To, good.InReplyTo = []ticket.Address{n2.ReplyTo[0]}, n2.MessageID
	ingest(t, svc, good)
	if tk := getTicket(t, db, 1); tk.Group != "대출팀" {
		t.Fatalf("#group by mail: group %q", tk.Group)
	}
}

// TestReplyFromTheIdentityWrittenTo: the acknowledgement and the agent's
// reply come from the identity the customer wrote to, with its name and a
// Reply-To token on it that threads the customer's answer; mail to the
// support address, or to an address not in the list, is answered from the
// support address.
func TestReplyFromTheIdentityWrittenTo(t *testing.T) {
	svc, db := setup(t, withRouting)
	m := mail("kim@example.org", "상환 문의", "i1@example.org")
	// Delivered-To names the mailbox (support@), X-Original-To the alias.
	m.To = []ticket.Address{{Email: "loan@example.test"}}
	m.Delivered = []string{"support@example.test", "loan@example.test"}
	res := ingest(t, svc, m)
	ack := mailTo(t, db, "kim@example.org")
	if len(ack) != 1 || ack[0].From.Email != "loan@example.test" || ack[0].From.Name != "서민금융 대출상담" {
		t.Fatalf("ack from %+v, want loan@example.test", ack)
	}
	if !strings.HasPrefix(ack[0].ReplyTo[0].Email, "loan+t1-") {
		t.Fatalf("ack Reply-To %v, want a token on the identity", ack[0].ReplyTo)
	}
	if err := svc.Reply(res.TicketID, agentKim.Email, "답변드립니다.", nil); err != nil {
		t.Fatal(err)
	}
	var reply ticket.Outgoing
	for _, o := range mailTo(t, db, "kim@example.org") {
		if o.Kind == ticket.KindAgent {
			reply = o
		}
	}
	if reply.From.Email != "loan@example.test" || reply.From.Name != "김상담 (서민금융 대출상담)" {
		t.Fatalf("reply from %+v", reply.From)
	}
	// The customer answers to the token on the identity: same ticket.
	again := mail("kim@example.org", "다시 문의", "i2@example.org")
	again.To = []ticket.Address{reply.ReplyTo[0]}
	if r := ingest(t, svc, again); r.TicketID != res.TicketID || r.NewTicket {
		t.Fatalf("answer to the identity's token: %+v", r)
	}
	// The identity is ours: never a participant, never mailed.
	if tk := getTicket(t, db, res.TicketID); len(tk.Participants) != 0 {
		t.Fatalf("participants %v", tk.Participants)
	}

	for _, to := range []string{"support@example.test", "someone-else@example.test"} {
		m := mail("lee@example.org", "문의", "i3"+to)
		m.To = []ticket.Address{{Email: to}}
		ingest(t, svc, m)
		for _, o := range mailTo(t, db, "lee@example.org") {
			if o.From.Email != support.Email {
				t.Fatalf("mail written to %s answered from %s", to, o.From.Email)
			}
		}
	}
}

// TestFAQSuggestionsInTheAck: a new ticket's acknowledgement lists the
// entries scoring min_score or more, which are recorded on the ticket and
// shown in the agents' notification; a mail that none answers well enough
// gets none; follow-ups and spam get none.
func TestFAQSuggestionsInTheAck(t *testing.T) {
	faq, err := ticket.NewFAQIndex([]ticket.FAQEntry{
		{ID: "repay-date", Question: "대출 상환일(납입일)을 변경할 수 있나요?", Answer: "상환일은 대출 실행 후 1회 변경할 수 있습니다.\n앱의 [MY > 대출관리 > 상환일 변경]에서 신청하세요.", URL: "https://faq.example.test/12"},
		{ID: "password", Question: "비밀번호를 잊어버렸어요.", Answer: "로그인 화면의 [비밀번호 재설정]에서 휴대폰 본인인증 후 새 비밀번호를 설정하세요.", URL: "https://faq.example.test/3"},
		{ID: "hours", Question: "상담 운영시간은 어떻게 되나요?", Answer: "평일 09:00-18:00에 상담합니다. 주말과 공휴일은 쉽니다.", URL: "https://faq.example.test/1"},
	}, ticket.FAQOptions{Max: 3, MinScore: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	svc, db := setup(t, withAgents(false), func(c *ticket.Config) { c.FAQ = faq; c.SpamHeader, c.SpamValue = "X-Spam-Flag", "YES" })
	m := mail("kim@example.org", "납입일 문의", "f1@example.org")
	m.Text = "안녕하세요. 매달 상환일을 월급날 이후로 바꾸고 싶은데 가능한가요?"
	res := ingest(t, svc, m)
	ack := mailTo(t, db, "kim@example.org")[0]
	if !strings.Contains(ack.Text, "대출 상환일(납입일)을 변경할 수 있나요?") || !strings.Contains(ack.Text, "https://faq.example.test/12") ||
		!strings.Contains(ack.HTML, `href="https://faq.example.test/12"`) || !strings.Contains(ack.Text, "상환일은 대출 실행 후 1회") {
		t.Fatalf("ack without the suggestion:\n%s", ack.Text)
	}
	if strings.Contains(ack.Text, "비밀번호를 잊어버렸어요") {
		t.Fatalf("ack suggests an unrelated entry:\n%s", ack.Text)
	}
	tk := getTicket(t, db, res.TicketID)
	if len(tk.Suggested) == 0 || tk.Suggested[0].ID != "repay-date" || tk.Suggested[0].Score < 0.3 {
		t.Fatalf("suggestions on the ticket: %+v", tk.Suggested)
	}
	if res.FAQ != "offered" || res.Suggested != len(tk.Suggested) {
		t.Fatalf("result says FAQ %q, %d suggested; the ticket has %d", res.FAQ, res.Suggested, len(tk.Suggested))
	}
	if n := notification(t, db, agentKim.Email); !strings.Contains(n.Text, "고객에게 안내한 자주 묻는 질문") || !strings.Contains(n.Text, "대출 상환일") {
		t.Fatalf("the notification does not say what was offered:\n%s", n.Text)
	}

	// Nothing answers it: no block, nothing recorded.
	m = mail("lee@example.org", "감사합니다", "f2@example.org")
	m.Text = "지난번 친절하게 안내해 주신 직원분께 감사 인사 전합니다."
	res = ingest(t, svc, m)
	ack = mailTo(t, db, "lee@example.org")[0]
	if strings.Contains(ack.Text, "자주 묻는 질문") || len(getTicket(t, db, res.TicketID).Suggested) != 0 {
		t.Fatalf("a suggestion below min_score:\n%s", ack.Text)
	}
	if res.FAQ != "none" || res.Suggested != 0 {
		t.Fatalf("result says FAQ %q, %d suggested; want none", res.FAQ, res.Suggested)
	}

	// Spam gets no acknowledgement at all, hence no suggestion.
	m = mail("spam@example.org", "비밀번호를 잊어버렸어요", "f3@example.org")
	m.Headers["X-Spam-Flag"] = "YES"
	res = ingest(t, svc, m)
	if len(mailTo(t, db, "spam@example.org")) != 0 || len(getTicket(t, db, res.TicketID).Suggested) != 0 {
		t.Fatal("spam was offered suggestions")
	}
	if res.FAQ != "" {
		t.Fatalf("spam counted as an acknowledgement with the FAQ: %q", res.FAQ)
	}
}
