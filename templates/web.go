package templates

import (
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"time"

	"github.com/ticketd/ticketd/ticket"
)

// The web view's pages (web/*.html) and its style sheet (web/static).
//
//go:embed web
var webFiles embed.FS

// webTerms are the words of the web view, Korean and English.
var webTerms = map[string][2]string{
	"title":            {"상담 문의", "Tickets"},
	"queue":            {"내 문의 목록", "My queue"},
	"search":           {"검색", "Search"},
	"search_button":    {"찾기", "Search"},
	"search_hint":      {"제목, 고객, 메일 내용에서 찾기 (예: 대출 상환일)", "Words of subjects, requesters and messages"},
	"any_status":       {"모든 상태", "Any status"},
	"found":            {"찾은 문의 %d건", "%d tickets found"},
	"mine":             {"내가 담당한 문의", "Assigned to me"},
	"unassigned":       {"담당자가 없는 문의", "Unassigned"},
	"overdue":          {"기한이 지난 문의", "Overdue"},
	"filtered":         {"조건에 맞는 문의", "Matching tickets"},
	"filter":           {"보기", "Show"},
	"any_group":        {"모든 그룹", "Any group"},
	"any_category":     {"모든 분류", "Any category"},
	"empty":            {"없습니다.", "None."},
	"more":             {"외 %d건은 검색이나 명령줄(ticketd tickets list)로 보십시오.", "%d more: use search or ticketd tickets list."},
	"category":         {"분류", "Category"},
	"group":            {"담당 그룹", "Group"},
	"assignee":         {"담당 상담원", "Assignee"},
	"status":           {"상태", "Status"},
	"priority":         {"우선순위", "Priority"},
	"requester":        {"고객", "Requester"},
	"participants":     {"참여자", "Participants"},
	"created":          {"접수일시", "Created"},
	"updated":          {"최근 변경", "Updated"},
	"due_first":        {"첫 답변 기한", "First response due"},
	"due_resolution":   {"해결 기한", "Resolution due"},
	"responded":        {"첫 답변", "First response"},
	"overdue_mark":     {"기한 초과", "overdue"},
	"faq":              {"고객에게 안내한 자주 묻는 질문", "FAQ entries offered to the customer"},
	"subject":          {"제목", "Subject"},
	"number":           {"번호", "No."},
	"nobody":           {"없음", "nobody"},
	"messages":         {"메일 %d통", "%d messages"},
	"to":               {"받는 사람", "To"},
	"cc":               {"참조", "Cc"},
	"show_quoted":      {"인용된 내용과 전체 본문 보기", "Show quoted text and the whole message"},
	"attachments":      {"첨부 파일", "Attachments"},
	"inline":           {"본문 이미지", "in the message"},
	"delivery":         {"발송 상태", "Delivery"},
	"automatic":        {"자동 발송 메일로 판단됨", "Judged machine-sent"},
	"warnings":         {"주의", "Warnings"},
	"erased":           {"개인정보 삭제(익명화)됨", "Personal data erased"},
	"masked":           {"개인정보는 가려서 보여 줍니다. 읽기 전용입니다.", "Personal data is shown masked. Read-only."},
	"follows":          {"이어지는 이전 문의", "Follows ticket"},
	"merged_into":      {"합쳐진 문의", "Merged into"},
	"merged":           {"합친 문의", "Merged here"},
	"split_from":       {"나뉘어 나온 문의", "Split from"},
	"forbidden":        {"이 페이지를 볼 수 없습니다", "You cannot see this page"},
	"forbidden_text":   {"링크가 없거나, 다른 상담원의 것이거나, 서명이 맞지 않습니다. 알림 메일의 링크로 여십시오.", "The link is missing, another agent's or not signed right. Open it from a notification."},
	"expired_text":     {"링크의 유효기간이 지났습니다. 최근 알림 메일의 링크로 여십시오.", "The link has expired. Open it from a recent notification."},
	"not_agent_text":   {"등록된 상담원만 볼 수 있습니다.", "Only configured agents can see this."},
	"not_found":        {"찾을 수 없습니다", "Not found"},
	"not_found_text":   {"그런 문의나 첨부 파일이 없습니다.", "There is no such ticket or attachment."},
	"failed":           {"문제가 생겼습니다", "Something went wrong"},
	"failed_text":      {"페이지를 만들지 못했습니다. 운영자에게 알려 주십시오 (ticketd 로그).", "The page could not be made; tell the operator (ticketd's log)."},
	"signed_in":        {"상담원", "Agent"},
	"logout":           {"로그아웃", "Sign out"},
	"signed_out":       {"로그아웃했습니다", "Signed out"},
	"signed_out_text":  {"다시 보려면 알림 메일의 링크를 여십시오.", "Open a notification's link to come back."},
	"no_message_text":  {"(본문 없음)", "(no text)"},
	"kind_customer":    {"고객", "Customer"},
	"kind_agent":       {"상담원", "Agent"},
	"kind_auto":        {"자동 메일", "Automatic"},
	"kind_note":        {"내부 메모", "Note"},
	"delivery_queued":  {"발송 대기", "queued"},
	"delivery_sent":    {"발송됨", "sent"},
	"delivery_failed":  {"발송 실패", "failed"},
	"direction_in":     {"받음", "received"},
	"direction_out":    {"보냄", "sent by us"},
	"coverage":         {"일치", "match"},
	"search_no_word":   {"검색할 단어가 없습니다.", "Nothing to search for."},
	"search_unbuilt":   {"검색 색인을 만드는 중입니다. 잠시 뒤에 다시 찾으십시오.", "The search index is being built; search again shortly."},
	"search_bad_query": {"검색 조건이 맞지 않습니다.", "The search is not valid."},
}

// WebTerm is the web view's word for key in language lang.
func WebTerm(lang, key string) string { return termOf(webTerms, key, !isEnglish(lang)) }

// Web renders the pages of the web view in one language. It is safe for
// concurrent use.
type Web struct {
	t *htmltemplate.Template
}

// NewWeb parses the web view's pages for language lang, formatting times
// in loc.
func NewWeb(lang string, loc *time.Location) (*Web, error) {
	ko := !isEnglish(lang)
	fm := htmltemplate.FuncMap{
		"t":          func(key string) string { return termOf(webTerms, key, ko) },
		"tf":         func(key string, args ...any) string { return fmt.Sprintf(termOf(webTerms, key, ko), args...) },
		"status":     func(s ticket.Status) string { return statusName(s, ko) },
		"priority":   func(p ticket.Priority) string { return priorityName(p, ko) },
		"datetime":   func(t time.Time) string { return formatDateTime(t, loc, ko) },
		"size":       sizeText,
		"filetype":   func(ct string) string { return fileType(ct, ko) },
		"paragraphs": webParagraphs,
		"lang": func() string {
			if ko {
				return "ko"
			}
			return "en"
		},
	}
	t, err := htmltemplate.New("web").Funcs(fm).ParseFS(webFiles, "web/*.html")
	if err != nil {
		return nil, fmt.Errorf("web templates: %w", err)
	}
	return &Web{t: t}, nil
}

// Render writes page (a file of web/ without its .html) with data.
func (w *Web) Render(wr io.Writer, page string, data any) error {
	return w.t.ExecuteTemplate(wr, page+".html", data)
}

// WebStatic holds the files the pages link to (style.css), served as they
// are.
func WebStatic() fs.FS {
	sub, err := fs.Sub(webFiles, "web/static")
	if err != nil {
		panic(err) // the directory is embedded
	}
	return sub
}

// webParagraphs renders text as HTML paragraphs without inline styles
// (the view's Content-Security-Policy allows none).
func webParagraphs(text string) htmltemplate.HTML { return paragraphsWith(text, "<p>") }
