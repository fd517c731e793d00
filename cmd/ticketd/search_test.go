package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ticketd/ticketd/ticket"
)

// tickets search finds Korean words inside words and across spaces, on
// the database and over the admin socket while serve runs; reindex builds
// the index afresh either way.
func TestSearchThroughTheCLI(t *testing.T) {
	s := newStack(t, "")
	for i, x := range []struct{ subject, body string }{
		{"대출 문의", "햇살론 대출신청이 안 됩니다."},
		{"로그인 문제", "앱에서 로그인이 안돼요. 제 번호는 010-1234-5678입니다."},
	} {
		raw := "From: kim@example.test\r\nTo: support@example.test\r\nSubject: =?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte(x.subject)) + "?=\r\n" +
			"Message-ID: <sr" + string(rune('1'+i)) + "@example.test>\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + x.body + "\r\n"
		if code, _, errs := s.ticketd(t, []byte(raw), "ingest"); code != 0 {
			t.Fatalf("ingest: %s", errs)
		}
	}
	find := func(want []uint64, args ...string) {
		t.Helper()
		code, out, errs := s.ticketd(t, nil, append([]string{"tickets", "search", "--json"}, args...)...)
		var hits []ticket.SearchHit
		if code != 0 || json.Unmarshal([]byte(out), &hits) != nil {
			t.Fatalf("tickets search %v: exit %d %s%s", args, code, out, errs)
		}
		var got []uint64
		for _, h := range hits {
			got = append(got, h.Ticket.ID)
		}
		if len(got) != len(want) || (len(want) > 0 && got[0] != want[0]) {
			t.Fatalf("tickets search %v = %v, want %v", args, got, want)
		}
	}
	find([]uint64{1}, "대출")
	find([]uint64{2}, "로그인안돼요")
	find(nil, "1234") // masked before indexing (010-****-5678)
	find(nil, "대출", "--status", "solved")
	code, out, _ := s.ticketd(t, nil, "tickets", "search", "채무조정")
	if code != 0 || !strings.Contains(out, "찾은 문의가 없습니다") {
		t.Fatalf("no hit: exit %d %s", code, out)
	}
	if code, _, errs := s.ticketd(t, nil, "tickets", "search", "앱", "--from", "yesterday"); code == 0 || !strings.Contains(errs, "--from") {
		t.Fatalf("a bad --from: exit %d %s", code, errs)
	}
	if code, _, errs := s.ticketd(t, nil, "tickets", "search", "?!"); code == 0 || !strings.Contains(errs, "검색할 단어가 없습니다") {
		t.Fatalf("a query without a word: exit %d %s", code, errs)
	}
	if code, out, errs := s.ticketd(t, nil, "reindex"); code != 0 || !strings.Contains(out, "2 tickets") {
		t.Fatalf("reindex: exit %d %s%s", code, out, errs)
	}
	find([]uint64{2}, "앱")

	// The same over the admin socket.
	serveInBackground(t, s.cfg)
	waitFor(t, 10*time.Second, func() string {
		if _, ok := dialAdmin(filepath.Join(s.dir, "ticketd.sock")); !ok {
			return "the admin socket does not answer"
		}
		return ""
	})
	find([]uint64{1}, "대출신청")
	if code, _, errs := s.ticketd(t, nil, "tickets", "search", "?!"); code == 0 || !strings.Contains(errs, "검색할 단어가 없습니다") {
		t.Fatalf("a query without a word over the socket: exit %d %s", code, errs)
	}
	if code, out, errs := s.ticketd(t, nil, "reindex"); code != 0 || !strings.Contains(out, "2 tickets") {
		t.Fatalf("reindex over the socket: exit %d %s%s", code, out, errs)
	}
	code, out, _ = s.ticketd(t, nil, "tickets", "search", "로그인", "안돼요")
	if code != 0 || !strings.Contains(out, "#2") || strings.Contains(out, "#1 ") {
		t.Fatalf("search over the socket: exit %d %s", code, out)
	}
}

// A failing search follower is a /healthz warning from its first failure
// until it works again.
func TestIndexStateWarns(t *testing.T) {
	var s indexState
	t0 := time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC)
	if s.set("indexing", nil, t0) || s.warning() != "" {
		t.Fatal("a working follower warns")
	}
	if s.set("indexing the changed tickets", errors.New("disk I/O error"), t0) {
		t.Fatal("the first failure was failing before")
	}
	if !s.set("indexing the changed tickets", errors.New("still broken"), t0.Add(time.Minute)) {
		t.Fatal("the second failure was not failing before")
	}
	if w := s.warning(); !strings.Contains(w, "still broken") || !strings.Contains(w, "2026-12-03T01:00:00Z") {
		t.Fatalf("warning %q: want the last error and the first failure's time", w)
	}
	if !s.set("indexing", nil, t0.Add(2*time.Minute)) || s.warning() != "" {
		t.Fatal("a follower that works again still warns")
	}
}
