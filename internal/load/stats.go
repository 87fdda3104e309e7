package load

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Summary describes a distribution of latencies.
type Summary struct {
	N                   int
	Min, Mean           time.Duration
	P50, P90, P99, P999 time.Duration
	Max                 time.Duration
}

// Summarize returns the summary of samples (nanoseconds; negative values are
// allowed). Percentiles use the nearest-rank method: P99 is the smallest
// sample that at least 99% of the samples do not exceed. samples is sorted in
// place.
func Summarize(samples []int64) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	slices.Sort(samples)
	var sum float64
	for _, v := range samples {
		sum += float64(v)
	}
	return Summary{
		N:    len(samples),
		Min:  time.Duration(samples[0]),
		Mean: time.Duration(math.Round(sum / float64(len(samples)))),
		P50:  time.Duration(Percentile(samples, 50)),
		P90:  time.Duration(Percentile(samples, 90)),
		P99:  time.Duration(Percentile(samples, 99)),
		P999: time.Duration(Percentile(samples, 99.9)),
		Max:  time.Duration(samples[len(samples)-1]),
	}
}

// Percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of
// sorted: the value at rank ⌈p/100·n⌉. It returns 0 for no samples.
func Percentile(sorted []int64, p float64) int64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// ms formats a duration in milliseconds with three decimals.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond))
}

// bytesPer formats total bytes divided by n as kB with one decimal.
func bytesPer(total int64, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f kB", float64(total)/float64(n)/1000)
}
