package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOperatorCommands(t *testing.T) {
	s := newStack(t)
	// A non-mail is quarantined; list, show and drop it.
	if code, _, _ := s.ticketd(t, []byte("\r\n\r\n"), "ingest"); code != exitDataErr {
		t.Fatalf("ingest of a non-mail: exit %d", code)
	}
	code, out, _ := s.ticketd(t, nil, "quarantine", "list")
	if code != 0 || !strings.Contains(out, "not a mail") {
		t.Fatalf("quarantine list: %d %s", code, out)
	}
	if code, out, _ := s.ticketd(t, nil, "quarantine", "show", "1"); code != 0 || out != "\r\n\r\n" {
		t.Fatalf("quarantine show: %d %q", code, out)
	}
	if code, _, errs := s.ticketd(t, nil, "quarantine", "retry", "1"); code == 0 || !strings.Contains(errs, "still cannot be handled") {
		t.Fatalf("retry of a non-mail: %d %s", code, errs)
	}
	if code, _, _ := s.ticketd(t, nil, "quarantine", "drop", "1"); code != 0 {
		t.Fatal("quarantine drop failed")
	}
	if _, out, _ := s.ticketd(t, nil, "quarantine", "list"); strings.Contains(out, "not a mail") {
		t.Fatalf("dropped mail still listed: %s", out)
	}

	// A hostile attachment name is saved under a safe one, never outside DIR.
	hostile := strings.Replace(inquiry, `filename="screen.png"`, `filename="../../evil\r.png"`, 1)
	if code, _, errs := s.ticketd(t, []byte(hostile), "ingest"); code != 0 {
		t.Fatalf("ingest: %s", errs)
	}
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		if code, out, errs := s.ticketd(t, nil, "attachment", "get", "1", "1", "--out", dir); code != 0 {
			t.Fatalf("attachment get: %d %s %s", code, out, errs)
		}
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	// The quoted-pair \r in the header is an escaped "r" (RFC 5322 section
	// 3.2.4); the path separators become "_".
	if len(names) != 2 || names[0] != "_._evilr (1).png" || names[1] != "_._evilr.png" {
		t.Fatalf("saved as %v", names)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, names[1])); string(data) != "\x89PNG\r\n\x1a\n" {
		t.Fatalf("attachment bytes %q", data)
	}
	if code, _, errs := s.ticketd(t, nil, "attachment", "get", "1", "9", "--out", dir); code == 0 || !strings.Contains(errs, "has 1 attachments") {
		t.Fatalf("missing attachment: %d %s", code, errs)
	}
	// --out makes its directory.
	nested := filepath.Join(t.TempDir(), "a", "b")
	if code, _, errs := s.ticketd(t, nil, "attachment", "get", "1", "1", "--out", nested); code != 0 {
		t.Fatalf("attachment get into a new directory: %d %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(nested, "_._evilr.png")); err != nil {
		t.Errorf("not saved into the new directory: %v", err)
	}
	// A group of commands alone prints its own commands.
	if code, _, errs := s.ticketd(t, nil, "tickets"); code != exitUsage || !strings.Contains(errs, "tickets list") ||
		!strings.Contains(errs, "tickets show") || strings.Contains(errs, "quarantine") {
		t.Errorf("tickets alone: %d\n%s", code, errs)
	}

	// Suppressions: nothing listed, then removing an unknown address fails.
	if code, out, _ := s.ticketd(t, nil, "suppressions", "list"); code != 0 || !strings.Contains(out, "EMAIL") {
		t.Fatalf("suppressions list: %d %s", code, out)
	}
	if code, _, _ := s.ticketd(t, nil, "suppressions", "remove", "nobody@example.org"); code == 0 {
		t.Fatal("removing an unknown suppression succeeded")
	}
}

// TestCLIAgentCommands: --as takes an agent's address or configured name;
// pending, open and priority work like the mail commands; the assignee is
// shown in tickets list, show and the JSON; a wrong agent is an error in
// words.
func TestCLIAgentCommands(t *testing.T) {
	s := newStack(t, "agents: [{name: 김상담, email: agent@example.test}, {name: 이상담, email: lee.agent@example.test}]")
	if code, _, errs := s.ticketd(t, []byte(inquiry), "ingest"); code != 0 {
		t.Fatalf("ingest: %s", errs)
	}
	steps := [][]string{
		{"assign", "1", "이상담", "--as", "김상담"},
		{"pending", "1", "--as", "agent@example.test"},
		{"priority", "1", "high", "--as", "김상담"},
	}
	for _, args := range steps {
		if code, out, errs := s.ticketd(t, nil, args...); code != 0 {
			t.Fatalf("%v: exit %d %s %s", args, code, out, errs)
		}
	}
	v := s.show(t, 1)
	if v["assignee"] != "lee.agent@example.test" || v["status"] != "pending" || v["priority"] != "high" {
		t.Errorf("after the commands: assignee %v status %v priority %v", v["assignee"], v["status"], v["priority"])
	}
	// The CLI speaks the center's language (Korean here).
	if code, out, _ := s.ticketd(t, nil, "tickets", "list"); code != 0 || !strings.Contains(out, "담당 상담원") ||
		!strings.Contains(out, "lee.agent@example.test") || !strings.Contains(out, "고객 답변 대기") || strings.Contains(out, "pending") {
		t.Errorf("tickets list:\n%s", out)
	}
	code, out, _ := s.ticketd(t, nil, "tickets", "show", "1")
	if flat := strings.Join(strings.Fields(out), " "); code != 0 || !strings.Contains(flat, "담당 상담원: lee.agent@example.test") ||
		!strings.Contains(flat, "우선순위: 높음") || !strings.Contains(flat, "받음/고객") || !strings.Contains(flat, "내부 메모") {
		t.Errorf("tickets show:\n%s", out)
	}
	if code, _, _ := s.ticketd(t, nil, "open", "1", "--as", "이상담"); code != 0 {
		t.Error("open failed")
	}
	code, _, errs := s.ticketd(t, nil, "close", "1", "--as", "박아무개")
	if code == 0 || !strings.Contains(errs, "박아무개: 등록된 상담원이 아닙니다.") || !strings.Contains(errs, "이름이나 메일 주소") || strings.Contains(errs, "422") {
		t.Errorf("unknown agent: exit %d %s", code, errs)
	}
	if code, _, errs := s.ticketd(t, nil, "priority", "1", "urgent", "--as", "김상담"); code == 0 || !strings.Contains(errs, "low, normal, high 중 하나") {
		t.Errorf("bad priority: exit %d %s", code, errs)
	}
}

// TestCLIInEnglish: with center.language en the tables are English.
func TestCLIInEnglish(t *testing.T) {
	s := newStack(t, "")
	cfg, _ := os.ReadFile(s.cfg)
	os.WriteFile(s.cfg, []byte(strings.Replace(string(cfg), "center: {", "center: {language: en, ", 1)), 0o600)
	if code, _, errs := s.ticketd(t, []byte(inquiry), "ingest"); code != 0 {
		t.Fatalf("ingest: %s", errs)
	}
	if code, out, _ := s.ticketd(t, nil, "tickets", "list"); code != 0 || !strings.Contains(out, "STATUS") || !strings.Contains(out, "new") || strings.Contains(out, "신규") {
		t.Errorf("tickets list:\n%s", out)
	}
	if code, out, _ := s.ticketd(t, nil, "tickets", "show", "1"); code != 0 || !strings.Contains(out, "Ticket #1  [new]") || !strings.Contains(out, "in/customer") {
		t.Errorf("tickets show:\n%s", out)
	}
}
