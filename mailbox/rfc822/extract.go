package rfc822

import (
	"fmt"
	"runtime/debug"
)

// ExtractAttachments returns the attachments of a raw mail with their
// decoded bytes, in the order Parse lists them. It is best-effort like
// Parse: what cannot be read is left out. The error is a *PanicError when
// it recovered from a bug (files are those read before), or says why raw
// is not a mail (no files).
func ExtractAttachments(raw []byte) (files []File, err error) {
	p := &parser{mail: &Message{Headers: map[string]string{}}, keep: true}
	defer func() {
		if r := recover(); r != nil {
			files, err = p.files, &PanicError{Value: fmt.Sprint(r), Stack: string(debug.Stack())}
		}
	}()
	if err := p.parse(raw); err != nil {
		return nil, err
	}
	return p.files, nil
}
