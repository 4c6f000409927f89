package pricing

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/store"
)

// ErrNoRate is returned when a conversion needs a rate nobody set.
var ErrNoRate = errors.New("no exchange rate set for this currency")

// Rates keeps the operator's exchange rates: each currency's worth in the
// base currency. A conversion from A to B uses rate(A)/rate(B), the base
// itself having rate 1. Current rates are cached for a short time.
type Rates struct {
	st   store.PricingStore
	base string
	now  func() time.Time
	ttl  time.Duration

	mu      sync.Mutex
	loaded  time.Time
	current map[string]store.RateRow
}

// NewRates returns the rates service for base currency base (e.g. "USD").
func NewRates(st store.PricingStore, base string, now func() time.Time) *Rates {
	if now == nil {
		now = time.Now
	}
	return &Rates{st: st, base: base, now: now, ttl: time.Second}
}

// Base is the base currency.
func (r *Rates) Base() string { return r.base }

// Set records a new rate for currency: one unit is worth rate units of the
// base currency.
func (r *Rates) Set(ctx context.Context, currency, rate, by string) (store.RateRow, error) {
	if _, ok := money.CurrencyScale(currency); !ok {
		return store.RateRow{}, fmt.Errorf("%q is not an ISO 4217 currency", currency)
	}
	if currency == r.base {
		return store.RateRow{}, fmt.Errorf("%s is the base currency: its rate is always 1", currency)
	}
	v, err := ParseRate(rate)
	if err != nil {
		return store.RateRow{}, err
	}
	row := store.RateRow{Currency: currency, Rate: v.String(), SetAt: r.now().UTC().Truncate(time.Microsecond), SetBy: by}
	if err := r.st.InsertRate(ctx, &row); err != nil {
		return store.RateRow{}, err
	}
	r.mu.Lock()
	r.current = nil // reload on next use
	r.mu.Unlock()
	return row, nil
}

// Current returns the current rate of every currency that has one.
func (r *Rates) Current(ctx context.Context) (map[string]store.RateRow, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.current != nil && r.now().Sub(r.loaded) < r.ttl {
		return r.current, nil
	}
	rows, err := r.st.CurrentRates(ctx)
	if err != nil {
		return nil, err
	}
	cur := make(map[string]store.RateRow, len(rows))
	for _, row := range rows {
		cur[row.Currency] = row
	}
	r.current, r.loaded = cur, r.now()
	return cur, nil
}

func (r *Rates) rateOf(cur map[string]store.RateRow, currency string) (Rate, error) {
	if currency == r.base {
		return ParseRate("1")
	}
	row, ok := cur[currency]
	if !ok {
		return Rate{}, fmt.Errorf("%w: %s", ErrNoRate, currency)
	}
	return ParseRate(row.Rate)
}

// Conversion is the outcome of Convert: the amount in the target currency
// and the rate that was used (target units per source unit).
type Conversion struct {
	Amount int64
	Rate   Rate
}

// Convert converts amount (minor units of from) into minor units of to at
// the current rates, rounding half-up once.
func (r *Rates) Convert(ctx context.Context, amount int64, from, to string) (Conversion, error) {
	fs, ok1 := money.CurrencyScale(from)
	ts, ok2 := money.CurrencyScale(to)
	if !ok1 || !ok2 {
		return Conversion{}, fmt.Errorf("%w: %s or %s is not a currency", ErrNoRate, from, to)
	}
	if from == to {
		one, _ := ParseRate("1")
		return Conversion{Amount: amount, Rate: one}, nil
	}
	cur, err := r.Current(ctx)
	if err != nil {
		return Conversion{}, err
	}
	rf, err := r.rateOf(cur, from)
	if err != nil {
		return Conversion{}, err
	}
	rt, err := r.rateOf(cur, to)
	if err != nil {
		return Conversion{}, err
	}
	cross := CrossRate(rf, rt)
	v, err := Convert(amount, fs, cross, ts)
	if err != nil {
		return Conversion{}, err
	}
	return Conversion{Amount: v, Rate: cross}, nil
}
