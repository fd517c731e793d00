package templates_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/ticketd/ticketd/templates"
	"github.com/ticketd/ticketd/ticket"
)

// The acknowledgement of a new ticket, in Korean, rendered from the
// embedded templates ("" : no override directory). An inquiry that came
// in after hours is told when an answer can be expected.
func ExampleRenderer_Render() {
	r, err := templates.New("")
	if err != nil {
		fmt.Println(err)
		return
	}
	seoul, _ := time.LoadLocation("Asia/Seoul")
	out, err := r.Render("ack", "ko", ticket.TemplateData{
		TicketID: 1024, Subject: "햇살론 상환일 문의",
		Customer:   ticket.Address{Name: "김민수", Email: "kim@example.org"},
		CenterName: "서민금융 고객센터", SupportEmail: "support@example.com",
		Hours:   ticket.Hours{Days: []time.Weekday{1, 2, 3, 4, 5}, Open: 9 * time.Hour, Close: 18 * time.Hour, Loc: seoul},
		OpenNow: false, Now: time.Date(2026, 11, 24, 20, 0, 0, 0, seoul),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out.Subject)
	for _, line := range strings.Split(out.Text, "\n")[:7] {
		fmt.Println(line)
	}
	fmt.Println(strings.Contains(out.Text, "현재는 상담 운영시간이 아니므로"), out.HTML != "")
	// Output:
	// [#1024] 햇살론 상환일 문의
	// 김민수 고객님, 안녕하십니까.
	// 서민금융 고객센터입니다.
	//
	// 보내 주신 문의가 정상적으로 접수되었습니다.
	//
	//   접수번호: #1024
	//   제목: 햇살론 상환일 문의
	// true true
}
