package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/internal/api"
	"github.com/coffer-pay/coffer/internal/apikey"
	"github.com/coffer-pay/coffer/internal/deposit"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/seal"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
	"github.com/coffer-pay/coffer/internal/wallet"
)

func TestDeposits(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		t.Cleanup(func() { verifyLedger(t, st) })
		eng := ledger.New(st, ledger.Options{ExpiryInterval: -1})
		t.Cleanup(func() {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			eng.Close(cctx)
		})
		ws := wallet.New(eng, wallet.Options{})
		ds := deposit.New(eng, ws, deposit.Options{})
		sealer, err := seal.New(seal.NewKey())
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(api.New(api.Config{Engine: eng, Merchants: merchant.New(st, sealer, merchant.Options{}),
			Wallets: ws, Deposits: ds}))
		t.Cleanup(srv.Close)
		m, err := st.CreateMerchant(ctx, "casino")
		if err != nil {
			t.Fatal(err)
		}
		tok, row, err := apikey.Generate(apikey.RoleMerchant, m.ID, "test")
		if err != nil {
			t.Fatal(err)
		}
		if err := st.InsertAPIKey(ctx, &row); err != nil {
			t.Fatal(err)
		}
		call := func(method, path, ctype, body string) (int, map[string]any) {
			t.Helper()
			req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var out map[string]any
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
			}
			return resp.StatusCode, out
		}
		if _, err := ws.CreateCustomer(ctx, m.ID, wallet.CustomerParams{ID: 1, Label: "user-42"}); err != nil {
			t.Fatal(err)
		}
		code, out := call("POST", "/coffer/v1/deposits/payees", "application/json", `{"wallet_type":"wavepay","identifier":"324342342","currency":"mmk","max_amount":"100000"}`)
		if code != 201 || out["identifier"] != "324342342" || out["currency"] != "MMK" || out["max_amount"] != "100000.00" {
			t.Fatalf("payee: %d %v", code, out)
		}
		if code, out = call("POST", "/coffer/v1/deposits/payees", "application/json", `{"wallet_type":"wavepay","identifier":"324342342","currency":"MMK"}`); code != 409 {
			t.Errorf("duplicate payee: %d %v", code, out)
		}
		if code, out = call("GET", "/coffer/v1/deposits/payees?wallet_type=wavepay", "", ""); code != 200 || len(out["data"].([]any)) != 1 {
			t.Errorf("payees: %d %v", code, out)
		}
		a, err := ds.Activate(ctx, deposit.ActivateParams{MerchantID: m.ID, WalletType: "wavepay", Currency: "MMK", Label: "user-42",
			Key1: "111", Amount: "6000", CustomID: "c1"})
		if err != nil || a.Claim.Status != store.ClaimPossible {
			t.Fatal(a, err)
		}
		b, _ := ds.Activate(ctx, deposit.ActivateParams{MerchantID: m.ID, WalletType: "wavepay", Currency: "MMK", Label: "user-42",
			Key1: "222", Amount: "5", CustomID: "c2"})
		if code, out = call("GET", "/coffer/v1/deposits/claims?status=possible", "", ""); code != 200 || len(out["data"].([]any)) != 2 {
			t.Errorf("queue: %d %v", code, out)
		}
		code, out = call("POST", "/coffer/v1/deposits/incoming", "application/json", `{"wallet_type":"wavepay","key1":"111","amount":"6000","currency":"MMK"}`)
		claim, _ := out["claim"].(map[string]any)
		if code != 201 || claim == nil || claim["status"] != "credited" || claim["amount"] != "6000.00" {
			t.Fatalf("incoming: %d %v", code, out)
		}
		if code, _ = call("POST", "/coffer/v1/deposits/incoming", "application/json", `{"wallet_type":"wavepay","key1":"111","amount":"6000","currency":"MMK"}`); code != 200 {
			t.Errorf("incoming again: %d", code)
		}
		code, out = call("POST", "/coffer/v1/deposits/incoming/import?wallet_type=wavepay&currency=MMK", "text/csv", "key1,amount\n333,7\n444,8\n")
		if code != 200 || out["recorded"] != 2.0 || out["rows"] != 2.0 {
			t.Errorf("import: %d %v", code, out)
		}
		if code, out = call("POST", "/coffer/v1/deposits/incoming/import?wallet_type=wavepay", "text/csv", "key1,amount\n333,7\n"); code != 422 && code != 400 {
			t.Errorf("import without currency: %d %v", code, out)
		}
		path := "/coffer/v1/deposits/claims/" + strconv.FormatInt(b.Claim.ID, 10)
		if code, out = call("POST", path+"/match", "application/json", `{"key1":"333"}`); code != 200 || out["status"] != "credited" || out["amount"] != "5.00" {
			t.Errorf("match: %d %v", code, out)
		}
		if code, out = call("POST", path+"/reject", "", ""); code != 409 {
			t.Errorf("reject after match: %d %v", code, out)
		}
		if code, out = call("GET", "/coffer/v1/deposits/claims/999999", "", ""); code != 404 {
			t.Errorf("missing claim: %d %v", code, out)
		}
	})
}
