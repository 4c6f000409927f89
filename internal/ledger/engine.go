// Package ledger is Coffer's double-entry core and the only writer of
// balances. Every write from every surface becomes a job on the Engine,
// which applies jobs in batches inside one database transaction (group
// commit) and answers each caller only after that transaction is durable.
//
// Correctness under concurrency comes from the design, not from luck:
//   - within a process, one batch at a time per worker applies requests in
//     order against the locked account rows it read in the same transaction;
//   - across workers and processes sharing PostgreSQL, each batch locks the
//     pending transfers and then the accounts it touches, each set in
//     ascending id order, so batches serialize on the rows they share and
//     cannot deadlock; an idempotency key written by a concurrent batch makes
//     the insert fail and the batch run again, and then it sees the key.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/store"
)

// Options configure an Engine. The zero value is usable.
type Options struct {
	// MaxBatch is the most transfers applied in one database transaction.
	MaxBatch int
	// Workers is how many batches may commit at once. One is right for
	// SQLite (a single writer); PostgreSQL gains from a few.
	Workers int
	// ExpiryInterval is how often pending transfers past their timeout are
	// voided. Zero means every second; negative disables the sweep.
	ExpiryInterval time.Duration
	Now            func() time.Time
	Logger         *slog.Logger
	// OnBatch, if set, is called after every batch with the number of jobs
	// and transfer requests it carried, how long the transaction took and
	// its error, for metrics.
	OnBatch func(jobs, transfers int, took time.Duration, err error)
	// TransferEvent, if set, is called inside each batch for every transfer
	// the batch creates (replays excluded), before the batch's events are
	// written; an event it returns is written to the outbox in the same
	// transaction, fully formed (ID, MerchantID, CreatedAt set). It runs on
	// the hot path, holding the batch's locks: it must be fast, must not
	// write to the database and must not modify t.
	TransferEvent func(t *store.Transfer) (store.Event, bool)
}

// Engine batches writes into durable transactions.
type Engine struct {
	st  store.Store
	opt Options
	log *slog.Logger

	in     chan *job
	mu     sync.RWMutex // guards closed against sends on a closed channel
	closed bool
	wg     sync.WaitGroup
	stop   chan struct{}

	assetMu sync.RWMutex
	assets  map[string]store.Asset
}

// New starts an engine over st. Call Close to stop it.
func New(st store.Store, opt Options) *Engine {
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 8000
	}
	if opt.Workers <= 0 {
		opt.Workers = 1
	}
	if opt.ExpiryInterval == 0 {
		opt.ExpiryInterval = time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	// Both stores keep microseconds: rounding here makes a replayed answer
	// carry exactly the times the first one did.
	clock := opt.Now
	opt.Now = func() time.Time { return clock().UTC().Truncate(time.Microsecond) }
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		st:     st,
		opt:    opt,
		log:    opt.Logger,
		in:     make(chan *job, 4*opt.MaxBatch),
		stop:   make(chan struct{}),
		assets: make(map[string]store.Asset),
	}
	for range opt.Workers {
		e.wg.Add(1)
		go e.worker()
	}
	if opt.ExpiryInterval > 0 {
		e.wg.Add(1)
		go e.sweep()
	}
	return e
}

// Close stops taking new work, finishes every job already queued (their
// callers get their answers), and returns when the workers have stopped or
// ctx ends.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		close(e.stop)
		close(e.in)
	}
	e.mu.Unlock()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Store returns the engine's store for reads.
func (e *Engine) Store() store.Store { return e.st }

// job is one caller's unit of work: an account to open, or a list of
// transfer requests (several independent transfers or linked chains), or
// pending transfers to expire.
type job struct {
	merchantID int64
	account    *AccountRequest
	transfers  []TransferRequest
	expire     []int64
	op         func(ctx context.Context, x *Exec) error

	done     chan struct{}
	results  []Result
	acct     store.Account
	replayed bool
	err      error
}

func (j *job) size() int { return max(1, len(j.transfers), len(j.expire)) }

func (e *Engine) submit(ctx context.Context, j *job) error {
	j.done = make(chan struct{})
	e.mu.RLock()
	if e.closed {
		e.mu.RUnlock()
		return ErrShuttingDown
	}
	select {
	case e.in <- j:
	case <-ctx.Done():
		e.mu.RUnlock()
		return ctx.Err()
	}
	e.mu.RUnlock()
	select {
	case <-j.done:
		return j.err
	case <-ctx.Done():
		// The job may still commit; the client learns its outcome by key.
		return ctx.Err()
	}
}

// Transfer applies transfer requests for a merchant and returns one result
// per request, in order. The error is nil unless the requests could not be
// applied at all (invalid list, database unavailable, shutting down, ctx
// done); business failures are in each Result.
func (e *Engine) Transfer(ctx context.Context, merchantID int64, reqs []TransferRequest) ([]Result, error) {
	if len(reqs) == 0 {
		return nil, invalid("no transfers given")
	}
	if len(reqs) > MaxBatch {
		return nil, invalid("at most %d transfers per request", MaxBatch)
	}
	if reqs[len(reqs)-1].Linked {
		return nil, invalid("the last transfer must not be linked: the linked chain is open")
	}
	results := make([]Result, len(reqs))
	valid := make([]TransferRequest, 0, len(reqs))
	index := make([]int, 0, len(reqs))
	// A request that fails validation fails the rest of its chain too.
	for start := 0; start < len(reqs); {
		end := start
		for end < len(reqs)-1 && reqs[end].Linked {
			end++
		}
		var bad *Error
		badAt := -1
		for i := start; i <= end; i++ {
			if err := validate(&reqs[i]); err != nil {
				bad, badAt = err, i
				break
			}
		}
		for i := start; i <= end; i++ {
			switch {
			case bad == nil:
				valid = append(valid, reqs[i])
				index = append(index, i)
			case i == badAt:
				results[i].Err = bad
			default:
				results[i].Err = ErrLinkedFailed
			}
		}
		start = end + 1
	}
	if len(valid) == 0 {
		return results, nil
	}
	j := &job{merchantID: merchantID, transfers: valid}
	if err := e.submit(ctx, j); err != nil {
		return nil, err
	}
	for k, i := range index {
		results[i] = j.results[k]
	}
	return results, nil
}

// CreateAccount opens an account. With a key, a retry returns the account
// the key created (replayed true); the same key with other fields is an
// idempotency conflict.
func (e *Engine) CreateAccount(ctx context.Context, merchantID int64, r AccountRequest) (store.Account, bool, error) {
	if r.Normal == "" {
		r.Normal = store.Credit
	}
	if err := validateAccount(&r); err != nil {
		return store.Account{}, false, err
	}
	if _, err := e.Asset(ctx, r.Asset); err != nil {
		return store.Account{}, false, err
	}
	j := &job{merchantID: merchantID, account: &r}
	if err := e.submit(ctx, j); err != nil {
		return store.Account{}, false, err
	}
	return j.acct, j.replayed, nil
}

// Asset returns an asset by code. An ISO 4217 currency that is not stored
// yet is created with its standard scale on first use.
func (e *Engine) Asset(ctx context.Context, code string) (store.Asset, error) {
	e.assetMu.RLock()
	a, ok := e.assets[code]
	e.assetMu.RUnlock()
	if ok {
		return a, nil
	}
	a, err := e.st.Asset(ctx, code)
	if errors.Is(err, store.ErrNotFound) {
		scale, iso := money.CurrencyScale(code)
		if !iso {
			return store.Asset{}, withMsg(ErrAssetNotFound, "asset %q not found", code)
		}
		a = store.Asset{Code: code, Scale: scale, Kind: "currency", CreatedAt: e.opt.Now().UTC()}
		err = e.st.UpsertAsset(ctx, a)
		if err == nil {
			a, err = e.st.Asset(ctx, code)
		}
	}
	if err != nil {
		return store.Asset{}, storeErr(err)
	}
	e.assetMu.Lock()
	e.assets[code] = a
	e.assetMu.Unlock()
	return a, nil
}

// DefineAsset creates a custom asset (such as points) with its scale. An
// identical existing asset is fine; another scale is a conflict.
func (e *Engine) DefineAsset(ctx context.Context, code string, scale int) (store.Asset, error) {
	if !money.ValidAssetCode(code) {
		return store.Asset{}, invalid("asset code must be 1-16 characters A-Z, 0-9, '_' or '.', starting with a letter")
	}
	if scale < 0 || scale > money.MaxScale {
		return store.Asset{}, invalid("scale must be between 0 and %d", money.MaxScale)
	}
	kind := "custom"
	if s, ok := money.CurrencyScale(code); ok {
		if s != scale {
			return store.Asset{}, &Error{Kind: KindConflict, Code: "asset_conflict", Message: fmt.Sprintf("%s is an ISO 4217 currency with scale %d", code, s)}
		}
		kind = "currency"
	}
	a := store.Asset{Code: code, Scale: scale, Kind: kind, CreatedAt: e.opt.Now().UTC()}
	if err := e.st.UpsertAsset(ctx, a); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.Asset{}, &Error{Kind: KindConflict, Code: "asset_conflict", Message: fmt.Sprintf("asset %s exists with another scale", code)}
		}
		return store.Asset{}, storeErr(err)
	}
	return e.Asset(ctx, code)
}

// storeErr maps a store error to a ledger error for callers.
func storeErr(err error) *Error {
	switch {
	case errors.Is(err, store.ErrUnavailable):
		return ErrUnavailable
	case errors.Is(err, store.ErrNotFound):
		return withMsg(ErrInvalidRequest, "not found")
	default:
		return ErrInternal
	}
}

func (e *Engine) worker() {
	defer e.wg.Done()
	for j := range e.in {
		batch := []*job{j}
		n := j.size()
	fill:
		for n < e.opt.MaxBatch {
			select {
			case j2, ok := <-e.in:
				if !ok {
					break fill
				}
				batch = append(batch, j2)
				n += j2.size()
			default:
				break fill
			}
		}
		e.run(batch, n)
	}
}

// run commits a batch, retrying transient conflicts. If the batch fails for
// another reason and holds several jobs, each job is tried on its own so
// that one bad job cannot fail its neighbours.
func (e *Engine) run(batch []*job, n int) {
	err := e.attempt(batch, n)
	if err != nil && len(batch) > 1 && !errors.Is(err, store.ErrUnavailable) {
		for _, j := range batch {
			e.finish([]*job{j}, e.attempt([]*job{j}, j.size()))
		}
		return
	}
	e.finish(batch, err)
}

func (e *Engine) finish(batch []*job, err error) {
	for _, j := range batch {
		if err != nil {
			if errors.Is(err, store.ErrUnavailable) {
				j.err = ErrUnavailable
			} else {
				j.err = ErrInternal
			}
		}
		close(j.done)
	}
}

func (e *Engine) attempt(batch []*job, n int) error {
	const maxTries = 30
	var err error
	for try := 0; try < maxTries; try++ {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err = e.process(ctx, batch)
		cancel()
		if e.opt.OnBatch != nil {
			e.opt.OnBatch(len(batch), n, time.Since(start), err)
		}
		if err == nil || !errors.Is(err, store.ErrRetry) {
			break
		}
		time.Sleep(time.Duration(rand.IntN(2000*(try+1))) * time.Microsecond)
	}
	if err != nil {
		e.log.Error("ledger batch failed", "jobs", len(batch), "transfers", n, "err", err)
	}
	return err
}

// sweep voids pending transfers whose timeout has passed.
func (e *Engine) sweep() {
	defer e.wg.Done()
	t := time.NewTicker(e.opt.ExpiryInterval)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := e.ExpireDue(ctx); err != nil && !errors.Is(err, ErrShuttingDown) {
			e.log.Warn("pending expiry sweep failed", "err", err)
		}
		cancel()
	}
}

// ExpireDue voids every pending transfer whose timeout has passed.
func (e *Engine) ExpireDue(ctx context.Context) error {
	for {
		due, err := e.st.ExpiredPending(ctx, e.opt.Now(), 1000)
		if err != nil {
			return storeErr(err)
		}
		if len(due) == 0 {
			return nil
		}
		ids := make([]int64, len(due))
		for i, t := range due {
			ids[i] = t.ID
		}
		if err := e.submit(ctx, &job{expire: ids}); err != nil {
			return err
		}
		if len(due) < 1000 {
			return nil
		}
	}
}
