package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-pay/coffer/internal/store"
)

// InsertRate records a rate and sets r.ID.
func (s *Store) InsertRate(ctx context.Context, r *store.RateRow) error {
	err := s.pool.QueryRow(ctx, `INSERT INTO exchange_rates (currency, rate, set_at, set_by) VALUES ($1, $2, $3, $4) RETURNING id`,
		r.Currency, r.Rate, r.SetAt, r.SetBy).Scan(&r.ID)
	return translate("postgres: insert rate", err)
}

func scanRate(row pgx.Row) (store.RateRow, error) {
	var x store.RateRow
	err := row.Scan(&x.ID, &x.Currency, &x.Rate, &x.SetAt, &x.SetBy)
	x.SetAt = x.SetAt.UTC()
	return x, err
}

// CurrentRates returns the newest rate of each currency.
func (s *Store) CurrentRates(ctx context.Context) ([]store.RateRow, error) {
	return queryAll(ctx, s.pool, "postgres: current rates", scanRate,
		`SELECT DISTINCT ON (currency) id, currency, rate, set_at, set_by FROM exchange_rates ORDER BY currency, id DESC`)
}

// RateHistory lists a currency's rates, newest first.
func (s *Store) RateHistory(ctx context.Context, currency string, limit int) ([]store.RateRow, error) {
	if limit <= 0 {
		limit = 100
	}
	return queryAll(ctx, s.pool, "postgres: rate history", scanRate,
		`SELECT id, currency, rate, set_at, set_by FROM exchange_rates WHERE currency = $1 ORDER BY id DESC LIMIT $2`, currency, limit)
}
