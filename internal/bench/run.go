package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-pay/coffer/client"
	"github.com/coffer-pay/coffer/internal/money"
)

// maxAmount bounds the amount of one transfer, in minor units (1 to 100).
const maxAmount = 100

// run is the state of one bench run.
type run struct {
	opt    Options
	tr     *http.Transport
	c      *client.Client
	prefix string // "bench-<run id>-": starts every key of the run
	seed   uint64 // from the run id: transfer i is always the same transfer
	hot    bool

	// Set up before the load starts, read-only afterwards.
	scale    int
	amounts  []string // amounts[a] is a minor units as a decimal string
	mint     int64
	merchant int64   // hot scenario only
	ids      []int64 // customer accounts
	funding  int64   // minor units the mint gave each customer

	next   atomic.Uint64 // next transfer index to claim
	stop   atomic.Bool   // workers stop before their next request
	consec atomic.Int64  // requests failed in a row, across workers
	acked  bitset        // transfer indices the server acknowledged

	abortOnce sync.Once
	abort     error // why the run stopped early; read after the workers end
}

// span is a run of transfer indices whose outcome is unknown.
type span struct{ start, n uint64 }

// mix is SplitMix64's finalizer: a cheap, well-spread hash of an index.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// pick returns transfer i: the positions in ids of the debit and credit
// accounts (-1 is the merchant) and the amount. It is a pure function of
// the run id and i, so nothing per transfer needs storing to know later
// what an acknowledged transfer moved.
func (r *run) pick(i uint64) (from, to int, amount int64) {
	h := mix(r.seed + i)
	n := uint64(len(r.ids))
	from = int(h % n)
	amount = int64(h>>48%maxAmount) + 1
	if r.hot {
		return from, -1, amount
	}
	to = int((uint64(from) + 1 + mix(h)%(n-1)) % n)
	return from, to, amount
}

func (r *run) id(pos int) int64 {
	if pos < 0 {
		return r.merchant
	}
	return r.ids[pos]
}

// key appends the key of item i of a kind ('t' transfer, 'f' funding,
// 'a' account) to buf.
func (r *run) key(buf []byte, kind byte, i uint64) []byte {
	buf = append(buf, r.prefix...)
	buf = append(buf, kind)
	return strconv.AppendUint(buf, i, 36)
}

func (r *run) keyString(kind byte, i uint64) string {
	var b [64]byte
	return string(r.key(b[:0], kind, i))
}

// setup opens the mint, the merchant (hot scenario) and the customer
// accounts, and funds every customer from the mint. Every call has a key,
// so retries (and a second run with the same id) are safe.
func (r *run) setup(ctx context.Context) error {
	o := r.opt
	r.hot = o.Scenario == Hot
	mint, err := r.openAccount(ctx, client.CreateAccountRequest{
		Key: r.prefix + "mint", Asset: o.Asset, Name: "bench " + o.RunID + " mint", Normal: "debit", Unlimited: true,
	})
	if err != nil {
		return fmt.Errorf("open the mint account: %w", err)
	}
	r.mint, r.scale = mint.ID, mint.Scale
	r.amounts = make([]string, maxAmount+1)
	for a := int64(1); a <= maxAmount; a++ {
		r.amounts[a] = money.Format(a, r.scale)
	}
	if r.hot {
		m, err := r.openAccount(ctx, client.CreateAccountRequest{Key: r.prefix + "merchant", Asset: o.Asset, Name: "bench " + o.RunID + " merchant"})
		if err != nil {
			return fmt.Errorf("open the merchant account: %w", err)
		}
		r.merchant = m.ID
	}
	r.ids = make([]int64, o.Accounts)
	err = par(len(r.ids), min(o.Concurrency, 32), func(i int) error {
		a, err := r.openAccount(ctx, client.CreateAccountRequest{
			Key: r.keyString('a', uint64(i)), Asset: o.Asset, Name: "bench " + o.RunID + " #" + strconv.Itoa(i),
		})
		if err == nil && a.Scale != r.scale {
			err = fmt.Errorf("account %d has scale %d, the mint %d", a.ID, a.Scale, r.scale)
		}
		r.ids[i] = a.ID
		return err
	})
	if err != nil {
		return fmt.Errorf("open customer accounts: %w", err)
	}

	// Fund each customer with ten times what it would lose if every
	// transfer took the largest amount, plus a margin: a transfer then
	// fails for lack of funds only by a freak of chance.
	total := o.Count
	if total == 0 {
		total = int64(o.Duration.Seconds() * 1e6) // more than any server does
	}
	total = min(total+int64(o.Warmup.Seconds()*1e6), 1<<40)
	n := int64(len(r.ids))
	r.funding = min((total/n+1)*maxAmount*10+1000*maxAmount, 1e17/n)
	amount := money.Format(r.funding, r.scale)
	const chunk = 1000
	chunks := (len(r.ids) + chunk - 1) / chunk
	err = par(chunks, 4, func(c int) error {
		lo, hi := c*chunk, min((c+1)*chunk, len(r.ids))
		reqs := make([]client.TransferRequest, 0, hi-lo)
		for i := lo; i < hi; i++ {
			reqs = append(reqs, client.TransferRequest{
				Key: r.keyString('f', uint64(i)), DebitAccountID: r.mint, CreditAccountID: r.ids[i], Asset: o.Asset, Amount: amount,
			})
		}
		var res []client.BatchOutcome
		err := retry(ctx, func() (err error) {
			res, err = r.c.CreateTransfersMinimal(ctx, client.BatchRequest{Transfers: reqs})
			return err
		})
		if err != nil {
			return err
		}
		if len(res) != len(reqs) {
			return fmt.Errorf("a batch of %d transfers answered %d results", len(reqs), len(res))
		}
		for k, x := range res {
			if !x.OK() {
				return fmt.Errorf("fund account %d: %v", r.ids[lo+k], x.Error)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("fund customer accounts: %w", err)
	}
	return nil
}

func (r *run) openAccount(ctx context.Context, req client.CreateAccountRequest) (client.Account, error) {
	var a client.Account
	err := retry(ctx, func() (err error) {
		a, err = r.c.CreateAccount(ctx, req)
		return err
	})
	return a, err
}

// worker is one sender's state. Only its goroutine touches it until the
// phase ends.
type worker struct {
	hist                                hist
	requests, transfers, errors, failed int64
	unknown                             []span
	lastErr                             error
	streak                              int // this worker's failures in a row
	buf                                 []byte
	reqs                                []client.TransferRequest // batch scenario
}

// phaseResult is what the workers of one phase did, merged.
type phaseResult struct {
	requests, transfers, errors, failed int64
	unknown                             []span
	hist                                *hist
	took                                time.Duration
	lastErr                             error
}

// phase runs the workers until the transfer index reaches limit, d passes
// (if not 0), too many requests fail in a row or ctx ends.
func (r *run) phase(ctx context.Context, limit uint64, d time.Duration) phaseResult {
	r.stop.Store(false)
	start := time.Now()
	var deadline time.Time
	if d > 0 {
		deadline = start.Add(d)
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			r.stop.Store(true)
		case <-done:
		}
	}()
	ws := make([]*worker, r.opt.Concurrency)
	var wg sync.WaitGroup
	for k := range ws {
		w := &worker{buf: make([]byte, 0, 64)}
		if r.opt.Scenario == Batch {
			w.reqs = make([]client.TransferRequest, r.opt.BatchSize)
		}
		ws[k] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.work(ctx, w, limit, deadline)
		}()
	}
	wg.Wait()
	res := phaseResult{hist: new(hist), took: time.Since(start)}
	close(done)
	for _, w := range ws {
		res.hist.merge(&w.hist)
		res.requests += w.requests
		res.transfers += w.transfers
		res.errors += w.errors
		res.failed += w.failed
		res.unknown = append(res.unknown, w.unknown...)
		if w.lastErr != nil {
			res.lastErr = w.lastErr
		}
	}
	return res
}

// outcome is what an answer says about the transfers of a request.
type outcome int

const (
	applied outcome = iota // acknowledged
	failed                 // refused for a business reason: not applied
	refused                // refused as a request (auth, route, size): not applied
	unknown                // no usable answer: may or may not have been applied
)

func classify(err error) outcome {
	if err == nil {
		return applied
	}
	var ce *client.Error
	if !errors.As(err, &ce) {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Op == "dial" {
			return refused // no connection: the request was never sent
		}
		return unknown // cut connection, time limit, unreadable answer
	}
	switch {
	case ce.Status >= 500 || ce.Status == http.StatusRequestTimeout || ce.Status == http.StatusTooManyRequests:
		return unknown
	case ce.Status == http.StatusUnprocessableEntity || ce.Status == http.StatusConflict ||
		ce.Status == http.StatusNotFound && ce.Code != "no_route":
		return failed
	default:
		return refused
	}
}

// work sends requests until the phase ends.
func (r *run) work(ctx context.Context, w *worker, limit uint64, deadline time.Time) {
	n := uint64(1)
	if r.opt.Scenario == Batch {
		n = uint64(r.opt.BatchSize)
	}
	for !r.stop.Load() {
		t0 := time.Now()
		if !deadline.IsZero() && !t0.Before(deadline) {
			r.stop.Store(true)
			return
		}
		i := r.next.Add(n) - n
		if i >= limit {
			r.stop.Store(true)
			return
		}
		var o outcome
		var err error
		if n == 1 {
			o, err = r.sendOne(ctx, w, i)
		} else {
			o, err = r.sendBatch(ctx, w, i, min(n, limit-i))
		}
		w.hist.record(time.Since(t0))
		w.requests++
		if o == applied || o == failed {
			w.streak = 0
			if r.consec.Load() != 0 {
				r.consec.Store(0)
			}
			continue
		}
		w.errors++
		w.lastErr = err
		if ctx.Err() != nil {
			return
		}
		if r.consec.Add(1) >= int64(r.opt.MaxErrors) {
			r.abortOnce.Do(func() { r.abort = err })
			r.stop.Store(true)
			return
		}
		// Back off a little, so that a struggling server is not hammered
		// and a dead one is detected in a few rounds, not a busy loop.
		w.streak++
		sleep(ctx, min(2*time.Millisecond<<min(w.streak-1, 6), 100*time.Millisecond))
	}
}

func (r *run) sendOne(ctx context.Context, w *worker, i uint64) (outcome, error) {
	from, to, amount := r.pick(i)
	w.buf = r.key(w.buf[:0], 't', i)
	_, err := r.c.CreateTransfer(ctx, client.TransferRequest{
		Key: string(w.buf), DebitAccountID: r.id(from), CreditAccountID: r.id(to), Asset: r.opt.Asset, Amount: r.amounts[amount],
	})
	o := classify(err)
	switch o {
	case applied:
		w.transfers++
		r.acked.set(i)
	case failed:
		w.failed++
	case unknown:
		w.unknown = append(w.unknown, span{i, 1})
	}
	return o, err
}

func (r *run) sendBatch(ctx context.Context, w *worker, first, n uint64) (outcome, error) {
	reqs := w.reqs[:n]
	for k := range reqs {
		i := first + uint64(k)
		from, to, amount := r.pick(i)
		w.buf = r.key(w.buf[:0], 't', i)
		reqs[k] = client.TransferRequest{
			Key: string(w.buf), DebitAccountID: r.id(from), CreditAccountID: r.id(to), Asset: r.opt.Asset, Amount: r.amounts[amount],
		}
	}
	// Only the outcome of each transfer matters: the minimal answer spares
	// the server encoding, and the bench decoding, whole transfers.
	res, err := r.c.CreateTransfersMinimal(ctx, client.BatchRequest{Transfers: reqs})
	if err == nil && uint64(len(res)) != n {
		err = fmt.Errorf("bench: a batch of %d transfers answered %d results", n, len(res))
	}
	switch o := classify(err); o {
	case applied:
		for k := range res {
			if res[k].OK() {
				w.transfers++
				r.acked.set(first + uint64(k))
			} else {
				w.failed++
			}
		}
		return applied, nil
	case unknown:
		w.unknown = append(w.unknown, span{first, n})
		return unknown, err
	default:
		// The batch was refused as a whole: no transfer of it applied.
		return refused, err
	}
}

// par calls f(0) … f(n-1) from up to workers goroutines and returns the
// first error, after which it starts no more calls.
func par(n, workers int, f func(i int) error) error {
	var (
		next  atomic.Int64
		stop  atomic.Bool
		once  sync.Once
		first error
		wg    sync.WaitGroup
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					stop.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// retry calls f up to five times while it fails with an error worth
// retrying. Only calls that are safe to repeat (keyed or reads) use it.
func retry(ctx context.Context, f func() error) error {
	for attempt := 0; ; attempt++ {
		err := f()
		if err == nil || attempt == 4 || !client.Temporary(err) || ctx.Err() != nil {
			return err
		}
		sleep(ctx, 100*time.Millisecond<<attempt)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
