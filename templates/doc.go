// Package templates renders the mails ticketd writes on its own: the
// acknowledgement of a new ticket ("ack") today, replies and notifications
// later. It implements [ticket.Renderer].
//
// # Basics
//
// Default templates are embedded in the binary (go:embed) under
// default/<lang>/<name>.<part>.tmpl, where <lang> is a language tag such as
// "ko" (the default) or "en", <name> is the template name passed to
// [Renderer.Render], and <part> is one of:
//
//   - subject: the Subject line, a text/template. After rendering, control
//     characters (CR, LF, TAB, ...) become spaces, runs of spaces collapse and
//     the result is trimmed, so it is always one header-safe line.
//   - txt: the text/plain body, a text/template (nothing is escaped).
//   - html: the text/html body, an html/template, which escapes every value
//     by context, so customer-controlled fields such as Subject or
//     Customer.Name cannot inject markup.
//
// subject and txt are required for every name; html is optional (Render then
// returns an empty HTML body).
//
// # Overrides
//
// [New] with a non-empty dir reads the same layout from that directory:
// dir/ko/ack.txt.tmpl replaces the embedded ko/ack.txt.tmpl and leaves the
// other parts embedded. A file under a new language directory (dir/ja/...)
// adds that language. Files not ending in .tmpl are ignored; a .tmpl file
// that does not follow <lang>/<name>.<part>.tmpl is an error, so a typo is
// not silently ignored.
//
// # Template functions
//
// Every template sees [ticket.TemplateData] as dot and these functions, which
// speak the template's language (Korean for "ko", English otherwise):
//
//   - hours .Hours: the opening hours, "평일 09:00-18:00" or
//     "월, 수, 토 09:00-18:00" in Korean, "weekdays 09:00-18:00" or
//     "Mon, Wed, Sat 09:00-18:00" in English; every day is "매일" / "daily".
//   - days .Hours: only the days part of hours.
//   - center .CenterName: the name, or "고객센터" / "Customer Center" if empty.
//
// # Caveats
//
// All templates are parsed and trial-executed with sample data in [New], so
// both syntax errors and references to unknown fields are reported at start
// up, naming the file. A template can still fail at Render time on data the
// sample did not exercise; that error names the file too.
package templates
