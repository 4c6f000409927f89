package mugglepay_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/coffer-pay/coffer/internal/config"
	"github.com/coffer-pay/coffer/internal/dialect/mugglepay"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/order"
	"github.com/coffer-pay/coffer/internal/seal"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
	"github.com/coffer-pay/coffer/internal/wallet"
)

const apiToken = "API_TOKEN_GET_FROM_ADMIN_PORTAL"

type env struct {
	srv *httptest.Server
	o   *order.Service
	mid int64
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
	created, err := ms.Create(ctx, merchant.CreateParams{Name: "ecards", Username: "ecards"})
	if err != nil {
		t.Fatal(err)
	}
	mid := created.Merchant.ID
	if _, err := ms.SetKey(ctx, mid, merchant.MugglePay, "", config.Secret(apiToken), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := ms.SetOpen(ctx, mid, merchant.MugglePay, true); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mugglepay.NewHandler(mugglepay.Deps{Merchants: ms, Orders: os, PublicURL: "https://pay.example"}))
	t.Cleanup(srv.Close)
	return &env{srv: srv, o: os, mid: mid}
}

func (e *env) do(t *testing.T, method, path, token, body string) (int, map[string]any, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("content-type", "application/json")
	if token != "" {
		req.Header.Set("token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%s %s: not JSON: %q", method, path, b)
	}
	return resp.StatusCode, m, string(b)
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestSeedCurl is the seed document's curl example, byte for byte apart
// from the URL.
func TestSeedCurl(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		body := `{
  "merchant_order_id": 100388,
  "price_amount": 10,
  "price_currency": "USD"
}`
		code, m, raw := e.do(t, "POST", "/v1/orders", apiToken, body)
		if code != 200 || m["status"] != json.Number("201") {
			t.Fatalf("answer %d %s", code, raw)
		}
		o := m["order"].(map[string]any)
		id, _ := o["order_id"].(string)
		if !uuidRE.MatchString(id) || o["status"] != "NEW" || o["merchant_order_id"] != "100388" ||
			o["price_amount"] != json.Number("10") || o["price_currency"] != "USD" || o["pay_amount"] != json.Number("10") || o["pay_currency"] != "USD" {
			t.Fatalf("order %s", raw)
		}
		if m["payment_url"] != "https://pay.example/pay/invoices?id="+id {
			t.Fatalf("payment_url %v", m["payment_url"])
		}
		// The same merchant_order_id again: ORDER_MERCHANTID_EXIST with the order and its URL.
		code, m, raw = e.do(t, "POST", "/v1/orders", apiToken, body)
		if code != 400 || m["status"] != json.Number("400") || m["error_code"] != "ORDER_MERCHANTID_EXIST" ||
			m["error"] != "Order with same merchant_order_id exisits." || m["payment_url"] != "https://pay.example/pay/invoices?id="+id ||
			m["order"].(map[string]any)["order_id"] != id {
			t.Fatalf("duplicate: %d %s", code, raw)
		}
	})
}

func TestSeedBodyAndOtherEndpoints(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		body := `{
  "merchant_order_id": "503a854998-6230-4338-adb7",
  "price_amount": 1.00,
  "price_currency": "USD",
  "title": "Monthly Program x 1",
  "description": "Game Pass Friends and Family, up to four players can enjoy Game Pass",
  "callback_url": "https://ecards.com/api/success",
  "cancel_url": "https://ecards.com/ecardstatus?status=cancel",
  "success_url": "https://ecards.com/ecardstatus?status=success",
  "token": "XI231SD02-SDFWE123D"
}`
		code, m, raw := e.do(t, "POST", "/v1/orders", apiToken, body)
		if code != 200 {
			t.Fatalf("%d %s", code, raw)
		}
		o := m["order"].(map[string]any)
		want := map[string]any{"merchant_order_id": "503a854998-6230-4338-adb7", "title": "Monthly Program x 1",
			"callback_url": "https://ecards.com/api/success", "cancel_url": "https://ecards.com/ecardstatus?status=cancel",
			"success_url": "https://ecards.com/ecardstatus?status=success", "price_amount": json.Number("1"), "status": "NEW"}
		for k, v := range want {
			if o[k] != v {
				t.Errorf("%s = %v, want %v", k, o[k], v)
			}
		}
		if _, ok := o["token"]; ok {
			t.Errorf("the merchant's callback token must not be echoed in the answer")
		}
		if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(o["created_at"].(string)) {
			t.Errorf("created_at %v", o["created_at"])
		}
		// Field order of the seed's answer.
		keys := []string{`"status"`, `"order"`, `"user_id"`, `"merchant_order_id"`, `"title"`, `"description"`, `"callback_url"`, `"cancel_url"`,
			`"success_url"`, `"price_amount"`, `"price_currency"`, `"pay_amount"`, `"pay_currency"`, `"order_id"`, `"created_at"`, `"updated_at"`, `"payment_url"`}
		last := -1
		for _, k := range keys {
			i := strings.Index(raw, k)
			if i <= last {
				t.Fatalf("field %s out of order in %s", k, raw)
			}
			last = i
		}
		id := o["order_id"].(string)

		code, m, raw = e.do(t, "GET", "/v1/orders/"+id, apiToken, "")
		if code != 200 || m["status"] != json.Number("200") || m["order"].(map[string]any)["order_id"] != id ||
			m["invoice"].(map[string]any)["status"] != "NEW" || m["invoice"].(map[string]any)["pay_amount"] != json.Number("1") {
			t.Fatalf("get: %d %s", code, raw)
		}
		code, m, raw = e.do(t, "POST", "/v1/orders/"+id+"/cancel", apiToken, "{}")
		if code != 200 || m["order"].(map[string]any)["status"] != "CANCELED" {
			t.Fatalf("cancel: %d %s", code, raw)
		}
		code, m, _ = e.do(t, "POST", "/v1/orders/"+id+"/cancel", apiToken, "{}")
		if code != 400 || m["error_code"] != "ORDER_CANCELED_FAIILED" {
			t.Fatalf("cancel twice: %d %v", code, m)
		}
		code, m, _ = e.do(t, "GET", "/v1/orders/not-a-uuid", apiToken, "")
		if code != 400 || m["error_code"] != "ORDER_NOT_VALID" {
			t.Fatalf("bad id: %d %v", code, m)
		}
		code, m, _ = e.do(t, "GET", "/v1/orders/"+order.NewPublicID(), apiToken, "")
		if code != 400 || m["error_code"] != "ORDER_NO_PERMISSION" {
			t.Fatalf("unknown id: %d %v", code, m)
		}
	})
}

func TestErrors(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		tests := []struct {
			name, token, body, code, text string
		}{
			{"no token", "", `{"price_amount":1,"price_currency":"USD"}`, "AUTHENTICATION_FAILED", "Authentication Token is not set or expired."},
			{"wrong token", "nope", `{"price_amount":1,"price_currency":"USD"}`, "AUTHENTICATION_FAILED", "Authentication Token is not set or expired."},
			{"no price", apiToken, `{"price_currency":"USD"}`, "PARAMETERS_MISSING", "Missing parameters."},
			{"not JSON", apiToken, `{"price_amount":`, "PARAMETERS_MISSING", "Missing parameters."},
			{"zero price", apiToken, `{"price_amount":0,"price_currency":"USD"}`, "PAY_PRICE_ERROR", "Price amount or currency is not set correctly."},
			{"negative", apiToken, `{"price_amount":-1,"price_currency":"USD"}`, "PAY_PRICE_ERROR", "Price amount or currency is not set correctly."},
			{"exponent", apiToken, `{"price_amount":1e2,"price_currency":"USD"}`, "PAY_PRICE_ERROR", "Price amount or currency is not set correctly."},
			{"too precise", apiToken, `{"price_amount":"1.001","price_currency":"USD"}`, "PAY_PRICE_ERROR", "Price amount or currency is not set correctly."},
			{"unknown currency", apiToken, `{"price_amount":1,"price_currency":"ZZZ"}`, "PAY_PRICE_ERROR", "Price amount or currency is not set correctly."},
		}
		for _, tc := range tests {
			code, m, raw := e.do(t, "POST", "/v1/orders", tc.token, tc.body)
			if code != 400 || m["status"] != json.Number("400") || m["error_code"] != tc.code || m["error"] != tc.text {
				t.Errorf("%s: %d %s", tc.name, code, raw)
			}
		}
		// A string price, exact, and the default currency.
		code, m, raw := e.do(t, "POST", "/v1/orders", apiToken, `{"price_amount":"0.1"}`)
		if code != 200 || m["order"].(map[string]any)["price_amount"] != json.Number("0.1") || m["order"].(map[string]any)["price_currency"] != "USD" {
			t.Fatalf("string price: %d %s", code, raw)
		}
	})
}
