package ticket_test

import (
	"strings"
	"testing"
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
