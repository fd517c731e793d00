package oauth

import (
	"testing"

	"github.com/ticketd/ticketd/ticket/tickettest"
)

// TestMain fails the run when a panic was recovered and logged.
func TestMain(m *testing.M) { tickettest.Main(m) }
