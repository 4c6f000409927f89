package storetest

import (
	"testing"
	"time"

	"github.com/coffer-pay/coffer/internal/store"
)

func testRates(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, r := range []store.RateRow{
		{Currency: "EUR", Rate: "1.08", SetAt: t0, SetBy: "op"},
		{Currency: "JPY", Rate: "0.0066", SetAt: t0},
		{Currency: "EUR", Rate: "1.0834", SetAt: t0.Add(time.Hour), SetBy: "op2"},
	} {
		if err := s.InsertRate(ctx, &r); err != nil || r.ID == 0 {
			t.Fatalf("InsertRate %d: %v (id %d)", i, err, r.ID)
		}
	}
	cur, err := s.CurrentRates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cur) != 2 || cur[0].Currency != "EUR" || cur[0].Rate != "1.0834" || cur[0].SetBy != "op2" ||
		!cur[0].SetAt.Equal(t0.Add(time.Hour)) || cur[1].Currency != "JPY" || cur[1].Rate != "0.0066" {
		t.Errorf("CurrentRates = %+v", cur)
	}
	hist, err := s.RateHistory(ctx, "EUR", 10)
	if err != nil || len(hist) != 2 || hist[0].Rate != "1.0834" || hist[1].Rate != "1.08" {
		t.Errorf("RateHistory = %+v, %v", hist, err)
	}
}
