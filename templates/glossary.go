package templates

import (
	"fmt"

	"github.com/ticketd/ticketd/ticket"
)

// The words people read for the center's things, one per concept and
// language, so that every mail says the same: the acknowledgement's
// 접수번호 is the reply footer's 접수번호. Templates use them through the
// "status" and "size" functions; the fixed words are written in the
// templates as listed here, and TestGlossary checks that no Korean template
// uses another word for them.
//
//	concept        ko          en
//	ticket number  접수번호     ticket number
//	agent          상담원       agent
//	answer         답변         answer
//	inquiry        문의         inquiry
var statusNames = map[ticket.Status][2]string{
	ticket.StatusNew:     {"신규", "new"},
	ticket.StatusOpen:    {"처리 중", "open"},
	ticket.StatusPending: {"고객 답변 대기", "waiting for the customer"},
	ticket.StatusSolved:  {"해결됨", "solved"},
	ticket.StatusClosed:  {"종료", "closed"},
}

var priorityNames = map[ticket.Priority][2]string{
	ticket.PriorityLow:    {"낮음", "low"},
	ticket.PriorityNormal: {"보통", "normal"},
	ticket.PriorityHigh:   {"높음", "high"},
}

// notGlossary are words Korean templates must not use, with the glossary's
// word for the same thing.
var notGlossary = map[string]string{
	"문의번호": "접수번호", "티켓번호": "접수번호", "티켓": "문의", "상담사": "상담원", "담당자": "상담원",
}

// statusName is a ticket status in the reader's language.
func statusName(s ticket.Status, ko bool) string { return termOf(statusNames, s, ko) }

// priorityName is a ticket priority in the reader's language.
func priorityName(p ticket.Priority, ko bool) string { return termOf(priorityNames, p, ko) }

// termOf is the word for k in the reader's language, or k itself when the
// table has none.
func termOf[K ~string](table map[K][2]string, k K, ko bool) string {
	n, ok := table[k]
	switch {
	case !ok:
		return string(k)
	case ko:
		return n[0]
	}
	return n[1]
}

// sizeText is a size in bytes as people read it: "512 B", "12.0 KB",
// "3.4 MB" (the units are the same in Korean mail).
func sizeText(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}
