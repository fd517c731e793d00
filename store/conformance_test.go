package store_test

import (
	"os"
	"testing"

	"github.com/ticketd/ticketd/store"
	"github.com/ticketd/ticketd/store/storetest"
	"github.com/ticketd/ticketd/ticket"
	"github.com/ticketd/ticketd/ticket/tickettest"
)

// The bbolt store keeps the contract of every ticket.Store, plain and
// encrypted.
func TestContract(t *testing.T) {
	settle := func(t *testing.T, st ticket.Store) {
		if _, err := st.(*store.DB).IndexPending(0); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("plain", func(t *testing.T) {
		storetest.Run(t, storetest.Options{Open: func(t *testing.T) ticket.Store { return tickettest.DB(t) }, Settle: settle})
	})
	t.Run("encrypted", func(t *testing.T) {
		storetest.Run(t, storetest.Options{Open: func(t *testing.T) ticket.Store { return tickettest.EncryptedDB(t) }, Settle: settle,
			Stored: func(t *testing.T, st ticket.Store) []byte {
				b, err := os.ReadFile(st.(*store.DB).Path())
				if err != nil {
					t.Fatal(err)
				}
				return b
			}})
	})
}
