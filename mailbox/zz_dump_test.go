package mailbox

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDumpWarnings(t *testing.T) {
	for _, rel := range corpusFiles(t) {
		raw, _ := os.ReadFile(filepath.Join(corpusDir, "messages", rel))
		m, err := Parse(raw)
		if err != nil { t.Logf("%s ERR %v", rel, err); continue }
		if len(m.Warnings) > 0 { t.Logf("%s %q", rel, m.Warnings) }
		if os.Getenv("DUMP") == rel { t.Logf("%+v", m) }
	}
}
