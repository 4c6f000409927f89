package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
)

type fixture struct {
	t   *testing.T
	st  store.Store
	eng *ledger.Engine
	now *atomic.Int64 // engine clock, Unix micros
}

func newFixture(t *testing.T, st store.Store) *fixture {
	f := &fixture{t: t, st: st, now: &atomic.Int64{}}
	f.now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro())
	f.eng = ledger.New(st, ledger.Options{
		ExpiryInterval: -1,
		Now:            func() time.Time { return time.UnixMicro(f.now.Load()).UTC() },
	})
	t.Cleanup(func() {
		f.eng.Close(context.Background())
	})
	return f
}

// verify fails the test if any ledger invariant is broken.
func (f *fixture) verify() {
	f.t.Helper()
	rep, err := ledger.Verify(context.Background(), f.st)
	if err != nil {
		f.t.Fatalf("verify: %v", err)
	}
	if !rep.OK() {
		f.t.Fatalf("verify found problems: %v", rep.Problems)
	}
}

func (f *fixture) account(asset string, normal store.Side, unlimited bool) int64 {
	f.t.Helper()
	a, _, err := f.eng.CreateAccount(context.Background(), 1, ledger.AccountRequest{Asset: asset, Normal: normal, Unlimited: unlimited})
	if err != nil {
		f.t.Fatalf("create account: %v", err)
	}
	return a.ID
}

// one submits a single request and returns its result.
func (f *fixture) one(r ledger.TransferRequest) ledger.Result {
	f.t.Helper()
	res, err := f.eng.Transfer(context.Background(), 1, []ledger.TransferRequest{r})
	if err != nil {
		f.t.Fatalf("transfer: %v", err)
	}
	return res[0]
}

func (f *fixture) balance(id int64) store.Account {
	f.t.Helper()
	a, err := f.st.Account(context.Background(), id)
	if err != nil {
		f.t.Fatalf("account %d: %v", id, err)
	}
	return a
}

// funded returns a mint (unlimited, debit-normal) and a wallet holding amount.
func (f *fixture) funded(amount int64) (mint, wallet int64) {
	f.t.Helper()
	mint = f.account("USD", store.Debit, true)
	wallet = f.account("USD", store.Credit, false)
	if amount > 0 {
		if r := f.one(ledger.TransferRequest{Key: fmt.Sprintf("fund-%d", wallet), DebitAccountID: mint, CreditAccountID: wallet, Amount: amount}); r.Err != nil {
			f.t.Fatalf("fund: %v", r.Err)
		}
	}
	return mint, wallet
}

func errCode(r ledger.Result) string {
	if r.Err == nil {
		return ""
	}
	return r.Err.Code
}

func TestEngine(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		t.Run("overdraft refused", func(t *testing.T) {
			f := newFixture(t, st)
			mint, w := f.funded(1000)
			shop := f.account("USD", store.Credit, false)
			tests := []struct {
				name   string
				amount int64
				want   string
			}{
				{"within balance", 600, ""},
				{"past balance", 401, "insufficient_funds"},
				{"exactly the rest", 400, ""},
				{"empty wallet", 1, "insufficient_funds"},
			}
			for i, tc := range tests {
				r := f.one(ledger.TransferRequest{Key: fmt.Sprintf("od-%d-%d", w, i), DebitAccountID: w, CreditAccountID: shop, Amount: tc.amount})
				if got := errCode(r); got != tc.want {
					t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
				}
			}
			if got := f.balance(w); got.CreditsPosted-got.DebitsPosted != 0 {
				t.Errorf("wallet balance %d, want 0", got.CreditsPosted-got.DebitsPosted)
			}
			_ = mint
			f.verify()
		})

		t.Run("overdraft limit", func(t *testing.T) {
			f := newFixture(t, st)
			w, _, err := f.eng.CreateAccount(context.Background(), 1, ledger.AccountRequest{Asset: "USD", OverdraftLimit: 500})
			if err != nil {
				t.Fatal(err)
			}
			shop := f.account("USD", store.Credit, false)
			if r := f.one(ledger.TransferRequest{Key: "ol-1", DebitAccountID: w.ID, CreditAccountID: shop, Amount: 500}); r.Err != nil {
				t.Fatalf("within limit: %v", r.Err)
			}
			if r := f.one(ledger.TransferRequest{Key: "ol-2", DebitAccountID: w.ID, CreditAccountID: shop, Amount: 1}); errCode(r) != "insufficient_funds" {
				t.Fatalf("past limit: got %v", r.Err)
			}
			f.verify()
		})

		t.Run("validation", func(t *testing.T) {
			f := newFixture(t, st)
			mint, w := f.funded(100)
			jpy := f.account("JPY", store.Credit, false)
			tests := []struct {
				name string
				req  ledger.TransferRequest
				want string
			}{
				{"no key", ledger.TransferRequest{DebitAccountID: mint, CreditAccountID: w, Amount: 1}, "invalid_request"},
				{"zero amount", ledger.TransferRequest{Key: "v1", DebitAccountID: mint, CreditAccountID: w}, "invalid_amount"},
				{"negative amount", ledger.TransferRequest{Key: "v2", DebitAccountID: mint, CreditAccountID: w, Amount: -5}, "invalid_amount"},
				{"same account", ledger.TransferRequest{Key: "v3", DebitAccountID: w, CreditAccountID: w, Amount: 1}, "same_account"},
				{"unknown account", ledger.TransferRequest{Key: "v4", DebitAccountID: mint, CreditAccountID: 999999, Amount: 1}, "account_not_found"},
				{"asset mismatch", ledger.TransferRequest{Key: "v5", DebitAccountID: mint, CreditAccountID: jpy, Amount: 1}, "asset_mismatch"},
				{"wrong asset named", ledger.TransferRequest{Key: "v6", Asset: "EUR", DebitAccountID: mint, CreditAccountID: w, Amount: 1}, "asset_mismatch"},
				{"bad metadata", ledger.TransferRequest{Key: "v7", DebitAccountID: mint, CreditAccountID: w, Amount: 1, Metadata: []byte(`[1]`)}, "invalid_request"},
				{"timeout without pending", ledger.TransferRequest{Key: "v8", DebitAccountID: mint, CreditAccountID: w, Amount: 1, Timeout: time.Second}, "invalid_request"},
				{"post and void", ledger.TransferRequest{Key: "v9", PostPendingID: 1, VoidPendingID: 1}, "invalid_request"},
				{"unknown pending", ledger.TransferRequest{Key: "v10", PostPendingID: 424242}, "pending_not_found"},
				{"post of a single transfer", ledger.TransferRequest{Key: "v11", PostPendingID: 1}, "pending_not_found"},
			}
			for _, tc := range tests {
				if got := errCode(f.one(tc.req)); got != tc.want {
					t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
				}
			}
			f.verify()
		})

		t.Run("idempotency", func(t *testing.T) {
			f := newFixture(t, st)
			mint, w := f.funded(0)
			req := ledger.TransferRequest{Key: "idem-1", DebitAccountID: mint, CreditAccountID: w, Amount: 250, Metadata: []byte(`{"a": 1, "b": "x"}`)}
			first := f.one(req)
			if first.Err != nil || first.Replayed {
				t.Fatalf("first: %+v", first)
			}
			again := f.one(req)
			if again.Err != nil || !again.Replayed || again.Transfer.ID != first.Transfer.ID {
				t.Fatalf("replay: %+v, want transfer %d replayed", again, first.Transfer.ID)
			}
			if got := f.balance(w).CreditsPosted; got != 250 {
				t.Errorf("credited %d, want 250 (once)", got)
			}
			for _, tc := range []struct {
				field string
				mod   func(r *ledger.TransferRequest)
			}{
				{"amount", func(r *ledger.TransferRequest) { r.Amount = 251 }},
				{"credit_account_id", func(r *ledger.TransferRequest) { r.CreditAccountID = mint + 1000 }},
				{"metadata", func(r *ledger.TransferRequest) { r.Metadata = []byte(`{"a":2}`) }},
				{"pending", func(r *ledger.TransferRequest) { r.Pending = true }},
			} {
				r := req
				tc.mod(&r)
				got := f.one(r)
				if errCode(got) != "idempotency_conflict" || got.Err.Field != tc.field {
					t.Errorf("changed %s: got %+v, want idempotency_conflict naming %s", tc.field, got.Err, tc.field)
				}
			}
			// Metadata with other spacing and key order is the same request.
			r := req
			r.Metadata = []byte(`{"b":"x","a":1}`)
			if got := f.one(r); got.Err != nil || !got.Replayed {
				t.Errorf("reordered metadata: %+v", got)
			}

			// A failure stays a failure, even once funds arrive.
			shop := f.account("USD", store.Credit, false)
			big := ledger.TransferRequest{Key: "idem-2", DebitAccountID: w, CreditAccountID: shop, Amount: 1000}
			if got := f.one(big); errCode(got) != "insufficient_funds" || got.Replayed {
				t.Fatalf("first big: %+v", got)
			}
			f.one(ledger.TransferRequest{Key: "idem-topup", DebitAccountID: mint, CreditAccountID: w, Amount: 5000})
			if got := f.one(big); errCode(got) != "insufficient_funds" || !got.Replayed {
				t.Fatalf("retried big: %+v, want the original insufficient_funds, replayed", got)
			}
			big.Amount = 999
			if got := f.one(big); errCode(got) != "idempotency_conflict" || got.Err.Field != "amount" {
				t.Fatalf("failed key with new body: %+v", got.Err)
			}
			rec, err := st.KeyRecord(context.Background(), store.MerchantKey{MerchantID: 1, Key: "idem-2"})
			if err != nil || rec.Code != "insufficient_funds" {
				t.Fatalf("key record: %+v %v", rec, err)
			}
			f.verify()
		})

		t.Run("same key twice in one call", func(t *testing.T) {
			f := newFixture(t, st)
			mint, w := f.funded(0)
			r := ledger.TransferRequest{Key: "dup", DebitAccountID: mint, CreditAccountID: w, Amount: 7}
			res, err := f.eng.Transfer(context.Background(), 1, []ledger.TransferRequest{r, r})
			if err != nil {
				t.Fatal(err)
			}
			if res[0].Err != nil || res[1].Err != nil || !res[1].Replayed || res[0].Transfer.ID != res[1].Transfer.ID {
				t.Fatalf("got %+v", res)
			}
			if got := f.balance(w).CreditsPosted; got != 7 {
				t.Errorf("credited %d, want 7", got)
			}
			f.verify()
		})

		t.Run("linked all or nothing", func(t *testing.T) {
			f := newFixture(t, st)
			mint, w := f.funded(100)
			fee := f.account("USD", store.Credit, false)
			shop := f.account("USD", store.Credit, false)
			chain := []ledger.TransferRequest{
				{Key: "l1", DebitAccountID: w, CreditAccountID: shop, Amount: 90, Linked: true},
				{Key: "l2", DebitAccountID: w, CreditAccountID: fee, Amount: 20}, // 90+20 > 100
			}
			res, err := f.eng.Transfer(context.Background(), 1, chain)
			if err != nil {
				t.Fatal(err)
			}
			if errCode(res[0]) != "linked_transfer_failed" || errCode(res[1]) != "insufficient_funds" {
				t.Fatalf("got %v / %v", res[0].Err, res[1].Err)
			}
			if a := f.balance(shop); a.CreditsPosted != 0 {
				t.Errorf("shop credited %d by a failed chain", a.CreditsPosted)
			}
			chain[1].Key, chain[0].Key = "l4", "l3"
			chain[1].Amount = 10
			res, _ = f.eng.Transfer(context.Background(), 1, chain)
			if res[0].Err != nil || res[1].Err != nil {
				t.Fatalf("good chain: %v / %v", res[0].Err, res[1].Err)
			}
			// An independent transfer after a failing chain in the same call still applies.
			res, _ = f.eng.Transfer(context.Background(), 1, []ledger.TransferRequest{
				{Key: "l5", DebitAccountID: w, CreditAccountID: shop, Amount: 50, Linked: true},
				{Key: "l6", DebitAccountID: w, CreditAccountID: shop, Amount: 1},
				{Key: "l7", DebitAccountID: mint, CreditAccountID: w, Amount: 3},
			})
			if errCode(res[0]) != "insufficient_funds" || errCode(res[1]) != "linked_transfer_failed" || res[2].Err != nil {
				t.Fatalf("mixed: %v %v %v", res[0].Err, res[1].Err, res[2].Err)
			}
			if _, err := f.eng.Transfer(context.Background(), 1, []ledger.TransferRequest{{Key: "open", DebitAccountID: mint, CreditAccountID: w, Amount: 1, Linked: true}}); err == nil {
				t.Errorf("open chain accepted")
			}
			f.verify()
		})

		t.Run("pending post void timeout", func(t *testing.T) {
			f := newFixture(t, st)
			_, w := f.funded(1000)
			shop := f.account("USD", store.Credit, false)
			hold := f.one(ledger.TransferRequest{Key: "p1", DebitAccountID: w, CreditAccountID: shop, Amount: 600, Pending: true})
			if hold.Err != nil || hold.Transfer.State != store.StatePending {
				t.Fatalf("hold: %+v", hold)
			}
			// The hold reserves funds at once.
			if r := f.one(ledger.TransferRequest{Key: "p2", DebitAccountID: w, CreditAccountID: shop, Amount: 401}); errCode(r) != "insufficient_funds" {
				t.Fatalf("spend past hold: %v", r.Err)
			}
			if r := f.one(ledger.TransferRequest{Key: "p3", PostPendingID: hold.Transfer.ID, Amount: 601}); errCode(r) != "post_exceeds_pending" {
				t.Fatalf("post more than held: %v", r.Err)
			}
			post := f.one(ledger.TransferRequest{Key: "p4", PostPendingID: hold.Transfer.ID, Amount: 250})
			if post.Err != nil || post.Transfer.Amount != 250 {
				t.Fatalf("partial post: %+v", post)
			}
			a := f.balance(w)
			if a.DebitsPending != 0 || a.DebitsPosted != 250 {
				t.Errorf("after partial post: pending %d posted %d", a.DebitsPending, a.DebitsPosted)
			}
			if r := f.one(ledger.TransferRequest{Key: "p5", PostPendingID: hold.Transfer.ID}); errCode(r) != "pending_already_posted" {
				t.Errorf("post twice: %v", r.Err)
			}
			if r := f.one(ledger.TransferRequest{Key: "p6", VoidPendingID: hold.Transfer.ID}); errCode(r) != "pending_already_posted" {
				t.Errorf("void after post: %v", r.Err)
			}

			h2 := f.one(ledger.TransferRequest{Key: "p7", DebitAccountID: w, CreditAccountID: shop, Amount: 100, Pending: true})
			if r := f.one(ledger.TransferRequest{Key: "p8", VoidPendingID: h2.Transfer.ID}); r.Err != nil {
				t.Fatalf("void: %v", r.Err)
			}
			if r := f.one(ledger.TransferRequest{Key: "p9", VoidPendingID: h2.Transfer.ID}); errCode(r) != "pending_already_voided" {
				t.Errorf("void twice: %v", r.Err)
			}
			if r := f.one(ledger.TransferRequest{Key: "p10", PostPendingID: h2.Transfer.ID}); errCode(r) != "pending_already_voided" {
				t.Errorf("post after void: %v", r.Err)
			}

			h3 := f.one(ledger.TransferRequest{Key: "p11", DebitAccountID: w, CreditAccountID: shop, Amount: 100, Pending: true, Timeout: time.Minute})
			f.now.Add(int64(2 * time.Minute / time.Microsecond))
			if r := f.one(ledger.TransferRequest{Key: "p12", PostPendingID: h3.Transfer.ID}); errCode(r) != "pending_expired" {
				t.Errorf("post after timeout: %v", r.Err)
			}
			h4 := f.one(ledger.TransferRequest{Key: "p13", DebitAccountID: w, CreditAccountID: shop, Amount: 100, Pending: true, Timeout: time.Minute})
			f.now.Add(int64(2 * time.Minute / time.Microsecond))
			if err := f.eng.ExpireDue(context.Background()); err != nil {
				t.Fatal(err)
			}
			got, _ := st.Transfer(context.Background(), h4.Transfer.ID)
			if got.State != store.StateExpired {
				t.Errorf("swept hold state %q, want expired", got.State)
			}
			a = f.balance(w)
			if a.DebitsPending != 0 || a.CreditsPosted-a.DebitsPosted != 750 {
				t.Errorf("final: pending %d balance %d, want 0 and 750", a.DebitsPending, a.CreditsPosted-a.DebitsPosted)
			}
			f.verify()
		})

		t.Run("concurrent withdrawals", func(t *testing.T) {
			f := newFixture(t, st)
			const n, k = 200, 50
			_, w := f.funded(k * 10)
			shop := f.account("USD", store.Credit, false)
			var ok, refused atomic.Int64
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := f.eng.Transfer(context.Background(), 1, []ledger.TransferRequest{{Key: fmt.Sprintf("cw-%d", i), DebitAccountID: w, CreditAccountID: shop, Amount: 10}})
					switch {
					case err != nil:
						t.Errorf("transfer: %v", err)
					case res[0].Err == nil:
						ok.Add(1)
					case errors.Is(res[0].Err, ledger.ErrInsufficientFunds):
						refused.Add(1)
					default:
						t.Errorf("unexpected: %v", res[0].Err)
					}
				}()
			}
			wg.Wait()
			if ok.Load() != k || refused.Load() != n-k {
				t.Errorf("%d succeeded, %d refused; want %d and %d", ok.Load(), refused.Load(), k, n-k)
			}
			if a := f.balance(w); a.CreditsPosted-a.DebitsPosted != 0 {
				t.Errorf("balance %d, want 0", a.CreditsPosted-a.DebitsPosted)
			}
			f.verify()
		})

		t.Run("account idempotency", func(t *testing.T) {
			f := newFixture(t, st)
			ctx := context.Background()
			req := ledger.AccountRequest{Key: "acct-1", Asset: "EUR", Name: "wallet"}
			a, rep, err := f.eng.CreateAccount(ctx, 1, req)
			if err != nil || rep {
				t.Fatalf("create: %v %v", err, rep)
			}
			b, rep, err := f.eng.CreateAccount(ctx, 1, req)
			if err != nil || !rep || b.ID != a.ID {
				t.Fatalf("replay: %+v %v %v", b, rep, err)
			}
			req.Name = "other"
			_, _, err = f.eng.CreateAccount(ctx, 1, req)
			if le := ledger.AsError(err); le.Code != "idempotency_conflict" || le.Field != "name" {
				t.Fatalf("conflict: %v", err)
			}
			if _, _, err := f.eng.CreateAccount(ctx, 1, ledger.AccountRequest{Asset: "NOPE"}); ledger.AsError(err).Code != "asset_not_found" {
				t.Fatalf("unknown asset: %v", err)
			}
			if _, err := f.eng.DefineAsset(ctx, "PTS", 0); err != nil {
				t.Fatal(err)
			}
			if _, err := f.eng.DefineAsset(ctx, "PTS", 2); ledger.AsError(err).Code != "asset_conflict" {
				t.Fatalf("redefine: %v", err)
			}
			if _, err := f.eng.DefineAsset(ctx, "JPY", 2); ledger.AsError(err).Code != "asset_conflict" {
				t.Fatalf("JPY at 2: %v", err)
			}
		})

		t.Run("cross merchant", func(t *testing.T) {
			f := newFixture(t, st)
			ctx := context.Background()
			m2, err := st.CreateMerchant(ctx, "second")
			if err != nil {
				t.Fatal(err)
			}
			mint, w := f.funded(100)
			res, err := f.eng.Transfer(ctx, m2.ID, []ledger.TransferRequest{{Key: "x", DebitAccountID: mint, CreditAccountID: w, Amount: 1}})
			if err != nil || errCode(res[0]) != "account_not_found" {
				t.Fatalf("other merchant's accounts: %v %v", err, res[0].Err)
			}
			// Keys are per merchant: merchant 2 may use a key merchant 1 used.
			res, _ = f.eng.Transfer(ctx, 1, []ledger.TransferRequest{{Key: "x", DebitAccountID: mint, CreditAccountID: w, Amount: 1}})
			if res[0].Err != nil || res[0].Replayed {
				t.Fatalf("merchant 1 key x: %+v", res[0])
			}
		})
	})
}
