package mailbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestZZDump(t *testing.T) {
	for _, glob := range strings.Fields(os.Getenv("DUMP")) {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			raw, _ := os.ReadFile(f)
			m, err := Parse(raw)
			if err != nil {
				fmt.Println(f, err)
				continue
			}
			if m.Bounce == nil {
				fmt.Println(f, "nil")
				continue
			}
			fmt.Printf("%s std=%v orig=%q\n", f, m.Bounce.Standard, m.Bounce.OriginalMessageID)
			for _, r := range m.Bounce.Recipients {
				fmt.Printf("   %q %s %s %q\n", r.Email, r.Status, r.Action, r.Diagnostic)
			}
		}
	}
}
