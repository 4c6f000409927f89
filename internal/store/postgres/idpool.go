package postgres

import (
	"context"
	"sync"
)

// idPool keeps transfer ids reserved from the sequence but not yet used.
type idPool struct {
	mu   sync.Mutex
	free []int64
}

const idChunk = 1000

// take returns n ids, refilling with fetch(k) when the pool runs short.
// fetch runs without the lock held by other callers waiting: a caller
// refills for itself, and what it does not need stays in the pool.
func (p *idPool) take(ctx context.Context, n int, fetch func(ctx context.Context, k int) ([]int64, error)) ([]int64, error) {
	p.mu.Lock()
	if len(p.free) >= n {
		out := append([]int64(nil), p.free[:n]...)
		p.free = p.free[n:]
		p.mu.Unlock()
		return out, nil
	}
	p.mu.Unlock()
	got, err := fetch(ctx, max(n, idChunk))
	if err != nil {
		return nil, err
	}
	out := got[:n:n]
	p.mu.Lock()
	p.free = append(p.free, got[n:]...)
	p.mu.Unlock()
	return out, nil
}
