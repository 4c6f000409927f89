package payment_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/payment"
	"github.com/coffer-pay/coffer/internal/pricing"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
	"github.com/coffer-pay/coffer/internal/wallet"
)

type env struct {
	st  store.Store
	eng *ledger.Engine
	w   *wallet.Service
	p   *payment.Service
}

func newEnv(t *testing.T, st store.Store) *env {
	eng := ledger.New(st, ledger.Options{ExpiryInterval: -1})
	t.Cleanup(func() { eng.Close(context.Background()) })
	rates := pricing.NewRates(st, "EUR", nil)
	ctx := context.Background()
	for cur, r := range map[string]string{"JPY": "0.0061", "BHD": "2.425", "USD": "0.92"} {
		if _, err := rates.Set(ctx, cur, r, "test"); err != nil {
			t.Fatal(err)
		}
	}
	w := wallet.New(eng, wallet.Options{})
	return &env{st: st, eng: eng, w: w, p: payment.New(eng, w, rates)}
}

func (e *env) customer(t *testing.T, id int64, currency string, taxPPM int64) {
	t.Helper()
	var tax *int64
	if taxPPM > 0 {
		tax = &taxPPM
	}
	if _, err := e.w.CreateCustomer(context.Background(), 1, wallet.CustomerParams{ID: id, Currency: currency, TaxRate: tax}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) balance(t *testing.T, walletID int64) (posted, pending int64) {
	t.Helper()
	w, err := e.w.Wallet(context.Background(), 1, walletID)
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.st.Account(context.Background(), w.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	return a.CreditsPosted - a.DebitsPosted, a.CreditsPending
}

func (e *env) verify(t *testing.T) {
	t.Helper()
	rep, err := ledger.Verify(context.Background(), e.st)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep.Problems)
	}
}

func TestCreate(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		e.customer(t, 10, "EUR", 210000) // 21 % tax, EUR wallet
		e.customer(t, 11, "JPY", 0)      // no tax, JPY wallet
		e.customer(t, 12, "BHD", 100000) // 10 %, BHD wallet
		tests := []struct {
			name                          string
			customer                      int64
			currency, amount              string
			included                      bool
			net, tax, gross, credited, tc int64
			rate                          string
		}{
			{"seed: 100 EUR, tax included at 21 %", 10, "EUR", "100", true, 8264, 1736, 10000, 8264, 1736, "1"},
			{"tax added", 10, "EUR", "100", false, 10000, 2100, 12100, 10000, 2100, "1"},
			{"EUR into a JPY wallet", 11, "EUR", "19.99", false, 1999, 0, 1999, 3277, 0, ""}, // 19.99/0.0061 = 3277.05
			{"JPY into a BHD wallet with tax", 12, "JPY", "1000", false, 1000, 100, 1100, 2515, 252, ""},
			{"BHD paid into EUR wallet", 10, "BHD", "1.000", true, 826, 174, 1000, 200, 42, "2.425"}, // 0.826 BHD × 2.425 = 2.00305 → 2.00 EUR
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				p, replayed, err := e.p.Create(ctx, payment.CreateParams{MerchantID: 1, CustomerID: tc.customer, Currency: tc.currency,
					Amount: tc.amount, TaxIncluded: tc.included, Transaction: fmt.Sprintf("t-%d", i), Source: "test"})
				if err != nil || replayed {
					t.Fatalf("create: %v %v", err, replayed)
				}
				if p.Amount != tc.net || p.Tax != tc.tax || p.Gross != tc.gross || p.Credited != tc.credited || p.TaxCredited != tc.tc {
					t.Errorf("got net %d tax %d gross %d credited %d tax credited %d; want %d %d %d %d %d",
						p.Amount, p.Tax, p.Gross, p.Credited, p.TaxCredited, tc.net, tc.tax, tc.gross, tc.credited, tc.tc)
				}
				if tc.rate != "" && p.Rate != tc.rate {
					t.Errorf("rate %s, want %s", p.Rate, tc.rate)
				}
				if p.Status != store.PaymentCompleted {
					t.Errorf("status %s", p.Status)
				}
			})
		}
		e.verify(t)
	})
}

func TestIdempotencyAndErrors(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		e.customer(t, 1, "EUR", 0)
		params := payment.CreateParams{MerchantID: 1, CustomerID: 1, Currency: "EUR", Amount: "5.00", Transaction: "2S5sdf77", Source: "test"}
		first, _, err := e.p.Create(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		again, replayed, err := e.p.Create(ctx, params)
		if err != nil || !replayed || again.ID != first.ID {
			t.Fatalf("retry: %+v %v %v", again, replayed, err)
		}
		if posted, _ := e.balance(t, first.WalletID); posted != 500 {
			t.Errorf("balance %d after a retry, want 500 (credited once)", posted)
		}
		other := params
		other.Amount = "6"
		if _, _, err := e.p.Create(ctx, other); !errors.Is(err, payment.ErrTransactionUsed) {
			t.Errorf("same transaction, other amount: %v", err)
		}
		for _, tc := range []struct {
			name string
			mod  func(p *payment.CreateParams)
			want error
		}{
			{"unknown currency", func(p *payment.CreateParams) { p.Currency = "XYZ" }, payment.ErrNoCurrency},
			{"no rate", func(p *payment.CreateParams) { p.Currency = "GBP" }, payment.ErrNoCurrency},
			{"unknown customer", func(p *payment.CreateParams) { p.CustomerID = 999 }, wallet.ErrCustomerNotFound},
			{"bad amount", func(p *payment.CreateParams) { p.Amount = "1.001" }, ledger.ErrInvalidRequest},
			{"zero amount", func(p *payment.CreateParams) { p.Amount = "0" }, ledger.ErrInvalidRequest},
		} {
			p := params
			p.Transaction = ""
			tc.mod(&p)
			if _, _, err := e.p.Create(ctx, p); !errors.Is(err, tc.want) {
				t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
			}
		}
		e.verify(t)
	})
}

func TestConfirmationQueue(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		e.customer(t, 7, "EUR", 200000)
		p, _, err := e.p.Create(ctx, payment.CreateParams{MerchantID: 1, CustomerID: 7, Currency: "EUR", Amount: "10", Confirm: true, Source: "test"})
		if err != nil || p.Status != store.PaymentPending {
			t.Fatalf("create: %+v %v", p, err)
		}
		if posted, pending := e.balance(t, p.WalletID); posted != 0 || pending != 1000 {
			t.Fatalf("before confirmation: posted %d pending %d, want 0 and 1000", posted, pending)
		}
		queue, err := e.p.List(ctx, store.PaymentFilter{MerchantID: 1, Status: store.PaymentPending})
		if err != nil || len(queue) != 1 || queue[0].ID != p.ID {
			t.Fatalf("queue: %+v %v", queue, err)
		}
		// Two operators confirm at once: the wallet is credited once.
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = e.p.Confirm(ctx, 1, p.ID, fmt.Sprintf("op%d", i))
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, payment.ErrAlreadyConfirmed):
				t.Errorf("confirm: %v", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d confirmations succeeded, want 1", ok)
		}
		if posted, pending := e.balance(t, p.WalletID); posted != 1000 || pending != 0 {
			t.Errorf("after confirmation: posted %d pending %d", posted, pending)
		}
		if _, err := e.p.Reject(ctx, 1, p.ID, "late"); !errors.Is(err, payment.ErrAlreadyConfirmed) {
			t.Errorf("reject after confirm: %v", err)
		}

		q, _, _ := e.p.Create(ctx, payment.CreateParams{MerchantID: 1, CustomerID: 7, Currency: "EUR", Amount: "3", Confirm: true, Source: "test"})
		if r, err := e.p.Reject(ctx, 1, q.ID, "op"); err != nil || r.Status != store.PaymentRejected {
			t.Fatalf("reject: %+v %v", r, err)
		}
		if _, err := e.p.Confirm(ctx, 1, q.ID, "op"); !errors.Is(err, payment.ErrAlreadyRejected) {
			t.Errorf("confirm after reject: %v", err)
		}
		if posted, pending := e.balance(t, p.WalletID); posted != 1000 || pending != 0 {
			t.Errorf("after rejection: posted %d pending %d", posted, pending)
		}
		if _, err := e.p.Confirm(ctx, 1, 424242, "op"); !errors.Is(err, payment.ErrPaymentNotFound) {
			t.Errorf("unknown payment: %v", err)
		}
		evs, _ := st.Events(ctx, 1, 0, 100)
		types := map[string]int{}
		for _, ev := range evs {
			types[ev.Type]++
		}
		if types["payment.created"] != 2 || types["payment.confirmed"] != 1 || types["payment.rejected"] != 1 {
			t.Errorf("events %v", types)
		}
		e.verify(t)
	})
}
