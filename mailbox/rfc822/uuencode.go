package rfc822

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"path"
	"regexp"
	"strings"
)

// uuencoded files inside a text body ("begin 644 name" ... "end"), as old
// mailers and some gateways still send them.

// maxUUFiles bounds the uuencoded files taken from one text part.
const maxUUFiles = 32

// uuBegin is the first line of a uuencoded file: "begin", the file's mode
// in octal, its name.
var uuBegin = regexp.MustCompile(`(?m)^begin [0-7]{3,4} (\S.*?)\s*$`)

// hasUUBegin reports cheaply whether b may hold a uuencoded file.
func hasUUBegin(b []byte) bool {
	return bytes.Contains(b, []byte("begin ")) && uuBegin.Match(b)
}

// uuFiles takes the uuencoded files out of text, a decoded text part:
// each becomes an attachment named as its "begin" line says, and its lines
// leave the text. A block that does not decode cleanly up to its "end"
// stays in the text as it is.
func (p *parser) uuFiles(text, where string) string {
	if p.inner || !strings.Contains(text, "begin ") {
		return text // a forwarded message keeps its text whole: its files are not listed
	}
	var out strings.Builder
	rest, n := text, 0
	for n < maxUUFiles {
		loc := uuBegin.FindStringSubmatchIndex(rest)
		if loc == nil {
			break
		}
		name := rest[loc[2]:loc[3]]
		body := rest[loc[1]:]
		data, end, ok := uudecode(body)
		if !ok {
			out.WriteString(rest[:loc[1]])
			rest = body
			continue
		}
		out.WriteString(rest[:loc[0]])
		rest = body[end:]
		n++
		p.uuAttachment(path.Base(strings.ReplaceAll(name, `\`, "/")), data, where)
	}
	out.WriteString(rest)
	return out.String()
}

// uuAttachment lists a uuencoded file as an attachment of the mail.
func (p *parser) uuAttachment(name string, data []byte, where string) {
	if name == "" || name == "." || name == "/" {
		name = p.deriveName("application/octet-stream", "")
	} else {
		p.useName(name)
	}
	mt := typeOf(name)
	sum := sha256.Sum256(data)
	p.mail.Attachments = append(p.mail.Attachments, Attachment{
		Filename: name, ContentType: mt, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]),
	})
	if p.keep {
		p.files = append(p.files, File{Filename: name, ContentType: mt, Data: data})
	}
	p.warnf("%s: uuencoded file %q taken out of the text as an attachment", label(where, "text/plain"), shorten(name, 60))
}

// uudecode decodes the lines of a uuencoded file, s starting right after
// its "begin" line, up to and including its "end" line. It returns the
// bytes, the length of s they took, and whether the block was whole and
// clean: every line's length matches its count character, and "end" comes.
func uudecode(s string) (data []byte, n int, ok bool) {
	if !strings.HasPrefix(s, "\n") {
		return nil, 0, false
	}
	pos := 1
	for pos <= len(s) {
		eol := strings.IndexByte(s[pos:], '\n')
		line := s[pos:]
		next := len(s)
		if eol >= 0 {
			line, next = s[pos:pos+eol], pos+eol+1
		}
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.TrimRight(line, " ") == "end":
			return data, next, true
		case line == "" || line == "`" || line == " ":
			// the zero-length line before "end"
		default:
			count := int(line[0]-' ') & 63
			enc := line[1:]
			if need := (count + 2) / 3 * 4; len(enc) < need || len(enc) > need+2 {
				return nil, 0, false
			}
			var buf [3]byte
			for i := 0; i+3 < len(enc) && count > 0; i += 4 {
				var c [4]byte
				for k := range 4 {
					if enc[i+k] < ' ' || enc[i+k] > '`' {
						return nil, 0, false
					}
					c[k] = (enc[i+k] - ' ') & 63
				}
				buf[0] = c[0]<<2 | c[1]>>4
				buf[1] = c[1]<<4 | c[2]>>2
				buf[2] = c[2]<<6 | c[3]
				take := min(count, 3)
				data = append(data, buf[:take]...)
				count -= take
			}
		}
		if eol < 0 {
			break
		}
		pos = next
	}
	return nil, 0, false
}
