package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-pay/coffer/internal/store"
)

const payeeCols = `id, merchant_id, wallet_type, identifier, currency, min_amount, max_amount, active, last_used_at, created_at`

func scanPayee(r scanner) (store.Payee, error) {
	var p store.Payee
	var active int
	var used sql.NullInt64
	var created int64
	err := r.Scan(&p.ID, &p.MerchantID, &p.WalletType, &p.Identifier, &p.Currency, &p.MinAmount, &p.MaxAmount, &active, &used, &created)
	if err != nil {
		return p, translate(err)
	}
	p.Active = active != 0
	p.LastUsedAt = ptrMicros(used)
	p.CreatedAt = fromMicros(created)
	return p, nil
}

const incomingCols = `id, merchant_id, wallet_type, key1, amount, currency, payee, occurred_at, final, claim_id, source, created_at`

func scanIncoming(r scanner) (store.Incoming, error) {
	var in store.Incoming
	var final int
	var claim sql.NullInt64
	var occurred, created int64
	err := r.Scan(&in.ID, &in.MerchantID, &in.WalletType, &in.Key1, &in.Amount, &in.Currency, &in.Payee, &occurred, &final, &claim, &in.Source, &created)
	if err != nil {
		return in, translate(err)
	}
	in.Final = final != 0
	in.ClaimID = claim.Int64
	in.OccurredAt = fromMicros(occurred)
	in.CreatedAt = fromMicros(created)
	return in, nil
}

const claimCols = `id, merchant_id, custom_id, customer_id, label, wallet_type, key1, currency, amount, status,
	incoming_id, wallet_id, transfer_id, created_at, decided_at, decided_by`

func scanClaim(r scanner) (store.DepositClaim, error) {
	var c store.DepositClaim
	var inc, wid, tid, decided sql.NullInt64
	var created int64
	err := r.Scan(&c.ID, &c.MerchantID, &c.CustomID, &c.CustomerID, &c.Label, &c.WalletType, &c.Key1, &c.Currency, &c.Amount, &c.Status,
		&inc, &wid, &tid, &created, &decided, &c.DecidedBy)
	if err != nil {
		return c, translate(err)
	}
	c.IncomingID, c.WalletID, c.TransferID = inc.Int64, wid.Int64, tid.Int64
	c.CreatedAt = fromMicros(created)
	c.DecidedAt = ptrMicros(decided)
	return c, nil
}

func retryOnConflict(err error) error {
	err = translate(err)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w: %v", store.ErrRetry, err)
	}
	return err
}

// InsertPayee inserts p and sets p.ID.
func (t *Tx) InsertPayee(ctx context.Context, p *store.Payee) error {
	res, err := t.tx.ExecContext(ctx, `INSERT INTO deposit_payees (merchant_id, wallet_type, identifier, currency, min_amount, max_amount, active, last_used_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, p.MerchantID, p.WalletType, p.Identifier, p.Currency, p.MinAmount, p.MaxAmount,
		boolInt(p.Active), nullMicros(p.LastUsedAt), micros(p.CreatedAt))
	if err != nil {
		return translate(err)
	}
	p.ID, err = res.LastInsertId()
	return translate(err)
}

// NextPayee hands out the least recently used active payee.
func (t *Tx) NextPayee(ctx context.Context, merchantID int64, walletType, currency string, now time.Time) (store.Payee, error) {
	p, err := scanPayee(t.tx.QueryRowContext(ctx, `SELECT `+payeeCols+` FROM deposit_payees
		WHERE merchant_id = ? AND wallet_type = ? AND currency = ? AND active = 1
		ORDER BY COALESCE(last_used_at, -9223372036854775808), id LIMIT 1`, merchantID, walletType, currency))
	if err != nil {
		return p, err
	}
	if _, err := t.tx.ExecContext(ctx, `UPDATE deposit_payees SET last_used_at = ? WHERE id = ?`, micros(now), p.ID); err != nil {
		return p, translate(err)
	}
	p.LastUsedAt = &now
	return p, nil
}

// InsertDepositRequest inserts r and sets r.ID.
func (t *Tx) InsertDepositRequest(ctx context.Context, r *store.DepositRequest) error {
	res, err := t.tx.ExecContext(ctx, `INSERT INTO deposit_requests (merchant_id, customer_id, label, wallet_type, currency, payee_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, r.MerchantID, r.CustomerID, r.Label, r.WalletType, r.Currency, r.PayeeID, micros(r.CreatedAt))
	if err != nil {
		return translate(err)
	}
	r.ID, err = res.LastInsertId()
	return translate(err)
}

// InsertIncoming inserts in and sets in.ID.
func (t *Tx) InsertIncoming(ctx context.Context, in *store.Incoming) error {
	res, err := t.tx.ExecContext(ctx, `INSERT INTO deposit_incoming (merchant_id, wallet_type, key1, amount, currency, payee, occurred_at, final, claim_id, source, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, in.MerchantID, in.WalletType, in.Key1, in.Amount, in.Currency, in.Payee,
		micros(in.OccurredAt), boolInt(in.Final), nullID(in.ClaimID), in.Source, micros(in.CreatedAt))
	if err != nil {
		return retryOnConflict(err)
	}
	in.ID, err = res.LastInsertId()
	return translate(err)
}

// LockIncoming reads an incoming transaction in the batch (the write lock is held).
func (t *Tx) LockIncoming(ctx context.Context, merchantID int64, walletType, key1 string) (store.Incoming, error) {
	return scanIncoming(t.tx.QueryRowContext(ctx, `SELECT `+incomingCols+` FROM deposit_incoming
		WHERE merchant_id = ? AND wallet_type = ? AND key1 = ?`, merchantID, walletType, key1))
}

// UpdateIncoming writes Final and ClaimID.
func (t *Tx) UpdateIncoming(ctx context.Context, in store.Incoming) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE deposit_incoming SET final = ?, claim_id = ? WHERE id = ?`, boolInt(in.Final), nullID(in.ClaimID), in.ID)
	if err != nil {
		return retryOnConflict(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return store.ErrNotFound
	}
	return nil
}

// InsertClaim inserts c and sets c.ID.
func (t *Tx) InsertClaim(ctx context.Context, c *store.DepositClaim) error {
	res, err := t.tx.ExecContext(ctx, `INSERT INTO deposit_claims (merchant_id, custom_id, customer_id, label, wallet_type, key1, currency, amount, status,
		incoming_id, wallet_id, transfer_id, created_at, decided_at, decided_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.MerchantID, c.CustomID, c.CustomerID, c.Label, c.WalletType, c.Key1, c.Currency, c.Amount, c.Status,
		nullID(c.IncomingID), nullID(c.WalletID), nullID(c.TransferID), micros(c.CreatedAt), nullMicros(c.DecidedAt), c.DecidedBy)
	if err != nil {
		return retryOnConflict(err)
	}
	c.ID, err = res.LastInsertId()
	return translate(err)
}

// ClaimByCustomID finds a claim by the merchant's id, in the batch.
func (t *Tx) ClaimByCustomID(ctx context.Context, merchantID int64, customID string) (store.DepositClaim, error) {
	return scanClaim(t.tx.QueryRowContext(ctx, `SELECT `+claimCols+` FROM deposit_claims WHERE merchant_id = ? AND custom_id = ?`, merchantID, customID))
}

// LockClaim reads a claim in the batch.
func (t *Tx) LockClaim(ctx context.Context, merchantID, id int64) (store.DepositClaim, error) {
	return scanClaim(t.tx.QueryRowContext(ctx, `SELECT `+claimCols+` FROM deposit_claims WHERE merchant_id = ? AND id = ?`, merchantID, id))
}

// PossibleClaims lists a key's possible claims, oldest first.
func (t *Tx) PossibleClaims(ctx context.Context, merchantID int64, walletType, key1 string) ([]store.DepositClaim, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+claimCols+` FROM deposit_claims
		WHERE merchant_id = ? AND wallet_type = ? AND key1 = ? AND status = ? ORDER BY id`, merchantID, walletType, key1, store.ClaimPossible)
	return collect(rows, err, scanClaim)
}

// UpdateClaim writes a claim's outcome.
func (t *Tx) UpdateClaim(ctx context.Context, c store.DepositClaim) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE deposit_claims SET status = ?, incoming_id = ?, wallet_id = ?, transfer_id = ?, decided_at = ?, decided_by = ?
		WHERE id = ?`, c.Status, nullID(c.IncomingID), nullID(c.WalletID), nullID(c.TransferID), nullMicros(c.DecidedAt), c.DecidedBy, c.ID)
	if err != nil {
		return retryOnConflict(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return store.ErrNotFound
	}
	return nil
}

// Payees lists a merchant's payees of a wallet type ("" every type), by id.
func (s *Store) Payees(ctx context.Context, merchantID int64, walletType string) ([]store.Payee, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+payeeCols+` FROM deposit_payees WHERE merchant_id = ? AND (? = '' OR wallet_type = ?) ORDER BY id`,
		merchantID, walletType, walletType)
	return collect(rows, err, scanPayee)
}

// DepositClaim reads a claim.
func (s *Store) DepositClaim(ctx context.Context, merchantID, id int64) (store.DepositClaim, error) {
	return scanClaim(s.reader.QueryRowContext(ctx, `SELECT `+claimCols+` FROM deposit_claims WHERE merchant_id = ? AND id = ?`, merchantID, id))
}

// DepositClaims lists claims in id order after AfterID.
func (s *Store) DepositClaims(ctx context.Context, f store.ClaimFilter) ([]store.DepositClaim, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+claimCols+` FROM deposit_claims
		WHERE (? = 0 OR merchant_id = ?) AND (? = '' OR status = ?) AND id > ? ORDER BY id LIMIT ?`,
		f.MerchantID, f.MerchantID, f.Status, f.Status, f.AfterID, limitOf(f.Limit))
	return collect(rows, err, scanClaim)
}

// IncomingByKey reads an incoming transaction.
func (s *Store) IncomingByKey(ctx context.Context, merchantID int64, walletType, key1 string) (store.Incoming, error) {
	return scanIncoming(s.reader.QueryRowContext(ctx, `SELECT `+incomingCols+` FROM deposit_incoming
		WHERE merchant_id = ? AND wallet_type = ? AND key1 = ?`, merchantID, walletType, key1))
}
