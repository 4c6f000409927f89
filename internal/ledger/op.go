package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-pay/coffer/internal/store"
)

// Exec is what a domain operation can do inside a ledger batch: read and
// write its own rows in the batch's transaction, move money, open
// accounts and emit outbox events — all committed together, or not at all.
// An Exec is valid only during the operation it was given to.
type Exec struct {
	b          *batch
	merchantID int64
	ctx        context.Context
}

// Tx is the batch's database transaction, for the operation's own rows.
func (x *Exec) Tx() store.Tx { return x.b.tx }

// MerchantID is the merchant the operation runs for.
func (x *Exec) MerchantID() int64 { return x.merchantID }

// Now is the engine's clock, rounded to microseconds.
func (x *Exec) Now() time.Time { return x.b.e.opt.Now() }

// Transfer applies a list of transfer requests as one linked chain (all or
// nothing) against the batch's state and returns their results, with ids
// assigned. Keys already used replay their original outcome. A business
// failure is in the results; the error is for database trouble and must be
// returned by the operation.
func (x *Exec) Transfer(reqs ...TransferRequest) ([]Result, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	chain := make([]TransferRequest, len(reqs))
	copy(chain, reqs)
	res := make([]Result, len(chain))
	for i := range chain {
		chain[i].Linked = i < len(chain)-1
		if err := validate(&chain[i]); err != nil {
			for k := range res {
				res[k].Err = ErrLinkedFailed
			}
			res[i].Err = err
			return res, nil
		}
	}
	var keys []store.MerchantKey
	var pendIDs, acctIDs []int64
	for i := range chain {
		r := &chain[i]
		keys = append(keys, store.MerchantKey{MerchantID: x.merchantID, Key: r.Key})
		if id := r.pendingID(); id != 0 {
			pendIDs = append(pendIDs, id)
		} else {
			acctIDs = append(acctIDs, r.DebitAccountID, r.CreditAccountID)
		}
	}
	b := x.b
	if err := b.loadRows(x.ctx, keys, pendIDs, acctIDs); err != nil {
		return nil, err
	}
	from, f0 := len(b.newT), len(b.fill)
	b.expireDue()
	b.applyChain(x.merchantID, chain, res)
	if err := b.assignIDs(x.ctx, from); err != nil {
		return nil, err
	}
	for _, f := range b.fill[f0:] {
		f.res.Transfer = b.newT[f.idx]
	}
	return res, nil
}

// OpenAccount opens an account (or returns the one its key opened). The
// asset must exist: resolve it with Engine.Asset before calling Do.
func (x *Exec) OpenAccount(r AccountRequest) (store.Account, error) {
	if r.Normal == "" {
		r.Normal = store.Credit
	}
	if err := validateAccount(&r); err != nil {
		return store.Account{}, err
	}
	a, _, err := x.b.e.insertAccount(x.ctx, x.b.tx, x.merchantID, &r)
	return a, err
}

// Account returns an account as this batch sees it (with the changes the
// batch made so far), locking it for the rest of the batch.
func (x *Exec) Account(id int64) (store.Account, error) {
	if err := x.b.loadRows(x.ctx, nil, nil, []int64{id}); err != nil {
		return store.Account{}, err
	}
	a := x.b.accts[id]
	if a == nil || a.MerchantID != x.merchantID {
		return store.Account{}, withMsg(ErrAccountNotFound, "account %d not found", id)
	}
	return *a, nil
}

// Emit records an outbox event, written in the same transaction as the
// operation's other changes. The engine fills ID, MerchantID and CreatedAt
// when they are empty.
func (x *Exec) Emit(ev store.Event) {
	if ev.MerchantID == 0 {
		ev.MerchantID = x.merchantID
	}
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = x.Now()
	}
	if ev.ID == "" {
		ev.ID = store.NewEventID()
	}
	x.b.events = append(x.b.events, ev)
}

// Do runs fn as one operation inside a ledger batch, for a merchant. All of
// fn's effects — its own rows, its transfers, the accounts it opens, the
// events it emits — commit together and durably before Do returns, or none
// do.
//
// If fn returns an *Error (a business failure such as insufficient funds,
// or a domain rule of the caller's), its effects are rolled back and Do
// returns that error; the other operations of the batch are unaffected.
// Any other error (a database error, store.ErrRetry) aborts the whole batch,
// which the engine retries from the start — so fn must be a function of the
// database state only, safe to run more than once.
func Do[T any](ctx context.Context, e *Engine, merchantID int64, fn func(ctx context.Context, x *Exec) (T, error)) (T, error) {
	var out T
	j := &job{merchantID: merchantID}
	j.op = func(ctx context.Context, x *Exec) error {
		v, err := fn(ctx, x)
		if le, ok := err.(*Error); ok && le == nil {
			err = nil // a nil *Error returned as error means success
		}
		if err == nil {
			out = v
		}
		return err
	}
	if err := e.submit(ctx, j); err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// runOp runs one operation job under a savepoint.
func (b *batch) runOp(ctx context.Context, j *job) error {
	m := b.mark()
	if err := b.tx.Savepoint(ctx); err != nil {
		return err
	}
	x := &Exec{b: b, merchantID: j.merchantID, ctx: ctx}
	err := j.op(ctx, x)
	if err == nil {
		return b.tx.ReleaseSavepoint(ctx)
	}
	var le *Error
	if !errors.As(err, &le) || le.Kind == KindInternal {
		if le != nil {
			err = fmt.Errorf("operation failed: %w", err)
		}
		return err // abort the batch
	}
	b.rollback(m)
	b.forget(m)
	if rerr := b.tx.RollbackToSavepoint(ctx); rerr != nil {
		return rerr
	}
	j.err = le
	return nil
}
