package quote

import (
	"regexp"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/ticketd/ticketd/mailbox/rfc822"
)

// visibleHTML renders an HTML reply as the text its author wrote: the
// quoted history is removed from the HTML structure first, the rest is
// rendered with [rfc822.HTMLToText], and the plain-text rules of
// visibleText are applied to the result (they find the history and signatures the
// structure did not mark).
//
// Removed from the structure:
//   - quote containers: Gmail's div.gmail_quote and .gmail_quote_container,
//     blockquote type=cite (Apple Mail, iOS, Thunderbird, Sparrow), Yahoo's
//     .yahoo_quoted, Thunderbird's .moz-cite-prefix (the attribution before
//     its blockquote) and ProtonMail's .protonmail_quote. When the author's
//     text comes between two of them (an interleaved reply), they are kept and
//     rendered as "> " lines, which visibleText then handles;
//   - everything from Outlook's reply divider on: div#appendonsend,
//     div#divRplyFwdMsg, div#mail-editor-reference-message-container,
//     div.OutlookMessageHeader, hr#stopSpelling, and an hr or a div with a top
//     border whose text starts with a "From:" or "Sent:" field (in English,
//     Korean and other languages).
//
// No container markers of Naver or Daum webmail are known here; their replies
// are left to the text rules, which find the "-----Original Message-----"
// line and the From:/To:/Cc:/Sent:/Subject: block they write.
//
// If removing the history would leave no text, the whole body is rendered and
// given to visibleText instead. The result is "" only for a body without
// text.
func visibleHTML(s string) string {
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		return visibleText(rfc822.HTMLToText(s))
	}
	if !cutHistory(doc) {
		return visibleText(rfc822.NodeText(doc))
	}
	if v := visibleText(rfc822.NodeText(doc)); strings.TrimSpace(v) != "" {
		return v
	}
	return visibleText(rfc822.HTMLToText(s))
}

// cutHistory removes the quoted history from doc and reports whether it
// removed anything.
func cutHistory(doc *html.Node) bool {
	var (
		containers  []*html.Node
		interleaved bool
		textAfter   bool // text outside containers since the first container
		divider     *html.Node
	)
	// Walk in document order without descending into containers: a divider
	// inside a quote belongs to the quote, and so do nested containers.
	var walk func(n *html.Node, depth int) bool
	walk = func(n *html.Node, depth int) bool {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			switch c.Type {
			case html.TextNode:
				if len(containers) > 0 && strings.TrimSpace(rfc822.StripInvisible(c.Data)) != "" {
					textAfter = true
				}
				continue
			case html.ElementNode:
			default:
				continue
			}
			switch c.DataAtom {
			case atom.Script, atom.Style, atom.Head, atom.Title, atom.Template:
				continue
			}
			if isReplyDivider(c) {
				divider = c
				return false
			}
			if isQuoteContainer(c) {
				if textAfter {
					interleaved = true
				}
				containers = append(containers, c)
				textAfter = false
				continue
			}
			if depth < rfc822.MaxHTMLDepth && !walk(c, depth+1) {
				return false
			}
		}
		return true
	}
	walk(doc, 0)

	cut := false
	if divider != nil {
		removeFrom(divider)
		cut = true
	}
	if len(containers) > 0 && !interleaved {
		for _, c := range containers {
			if c.Parent != nil {
				c.Parent.RemoveChild(c)
			}
		}
		cut = true
	}
	return cut
}

// removeFrom removes n and everything after it in document order.
func removeFrom(n *html.Node) {
	for c := n; c.Parent != nil; c = c.Parent {
		for s := c.NextSibling; s != nil; {
			next := s.NextSibling
			c.Parent.RemoveChild(s)
			s = next
		}
	}
	n.Parent.RemoveChild(n)
}

// hasClass reports whether the class attribute of n lists one of names.
func hasClass(n *html.Node, names ...string) bool {
	v, _ := rfc822.Attr(n, "class")
	for _, c := range strings.Fields(v) {
		for _, name := range names {
			if strings.EqualFold(c, name) {
				return true
			}
		}
	}
	return false
}

// isQuoteContainer reports whether n holds quoted history (or, for
// .moz-cite-prefix, its attribution) as marked by the client that wrote it.
func isQuoteContainer(n *html.Node) bool {
	if hasClass(n, "gmail_quote", "gmail_quote_container", "yahoo_quoted", "moz-cite-prefix", "protonmail_quote") {
		return true
	}
	if n.DataAtom == atom.Blockquote {
		typ, _ := rfc822.Attr(n, "type")
		return strings.EqualFold(strings.TrimSpace(typ), "cite")
	}
	return false
}

// dividerIDs are the ids of the elements Outlook puts between the reply and
// the quoted mail; in a reply to a reply Outlook on the web prefixes "x_".
var dividerIDs = map[string]bool{
	"appendonsend": true, "divrplyfwdmsg": true, "stopspelling": true,
	"mail-editor-reference-message-container": true,
}

// isReplyDivider reports whether n starts the quoted mail, Outlook style.
func isReplyDivider(n *html.Node) bool {
	id, _ := rfc822.Attr(n, "id")
	id = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(id), "x_"))
	if dividerIDs[id] || hasClass(n, "OutlookMessageHeader") {
		return true
	}
	switch n.DataAtom {
	case atom.Hr:
		return headerFollows(n)
	case atom.Div, atom.P:
		st, _ := rfc822.Attr(n, "style")
		st = strings.ToLower(strings.Join(strings.Fields(st), ""))
		return strings.Contains(st, "border-top") && !strings.Contains(st, "border-top:none") && headerFollows(n)
	}
	return false
}

// quotedHeader matches the first field of the header block Outlook and other
// clients write above the quoted mail.
var quotedHeader = regexp.MustCompile(`(?i)^\*?\s*(from|sent|date|보낸\s*사람|보낸\s*날짜|발신|von|gesendet|de|envoyé|da|van|från|fra|от|отправлено|发件人|差出人)\s*\*?\s*[:：]`)

// headerFollows reports whether the text from n on (n's own text, then what
// follows it in document order) starts with a quoted header field.
func headerFollows(n *html.Node) bool {
	const limit, maxNodes = 200, 500
	var sb strings.Builder
	nodes := 0
	for c := n; c != nil && sb.Len() < limit && nodes < maxNodes; c = nextInOrder(c) {
		nodes++
		switch {
		case c.Type == html.TextNode:
			sb.WriteString(c.Data)
		case c.Type == html.ElementNode && (c.DataAtom == atom.Br || c.DataAtom == atom.P || c.DataAtom == atom.Div):
			sb.WriteByte('\n')
		}
	}
	t := strings.TrimSpace(strings.ReplaceAll(rfc822.StripInvisible(sb.String()), "\u00a0", " "))
	return quotedHeader.MatchString(t)
}

// nextInOrder returns the node after c in document order, skipping the
// content of script and style elements, or nil at the end of the document.
func nextInOrder(c *html.Node) *html.Node {
	if c.FirstChild != nil && !(c.Type == html.ElementNode && (c.DataAtom == atom.Script || c.DataAtom == atom.Style)) {
		return c.FirstChild
	}
	for ; c != nil; c = c.Parent {
		if c.NextSibling != nil {
			return c.NextSibling
		}
	}
	return nil
}

// AuthorHTML returns the HTML its author wrote in an HTML reply, as a
// fragment (the body's content): html with the quoted history removed by the
// structural rules of [Visible]. It returns "" when nothing is left, when
// html does not parse, and when the structure does not account for all that
// the plain-text rules would still cut from the rest (a history or a
// signature marked only by its text, as Naver and Daum write them, or an
// interleaved reply's attributions): a caller then renders [Visible]'s text
// instead, so no history reaches a reader that the text would not show.
// Images shown by cid: are left out (replaced by their alt text): the parts
// they name are the mail's own and do not travel with a relayed reply. The
// result is not sanitised; html should be.
func AuthorHTML(s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		return ""
	}
	cutHistory(doc)
	text := rfc822.NodeText(doc)
	if strings.TrimSpace(text) == "" || squash(visibleText(text)) != squash(text) {
		return ""
	}
	body := findBody(doc)
	if body == nil {
		return ""
	}
	dropCIDImages(body)
	var b strings.Builder
	for c := body.FirstChild; c != nil; c = c.NextSibling {
		if err := html.Render(&b, c); err != nil {
			return ""
		}
	}
	return strings.TrimSpace(b.String())
}

// squash is s with every run of white space (and invisible characters)
// removed, for comparing two renderings of one text.
func squash(s string) string {
	return strings.Join(strings.Fields(rfc822.StripInvisible(s)), "")
}

// findBody returns the body element of a parsed document.
func findBody(n *html.Node) *html.Node {
	if n.Type == html.ElementNode && n.DataAtom == atom.Body {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if b := findBody(c); b != nil {
			return b
		}
	}
	return nil
}

// dropCIDImages replaces every img below n whose src is a cid: URL by its
// alt text.
func dropCIDImages(n *html.Node) {
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		if c.Type == html.ElementNode && c.DataAtom == atom.Img {
			var src, alt string
			for _, a := range c.Attr {
				switch strings.ToLower(a.Key) {
				case "src":
					src = strings.TrimSpace(a.Val)
				case "alt":
					alt = a.Val
				}
			}
			if len(src) >= 4 && strings.EqualFold(src[:4], "cid:") {
				if alt != "" {
					n.InsertBefore(&html.Node{Type: html.TextNode, Data: alt}, c)
				}
				n.RemoveChild(c)
			}
		} else {
			dropCIDImages(c)
		}
		c = next
	}
}
