package rfc822

import (
	"strings"
	"testing"
)

func TestSafeFilename(t *testing.T) {
	cases := map[string]string{
		"견적서.pdf":                  "견적서.pdf",
		"../../etc/passwd":         "_._etc_passwd",
		`..\..\windows\system.ini`: "_._windows_system.ini",
		"/abs/path.png":            "_abs_path.png",
		"a\r\nb.txt":               "ab.txt",
		"invoice\u202egpj.exe":     "invoicegpj.exe", // RTL override hides .exe
		"CON.txt":                  "_CON.txt",
		"nul":                      "_nul",
		"...":                      "attachment",
		"":                         "attachment",
		".hidden":                  "hidden",
		"what?<>|*.doc":            "what_____.doc",
		"bad\xffutf8.txt":          "bad_utf8.txt",
	}
	for in, want := range cases {
		if got := SafeFilename(in); got != want {
			t.Errorf("SafeFilename(%q) = %q, want %q", in, got, want)
		}
	}
	long := SafeFilename(strings.Repeat("가", 100) + ".pdf")
	if len(long) > 200 || !strings.HasSuffix(long, ".pdf") || !strings.HasPrefix(long, "가") {
		t.Errorf("long name: %d bytes %q", len(long), long)
	}
}

func TestSanitizeHTML(t *testing.T) {
	in := `<p onclick="x()">안녕하세요 <b>고객님</b></p><script>alert(1)</script><img src="cid:logo@x"><a href="javascript:evil()">x</a><iframe src="http://e"></iframe>`
	out := SanitizeHTML(in)
	for _, bad := range []string{"<script", "alert(1)", "onclick", "javascript:", "<iframe"} {
		if strings.Contains(out, bad) {
			t.Errorf("sanitised HTML keeps %q: %s", bad, out)
		}
	}
	for _, good := range []string{"<b>고객님</b>", `src="cid:logo@x"`} {
		if !strings.Contains(out, good) {
			t.Errorf("sanitised HTML lost %q: %s", good, out)
		}
	}
}
