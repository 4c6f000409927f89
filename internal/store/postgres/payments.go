package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-pay/coffer/internal/store"
)

const paymentCols = `id, merchant_id, customer_id, source, COALESCE(txn, ''), currency, amount, tax, gross, tax_rate, tax_included,
	wallet_currency, rate, credited, tax_credited, wallet_id, credit_transfer_id, COALESCE(tax_transfer_id, 0),
	payment_type, payer_email, comments, username, status, created_at, decided_at, decided_by`

func scanPayment(r pgx.Row) (store.Payment, error) {
	var p store.Payment
	err := r.Scan(&p.ID, &p.MerchantID, &p.CustomerID, &p.Source, &p.Transaction, &p.Currency, &p.Amount, &p.Tax, &p.Gross,
		&p.TaxRate, &p.TaxIncluded, &p.WalletCurrency, &p.Rate, &p.Credited, &p.TaxCredited, &p.WalletID,
		&p.CreditTransferID, &p.TaxTransferID, &p.PaymentType, &p.PayerEmail, &p.Comments, &p.Username, &p.Status,
		&p.CreatedAt, &p.DecidedAt, &p.DecidedBy)
	p.CreatedAt = p.CreatedAt.UTC()
	if p.DecidedAt != nil {
		d := p.DecidedAt.UTC()
		p.DecidedAt = &d
	}
	return p, err
}

// InsertPayment inserts p and sets p.ID.
func (t *Tx) InsertPayment(ctx context.Context, p *store.Payment) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	err := t.tx.QueryRow(ctx, `INSERT INTO payments (merchant_id, customer_id, source, txn, currency, amount, tax, gross,
		tax_rate, tax_included, wallet_currency, rate, credited, tax_credited, wallet_id, credit_transfer_id, tax_transfer_id,
		payment_type, payer_email, comments, username, status, created_at, decided_at, decided_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)
		RETURNING id`,
		p.MerchantID, p.CustomerID, p.Source, nullString(p.Transaction), p.Currency, p.Amount, p.Tax, p.Gross,
		p.TaxRate, p.TaxIncluded, p.WalletCurrency, p.Rate, p.Credited, p.TaxCredited, p.WalletID, p.CreditTransferID,
		nullID(p.TaxTransferID), p.PaymentType, p.PayerEmail, p.Comments, p.Username, p.Status, p.CreatedAt,
		p.DecidedAt, p.DecidedBy).Scan(&p.ID)
	return translate("postgres: insert payment", err)
}

// PaymentByTransaction finds a payment by the client's id, in the batch.
func (t *Tx) PaymentByTransaction(ctx context.Context, merchantID int64, txn string) (store.Payment, error) {
	if err := t.flush(ctx); err != nil {
		return store.Payment{}, err
	}
	return queryOne(ctx, t.tx, "postgres: payment by transaction", scanPayment,
		`SELECT `+paymentCols+` FROM payments WHERE merchant_id = $1 AND txn = $2`, merchantID, txn)
}

// LockPayment reads a payment and locks its row for the batch.
func (t *Tx) LockPayment(ctx context.Context, merchantID, id int64) (store.Payment, error) {
	if err := t.flush(ctx); err != nil {
		return store.Payment{}, err
	}
	return queryOne(ctx, t.tx, "postgres: lock payment", scanPayment,
		`SELECT `+paymentCols+` FROM payments WHERE merchant_id = $1 AND id = $2 FOR UPDATE`, merchantID, id)
}

// DecidePayment records a decision.
func (t *Tx) DecidePayment(ctx context.Context, id int64, status string, at time.Time, by string) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	tag, err := t.tx.Exec(ctx, `UPDATE payments SET status = $1, decided_at = $2, decided_by = $3 WHERE id = $4`, status, at, by, id)
	return checkUpdated("postgres: decide payment", tag.RowsAffected(), 1, err)
}

// Payment reads a payment.
func (s *Store) Payment(ctx context.Context, merchantID, id int64) (store.Payment, error) {
	return queryOne(ctx, s.pool, "postgres: payment", scanPayment,
		`SELECT `+paymentCols+` FROM payments WHERE merchant_id = $1 AND id = $2`, merchantID, id)
}

// Payments lists payments in id order after AfterID.
func (s *Store) Payments(ctx context.Context, f store.PaymentFilter) ([]store.Payment, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	return queryAll(ctx, s.pool, "postgres: payments", scanPayment, `SELECT `+paymentCols+` FROM payments
		WHERE ($1 = 0 OR merchant_id = $1) AND ($2 = '' OR status = $2) AND ($3 = 0 OR customer_id = $3) AND id > $4
		ORDER BY id LIMIT $5`, f.MerchantID, f.Status, f.CustomerID, f.AfterID, limit)
}
