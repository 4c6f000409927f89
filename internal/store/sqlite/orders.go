package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-pay/coffer/internal/store"
)

const orderCols = `id, merchant_id, public_id, merchant_order_id, customer_id, source, price_amount, price_currency,
	pay_currency, title, description, callback_url, success_url, cancel_url, token, mobile, fast,
	amount_paid, amount_due, overpaid, refunded, status, created_at, updated_at, expires_at, paid_at`

func scanOrder(r scanner) (store.Order, error) {
	var o store.Order
	var moid sql.NullString
	var cust, paid sql.NullInt64
	var mobile, fast int
	var created, updated, expires int64
	err := r.Scan(&o.ID, &o.MerchantID, &o.PublicID, &moid, &cust, &o.Source, &o.PriceAmount, &o.PriceCurrency,
		&o.PayCurrency, &o.Title, &o.Description, &o.CallbackURL, &o.SuccessURL, &o.CancelURL, &o.Token, &mobile, &fast,
		&o.AmountPaid, &o.AmountDue, &o.Overpaid, &o.Refunded, &o.Status, &created, &updated, &expires, &paid)
	if err != nil {
		return o, translate(err)
	}
	o.MerchantOrderID = moid.String
	o.CustomerID = cust.Int64
	o.Mobile, o.Fast = mobile != 0, fast != 0
	o.CreatedAt, o.UpdatedAt, o.ExpiresAt = fromMicros(created), fromMicros(updated), fromMicros(expires)
	o.PaidAt = ptrMicros(paid)
	return o, nil
}

// InsertOrder inserts o and sets o.ID.
func (t *Tx) InsertOrder(ctx context.Context, o *store.Order) error {
	res, err := t.tx.ExecContext(ctx, `INSERT INTO orders (merchant_id, public_id, merchant_order_id, customer_id, source,
		price_amount, price_currency, pay_currency, title, description, callback_url, success_url, cancel_url, token,
		mobile, fast, amount_paid, amount_due, overpaid, refunded, status, created_at, updated_at, expires_at, paid_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		o.MerchantID, o.PublicID, nullStr(o.MerchantOrderID), nullID(o.CustomerID), o.Source,
		o.PriceAmount, o.PriceCurrency, o.PayCurrency, o.Title, o.Description, o.CallbackURL, o.SuccessURL, o.CancelURL, o.Token,
		boolInt(o.Mobile), boolInt(o.Fast), o.AmountPaid, o.AmountDue, o.Overpaid, o.Refunded, o.Status,
		micros(o.CreatedAt), micros(o.UpdatedAt), micros(o.ExpiresAt), nullMicros(o.PaidAt))
	if err != nil {
		err = translate(err)
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%w: %v", store.ErrRetry, err)
		}
		return err
	}
	o.ID, err = res.LastInsertId()
	return translate(err)
}

// OrderByMerchantOrderID finds an order by the merchant's id, in the batch.
func (t *Tx) OrderByMerchantOrderID(ctx context.Context, merchantID int64, moid string) (store.Order, error) {
	return scanOrder(t.tx.QueryRowContext(ctx, `SELECT `+orderCols+` FROM orders WHERE merchant_id = ? AND merchant_order_id = ?`, merchantID, moid))
}

// LockOrder reads an order in the batch (the write lock is held).
func (t *Tx) LockOrder(ctx context.Context, merchantID, id int64) (store.Order, error) {
	return scanOrder(t.tx.QueryRowContext(ctx, `SELECT `+orderCols+` FROM orders WHERE merchant_id = ? AND id = ?`, merchantID, id))
}

// LockCurrentOrder reads a customer's current order in the batch.
func (t *Tx) LockCurrentOrder(ctx context.Context, merchantID, customerID int64, now time.Time) (store.Order, error) {
	return scanOrder(t.tx.QueryRowContext(ctx, `SELECT `+orderCols+` FROM orders
		WHERE merchant_id = ? AND customer_id = ? AND status IN ('new', 'pending') AND expires_at > ?
		ORDER BY id LIMIT 1`, merchantID, customerID, micros(now)))
}

// UpdateOrder writes an order's amounts, status and times.
func (t *Tx) UpdateOrder(ctx context.Context, o *store.Order) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE orders SET amount_paid = ?, amount_due = ?, overpaid = ?, refunded = ?,
		status = ?, updated_at = ?, paid_at = ? WHERE id = ?`,
		o.AmountPaid, o.AmountDue, o.Overpaid, o.Refunded, o.Status, micros(o.UpdatedAt), nullMicros(o.PaidAt), o.ID)
	if err != nil {
		return translate(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return store.ErrNotFound
	}
	return nil
}

// Order reads an order.
func (s *Store) Order(ctx context.Context, merchantID, id int64) (store.Order, error) {
	return scanOrder(s.reader.QueryRowContext(ctx, `SELECT `+orderCols+` FROM orders WHERE merchant_id = ? AND id = ?`, merchantID, id))
}

// OrderByPublicID reads an order by its public id.
func (s *Store) OrderByPublicID(ctx context.Context, publicID string) (store.Order, error) {
	return scanOrder(s.reader.QueryRowContext(ctx, `SELECT `+orderCols+` FROM orders WHERE public_id = ?`, publicID))
}

// Orders lists orders in id order after AfterID.
func (s *Store) Orders(ctx context.Context, f store.OrderFilter) ([]store.Order, error) {
	q := `SELECT ` + orderCols + ` FROM orders WHERE 1=1`
	var args []any
	if f.MerchantID != 0 {
		q += ` AND merchant_id = ?`
		args = append(args, f.MerchantID)
	}
	if f.CustomerID != 0 {
		q += ` AND customer_id = ?`
		args = append(args, f.CustomerID)
	}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	q += ` AND id > ? ORDER BY id LIMIT ?`
	args = append(args, f.AfterID, limitOf(f.Limit))
	rows, err := s.reader.QueryContext(ctx, q, args...)
	return collect(rows, err, scanOrder)
}
