package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/coffer-pay/coffer/internal/store"
)

// Tx is one write transaction (BEGIN IMMEDIATE) on the writer connection.
// SQLite allows one writer at a time, so rows read inside it cannot change
// under it: the lock methods are plain reads here.
type Tx struct {
	s      *Store
	tx     *sql.Tx
	done   bool
	nextID int64 // next transfer id to hand out; 0 until first asked
	// staged holds the account rows this transaction wrote, for the cache
	// to take when (and only if) it commits.
	staged map[int64]store.Account
}

// Begin starts a write transaction.
//
// A write transaction holds the store's write slot from Begin until its
// Commit or Rollback has also updated the account cache: the next
// transaction must not read the cache between the database commit and the
// cache update (it would lose an update).
func (s *Store) Begin(ctx context.Context) (store.Tx, error) {
	select {
	case s.writeSlot <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %v", store.ErrUnavailable, ctx.Err())
	}
	s.prepareAll(ctx)
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		<-s.writeSlot
		return nil, translate(err)
	}
	return &Tx{s: s, tx: tx}, nil
}

// Commit commits; with synchronous=FULL the WAL is fsynced first.
func (t *Tx) Commit() error {
	if t.done {
		return errClosed
	}
	t.done = true
	defer func() { <-t.s.writeSlot }()
	if err := translate(t.tx.Commit()); err != nil {
		if t.s.cache != nil {
			// The outcome is unknown: forget everything rather than guess.
			t.s.cache.reset()
		}
		return err
	}
	if t.s.cache != nil && len(t.staged) > 0 {
		rows := make([]store.Account, 0, len(t.staged))
		for _, a := range t.staged {
			rows = append(rows, a)
		}
		t.s.cache.put(rows...)
	}
	return nil
}

func (t *Tx) stage(as ...store.Account) {
	if t.s.cache == nil {
		return
	}
	if t.staged == nil {
		t.staged = make(map[int64]store.Account, len(as))
	}
	for _, a := range as {
		t.staged[a.ID] = a
	}
}

// Rollback abandons the transaction.
func (t *Tx) Rollback() error {
	if t.done {
		return nil
	}
	t.done = true
	defer func() { <-t.s.writeSlot }()
	return translate(t.tx.Rollback())
}

// exec runs a statement, prepared once per connection when it is one of
// the store's known statements.
func (t *Tx) exec(ctx context.Context, query string, args ...any) error {
	var err error
	if st := t.s.prepared(query); st != nil {
		_, err = t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	} else {
		_, err = t.tx.ExecContext(ctx, query, args...)
	}
	return translate(err)
}

func (t *Tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.s.prepared(query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

func (t *Tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.s.prepared(query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

// LockPending reads the pending transfers among ids.
func (t *Tx) LockPending(ctx context.Context, ids []int64) ([]store.Transfer, error) {
	return padded(ctx, t, qLockPending,
		nil, int64Args(ids), scanTransfer)
}

// LockAccounts reads the accounts among ids, in id order: from this
// transaction's own writes, then the cache, then the database.
func (t *Tx) LockAccounts(ctx context.Context, ids []int64) ([]store.Account, error) {
	if t.s.cache == nil {
		return padded(ctx, t, qLockAccounts, nil, int64Args(ids), scanAccount)
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make([]store.Account, 0, len(ids))
	var missing []any
	for _, id := range ids {
		if a, ok := t.staged[id]; ok {
			out = append(out, a)
		} else if a, ok := t.s.cache.get(id); ok {
			out = append(out, a)
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		got, err := padded(ctx, t, qLockAccounts, nil, missing, scanAccount)
		if err != nil {
			return nil, err
		}
		// Rows read under the write lock are the committed state.
		t.s.cache.put(got...)
		out = append(out, got...)
		slices.SortFunc(out, func(a, b store.Account) int { return cmp.Compare(a.ID, b.ID) })
	}
	return out, nil
}

// byMerchant groups keys by merchant so each query uses the primary key.
func byMerchant(keys []store.MerchantKey) map[int64][]any {
	m := map[int64][]any{}
	for _, k := range keys {
		m[k.MerchantID] = append(m[k.MerchantID], k.Key)
	}
	return m
}

// LookupKeys reads the idempotency records that exist among keys.
func (t *Tx) LookupKeys(ctx context.Context, keys []store.MerchantKey) ([]store.KeyRecord, error) {
	var out []store.KeyRecord
	for merchant, ks := range byMerchant(keys) {
		got, err := padded(ctx, t, qLookupKeys,
			[]any{merchant}, ks, scanKey)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// TransfersByIDs reads transfers by id.
func (t *Tx) TransfersByIDs(ctx context.Context, ids []int64) ([]store.Transfer, error) {
	return padded(ctx, t, qTransfersByIDs,
		nil, int64Args(ids), scanTransfer)
}

// AccountsByKeys reads accounts by their creation keys.
func (t *Tx) AccountsByKeys(ctx context.Context, keys []store.MerchantKey) ([]store.Account, error) {
	var out []store.Account
	for merchant, ks := range byMerchant(keys) {
		got, err := padded(ctx, t, qAccountsByKeys,
			[]any{merchant}, ks, scanAccount)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// NextTransferIDs reserves n ids after the largest one stored. The write
// lock held since BEGIN IMMEDIATE makes this safe.
func (t *Tx) NextTransferIDs(ctx context.Context, n int) ([]int64, error) {
	if t.nextID == 0 {
		var maxID int64
		if err := t.queryRow(ctx, qMaxTransferID).Scan(&maxID); err != nil {
			return nil, translate(err)
		}
		t.nextID = maxID + 1
	}
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = t.nextID
		t.nextID++
	}
	return ids, nil
}

// InsertAccount inserts an account and sets its id.
func (t *Tx) InsertAccount(ctx context.Context, a *store.Account) error {
	unlimited := 0
	if a.Unlimited {
		unlimited = 1
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO accounts (merchant_id, asset, name, normal, overdraft_limit, unlimited,
		debits_posted, credits_posted, debits_pending, credits_pending, ikey, metadata, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.MerchantID, a.Asset, a.Name, string(a.Normal), a.OverdraftLimit, unlimited,
		a.DebitsPosted, a.CreditsPosted, a.DebitsPending, a.CreditsPending, nullStr(a.Key), nullText(a.Metadata), micros(a.CreatedAt))
	if err != nil {
		err = translate(err)
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%w: %v", store.ErrRetry, err)
		}
		return err
	}
	a.ID, err = res.LastInsertId()
	if err == nil {
		t.stage(*a)
	}
	return translate(err)
}

// multiRow inserts rows with multi-row INSERT statements of up to chunk
// rows, each prepared once.
func (t *Tx) multiRow(ctx context.Context, head string, cols int, n int, args func(i int, dst []any) []any) error {
	buf := make([]any, 0, maxChunk*cols)
	for start := 0; start < n; {
		size := chunkSize(n - start)
		buf = buf[:0]
		for i := start; i < start+size; i++ {
			buf = args(i, buf)
		}
		if err := t.exec(ctx, multiRowSQL(head, cols, size), buf...); err != nil {
			return err
		}
		start += size
	}
	return nil
}

// InsertTransfers inserts transfers with the ids they carry.
func (t *Tx) InsertTransfers(ctx context.Context, ts []store.Transfer) error {
	return t.multiRow(ctx, qInsertTransfer, 13, len(ts), func(i int, dst []any) []any {
		r := &ts[i]
		return append(dst, r.ID, r.MerchantID, r.Key, r.Kind, r.DebitAccountID, r.CreditAccountID, r.Asset, r.Amount,
			nullID(r.PendingID), r.State, nullMicros(r.TimeoutAt), nullText(r.Metadata), micros(r.CreatedAt))
	})
}

// InsertKeys records idempotency outcomes; an existing key is ErrRetry.
func (t *Tx) InsertKeys(ctx context.Context, ks []store.KeyRecord) error {
	err := t.multiRow(ctx, qInsertKey, 7, len(ks), func(i int, dst []any) []any {
		k := &ks[i]
		return append(dst, k.MerchantID, k.Key, nullID(k.TransferID), nullText(k.Request), nullStr(k.Code), nullStr(k.Message), micros(k.CreatedAt))
	})
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w: %v", store.ErrRetry, err)
	}
	return err
}

// SetStates moves pending transfers to their new states.
func (t *Tx) SetStates(ctx context.Context, changes []store.StateChange) error {
	for _, c := range changes {
		if err := t.exec(ctx, qSetState, c.State, c.ID); err != nil {
			return err
		}
	}
	return nil
}

// UpdateBalances writes account counters, many accounts per statement.
func (t *Tx) UpdateBalances(ctx context.Context, as []store.Account) error {
	buf := make([]any, 0, maxChunk*5)
	for start := 0; start < len(as); {
		size := chunkSize(len(as) - start)
		buf = buf[:0]
		for i := start; i < start+size; i++ {
			a := &as[i]
			buf = append(buf, a.ID, a.DebitsPosted, a.CreditsPosted, a.DebitsPending, a.CreditsPending)
		}
		if err := t.exec(ctx, updateBalancesSQL(size), buf...); err != nil {
			return err
		}
		start += size
	}
	if t.s.cache != nil {
		for _, a := range as {
			// Only counters change; take the rest from what we know.
			base, ok := t.staged[a.ID]
			if !ok {
				if base, ok = t.s.cache.get(a.ID); !ok {
					// Unknown here: drop nothing, learn it on next read.
					continue
				}
			}
			base.DebitsPosted, base.CreditsPosted = a.DebitsPosted, a.CreditsPosted
			base.DebitsPending, base.CreditsPending = a.DebitsPending, a.CreditsPending
			t.stage(base)
		}
	}
	return nil
}

// InsertEvents appends events to the outbox.
func (t *Tx) InsertEvents(ctx context.Context, evs []store.Event) error {
	for i := range evs {
		e := &evs[i]
		res, err := t.tx.ExecContext(ctx, `INSERT INTO events (id, merchant_id, type, subject, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			e.ID, e.MerchantID, e.Type, e.Subject, string(e.Payload), micros(e.CreatedAt))
		if err != nil {
			return translate(err)
		}
		if e.Seq, err = res.LastInsertId(); err != nil {
			return translate(err)
		}
	}
	return nil
}

// Savepoint starts a savepoint for one operation.
func (t *Tx) Savepoint(ctx context.Context) error { return t.exec(ctx, "SAVEPOINT op") }

// ReleaseSavepoint keeps the operation's writes.
func (t *Tx) ReleaseSavepoint(ctx context.Context) error { return t.exec(ctx, "RELEASE op") }

// RollbackToSavepoint undoes the operation's writes.
func (t *Tx) RollbackToSavepoint(ctx context.Context) error {
	if err := t.exec(ctx, "ROLLBACK TO op"); err != nil {
		return err
	}
	// The operation's account writes (if any) are gone: so are their staged rows.
	t.staged = nil
	return t.exec(ctx, "RELEASE op")
}
