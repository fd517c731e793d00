package mailbox

import (
	"log/slog"

	"github.com/ticketd/ticketd/ticket"
)

// NewHeldPipe is NewPipe with parsed called after each mail is parsed and
// prepare before each is committed, so a test can hold the pipe there.
func NewHeldPipe(svc *ticket.Service, opt PipeOptions, parsed, prepare func()) *Pipe {
	return newPipe(svc, opt, nil, slog.New(slog.DiscardHandler), pipeSeams{parsed: parsed, prepare: prepare})
}
