package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/coffer-pay/coffer/internal/store"
)

// Tx is one write transaction (BEGIN IMMEDIATE) on the writer connection.
// SQLite allows one writer at a time, so rows read inside it cannot change
// under it: the lock methods are plain reads here.
type Tx struct {
	s    *Store
	tx   *sql.Tx
	done bool
}

// Begin starts a write transaction.
func (s *Store) Begin(ctx context.Context) (store.Tx, error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
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
	return translate(t.tx.Commit())
}

// Rollback abandons the transaction.
func (t *Tx) Rollback() error {
	if t.done {
		return nil
	}
	t.done = true
	return translate(t.tx.Rollback())
}

func (t *Tx) exec(ctx context.Context, query string, args ...any) error {
	_, err := t.tx.ExecContext(ctx, query, args...)
	return translate(err)
}

// LockPending reads the pending transfers among ids.
func (t *Tx) LockPending(ctx context.Context, ids []int64) ([]store.Transfer, error) {
	return chunked(ctx, t.tx, `SELECT `+transferCols+` FROM transfers WHERE kind = 'pending' AND id IN (%s) ORDER BY id`,
		nil, int64Args(ids), scanTransfer)
}

// LockAccounts reads the accounts among ids.
func (t *Tx) LockAccounts(ctx context.Context, ids []int64) ([]store.Account, error) {
	return chunked(ctx, t.tx, `SELECT `+accountCols+` FROM accounts WHERE id IN (%s) ORDER BY id`,
		nil, int64Args(ids), scanAccount)
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
		got, err := chunked(ctx, t.tx, `SELECT `+keyCols+` FROM idempotency_keys WHERE merchant_id = ? AND ikey IN (%s)`,
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
	return chunked(ctx, t.tx, `SELECT `+transferCols+` FROM transfers WHERE id IN (%s) ORDER BY id`,
		nil, int64Args(ids), scanTransfer)
}

// AccountsByKeys reads accounts by their creation keys.
func (t *Tx) AccountsByKeys(ctx context.Context, keys []store.MerchantKey) ([]store.Account, error) {
	var out []store.Account
	for merchant, ks := range byMerchant(keys) {
		got, err := chunked(ctx, t.tx, `SELECT `+accountCols+` FROM accounts WHERE merchant_id = ? AND ikey IN (%s) ORDER BY id`,
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
	var maxID int64
	if err := t.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM transfers`).Scan(&maxID); err != nil {
		return nil, translate(err)
	}
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = maxID + int64(i) + 1
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
	return translate(err)
}

// multiRow inserts rows with multi-row INSERT statements of up to chunk
// rows, each prepared once.
func (t *Tx) multiRow(ctx context.Context, head string, cols int, n int, args func(i int, dst []any) []any) error {
	const chunk = 64
	tuple := "(" + placeholders(cols) + ")"
	buf := make([]any, 0, chunk*cols)
	for start := 0; start < n; start += chunk {
		end := min(start+chunk, n)
		buf = buf[:0]
		for i := start; i < end; i++ {
			buf = args(i, buf)
		}
		q := head + strings.Repeat(tuple+",", end-start-1) + tuple
		if err := t.exec(ctx, q, buf...); err != nil {
			return err
		}
	}
	return nil
}

// InsertTransfers inserts transfers with the ids they carry.
func (t *Tx) InsertTransfers(ctx context.Context, ts []store.Transfer) error {
	return t.multiRow(ctx, `INSERT INTO transfers (`+transferCols+`) VALUES `, 13, len(ts), func(i int, dst []any) []any {
		r := &ts[i]
		return append(dst, r.ID, r.MerchantID, r.Key, r.Kind, r.DebitAccountID, r.CreditAccountID, r.Asset, r.Amount,
			nullID(r.PendingID), r.State, nullMicros(r.TimeoutAt), nullText(r.Metadata), micros(r.CreatedAt))
	})
}

// InsertKeys records idempotency outcomes; an existing key is ErrRetry.
func (t *Tx) InsertKeys(ctx context.Context, ks []store.KeyRecord) error {
	err := t.multiRow(ctx, `INSERT INTO idempotency_keys (`+keyCols+`) VALUES `, 7, len(ks), func(i int, dst []any) []any {
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
		if err := t.exec(ctx, `UPDATE transfers SET state = ? WHERE id = ?`, c.State, c.ID); err != nil {
			return err
		}
	}
	return nil
}

// UpdateBalances writes account counters, many accounts per statement.
func (t *Tx) UpdateBalances(ctx context.Context, as []store.Account) error {
	const chunk = 64
	tuple := "(?,?,?,?,?)"
	buf := make([]any, 0, chunk*5)
	for start := 0; start < len(as); start += chunk {
		end := min(start+chunk, len(as))
		buf = buf[:0]
		for i := start; i < end; i++ {
			a := &as[i]
			buf = append(buf, a.ID, a.DebitsPosted, a.CreditsPosted, a.DebitsPending, a.CreditsPending)
		}
		q := `WITH v(id, dp, cp, dq, cq) AS (VALUES ` + strings.Repeat(tuple+",", end-start-1) + tuple + `)
			UPDATE accounts SET debits_posted = v.dp, credits_posted = v.cp, debits_pending = v.dq, credits_pending = v.cq
			FROM v WHERE accounts.id = v.id`
		if err := t.exec(ctx, q, buf...); err != nil {
			return err
		}
	}
	return nil
}
