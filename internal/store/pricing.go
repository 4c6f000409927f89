package store

import (
	"context"
	"time"
)

// RateRow is an exchange rate as the operator set it: one unit of Currency
// is worth Rate units of the base currency. Rows are history: the newest
// per currency is the current rate.
type RateRow struct {
	ID       int64
	Currency string
	Rate     string // exact decimal text
	SetAt    time.Time
	SetBy    string
}

// PricingStore keeps exchange rates.
type PricingStore interface {
	InsertRate(ctx context.Context, r *RateRow) error
	// CurrentRates returns the newest rate of every currency.
	CurrentRates(ctx context.Context) ([]RateRow, error)
	// RateHistory lists a currency's rates, newest first.
	RateHistory(ctx context.Context, currency string, limit int) ([]RateRow, error)
}
