package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-pay/coffer/internal/store"
)

const orderCols = `id, merchant_id, public_id, COALESCE(merchant_order_id, ''), COALESCE(customer_id, 0), source,
	price_amount, price_currency, pay_currency, title, description, callback_url, success_url, cancel_url, token,
	mobile, fast, amount_paid, amount_due, overpaid, refunded, status, created_at, updated_at, expires_at, paid_at`

func scanOrder(r pgx.Row) (store.Order, error) {
	var o store.Order
	err := r.Scan(&o.ID, &o.MerchantID, &o.PublicID, &o.MerchantOrderID, &o.CustomerID, &o.Source,
		&o.PriceAmount, &o.PriceCurrency, &o.PayCurrency, &o.Title, &o.Description, &o.CallbackURL, &o.SuccessURL,
		&o.CancelURL, &o.Token, &o.Mobile, &o.Fast, &o.AmountPaid, &o.AmountDue, &o.Overpaid, &o.Refunded, &o.Status,
		&o.CreatedAt, &o.UpdatedAt, &o.ExpiresAt, &o.PaidAt)
	o.CreatedAt, o.UpdatedAt, o.ExpiresAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC(), o.ExpiresAt.UTC()
	if o.PaidAt != nil {
		p := o.PaidAt.UTC()
		o.PaidAt = &p
	}
	return o, err
}

// InsertOrder inserts o and sets o.ID.
func (t *Tx) InsertOrder(ctx context.Context, o *store.Order) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	err := t.tx.QueryRow(ctx, `INSERT INTO orders (merchant_id, public_id, merchant_order_id, customer_id, source,
		price_amount, price_currency, pay_currency, title, description, callback_url, success_url, cancel_url, token,
		mobile, fast, amount_paid, amount_due, overpaid, refunded, status, created_at, updated_at, expires_at, paid_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)
		RETURNING id`,
		o.MerchantID, o.PublicID, nullString(o.MerchantOrderID), nullID(o.CustomerID), o.Source,
		o.PriceAmount, o.PriceCurrency, o.PayCurrency, o.Title, o.Description, o.CallbackURL, o.SuccessURL, o.CancelURL, o.Token,
		o.Mobile, o.Fast, o.AmountPaid, o.AmountDue, o.Overpaid, o.Refunded, o.Status,
		o.CreatedAt, o.UpdatedAt, o.ExpiresAt, o.PaidAt).Scan(&o.ID)
	return translate("postgres: insert order", err)
}

// OrderByMerchantOrderID finds an order by the merchant's id, in the batch.
func (t *Tx) OrderByMerchantOrderID(ctx context.Context, merchantID int64, moid string) (store.Order, error) {
	if err := t.flush(ctx); err != nil {
		return store.Order{}, err
	}
	return queryOne(ctx, t.tx, "postgres: order by merchant order id", scanOrder,
		`SELECT `+orderCols+` FROM orders WHERE merchant_id = $1 AND merchant_order_id = $2`, merchantID, moid)
}

// LockOrder reads an order and locks its row for the batch.
func (t *Tx) LockOrder(ctx context.Context, merchantID, id int64) (store.Order, error) {
	if err := t.flush(ctx); err != nil {
		return store.Order{}, err
	}
	return queryOne(ctx, t.tx, "postgres: lock order", scanOrder,
		`SELECT `+orderCols+` FROM orders WHERE merchant_id = $1 AND id = $2 FOR UPDATE`, merchantID, id)
}

// LockCurrentOrder reads a customer's current order and locks its row.
func (t *Tx) LockCurrentOrder(ctx context.Context, merchantID, customerID int64, now time.Time) (store.Order, error) {
	if err := t.flush(ctx); err != nil {
		return store.Order{}, err
	}
	return queryOne(ctx, t.tx, "postgres: lock current order", scanOrder,
		`SELECT `+orderCols+` FROM orders
		WHERE merchant_id = $1 AND customer_id = $2 AND status IN ('new', 'pending') AND expires_at > $3
		ORDER BY id LIMIT 1 FOR UPDATE`, merchantID, customerID, now)
}

// UpdateOrder writes an order's amounts, status and times.
func (t *Tx) UpdateOrder(ctx context.Context, o *store.Order) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	tag, err := t.tx.Exec(ctx, `UPDATE orders SET amount_paid = $1, amount_due = $2, overpaid = $3, refunded = $4,
		status = $5, updated_at = $6, paid_at = $7 WHERE id = $8`,
		o.AmountPaid, o.AmountDue, o.Overpaid, o.Refunded, o.Status, o.UpdatedAt, o.PaidAt, o.ID)
	return checkUpdated("postgres: update order", tag.RowsAffected(), 1, err)
}

// Order reads an order.
func (s *Store) Order(ctx context.Context, merchantID, id int64) (store.Order, error) {
	return queryOne(ctx, s.pool, "postgres: order", scanOrder,
		`SELECT `+orderCols+` FROM orders WHERE merchant_id = $1 AND id = $2`, merchantID, id)
}

// OrderByPublicID reads an order by its public id.
func (s *Store) OrderByPublicID(ctx context.Context, publicID string) (store.Order, error) {
	return queryOne(ctx, s.pool, "postgres: order by public id", scanOrder,
		`SELECT `+orderCols+` FROM orders WHERE public_id = $1`, publicID)
}

// Orders lists orders in id order after AfterID.
func (s *Store) Orders(ctx context.Context, f store.OrderFilter) ([]store.Order, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	return queryAll(ctx, s.pool, "postgres: orders", scanOrder, `SELECT `+orderCols+` FROM orders
		WHERE ($1 = 0 OR merchant_id = $1) AND ($2 = 0 OR customer_id = $2) AND ($3 = '' OR status = $3) AND id > $4
		ORDER BY id LIMIT $5`, f.MerchantID, f.CustomerID, f.Status, f.AfterID, limit)
}
