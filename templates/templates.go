package templates

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"

	"github.com/ticketd/ticketd/ticket"
)

// DefaultLang is the language used when Render is called with an empty
// language.
const DefaultLang = "ko"

//go:embed default
var embedded embed.FS

// embeddedRoot is the directory inside embedded that holds <lang>/ folders.
const embeddedRoot = "default"

// Template parts, the middle component of <name>.<part>.tmpl.
const (
	partSubject = "subject"
	partText    = "txt"
	partHTML    = "html"
)

// layoutName is the name of a language's partials: <lang>/layout.txt.tmpl
// and <lang>/layout.html.tmpl hold {{define}}d templates that every txt or
// html template of that language may call (the frame, header and footer of
// the center's mails). A layout is not a mail of its own.
const layoutName = "layout"

// Renderer renders the embedded templates, possibly overridden from a
// directory. It is safe for concurrent use; it never changes after New.
type Renderer struct {
	// langs maps a language tag to its templates by name.
	langs map[string]map[string]*set
}

var _ ticket.Renderer = (*Renderer)(nil)

// set holds the parts of one named template in one language.
type set struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template // may be nil
	// origin names the file each part came from, for error messages.
	origin map[string]string
}

// source is one template file to parse.
type source struct {
	lang, name, part string
	origin           string // "embedded:default/ko/ack.txt.tmpl" or a file path
	body             string
}

// New parses the embedded templates and, if dir is not empty, the files in
// dir that override or add to them (see the package documentation for the
// layout). Every template is parsed and trial-executed with sample data; the
// first failure is returned and names the file.
func New(dir string) (*Renderer, error) {
	sources := map[string]source{} // by lang/name.part
	err := fs.WalkDir(embedded, embeddedRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel := strings.TrimPrefix(p, embeddedRoot+"/")
		s, err := parseName(rel)
		if err != nil {
			return fmt.Errorf("embedded %s: %w", p, err)
		}
		b, err := embedded.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read embedded %s: %w", p, err)
		}
		s.origin, s.body = "embedded:"+p, string(b)
		sources[rel] = s
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}

	if dir != "" {
		if err := readDir(dir, sources); err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
	}

	r := &Renderer{langs: map[string]map[string]*set{}}
	layouts := map[string]source{} // by lang/part
	keys := make([]string, 0, len(sources))
	for k, s := range sources {
		if s.name == layoutName {
			if s.part == partSubject {
				return nil, fmt.Errorf("templates: %s: a layout has txt and html parts only", s.origin)
			}
			layouts[s.lang+"/"+s.part] = s
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic: the same file fails first every time
	for _, k := range keys {
		s := sources[k]
		if err := r.add(s, layouts); err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
	}
	for _, lang := range r.Languages() {
		for name, st := range r.langs[lang] {
			if st.subject == nil || st.text == nil {
				missing := partSubject
				if st.subject != nil {
					missing = partText
				}
				return nil, fmt.Errorf("templates: %s/%s.%s.tmpl is missing (every template needs a subject and a txt part)", lang, name, missing)
			}
			for _, d := range sampleData() {
				if _, err := render(st, d); err != nil {
					return nil, fmt.Errorf("templates: %w", err)
				}
			}
		}
	}
	return r, nil
}

// readDir adds the .tmpl files of an override directory to sources.
func readDir(dir string, sources map[string]source) error {
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("override directory: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("override directory %s is not a directory", dir)
	}
	return fs.WalkDir(os.DirFS(dir), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", filepath.Join(dir, filepath.FromSlash(p)), err)
		}
		if d.IsDir() || !strings.HasSuffix(p, ".tmpl") {
			return nil
		}
		full := filepath.Join(dir, filepath.FromSlash(p))
		s, err := parseName(p)
		if err != nil {
			return fmt.Errorf("%s: %w", full, err)
		}
		b, err := os.ReadFile(full)
		if err != nil {
			return fmt.Errorf("read %s: %w", full, err)
		}
		s.origin, s.body = full, string(b)
		sources[p] = s
		return nil
	})
}

// parseName splits "ko/ack.txt.tmpl" into its language, name and part.
func parseName(rel string) (source, error) {
	lang, file, ok := strings.Cut(rel, "/")
	if !ok || strings.Contains(file, "/") || lang == "" {
		return source{}, fmt.Errorf("want <lang>/<name>.<part>.tmpl, got %q", rel)
	}
	base, ok := strings.CutSuffix(file, ".tmpl")
	if !ok {
		return source{}, fmt.Errorf("want <lang>/<name>.<part>.tmpl, got %q", rel)
	}
	dot := strings.LastIndexByte(base, '.')
	if dot <= 0 {
		return source{}, fmt.Errorf("want <lang>/<name>.<part>.tmpl, got %q", rel)
	}
	name, part := base[:dot], base[dot+1:]
	switch part {
	case partSubject, partText, partHTML:
	default:
		return source{}, fmt.Errorf("unknown part %q in %q (want subject, txt or html)", part, rel)
	}
	return source{lang: strings.ToLower(lang), name: name, part: part}, nil
}

// add parses one source into r, with its language's layout for its part.
func (r *Renderer) add(s source, layouts map[string]source) error {
	byName := r.langs[s.lang]
	if byName == nil {
		byName = map[string]*set{}
		r.langs[s.lang] = byName
	}
	st := byName[s.name]
	if st == nil {
		st = &set{origin: map[string]string{}}
		byName[s.name] = st
	}
	funcs := funcMap(s.lang)
	tmplName := s.lang + "/" + s.name + "." + s.part + ".tmpl"
	layout, hasLayout := layouts[s.lang+"/"+s.part]
	switch s.part {
	case partHTML:
		t, err := htmltemplate.New(tmplName).Funcs(htmltemplate.FuncMap(funcs)).Parse(s.body)
		if err != nil {
			return fmt.Errorf("parse %s: %w", s.origin, err)
		}
		if hasLayout {
			if _, err := t.New(layoutName).Parse(layout.body); err != nil {
				return fmt.Errorf("parse %s: %w", layout.origin, err)
			}
		}
		st.html = t
	default:
		t, err := texttemplate.New(tmplName).Funcs(funcs).Parse(s.body)
		if err != nil {
			return fmt.Errorf("parse %s: %w", s.origin, err)
		}
		if hasLayout && s.part == partText {
			if _, err := t.New(layoutName).Parse(layout.body); err != nil {
				return fmt.Errorf("parse %s: %w", layout.origin, err)
			}
		}
		if s.part == partSubject {
			st.subject = t
		} else {
			st.text = t
		}
	}
	st.origin[s.part] = s.origin
	return nil
}

// Languages lists the languages that have at least one template, sorted.
func (r *Renderer) Languages() []string {
	out := make([]string, 0, len(r.langs))
	for l := range r.langs {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Render renders template name in language lang ("" means [DefaultLang]). A
// language with a region ("ko-KR", "en_US") falls back to its base language
// when there is no exact match. An unknown language or template is an error.
// The subject is always a single line without control characters.
func (r *Renderer) Render(name, lang string, data ticket.TemplateData) (ticket.Rendered, error) {
	l, err := r.lang(lang)
	if err != nil {
		return ticket.Rendered{}, err
	}
	st := r.langs[l][name]
	if st == nil {
		return ticket.Rendered{}, fmt.Errorf("templates: no template %q in language %q (want %s/%s.subject.tmpl and %s/%s.txt.tmpl)", name, l, l, name, l, name)
	}
	return render(st, data)
}

// lang resolves a requested language to a loaded one.
func (r *Renderer) lang(lang string) (string, error) {
	l := strings.ToLower(strings.TrimSpace(lang))
	if l == "" {
		l = DefaultLang
	}
	if _, ok := r.langs[l]; ok {
		return l, nil
	}
	if base, _, ok := strings.Cut(strings.ReplaceAll(l, "_", "-"), "-"); ok {
		if _, ok := r.langs[base]; ok {
			return base, nil
		}
	}
	return "", fmt.Errorf("templates: unknown language %q (have %s)", lang, strings.Join(r.Languages(), ", "))
}

// render executes all parts of st.
func render(st *set, data ticket.TemplateData) (ticket.Rendered, error) {
	var out ticket.Rendered
	var buf bytes.Buffer
	if err := st.subject.Execute(&buf, data); err != nil {
		return out, fmt.Errorf("render %s: %w", st.origin[partSubject], err)
	}
	out.Subject = oneLine(buf.String())
	buf.Reset()
	if err := st.text.Execute(&buf, data); err != nil {
		return out, fmt.Errorf("render %s: %w", st.origin[partText], err)
	}
	out.Text = buf.String()
	if st.html != nil {
		buf.Reset()
		if err := st.html.Execute(&buf, data); err != nil {
			return out, fmt.Errorf("render %s: %w", st.origin[partHTML], err)
		}
		out.HTML = buf.String()
	}
	return out, nil
}

// oneLine makes s safe for a header line: every control character (CR, LF,
// TAB, NUL, ...) and Unicode line or paragraph separator becomes a space,
// runs of spaces collapse to one, and the result is trimmed.
func oneLine(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, c := range s {
		if unicode.IsControl(c) || unicode.IsSpace(c) || c == '\u2028' || c == '\u2029' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(c)
	}
	return b.String()
}

// funcMap returns the template functions for a language.
func funcMap(lang string) texttemplate.FuncMap {
	ko := lang == "ko"
	return texttemplate.FuncMap{
		"hours":    func(h ticket.Hours) string { return formatHours(h, ko) },
		"days":     func(h ticket.Hours) string { return formatDays(h, ko) },
		"mb":       func(n int64) string { return fmt.Sprintf("%.1f", float64(n)/(1<<20)) },
		"size":     sizeText,
		"status":   func(s ticket.Status) string { return statusName(s, ko) },
		"priority": func(p ticket.Priority) string { return priorityName(p, ko) },
		// when formats a time in the center's zone: "12월 2일 14:05" or
		// "Dec 2, 14:05".
		"when": func(t time.Time, h ticket.Hours) string {
			if h.Loc != nil {
				t = t.In(h.Loc)
			}
			if ko {
				return fmt.Sprintf("%d월 %d일 %s", t.Month(), t.Day(), t.Format("15:04"))
			}
			return t.Format("Jan 2, 15:04")
		},
		// opening is when the center opens: "9월 28일(월) 09:00" or
		// "Mon, Sep 28, 09:00".
		"opening": func(t time.Time, h ticket.Hours) string {
			t = t.In(hoursLoc(h))
			if ko {
				return fmt.Sprintf("%d월 %d일(%s) %s", t.Month(), t.Day(), koDays[t.Weekday()], t.Format("15:04"))
			}
			return t.Format("Mon, Jan 2, 15:04")
		},
		// day is a day without its year: "9월 24일" or "Sep 24".
		"day": func(t time.Time) string {
			if ko {
				return fmt.Sprintf("%d월 %d일", t.Month(), t.Day())
			}
			return t.Format("Jan 2")
		},
		// datetime is a full date and time in the center's zone, with
		// the zone: "2026년 12월 2일(수) 14:05 KST" or
		// "Wed, Dec 2, 2026 14:05 KST".
		"datetime": func(t time.Time, h ticket.Hours) string { return formatDateTime(t, h.Loc, ko) },
		// date is a day in the center's zone: "2026년 12월 2일" or
		// "Dec 2, 2026".
		"date": func(t time.Time) string { return formatDate(t, ko) },
		// duration is a span as people say it: "3분 20초", "2시간 5분";
		// "3 min 20 s", "2 h 5 min".
		"duration": func(d time.Duration) string { return formatDuration(d, ko) },
		// join lists strings with ", ".
		"join": func(s []string) string { return strings.Join(s, ", ") },
		// add is a + b (a list's number from its index: add $i 1).
		"add": func(a, b int) int { return a + b },
		// filetype names a content type in words: "이미지", "PDF 문서";
		// "image", "PDF document".
		"filetype": func(ct string) string { return fileType(ct, ko) },
		// paragraphs renders a plain text as HTML: blank lines separate
		// paragraphs, line breaks are kept, everything is escaped.
		"paragraphs": paragraphs,
		// sanitised marks a field that holds HTML already sanitised
		// (TemplateData.ReplyHTML) as safe to insert. Only for such fields.
		"sanitised": func(s string) htmltemplate.HTML { return htmltemplate.HTML(s) },
		"center": func(name string) string {
			if strings.TrimSpace(name) != "" {
				return name
			}
			if ko {
				return "고객센터"
			}
			return "Customer Center"
		},
	}
}

// hoursLoc is the zone of h, UTC when unset.
func hoursLoc(h ticket.Hours) *time.Location {
	if h.Loc == nil {
		return time.UTC
	}
	return h.Loc
}

// formatDateTime formats t in loc (UTC when nil) with its zone's
// abbreviation, or its offset when the zone has none.
func formatDateTime(t time.Time, loc *time.Location, ko bool) string {
	if loc != nil {
		t = t.In(loc)
	}
	zone := t.Format("MST")
	if zone == "" || zone[0] == '+' || zone[0] == '-' {
		zone = "UTC" + t.Format("-07:00")
	}
	if ko {
		return fmt.Sprintf("%d년 %d월 %d일(%s) %s %s", t.Year(), t.Month(), t.Day(), koDays[t.Weekday()], t.Format("15:04"), zone)
	}
	return t.Format("Mon, Jan 2, 2006 15:04") + " " + zone
}

// formatDate formats the day of t.
func formatDate(t time.Time, ko bool) string {
	if ko {
		return fmt.Sprintf("%d년 %d월 %d일", t.Year(), t.Month(), t.Day())
	}
	return t.Format("Jan 2, 2006")
}

// formatDuration formats d to the second below a minute, to the minute
// below a day, else in days and hours.
func formatDuration(d time.Duration, ko bool) string {
	d = d.Round(time.Second)
	units := [][2]string{{"일", "d"}, {"시간", "h"}, {"분", "min"}, {"초", "s"}}
	parts := []int64{int64(d / (24 * time.Hour)), int64(d % (24 * time.Hour) / time.Hour), int64(d % time.Hour / time.Minute), int64(d % time.Minute / time.Second)}
	var out []string
	for i, n := range parts {
		if n == 0 || len(out) == 2 || (i == 3 && (parts[0] > 0 || parts[1] > 0)) {
			continue
		}
		if ko {
			out = append(out, fmt.Sprintf("%d%s", n, units[i][0]))
		} else {
			out = append(out, fmt.Sprintf("%d %s", n, units[i][1]))
		}
	}
	if len(out) == 0 {
		if ko {
			return "0초"
		}
		return "0 s"
	}
	return strings.Join(out, " ")
}

// paragraphs renders text as HTML paragraphs (see funcMap).
func paragraphs(text string) htmltemplate.HTML {
	return paragraphsWith(text, `<p style="margin:0 0 12px 0;">`)
}

// paragraphsWith is paragraphs with open as each paragraph's start tag.
func paragraphsWith(text, open string) htmltemplate.HTML {
	text = strings.ReplaceAll(strings.TrimSpace(text), "\r\n", "\n")
	var b strings.Builder
	for _, p := range strings.Split(text, "\n\n") {
		p = strings.Trim(p, "\n")
		if strings.TrimSpace(p) == "" {
			continue
		}
		b.WriteString(open)
		for i, line := range strings.Split(p, "\n") {
			if i > 0 {
				b.WriteString("<br>\n")
			}
			b.WriteString(htmltemplate.HTMLEscapeString(line))
		}
		b.WriteString("</p>\n")
	}
	return htmltemplate.HTML(b.String())
}

var (
	koDays = [7]string{"일", "월", "화", "수", "목", "금", "토"}
	enDays = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
)

// formatHours formats h as "평일 09:00-18:00" / "weekdays 09:00-18:00";
// days with hours of their own follow: "평일 09:00-18:00, 토 09:00-12:00".
func formatHours(h ticket.Hours, ko bool) string {
	own := h
	own.Days = nil
	var extra []string
	for _, d := range h.Days {
		if sp, ok := h.Week[d]; ok {
			name := enDays[d]
			if ko {
				name = koDays[d]
			}
			extra = append(extra, name+" "+ticket.JoinSpans(sp))
			continue
		}
		own.Days = append(own.Days, d)
	}
	out := h.Span()
	if d := formatDays(own, ko); d != "" {
		out = d + " " + out
	}
	if len(own.Days) == 0 && len(extra) > 0 {
		out = ""
	}
	for _, e := range extra {
		if out != "" {
			out += ", "
		}
		out += e
	}
	return out
}

// formatDays formats the days of h, Monday first: "평일", "매일" or
// "월, 수, 토" in Korean; "weekdays", "daily" or "Mon, Wed, Sat" in English.
func formatDays(h ticket.Hours, ko bool) string {
	days := slices.Clone(h.Days)
	// Monday first, Sunday last, as Korean calendars and this listing read.
	order := func(d time.Weekday) int { return (int(d) + 6) % 7 }
	slices.SortFunc(days, func(a, b time.Weekday) int { return order(a) - order(b) })
	days = slices.Compact(days)
	switch {
	case len(days) == 0:
		return ""
	case len(days) == 7:
		if ko {
			return "매일"
		}
		return "daily"
	case h.IsWeekdays() || slices.Equal(days, []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}):
		if ko {
			return "평일"
		}
		return "weekdays"
	}
	names := make([]string, 0, len(days))
	for _, d := range days {
		if d < time.Sunday || d > time.Saturday {
			continue
		}
		if ko {
			names = append(names, koDays[d])
		} else {
			names = append(names, enDays[d])
		}
	}
	return strings.Join(names, ", ")
}

// sampleData is what New executes every template with, so references to
// unknown fields fail at start up rather than at the first ticket: one value
// with every field set and the center closed, one with empty strings and the
// center open, to walk both sides of the usual conditionals.
func sampleData() []ticket.TemplateData {
	sampleHours := ticket.Hours{Days: []time.Weekday{time.Monday, time.Friday}, Open: 9 * time.Hour, Close: 18 * time.Hour, Loc: time.UTC}
	full := ticket.TemplateData{
		TicketID:         1,
		Subject:          "sample",
		Customer:         ticket.Address{Name: "sample", Email: "customer@example.invalid"},
		CenterName:       "sample",
		SupportEmail:     "support@example.invalid",
		CenterPhone:      "sample",
		CenterFooter:     []string{"sample"},
		ReceivedAt:       time.Unix(0, 0).UTC(),
		ReplyHTML:        "<p>sample</p>",
		Hours:            sampleHours,
		OpenNow:          false,
		Now:              time.Unix(0, 0).UTC(),
		CustomerText:     "sample",
		AgentName:        "sample",
		ReplyText:        "sample",
		TicketSubject:    "[#1] sample",
		Tickets:          []ticket.TicketRef{{ID: 1, Subject: "sample"}, {ID: 2}},
		AckReason:        &ticket.Reason{Code: ticket.ReasonInterval, Ago: time.Minute},
		AckDue:           time.Unix(0, 0).UTC(),
		NextOpen:         time.Unix(0, 0).UTC(),
		FirstResponseDue: time.Unix(0, 0).UTC(),
		Digest:           []ticket.DigestLine{{TicketID: 1, Subject: "sample", Due: "first_response", At: time.Unix(0, 0).UTC(), Assignee: "a@example.invalid"}, {TicketID: 2, Due: "resolution"}},
		Closure: &ticket.Closure{Holiday: ticket.Holiday{Date: "1970-01-01", Name: "sample", NameEn: "sample"},
			From: time.Unix(0, 0).UTC(), To: time.Unix(0, 0).UTC(), Days: 2},
	}
	empty := ticket.TemplateData{TicketID: 2, Hours: sampleHours, OpenNow: true}
	out := []ticket.TemplateData{full, empty}
	// Every kind of notice and reason, each with every field set.
	reasons := []string{ticket.ReasonNull, ticket.ReasonOwn, ticket.ReasonNoReply, ticket.ReasonNoDomain, ticket.ReasonSuppressed,
		ticket.ReasonInterval, ticket.ReasonPerHour, ticket.ReasonPerDay, ticket.ReasonLoop}
	kinds := []string{ticket.NoticeNoAck, ticket.NoticeAckHeld, ticket.NoticeHeldDropped, ticket.NoticeAckCombined, ticket.NoticeUndelivered,
		ticket.NoticeBounce, ticket.NoticeTooLarge, ticket.NoticeUndownloadable, ticket.NoticeRefused, ticket.NoticeLeftOut,
		ticket.NoticeFollows, ticket.NoticeCommandError, ticket.NoticePendingReminded, ticket.NoticePendingSolved,
		ticket.NoticeMerged, ticket.NoticeMergedInto, ticket.NoticeSplit, ticket.NoticeSplitFrom}
	for i, k := range kinds {
		d := full
		r := ticket.Reason{Code: reasons[i%len(reasons)], Ago: time.Minute, Count: 1, Until: full.Now, Text: "sample"}
		d.AckReason, d.AckDue = &r, full.Now.Add(time.Duration(i%2)*time.Hour)
		d.Notice = &ticket.Notice{Kind: k, Reason: r, Ticket: 1, Emails: []string{"a@example.invalid"}, More: 1, Size: 1, Limit: 1,
			Due: full.Now, Subject: "sample", Text: "sample", Via: "subject", Cause: "auth_failed",
			Bounces:      []ticket.BounceLine{{Email: "a@example.invalid", Action: "failed", Status: "5.1.1", Diagnostic: "sample", Protected: i%2 == 0, SuppressedUntil: full.Now}},
			CommandError: &ticket.CommandError{Command: "x", Problem: ticket.ProblemUnknown}}
		out = append(out, d)
	}
	return out
}
