package rfc822

// ExtractAttachments returns the attachments of a raw mail with their
// decoded bytes, in the order Parse lists them. It is best-effort like
// Parse: what cannot be read is left out, and it never panics.
func ExtractAttachments(raw []byte) (files []File) {
	p := &parser{mail: &Message{Headers: map[string]string{}}, keep: true}
	defer func() {
		if r := recover(); r != nil {
			files = p.files
		}
	}()
	if err := p.parse(raw); err != nil {
		return nil
	}
	return p.files
}
