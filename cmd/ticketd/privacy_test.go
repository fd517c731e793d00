package main

import (
	"strings"
	"testing"
)

// TestUnmaskIsAudited: tickets show masks personal data; --unmask needs a
// reason, shows the stored values and writes an audit record that privacy
// audit lists; the JSON counts the findings.
func TestUnmaskIsAudited(t *testing.T) {
	s := newStack(t, "agents: [{name: 김상담, email: agent@example.test}]")
	mail := "From: 김민수 <kim@example.org>\r\nTo: support@example.test\r\nSubject: 본인 확인 900101-1234568\r\n" +
		"Message-ID: <pii@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n카드 4111-1111-1111-1111 분실 신고합니다.\r\n"
	if code, _, errs := s.ticketd(t, []byte(mail), "ingest"); code != 0 {
		t.Fatalf("ingest: %s", errs)
	}
	code, out, _ := s.ticketd(t, nil, "tickets", "show", "1")
	if code != 0 || strings.Contains(out, "1234568") || strings.Contains(out, "4111-1111-1111-1111") || !strings.Contains(out, "900101-1******") {
		t.Fatalf("tickets show is not masked:\n%s", out)
	}
	if code, _, errs := s.ticketd(t, nil, "tickets", "show", "1", "--unmask"); code == 0 || !strings.Contains(errs, "--reason") {
		t.Fatalf("--unmask without a reason: exit %d %s", code, errs)
	}
	if code, out, _ := s.ticketd(t, nil, "privacy", "audit"); code != 0 || strings.Contains(out, "#1") {
		t.Fatalf("an audit record before anything was unmasked:\n%s", out)
	}
	code, out, errs := s.ticketd(t, nil, "tickets", "show", "1", "--unmask", "--reason", "본인 확인 요청(전화)", "--as", "김상담")
	if code != 0 || !strings.Contains(out, "900101-1234568") || !strings.Contains(out, "4111-1111-1111-1111") {
		t.Fatalf("--unmask: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = s.ticketd(t, nil, "privacy", "audit")
	if code != 0 || !strings.Contains(out, "김상담 (") || !strings.Contains(out, "개인정보 보기") || !strings.Contains(out, "#1") ||
		!strings.Contains(out, "본인 확인 요청(전화)") {
		t.Fatalf("privacy audit:\n%s", out)
	}
	v := s.show(t, 1)
	msgs := v["messages"].([]any)
	pd := msgs[0].(map[string]any)["personal_data"].([]any)
	if len(pd) != 2 || pd[0].(map[string]any)["kind"] != "rrn" || pd[1].(map[string]any)["kind"] != "card" {
		t.Errorf("personal_data: %v", pd)
	}
}
