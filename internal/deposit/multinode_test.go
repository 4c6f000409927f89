package deposit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/coffer-pay/coffer/internal/deposit"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/postgres"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// TestTwoNodesActivate runs two engines (two Coffer nodes, each with its
// own pool and several workers) on one PostgreSQL database: activations of
// one key1 raced on both nodes credit it exactly once, and possible claims
// raced with the incoming transaction's arrival are credited once.
func TestTwoNodesActivate(t *testing.T) {
	dsn := postgres.NewTestDatabase(t)
	ctx := context.Background()
	var nodes []*deposit.Service
	var first *env
	for i := range 2 {
		st, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		eng := ledger.New(st, ledger.Options{Workers: 4, ExpiryInterval: -1})
		t.Cleanup(func() { eng.Close(ctx) })
		w := wallet.New(eng, wallet.Options{})
		d := deposit.New(eng, w, deposit.Options{})
		if i == 0 {
			first = &env{st: st, eng: eng, w: w, d: d}
			for j, label := range []string{"payer-1", "payer-2"} {
				if _, err := w.CreateCustomer(ctx, 1, wallet.CustomerParams{ID: int64(j + 1), Label: label}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := d.AddPayee(ctx, deposit.PayeeParams{MerchantID: 1, WalletType: "wavepay", Identifier: "09111", Currency: "MMK"}); err != nil {
				t.Fatal(err)
			}
		}
		nodes = append(nodes, d)
	}
	const rounds = 10
	for round := range rounds {
		key := fmt.Sprintf("k%d", round)
		var wg sync.WaitGroup
		errs := make([]error, 6)
		results := make([]deposit.Activation, 6)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				label := []string{"payer-1", "payer-2"}[i%2]
				results[i], errs[i] = nodes[i%2].Activate(ctx, activate(label, key, "100", fmt.Sprintf("%s-%d", key, i)))
			}()
		}
		// the incoming transaction arrives while the claims race
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := nodes[round%2].RecordIncoming(ctx, deposit.IncomingParams{MerchantID: 1, WalletType: "wavepay", Key1: key,
				Amount: "100", Currency: "MMK", Final: true}); err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
		for _, err := range errs {
			if err != nil && !errors.Is(err, deposit.ErrKeyUsed) {
				t.Fatalf("activate: %v", err)
			}
		}
	}
	credited, err := first.d.Claims(ctx, store.ClaimFilter{MerchantID: 1, Status: store.ClaimCredited, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(credited) != rounds {
		t.Errorf("%d claims credited, want %d", len(credited), rounds)
	}
	if b := first.balance(t, 1) + first.balance(t, 2); b != rounds*10000 {
		t.Errorf("credited %d, want %d", b, rounds*10000)
	}
	first.verify(t)
}
