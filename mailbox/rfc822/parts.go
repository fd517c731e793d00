package rfc822

import (
	"path"
	"strconv"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// The decisions about parts that need the whole walk: which text is the
// body, and what the nameless parts are called.

// textLeaf is a text part kept for settleParts.
type textLeaf struct {
	h      textproto.Header
	params map[string]string
	body   []byte // as sent (transfer-encoded)
	where  string
	parent string // the media type of the enclosing multipart
	name   string
}

// settleParts decides, once every part is seen, on the text parts that are
// body text only for want of another:
//   - an inline text/plain part with a file name is the body when the mail
//     has no other text (some clients send a typed message that way); it
//     stays an attachment too;
//   - text/html parts after the first, which no multipart/alternative
//     offers as the body's other rendering (an unreferenced page inside
//     multipart/related, a second page in multipart/mixed), are attachments
//     when the mail has a plain text body; without one they are rendered
//     into the body with the first.
func (p *parser) settleParts() {
	if p.plainLeaves > 0 && len(p.htmlLeaves) > 1 {
		for _, l := range p.htmlLeaves[1:] {
			if l.parent == "multipart/alternative" {
				continue // another rendering of the body, as before
			}
			p.warnf("%s: a further HTML part, kept as an attachment", label(l.where, "text/html"))
			p.attachment(l.h, "text/html", l.body, "", "", l.where)
		}
		p.html = p.html[:min(1, len(p.html))]
	}
	if l := p.namedText; l != nil && !p.keep && p.plainLeaves == 0 && len(p.htmlLeaves) == 0 {
		text := p.leafText(l.h, "text/plain", l.params, l.body, l.where)
		if strings.TrimSpace(text) != "" {
			p.warnf("%s: the only text is the inline part %q, read as the body", label(l.where, "text/plain"), shorten(l.name, 60))
			p.plain = append(p.plain, text)
		}
	}
}

// useName records an attachment's own file name, so that no derived name
// takes it.
func (p *parser) useName(name string) {
	if p.names == nil {
		p.names = map[string]bool{}
	}
	p.names[strings.ToLower(name)] = true
}

// deriveName gives a nameless part a file name, unique within the mail:
//   - the local part of its Content-ID when that looks like a file name
//     (Outlook's inline "image001.png@01DA3C4F.5E6D7A80");
//   - else a name from its type: "image.png", "video.mp4", "forwarded.eml",
//     "attachment.bin", then "image-2.png" and so on for the next ones.
func (p *parser) deriveName(mt, cid string) string {
	if local, _, ok := strings.Cut(cid, "@"); ok || cid != "" {
		if fileLike(local) && !p.names[strings.ToLower(local)] {
			p.useName(local)
			return local
		}
	}
	base, ext := "attachment", extensionOf(mt)
	switch top, _, _ := strings.Cut(mt, "/"); top {
	case "image", "video", "audio":
		base = top
	case "message":
		if mt == "message/rfc822" || mt == "message/global" {
			base = "forwarded"
		}
	}
	switch mt {
	case "message/delivery-status", "message/global-delivery-status":
		base = "delivery-status"
	case "text/rfc822-headers", "message/global-headers":
		base = "headers"
	}
	name := base + "." + ext
	for n := 2; p.names[strings.ToLower(name)]; n++ {
		name = base + "-" + strconv.Itoa(n) + "." + ext
	}
	p.useName(name)
	return name
}

// fileLike reports whether s looks like a file name: a name and an
// extension of letters and digits, nothing that is not safe in a file name.
func fileLike(s string) bool {
	ext := path.Ext(s)
	if len(s) > 100 || len(ext) < 2 || len(ext) > 6 || len(s) == len(ext) || strings.ContainsAny(s, `/\:*?"<>|`) {
		return false
	}
	for _, c := range ext[1:] {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// extensions are the file name extensions of the media types mail clients
// send without a name, those of Korean offices (HWP) included.
var extensions = map[string]string{
	"image/jpeg": "jpg", "image/jpg": "jpg", "image/pjpeg": "jpg", "image/png": "png", "image/gif": "gif",
	"image/bmp": "bmp", "image/tiff": "tif", "image/webp": "webp", "image/heic": "heic", "image/heif": "heif",
	"image/svg+xml": "svg", "image/x-icon": "ico",
	"video/mp4": "mp4", "video/quicktime": "mov", "video/x-msvideo": "avi", "video/3gpp": "3gp", "video/webm": "webm",
	"video/mpeg": "mpg", "video/x-matroska": "mkv",
	"audio/mpeg": "mp3", "audio/mp4": "m4a", "audio/x-m4a": "m4a", "audio/wav": "wav", "audio/x-wav": "wav",
	"audio/ogg": "ogg", "audio/amr": "amr", "audio/aac": "aac",
	"application/pdf": "pdf", "application/zip": "zip", "application/x-zip-compressed": "zip",
	"application/gzip": "gz", "application/x-7z-compressed": "7z", "application/vnd.rar": "rar", "application/x-rar-compressed": "rar",
	"application/msword": "doc", "application/vnd.ms-excel": "xls", "application/vnd.ms-powerpoint": "ppt",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   "docx",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         "xlsx",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
	"application/x-hwp": "hwp", "application/haansofthwp": "hwp", "application/vnd.hancom.hwp": "hwp",
	"application/hwp+zip": "hwpx", "application/vnd.hancom.hwpx": "hwpx", "application/haansofthwpx": "hwpx",
	"application/rtf": "rtf", "application/json": "json", "application/xml": "xml", "application/pkcs7-signature": "p7s",
	"application/pgp-signature": "asc",
	"text/plain":                "txt", "text/html": "html", "text/csv": "csv", "text/calendar": "ics", "text/xml": "xml",
	"text/rtf": "rtf", "text/vcard": "vcf", "text/x-vcard": "vcf", "text/rfc822-headers": "txt",
	"message/rfc822": "eml", "message/global": "eml", "message/delivery-status": "txt",
}

// extensionOf is the extension for a media type: from extensions, else the
// subtype when it is a short word ("image/avif" → "avif"), else "bin".
func extensionOf(mt string) string {
	if e, ok := extensions[mt]; ok {
		return e
	}
	_, sub, _ := strings.Cut(mt, "/")
	sub = strings.TrimPrefix(sub, "x-")
	if len(sub) >= 2 && len(sub) <= 5 && strings.Trim(sub, "abcdefghijklmnopqrstuvwxyz0123456789") == "" {
		return sub
	}
	return "bin"
}

// typeOf is the media type for a file name's extension, the reverse of
// extensions; application/octet-stream when it is not known.
func typeOf(name string) string {
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
	best := ""
	for mt, e := range extensions {
		// The map has several types for some extensions: take the first
		// in sort order, so the answer does not change between runs.
		if e == ext && (best == "" || mt < best) && !strings.HasPrefix(mt, "message/delivery") && mt != "text/rfc822-headers" {
			best = mt
		}
	}
	if best == "" {
		return "application/octet-stream"
	}
	return best
}
