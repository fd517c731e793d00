package rfc822

import (
	neturl "net/url"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlPolicy keeps the formatting of a mail (paragraphs, lists, tables,
// links, inline images by cid:) and removes scripts, styles, event handlers,
// forms and frames. Plain class names and ids are kept: they are how mail
// clients mark the quoted history (gmail_quote, divRplyFwdMsg), which the
// stored HTML is read for again when an agent's reply is relayed.
var htmlPolicy = func() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AllowURLSchemes("http", "https", "mailto", "cid")
	p.AllowAttrs("style").Globally() // bluemonday filters the CSS itself
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^[A-Za-z0-9_\- ]{1,200}$`)).Globally()
	p.AllowAttrs("type").Matching(regexp.MustCompile(`^cite$`)).OnElements("blockquote")
	p.AllowAttrs("id").Matching(regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_\-]{0,99}$`)).Globally()
	p.RequireNoFollowOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	return p
}()

// SanitizeHTML returns html safe to show in a browser: what Mail.HTML holds
// once a mail is stored.
func SanitizeHTML(html string) string {
	if html == "" {
		return ""
	}
	return htmlPolicy.Sanitize(html)
}

// reservedNames are file names Windows treats as devices, whatever the
// extension.
var reservedNames = map[string]bool{"CON": true, "PRN": true, "AUX": true, "NUL": true,
	"COM1": true, "COM2": true, "COM3": true, "COM4": true, "COM5": true, "COM6": true, "COM7": true, "COM8": true, "COM9": true,
	"LPT1": true, "LPT2": true, "LPT3": true, "LPT4": true, "LPT5": true, "LPT6": true, "LPT7": true, "LPT8": true, "LPT9": true}

// SafeFilename turns an attachment's name, which the sender chose, into a
// name that is safe to create in a directory: no path separators, no "..",
// no control or invisible format characters, no leading dot, no device
// name, at most 200 bytes (keeping the extension), never empty.
func SafeFilename(name string) string {
	name = strings.ToValidUTF8(name, "_")
	name = strings.Map(func(r rune) rune {
		switch {
		case r == '/' || r == '\\' || r == ':' || r == 0:
			return '_'
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r): // incl. RTL overrides
			return -1
		case strings.ContainsRune(`<>"|?*`, r):
			return '_'
		}
		return r
	}, name)
	for strings.Contains(name, "..") {
		name = strings.ReplaceAll(name, "..", ".")
	}
	name = strings.Trim(name, ". \t")
	if name == "" {
		return "attachment"
	}
	base := strings.ToUpper(strings.TrimSuffix(name, filepath.Ext(name)))
	if reservedNames[base] {
		name = "_" + name
	}
	if len(name) > 200 {
		ext := filepath.Ext(name)
		if len(ext) > 20 {
			ext = ""
		}
		cut := 200 - len(ext)
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut] + ext
	}
	return name
}

// RewriteHTML returns stored HTML (SanitizeHTML's output) for showing: the
// text of every text node (and of alt and title attributes) passed through
// text, and every image shown by cid: given the URL cid returns for its
// Content-ID (without angle brackets); an image whose part cid does not
// know, and every image from elsewhere (http: and https:, which would
// tell the sender the mail was read), is replaced by its alt text. The
// result is sanitised again. It returns "" when s does not parse.
func RewriteHTML(s string, text func(string) string, cid func(id string) (string, bool)) string {
	body := &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body}
	nodes, err := html.ParseFragment(strings.NewReader(s), body)
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, n := range nodes {
		rewriteNode(n, text, cid, 0)
		if err := html.Render(&b, n); err != nil {
			return ""
		}
	}
	return SanitizeHTML(b.String())
}

func rewriteNode(n *html.Node, text func(string) string, cid func(string) (string, bool), depth int) {
	if n.Type == html.TextNode {
		n.Data = text(n.Data)
		return
	}
	for i, a := range n.Attr {
		if k := strings.ToLower(a.Key); k == "alt" || k == "title" {
			n.Attr[i].Val = text(a.Val)
		}
	}
	if depth > MaxHTMLDepth {
		return
	}
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		if c.Type == html.ElementNode && c.DataAtom == atom.Img {
			src, _ := Attr(c, "src")
			src = strings.TrimSpace(src)
			url, ok := "", false
			if len(src) >= 4 && strings.EqualFold(src[:4], "cid:") {
				id := strings.Trim(src[4:], "<> ")
				if u, err := neturl.PathUnescape(id); err == nil {
					id = u
				}
				url, ok = cid(id)
			}
			if !ok {
				if alt, _ := Attr(c, "alt"); alt != "" {
					n.InsertBefore(&html.Node{Type: html.TextNode, Data: text(alt)}, c)
				}
				n.RemoveChild(c)
				c = next
				continue
			}
			for i, a := range c.Attr {
				if strings.EqualFold(a.Key, "src") {
					c.Attr[i].Val = url
				}
			}
		}
		rewriteNode(c, text, cid, depth+1)
		c = next
	}
}
