package mailbox

import (
	"runtime"

	"github.com/ticketd/ticketd/ticket"
)

// NewHeldPipe is NewPipe with parsed called after each mail is parsed and
// prepare before each is committed, so a test can hold the pipe there.
func NewHeldPipe(svc *ticket.Service, opt PipeOptions, parsed, prepare func()) *Pipe {
	return newPipe(svc, PipeForTest(opt), nil, nil, pipeSeams{parsed: parsed, prepare: prepare})
}

// PipeForTest fills the zero Workers and MaxBytes of o with the values
// ticketd's configuration ships with: one worker per core, 8 MiB.
func PipeForTest(o PipeOptions) PipeOptions {
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 8 << 20
	}
	return o
}
