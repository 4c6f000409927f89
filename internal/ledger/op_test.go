package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
)

var errNotEnough = &ledger.Error{Kind: ledger.KindInvalid, Code: "custom_rule", Message: "the operation's own rule refused"}

func TestDo(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		t.Run("transfers, accounts and events commit together", func(t *testing.T) {
			f := newFixture(t, st)
			mint, w := f.funded(0)
			type out struct {
				acct store.Account
				tr   store.Transfer
			}
			got, err := ledger.Do(ctx, f.eng, 1, func(ctx context.Context, x *ledger.Exec) (out, error) {
				a, err := x.OpenAccount(ledger.AccountRequest{Asset: "USD", Name: "opened in op"})
				if err != nil {
					return out{}, err
				}
				res, err := x.Transfer(
					ledger.TransferRequest{Key: "op-1a", DebitAccountID: mint, CreditAccountID: w, Amount: 300},
					ledger.TransferRequest{Key: "op-1b", DebitAccountID: w, CreditAccountID: a.ID, Amount: 100},
				)
				if err != nil {
					return out{}, err
				}
				for _, r := range res {
					if r.Err != nil {
						return out{}, r.Err
					}
				}
				if res[1].Transfer.ID == 0 || res[0].Transfer.ID == 0 {
					return out{}, fmt.Errorf("transfer ids not assigned: %+v", res)
				}
				x.Emit(store.Event{Type: "test.done", Subject: "op:1", Payload: []byte(`{"ok":true}`)})
				return out{a, res[1].Transfer}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if a := f.balance(got.acct.ID); a.CreditsPosted != 100 {
				t.Errorf("opened account credited %d, want 100", a.CreditsPosted)
			}
			tr, err := st.Transfer(ctx, got.tr.ID)
			if err != nil || tr.Amount != 100 {
				t.Errorf("transfer %d: %+v %v", got.tr.ID, tr, err)
			}
			evs, err := st.Events(ctx, 1, 0, 10)
			if err != nil || len(evs) != 1 || evs[0].Type != "test.done" || evs[0].Seq == 0 || len(evs[0].ID) < 10 {
				t.Fatalf("events: %+v %v", evs, err)
			}
			f.verify()
		})

		t.Run("a failing operation leaves nothing behind", func(t *testing.T) {
			f := newFixture(t, st)
			mint, w := f.funded(0)
			before, _ := st.Events(ctx, 0, 0, 1000)
			var opened int64
			_, err := ledger.Do(ctx, f.eng, 1, func(ctx context.Context, x *ledger.Exec) (int, error) {
				a, err := x.OpenAccount(ledger.AccountRequest{Asset: "USD", Key: "op-fail-acct"})
				if err != nil {
					return 0, err
				}
				opened = a.ID
				if _, err := x.Transfer(ledger.TransferRequest{Key: "op-2a", DebitAccountID: mint, CreditAccountID: a.ID, Amount: 5}); err != nil {
					return 0, err
				}
				x.Emit(store.Event{Type: "test.never"})
				return 0, errNotEnough
			})
			if !errors.Is(err, errNotEnough) {
				t.Fatalf("got %v, want the operation's error", err)
			}
			if _, err := st.Account(ctx, opened); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("account opened by the failed operation exists: %v", err)
			}
			if rec, err := st.KeyRecord(ctx, store.MerchantKey{MerchantID: 1, Key: "op-2a"}); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("key of the failed operation recorded: %+v %v", rec, err)
			}
			after, _ := st.Events(ctx, 0, 0, 1000)
			if len(after) != len(before) {
				t.Errorf("failed operation emitted events")
			}
			// The key can be used now, and the wallet is untouched.
			if r := f.one(ledger.TransferRequest{Key: "op-2a", DebitAccountID: mint, CreditAccountID: w, Amount: 5}); r.Err != nil || r.Replayed {
				t.Errorf("reuse key after failure: %+v", r)
			}
			f.verify()
		})

		t.Run("business failure of a transfer inside an operation", func(t *testing.T) {
			f := newFixture(t, st)
			_, w := f.funded(10)
			shop := f.account("USD", store.Credit, false)
			_, err := ledger.Do(ctx, f.eng, 1, func(ctx context.Context, x *ledger.Exec) (int, error) {
				res, err := x.Transfer(ledger.TransferRequest{Key: "op-3", DebitAccountID: w, CreditAccountID: shop, Amount: 11})
				if err != nil {
					return 0, err
				}
				return 0, res[0].Err
			})
			if !errors.Is(err, ledger.ErrInsufficientFunds) {
				t.Fatalf("got %v", err)
			}
			f.verify()
		})

		t.Run("concurrent operations see each other's effects", func(t *testing.T) {
			f := newFixture(t, st)
			_, w := f.funded(500)
			shop := f.account("USD", store.Credit, false)
			// Each operation reads the wallet and takes 10 only if at least
			// 10 remain: 100 of them against 500 → exactly 50 succeed.
			var wg sync.WaitGroup
			var mu sync.Mutex
			ok := 0
			for i := range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := ledger.Do(ctx, f.eng, 1, func(ctx context.Context, x *ledger.Exec) (int, error) {
						a, err := x.Account(w)
						if err != nil {
							return 0, err
						}
						if a.CreditsPosted-a.DebitsPosted-a.DebitsPending < 10 {
							return 0, errNotEnough
						}
						res, err := x.Transfer(ledger.TransferRequest{Key: fmt.Sprintf("op-4-%d", i), DebitAccountID: w, CreditAccountID: shop, Amount: 10})
						if err != nil {
							return 0, err
						}
						return 0, res[0].Err
					})
					if err == nil {
						mu.Lock()
						ok++
						mu.Unlock()
					} else if !errors.Is(err, errNotEnough) {
						t.Errorf("op: %v", err)
					}
				}()
			}
			wg.Wait()
			if ok != 50 {
				t.Errorf("%d operations succeeded, want 50", ok)
			}
			f.verify()
		})
	})
}
