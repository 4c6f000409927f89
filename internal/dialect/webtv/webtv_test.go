package webtv_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/internal/config"
	"github.com/coffer-pay/coffer/internal/dialect/webtv"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/order"
	"github.com/coffer-pay/coffer/internal/seal"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// The seed's credentials.
const (
	keyID  = "1b323a1cb879fd4e66530fbad07a32ee"
	secret = "MWIzMjNhMWNiODc5ZmQ0ZTY2NTMwZmJhZDA3YTMyZWViOTQ3MDJiOGM2ZTU2NjE3"
)

// TestVector is WIRE-NOTES §3.2's test vector for both signature modes.
func TestVector(t *testing.T) {
	salt, ts := "827ccb0eea8a706c4c34a16891f84e7b", "1700000000"
	if got := webtv.Sign("hmac", secret, salt, ts); got != "N9K1JeTexEpwFZgYyQnzDU9pQDU4F9lRkXr1OnnRAp0=" {
		t.Errorf("hmac: %s", got)
	}
	if got := webtv.Sign("md5", secret, salt, ts); got != "a72d4046bc71c508e04b96d42e409d8c" {
		t.Errorf("md5: %s", got)
	}
	if !webtv.Verify("md5", secret, salt, ts, "A72D4046BC71C508E04B96D42E409D8C") || webtv.Verify("hmac", secret, salt, ts, "x") {
		t.Error("verify")
	}
}

type env struct {
	srv *httptest.Server
	ms  *merchant.Service
	o   *order.Service
	mid int64
	n   int
	mu  sync.Mutex
}

func newEnv(t *testing.T, st store.Store) *env {
	ctx := context.Background()
	eng := ledger.New(st, ledger.Options{ExpiryInterval: -1})
	t.Cleanup(func() { eng.Close(ctx) })
	sealer, err := seal.New(seal.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	ms := merchant.New(st, sealer, merchant.Options{})
	ws := wallet.New(eng, wallet.Options{})
	os := order.New(eng, ws, order.Options{})
	created, err := ms.Create(ctx, merchant.CreateParams{Name: "tv", Username: "tv"})
	if err != nil {
		t.Fatal(err)
	}
	mid := created.Merchant.ID
	if _, err := ms.SetKey(ctx, mid, merchant.WebTV, keyID, config.Secret(secret), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := ms.SetOpen(ctx, mid, merchant.WebTV, true); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.CreateCustomer(ctx, mid, wallet.CustomerParams{ID: 2, Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(webtv.NewHandler(webtv.Deps{Merchants: ms, Orders: os}))
	t.Cleanup(srv.Close)
	return &env{srv: srv, ms: ms, o: os, mid: mid}
}

// call sends the seed's request: GET vars in the query, POST vars as
// multipart/form-data (what PHP's curl does with an array).
func (e *env) call(t *testing.T, q url.Values, post map[string]string) map[string]string {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range post {
		mw.WriteField(k, v)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", e.srv.URL+"/api.php?"+q.Encode(), &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil || resp.StatusCode != 200 {
		t.Errorf("answer %d %q", resp.StatusCode, b)
	}
	return m
}

func (e *env) signed(mode string, iq string, at time.Time) url.Values {
	e.mu.Lock()
	e.n++
	salt := fmt.Sprintf("%032x", e.n)
	e.mu.Unlock()
	ts := strconv.FormatInt(at.Unix(), 10)
	return url.Values{"go": {"store"}, "do": {"add_payment"}, "iq": {iq}, "timestamp": {ts}, "salt": {salt},
		"key": {keyID}, "signature": {webtv.Sign(mode, secret, salt, ts)}}
}

func TestAddPayment(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		now := time.Now()
		seedPost := map[string]string{"amount": "4.5", "description": "Payment trough SuperGateway, ID: 154YTR984YX"}
		if m := e.call(t, e.signed("hmac", "2", now), seedPost); m["error"] != "ERROR_NO_ORDER" || m["error_long"] != "User does not have any current order" {
			t.Fatalf("no order: %v", m)
		}
		o, err := e.o.Create(ctx, order.CreateParams{MerchantID: e.mid, CustomerID: 2, PriceAmount: "10", PriceCurrency: "EUR"})
		if err != nil {
			t.Fatal(err)
		}
		q := e.signed("hmac", "2", now)
		if m := e.call(t, q, seedPost); m["ok"] != "Payment was added" {
			t.Fatalf("seed request: %v", m)
		}
		if m := e.call(t, q, seedPost); m["error_long"] != "Request already received" {
			t.Fatalf("replay: %v", m)
		}
		if m := e.call(t, e.signed("hmac", "2", now), map[string]string{"amount": "5.51"}); m["error"] != "ERROR_AMOUNT_TOO_BIG" || m["error_long"] != "Amount can't be higher than order amount due" {
			t.Fatalf("too big: %v", m)
		}
		got, _ := e.o.Get(ctx, e.mid, o.ID)
		if got.AmountPaid != 450 || got.AmountDue != 550 || got.Status != store.OrderPending {
			t.Fatalf("order %+v", got)
		}
		cases := []struct {
			name string
			q    func() url.Values
			post map[string]string
			want string
		}{
			{"no signature", func() url.Values { q := e.signed("hmac", "2", now); q.Del("signature"); return q }, seedPost, "Missing signature"},
			{"no key", func() url.Values { q := e.signed("hmac", "2", now); q.Del("key"); return q }, seedPost, "Missing key"},
			{"no salt", func() url.Values { q := e.signed("hmac", "2", now); q.Del("salt"); return q }, seedPost, "Missing salt"},
			{"no timestamp", func() url.Values { q := e.signed("hmac", "2", now); q.Del("timestamp"); return q }, seedPost, "Missing timestamp"},
			{"unknown key", func() url.Values { q := e.signed("hmac", "2", now); q.Set("key", "nope"); return q }, seedPost, "Invalid key"},
			{"bad signature", func() url.Values { q := e.signed("md5", "2", now); return q }, seedPost, "Invalid signature"},
			{"old", func() url.Values { return e.signed("hmac", "2", now.Add(-6*time.Minute)) }, seedPost, "Request expired"},
			{"future", func() url.Values { return e.signed("hmac", "2", now.Add(6*time.Minute)) }, seedPost, "Request expired"},
			{"section", func() url.Values { q := e.signed("hmac", "2", now); q.Set("go", "clips"); return q }, seedPost, "Invalid section"},
			{"action", func() url.Values { q := e.signed("hmac", "2", now); q.Set("do", "get_cart"); return q }, seedPost, "Invalid action"},
			{"user", func() url.Values { return e.signed("hmac", "0", now) }, seedPost, "Invalid User ID"},
			{"user text", func() url.Values { return e.signed("hmac", "x", now) }, seedPost, "Invalid User ID"},
			{"no amount", func() url.Values { return e.signed("hmac", "2", now) }, map[string]string{}, "Invalid amount"},
			{"zero", func() url.Values { return e.signed("hmac", "2", now) }, map[string]string{"amount": "0"}, "Invalid amount"},
			{"negative", func() url.Values { return e.signed("hmac", "2", now) }, map[string]string{"amount": "-1"}, "Invalid amount"},
		}
		for _, c := range cases {
			if m := e.call(t, c.q(), c.post); m["error"] != "REQUEST_ERROR" || m["error_long"] != c.want {
				t.Errorf("%s: %v", c.name, m)
			}
		}
		// The simplified (md5) mode, once the gateway is set to it.
		if _, err := e.ms.UpdateSettings(ctx, e.mid, merchant.WebTV, []byte(`{"signature_mode":"md5"}`)); err != nil {
			t.Fatal(err)
		}
		if m := e.call(t, e.signed("md5", "2", now), map[string]string{"amount": "5.50"}); m["ok"] != "Payment was added" {
			t.Fatalf("md5: %v", m)
		}
		got, _ = e.o.Get(ctx, e.mid, o.ID)
		if got.Status != store.OrderPaid {
			t.Fatalf("order %+v", got)
		}
	})
}

// TestConcurrentAddPayment: 100 concurrent add_payment calls against one
// order whose due covers 30 → exactly 30 succeed.
func TestConcurrentAddPayment(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		o, err := e.o.Create(ctx, order.CreateParams{MerchantID: e.mid, CustomerID: 2, PriceAmount: "30", PriceCurrency: "EUR"})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, refused := 0, 0
		for i := 0; i < 100; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := e.call(t, e.signed("hmac", "2", time.Now()), map[string]string{"amount": "1"})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case m["ok"] != "":
					ok++
				case m["error"] == "ERROR_AMOUNT_TOO_BIG" || m["error"] == "ERROR_NO_ORDER":
					refused++
				default:
					t.Errorf("answer %v", m)
				}
			}()
		}
		wg.Wait()
		if ok != 30 || refused != 70 {
			t.Fatalf("%d ok, %d refused", ok, refused)
		}
		got, _ := e.o.Get(ctx, e.mid, o.ID)
		if got.AmountPaid != 3000 || got.Status != store.OrderPaid {
			t.Fatalf("order %+v", got)
		}
	})
}
