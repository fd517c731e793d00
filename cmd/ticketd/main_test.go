package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"testing"

	"github.com/ticketd/ticketd/ticket/tickettest"
)

// TestMain fails the run when code that was given no logger recovered a
// panic (see tickettest.Main); runChecked does the same for the logs of a
// command.
func TestMain(m *testing.M) { tickettest.Main(m) }

// panicLogged finds a log record with a "panic" attribute, in the text or
// the JSON format.
var panicLogged = regexp.MustCompile(`(^| )panic=|"panic":`)

// runChecked is run, and an error of t when the command logged a
// recovered panic: a panic boundary keeps the daemon going, so the
// command's exit code alone would not show it.
func runChecked(t *testing.T, ctx context.Context, args []string, stdin io.Reader, stdout io.Writer, stderr *bytes.Buffer) int {
	t.Helper()
	code := run(ctx, args, stdin, stdout, stderr)
	for _, line := range bytes.Split(stderr.Bytes(), []byte("\n")) {
		if panicLogged.Match(line) && !bytes.Contains(line, []byte(tickettest.InjectedPanic)) {
			t.Errorf("%v: a panic was recovered:\n%s", args, line)
		}
	}
	return code
}
