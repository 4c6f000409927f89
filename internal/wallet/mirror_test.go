package wallet_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
	"github.com/coffer-pay/coffer/internal/wallet"
)

func TestMirror(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		m := f.merchant("client site")
		name := strings.Repeat("ab", 16)
		mirror := func(p wallet.MirrorParams) (wallet.MirrorResult, error) {
			t.Helper()
			if p.Key == "" {
				p.Key = "k-" + wallet.NewWalletName()
			}
			return f.svc.Mirror(ctx, m, p)
		}
		// A new wallet: customer and wallet created, points from the mint.
		r, err := mirror(wallet.MirrorParams{Name: strings.ToUpper(name), CustomerID: 7, Email: "Ann@Example.com", Balance: 30, Active: true})
		if err != nil || !r.Created || r.Change != 30 || r.Wallet.Name != name || r.Wallet.CustomerID != 7 {
			t.Fatalf("first mirror: %+v %v", r, err)
		}
		if c, err := f.svc.Customer(ctx, m, 7); err != nil || c.Email != "ann@example.com" {
			t.Errorf("customer: %+v %v", c, err)
		}
		if got := f.available(m, r.Wallet.ID); got != 30 {
			t.Errorf("balance %d", got)
		}
		// The same state again: nothing written.
		if r, err := mirror(wallet.MirrorParams{Name: name, CustomerID: 7, Balance: 30, Active: true}); err != nil || r.Change != 0 || r.Created || r.StatusChanged {
			t.Errorf("same state: %+v %v", r, err)
		}
		// Down, with a withdrawal recorded, and deactivated.
		r, err = mirror(wallet.MirrorParams{Name: name, Balance: 12, Withdrawn: 8, Active: false})
		if err != nil || r.Change != -10 || !r.StatusChanged || r.Wallet.Status != store.WalletInactive {
			t.Fatalf("withdrawal: %+v %v", r, err)
		}
		if got := f.available(m, r.Wallet.ID); got != 12 {
			t.Errorf("balance after the withdrawal %d, want 12", got)
		}
		rev, err := f.svc.SystemAccount(ctx, m, "", store.RoleRevenue)
		if err != nil {
			t.Fatal(err)
		}
		if a, _ := st.Account(ctx, rev); a.CreditsPosted != 8 {
			t.Errorf("revenue %d, want 8", a.CreditsPosted)
		}
		// A mirror of an inactive wallet still follows the main site.
		if r, err := mirror(wallet.MirrorParams{Name: name, Balance: 40, Active: false}); err != nil || r.Change != 28 {
			t.Errorf("inactive wallet: %+v %v", r, err)
		}
		// An existing customer found by e-mail gets the wallet.
		f.svc.CreateCustomer(ctx, m, wallet.CustomerParams{ID: 8, Email: "bob@example.com"})
		other := strings.Repeat("cd", 16)
		if r, err := mirror(wallet.MirrorParams{Name: other, CustomerID: 99, Email: "BOB@example.com", Balance: 1, Active: true}); err != nil || r.Wallet.CustomerID != 8 {
			t.Errorf("by e-mail: %+v %v", r, err)
		}

		conflict := func(what string, p wallet.MirrorParams) {
			t.Helper()
			if _, err := mirror(p); !errors.Is(err, wallet.ErrMirrorConflict) {
				t.Errorf("%s: %v, want mirror_conflict", what, err)
			}
		}
		conflict("not a wallet name", wallet.MirrorParams{Name: "123", CustomerID: 1, Balance: 1})
		conflict("negative", wallet.MirrorParams{Name: strings.Repeat("ef", 16), CustomerID: 1, Balance: -1})
		conflict("no user id", wallet.MirrorParams{Name: strings.Repeat("ef", 16), Balance: 1})
		conflict("customer 7 has another points wallet", wallet.MirrorParams{Name: strings.Repeat("ef", 16), CustomerID: 7, Balance: 1})
		conflict("customer 8 has another e-mail", wallet.MirrorParams{Name: strings.Repeat("ef", 16), CustomerID: 8, Email: "carl@example.com", Balance: 1})
		m2 := f.merchant("other")
		if _, err := f.svc.Mirror(ctx, m2, wallet.MirrorParams{Name: name, CustomerID: 7, Balance: 1, Key: "x"}); !errors.Is(err, wallet.ErrMirrorConflict) {
			t.Errorf("another merchant's wallet name: %v", err)
		}
		if _, err := f.svc.WalletByName(ctx, m, strings.Repeat("ef", 16)); !errors.Is(err, wallet.ErrWalletNotFound) {
			t.Errorf("a refused mirror left a wallet: %v", err)
		}
		if _, err := f.svc.Customer(ctx, m, 1); !errors.Is(err, wallet.ErrCustomerNotFound) {
			t.Errorf("a refused mirror left a customer: %v", err)
		}

		// Many mirrors of one new wallet at once: one wallet, one balance.
		third := strings.Repeat("12", 16)
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := f.svc.Mirror(ctx, m, wallet.MirrorParams{Name: third, CustomerID: 20, Email: "dee@example.com", Balance: 5, Active: true, Key: "k-" + wallet.NewWalletName()}); err != nil {
					t.Errorf("concurrent mirror: %v", err)
				}
			}()
		}
		wg.Wait()
		w, err := f.svc.WalletByName(ctx, m, third)
		if err != nil || f.available(m, w.ID) != 5 {
			t.Errorf("after concurrent mirrors: %+v %v", w, err)
		}
	})
}
