// Package quote finds what the author of a mail wrote: the text without
// the quoted history, the signature and the reply headers of earlier
// mails. It holds both rule sets, for plain text (attributions in the forms
// of many clients and languages, Korean ones included, "> " quotes,
// separators, header blocks, signatures) and for HTML (the quote containers
// and reply dividers of Gmail, Outlook, Apple Mail, Thunderbird, Yahoo and
// ProtonMail), behind one function, [Visible].
package quote

import "strings"

// Visible returns the part of a mail that its author wrote. text is the
// mail's decoded text ("\n" line ends; "\r\n" is accepted too); when
// fromHTML is set, text was rendered from html (the mail's only body was
// HTML) and the rules read the HTML's structure instead. The result has
// no leading blank lines and no trailing white space; it is empty only
// when the mail has no text.
func Visible(text, html string, fromHTML bool) string {
	if fromHTML {
		return strings.ToValidUTF8(visibleHTML(html), "\uFFFD")
	}
	return visibleText(text)
}
