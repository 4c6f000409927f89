package paykassma_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-pay/coffer/internal/config"
	"github.com/coffer-pay/coffer/internal/deposit"
	"github.com/coffer-pay/coffer/internal/dialect/paykassma"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/seal"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
	"github.com/coffer-pay/coffer/internal/wallet"
)

const secret = "plugin-api-secret-1"

type env struct {
	st       store.Store
	srv      *httptest.Server
	m        *merchant.Service
	w        *wallet.Service
	d        *deposit.Service
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
	ds := deposit.New(eng, ws, deposit.Options{})
	created, err := ms.Create(ctx, merchant.CreateParams{Name: "casino", Username: "casino"})
	if err != nil {
		t.Fatal(err)
	}
	mid := created.Merchant.ID
	if _, err := ms.SetKey(ctx, mid, merchant.Paykassma, "", config.Secret(secret), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := ms.SetOpen(ctx, mid, merchant.Paykassma, true); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.CreateCustomer(ctx, mid, wallet.CustomerParams{ID: 1, Label: "user-42"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ds.AddPayee(ctx, deposit.PayeeParams{MerchantID: mid, WalletType: "wavepay", Identifier: "324342342", Currency: "MMK"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(paykassma.NewHandler(paykassma.Deps{Merchants: ms, Deposits: ds}))
	t.Cleanup(srv.Close)
	return &env{st: st, srv: srv, m: ms, w: ws, d: ds, merchant: mid}
}

func (e *env) post(t *testing.T, path, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(e.srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) incoming(t *testing.T, key1, amount string, final bool) {
	t.Helper()
	if _, err := e.d.RecordIncoming(context.Background(), deposit.IncomingParams{MerchantID: e.merchant, WalletType: "wavepay",
		Key1: key1, Amount: amount, Currency: "MMK", Final: final, Source: "test"}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) balance(t *testing.T) int64 {
	t.Helper()
	w, err := e.w.CustomerWallet(context.Background(), e.merchant, 1, "MMK")
	if err != nil {
		return 0
	}
	b, err := e.w.WalletBalance(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	return b.Available
}

const (
	createPath   = "/api/v1/transaction/create/wavepay?secret=" + secret
	activatePath = "/api/v1/transaction/activate?secret=" + secret
)

func activateBody(key1, amount, custom string) string {
	return `{"currency_code":"MMK","wallet_type":"wavepay","label":"user-42","key1":"` + key1 + `","amount":` + amount + `,"custom_transaction_id":"` + custom + `"}`
}

// The document's examples (seeds/004, DIALECTS.md §5), request and answer.
func TestDocumentExamples(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		code, body := e.post(t, createPath, `{"currency":"MMK","label":"user-42"}`)
		if code != 200 || body != `{"params":{"identifier":"324342342"},"status":"ok"}` && body != `{"status":"ok","params":{"identifier":"324342342"}}` {
			t.Errorf("create: %d %s", code, body)
		}

		e.incoming(t, "5001", "6000", true)
		code, body = e.post(t, activatePath, activateBody("5001", "6000", "order-1"))
		if want := `{"status":"ok","deposit":true,"deposit_amount":6000,"currency":{"code":"MMK","symbol":"MMK"}}`; code != 200 || body != want {
			t.Errorf("activate ok: %d %s\nwant %s", code, body, want)
		}
		if b := e.balance(t); b != 600000 {
			t.Errorf("balance %d", b)
		}
		// the same custom_transaction_id again: the same answer, no second credit
		code, body = e.post(t, activatePath, activateBody("5001", "6000", "order-1"))
		if code != 200 || !strings.Contains(body, `"status":"ok"`) || e.balance(t) != 600000 {
			t.Errorf("replay: %d %s %d", code, body, e.balance(t))
		}

		e.incoming(t, "5002", "100", false)
		code, body = e.post(t, activatePath, activateBody("5002", `"100"`, "order-2"))
		if want := `{"message":"` + paykassma.PendingMessage + `","status":"pending"}`; code != 200 || body != want {
			t.Errorf("pending: %d %s", code, body)
		}

		code, body = e.post(t, activatePath, activateBody("5003", "250.5", "order-3"))
		if want := `{"message":"Transaction not found. Possible transaction created","status":"possible_transaction_created"}`; code != 200 || body != want {
			t.Errorf("possible: %d %s", code, body)
		}
		e.incoming(t, "5003", "250.5", true)
		if b := e.balance(t); b != 600000+25050 {
			t.Errorf("balance after the possible transaction arrived: %d", b)
		}

		code, body = e.post(t, activatePath, activateBody("5001", "6000", "order-4"))
		if want := `{"message":"The transaction has already been activated","status":"fail"}`; code != 200 || body != want {
			t.Errorf("used key: %d %s", code, body)
		}
	})
}

func TestFailures(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		e.incoming(t, "7001", "6000", true)
		for _, tc := range []struct {
			name, path, body string
			code             int
			want             string
		}{
			{"no secret", "/api/v1/transaction/activate", activateBody("7001", "6000", "x"), 404, "Not found"},
			{"wrong secret", "/api/v1/transaction/activate?secret=nope", activateBody("7001", "6000", "x"), 404, "Not found"},
			{"create without secret", "/api/v1/transaction/create/wavepay", `{"currency":"MMK","label":"user-42"}`, 404, "Not found"},
			{"unknown path", "/api/v1/other?secret=" + secret, `{}`, 404, "Not found"},
			{"unknown wallet type", "/api/v1/transaction/create/bkash?secret=" + secret, `{"currency":"MMK","label":"user-42"}`, 200, `{"message":"Unknown wallet type","status":"fail"}`},
			{"currency length", createPath, `{"currency":"MMKK","label":"user-42"}`, 200, `{"message":"The currency may not be greater than 3 characters.","status":"fail"}`},
			{"currency missing", createPath, `{"label":"user-42"}`, 200, `{"message":"The currency field is required.","status":"fail"}`},
			{"other currency", createPath, `{"currency":"USD","label":"user-42"}`, 200, `{"message":"The currency is not available for this wallet type","status":"fail"}`},
			{"label too long", createPath, `{"currency":"MMK","label":"` + strings.Repeat("a", 191) + `"}`, 200, `{"message":"The label may not be greater than 190 characters.","status":"fail"}`},
			{"unknown label", createPath, `{"currency":"MMK","label":"nobody"}`, 200, `{"message":"Unknown label","status":"fail"}`},
			{"not JSON", createPath, `currency=MMK`, 200, `{"message":"The request body must be a JSON object","status":"fail"}`},
			{"key1 too long", activatePath, activateBody("123456789012", "6000", "x"), 200, `{"message":"The key1 may not be greater than 11 characters.","status":"fail"}`},
			{"amount mismatch", activatePath, activateBody("7001", "6001", "x"), 200, `{"message":"The amount or currency does not match the transaction","status":"fail"}`},
			{"bad amount", activatePath, activateBody("7001", `"six"`, "x"), 200, `{"message":"amount \"six\" is not a positive amount of MMK","status":"fail"}`},
			{"object amount", activatePath, activateBody("7001", `{}`, "x"), 200, `{"message":"The amount must be a string or a number","status":"fail"}`},
			{"no custom id", activatePath, activateBody("7001", "6000", ""), 200, `{"message":"The custom_transaction_id field is required.","status":"fail"}`},
		} {
			code, body := e.post(t, tc.path, tc.body)
			if code != tc.code || body != tc.want {
				t.Errorf("%s: %d %s\nwant %d %s", tc.name, code, body, tc.code, tc.want)
			}
		}
		if b := e.balance(t); b != 0 {
			t.Errorf("a failure credited %d", b)
		}
		// a closed gateway answers as an unknown secret
		if _, err := e.m.SetOpen(context.Background(), e.merchant, merchant.Paykassma, false); err != nil {
			t.Fatal(err)
		}
		if code, body := e.post(t, activatePath, activateBody("7001", "6000", "x")); code != 404 || body != "Not found" {
			t.Errorf("closed: %d %s", code, body)
		}
	})
}

// Two activations of one key1 at once over HTTP: one ok, one fail.
func TestConcurrentActivate(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		e.incoming(t, "9001", "6000", true)
		var wg sync.WaitGroup
		bodies := make([]string, 2)
		for i := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, bodies[i] = e.post(t, activatePath, activateBody("9001", "6000", []string{"a", "b"}[i]))
			}()
		}
		wg.Wait()
		ok := strings.Count(strings.Join(bodies, "\n"), `"status":"ok"`)
		if ok != 1 || e.balance(t) != 600000 {
			t.Errorf("answers %q, balance %d", bodies, e.balance(t))
		}
	})
}
