package order_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/notify"
	"github.com/coffer-pay/coffer/internal/order"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
	"github.com/coffer-pay/coffer/internal/wallet"
)

type env struct {
	st  store.Store
	eng *ledger.Engine
	w   *wallet.Service
	o   *order.Service
}

func newEnv(t *testing.T, st store.Store) *env {
	eng := ledger.New(st, ledger.Options{ExpiryInterval: -1})
	t.Cleanup(func() { eng.Close(context.Background()) })
	w := wallet.New(eng, wallet.Options{})
	return &env{st: st, eng: eng, w: w, o: order.New(eng, w, order.Options{})}
}

func (e *env) verify(t *testing.T) {
	t.Helper()
	rep, err := ledger.Verify(context.Background(), e.st)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep.Problems)
	}
}

func (e *env) events(t *testing.T, typ string) []store.Event {
	t.Helper()
	evs, err := e.st.Events(context.Background(), 1, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Event
	for _, ev := range evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

func (e *env) revenue(t *testing.T, cur string) int64 {
	t.Helper()
	id, err := e.w.SystemAccount(context.Background(), 1, cur, store.RoleRevenue)
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.st.Account(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a.CreditsPosted - a.DebitsPosted
}

func TestCreateAndIdempotency(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		p := order.CreateParams{MerchantID: 1, MerchantOrderID: "ord-1", Source: "test", PriceAmount: "12.50",
			PriceCurrency: "USD", Title: "T", CallbackURL: "https://shop.example/cb", Token: "tok"}
		o, err := e.o.Create(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if o.PriceAmount != 1250 || o.AmountDue != 1250 || o.Status != store.OrderNew || o.PayCurrency != "USD" || len(o.PublicID) != 36 || o.PublicID[14] != '4' {
			t.Fatalf("order %+v", o)
		}
		again, err := e.o.Create(ctx, p)
		if !errors.Is(err, order.ErrMerchantOrderID) || again.ID != o.ID || again.PublicID != o.PublicID {
			t.Fatalf("duplicate: %v %+v", err, again)
		}
		got, err := e.o.ByPublicID(ctx, 1, o.PublicID)
		if err != nil || got.ID != o.ID || !got.CreatedAt.Equal(o.CreatedAt) || got.Token != "tok" {
			t.Fatalf("by public id: %v %+v", err, got)
		}
		if _, err := e.o.ByPublicID(ctx, 2, o.PublicID); !errors.Is(err, order.ErrNotFound) {
			t.Fatalf("other merchant: %v", err)
		}
		for _, bad := range []order.CreateParams{
			{MerchantID: 1, PriceAmount: "0", PriceCurrency: "USD"},
			{MerchantID: 1, PriceAmount: "1.001", PriceCurrency: "USD"},
			{MerchantID: 1, PriceAmount: "1", PriceCurrency: "XXX1"},
			{MerchantID: 1, PriceAmount: "1", PriceCurrency: "USD", PayCurrency: "EUR"},
			{MerchantID: 1, PriceAmount: "1", PriceCurrency: "USD", Title: strings.Repeat("é", 201)},
			{MerchantID: 1, PriceAmount: "1", PriceCurrency: "USD", Description: strings.Repeat("x", 801)},
		} {
			if _, err := e.o.Create(ctx, bad); err == nil {
				t.Errorf("%+v: no error", bad)
			}
		}
		if _, err := e.o.Create(ctx, order.CreateParams{MerchantID: 1, PriceAmount: "1", PriceCurrency: "USD", Title: strings.Repeat("é", 200)}); err != nil {
			t.Errorf("200 characters: %v", err)
		}
	})
}

func TestStateMachine(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		o, err := e.o.Create(ctx, order.CreateParams{MerchantID: 1, MerchantOrderID: "a", PriceAmount: "10", PriceCurrency: "EUR",
			CallbackURL: "https://shop.example/cb", Token: "secret"})
		if err != nil {
			t.Fatal(err)
		}
		pay := func(amount, ref string, strict bool) (order.Payment, error) {
			return e.o.Pay(ctx, order.PayParams{MerchantID: 1, OrderID: o.ID, Amount: amount, Ref: ref, Strict: strict})
		}
		r, err := pay("4", "p1", true)
		if err != nil || r.Order.Status != store.OrderPending || r.Order.AmountPaid != 400 || r.Order.AmountDue != 600 {
			t.Fatalf("partial: %v %+v", err, r.Order)
		}
		if r, err := pay("4", "p1", true); err != nil || !r.Replayed || r.Order.AmountPaid != 400 {
			t.Fatalf("replay: %v %+v", err, r)
		}
		if _, err := pay("6.01", "p2", true); !errors.Is(err, order.ErrAmountTooBig) {
			t.Fatalf("too big: %v", err)
		}
		// Money that arrived anyway: counted up to the due, the rest overpaid.
		r, err = pay("7", "p3", false)
		if err != nil || r.Order.Status != store.OrderPaid || r.Order.AmountDue != 0 || r.Order.AmountPaid != 1000 || r.Order.Overpaid != 100 || r.Order.PaidAt == nil {
			t.Fatalf("complete: %v %+v", err, r.Order)
		}
		if _, err := pay("1", "p4", true); !errors.Is(err, order.ErrAlreadyPaid) {
			t.Fatalf("after paid: %v", err)
		}
		if r, err := pay("1", "p5", false); err != nil || r.Order.Overpaid != 200 || r.Order.Status != store.OrderPaid {
			t.Fatalf("late money: %v %+v", err, r.Order)
		}
		if _, err := e.o.Cancel(ctx, 1, o.ID); !errors.Is(err, order.ErrAlreadyPaid) {
			t.Fatalf("cancel paid: %v", err)
		}
		if got := e.revenue(t, "EUR"); got != 1200 {
			t.Fatalf("revenue %d", got)
		}
		paid := e.events(t, "order.paid")
		if len(paid) != 1 {
			t.Fatalf("%d paid events", len(paid))
		}
		// Partial then full refund.
		if x, err := e.o.Refund(ctx, 1, o.ID, "3", "r1"); err != nil || x.Status != store.OrderPaid || x.Refunded != 300 {
			t.Fatalf("partial refund: %v %+v", err, x)
		}
		if x, err := e.o.Refund(ctx, 1, o.ID, "", ""); err != nil || x.Status != store.OrderRefunded || x.Refunded != 1000 {
			t.Fatalf("refund: %v %+v", err, x)
		}
		if _, err := e.o.Refund(ctx, 1, o.ID, "", ""); !errors.Is(err, order.ErrNotRefundable) {
			t.Fatalf("refund twice: %v", err)
		}
		if got := e.revenue(t, "EUR"); got != 200 {
			t.Fatalf("revenue after refund %d", got)
		}

		// Cancel, and an expired order.
		c, _ := e.o.Create(ctx, order.CreateParams{MerchantID: 1, PriceAmount: "1", PriceCurrency: "EUR"})
		if x, err := e.o.Cancel(ctx, 1, c.ID); err != nil || x.Status != store.OrderCancelled {
			t.Fatalf("cancel: %v %+v", err, x)
		}
		if _, err := e.o.Cancel(ctx, 1, c.ID); !errors.Is(err, order.ErrCancelled) {
			t.Fatalf("cancel twice: %v", err)
		}
		x, _ := e.o.Create(ctx, order.CreateParams{MerchantID: 1, PriceAmount: "1", PriceCurrency: "EUR", TTL: time.Millisecond})
		time.Sleep(5 * time.Millisecond)
		if _, err := e.o.Pay(ctx, order.PayParams{MerchantID: 1, OrderID: x.ID, Amount: "1", Strict: true}); !errors.Is(err, order.ErrExpired) {
			t.Fatalf("pay expired: %v", err)
		}
		if g, _ := e.o.Get(ctx, 1, x.ID); g.Status != store.OrderExpired {
			t.Fatalf("get expired: %s", g.Status)
		}
		if r, err := e.o.Pay(ctx, order.PayParams{MerchantID: 1, OrderID: x.ID, Amount: "1"}); err != nil || r.Order.Status != store.OrderExpired || r.Order.Overpaid != 100 || r.Order.AmountPaid != 0 {
			t.Fatalf("late transfer: %v %+v", err, r.Order)
		}
		e.verify(t)
	})
}

func TestCurrentOrder(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		if _, err := e.w.CreateCustomer(ctx, 1, wallet.CustomerParams{ID: 7, Currency: "EUR"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.o.Pay(ctx, order.PayParams{MerchantID: 1, CustomerID: 7, Amount: "1", Strict: true}); !errors.Is(err, order.ErrNoCurrentOrder) {
			t.Fatalf("no order: %v", err)
		}
		var ids []int64
		for i := 0; i < 3; i++ {
			o, err := e.o.Create(ctx, order.CreateParams{MerchantID: 1, CustomerID: 7, PriceAmount: "2", PriceCurrency: "EUR"})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, o.ID)
		}
		if _, err := e.o.Cancel(ctx, 1, ids[0]); err != nil {
			t.Fatal(err)
		}
		// The oldest open order is the second; paying it in full moves on to the third.
		for i, want := range []int64{ids[1], ids[1], ids[2]} {
			r, err := e.o.Pay(ctx, order.PayParams{MerchantID: 1, CustomerID: 7, Amount: "1", Strict: true})
			if err != nil || r.Order.ID != want {
				t.Fatalf("payment %d: %v got order %d, want %d", i, err, r.Order.ID, want)
			}
		}
	})
}

func TestConcurrentPartialPayments(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		o, err := e.o.Create(ctx, order.CreateParams{MerchantID: 1, PriceAmount: "30", PriceCurrency: "EUR", CallbackURL: "https://shop.example/cb"})
		if err != nil {
			t.Fatal(err)
		}
		var ok, refused int
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := 0; i < 100; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.o.Pay(ctx, order.PayParams{MerchantID: 1, OrderID: o.ID, Amount: "1", Ref: fmt.Sprint(i), Strict: true})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, order.ErrAmountTooBig), errors.Is(err, order.ErrAlreadyPaid):
					refused++
				default:
					t.Errorf("payment %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
		if ok != 30 || refused != 70 {
			t.Fatalf("%d succeeded, %d refused; want 30 and 70", ok, refused)
		}
		got, err := e.o.Get(ctx, 1, o.ID)
		if err != nil || got.Status != store.OrderPaid || got.AmountPaid != 3000 || got.AmountDue != 0 || got.Overpaid != 0 {
			t.Fatalf("order %v %+v", err, got)
		}
		if r := e.revenue(t, "EUR"); r != 3000 {
			t.Fatalf("revenue %d", r)
		}
		if n := len(e.events(t, "order.paid")); n != 1 {
			t.Fatalf("%d paid events", n)
		}
		e.verify(t)
	})
}

func TestMugglePayCallbackData(t *testing.T) {
	at := time.Date(2019, 4, 24, 17, 23, 54, 311000000, time.UTC)
	o := store.Order{PublicID: "94be2b2a-0000-4000-8000-000000000000", MerchantOrderID: "m-1", Status: store.OrderPaid,
		PriceAmount: 14, AmountPaid: 14, PriceCurrency: "USD", PayCurrency: "USD", CreatedAt: at, Token: "tok"}
	req, err := notify.MugglePay{}.Encode(context.Background(), notify.Message{Delivery: store.Delivery{Data: order.MugglePayCallback(o)}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"merchant_order_id":"m-1","order_id":"94be2b2a-0000-4000-8000-000000000000","status":"PAID","price_amount":0.14,"price_currency":"USD","pay_amount":0.14,"pay_currency":"USD","created_at":"2019-04-24T17:23:54.311Z","created_at_t":1556126634311,"token":"tok"}`
	if string(req.Body) != want {
		t.Fatalf("body\n%s\nwant\n%s", req.Body, want)
	}
}

// TestPaidCallbackTarget: the change to PAID queues a MugglePay callback to
// the order's callback_url with its token; no other change does.
func TestPaidCallbackTarget(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		o, err := e.o.Create(ctx, order.CreateParams{MerchantID: 1, MerchantOrderID: "cb-1", PriceAmount: "2.50", PriceCurrency: "USD",
			CallbackURL: "https://shop.example/cb", Token: "merchant-token"})
		if err != nil {
			t.Fatal(err)
		}
		for i, amount := range []string{"1", "1.5"} {
			if _, err := e.o.Pay(ctx, order.PayParams{MerchantID: 1, OrderID: o.ID, Amount: amount, Ref: fmt.Sprint(i), Strict: true}); err != nil {
				t.Fatal(err)
			}
		}
		var targets []store.Target
		var types []string
		if _, err := st.FanOut(ctx, time.Now(), 100, func(ev store.Event, ts []store.Target, _ []store.WebhookEndpoint) []store.Delivery {
			types = append(types, ev.Type)
			targets = append(targets, ts...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(targets) != 1 || targets[0].Format != store.FormatMugglePay || targets[0].URL != "https://shop.example/cb" {
			t.Fatalf("targets %+v (events %v)", targets, types)
		}
		req, err := notify.MugglePay{}.Encode(ctx, notify.Message{Delivery: store.Delivery{Data: targets[0].Data}})
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`"merchant_order_id":"cb-1"`, `"status":"PAID"`, `"price_amount":2.50`, `"token":"merchant-token"`, `"order_id":"` + o.PublicID + `"`} {
			if !strings.Contains(string(req.Body), want) {
				t.Errorf("callback %s lacks %s", req.Body, want)
			}
		}
	})
}
