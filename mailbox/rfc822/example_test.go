package rfc822_test

import (
	"fmt"

	"golang.org/x/text/encoding/korean"

	"github.com/ticketd/ticketd/mailbox/rfc822"
)

// A Korean mail as older Korean clients send it: the body in EUC-KR, the
// header words in RFC 2047 (here base64 of EUC-KR).
func ExampleParse() {
	body, _ := korean.EUCKR.NewEncoder().String("햇살론 서류 제출 문의드립니다.\r\n")
	raw := "From: =?EUC-KR?B?sei/tcH4?= <kim@example.com>\r\n" +
		"To: support@example.com\r\n" +
		"Subject: =?EUC-KR?B?vK23+SDBpsPiIMDPwaQ=?=\r\n" +
		"Message-ID: <inq-1@example.com>\r\n" +
		"Date: Tue, 24 Nov 2026 10:00:00 +0900\r\n" +
		"Content-Type: text/plain; charset=euc-kr\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n\r\n" + body
	m, err := rfc822.Parse([]byte(raw), rfc822.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.From.Name, m.From.Email)
	fmt.Println(m.Subject)
	fmt.Println(m.MessageID, m.Date.Format("2006-01-02 15:04 -0700"))
	fmt.Print(m.Text)
	// Output:
	// 김영진 kim@example.com
	// 서류 제출 일정
	// inq-1@example.com 2026-11-24 10:00 +0900
	// 햇살론 서류 제출 문의드립니다.
}
