package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-pay/coffer/internal/store"
)

const payeeCols = `id, merchant_id, wallet_type, identifier, currency, min_amount, max_amount, active, last_used_at, created_at`

func scanPayee(r pgx.Row) (store.Payee, error) {
	var p store.Payee
	err := r.Scan(&p.ID, &p.MerchantID, &p.WalletType, &p.Identifier, &p.Currency, &p.MinAmount, &p.MaxAmount, &p.Active, &p.LastUsedAt, &p.CreatedAt)
	p.CreatedAt = p.CreatedAt.UTC()
	p.LastUsedAt = utcPtr(p.LastUsedAt)
	return p, err
}

const incomingCols = `id, merchant_id, wallet_type, key1, amount, currency, payee, occurred_at, final, COALESCE(claim_id, 0), source, created_at`

func scanIncoming(r pgx.Row) (store.Incoming, error) {
	var in store.Incoming
	err := r.Scan(&in.ID, &in.MerchantID, &in.WalletType, &in.Key1, &in.Amount, &in.Currency, &in.Payee, &in.OccurredAt, &in.Final, &in.ClaimID, &in.Source, &in.CreatedAt)
	in.OccurredAt, in.CreatedAt = in.OccurredAt.UTC(), in.CreatedAt.UTC()
	return in, err
}

const claimCols = `id, merchant_id, custom_id, customer_id, label, wallet_type, key1, currency, amount, status,
	COALESCE(incoming_id, 0), COALESCE(wallet_id, 0), COALESCE(transfer_id, 0), created_at, decided_at, decided_by`

func scanClaim(r pgx.Row) (store.DepositClaim, error) {
	var c store.DepositClaim
	err := r.Scan(&c.ID, &c.MerchantID, &c.CustomID, &c.CustomerID, &c.Label, &c.WalletType, &c.Key1, &c.Currency, &c.Amount, &c.Status,
		&c.IncomingID, &c.WalletID, &c.TransferID, &c.CreatedAt, &c.DecidedAt, &c.DecidedBy)
	c.CreatedAt = c.CreatedAt.UTC()
	c.DecidedAt = utcPtr(c.DecidedAt)
	return c, err
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// retryOnConflict turns a unique violation into ErrRetry: a concurrent
// batch won, and this one re-reads.
func retryOnConflict(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w: %v", store.ErrRetry, err)
	}
	return err
}

// InsertPayee inserts p and sets p.ID.
func (t *Tx) InsertPayee(ctx context.Context, p *store.Payee) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	err := t.tx.QueryRow(ctx, `INSERT INTO deposit_payees (merchant_id, wallet_type, identifier, currency, min_amount, max_amount, active, last_used_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`, p.MerchantID, p.WalletType, p.Identifier, p.Currency, p.MinAmount, p.MaxAmount,
		p.Active, p.LastUsedAt, p.CreatedAt).Scan(&p.ID)
	return translate("postgres: insert payee", err)
}

// NextPayee locks and hands out the least recently used active payee.
func (t *Tx) NextPayee(ctx context.Context, merchantID int64, walletType, currency string, now time.Time) (store.Payee, error) {
	if err := t.flush(ctx); err != nil {
		return store.Payee{}, err
	}
	p, err := queryOne(ctx, t.tx, "postgres: next payee", scanPayee, `SELECT `+payeeCols+` FROM deposit_payees
		WHERE merchant_id = $1 AND wallet_type = $2 AND currency = $3 AND active
		ORDER BY last_used_at NULLS FIRST, id LIMIT 1 FOR UPDATE`, merchantID, walletType, currency)
	if err != nil {
		return p, err
	}
	if _, err := t.tx.Exec(ctx, `UPDATE deposit_payees SET last_used_at = $1 WHERE id = $2`, now, p.ID); err != nil {
		return p, translate("postgres: use payee", err)
	}
	p.LastUsedAt = &now
	return p, nil
}

// InsertDepositRequest inserts r and sets r.ID.
func (t *Tx) InsertDepositRequest(ctx context.Context, r *store.DepositRequest) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	err := t.tx.QueryRow(ctx, `INSERT INTO deposit_requests (merchant_id, customer_id, label, wallet_type, currency, payee_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, r.MerchantID, r.CustomerID, r.Label, r.WalletType, r.Currency, r.PayeeID, r.CreatedAt).Scan(&r.ID)
	return translate("postgres: insert deposit request", err)
}

// InsertIncoming inserts in and sets in.ID.
func (t *Tx) InsertIncoming(ctx context.Context, in *store.Incoming) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	err := t.tx.QueryRow(ctx, `INSERT INTO deposit_incoming (merchant_id, wallet_type, key1, amount, currency, payee, occurred_at, final, claim_id, source, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`, in.MerchantID, in.WalletType, in.Key1, in.Amount, in.Currency, in.Payee,
		in.OccurredAt, in.Final, nullID(in.ClaimID), in.Source, in.CreatedAt).Scan(&in.ID)
	return retryOnConflict(translate("postgres: insert incoming", err))
}

// LockIncoming locks a key (merchant, wallet type, key1) for the rest of the
// transaction and reads its incoming transaction.
func (t *Tx) LockIncoming(ctx context.Context, merchantID int64, walletType, key1 string) (store.Incoming, error) {
	if err := t.flush(ctx); err != nil {
		return store.Incoming{}, err
	}
	// The key is locked even when no row exists yet, so that a claim and
	// the transaction's arrival serialize (else each could miss the other).
	lock := fmt.Sprintf("deposit:%d:%s:%s", merchantID, walletType, key1)
	if _, err := t.tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, lock); err != nil {
		return store.Incoming{}, translate("postgres: lock deposit key", err)
	}
	return queryOne(ctx, t.tx, "postgres: lock incoming", scanIncoming, `SELECT `+incomingCols+` FROM deposit_incoming
		WHERE merchant_id = $1 AND wallet_type = $2 AND key1 = $3 FOR UPDATE`, merchantID, walletType, key1)
}

// UpdateIncoming writes Final and ClaimID.
func (t *Tx) UpdateIncoming(ctx context.Context, in store.Incoming) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	tag, err := t.tx.Exec(ctx, `UPDATE deposit_incoming SET final = $1, claim_id = $2 WHERE id = $3`, in.Final, nullID(in.ClaimID), in.ID)
	return retryOnConflict(checkUpdated("postgres: update incoming", tag.RowsAffected(), 1, err))
}

// InsertClaim inserts c and sets c.ID.
func (t *Tx) InsertClaim(ctx context.Context, c *store.DepositClaim) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	err := t.tx.QueryRow(ctx, `INSERT INTO deposit_claims (merchant_id, custom_id, customer_id, label, wallet_type, key1, currency, amount, status,
		incoming_id, wallet_id, transfer_id, created_at, decided_at, decided_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		RETURNING id`, c.MerchantID, c.CustomID, c.CustomerID, c.Label, c.WalletType, c.Key1, c.Currency, c.Amount, c.Status,
		nullID(c.IncomingID), nullID(c.WalletID), nullID(c.TransferID), c.CreatedAt, c.DecidedAt, c.DecidedBy).Scan(&c.ID)
	return retryOnConflict(translate("postgres: insert claim", err))
}

// ClaimByCustomID finds a claim by the merchant's id, in the batch.
func (t *Tx) ClaimByCustomID(ctx context.Context, merchantID int64, customID string) (store.DepositClaim, error) {
	if err := t.flush(ctx); err != nil {
		return store.DepositClaim{}, err
	}
	return queryOne(ctx, t.tx, "postgres: claim by custom id", scanClaim,
		`SELECT `+claimCols+` FROM deposit_claims WHERE merchant_id = $1 AND custom_id = $2`, merchantID, customID)
}

// LockClaim reads a claim and locks its row.
func (t *Tx) LockClaim(ctx context.Context, merchantID, id int64) (store.DepositClaim, error) {
	if err := t.flush(ctx); err != nil {
		return store.DepositClaim{}, err
	}
	return queryOne(ctx, t.tx, "postgres: lock claim", scanClaim,
		`SELECT `+claimCols+` FROM deposit_claims WHERE merchant_id = $1 AND id = $2 FOR UPDATE`, merchantID, id)
}

// PossibleClaims lists and locks a key's possible claims, oldest first.
func (t *Tx) PossibleClaims(ctx context.Context, merchantID int64, walletType, key1 string) ([]store.DepositClaim, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	return queryAll(ctx, t.tx, "postgres: possible claims", scanClaim, `SELECT `+claimCols+` FROM deposit_claims
		WHERE merchant_id = $1 AND wallet_type = $2 AND key1 = $3 AND status = $4 ORDER BY id FOR UPDATE`, merchantID, walletType, key1, store.ClaimPossible)
}

// UpdateClaim writes a claim's outcome.
func (t *Tx) UpdateClaim(ctx context.Context, c store.DepositClaim) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	tag, err := t.tx.Exec(ctx, `UPDATE deposit_claims SET status = $1, incoming_id = $2, wallet_id = $3, transfer_id = $4, decided_at = $5, decided_by = $6
		WHERE id = $7`, c.Status, nullID(c.IncomingID), nullID(c.WalletID), nullID(c.TransferID), c.DecidedAt, c.DecidedBy, c.ID)
	return retryOnConflict(checkUpdated("postgres: update claim", tag.RowsAffected(), 1, err))
}

// Payees lists a merchant's payees of a wallet type ("" every type), by id.
func (s *Store) Payees(ctx context.Context, merchantID int64, walletType string) ([]store.Payee, error) {
	return queryAll(ctx, s.pool, "postgres: payees", scanPayee, `SELECT `+payeeCols+` FROM deposit_payees
		WHERE merchant_id = $1 AND ($2 = '' OR wallet_type = $2) ORDER BY id`, merchantID, walletType)
}

// DepositClaim reads a claim.
func (s *Store) DepositClaim(ctx context.Context, merchantID, id int64) (store.DepositClaim, error) {
	return queryOne(ctx, s.pool, "postgres: deposit claim", scanClaim,
		`SELECT `+claimCols+` FROM deposit_claims WHERE merchant_id = $1 AND id = $2`, merchantID, id)
}

// DepositClaims lists claims in id order after AfterID.
func (s *Store) DepositClaims(ctx context.Context, f store.ClaimFilter) ([]store.DepositClaim, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	return queryAll(ctx, s.pool, "postgres: deposit claims", scanClaim, `SELECT `+claimCols+` FROM deposit_claims
		WHERE ($1 = 0 OR merchant_id = $1) AND ($2 = '' OR status = $2) AND id > $3 ORDER BY id LIMIT $4`,
		f.MerchantID, f.Status, f.AfterID, limit)
}

// IncomingByKey reads an incoming transaction.
func (s *Store) IncomingByKey(ctx context.Context, merchantID int64, walletType, key1 string) (store.Incoming, error) {
	return queryOne(ctx, s.pool, "postgres: incoming", scanIncoming, `SELECT `+incomingCols+` FROM deposit_incoming
		WHERE merchant_id = $1 AND wallet_type = $2 AND key1 = $3`, merchantID, walletType, key1)
}
