package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-pay/coffer/internal/store"
)

// defaultLimit is the page size of listings whose Limit is 0.
const defaultLimit = 100

// eachChunk is how many rows EachAccount and EachTransfer read per query.
const eachChunk = 10000

func limitOrDefault(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return n
}

// params collects query arguments and returns their $n placeholders, for
// queries whose WHERE clause depends on a filter.
type params []any

func (p *params) add(v any) string {
	*p = append(*p, v)
	return "$" + strconv.Itoa(len(*p))
}

func (s *Store) CreateMerchant(ctx context.Context, name string) (store.Merchant, error) {
	var m store.Merchant
	err := s.pool.QueryRow(ctx, `INSERT INTO merchants (name) VALUES ($1) RETURNING id, name, created_at`, name).
		Scan(&m.ID, &m.Name, &m.CreatedAt)
	return m, translate("postgres: create merchant", err)
}

func (s *Store) Merchant(ctx context.Context, id int64) (store.Merchant, error) {
	var m store.Merchant
	err := s.pool.QueryRow(ctx, `SELECT id, name, created_at FROM merchants WHERE id = $1`, id).
		Scan(&m.ID, &m.Name, &m.CreatedAt)
	return m, translate(fmt.Sprintf("postgres: merchant %d", id), err)
}

// InsertAPIKey inserts k and sets k.ID, and k.CreatedAt if it was zero.
func (s *Store) InsertAPIKey(ctx context.Context, k *store.APIKey) error {
	k.CreatedAt = orNow(k.CreatedAt, now())
	err := s.pool.QueryRow(ctx, `
		INSERT INTO api_keys (merchant_id, prefix, hash, role, name, created_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		RETURNING id`,
		k.MerchantID, k.Prefix, k.Hash, k.Role, k.Name, k.CreatedAt, k.RevokedAt,
	).Scan(&k.ID)
	return translate("postgres: insert api key", err)
}

func (s *Store) APIKeyByPrefix(ctx context.Context, prefix string) (store.APIKey, error) {
	return queryOne(ctx, s.pool, "postgres: api key by prefix", scanAPIKey,
		`SELECT `+apiKeyCols+` FROM api_keys WHERE prefix = $1`, prefix)
}

// CountAPIKeys counts every key, revoked or not.
func (s *Store) CountAPIKeys(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM api_keys`).Scan(&n)
	return n, translate("postgres: count api keys", err)
}

// UpsertAsset creates a, or checks that the existing asset of that code has
// the same scale and kind (ErrConflict if not).
func (s *Store) UpsertAsset(ctx context.Context, a store.Asset) error {
	op := "postgres: upsert asset " + a.Code
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO assets (code, scale, kind, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (code) DO NOTHING`,
		a.Code, a.Scale, a.Kind, orNow(a.CreatedAt, now()))
	if err != nil {
		return translate(op, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	// A new statement, hence a new snapshot: it sees the row that blocked
	// the insert even if a concurrent transaction committed it just now.
	old, err := s.Asset(ctx, a.Code)
	if err != nil {
		return err
	}
	if old.Scale != a.Scale || old.Kind != a.Kind {
		return fmt.Errorf("%s: exists with scale %d, kind %s: %w", op, old.Scale, old.Kind, store.ErrConflict)
	}
	return nil
}

func (s *Store) Asset(ctx context.Context, code string) (store.Asset, error) {
	return queryOne(ctx, s.pool, "postgres: asset "+code, scanAsset,
		`SELECT code, scale, kind, created_at FROM assets WHERE code = $1`, code)
}

// Assets lists every asset by code.
func (s *Store) Assets(ctx context.Context) ([]store.Asset, error) {
	return queryAll(ctx, s.pool, "postgres: assets", scanAsset,
		`SELECT code, scale, kind, created_at FROM assets ORDER BY code`)
}

func (s *Store) Account(ctx context.Context, id int64) (store.Account, error) {
	return queryOne(ctx, s.pool, fmt.Sprintf("postgres: account %d", id), scanAccount,
		`SELECT `+accountCols+` FROM accounts WHERE id = $1`, id)
}

func (s *Store) Accounts(ctx context.Context, f store.AccountFilter) ([]store.Account, error) {
	var p params
	q := `SELECT ` + accountCols + ` FROM accounts WHERE id > ` + p.add(f.AfterID)
	if f.MerchantID != 0 {
		q += ` AND merchant_id = ` + p.add(f.MerchantID)
	}
	if f.Asset != "" {
		q += ` AND asset = ` + p.add(f.Asset)
	}
	q += ` ORDER BY id LIMIT ` + p.add(limitOrDefault(f.Limit))
	return queryAll(ctx, s.pool, "postgres: accounts", scanAccount, q, p...)
}

func (s *Store) Transfer(ctx context.Context, id int64) (store.Transfer, error) {
	return queryOne(ctx, s.pool, fmt.Sprintf("postgres: transfer %d", id), scanTransfer,
		`SELECT `+transferCols+` FROM transfers WHERE id = $1`, id)
}

func (s *Store) Transfers(ctx context.Context, f store.TransferFilter) ([]store.Transfer, error) {
	var p params
	after, limit := p.add(f.AfterID), p.add(limitOrDefault(f.Limit))
	merchant := ""
	if f.MerchantID != 0 {
		merchant = ` AND merchant_id = ` + p.add(f.MerchantID)
	}
	var q string
	if f.AccountID == 0 {
		q = `SELECT ` + transferCols + ` FROM transfers
			WHERE id > ` + after + merchant + ` ORDER BY id LIMIT ` + limit
	} else {
		// An OR of the two account columns would scan the whole table in id
		// order. Instead, take the first page from each of the (account, id)
		// indexes, merge the ids and fetch those rows.
		account := p.add(f.AccountID)
		q = `SELECT ` + transferCols + ` FROM transfers WHERE id IN (
				(SELECT id FROM transfers WHERE debit_account_id = ` + account + ` AND id > ` + after + merchant + `
				 ORDER BY id LIMIT ` + limit + `)
				UNION
				(SELECT id FROM transfers WHERE credit_account_id = ` + account + ` AND id > ` + after + merchant + `
				 ORDER BY id LIMIT ` + limit + `)
			) ORDER BY id LIMIT ` + limit
	}
	return queryAll(ctx, s.pool, "postgres: transfers", scanTransfer, q, p...)
}

func (s *Store) KeyRecord(ctx context.Context, k store.MerchantKey) (store.KeyRecord, error) {
	return queryOne(ctx, s.pool, "postgres: key record", scanKey,
		`SELECT `+keyCols+` FROM idempotency_keys WHERE merchant_id = $1 AND ikey = $2`, k.MerchantID, k.Key)
}

// ExpiredPending lists pending transfers whose timeout is at or before now,
// earliest timeout first. A limit of 0 means the default page size.
func (s *Store) ExpiredPending(ctx context.Context, now time.Time, limit int) ([]store.Transfer, error) {
	// The conditions match the partial index transfers_timeout.
	return queryAll(ctx, s.pool, "postgres: expired pending", scanTransfer,
		`SELECT `+transferCols+` FROM transfers
		WHERE state = 'pending' AND timeout_at IS NOT NULL AND timeout_at <= $1
		ORDER BY timeout_at, id LIMIT $2`, now, limitOrDefault(limit))
}

// Journal recomputes every account's counters from the transfers: single
// and post transfers count as posted, pending transfers still in state
// pending as pending; other pending transfers, voids and expiries count for
// nothing. Every account that appears in a transfer gets a row, even if all
// its sums are zero.
func (s *Store) Journal(ctx context.Context) ([]store.JournalSums, error) {
	return queryAll(ctx, s.pool, "postgres: journal", func(row pgx.Row) (store.JournalSums, error) {
		var j store.JournalSums
		err := row.Scan(&j.AccountID, &j.DebitsPosted, &j.CreditsPosted, &j.DebitsPending, &j.CreditsPending)
		return j, err
	}, `
		WITH legs AS (
			SELECT debit_account_id AS account_id, true AS debit, kind, state, amount FROM transfers
			UNION ALL
			SELECT credit_account_id, false, kind, state, amount FROM transfers
		)
		SELECT account_id,
			COALESCE(sum(amount) FILTER (WHERE debit AND kind IN ('single', 'post')), 0)::bigint,
			COALESCE(sum(amount) FILTER (WHERE NOT debit AND kind IN ('single', 'post')), 0)::bigint,
			COALESCE(sum(amount) FILTER (WHERE debit AND kind = 'pending' AND state = 'pending'), 0)::bigint,
			COALESCE(sum(amount) FILTER (WHERE NOT debit AND kind = 'pending' AND state = 'pending'), 0)::bigint
		FROM legs
		GROUP BY account_id
		ORDER BY account_id`)
}

// EachAccount calls fn for every account in id order. It reads eachChunk
// rows at a time, so memory stays flat however many accounts there are, and
// holds no connection while fn runs. Successive chunks are separate
// statements: accounts created during the walk may or may not be seen.
func (s *Store) EachAccount(ctx context.Context, fn func(store.Account) error) error {
	return each(func(after int64) ([]store.Account, error) {
		return queryAll(ctx, s.pool, "postgres: each account", scanAccount,
			`SELECT `+accountCols+` FROM accounts WHERE id > $1 ORDER BY id LIMIT $2`, after, eachChunk)
	}, func(a store.Account) int64 { return a.ID }, fn)
}

// EachTransfer calls fn for every transfer in id order, like EachAccount.
func (s *Store) EachTransfer(ctx context.Context, fn func(store.Transfer) error) error {
	return each(func(after int64) ([]store.Transfer, error) {
		return queryAll(ctx, s.pool, "postgres: each transfer", scanTransfer,
			`SELECT `+transferCols+` FROM transfers WHERE id > $1 ORDER BY id LIMIT $2`, after, eachChunk)
	}, func(t store.Transfer) int64 { return t.ID }, fn)
}

// each walks a table by keyset pagination: page returns up to eachChunk rows
// with ids above after, in id order.
func each[T any](page func(after int64) ([]T, error), id func(T) int64, fn func(T) error) error {
	var after int64
	for {
		rows, err := page(after)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(rows) < eachChunk {
			return nil
		}
		after = id(rows[len(rows)-1])
	}
}

// Events lists outbox events in seq order.
func (s *Store) Events(ctx context.Context, merchantID, afterSeq int64, limit int) ([]store.Event, error) {
	if limit <= 0 {
		limit = 100
	}
	return queryAll(ctx, s.pool, "postgres: events", func(r pgx.Row) (store.Event, error) {
		var e store.Event
		var payload string
		err := r.Scan(&e.Seq, &e.ID, &e.MerchantID, &e.Type, &e.Subject, &payload, &e.CreatedAt)
		e.Payload = []byte(payload)
		e.CreatedAt = e.CreatedAt.UTC()
		return e, err
	}, `SELECT seq, id, merchant_id, type, subject, payload::text, created_at FROM events
		WHERE seq > $1 AND ($2 = 0 OR merchant_id = $2) ORDER BY seq LIMIT $3`, afterSeq, merchantID, limit)
}
