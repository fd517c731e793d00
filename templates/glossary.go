package templates

import (
	"fmt"
	"strings"
	"time"

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

// cliTerms are the words of the command line's tables and labels, Korean
// and English, so an agent reads the CLI in the center's language too.
var cliTerms = map[string][2]string{
	"id": {"번호", "ID"}, "status": {"상태", "STATUS"}, "updated": {"최근 변경", "UPDATED"}, "messages": {"메일 수", "MSGS"},
	"group": {"담당 그룹", "GROUP"}, "category_label": {"분류", "Category"}, "group_label": {"담당 그룹", "Group"},
	"faq_label":         {"안내한 FAQ", "FAQ offered"},
	"merged_into_label": {"합쳐진 문의", "Merged into"}, "merged_label": {"합친 문의", "Merged"}, "split_from_label": {"나뉜 문의", "Split from"},
	"requester": {"고객", "REQUESTER"}, "assignee": {"담당 상담원", "ASSIGNEE"}, "subject": {"제목", "SUBJECT"},
	"ticket": {"문의", "Ticket"}, "requester_label": {"고객", "Requester"}, "assignee_label": {"담당 상담원", "Assignee"},
	"priority_label": {"우선순위", "Priority"}, "created_label": {"접수일시", "Created"}, "updated_label": {"최근 변경", "Updated"},
	"message": {"메일", "message"}, "from": {"보낸 사람", "from"}, "subject_label": {"제목", "Subject"},
	"attachment": {"첨부", "Attachment"}, "warning": {"주의", "Warning"}, "nobody": {"-", "-"},
	"search_none":    {"찾은 문의가 없습니다.", "No ticket found."},
	"search_unbuilt": {"검색 색인이 아직 없습니다. ticketd reindex로 만드세요 (serve가 실행 중이면 곧 자동으로 만들어집니다).", "The search index is not built yet: run ticketd reindex (a running serve builds it shortly)."},
	"search_no_word": {"검색할 단어가 없습니다: %q", "Nothing to search for in %q."},
	// Directions, kinds and deliveries of messages.
	"in": {"받음", "in"}, "out": {"보냄", "out"},
	"customer": {"고객", "customer"}, "agent": {"상담원", "agent"}, "auto": {"자동 안내", "auto"}, "note": {"내부 메모", "note"},
	"queued": {"발송 대기", "queued"}, "sent": {"발송됨", "sent"}, "failed": {"발송 실패", "failed"},
	// What the agent commands answer (fmt formats).
	"done_reply":    {"#%d: 답변을 고객에게 보내도록 발송 대기열에 넣었습니다.", "#%d: reply queued to the customer"},
	"done_note":     {"#%d: 내부 메모를 추가했습니다.", "#%d: note added"},
	"done_status":   {"#%d: 상태를 바꿨습니다: %s", "#%d: status %s"},
	"done_assign":   {"#%d: 담당 상담원을 지정했습니다: %s", "#%d: assigned to %s"},
	"done_priority": {"#%d: 우선순위를 바꿨습니다: %s", "#%d: priority %s"},
	"no_ticket":     {"#%d: 그런 문의가 없습니다.", "#%d: no such ticket"},
	"not_agent": {"%s: 등록된 상담원이 아닙니다. --as 또는 $TICKETD_AGENT에 설정된 상담원의 이름이나 메일 주소를 주십시오.",
		"%s is not a configured agent: give a configured agent's name or address (--as, $TICKETD_AGENT, or the agent to assign)"},
	// faq test's table and verdict.
	"faq_score": {"점수", "SCORE"}, "faq_offered": {"안내", "OFFERED"}, "faq_question": {"질문", "QUESTION"},
	"faq_none":       {"안내할 항목 없음 (점수 %.2f 이상인 항목이 없습니다).", "nothing would be offered (no entry scores %.2f or more)"},
	"faq_some":       {"접수 안내 메일에 %d개 항목을 안내합니다 (* 표시, 점수 %.2f 이상).", "the acknowledgement would offer %d entries (marked *, scoring %.2f or more)"},
	"done_merge":     {"#%d을(를) #%d에 합쳤습니다. #%[1]d(으)로 오는 메일도 #%[2]d에 연결됩니다.", "#%d merged into #%d: mail for #%[1]d threads into #%[2]d"},
	"done_split":     {"#%d의 메일을 새 문의 #%d(으)로 나누었습니다.", "#%d: split into the new ticket #%d"},
	"merge_self":     {"#%d: 같은 문의에 합칠 수 없습니다.", "#%d cannot be merged into itself"},
	"merged_already": {"#%d: 이미 다른 문의에 합쳐진 문의입니다. 합쳐진 문의에서 하십시오.", "#%d was merged into another ticket already: use that one"},
	"merge_erased":   {"#%d: 개인정보가 삭제된 문의는 합치거나 나눌 수 없습니다.", "#%d: an erased ticket is not merged or split"},
	"split_message":  {"#%d에 메일 %d이(가) 없습니다 (tickets show의 메일 번호를 쓰십시오).", "#%d has no message %d (use a message number tickets show prints)"},
	"split_all":      {"#%d: 메일 %d부터 모두 옮기면 남는 메일이 없습니다.", "#%d: moving everything from message %d on would leave it empty"},
	"done_group":     {"#%d: 담당 그룹을 바꿨습니다: %s", "#%d: moved to the group %s"},
	"not_group":      {"%s: 등록된 그룹이 아닙니다 (groups).", "%s is not a configured group (groups)"},
	// The demo's steps.
	"demo_start":           {"ticketd 데모: 내장 IMAP %s, SMTP %s, support@example.test의 받은편지함에 고객 메일 %d통이 있습니다.", "ticketd demo: embedded IMAP %s and SMTP %s, %d customer mails waiting in support@example.test's INBOX"},
	"demo_tickets":         {"접수된 문의:", "Tickets created:"},
	"demo_acks":            {"고객에게 전달된 접수 안내 메일 (%d/%d):", "Acknowledgements delivered (%d of %d):"},
	"demo_not_yet":         {"(아직 전달되지 않음)", "(not yet delivered)"},
	"demo_agent":           {"상담원의 차례 (%s <%s>):", "The agent's half (%s <%s>):"},
	"demo_no_notification": {"제시간에 상담원 알림 메일이 오지 않았습니다", "no notification arrived in time"},
	"demo_notified":        {"알림 받음:  제목: %s, 보낸 사람: %s, 회신 주소: %s", "notified:  Subject: %s, From: %s, Reply-To: %s"},
	"demo_reply_failed":    {"답변을 보내지 못했습니다: %v", "the reply could not be sent: %v"},
	"demo_replied":         {"답변함:    상담원의 메일 프로그램에서 %s(으)로", "replied:   to %s, from the agent's mail client"},
	"demo_delivered":       {"전달됨:    kim@example.test가 받은 메일 제목: %s, 보낸 사람: %s, In-Reply-To: <%s>", "delivered: kim@example.test got Subject: %s, From: %s, In-Reply-To: <%s>"},
	"demo_not_delivered":   {"제시간에 답변이 고객에게 전달되지 않았습니다", "the answer did not reach the customer in time"},
	"demo_running": {`데모는 계속 실행됩니다 (Ctrl-C로 멈춥니다). 아무 메일 프로그램으로 메일을 더 보내 보십시오:
  SMTP  %s  (TLS·인증 없음), 받는 사람 support@example.test
  IMAP  %s  (TLS 없음) 로그인: support@example.test, %s (상담원), %s, 비밀번호 %q
ticketd는 10초마다 메일을 가져옵니다. %s의 받은편지함에 온 알림 메일에 회신하면
고객이 그 답변을 받습니다. 다른 터미널에서:
  go run ./cmd/ticketd --config %s tickets list
  go run ./cmd/ticketd --config %s tickets show 1 --json
설정 파일(주석 포함): %s`, `The demo keeps running (Ctrl-C stops it). Send more mail with any client:
  SMTP  %s  (no TLS, no auth needed), to support@example.test
  IMAP  %s  (no TLS) logins: support@example.test, %s (the agent), %s, password %q
ticketd polls every 10 seconds. Reply to a notification in %s's INBOX and
the customer gets your answer. In another terminal:
  go run ./cmd/ticketd --config %s tickets list
  go run ./cmd/ticketd --config %s tickets show 1 --json
The configuration (commented): %s`},
	"demo_web":     {"상담원 웹 화면 (%s 상담원의 문의 목록과 검색, 브라우저로 여십시오):\n  %s", "The agents' web view (%s's queue and search; open it in a browser):\n  %s"},
	"demo_stopped": {"데모를 멈췄습니다", "demo stopped"},
	"audit_id":     {"번호", "ID"}, "audit_at": {"일시", "WHEN"}, "audit_who": {"누가", "WHO"}, "audit_action": {"무엇을", "ACTION"},
	"audit_reason": {"이유", "REASON"}, "audit_unmask": {"개인정보 보기", "unmask"},
	"audit_erase": {"삭제(익명화)", "erase"}, "audit_export": {"열람(내보내기)", "export"}, "audit_detail": {"내용", "DETAIL"}, "audit_purge": {"보존기간 만료 삭제", "purge"}, "audit_rotate": {"암호화 키 교체", "key rotation"}, "audit_web_view": {"웹에서 보기", "web view"},
	"hours_date": {"날짜", "DATE"}, "hours_day": {"요일", "DAY"}, "hours_open": {"상담 운영시간", "HOURS"},
	"hours_holiday": {"휴무", "closed"}, "hours_special": {"특별 운영", "special hours"}, "hours_closed": {"휴무 (정기)", "closed (weekly)"},
	"unmask_reason": {"--unmask에는 --reason으로 이유를 주십시오 (감사 기록에 남습니다).", "--unmask needs --reason: why the personal data is shown (it is kept in the audit log)"},
	"bad_priority":  {"%q: 우선순위는 low, normal, high 중 하나입니다.", "%q: the priority is low, normal or high"},
	"empty_text":    {"보낼 내용이 없습니다. 내용을 --file 또는 표준 입력으로 주십시오.", "nothing to send: give the text with --file or on standard input"},
}

// Term is the command line's word for key in language lang ("ko" or "en";
// Korean for anything else but English); the key itself when it has none.
func Term(lang, key string) string { return termOf(cliTerms, key, !isEnglish(lang)) }

// StatusName is a ticket status in language lang.
func StatusName(lang string, s ticket.Status) string { return statusName(s, !isEnglish(lang)) }

// PriorityName is a ticket priority in language lang.
func PriorityName(lang string, p ticket.Priority) string { return priorityName(p, !isEnglish(lang)) }

// Size is a size in bytes as people read it: "512 B", "12.0 KB", "3.4 MB".
func Size(n int64) string { return sizeText(n) }

// FileType names a content type in words in language lang ("PDF 문서").
func FileType(lang, contentType string) string { return fileType(contentType, !isEnglish(lang)) }

// WeekdayName is a weekday's short name in language lang: "월", "Mon".
func WeekdayName(lang string, d time.Weekday) string {
	if isEnglish(lang) {
		return enDays[d]
	}
	return koDays[d]
}

// IsEnglish reports whether lang is English (else the words are Korean).
func IsEnglish(lang string) bool { return isEnglish(lang) }

func isEnglish(lang string) bool {
	l := strings.ToLower(strings.TrimSpace(lang))
	return l == "en" || strings.HasPrefix(l, "en-") || strings.HasPrefix(l, "en_")
}

// fileTypes name the content types of attachments in words, by the type or
// its major part.
var fileTypes = []struct {
	prefix string
	ko, en string
}{
	{"application/pdf", "PDF 문서", "PDF document"},
	{"application/x-hwp", "한글 문서", "Hangul document"}, {"application/haansofthwp", "한글 문서", "Hangul document"},
	{"application/vnd.hancom", "한글 문서", "Hangul document"},
	{"application/msword", "워드 문서", "Word document"}, {"application/vnd.openxmlformats-officedocument.wordprocessingml", "워드 문서", "Word document"},
	{"application/vnd.ms-excel", "엑셀 문서", "Excel spreadsheet"}, {"application/vnd.openxmlformats-officedocument.spreadsheetml", "엑셀 문서", "Excel spreadsheet"},
	{"application/vnd.ms-powerpoint", "파워포인트 문서", "PowerPoint file"}, {"application/vnd.openxmlformats-officedocument.presentationml", "파워포인트 문서", "PowerPoint file"},
	{"application/zip", "압축 파일", "archive"}, {"application/x-zip", "압축 파일", "archive"}, {"application/x-7z", "압축 파일", "archive"},
	{"application/x-rar", "압축 파일", "archive"}, {"application/gzip", "압축 파일", "archive"},
	{"message/rfc822", "전달된 메일", "forwarded mail"},
	{"image/", "이미지", "image"}, {"video/", "동영상", "video"}, {"audio/", "음성 파일", "audio"}, {"text/", "텍스트", "text"},
}

// fileType names content type ct in words ("파일" / "file" when unknown).
func fileType(ct string, ko bool) string {
	ct = strings.ToLower(strings.TrimSpace(ct))
	for _, f := range fileTypes {
		if strings.HasPrefix(ct, f.prefix) {
			if ko {
				return f.ko
			}
			return f.en
		}
	}
	if ko {
		return "파일"
	}
	return "file"
}
