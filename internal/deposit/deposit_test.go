package deposit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/internal/deposit"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
	"github.com/coffer-pay/coffer/internal/wallet"
)

type env struct {
	st  store.Store
	eng *ledger.Engine
	w   *wallet.Service
	d   *deposit.Service
}

func newEnv(t *testing.T, st store.Store, opt deposit.Options) *env {
	t.Helper()
	eng := ledger.New(st, ledger.Options{ExpiryInterval: -1})
	t.Cleanup(func() { eng.Close(context.Background()) })
	w := wallet.New(eng, wallet.Options{})
	e := &env{st: st, eng: eng, w: w, d: deposit.New(eng, w, opt)}
	ctx := context.Background()
	for i, label := range []string{"payer-1", "payer-2"} {
		if _, err := w.CreateCustomer(ctx, 1, wallet.CustomerParams{ID: int64(i + 1), Label: label}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"09111", "09222"} {
		if _, err := e.d.AddPayee(ctx, deposit.PayeeParams{MerchantID: 1, WalletType: "wavepay", Identifier: id, Currency: "MMK"}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// balance is the customer's MMK wallet balance (0 when there is none).
func (e *env) balance(t *testing.T, customerID int64) int64 {
	t.Helper()
	w, err := e.w.CustomerWallet(context.Background(), 1, customerID, "MMK")
	if errors.Is(err, wallet.ErrWalletNotFound) {
		return 0
	} else if err != nil {
		t.Fatal(err)
	}
	b, err := e.w.WalletBalance(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	return b.Available
}

func (e *env) verify(t *testing.T) {
	t.Helper()
	rep, err := ledger.Verify(context.Background(), e.st)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep.Problems)
	}
}

func (e *env) incoming(t *testing.T, key1, amount string, final bool) deposit.Recorded {
	t.Helper()
	r, err := e.d.RecordIncoming(context.Background(), deposit.IncomingParams{MerchantID: 1, WalletType: "wavepay", Key1: key1,
		Amount: amount, Currency: "MMK", Payee: "09111", Final: final, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func activate(label, key1, amount, custom string) deposit.ActivateParams {
	return deposit.ActivateParams{MerchantID: 1, WalletType: "wavepay", Currency: "MMK", Label: label, Key1: key1, Amount: amount, CustomID: custom}
}

func TestCreateRoundRobin(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, deposit.Options{})
		ctx := context.Background()
		var got []string
		for range 4 {
			p, r, err := e.d.Create(ctx, deposit.CreateParams{MerchantID: 1, WalletType: "wavepay", Currency: "MMK", Label: "payer-1"})
			if err != nil {
				t.Fatal(err)
			}
			if r.ID == 0 || r.PayeeID != p.ID || r.CustomerID != 1 {
				t.Errorf("request %+v", r)
			}
			got = append(got, p.Identifier)
		}
		if fmt.Sprint(got) != "[09111 09222 09111 09222]" {
			t.Errorf("payees handed out %v", got)
		}
		for _, tc := range []struct {
			p    deposit.CreateParams
			want error
		}{
			{deposit.CreateParams{MerchantID: 1, WalletType: "bkash", Currency: "MMK", Label: "payer-1"}, deposit.ErrUnknownWalletType},
			{deposit.CreateParams{MerchantID: 1, WalletType: "wavepay", Currency: "USD", Label: "payer-1"}, deposit.ErrUnknownCurrency},
			{deposit.CreateParams{MerchantID: 1, WalletType: "wavepay", Currency: "MMK", Label: "nobody"}, wallet.ErrCustomerNotFound},
		} {
			if _, _, err := e.d.Create(ctx, tc.p); !errors.Is(err, tc.want) {
				t.Errorf("%+v: %v, want %v", tc.p, err, tc.want)
			}
		}
	})
}

func TestActivateOutcomes(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, deposit.Options{HoldAbove: map[string]int64{"MMK": 1_000_000}})
		ctx := context.Background()
		e.incoming(t, "1001", "6000", true)
		e.incoming(t, "1002", "500", false)
		e.incoming(t, "1003", "20000", true) // above the hold

		// ok
		a, err := e.d.Activate(ctx, activate("payer-1", "1001", "6000", "c1"))
		if err != nil || a.Claim.Status != store.ClaimCredited || a.Replayed {
			t.Fatalf("activate: %+v %v", a, err)
		}
		if b := e.balance(t, 1); b != 600000 {
			t.Fatalf("balance %d", b)
		}
		// the same custom id again: the same answer, nothing more credited
		a2, err := e.d.Activate(ctx, activate("payer-1", "1001", "6000", "c1"))
		if err != nil || !a2.Replayed || a2.Claim.ID != a.Claim.ID || a2.Claim.Status != store.ClaimCredited {
			t.Fatalf("replay: %+v %v", a2, err)
		}
		// fails, nothing recorded
		for _, tc := range []struct {
			p    deposit.ActivateParams
			want error
		}{
			{activate("payer-2", "1001", "6000", "c2"), deposit.ErrKeyUsed},
			{activate("payer-1", "1001", "6000", "c2"), deposit.ErrKeyUsed},
			{activate("payer-1", "1002", "600", "c2"), deposit.ErrAmountMismatch},
			{activate("payer-1", "1009", "6000", "c1"), deposit.ErrCustomIDUsed},
			{activate("payer-1", "123456789012", "6000", "c2"), nil},
			{activate("payer-1", "1009", "-1", "c2"), nil},
			{activate("payer-1", "1009", "1.001", "c2"), nil},
			{activate("nobody", "1009", "1", "c2"), wallet.ErrCustomerNotFound},
		} {
			_, err := e.d.Activate(ctx, tc.p)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("%+v: %v, want %v", tc.p, err, tc.want)
			}
		}
		if b := e.balance(t, 1) + e.balance(t, 2); b != 600000 {
			t.Fatalf("balances %d", b)
		}
		// pending: not final yet; credited when it becomes final
		a, err = e.d.Activate(ctx, activate("payer-2", "1002", "500", "c3"))
		if err != nil || a.Claim.Status != store.ClaimPending {
			t.Fatalf("pending: %+v %v", a, err)
		}
		if b := e.balance(t, 2); b != 0 {
			t.Fatalf("credited while pending: %d", b)
		}
		r := e.incoming(t, "1002", "500", true)
		if r.Claim == nil || r.Claim.Status != store.ClaimCredited || !r.Replayed {
			t.Fatalf("final: %+v", r)
		}
		if b := e.balance(t, 2); b != 50000 {
			t.Fatalf("balance %d", b)
		}
		a, _ = e.d.Activate(ctx, activate("payer-2", "1002", "500", "c3"))
		if a.Claim.Status != store.ClaimCredited || !a.Replayed {
			t.Errorf("replay after settling: %+v", a)
		}
		// held above the threshold; the operator matches it
		a, err = e.d.Activate(ctx, activate("payer-2", "1003", "20000", "c4"))
		if err != nil || a.Claim.Status != store.ClaimPending {
			t.Fatalf("held: %+v %v", a, err)
		}
		c, err := e.d.Match(ctx, 1, a.Claim.ID, "", "alice")
		if err != nil || c.Status != store.ClaimCredited || c.DecidedBy != "alice" {
			t.Fatalf("match: %+v %v", c, err)
		}
		if _, err := e.d.Match(ctx, 1, a.Claim.ID, "", "alice"); !errors.Is(err, deposit.ErrClaimDecided) {
			t.Errorf("match twice: %v", err)
		}
		if b := e.balance(t, 2); b != 2050000 {
			t.Fatalf("balance %d", b)
		}
		e.verify(t)
	})
}

func TestPossibleTransaction(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		var events []store.Event
		var targets []store.Target
		e := newEnv(t, st, deposit.Options{PostbackURL: func(ctx context.Context, merchantID int64) (string, error) {
			return "https://merchant.example/postback", nil
		}})
		ctx := context.Background()
		a, err := e.d.Activate(ctx, activate("payer-1", "2001", "6008.39", "p1"))
		if err != nil || a.Claim.Status != store.ClaimPossible {
			t.Fatalf("possible: %+v %v", a, err)
		}
		// a wrong amount does not match it; the right one later does
		r := e.incoming(t, "2002", "6008.39", true)
		if r.Claim != nil {
			t.Fatalf("matched another key: %+v", r.Claim)
		}
		r = e.incoming(t, "2001", "6008.39", true)
		if r.Claim == nil || r.Claim.ID != a.Claim.ID || r.Claim.Status != store.ClaimCredited {
			t.Fatalf("auto match: %+v", r)
		}
		if b := e.balance(t, 1); b != 600839 {
			t.Fatalf("balance %d", b)
		}
		// recording it again changes nothing
		if r := e.incoming(t, "2001", "6008.39", true); !r.Replayed || r.Claim != nil {
			t.Fatalf("again: %+v", r)
		}
		if _, err := e.d.RecordIncoming(ctx, deposit.IncomingParams{MerchantID: 1, WalletType: "wavepay", Key1: "2001",
			Amount: "1", Currency: "MMK", Final: true}); !errors.Is(err, deposit.ErrIncomingConflict) {
			t.Errorf("conflicting details: %v", err)
		}
		// an operator rejects one and matches another by hand to another key
		b1, _ := e.d.Activate(ctx, activate("payer-2", "3001", "10", "p2"))
		b2, _ := e.d.Activate(ctx, activate("payer-2", "3002", "6008.39", "p3"))
		if c, err := e.d.Reject(ctx, 1, b1.Claim.ID, "bob"); err != nil || c.Status != store.ClaimRejected {
			t.Fatalf("reject: %+v %v", c, err)
		}
		if _, err := e.d.Match(ctx, 1, b2.Claim.ID, "2001", "bob"); !errors.Is(err, deposit.ErrKeyUsed) {
			t.Errorf("match to a credited key: %v", err)
		}
		if c, err := e.d.Match(ctx, 1, b2.Claim.ID, "2002", "bob"); err != nil || c.Status != store.ClaimCredited {
			t.Fatalf("match: %+v %v", c, err)
		}
		if b := e.balance(t, 2); b != 600839 {
			t.Fatalf("balance %d", b)
		}
		q, err := e.d.Claims(ctx, store.ClaimFilter{MerchantID: 1, Status: store.ClaimPossible})
		if err != nil || len(q) != 0 {
			t.Errorf("queue: %v %v", q, err)
		}
		e.verify(t)

		_, err = st.FanOut(ctx, time.Now(), 100, func(ev store.Event, ts []store.Target, eps []store.WebhookEndpoint) []store.Delivery {
			events = append(events, ev)
			targets = append(targets, ts...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, ev := range events {
			types = append(types, ev.Type)
		}
		if fmt.Sprint(types) != "[deposit.possible deposit.credited deposit.possible deposit.possible deposit.rejected deposit.credited]" {
			t.Errorf("events %v", types)
		}
		if len(targets) != 3 {
			t.Fatalf("targets %+v", targets)
		}
		var tr map[string]any
		if err := json.Unmarshal(targets[0].Data, &tr); err != nil {
			t.Fatal(err)
		}
		if targets[0].Format != store.FormatPaykassma || tr["status"] != "Success" || tr["amount"] != "6008.39" ||
			tr["custom_transaction_id"] != "p1" || tr["custom_user_id"] != "payer-1" || tr["payment_system"] != "wavepay" {
			t.Errorf("postback %s", targets[0].Data)
		}
		if err := json.Unmarshal(targets[1].Data, &tr); err != nil || tr["status"] != "Rejected" {
			t.Errorf("rejection postback %s", targets[1].Data)
		}
	})
}

// Two activations of one key1 at once — by different customers, and by
// the same one — credit it once.
func TestConcurrentActivation(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, deposit.Options{})
		ctx := context.Background()
		for round := range 5 {
			key := fmt.Sprintf("k%d", round)
			e.incoming(t, key, "100", true)
			var wg sync.WaitGroup
			res := make([]error, 4)
			for i := range res {
				wg.Add(1)
				go func() {
					defer wg.Done()
					label := []string{"payer-1", "payer-2"}[i%2]
					_, res[i] = e.d.Activate(ctx, activate(label, key, "100", fmt.Sprintf("%s-%d", key, i)))
				}()
			}
			wg.Wait()
			ok := 0
			for _, err := range res {
				if err == nil {
					ok++
				} else if !errors.Is(err, deposit.ErrKeyUsed) {
					t.Fatalf("activate: %v", err)
				}
			}
			if ok != 1 {
				t.Fatalf("round %d: %d activations succeeded", round, ok)
			}
		}
		if b := e.balance(t, 1) + e.balance(t, 2); b != 5*10000 {
			t.Fatalf("credited %d", b)
		}
		// one custom id, concurrently: one claim, one credit
		e.incoming(t, "same", "100", true)
		var wg sync.WaitGroup
		ids := make([]int64, 4)
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, err := e.d.Activate(ctx, activate("payer-1", "same", "100", "one"))
				if err != nil {
					t.Error(err)
				}
				ids[i] = a.Claim.ID
			}()
		}
		wg.Wait()
		for _, id := range ids {
			if id != ids[0] {
				t.Errorf("claims %v", ids)
			}
		}
		if b := e.balance(t, 1) + e.balance(t, 2); b != 6*10000 {
			t.Fatalf("credited %d", b)
		}
		e.verify(t)
	})
}

// Rejecting a pending claim frees its transaction for another claim.
func TestRejectPendingFreesTransaction(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, deposit.Options{})
		ctx := context.Background()
		e.incoming(t, "8001", "70", false)
		a, err := e.d.Activate(ctx, activate("payer-1", "8001", "70", "r1"))
		if err != nil || a.Claim.Status != store.ClaimPending {
			t.Fatal(a, err)
		}
		if _, err := e.d.Activate(ctx, activate("payer-2", "8001", "70", "r2")); !errors.Is(err, deposit.ErrKeyUsed) {
			t.Fatalf("second claim while pending: %v", err)
		}
		if c, err := e.d.Reject(ctx, 1, a.Claim.ID, "bob"); err != nil || c.Status != store.ClaimRejected {
			t.Fatal(c, err)
		}
		if _, err := e.d.Reject(ctx, 1, a.Claim.ID, "bob"); !errors.Is(err, deposit.ErrClaimDecided) {
			t.Errorf("reject twice: %v", err)
		}
		// replaying the rejected claim answers it, rejected
		if r, err := e.d.Activate(ctx, activate("payer-1", "8001", "70", "r1")); err != nil || !r.Replayed || r.Claim.Status != store.ClaimRejected {
			t.Errorf("replay: %+v %v", r, err)
		}
		b, err := e.d.Activate(ctx, activate("payer-2", "8001", "70", "r3"))
		if err != nil || b.Claim.Status != store.ClaimPending {
			t.Fatal(b, err)
		}
		if r := e.incoming(t, "8001", "70", true); r.Claim == nil || r.Claim.ID != b.Claim.ID || r.Claim.Status != store.ClaimCredited {
			t.Fatalf("final: %+v", r)
		}
		if b1, b2 := e.balance(t, 1), e.balance(t, 2); b1 != 0 || b2 != 7000 {
			t.Errorf("balances %d %d", b1, b2)
		}
		e.verify(t)
	})
}
