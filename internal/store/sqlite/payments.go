package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-pay/coffer/internal/store"
)

const paymentCols = `id, merchant_id, customer_id, source, txn, currency, amount, tax, gross, tax_rate, tax_included,
	wallet_currency, rate, credited, tax_credited, wallet_id, credit_transfer_id, tax_transfer_id,
	payment_type, payer_email, comments, username, status, created_at, decided_at, decided_by`

func scanPayment(r scanner) (store.Payment, error) {
	var p store.Payment
	var txn sql.NullString
	var taxTID, decided sql.NullInt64
	var included int
	var created int64
	err := r.Scan(&p.ID, &p.MerchantID, &p.CustomerID, &p.Source, &txn, &p.Currency, &p.Amount, &p.Tax, &p.Gross,
		&p.TaxRate, &included, &p.WalletCurrency, &p.Rate, &p.Credited, &p.TaxCredited, &p.WalletID,
		&p.CreditTransferID, &taxTID, &p.PaymentType, &p.PayerEmail, &p.Comments, &p.Username, &p.Status,
		&created, &decided, &p.DecidedBy)
	if err != nil {
		return p, translate(err)
	}
	p.Transaction = txn.String
	p.TaxIncluded = included != 0
	p.TaxTransferID = taxTID.Int64
	p.CreatedAt = fromMicros(created)
	p.DecidedAt = ptrMicros(decided)
	return p, nil
}

// InsertPayment inserts p and sets p.ID.
func (t *Tx) InsertPayment(ctx context.Context, p *store.Payment) error {
	included := 0
	if p.TaxIncluded {
		included = 1
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO payments (merchant_id, customer_id, source, txn, currency, amount, tax, gross,
		tax_rate, tax_included, wallet_currency, rate, credited, tax_credited, wallet_id, credit_transfer_id, tax_transfer_id,
		payment_type, payer_email, comments, username, status, created_at, decided_at, decided_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.MerchantID, p.CustomerID, p.Source, nullStr(p.Transaction), p.Currency, p.Amount, p.Tax, p.Gross,
		p.TaxRate, included, p.WalletCurrency, p.Rate, p.Credited, p.TaxCredited, p.WalletID, p.CreditTransferID,
		nullID(p.TaxTransferID), p.PaymentType, p.PayerEmail, p.Comments, p.Username, p.Status, micros(p.CreatedAt),
		nullMicros(p.DecidedAt), p.DecidedBy)
	if err != nil {
		err = translate(err)
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%w: %v", store.ErrRetry, err)
		}
		return err
	}
	p.ID, err = res.LastInsertId()
	return translate(err)
}

// PaymentByTransaction finds a payment by the client's id, in the batch.
func (t *Tx) PaymentByTransaction(ctx context.Context, merchantID int64, txn string) (store.Payment, error) {
	return scanPayment(t.tx.QueryRowContext(ctx, `SELECT `+paymentCols+` FROM payments WHERE merchant_id = ? AND txn = ?`, merchantID, txn))
}

// LockPayment reads a payment in the batch (the write lock is held).
func (t *Tx) LockPayment(ctx context.Context, merchantID, id int64) (store.Payment, error) {
	return scanPayment(t.tx.QueryRowContext(ctx, `SELECT `+paymentCols+` FROM payments WHERE merchant_id = ? AND id = ?`, merchantID, id))
}

// DecidePayment records a decision.
func (t *Tx) DecidePayment(ctx context.Context, id int64, status string, at time.Time, by string) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE payments SET status = ?, decided_at = ?, decided_by = ? WHERE id = ?`, status, micros(at), by, id)
	if err != nil {
		return translate(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return store.ErrNotFound
	}
	return nil
}

// Payment reads a payment.
func (s *Store) Payment(ctx context.Context, merchantID, id int64) (store.Payment, error) {
	return scanPayment(s.reader.QueryRowContext(ctx, `SELECT `+paymentCols+` FROM payments WHERE merchant_id = ? AND id = ?`, merchantID, id))
}

// Payments lists payments in id order after AfterID.
func (s *Store) Payments(ctx context.Context, f store.PaymentFilter) ([]store.Payment, error) {
	q := `SELECT ` + paymentCols + ` FROM payments WHERE 1=1`
	var args []any
	if f.MerchantID != 0 {
		q += ` AND merchant_id = ?`
		args = append(args, f.MerchantID)
	}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	if f.CustomerID != 0 {
		q += ` AND customer_id = ?`
		args = append(args, f.CustomerID)
	}
	q += ` AND id > ? ORDER BY id LIMIT ?`
	args = append(args, f.AfterID)
	args = append(args, limitOf(f.Limit))
	rows, err := s.reader.QueryContext(ctx, q, args...)
	return collect(rows, err, scanPayment)
}
