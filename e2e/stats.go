package e2e

import (
	"math"
	"slices"
	"time"
)

// LatencyStats returns the median, the p95 (nearest rank: the value below
// which at least 95% of the samples lie) and the maximum of d; zeros when d
// is empty. The IDLE test and the benchmark report latencies with it.
func LatencyStats(d []time.Duration) (median, p95, most time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0, 0, 0
	}
	median = s[n/2]
	if n%2 == 0 {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	return median, s[int(math.Ceil(0.95*float64(n)))-1], s[n-1]
}
