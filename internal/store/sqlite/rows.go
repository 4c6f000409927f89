package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-pay/coffer/internal/store"
)

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type scanner interface{ Scan(dest ...any) error }

const accountCols = `id, merchant_id, asset, name, normal, overdraft_limit, unlimited,
	debits_posted, credits_posted, debits_pending, credits_pending, ikey, metadata, created_at`

func scanAccount(r scanner) (store.Account, error) {
	var a store.Account
	var normal string
	var unlimited int
	var ikey, meta sql.NullString
	var created int64
	err := r.Scan(&a.ID, &a.MerchantID, &a.Asset, &a.Name, &normal, &a.OverdraftLimit, &unlimited,
		&a.DebitsPosted, &a.CreditsPosted, &a.DebitsPending, &a.CreditsPending, &ikey, &meta, &created)
	if err != nil {
		return a, translate(err)
	}
	a.Normal = store.Side(normal)
	a.Unlimited = unlimited != 0
	a.Key = ikey.String
	if meta.Valid {
		a.Metadata = []byte(meta.String)
	}
	a.CreatedAt = fromMicros(created)
	return a, nil
}

const transferCols = `id, merchant_id, ikey, kind, debit_account_id, credit_account_id, asset, amount,
	pending_id, state, timeout_at, metadata, created_at`

func scanTransfer(r scanner) (store.Transfer, error) {
	var t store.Transfer
	var pending, timeout sql.NullInt64
	var meta sql.NullString
	var created int64
	err := r.Scan(&t.ID, &t.MerchantID, &t.Key, &t.Kind, &t.DebitAccountID, &t.CreditAccountID, &t.Asset, &t.Amount,
		&pending, &t.State, &timeout, &meta, &created)
	if err != nil {
		return t, translate(err)
	}
	t.PendingID = pending.Int64
	t.TimeoutAt = ptrMicros(timeout)
	if meta.Valid {
		t.Metadata = []byte(meta.String)
	}
	t.CreatedAt = fromMicros(created)
	return t, nil
}

const keyCols = `merchant_id, ikey, transfer_id, request, code, message, created_at`

func scanKey(r scanner) (store.KeyRecord, error) {
	var k store.KeyRecord
	var tid sql.NullInt64
	var req, code, msg sql.NullString
	var created int64
	if err := r.Scan(&k.MerchantID, &k.Key, &tid, &req, &code, &msg, &created); err != nil {
		return k, translate(err)
	}
	k.TransferID = tid.Int64
	if req.Valid {
		k.Request = []byte(req.String)
	}
	k.Code, k.Message = code.String, msg.String
	k.CreatedAt = fromMicros(created)
	return k, nil
}

func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, translate(rows.Err())
}

// chunked runs query once per chunk of args, with the "%s" in query replaced
// by the chunk's placeholders, and collects the rows.
func chunked[T any](ctx context.Context, q querier, query string, fixed []any, args []any, scan func(scanner) (T, error)) ([]T, error) {
	const size = 500
	var out []T
	for start := 0; start < len(args); start += size {
		part := args[start:min(start+size, len(args))]
		all := append(append([]any(nil), fixed...), part...)
		rows, err := q.QueryContext(ctx, fmt.Sprintf(query, placeholders(len(part))), all...)
		got, err := collect(rows, err, scan)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// --- reads (Store) ---

// CreateMerchant inserts a merchant.
func (s *Store) CreateMerchant(ctx context.Context, name string) (store.Merchant, error) {
	m := store.Merchant{Name: name, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	res, err := s.writer.ExecContext(ctx, `INSERT INTO merchants (name, created_at) VALUES (?, ?)`, name, micros(m.CreatedAt))
	if err != nil {
		return m, translate(err)
	}
	m.ID, err = res.LastInsertId()
	return m, translate(err)
}

// Merchant reads a merchant.
func (s *Store) Merchant(ctx context.Context, id int64) (store.Merchant, error) {
	var m store.Merchant
	var created int64
	err := s.reader.QueryRowContext(ctx, `SELECT id, name, created_at FROM merchants WHERE id = ?`, id).Scan(&m.ID, &m.Name, &created)
	m.CreatedAt = fromMicros(created)
	return m, translate(err)
}

// InsertAPIKey stores a key and sets k.ID.
func (s *Store) InsertAPIKey(ctx context.Context, k *store.APIKey) error {
	res, err := s.writer.ExecContext(ctx,
		`INSERT INTO api_keys (merchant_id, prefix, hash, role, name, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		k.MerchantID, k.Prefix, k.Hash, k.Role, k.Name, micros(k.CreatedAt), nullMicros(k.RevokedAt))
	if err != nil {
		return translate(err)
	}
	k.ID, err = res.LastInsertId()
	return translate(err)
}

// APIKeyByPrefix finds a key by its public prefix.
func (s *Store) APIKeyByPrefix(ctx context.Context, prefix string) (store.APIKey, error) {
	var k store.APIKey
	var created int64
	var revoked sql.NullInt64
	err := s.reader.QueryRowContext(ctx,
		`SELECT id, merchant_id, prefix, hash, role, name, created_at, revoked_at FROM api_keys WHERE prefix = ?`, prefix).
		Scan(&k.ID, &k.MerchantID, &k.Prefix, &k.Hash, &k.Role, &k.Name, &created, &revoked)
	k.CreatedAt = fromMicros(created)
	k.RevokedAt = ptrMicros(revoked)
	return k, translate(err)
}

// CountAPIKeys counts keys, revoked or not.
func (s *Store) CountAPIKeys(ctx context.Context) (int, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM api_keys`).Scan(&n)
	return n, translate(err)
}

// UpsertAsset creates an asset unless an identical one exists.
func (s *Store) UpsertAsset(ctx context.Context, a store.Asset) error {
	_, err := s.writer.ExecContext(ctx,
		`INSERT INTO assets (code, scale, kind, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (code) DO NOTHING`,
		a.Code, a.Scale, a.Kind, micros(a.CreatedAt))
	if err != nil {
		return translate(err)
	}
	got, err := s.assetFrom(ctx, s.writer, a.Code)
	if err != nil {
		return err
	}
	if got.Scale != a.Scale {
		return fmt.Errorf("asset %s has scale %d: %w", a.Code, got.Scale, store.ErrConflict)
	}
	return nil
}

// Asset reads an asset.
func (s *Store) Asset(ctx context.Context, code string) (store.Asset, error) {
	return s.assetFrom(ctx, s.reader, code)
}

func scanAsset(r scanner) (store.Asset, error) {
	var a store.Asset
	var created int64
	err := r.Scan(&a.Code, &a.Scale, &a.Kind, &created)
	a.CreatedAt = fromMicros(created)
	return a, translate(err)
}

func (s *Store) assetFrom(ctx context.Context, q querier, code string) (store.Asset, error) {
	return scanAsset(q.QueryRowContext(ctx, `SELECT code, scale, kind, created_at FROM assets WHERE code = ?`, code))
}

// Assets lists assets by code.
func (s *Store) Assets(ctx context.Context) ([]store.Asset, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT code, scale, kind, created_at FROM assets ORDER BY code`)
	return collect(rows, err, scanAsset)
}

// Account reads an account.
func (s *Store) Account(ctx context.Context, id int64) (store.Account, error) {
	return scanAccount(s.reader.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, id))
}

func limitOf(n int) int {
	if n <= 0 {
		return 100
	}
	return n
}

// Accounts lists accounts in id order.
func (s *Store) Accounts(ctx context.Context, f store.AccountFilter) ([]store.Account, error) {
	q := `SELECT ` + accountCols + ` FROM accounts WHERE id > ?`
	args := []any{f.AfterID}
	if f.MerchantID != 0 {
		q += ` AND merchant_id = ?`
		args = append(args, f.MerchantID)
	}
	if f.Asset != "" {
		q += ` AND asset = ?`
		args = append(args, f.Asset)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, limitOf(f.Limit))
	rows, err := s.reader.QueryContext(ctx, q, args...)
	return collect(rows, err, scanAccount)
}

// Transfer reads a transfer.
func (s *Store) Transfer(ctx context.Context, id int64) (store.Transfer, error) {
	return scanTransfer(s.reader.QueryRowContext(ctx, `SELECT `+transferCols+` FROM transfers WHERE id = ?`, id))
}

// KeyRecord reads the outcome of an idempotency key.
func (s *Store) KeyRecord(ctx context.Context, k store.MerchantKey) (store.KeyRecord, error) {
	return scanKey(s.reader.QueryRowContext(ctx,
		`SELECT `+keyCols+` FROM idempotency_keys WHERE merchant_id = ? AND ikey = ?`, k.MerchantID, k.Key))
}

// Transfers lists transfers in id order. With an account, it merges the two
// index ranges (as debit and as credit) so that it stays fast on big tables.
func (s *Store) Transfers(ctx context.Context, f store.TransferFilter) ([]store.Transfer, error) {
	limit := limitOf(f.Limit)
	var q string
	var args []any
	switch {
	case f.AccountID != 0:
		q = `SELECT ` + transferCols + ` FROM (
			SELECT * FROM (SELECT * FROM transfers WHERE debit_account_id = ? AND id > ? ORDER BY id LIMIT ?)
			UNION ALL
			SELECT * FROM (SELECT * FROM transfers WHERE credit_account_id = ? AND id > ? ORDER BY id LIMIT ?)
		) t`
		args = []any{f.AccountID, f.AfterID, limit, f.AccountID, f.AfterID, limit}
		if f.MerchantID != 0 {
			q += ` WHERE merchant_id = ?`
			args = append(args, f.MerchantID)
		}
	case f.MerchantID != 0:
		q = `SELECT ` + transferCols + ` FROM transfers WHERE id > ? AND merchant_id = ?`
		args = []any{f.AfterID, f.MerchantID}
	default:
		q = `SELECT ` + transferCols + ` FROM transfers WHERE id > ?`
		args = []any{f.AfterID}
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, limit)
	rows, err := s.reader.QueryContext(ctx, q, args...)
	return collect(rows, err, scanTransfer)
}

// ExpiredPending lists pending transfers due to expire.
func (s *Store) ExpiredPending(ctx context.Context, now time.Time, limit int) ([]store.Transfer, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+transferCols+` FROM transfers
		WHERE state = 'pending' AND timeout_at IS NOT NULL AND timeout_at <= ? ORDER BY timeout_at LIMIT ?`,
		micros(now), limitOf(limit))
	return collect(rows, err, scanTransfer)
}

// Journal recomputes every account's counters from the transfers.
func (s *Store) Journal(ctx context.Context) ([]store.JournalSums, error) {
	// Every account that appears in a transfer gets a row, even when all
	// its sums are zero (a voided hold, say).
	rows, err := s.reader.QueryContext(ctx, `
		SELECT account_id, SUM(dp), SUM(cp), SUM(dq), SUM(cq) FROM (
			SELECT debit_account_id AS account_id,
				CASE WHEN kind IN ('single', 'post') THEN amount ELSE 0 END AS dp, 0 AS cp,
				CASE WHEN kind = 'pending' AND state = 'pending' THEN amount ELSE 0 END AS dq, 0 AS cq
			FROM transfers
			UNION ALL
			SELECT credit_account_id, 0, CASE WHEN kind IN ('single', 'post') THEN amount ELSE 0 END,
				0, CASE WHEN kind = 'pending' AND state = 'pending' THEN amount ELSE 0 END
			FROM transfers
		) GROUP BY account_id ORDER BY account_id`)
	return collect(rows, err, func(r scanner) (store.JournalSums, error) {
		var j store.JournalSums
		err := r.Scan(&j.AccountID, &j.DebitsPosted, &j.CreditsPosted, &j.DebitsPending, &j.CreditsPending)
		return j, translate(err)
	})
}

// EachAccount streams accounts in id order, a chunk at a time.
func (s *Store) EachAccount(ctx context.Context, fn func(store.Account) error) error {
	return each(ctx, func(after int64) ([]store.Account, error) {
		return s.Accounts(ctx, store.AccountFilter{AfterID: after, Limit: 10000})
	}, func(a store.Account) int64 { return a.ID }, fn)
}

// EachTransfer streams transfers in id order, a chunk at a time.
func (s *Store) EachTransfer(ctx context.Context, fn func(store.Transfer) error) error {
	return each(ctx, func(after int64) ([]store.Transfer, error) {
		return s.Transfers(ctx, store.TransferFilter{AfterID: after, Limit: 10000})
	}, func(t store.Transfer) int64 { return t.ID }, fn)
}

func each[T any](ctx context.Context, page func(after int64) ([]T, error), id func(T) int64, fn func(T) error) error {
	var after int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows, err := page(after)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(rows) < 10000 {
			return nil
		}
		after = id(rows[len(rows)-1])
	}
}

var errClosed = errors.New("transaction already finished")

// Events lists outbox events in seq order.
func (s *Store) Events(ctx context.Context, merchantID, afterSeq int64, limit int) ([]store.Event, error) {
	q := `SELECT seq, id, merchant_id, type, subject, payload, created_at FROM events WHERE seq > ?`
	args := []any{afterSeq}
	if merchantID != 0 {
		q += ` AND merchant_id = ?`
		args = append(args, merchantID)
	}
	q += ` ORDER BY seq LIMIT ?`
	args = append(args, limitOf(limit))
	rows, err := s.reader.QueryContext(ctx, q, args...)
	return collect(rows, err, func(r scanner) (store.Event, error) {
		var e store.Event
		var payload string
		var created int64
		err := r.Scan(&e.Seq, &e.ID, &e.MerchantID, &e.Type, &e.Subject, &payload, &created)
		e.Payload = []byte(payload)
		e.CreatedAt = fromMicros(created)
		return e, translate(err)
	})
}
