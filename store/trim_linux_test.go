package store

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ticketd/ticketd/ticket"
)

// mapRss is the resident KiB of the database's map, from /proc/self/smaps.
func mapRss(t *testing.T, db *DB) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in, total := false, 0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = fields[len(fields)-1] == db.realPath
			continue
		}
		if in && len(fields) >= 2 && fields[0] == "Rss:" {
			n, _ := strconv.Atoi(fields[1])
			total += n
		}
	}
	return total
}

func TestReleaseMapDropsResidentPagesAndKeepsData(t *testing.T) {
	db := tempDB(t)
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	if err := db.Update(func(tx ticket.Tx) error { return tx.AddMessage(&ticket.Message{TicketID: 1}, want) }); err != nil {
		t.Fatal(err)
	}
	read := func() {
		t.Helper()
		var got []byte
		db.View(func(tx ticket.ReadTx) error { got, _ = tx.Raw(1); return nil })
		if !bytes.Equal(got, want) {
			t.Fatal("raw mail changed")
		}
	}
	read() // maps every page of the mail
	before := mapRss(t, db)
	db.releaseMap()
	after := mapRss(t, db)
	t.Logf("resident map: %d KiB after reading, %d KiB after releaseMap", before, after)
	if before < 16<<10 || after > 1<<10 {
		t.Fatalf("resident map %d KiB -> %d KiB: want >= 16 MiB, then under 1 MiB", before, after)
	}
	read() // the pages come back from the page cache, unchanged
}
