package pricing_test

import (
	"context"
	"errors"
	"testing"

	"github.com/coffer-pay/coffer/internal/pricing"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
)

func TestRates(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		r := pricing.NewRates(st, "EUR", nil)
		if _, err := r.Convert(ctx, 100, "JPY", "BHD"); !errors.Is(err, pricing.ErrNoRate) {
			t.Fatalf("no rates yet: %v", err)
		}
		for cur, rate := range map[string]string{"JPY": "0.0061", "BHD": "2.4250", "USD": "0.92"} {
			if _, err := r.Set(ctx, cur, rate, "test"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := r.Set(ctx, "EUR", "2", "test"); err == nil {
			t.Errorf("setting the base currency's rate was accepted")
		}
		if _, err := r.Set(ctx, "XXX", "2", "test"); err == nil {
			t.Errorf("unknown currency accepted")
		}
		if _, err := r.Set(ctx, "USD", "-1", "test"); !errors.Is(err, pricing.ErrRate) {
			t.Errorf("negative rate: %v", err)
		}
		tests := []struct {
			amount   int64
			from, to string
			want     int64
			rate     string
		}{
			{10000, "EUR", "JPY", 16393, ""},    // 100 EUR / 0.0061 = 16393.44… → 16393 JPY
			{1000, "JPY", "EUR", 610, "0.0061"}, // 1000 JPY = 6.10 EUR
			{1000, "BHD", "EUR", 243, "2.425"},  // 1.000 BHD = 2.425 EUR → 2.43 (half up)
			{500, "EUR", "EUR", 500, "1"},
		}
		for _, tc := range tests {
			got, err := r.Convert(ctx, tc.amount, tc.from, tc.to)
			if err != nil || got.Amount != tc.want {
				t.Errorf("Convert(%d %s→%s) = %+v %v, want %d", tc.amount, tc.from, tc.to, got.Amount, err, tc.want)
			}
			if tc.rate != "" && got.Rate.String() != tc.rate {
				t.Errorf("rate used %s, want %s", got.Rate, tc.rate)
			}
		}
		// A new rate takes effect at once.
		if _, err := r.Set(ctx, "JPY", "0.0062", "test"); err != nil {
			t.Fatal(err)
		}
		if got, _ := r.Convert(ctx, 1000, "JPY", "EUR"); got.Amount != 620 {
			t.Errorf("after new rate: %d, want 620", got.Amount)
		}
	})
}
