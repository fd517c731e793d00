package ticket_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ticketd/ticketd/store"
	"github.com/ticketd/ticketd/ticket"
	"github.com/ticketd/ticketd/ticket/tickettest"
)

var support = ticket.Address{Name: "고객센터", Email: "support@example.test"}

var (
	testSigner = tickettest.Signer()
	agentKim   = ticket.Agent{Name: "김상담", Email: "agent@example.test"}
	agentLee   = ticket.Agent{Name: "이상담", Email: "lee.agent@example.test"}
)

// setup returns a service on a fresh database in t.TempDir().
func setup(t *testing.T, opts ...func(*ticket.Config)) (*ticket.Service, *store.DB) {
	t.Helper()
	db := tickettest.DB(t)
	return serviceOn(t, db, opts...), db
}

// serviceOn returns the service of setup on db.
func serviceOn(t *testing.T, db *store.DB, opts ...func(*ticket.Config)) *ticket.Service {
	t.Helper()
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC) // 19:00 in Seoul: closed
	cfg := ticket.Config{
		Support: support, Domain: "example.test", CenterName: "고객센터",
		Hours: tickettest.Hours(time.FixedZone("KST", 9*3600)), Now: func() time.Time { return now },
		Signer: testSigner, NoNotify: true,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return tickettest.Service(t, db, cfg)
}

func mail(from, subject, msgid string) *ticket.Mail {
	return &ticket.Mail{
		From: ticket.Address{Name: "김고객", Email: from}, To: []ticket.Address{support},
		Subject: subject, MessageID: msgid, Text: "본문입니다.\n", Headers: map[string]string{},
	}
}

func ingest(t *testing.T, svc *ticket.Service, m *ticket.Mail) ticket.Result {
	t.Helper()
	res, err := svc.Ingest(ticket.Incoming{Mail: m, Raw: []byte("raw " + m.MessageID + m.Subject), Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func messages(t *testing.T, db *store.DB, id uint64) []ticket.Message {
	t.Helper()
	var ms []ticket.Message
	if err := db.View(func(tx ticket.ReadTx) error {
		var err error
		ms, err = tx.Messages(id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return ms
}

func outbox(t *testing.T, db *store.DB) []ticket.Outgoing {
	t.Helper()
	var out []ticket.Outgoing
	if err := db.View(func(tx ticket.ReadTx) error {
		var err error
		out, err = tx.Outbox()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNewTicketIsAcknowledgedOnce(t *testing.T) {
	svc, db := setup(t)
	res := ingest(t, svc, mail("kim@example.org", "대출 상환 문의", "a1@example.org"))
	if !res.NewTicket || !res.Acknowledged || res.TicketID != 1 {
		t.Fatalf("result %+v, want new ticket #1 acknowledged", res)
	}
	ob := outbox(t, db)
	if len(ob) != 1 {
		t.Fatalf("outbox has %d mails, want 1", len(ob))
	}
	o := ob[0]
	checks := map[string][2]string{
		"to":                       {o.To[0].Email, "kim@example.org"},
		"subject":                  {o.Subject, "[#1] 대출 상환 문의"},
		"in-reply-to":              {o.InReplyTo, "a1@example.org"},
		"references":               {strings.Join(o.References, " "), "a1@example.org"},
		"Auto-Submitted":           {o.Headers["Auto-Submitted"], "auto-replied"},
		"X-Auto-Response-Suppress": {o.Headers["X-Auto-Response-Suppress"], "All"},
		"loop header":              {o.Headers[ticket.LoopHeader], "support@example.test"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	if id, ok := testSigner.TicketFromMessageID(o.MessageID); !ok || id != 1 || !strings.HasSuffix(o.MessageID, "@example.test") {
		t.Errorf("message-id %q, want a signed t1.RANDOM.SIG@example.test", o.MessageID)
	}
	if !strings.Contains(o.Text, "#1") || !strings.Contains(o.Text, "09:00") {
		t.Errorf("ack text lacks ticket number or hours:\n%s", o.Text)
	}
	ms := messages(t, db, 1)
	if len(ms) != 2 || ms[0].Direction != ticket.DirIn || ms[1].Direction != ticket.DirOut ||
		ms[1].Kind != ticket.KindAuto || ms[1].Delivery != ticket.DeliveryQueued || ms[1].MessageID != o.MessageID {
		t.Fatalf("messages %+v, want the customer's mail and the queued ack", ms)
	}
	// The same mail again is a duplicate: no second message, no second ack.
	res = ingest(t, svc, mail("kim@example.org", "대출 상환 문의", "<a1@example.org>"))
	if !res.Duplicate || res.TicketID != 1 {
		t.Fatalf("second ingest %+v, want duplicate of #1", res)
	}
	if n := len(messages(t, db, 1)); n != 2 {
		t.Fatalf("ticket has %d messages after a duplicate, want 2", n)
	}
	if n := len(outbox(t, db)); n != 1 {
		t.Fatalf("outbox has %d after a duplicate, want 1", n)
	}
}

func TestNoMessageIDDedupesByContent(t *testing.T) {
	svc, db := setup(t)
	m := mail("kim@example.org", "no id", "")
	raw := []byte("Subject: no id\r\n\r\nbody\r\n")
	for i := 0; i < 2; i++ {
		if _, err := svc.Ingest(ticket.Incoming{Mail: m, Raw: raw}); err != nil {
			t.Fatal(err)
		}
	}
	other, err := svc.Ingest(ticket.Incoming{Mail: m, Raw: append(raw, 'x')})
	if err != nil {
		t.Fatal(err)
	}
	if other.Duplicate || other.TicketID != 2 {
		t.Fatalf("different bytes: %+v, want a new ticket #2", other)
	}
	if n := len(messages(t, db, 1)); n != 2 { // mail + ack
		t.Fatalf("ticket 1 has %d messages, want 2", n)
	}
}

func TestFollowUpByReferenceToOurAck(t *testing.T) {
	svc, db := setup(t)
	ingest(t, svc, mail("kim@example.org", "카드 분실", "q1@example.org"))
	ack := outbox(t, db)[0]
	reply := mail("kim@example.org", "Re: [#1] 카드 분실", "q2@example.org")
	reply.InReplyTo = ack.MessageID
	reply.References = []string{"q1@example.org", ack.MessageID}
	res := ingest(t, svc, reply)
	if res.NewTicket || res.TicketID != 1 || res.Acknowledged {
		t.Fatalf("reply %+v, want a follow-up on #1 without an ack", res)
	}
	if n := len(outbox(t, db)); n != 1 {
		t.Fatalf("outbox %d, want only the first ack", n)
	}
}

func TestStrangerCannotJoinByReference(t *testing.T) {
	svc, db := setup(t, withAgents(false))
	ingest(t, svc, mail("kim@example.org", "카드 분실", "q1@example.org"))
	// A stranger who knows the customer's Message-ID (In-Reply-To or
	// References) does not get onto the customer's ticket.
	for i, refs := range [][2]string{{"q1@example.org", ""}, {"", "q1@example.org"}, {"", "<other@x.example> <q1@example.org>"}} {
		m := mail("mallory@example.net", "Re: 카드 분실", fmt.Sprintf("m%d@example.net", i))
		m.InReplyTo = refs[0]
		if refs[1] != "" {
			m.References = strings.Fields(refs[1])
		}
		res := ingest(t, svc, m)
		if res.TicketID == 1 || !res.NewTicket || !strings.Contains(res.Note, "#1") {
			t.Fatalf("stranger with references %q: %+v, want a new ticket linking #1", refs, res)
		}
		ms := messages(t, db, res.TicketID)
		found := false
		for _, m := range ms {
			found = found || (m.Kind == ticket.KindNote && strings.Contains(m.Body, "#1"))
		}
		if !found {
			t.Fatalf("no note linking #1 on #%d", res.TicketID)
		}
	}
	onFirst := 0
	for _, o := range outbox(t, db) {
		if o.TicketID == 1 {
			onFirst++
		}
	}
	if onFirst != 3 { // the acknowledgement and the two agents' notifications of the first mail
		t.Fatalf("%d mails queued under #1, want 3", onFirst)
	}
	if n := len(messages(t, db, 1)); n != 2 { // the mail and its ack
		t.Fatalf("#1 has %d messages, want 2", n)
	}
	// The customer's own reference still threads, and so does anyone
	// replying to a mail we sent (possession of our mail).
	own := mail("kim@example.org", "추가", "q4@example.org")
	own.References = []string{"q1@example.org"}
	if res := ingest(t, svc, own); res.TicketID != 1 {
		t.Fatalf("the requester's reference: %+v", res)
	}
	ack := mailTo(t, db, "kim@example.org")[0]
	fwd := mail("lee@example.org", "Re: [#1] 카드 분실", "q5@example.org")
	fwd.InReplyTo = ack.MessageID
	if res := ingest(t, svc, fwd); res.TicketID != 1 {
		t.Fatalf("a reply to our acknowledgement: %+v", res)
	}
}

// A From that the receiving MX failed to authenticate is no evidence: the
// subject tag and references to the customer's mail then count for
// nothing; our own Message-IDs still do.
func TestForgedRequesterFailsAuthentication(t *testing.T) {
	svc, db := setup(t, func(c *ticket.Config) { c.AuthServID = "mx.example.test" })
	ingest(t, svc, mail("kim@example.org", "첫 문의", "f1@example.org"))
	forged := func(msgid, ar string) *ticket.Mail {
		m := mail("kim@example.org", "Re: [#1] 첫 문의", msgid)
		m.References = []string{"f1@example.org"}
		m.Headers["Authentication-Results"] = ar
		return m
	}
	for i, ar := range []string{
		"mx.example.test; dmarc=fail header.from=example.org; spf=pass smtp.mailfrom=x@evil.example",
		"mx.example.test; spf=fail smtp.mailfrom=kim@example.org; dkim=fail header.d=example.org",
	} {
		res := ingest(t, svc, forged(fmt.Sprintf("f2%d@evil.example", i), ar))
		if res.TicketID == 1 || !res.NewTicket || !strings.Contains(res.Note, "failed authentication") {
			t.Fatalf("forged requester (%s): %+v, want a new ticket", ar, res)
		}
	}
	// Authenticated, or not judged at all (another MX, no header): the
	// requester's tag is accepted.
	for i, ar := range []string{"mx.example.test; dmarc=pass header.from=example.org", "mx.other.test; dmarc=fail header.from=example.org", ""} {
		if res := ingest(t, svc, forged(fmt.Sprintf("f3%d@example.org", i), ar)); res.TicketID != 1 {
			t.Fatalf("requester with %q: %+v, want #1", ar, res)
		}
	}
	ack := mailTo(t, db, "kim@example.org")[0]
	m := forged("f4@evil.example", "mx.example.test; dmarc=fail header.from=example.org")
	m.InReplyTo = ack.MessageID
	if res := ingest(t, svc, m); res.TicketID != 1 {
		t.Fatalf("a reply to our Message-ID: %+v, want #1", res)
	}
}

func TestSubjectTagOnlyFromRequester(t *testing.T) {
	svc, _ := setup(t)
	ingest(t, svc, mail("kim@example.org", "첫 문의", "s1@example.org"))
	if res := ingest(t, svc, mail("KIM@example.org", "Re: [#1] 첫 문의", "s2@example.org")); res.TicketID != 1 || res.NewTicket {
		t.Fatalf("tag from requester (other case): %+v, want follow-up on #1", res)
	}
	res := ingest(t, svc, mail("mallory@example.net", "[#1] let me in", "s3@example.net"))
	if !res.NewTicket || res.TicketID == 1 {
		t.Fatalf("tag from a stranger: %+v, want a new ticket", res)
	}
	if res := ingest(t, svc, mail("kim@example.org", "[#99] no such ticket", "s4@example.org")); !res.NewTicket {
		t.Fatalf("tag of a missing ticket: %+v, want a new ticket", res)
	}
}

func TestAutomaticMailIsNotAcknowledged(t *testing.T) {
	svc, db := setup(t)
	m := mail("kim@example.org", "Out of office", "auto1@example.org")
	m.Headers["Auto-Submitted"] = "auto-replied"
	res := ingest(t, svc, m)
	if !res.NewTicket || res.Acknowledged || res.Automatic == "" {
		t.Fatalf("auto mail: %+v, want stored, not acknowledged", res)
	}
	if n := len(outbox(t, db)); n != 0 {
		t.Fatalf("outbox %d, want 0", n)
	}
	if ms := messages(t, db, res.TicketID); ms[0].Kind != ticket.KindAuto {
		t.Fatalf("kind %q, want auto", ms[0].Kind)
	}
	// Mail from our own address is never acknowledged either.
	own := mail("support@example.test", "loop?", "own@example.test")
	if res := ingest(t, svc, own); res.Acknowledged {
		t.Fatal("mail from the support address was acknowledged")
	}
}

func TestOwnMailComingBackIsDuplicate(t *testing.T) {
	svc, db := setup(t)
	ingest(t, svc, mail("kim@example.org", "hello", "h1@example.org"))
	ack := outbox(t, db)[0]
	back := mail("support@example.test", ack.Subject, ack.MessageID)
	if res := ingest(t, svc, back); !res.Duplicate {
		t.Fatalf("our own ack fetched back: %+v, want duplicate", res)
	}
}

func TestFollowUpReopensSolved(t *testing.T) {
	svc, db := setup(t)
	ingest(t, svc, mail("kim@example.org", "q", "r1@example.org"))
	if err := db.Update(func(tx ticket.Tx) error {
		tk, err := tx.Ticket(1)
		if err != nil {
			return err
		}
		tk.Status = ticket.StatusSolved
		return tx.PutTicket(tk)
	}); err != nil {
		t.Fatal(err)
	}
	ingest(t, svc, mail("kim@example.org", "Re: [#1] q", "r2@example.org"))
	var tk ticket.Ticket
	db.View(func(tx ticket.ReadTx) error { tk, _ = tx.Ticket(1); return nil })
	if tk.Status != ticket.StatusOpen || tk.Messages != 3 {
		t.Fatalf("ticket %+v, want open with 3 messages", tk)
	}
}

func TestCursorCommitsWithMail(t *testing.T) {
	svc, db := setup(t)
	m := mail("kim@example.org", "c", "c1@example.org")
	if _, err := svc.Ingest(ticket.Incoming{Mail: m, Raw: []byte("x"), Mailbox: "support/INBOX",
		Cursor: ticket.Cursor{UIDValidity: 7, LastUID: 3}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Reject(ticket.Incoming{Raw: []byte("garbage"), Mailbox: "support/INBOX",
		Cursor: ticket.Cursor{UIDValidity: 7, LastUID: 4}}, "not a mail"); err != nil {
		t.Fatal(err)
	}
	c, ok, err := svc.Cursor("support/INBOX")
	if err != nil || !ok || c.UIDValidity != 7 || c.LastUID != 4 {
		t.Fatalf("cursor %+v %v %v, want validity 7 last 4", c, ok, err)
	}
	// A rejected mail is kept once, with its bytes.
	if res, _ := svc.Reject(ticket.Incoming{Raw: []byte("garbage")}, "not a mail"); !res.Duplicate {
		t.Fatal("second reject of the same bytes was not a duplicate")
	}
	var rej []ticket.Rejected
	db.View(func(tx ticket.ReadTx) error { rej, _ = tx.Rejected(); return nil })
	if len(rej) != 1 || string(rej[0].Raw) != "garbage" || rej[0].Reason != "not a mail" {
		t.Fatalf("rejected %+v, want one record with its raw bytes", rej)
	}
	// A new UIDVALIDITY starts the cursor afresh.
	m2 := mail("kim@example.org", "c2", "c2@example.org")
	svc.Ingest(ticket.Incoming{Mail: m2, Raw: []byte("y"), Mailbox: "support/INBOX", Cursor: ticket.Cursor{UIDValidity: 8, LastUID: 1}})
	if c, _, _ := svc.Cursor("support/INBOX"); c.UIDValidity != 8 || c.LastUID != 1 {
		t.Fatalf("cursor after new validity %+v, want 8/1", c)
	}
}

func TestIsAutomatic(t *testing.T) {
	cases := []struct {
		from, subject string
		headers       map[string]string
		want          bool
	}{
		{"kim@example.org", "문의", nil, false},
		{"kim@example.org", "문의", map[string]string{"Auto-Submitted": "no"}, false},
		{"kim@example.org", "문의", map[string]string{"Auto-Submitted": "auto-generated"}, true},
		{"kim@example.org", "문의", map[string]string{"Precedence": "bulk"}, true},
		{"kim@example.org", "문의", map[string]string{"List-Id": "<x.example.org>"}, true},
		{"kim@example.org", "문의", map[string]string{"X-Autoreply": "yes"}, true},
		{"kim@example.org", "문의", map[string]string{ticket.LoopHeader: "other"}, true},
		{"MAILER-DAEMON@example.org", "Undelivered", nil, true},
		{"no-reply@bank.example", "안내", nil, true},
		{"", "no sender", nil, true},
		{"kim@example.org", "[부재중] 휴가입니다", nil, true},
		{"kim@example.org", "자동 회신: 문의", nil, true},
	}
	for _, c := range cases {
		m := &ticket.Mail{From: ticket.Address{Email: c.from}, Subject: c.subject, Headers: c.headers}
		if m.Headers == nil {
			m.Headers = map[string]string{}
		}
		if got, why := ticket.IsAutomatic(m, ticket.LoopHeader); got != c.want {
			t.Errorf("IsAutomatic(%s, %q, %v) = %v (%s), want %v", c.from, c.subject, c.headers, got, why, c.want)
		}
	}
}

func TestSubjectTagAndHours(t *testing.T) {
	for s, want := range map[string]uint64{"Re: [#1024] 문의": 1024, "[#0] x": 0, "#12 x": 0, "RE: RE: [#7]": 7} {
		if got, _ := ticket.SubjectTag(s); got != want {
			t.Errorf("SubjectTag(%q) = %d, want %d", s, got, want)
		}
	}
	if got := ticket.TaggedSubject(5, "Re: [#5] hi"); got != "Re: [#5] hi" {
		t.Errorf("TaggedSubject kept-tag = %q", got)
	}
	seoul := time.FixedZone("KST", 9*3600)
	h := tickettest.Hours(seoul)
	for when, want := range map[string]bool{
		"2026-11-24T09:00:00+09:00": true, "2026-11-24T17:59:00+09:00": true,
		"2026-11-24T18:00:00+09:00": false, "2026-11-28T10:00:00+09:00": false, // Saturday
		"2026-11-24T00:30:00Z": true, // 09:30 in Seoul
	} {
		tm, _ := time.Parse(time.RFC3339, when)
		if got := h.OpenAt(tm); got != want {
			t.Errorf("OpenAt(%s) = %v, want %v", when, got, want)
		}
	}
	days, err := ticket.ParseDays("mon,wed-fri")
	if err != nil || fmt.Sprint(days) != "[Monday Wednesday Thursday Friday]" {
		t.Errorf("ParseDays = %v, %v", days, err)
	}
	if _, err := ticket.ParseDays("mon-funday"); err == nil {
		t.Error("ParseDays accepted funday")
	}
}

// rawMail is a small raw mail with trace fields that differ by path.
func rawMail(path, from, subject, msgid, body string) []byte {
	return fmt.Appendf(nil, "Received: from mx by %s with LMTP id %s\r\nDelivered-To: %s@example.test\r\n"+
		"From: %s\r\nSubject: %s\r\nDate: Tue, 24 Nov 2026 10:00:00 +0900\r\nMessage-ID: <%s>\r\n\r\n%s\r\n",
		path, path, path, from, subject, msgid, body)
}

func TestDedupeMergesOnlyTheSameMail(t *testing.T) {
	svc, db := setup(t)
	store := func(raw []byte, from, subject string) ticket.Result {
		t.Helper()
		m := mail(from, subject, "reused@example.org")
		res, err := svc.Ingest(ticket.Incoming{Mail: m, Raw: raw, Source: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := store(rawMail("lmtp1", "kim@example.org", "대출 문의", "reused@example.org", "첫 문의입니다."), "kim@example.org", "대출 문의")
	if !first.NewTicket {
		t.Fatalf("first: %+v", first)
	}
	// The same mail delivered again by another path (other Received and
	// Delivered-To lines), and with LF line ends as a pipe would give it:
	// a duplicate.
	again := store(rawMail("lmtp2", "kim@example.org", "대출 문의", "reused@example.org", "첫 문의입니다."), "kim@example.org", "대출 문의")
	lf := bytes.ReplaceAll(rawMail("pipe", "kim@example.org", "대출 문의", "reused@example.org", "첫 문의입니다."), []byte("\r\n"), []byte("\n"))
	piped := store(lf, "kim@example.org", "대출 문의")
	for _, r := range []ticket.Result{again, piped} {
		if !r.Duplicate || r.TicketID != first.TicketID {
			t.Fatalf("the same mail again: %+v, want a duplicate of #%d", r, first.TicketID)
		}
	}
	// A different mail under the same Message-ID (a broken client, a
	// forgery): stored, with a warning, never dropped.
	other := store(rawMail("lmtp3", "lee@example.org", "카드 문의", "reused@example.org", "다른 사람의 문의입니다."), "lee@example.org", "카드 문의")
	if other.Duplicate || !other.NewTicket || other.TicketID == first.TicketID {
		t.Fatalf("a different mail under a known Message-ID: %+v, want a new ticket", other)
	}
	ms := messages(t, db, other.TicketID)
	if len(ms[0].Warnings) == 0 || !strings.Contains(ms[0].Warnings[len(ms[0].Warnings)-1], "already used") {
		t.Fatalf("no warning recorded: %+v", ms[0].Warnings)
	}
	// ... and that one too is stored only once.
	if r := store(rawMail("lmtp4", "lee@example.org", "카드 문의", "reused@example.org", "다른 사람의 문의입니다."), "lee@example.org", "카드 문의"); !r.Duplicate || r.TicketID != other.TicketID {
		t.Fatalf("the second mail again: %+v, want a duplicate of #%d", r, other.TicketID)
	}
	// The same sender reusing the Message-ID for a new text (a client bug):
	// a follow-up, not lost.
	followUp := store(rawMail("lmtp5", "kim@example.org", "대출 문의", "reused@example.org", "추가 질문입니다."), "kim@example.org", "대출 문의")
	if followUp.Duplicate {
		t.Fatalf("new text under a reused Message-ID dropped: %+v", followUp)
	}
}

func TestOurMessageIDFromSomeoneElseIsStored(t *testing.T) {
	svc, db := setup(t)
	ingest(t, svc, mail("kim@example.org", "hello", "h1@example.org"))
	ack := outbox(t, db)[0]
	// Not a copy of our mail: another sender under our ack's Message-ID.
	res := ingest(t, svc, mail("kim@example.org", "Re: hello", ack.MessageID))
	if res.Duplicate {
		t.Fatalf("a customer's mail under our Message-ID was dropped: %+v", res)
	}
}

// TestMessageIDsKeptAsReceived: a Message-ID is stored, shown and echoed
// byte-exactly; it is looked up with its domain case-insensitively.
func TestMessageIDsKeptAsReceived(t *testing.T) {
	svc, db := setup(t)
	first := mail("kim@example.org", "대출 상환 문의", "<Ab.Cd-12@Mail.Example.ORG>")
	first.InReplyTo = "<Earlier.1@Example.ORG>"
	ingest(t, svc, first)
	ms := messages(t, db, 1)
	if ms[0].MessageID != "Ab.Cd-12@Mail.Example.ORG" || ms[0].InReplyTo != "Earlier.1@Example.ORG" {
		t.Errorf("stored message_id %q, in_reply_to %q: want them as received", ms[0].MessageID, ms[0].InReplyTo)
	}
	ack := outbox(t, db)[0]
	if ack.InReplyTo != "Ab.Cd-12@Mail.Example.ORG" || strings.Join(ack.References, " ") != "Ab.Cd-12@Mail.Example.ORG" {
		t.Errorf("ack In-Reply-To %q, References %v: want the Message-ID as received", ack.InReplyTo, ack.References)
	}
	// The same mail with its domain in other case is a duplicate.
	if res := ingest(t, svc, mail("kim@example.org", "대출 상환 문의", "Ab.Cd-12@mail.example.org")); !res.Duplicate {
		t.Errorf("the same Message-ID with a lower-case domain: %+v, want a duplicate", res)
	}
	// The customer's reply that names their first mail in another case
	// threads.
	reply := mail("kim@example.org", "추가 문의", "q2@example.org")
	reply.InReplyTo = "Ab.Cd-12@MAIL.EXAMPLE.ORG"
	if res := ingest(t, svc, reply); res.NewTicket || res.TicketID != 1 {
		t.Errorf("reply %+v, want a follow-up on #1", res)
	}
}
