package bench

import (
	"math"
	"math/bits"
	"time"
)

// hist is a fixed-size log-linear latency histogram over microseconds:
// exact below 128 µs, then 64 buckets per power of two, so any value is
// known within 1.6 %. Each worker owns one and records without locks; the
// workers' histograms are merged when the run is over.
type hist struct {
	counts [nBuckets]uint64
	n      uint64
	max    time.Duration
}

const (
	subBits  = 7
	subCount = 1 << subBits // values below this have a bucket each
	half     = subCount / 2 // buckets per power of two above subCount
	maxBits  = 40           // values are capped at 2^40 µs (12 days)
	maxShift = maxBits - subBits
	nBuckets = (maxShift + 2) * half
)

// bucket returns the index of v µs: v itself below subCount, else the
// power of two (shift) and the top subBits bits of v.
func bucket(v uint64) int {
	if v < subCount {
		return int(v)
	}
	if v >= 1<<maxBits {
		v = 1<<maxBits - 1
	}
	shift := bits.Len64(v) - subBits
	return shift*half + int(v>>shift)
}

// bounds returns the lowest value of bucket i and its width, in µs.
func bounds(i int) (low, width uint64) {
	if i < subCount {
		return uint64(i), 1
	}
	shift := i/half - 1
	return uint64(i-shift*half) << shift, 1 << shift
}

func (h *hist) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucket(uint64(d/time.Microsecond))]++
	h.n++
	if d > h.max {
		h.max = d
	}
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the latency below which a fraction q of the recorded
// values lie: the middle of the bucket that holds the value of that rank,
// never more than the largest value recorded.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := bounds(i)
			d := time.Duration(low)*time.Microsecond + time.Duration(width)*time.Microsecond/2
			return min(d, h.max)
		}
	}
	return h.max
}
