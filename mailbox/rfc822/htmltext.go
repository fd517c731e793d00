package rfc822

import (
	"strings"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// MaxHTMLDepth bounds the recursion of the HTML renderer; deeper content is
// still rendered, as plain running text.
const MaxHTMLDepth = 200

// HTMLToText renders an HTML body as readable plain text: paragraphs,
// divisions, line breaks, headings and table rows become line breaks, list
// items start with "- ", table cells are separated by " | ", links read
// "text (url)" when the url is not the text itself, blockquotes are quoted
// with "> ", and script, style and head content is dropped. White space is
// collapsed, lines are trimmed at the end and there is at most one empty line
// in a row. Line endings are "\n".
func HTMLToText(s string) string {
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		// html.Parse refuses documents nested deeper than it allows; read
		// the text with the tokenizer instead.
		return tokenText(s)
	}
	r := &htmlRenderer{}
	r.children(doc, 0)
	return cleanText(r.sb.String())
}

// NodeText renders the tree below n as HTMLToText renders a document.
func NodeText(n *html.Node) string {
	r := &htmlRenderer{}
	r.node(n, 0)
	return cleanText(r.sb.String())
}

// htmlRenderer accumulates text. nl counts the line breaks at the end of the
// output (capped at 2), so that blocks ask for "at least one" or "at least
// two" without stacking empty lines.
type htmlRenderer struct {
	sb    strings.Builder
	nl    int
	space bool   // white space seen since the last word
	sep   string // cell separator to write before the next word on this line
	pre   int    // inside <pre>
	lists int    // list nesting
	cells []int  // cells seen in each open table row
	fresh bool   // just after a list marker: no space before the next word
}

// StripInvisible removes the invisible characters mailers put in
// preheaders and links (zero-width spaces and joiners, BOM, soft hyphen).
func StripInvisible(s string) string { return zeroWidth.Replace(s) }

// zeroWidth are invisible characters mailers put in preheaders and links.
var zeroWidth = strings.NewReplacer("\u200b", "", "\u200c", "", "\ufeff", "", "\u00ad", "", "\u034f", "", "\u2060", "")

func (r *htmlRenderer) text(s string) {
	s = zeroWidth.Replace(s)
	if r.pre > 0 {
		r.raw(strings.ReplaceAll(normalizeNewlines(s), "\u00a0", " "))
		return
	}
	for _, c := range s {
		if unicode.IsSpace(c) {
			r.space = true
			continue
		}
		if r.sb.Len() > 0 && r.nl == 0 && !r.fresh {
			if r.sep != "" {
				r.sb.WriteString(r.sep)
			} else if r.space {
				r.sb.WriteByte(' ')
			}
		}
		r.sep, r.space, r.fresh = "", false, false
		r.sb.WriteRune(c)
		r.nl = 0
	}
}

// raw writes s as it is (pre-formatted text, quoted blocks).
func (r *htmlRenderer) raw(s string) {
	if s == "" {
		return
	}
	if r.sep != "" && r.nl == 0 && r.sb.Len() > 0 {
		r.sb.WriteString(r.sep)
	}
	r.sep, r.space = "", false
	r.sb.WriteString(s)
	trailing := len(s) - len(strings.TrimRight(s, "\n"))
	if trailing == len(s) {
		r.nl = min(2, r.nl+trailing)
	} else {
		r.nl = min(2, trailing)
	}
}

// newline makes sure the output ends with at least n line breaks (1: a new
// line, 2: an empty line), except at the very start.
func (r *htmlRenderer) newline(n int) {
	r.space, r.sep = false, ""
	if r.sb.Len() == 0 {
		return
	}
	for r.nl < n {
		r.sb.WriteByte('\n')
		r.nl++
	}
}

// lineBreak is <br>: always one more line break, up to one empty line.
func (r *htmlRenderer) lineBreak() {
	r.space, r.sep = false, ""
	if r.nl < 2 {
		r.sb.WriteByte('\n')
		r.nl++
	}
}

func (r *htmlRenderer) children(n *html.Node, depth int) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		r.node(c, depth+1)
	}
}

// Attr returns the value of n's attribute key (without a namespace).
func Attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// hidden reports whether an element is not shown (preheaders and the like).
func hidden(n *html.Node) bool {
	if _, ok := Attr(n, "hidden"); ok {
		return true
	}
	st, _ := Attr(n, "style")
	st = strings.ToLower(strings.Join(strings.Fields(st), ""))
	return strings.Contains(st, "display:none") || strings.Contains(st, "visibility:hidden")
}

func (r *htmlRenderer) node(n *html.Node, depth int) {
	switch n.Type {
	case html.TextNode:
		r.text(n.Data)
		return
	case html.DocumentNode:
		r.children(n, depth)
		return
	case html.ElementNode:
	default:
		return // comments, doctype
	}
	if depth > MaxHTMLDepth {
		r.flat(n)
		return
	}
	switch n.DataAtom {
	case atom.Script, atom.Style, atom.Head, atom.Title, atom.Template, atom.Svg, atom.Object, atom.Iframe:
		return
	}
	if hidden(n) {
		return
	}
	switch n.DataAtom {
	case atom.Br:
		r.lineBreak()
	case atom.Img:
		if alt, _ := Attr(n, "alt"); strings.TrimSpace(alt) != "" {
			r.text(" " + alt + " ")
		}
	case atom.P, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Hr, atom.Dl:
		r.newline(2)
		r.children(n, depth)
		r.newline(2)
	case atom.Pre:
		r.newline(2)
		r.pre++
		r.children(n, depth)
		r.pre--
		r.newline(2)
	case atom.Ul, atom.Ol:
		gap := 2 // a list is a block; a nested list is part of its item
		if r.lists > 0 {
			gap = 1
		}
		r.lists++
		r.newline(gap)
		r.children(n, depth)
		r.lists--
		r.newline(gap)
	case atom.Table:
		gap := 2 // a table is a block; a nested (layout) table is part of its cell
		if len(r.cells) > 0 {
			gap = 1
		}
		r.newline(gap)
		outer := r.cells
		r.cells = nil
		r.children(n, depth)
		r.cells = outer
		r.newline(gap)
	case atom.Li:
		r.newline(1)
		r.raw(strings.Repeat("  ", max(0, r.lists-1)) + "- ")
		r.fresh = true
		r.children(n, depth)
		r.newline(1)
	case atom.Tr:
		r.newline(1)
		r.cells = append(r.cells, 0)
		r.children(n, depth)
		r.cells = r.cells[:len(r.cells)-1]
		r.newline(1)
	case atom.Td, atom.Th:
		if k := len(r.cells); k > 0 {
			if r.cells[k-1] > 0 && r.nl == 0 {
				r.sep = " | "
			}
			r.cells[k-1]++
		} else {
			r.space = true
		}
		r.children(n, depth)
		r.space = true
	case atom.Blockquote:
		sub := &htmlRenderer{}
		sub.children(n, depth)
		quoted := cleanText(sub.sb.String())
		r.newline(1)
		if quoted != "" {
			var sb strings.Builder
			for _, l := range strings.Split(quoted, "\n") {
				if l == "" {
					sb.WriteString(">\n")
				} else {
					sb.WriteString("> " + l + "\n")
				}
			}
			r.raw(sb.String())
		}
		r.newline(1)
	case atom.A:
		start := r.sb.Len()
		r.children(n, depth)
		href, _ := Attr(n, "href")
		written := strings.TrimSpace(r.sb.String()[start:])
		if linkWorthShowing(href, written) {
			r.text(" (" + strings.TrimSpace(href) + ")")
		}
	case atom.Div, atom.Section, atom.Article, atom.Header, atom.Footer, atom.Nav, atom.Aside,
		atom.Main, atom.Form, atom.Fieldset, atom.Address, atom.Figure, atom.Figcaption,
		atom.Center, atom.Caption, atom.Dt, atom.Dd, atom.Details, atom.Summary,
		atom.Legend, atom.Option:
		r.newline(1)
		r.children(n, depth)
		r.newline(1)
	default:
		r.children(n, depth)
	}
}

// flat renders the text below n as running text, without recursion.
func (r *htmlRenderer) flat(n *html.Node) {
	stack := []*html.Node{n}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch {
		case c.Type == html.TextNode:
			r.text(c.Data)
			continue
		case c.Type != html.ElementNode && c.Type != html.DocumentNode:
			continue
		case c.DataAtom == atom.Script || c.DataAtom == atom.Style || c.DataAtom == atom.Head:
			continue
		}
		r.space = true
		for k := c.LastChild; k != nil; k = k.PrevSibling {
			stack = append(stack, k)
		}
	}
}

// tokenText extracts the text of s with the tokenizer, which has no nesting
// limit: text of script and style elements is dropped, block elements and
// <br> break lines.
func tokenText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	r := &htmlRenderer{}
	skip := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return cleanText(r.sb.String())
		case html.TextToken:
			if skip == 0 {
				r.text(string(z.Text()))
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			tt := z.Token()
			switch tt.DataAtom {
			case atom.Script, atom.Style, atom.Head:
				if tt.Type == html.StartTagToken {
					skip++
				} else if tt.Type == html.EndTagToken && skip > 0 {
					skip--
				}
			case atom.Br:
				r.lineBreak()
			case atom.P, atom.Div, atom.Tr, atom.Li, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Table:
				r.newline(1)
			}
		}
	}
}

// linkWorthShowing reports whether href adds something to the link text.
func linkWorthShowing(href, text string) bool {
	href = strings.TrimSpace(href)
	if href == "" || text == "" || strings.HasPrefix(href, "#") {
		return false
	}
	lh := strings.ToLower(href)
	if strings.HasPrefix(lh, "javascript:") || strings.HasPrefix(lh, "cid:") {
		return false
	}
	norm := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		for _, p := range []string{"mailto:", "tel:", "https://", "http://"} {
			s = strings.TrimPrefix(s, p)
		}
		s = strings.TrimPrefix(s, "www.")
		return strings.TrimRight(s, "/")
	}
	return norm(href) != norm(text)
}

// cleanText trims white space at the end of lines and at both ends of the
// text, and keeps at most one empty line in a row.
func cleanText(s string) string {
	lines := strings.Split(normalizeNewlines(s), "\n")
	out := make([]string, 0, len(lines))
	blank := true // drop leading empty lines
	for _, l := range lines {
		l = strings.TrimRightFunc(l, unicode.IsSpace)
		if l == "" {
			if !blank {
				out = append(out, "")
			}
			blank = true
			continue
		}
		blank = false
		out = append(out, l)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return strings.Join(out, "\n")
}
