package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ticketd/ticketd/ticket"
)

const routingBase = `data_dir: /x
center: {address: support@example.test}
mailboxes: [{host: 127.0.0.1, security: plain, username: u, password: p}]
smtp: {host: 127.0.0.1, security: plain}
agents: [{name: 김상담, email: kim@example.test}, {name: 이상담, email: lee@example.test}]
`

// TestRoutingConfigProblems: each mistake in groups, routing, identities
// and faq is an error naming its key.
func TestRoutingConfigProblems(t *testing.T) {
	faq := filepath.Join(t.TempDir(), "faq.yaml")
	for extra, key := range map[string]string{
		"groups: [{name: 대출팀, members: [nobody@example.test]}]":                                    "groups[0].members[0]",
		"groups: [{name: 대출팀, members: [kim@example.test]}, {name: 대출팀, address: a@example.test}]": "groups[1].name",
		"groups: [{name: 빈팀}]": "groups[0]",
		"routing: [{name: a, group: 없는팀, match: {to: [loan@example.test]}}]":                     "routing[0].group",
		"routing: [{name: a, category: x}]":                                                      "routing[0].match",
		"routing: [{name: a, match: {to: [loan]}}]":                                              "routing[0].match.to[0]",
		"routing: [{name: a, match: {to: [\"[@x\"]}}]":                                           "routing[0].match.to[0]",
		"routing: [{name: a, match: {body: [\" \"]}}]":                                           "routing[0].match.body[0]",
		"center: {address: support@example.test, identities: [{address: nope}]}":                 "center.identities[0].address",
		"center: {address: support@example.test, identities: [{address: support@example.test}]}": "center.identities[0].address",
		"center: {address: support@example.test, identities: [{address: kim@example.test}]}":     "center.identities[0].address",
		"faq: {file: " + faq + "}":                                                               "faq.file",
		"faq: {suggest: 0}":                                                                      "faq.suggest",
		"faq: {min_score: 1.5}":                                                                  "faq.min_score",
		"faq: {synonyms: [\"비번 비밀번호\"]}":                                                         "faq.synonyms[0]",
	} {
		text := routingBase + extra + "\n"
		if strings.HasPrefix(extra, "center:") {
			text = strings.Replace(routingBase, "center: {address: support@example.test}\n", "", 1) + extra + "\n"
		}
		wantKeyError(t, text, key, extra)
	}
}

// TestFAQFile: the file loads with its entries checked (an id twice, a
// javascript: url, an unknown field and an empty file are errors naming
// the entry); serve's source keeps the last good FAQ when the file goes
// bad, and takes a good change.
func TestFAQFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "faq.yaml")
	good := "- id: a\n  question: 비밀번호를 잊어버렸어요\n  answer: 재설정하세요.\n  url: https://faq.example.test/1\n"
	for bad, want := range map[string]string{
		good + good: "used twice",
		"- id: a\n  question: q\n  url: javascript:alert(1)\n": "want an http or https address",
		"- id: a\n  question: q\n  keywords: x\n":              "field keywords not found",
		"":                                 "no entries",
		"- id: a\n  answer: no question\n": "has no question",
		"id: a\n":                          "want a YAML list",
	} {
		writeFile(t, path, bad)
		if _, err := loadFAQ(path, ticket.FAQOptions{Max: 3}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", bad, err, want)
		}
	}
	writeFile(t, path, good)
	x, err := loadFAQ(path, ticket.FAQOptions{Max: 3, MinScore: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedWriter
	src := newFAQSource(path, ticket.FAQOptions{Max: 3, MinScore: 0.3}, x, newLogger(&logs, LogConfig{}, nil))
	if got := src.Suggest("비번", "비밀번호를 잊어버렸어요 어떻게 하죠"); len(got) != 1 || got[0].ID != "a" {
		t.Fatalf("suggest: %+v", got)
	}
	writeFile(t, path, "- id: [broken\n")
	src.Reload(false)
	if got := src.Suggest("", "비밀번호를 잊어버렸어요"); len(got) != 1 || !strings.Contains(logs.String(), "the last good one stays in use") || !src.failing() || src.entries() != 1 {
		t.Fatalf("a bad file: suggestions %+v, log %q", got, logs.String())
	}
	// A good change (a later mtime) is taken without a restart.
	writeFile(t, path, "- id: b\n  question: 상담 운영시간은 언제인가요\n  answer: 평일 9시부터 6시까지입니다.\n")
	later := time.Now().Add(2 * time.Second)
	os.Chtimes(path, later, later)
	src.Reload(false)
	if got := src.Suggest("", "상담 운영시간은 언제인가요"); len(got) != 1 || got[0].ID != "b" || src.failing() {
		t.Fatalf("after a good change: %+v", got)
	}
}

// TestRoutingThroughTheCLI: a mail to the loan alias is routed to the loan
// group, acknowledged from the alias with the FAQ entry that answers it;
// tickets list filters by category and group; faq test prints the scores;
// assign --group moves the ticket.
func TestRoutingThroughTheCLI(t *testing.T) {
	faq := filepath.Join(t.TempDir(), "faq.yaml")
	writeFile(t, faq, `- id: repay-date
  question: 대출 상환일(납입일)을 변경할 수 있나요?
  answer: |
    상환일은 대출 실행 후 1회 변경할 수 있습니다.
    앱의 [MY > 대출관리 > 상환일 변경]에서 신청하세요.
  url: https://faq.example.test/12
- id: hours
  question: 상담 운영시간은 어떻게 되나요?
  answer: 평일 09:00-18:00입니다.
  url: https://faq.example.test/1
`)
	s := newStack(t, `agents: [{name: 김상담, email: agent@example.test}]
groups: [{name: 대출팀, members: [agent@example.test]}, {name: 채무조정팀, address: debt-team@example.test}]
routing: [{name: loan, category: 대출, group: 대출팀, match: {to: [loan@example.test]}}]
default_category: 기타
faq: {file: `+faq+`}`)
	cfg := strings.Replace(readFile(t, s.cfg), "center: {name: \"서민금융 고객센터\", address: support@example.test}",
		"center: {name: \"서민금융 고객센터\", address: support@example.test, identities: [{address: loan@example.test, name: 서민금융 대출상담}]}", 1)
	writeFile(t, s.cfg, cfg)
	raw := "From: 김고객 <kim@example.test>\r\nTo: loan@example.test\r\nSubject: =?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte("납입일 문의")) + "?=\r\nMessage-ID: <rt1@example.test>\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n월급날이 바뀌어서 상환일을 바꾸고 싶어요.\r\n"
	if code, _, errs := s.ticketd(t, []byte(raw), "ingest"); code != 0 {
		t.Fatalf("ingest: %s", errs)
	}
	other := "From: lee@example.org\r\nTo: support@example.test\r\nSubject: hello\r\nMessage-ID: <rt2@example.test>\r\n\r\nthanks\r\n"
	if code, _, errs := s.ticketd(t, []byte(other), "ingest"); code != 0 {
		t.Fatalf("ingest: %s", errs)
	}
	v := s.view(t, 1)
	if v.Category != "대출" || v.Group != "대출팀" || v.Identity != "loan@example.test" || len(v.Suggested) != 1 || v.Suggested[0].ID != "repay-date" {
		t.Fatalf("ticket 1: %+v", v)
	}
	if w := s.view(t, 2); w.Category != "기타" || w.Group != "" || len(w.Suggested) != 0 {
		t.Fatalf("ticket 2: %+v", w)
	}
	code, out, _ := s.ticketd(t, nil, "tickets", "list", "--group", "대출팀", "--json")
	var ts []ticket.Ticket
	if code != 0 || json.Unmarshal([]byte(out), &ts) != nil || len(ts) != 1 || ts[0].ID != 1 {
		t.Fatalf("list --group: exit %d %s", code, out)
	}
	code, out, _ = s.ticketd(t, nil, "tickets", "list", "--category", "기타")
	if code != 0 || !strings.Contains(out, "#2") || strings.Contains(out, "#1 ") {
		t.Fatalf("list --category: exit %d %s", code, out)
	}
	eml := filepath.Join(s.dir, "q.eml")
	writeFile(t, eml, raw)
	code, out, errs := s.ticketd(t, nil, "faq", "test", eml)
	if code != 0 || !strings.Contains(out, "repay-date") || !strings.Contains(out, "*") || !strings.Contains(out, "1개 항목을 안내합니다") {
		t.Fatalf("faq test: exit %d %s%s", code, out, errs)
	}
	code, out, errs = s.ticketd(t, nil, "assign", "1", "--group", "채무조정팀", "--as", "agent@example.test")
	if code != 0 || s.view(t, 1).Group != "채무조정팀" {
		t.Fatalf("assign --group: exit %d %s%s", code, out, errs)
	}
	if code, _, errs := s.ticketd(t, nil, "assign", "1", "--group", "없는팀", "--as", "agent@example.test"); code == 0 || !strings.Contains(errs, "등록된 그룹이 아닙니다") {
		t.Fatalf("assign --group to no group: exit %d %s", code, errs)
	}
}

// view is tickets show --json of ticket id, decoded.
func (s *testStack) view(t *testing.T, id int) ticketView {
	t.Helper()
	code, out, errs := s.ticketd(t, nil, "tickets", "show", strconv.Itoa(id), "--json")
	var v ticketView
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
		t.Fatalf("tickets show %d: exit %d %s%s", id, code, out, errs)
	}
	return v
}
