package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemoShowsTheWholeLoop: the demo runs with nothing else and shows the
// newcomer every step: tickets, acknowledgements, the agent's notification,
// the agent's reply and the customer receiving it threaded.
func TestDemoShowsTheWholeLoop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb lockedWriter
	done := make(chan int, 1)
	// run, not runChecked: the demo's loggers write stderr from several
	// goroutines, so it is a locked buffer, checked for panics below.
	go func() { done <- run(ctx, []string{"demo"}, nil, &out, &errb) }()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "데모는 계속 실행됩니다") {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("the demo did not get through in 60 s:\n%s\n%s", out.String(), errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The printed link opens the agent's queue in the web view.
	if m := regexp.MustCompile(`http://127\.0\.0\.1:\d+/login\?\S+`).FindString(out.String()); m == "" {
		t.Errorf("the demo printed no web link:\n%s", out.String())
	} else if code, body := get(m); code != 200 || !strings.Contains(body, "담당자가 없는 문의") {
		t.Errorf("the demo's web link: %d\n%s", code, body)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("demo exit %d\n%s", code, errb.String())
	}
	if panicLogged.MatchString(errb.String()) {
		t.Errorf("a panic was recovered:\n%s", errb.String())
	}
	for _, want := range []string{
		"고객에게 전달된 접수 안내 메일 (3/3)",
		"알림 받음:  제목: [#1] 햇살론 대출 상환일 변경 문의, 보낸 사람: 김민수 (서민금융 고객센터), 회신 주소: support+t1a-",
		"전달됨:    kim@example.test가 받은 메일 제목: [#1] Re: 햇살론 대출 상환일 변경 문의, 보낸 사람: 김상담 (서민금융 고객센터), In-Reply-To: <demo-ko-1@example.test>",
		"문의 #1  [처리 중]", "담당 상담원", "agent@example.test (상담원)", "설정 파일(주석 포함): ",
		"상담원 웹 화면 (김상담 상담원의 문의 목록과 검색, 브라우저로 여십시오):\n  http://127.0.0.1:",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out.String())
		}
	}
}
