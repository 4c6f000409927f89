package wallet_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// TestWalletPage: balances and e-mails read by range agree with reading
// each wallet, for close and for far-apart ids.
func TestWalletPage(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		m := f.merchant("shop")
		other := f.merchant("other")
		for i, id := range []int64{3, 1, 2, 9_000_000, 4} {
			w := f.customer(m, id, fmt.Sprintf("c%d@example.com", id))
			f.customer(other, id, "") // accounts of another merchant in between
			if _, err := f.svc.Charge(ctx, m, w.ID, int64(i+1), fmt.Sprint("k", i)); err != nil {
				t.Fatal(err)
			}
		}
		f.svc.CreateCustomer(ctx, m, wallet.CustomerParams{ID: 5, Wallets: []string{"EUR"}})
		for _, limit := range []int{1, 2, 3, 100} {
			var got []wallet.WalletInfo
			filter := store.WalletFilter{Limit: limit}
			for {
				page, err := f.svc.WalletPage(ctx, m, filter)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, page...)
				if len(page) < limit {
					break
				}
				filter.AfterID = page[len(page)-1].Wallet.ID
			}
			if len(got) != 6 {
				t.Fatalf("limit %d: %d wallets", limit, len(got))
			}
			for _, wi := range got {
				b, err := f.svc.WalletBalance(ctx, wi.Wallet)
				if err != nil {
					t.Fatal(err)
				}
				c, _ := f.svc.Customer(ctx, m, wi.Wallet.CustomerID)
				if wi.Balance != b || wi.Email != c.Email || wi.Wallet.MerchantID != m {
					t.Errorf("limit %d, wallet %d: %+v, want %+v %q", limit, wi.Wallet.ID, wi, b, c.Email)
				}
			}
		}
	})
}
