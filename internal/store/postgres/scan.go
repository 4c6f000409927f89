package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-pay/coffer/internal/store"
)

// querier is what both the pool and a transaction offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Column lists, in the order the scan functions below read them. Optional
// columns are NULL in the database and zero values in Go.
const (
	accountCols = `id, merchant_id, asset, name, normal, overdraft_limit, unlimited,
		debits_posted, credits_posted, debits_pending, credits_pending,
		COALESCE(ikey, ''), metadata, created_at`
	transferCols = `id, merchant_id, ikey, kind, debit_account_id, credit_account_id,
		asset, amount, COALESCE(pending_id, 0), state, timeout_at, metadata, created_at`
	keyCols = `merchant_id, ikey, COALESCE(transfer_id, 0), request,
		COALESCE(code, ''), COALESCE(message, ''), created_at`
	apiKeyCols = `id, merchant_id, prefix, hash, role, name, created_at, revoked_at`
)

func scanAccount(row pgx.Row) (store.Account, error) {
	var a store.Account
	err := row.Scan(&a.ID, &a.MerchantID, &a.Asset, &a.Name, &a.Normal, &a.OverdraftLimit, &a.Unlimited,
		&a.DebitsPosted, &a.CreditsPosted, &a.DebitsPending, &a.CreditsPending,
		&a.Key, &a.Metadata, &a.CreatedAt)
	return a, err
}

func scanTransfer(row pgx.Row) (store.Transfer, error) {
	var t store.Transfer
	err := row.Scan(&t.ID, &t.MerchantID, &t.Key, &t.Kind, &t.DebitAccountID, &t.CreditAccountID,
		&t.Asset, &t.Amount, &t.PendingID, &t.State, &t.TimeoutAt, &t.Metadata, &t.CreatedAt)
	return t, err
}

func scanAsset(row pgx.Row) (store.Asset, error) {
	var a store.Asset
	err := row.Scan(&a.Code, &a.Scale, &a.Kind, &a.CreatedAt)
	return a, err
}

func scanKey(row pgx.Row) (store.KeyRecord, error) {
	var k store.KeyRecord
	err := row.Scan(&k.MerchantID, &k.Key, &k.TransferID, &k.Request, &k.Code, &k.Message, &k.CreatedAt)
	return k, err
}

func scanAPIKey(row pgx.Row) (store.APIKey, error) {
	var k store.APIKey
	err := row.Scan(&k.ID, &k.MerchantID, &k.Prefix, &k.Hash, &k.Role, &k.Name, &k.CreatedAt, &k.RevokedAt)
	return k, err
}

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, q querier, op string, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	return out, translate(op, err)
}

// queryOne runs a query that selects one row; no row is store.ErrNotFound.
func queryOne[T any](ctx context.Context, q querier, op string, scan func(pgx.Row) (T, error), sql string, args ...any) (T, error) {
	v, err := scan(q.QueryRow(ctx, sql, args...))
	return v, translate(op, err)
}

// nullJSON stores absent and empty JSON alike, as NULL.
func nullJSON(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// now is the creation time of rows inserted with a zero CreatedAt: the
// current time at the precision PostgreSQL keeps.
func now() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

// nullID stores an absent reference (0) as NULL.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// nullString stores an empty optional text as NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
