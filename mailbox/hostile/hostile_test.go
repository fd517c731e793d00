package hostile

import (
	"bufio"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestUIDSet(t *testing.T) {
	for set, want := range map[string][]uint32{
		"1:3": {1, 2, 3}, "2,4": {2, 4}, "3:*": {3, 4}, "9:*": {4}, "*": {4}, "4:2": {2, 3, 4},
	} {
		if got := uidSet(set, 4); !slices.Equal(got, want) {
			t.Errorf("uidSet(%q) = %v, want %v", set, got, want)
		}
	}
}

// The server answers, stalls once where told, and closes itself when its
// lifetime ends.
func TestStallOnceAndLifetime(t *testing.T) {
	s, err := Start(Options{Messages: [][]byte{[]byte("Subject: a\r\n\r\nb\r\n")}, Plan: Plan{Stall: "NOOP"}, Lifetime: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if l, _ := r.ReadString('\n'); !strings.HasPrefix(l, "* OK") {
		t.Fatalf("greeting %q", l)
	}
	c.Write([]byte("a1 NOOP\r\n"))
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if l, err := r.ReadString('\n'); err == nil {
		t.Fatalf("stalled NOOP answered: %q", l)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := r.ReadString('\n'); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("the connection outlived the server's lifetime: %v", err)
	}
	// The port may be taken again at once by another test's listener (the
	// packages' tests run in parallel, hostile servers too): only this
	// server's greeting counts.
	if c2, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		defer c2.Close()
		c2.SetReadDeadline(time.Now().Add(time.Second))
		if l, _ := bufio.NewReader(c2).ReadString('\n'); strings.Contains(l, s.Greeting()) {
			t.Fatal("the server still accepts after its lifetime")
		}
	}
}
