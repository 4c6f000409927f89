package bench

import (
	"math/bits"
	"sync/atomic"
)

// bitset records which transfer indices were acknowledged. Workers set
// bits concurrently with atomic ORs; pages of a million bits are allocated
// on first use, so a run costs memory in proportion to the indices it
// reaches, not to the --count it was allowed.
type bitset struct {
	pages [maxPages]atomic.Pointer[page]
}

const (
	pageShift = 20
	pageBits  = 1 << pageShift
	maxPages  = 1 << 12
	// maxIndex bounds the transfer indices of one run (2^32).
	maxIndex = maxPages * pageBits
)

type page [pageBits / 64]uint64

func (b *bitset) set(i uint64) {
	slot := &b.pages[i>>pageShift]
	p := slot.Load()
	if p == nil {
		p = new(page)
		if !slot.CompareAndSwap(nil, p) {
			p = slot.Load()
		}
	}
	off := i & (pageBits - 1)
	atomic.OrUint64(&p[off>>6], 1<<(off&63))
}

func (b *bitset) has(i uint64) bool {
	p := b.pages[i>>pageShift].Load()
	if p == nil {
		return false
	}
	off := i & (pageBits - 1)
	return atomic.LoadUint64(&p[off>>6])&(1<<(off&63)) != 0
}

// each calls fn with every set index in ascending order. Call it only once
// no worker sets bits any more.
func (b *bitset) each(fn func(i uint64) error) error {
	for pi := range b.pages {
		p := b.pages[pi].Load()
		if p == nil {
			continue
		}
		for wi, w := range p {
			for w != 0 {
				bit := bits.TrailingZeros64(w)
				w &= w - 1
				if err := fn(uint64(pi)<<pageShift | uint64(wi)<<6 | uint64(bit)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
