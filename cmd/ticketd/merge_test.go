package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// merge and split from the command line, answered in Korean; tickets show
// says where a ticket went.
func TestMergeAndSplitThroughTheCLI(t *testing.T) {
	s := newStack(t, `agents: [{name: 김상담, email: agent@example.test}]`, `threading: {plus_addressing: true}`)
	for i, from := range []string{"kim@example.test", "lee@example.org"} {
		raw := fmt.Sprintf("From: %s\r\nTo: support@example.test\r\nSubject: loan %d\r\nMessage-ID: <mg%d@example.test>\r\n\r\nrepayment date, mail %d\r\n", from, i+1, i+1, i+1)
		if code, _, errs := s.ticketd(t, []byte(raw), "ingest"); code != 0 {
			t.Fatalf("ingest: %s", errs)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"merge", "2", "--into", "2", "--as", "김상담"}, "#2: 같은 문의에 합칠 수 없습니다."},
		{[]string{"merge", "2", "--into", "9", "--as", "김상담"}, "#2: 그런 문의가 없습니다."},
		{[]string{"merge", "2", "--as", "김상담"}, "usage: ticketd merge N --into M"},
		{[]string{"merge", "2", "--into", "1", "--as", "kim@example.test"}, "등록된 상담원이 아닙니다"},
		{[]string{"split", "1", "x"}, "split: MESSAGE is a message's number"},
	} {
		if code, out, errs := s.ticketd(t, nil, c.args...); code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d %s%s, want %q", c.args, code, out, errs, c.want)
		}
	}
	code, out, errs := s.ticketd(t, nil, "merge", "2", "--into", "1", "--as", "김상담")
	if code != 0 || !strings.Contains(out, "#2을(를) #1에 합쳤습니다.") {
		t.Fatalf("merge: exit %d %s%s", code, out, errs)
	}
	if v := s.show(t, 2); v["merged_into"] != float64(1) || v["status"] != "closed" {
		t.Errorf("#2 after the merge: %v", v)
	}
	v := s.show(t, 1)
	if m, _ := v["merged"].([]any); len(m) != 1 || m[0] != float64(2) {
		t.Errorf("#1 after the merge: %v", v["merged"])
	}
	if _, out, _ := s.ticketd(t, nil, "tickets", "show", "2"); !regexp.MustCompile(`합쳐진 문의:\s+#1\n`).MatchString(out) {
		t.Errorf("tickets show 2:\n%s", out)
	}
	// lee@, #2's customer, got the acknowledgement and the merge's mail.
	if m, raw, n := s.latest(t, "lee@example.org"); n != 2 || !strings.HasPrefix(m.Subject, "[#1] 문의가 하나로 합쳐졌습니다") ||
		m.InReplyTo != "mg2@example.test" || !strings.Contains(m.Text, "접수번호 #2") || !strings.HasPrefix(m.ReplyTo[0].Email, "support+t1-") {
		t.Errorf("lee@ has %d mails, the last:\n%s", n, raw)
	}

	// Split #1's mail from lee@ (now on #1) off again.
	var msg uint64
	for _, m := range v["messages"].([]any) {
		if mm := m.(map[string]any); mm["message_id"] == "mg2@example.test" {
			msg = uint64(mm["id"].(float64))
		}
	}
	code, out, errs = s.ticketd(t, nil, "split", "1", strconv.FormatUint(msg, 10), "--as", "agent@example.test")
	if code != 0 || !strings.Contains(out, "#1의 메일을 새 문의 #3(으)로 나누었습니다.") {
		t.Fatalf("split: exit %d %s%s", code, out, errs)
	}
	if v := s.show(t, 3); v["split_from"] != float64(1) || v["requester"].(map[string]any)["email"] != "lee@example.org" {
		t.Errorf("#3: %v", v)
	}
	if code, _, errs := s.ticketd(t, nil, "split", "3", "999"); code == 0 || !strings.Contains(errs, "#3에 메일 999이(가) 없습니다") {
		t.Errorf("split a missing message: exit %d %s", code, errs)
	}
}
