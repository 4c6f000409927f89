package sqlite

import (
	"context"

	"github.com/coffer-pay/coffer/internal/store"
)

// InsertRate records a rate and sets r.ID.
func (s *Store) InsertRate(ctx context.Context, r *store.RateRow) error {
	res, err := s.writer.ExecContext(ctx, `INSERT INTO exchange_rates (currency, rate, set_at, set_by) VALUES (?, ?, ?, ?)`,
		r.Currency, r.Rate, micros(r.SetAt), r.SetBy)
	if err != nil {
		return translate(err)
	}
	r.ID, err = res.LastInsertId()
	return translate(err)
}

func scanRate(r scanner) (store.RateRow, error) {
	var x store.RateRow
	var at int64
	err := r.Scan(&x.ID, &x.Currency, &x.Rate, &at, &x.SetBy)
	x.SetAt = fromMicros(at)
	return x, translate(err)
}

// CurrentRates returns the newest rate of each currency.
func (s *Store) CurrentRates(ctx context.Context) ([]store.RateRow, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT id, currency, rate, set_at, set_by FROM exchange_rates
		WHERE id IN (SELECT MAX(id) FROM exchange_rates GROUP BY currency) ORDER BY currency`)
	return collect(rows, err, scanRate)
}

// RateHistory lists a currency's rates, newest first.
func (s *Store) RateHistory(ctx context.Context, currency string, limit int) ([]store.RateRow, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT id, currency, rate, set_at, set_by FROM exchange_rates
		WHERE currency = ? ORDER BY id DESC LIMIT ?`, currency, limitOf(limit))
	return collect(rows, err, scanRate)
}
