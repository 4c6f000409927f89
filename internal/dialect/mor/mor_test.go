package mor_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-pay/coffer/internal/config"
	"github.com/coffer-pay/coffer/internal/dialect/mor"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/payment"
	"github.com/coffer-pay/coffer/internal/pricing"
	"github.com/coffer-pay/coffer/internal/seal"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// The seed document's request line, byte for byte.
const seedQuery = "u=admin&user_id=123&p_currency=EUR&paymenttype=Myname&tax_in_amount=1&amount=100&transaction=2S5sdf77&payer_email=bla&u=username&hash=687a2cee0a61dee0bffa3bc8837e201a6a31af5d"

type env struct {
	st       store.Store
	srv      *httptest.Server
	m        *merchant.Service
	w        *wallet.Service
	p        *payment.Service
	merchant int64
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
	rates := pricing.NewRates(st, "EUR", nil)
	for cur, r := range map[string]string{"JPY": "0.0061", "BHD": "2.425", "USD": "0.92"} {
		if _, err := rates.Set(ctx, cur, r, "test"); err != nil {
			t.Fatal(err)
		}
	}
	ps := payment.New(eng, ws, rates)
	created, err := ms.Create(ctx, merchant.CreateParams{Name: "telco", Username: "username"})
	if err != nil {
		t.Fatal(err)
	}
	mid := created.Merchant.ID
	if _, err := ms.SetKey(ctx, mid, merchant.MOR, "", config.Secret("456789"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := ms.SetOpen(ctx, mid, merchant.MOR, true); err != nil {
		t.Fatal(err)
	}
	tax := int64(210000)
	for _, c := range []wallet.CustomerParams{{ID: 123, Currency: "EUR", TaxRate: &tax}, {ID: 124, Currency: "JPY"}, {ID: 125, Currency: "BHD"}} {
		if _, err := ws.CreateCustomer(ctx, mid, c); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(mor.NewHandler(mor.Deps{Merchants: ms, Wallets: ws, Payments: ps}))
	t.Cleanup(srv.Close)
	return &env{st: st, srv: srv, m: ms, w: ws, p: ps, merchant: mid}
}

func (e *env) call(t *testing.T, method, path, query string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path+"?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func (e *env) balance(t *testing.T, customer int64, asset string) int64 {
	t.Helper()
	w, err := e.w.CustomerWallet(context.Background(), e.merchant, customer, asset)
	if err != nil {
		return 0
	}
	a, err := e.st.Account(context.Background(), w.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	return a.CreditsPosted - a.DebitsPosted
}

func signed(q url.Values, secret string) string {
	var b strings.Builder
	for _, k := range []string{"user_id", "p_currency", "paymenttype", "tax_in_amount", "amount", "transaction", "payer_email", "comments_for_user"} {
		if q.Has(k) {
			b.WriteString(q.Get(k))
		}
	}
	b.WriteString(secret)
	q.Set("hash", sha1hex(b.String()))
	return q.Encode()
}

func TestSeedExample(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		code, ctype, body := e.call(t, "POST", "/billing/api/payment_create", seedQuery)
		if code != 200 || !strings.HasPrefix(ctype, "application/xml") {
			t.Fatalf("status %d, content type %q", code, ctype)
		}
		want := `<?xml version="1.0" encoding="UTF-8"?>
<page>
  <response>
    <status>ok</status>
    <confirmed>Yes</confirmed>
    <payment currency="EUR">
      <payment_id>1</payment_id>
      <tax>17.36</tax>
      <amount>82.64</amount>
      <gross>100.00</gross>
    </payment>
  </response>
</page>
`
		if body != want {
			t.Fatalf("body:\n%s\nwant:\n%s", body, want)
		}
		if got := e.balance(t, 123, "EUR"); got != 8264 {
			t.Errorf("wallet credited %d, want 8264 (net of 21 %% tax)", got)
		}
		// The same transaction again: the same payment, nothing more credited.
		for _, path := range []string{"/billing/api/create_payment", "/api/payment_create", "/api/create_payment"} {
			_, _, again := e.call(t, "POST", path, seedQuery)
			if again != want {
				t.Errorf("%s replay:\n%s", path, again)
			}
		}
		if got := e.balance(t, 123, "EUR"); got != 8264 {
			t.Errorf("after retries the wallet holds %d, want 8264", got)
		}
		rep, err := ledger.Verify(context.Background(), st)
		if err != nil || !rep.OK() {
			t.Fatalf("verify: %v %v", err, rep.Problems)
		}
	})
}

func TestErrors(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		base := func(mod func(q url.Values)) string {
			q := url.Values{"u": {"username"}, "user_id": {"124"}, "p_currency": {"EUR"}, "amount": {"10"}}
			mod(q)
			return signed(q, "456789")
		}
		tests := []struct {
			name, method, query string
			want                string
		}{
			{"unknown u", "POST", base(func(q url.Values) { q.Set("u", "nobody") }), "<error>Bad login</error>"},
			{"missing u", "POST", base(func(q url.Values) { q.Del("u") }), "<error>Bad login</error>"},
			{"wrong hash", "POST", strings.Replace(base(func(url.Values) {}), "hash=", "hash=0", 1), "<error>Incorrect hash</error>"},
			{"hash missing", "POST", "u=username&user_id=124&p_currency=EUR&amount=10", "<error>Incorrect hash</error>"},
			{"signature stripped of amount", "POST", strings.Replace(base(func(url.Values) {}), "amount=10", "amount=1000", 1), "<error>Incorrect hash</error>"},
			{"unknown currency", "POST", base(func(q url.Values) { q.Set("p_currency", "XYZ") }), "<error>No currency</error>"},
			{"no rate", "POST", base(func(q url.Values) { q.Set("p_currency", "GBP") }), "<error>No currency</error>"},
			{"unknown user", "POST", base(func(q url.Values) { q.Set("user_id", "999") }), "<error>Access Denied</error>"},
			{"user_id not numeric", "POST", base(func(q url.Values) { q.Set("user_id", "abc") }), "<error>Access Denied</error>"},
			{"bad amount", "POST", base(func(q url.Values) { q.Set("amount", "1.001") }), "<error>Payment was not saved</error>"},
			{"negative amount", "POST", base(func(q url.Values) { q.Set("amount", "-5") }), "<error>Payment was not saved</error>"},
			{"amount missing", "POST", base(func(q url.Values) { q.Del("amount") }), "<error>Payment was not saved</error>"},
			{"bad tax flag", "POST", base(func(q url.Values) { q.Set("tax_in_amount", "2") }), "<error>Payment was not saved</error>"},
			{"GET not allowed", "GET", base(func(url.Values) {}), "<error>GET Requests are disabled</error>"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				code, ctype, body := e.call(t, tc.method, "/billing/api/payment_create", tc.query)
				if code != 200 || !strings.HasPrefix(ctype, "application/xml") || !strings.Contains(body, tc.want) || !strings.Contains(body, "<page>") {
					t.Errorf("status %d %q body:\n%s\nwant %s", code, ctype, body, tc.want)
				}
				if strings.Contains(body, "Payment was not saved") && !strings.Contains(body, "<message>") {
					t.Errorf("no <message> with Payment was not saved: %s", body)
				}
			})
		}
		if got := e.balance(t, 124, "JPY"); got != 0 {
			t.Errorf("failed requests moved money: %d", got)
		}
		// Settings: GET allowed, hash checking off, gateway closed, reseller ownership.
		if _, err := e.m.UpdateSettings(ctx, e.merchant, merchant.MOR, []byte(`{"allow_get":true,"hash_check":false}`)); err != nil {
			t.Fatal(err)
		}
		if _, _, body := e.call(t, "GET", "/api/payment_create", "u=username&user_id=124&p_currency=EUR&amount=10"); !strings.Contains(body, "<status>ok</status>") {
			t.Errorf("GET without hash, both allowed: %s", body)
		}
		if got := e.balance(t, 124, "JPY"); got != 1639 { // 10 EUR / 0.0061 = 1639.34 JPY
			t.Errorf("JPY wallet %d, want 1639", got)
		}
		reseller, err := e.m.CreateUser(ctx, e.merchant, "reseller1", store.UserReseller)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, body := e.call(t, "POST", "/api/payment_create", "u=reseller1&user_id=124&p_currency=EUR&amount=1"); !strings.Contains(body, "Access Denied") {
			t.Errorf("reseller on a customer it does not own: %s", body)
		}
		if _, err := e.w.CreateCustomer(ctx, e.merchant, wallet.CustomerParams{ID: 200, Currency: "EUR", OwnerID: reseller.ID}); err != nil {
			t.Fatal(err)
		}
		if _, _, body := e.call(t, "POST", "/api/payment_create", "u=reseller1&user_id=200&p_currency=EUR&amount=1"); !strings.Contains(body, "<status>ok</status>") {
			t.Errorf("reseller on its own customer: %s", body)
		}
		if _, err := e.m.SetOpen(ctx, e.merchant, merchant.MOR, false); err != nil {
			t.Fatal(err)
		}
		if _, _, body := e.call(t, "POST", "/api/payment_create", "u=username&user_id=124&p_currency=EUR&amount=10"); !strings.Contains(body, "API Requests are disabled") {
			t.Errorf("closed gateway: %s", body)
		}
	})
}

func TestConfirmationAndTaxModes(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		if _, err := e.m.UpdateSettings(ctx, e.merchant, merchant.MOR, []byte(`{"confirmation":true}`)); err != nil {
			t.Fatal(err)
		}
		q := url.Values{"u": {"username"}, "user_id": {"123"}, "p_currency": {"EUR"}, "amount": {"100"}, "tax_in_amount": {"0"}, "transaction": {"t-1"}}
		_, _, body := e.call(t, "POST", "/billing/api/payment_create", signed(q, "456789"))
		for _, want := range []string{"<confirmed>No</confirmed>", "<tax>21.00</tax>", "<amount>100.00</amount>", "<gross>121.00</gross>"} {
			if !strings.Contains(body, want) {
				t.Errorf("tax added, confirmation on: missing %s in\n%s", want, body)
			}
		}
		if got := e.balance(t, 123, "EUR"); got != 0 {
			t.Fatalf("balance moved before confirmation: %d", got)
		}
		queue, _ := e.p.List(ctx, store.PaymentFilter{MerchantID: e.merchant, Status: store.PaymentPending})
		if len(queue) != 1 {
			t.Fatalf("queue %d", len(queue))
		}
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Add(1)
			go func() { defer wg.Done(); e.p.Confirm(ctx, e.merchant, queue[0].ID, fmt.Sprint("op", i)) }()
		}
		wg.Wait()
		if got := e.balance(t, 123, "EUR"); got != 10000 {
			t.Errorf("after confirmation: %d, want 10000 once", got)
		}
	})
}

func TestMethodsAndBodies(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		q := url.Values{"u": {"username"}, "user_id": {"125"}, "p_currency": {"BHD"}, "amount": {"1.5"}}
		form := signed(q, "456789")
		resp, err := http.Post(e.srv.URL+"/billing/api/payment_create", "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `<payment currency="BHD">`) || !strings.Contains(string(b), "<amount>1.500</amount>") {
			t.Errorf("form body: %s", b)
		}
		// JSON body, as the public Laravel client sends.
		vals := url.Values{}
		for _, kv := range strings.Split(signed(url.Values{"u": {"username"}, "user_id": {"125"}, "p_currency": {"BHD"}, "amount": {"2"}}, "456789"), "&") {
			k, v, _ := strings.Cut(kv, "=")
			k, _ = url.QueryUnescape(k)
			v, _ = url.QueryUnescape(v)
			vals.Set(k, v)
		}
		obj := map[string]string{}
		for k := range vals {
			obj[k] = vals.Get(k)
		}
		js, _ := json.Marshal(obj)
		resp, err = http.Post(e.srv.URL+"/api/payment_create", "application/json", strings.NewReader(string(js)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "<status>ok</status>") {
			t.Errorf("JSON body: %s", b)
		}
		if got := e.balance(t, 125, "BHD"); got != 3500 {
			t.Errorf("BHD wallet %d, want 3500", got)
		}
	})
}

func sha1hex(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestMerchantDefaultTaxRate(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		if _, err := e.m.UpdateSettings(ctx, e.merchant, merchant.MOR, []byte(`{"default_tax_rate":"abc"}`)); err == nil {
			t.Fatalf("a malformed default tax rate was accepted")
		}
		if _, err := e.m.UpdateSettings(ctx, e.merchant, merchant.MOR, []byte(`{"default_tax_rate":"10"}`)); err != nil {
			t.Fatal(err)
		}
		// Customer 124 has no rate of its own: the merchant's 10 % applies.
		q := url.Values{"u": {"username"}, "user_id": {"124"}, "p_currency": {"EUR"}, "amount": {"10"}}
		_, _, body := e.call(t, "POST", "/api/payment_create", signed(q, "456789"))
		for _, want := range []string{"<tax>1.00</tax>", "<amount>10.00</amount>", "<gross>11.00</gross>"} {
			if !strings.Contains(body, want) {
				t.Errorf("missing %s in\n%s", want, body)
			}
		}
		// Customer 123 has 21 % of its own: it wins.
		q = url.Values{"u": {"username"}, "user_id": {"123"}, "p_currency": {"EUR"}, "amount": {"10"}}
		_, _, body = e.call(t, "POST", "/api/payment_create", signed(q, "456789"))
		if !strings.Contains(body, "<tax>2.10</tax>") {
			t.Errorf("customer's own rate: %s", body)
		}
	})
}
