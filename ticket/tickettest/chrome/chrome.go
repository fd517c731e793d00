// Package chrome starts the headless Chromium that tests of HTML mail and
// of the web view drive through the DevTools protocol. It is for tests
// only.
package chrome

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// Path returns Chromium's executable. It skips the test when none is
// installed, unless TICKETD_E2E=1 (scripts/test.sh installs it), when it
// fails the test.
func Path(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("TICKETD_E2E") == "1" {
		t.Fatal("TICKETD_E2E=1 but no chromium is installed (scripts/test.sh installs Debian's chromium package)")
	}
	t.Skip("no chromium on this machine; scripts/test.sh installs it")
	return ""
}

// Start starts one headless Chromium (Korean locale) for the test and
// returns its chromedp context; it is stopped when the test ends.
func Start(t testing.TB) context.Context {
	t.Helper()
	path := Path(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Flag("lang", "ko-KR"))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}
