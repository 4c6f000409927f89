package api_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/client"
	"github.com/coffer-pay/coffer/internal/api"
	"github.com/coffer-pay/coffer/internal/apikey"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/payment"
	"github.com/coffer-pay/coffer/internal/pricing"
	"github.com/coffer-pay/coffer/internal/seal"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
	"github.com/coffer-pay/coffer/internal/wallet"
)

func TestPaymentsAndRates(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		t.Cleanup(func() { verifyLedger(t, st) })
		eng := ledger.New(st, ledger.Options{ExpiryInterval: -1})
		t.Cleanup(func() {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			eng.Close(cctx)
		})
		ws := wallet.New(eng, wallet.Options{})
		rates := pricing.NewRates(st, "USD", nil)
		sealer, err := seal.New(seal.NewKey())
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(api.New(api.Config{Engine: eng, Merchants: merchant.New(st, sealer, merchant.Options{}),
			Wallets: ws, Payments: payment.New(eng, ws, rates), Rates: rates}))
		t.Cleanup(srv.Close)
		keyOf := func(role string, m int64) string {
			tok, row, err := apikey.Generate(role, m, "test")
			if err != nil {
				t.Fatal(err)
			}
			if err := st.InsertAPIKey(ctx, &row); err != nil {
				t.Fatal(err)
			}
			return tok
		}
		admin := client.New(srv.URL, keyOf(apikey.RoleAdmin, 1))
		m2, _ := st.CreateMerchant(ctx, "other")
		other := client.New(srv.URL, keyOf(apikey.RoleMerchant, m2.ID))

		if _, err := other.SetRate(ctx, "EUR", "1.08"); client.Code(err) != "forbidden" {
			t.Errorf("merchant key set a rate: %v", err)
		}
		if _, err := admin.SetRate(ctx, "EUR", "abc"); client.Code(err) != "invalid_request" {
			t.Errorf("bad rate: %v", err)
		}
		r, err := admin.SetRate(ctx, "eur", "1.08")
		if err != nil || r.Rate != "1.08" || r.Base != "USD" || r.Currency != "EUR" {
			t.Fatalf("set rate: %+v %v", r, err)
		}
		list, err := admin.ListRates(ctx)
		if err != nil || len(list) != 1 {
			t.Fatalf("rates: %+v %v", list, err)
		}

		if _, err := ws.CreateCustomer(ctx, 1, wallet.CustomerParams{ID: 5, Currency: "USD"}); err != nil {
			t.Fatal(err)
		}
		p, err := admin.CreatePayment(ctx, client.CreatePaymentRequest{CustomerID: 5, Currency: "EUR", Amount: "10.00", Transaction: "x1", Confirm: true})
		if err != nil || p.Status != "pending" || p.Credited != "10.80" || p.Replayed {
			t.Fatalf("create: %+v %v", p, err)
		}
		again, err := admin.CreatePayment(ctx, client.CreatePaymentRequest{CustomerID: 5, Currency: "EUR", Amount: "10.00", Transaction: "x1", Confirm: true})
		if err != nil || !again.Replayed || again.ID != p.ID {
			t.Fatalf("replay: %+v %v", again, err)
		}
		if _, err := admin.CreatePayment(ctx, client.CreatePaymentRequest{CustomerID: 5, Currency: "EUR", Amount: "11", Transaction: "x1"}); client.Code(err) != "transaction_conflict" {
			t.Errorf("conflict: %v", err)
		}
		if _, err := admin.CreatePayment(ctx, client.CreatePaymentRequest{CustomerID: 5, Currency: "GBP", Amount: "1"}); client.Code(err) != "currency_not_found" {
			t.Errorf("no rate: %v", err)
		}
		queue, err := admin.ListPayments(ctx, client.ListPaymentsParams{Status: "pending"})
		if err != nil || len(queue.Data) != 1 || queue.Data[0].ID != p.ID {
			t.Fatalf("queue: %+v %v", queue, err)
		}
		if _, err := other.ConfirmPayment(ctx, p.ID); client.Code(err) != "payment_not_found" {
			t.Errorf("another merchant confirmed: %v", err)
		}
		done, err := admin.ConfirmPayment(ctx, p.ID)
		if err != nil || done.Status != "confirmed" || done.DecidedAt == nil {
			t.Fatalf("confirm: %+v %v", done, err)
		}
		if _, err := admin.ConfirmPayment(ctx, p.ID); client.Code(err) != "payment_already_confirmed" {
			t.Errorf("confirm twice: %v", err)
		}
		if _, err := admin.RejectPayment(ctx, p.ID); client.Code(err) != "payment_already_confirmed" {
			t.Errorf("reject after confirm: %v", err)
		}
		got, err := admin.GetPayment(ctx, p.ID)
		if err != nil || got.Status != "confirmed" {
			t.Errorf("get: %+v %v", got, err)
		}
		w, err := ws.CustomerWallet(ctx, 1, 5, "USD")
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := ws.WalletBalance(ctx, w); b.Posted != 1080 {
			t.Errorf("wallet %d, want 1080", b.Posted)
		}
	})
}
