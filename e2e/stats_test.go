package e2e

import (
	"testing"
	"time"
)

func TestLatencyStats(t *testing.T) {
	var d []time.Duration
	for i := 20; i >= 1; i-- { // 20 ms down to 1 ms: the order must not matter
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	med, p95, most := LatencyStats(d)
	// Median of 20: between the 10th and 11th; p95 by nearest rank: the
	// 19th value (at least 95% of 20 samples lie at or below it).
	if med != 10500*time.Microsecond || p95 != 19*time.Millisecond || most != 20*time.Millisecond {
		t.Fatalf("LatencyStats = %v, %v, %v; want 10.5ms, 19ms, 20ms", med, p95, most)
	}
	if d[0] != 20*time.Millisecond {
		t.Fatal("LatencyStats sorted its argument in place")
	}
	if a, b, c := LatencyStats(nil); a != 0 || b != 0 || c != 0 {
		t.Fatalf("LatencyStats(nil) = %v, %v, %v", a, b, c)
	}
}
