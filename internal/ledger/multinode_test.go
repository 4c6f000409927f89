package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/postgres"
)

// TestTwoEnginesSharePostgres runs two engines, each with its own pool and
// several workers, on one PostgreSQL database, as two Coffer nodes would:
// concurrent withdrawals against a balance covering k of them succeed
// exactly k times, a key raced on both nodes has one outcome, and the
// ledger verifies.
func TestTwoEnginesSharePostgres(t *testing.T) {
	dsn := postgres.NewTestDatabase(t)
	ctx := context.Background()
	open := func() *postgres.Store {
		s, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	st1, st2 := open(), open()
	nodes := []*ledger.Engine{
		ledger.New(st1, ledger.Options{Workers: 4, ExpiryInterval: -1}),
		ledger.New(st2, ledger.Options{Workers: 4, ExpiryInterval: -1}),
	}
	for _, e := range nodes {
		t.Cleanup(func() { e.Close(ctx) })
	}
	mint, _, err := nodes[0].CreateAccount(ctx, 1, ledger.AccountRequest{Asset: "USD", Normal: store.Debit, Unlimited: true})
	if err != nil {
		t.Fatal(err)
	}
	w, _, _ := nodes[0].CreateAccount(ctx, 1, ledger.AccountRequest{Asset: "USD"})
	shop, _, _ := nodes[1].CreateAccount(ctx, 1, ledger.AccountRequest{Asset: "USD"})
	const n, k = 300, 70
	if res, err := nodes[0].Transfer(ctx, 1, []ledger.TransferRequest{{Key: "fund", DebitAccountID: mint.ID, CreditAccountID: w.ID, Amount: k * 5}}); err != nil || res[0].Err != nil {
		t.Fatalf("fund: %v %v", err, res[0].Err)
	}
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := nodes[i%2].Transfer(ctx, 1, []ledger.TransferRequest{{Key: fmt.Sprintf("w-%d", i), DebitAccountID: w.ID, CreditAccountID: shop.ID, Amount: 5}})
			switch {
			case err != nil:
				t.Errorf("node %d: %v", i%2, err)
			case res[0].Err == nil:
				ok.Add(1)
			case errors.Is(res[0].Err, ledger.ErrInsufficientFunds):
				refused.Add(1)
			default:
				t.Errorf("unexpected: %v", res[0].Err)
			}
		}()
	}
	// The same keys sent to both nodes at once: one transfer each.
	ids := make([][2]int64, 40)
	for i := range ids {
		for node := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := nodes[node].Transfer(ctx, 1, []ledger.TransferRequest{{Key: fmt.Sprintf("race-%d", i), DebitAccountID: mint.ID, CreditAccountID: shop.ID, Amount: 1}})
				if err != nil || res[0].Err != nil {
					t.Errorf("race %d node %d: %v %v", i, node, err, res[0].Err)
					return
				}
				ids[i][node] = res[0].Transfer.ID
			}()
		}
	}
	wg.Wait()
	if ok.Load() != k || refused.Load() != n-k {
		t.Errorf("%d succeeded, %d refused; want %d and %d", ok.Load(), refused.Load(), k, n-k)
	}
	for i, pair := range ids {
		if pair[0] != pair[1] || pair[0] == 0 {
			t.Errorf("key race-%d: nodes answered transfers %d and %d, want one transfer", i, pair[0], pair[1])
		}
	}
	a, _ := st1.Account(ctx, shop.ID)
	if got := a.CreditsPosted; got != k*5+int64(len(ids)) {
		t.Errorf("shop credited %d, want %d", got, k*5+len(ids))
	}
	rep, err := ledger.Verify(ctx, st1)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep.Problems)
	}
}
