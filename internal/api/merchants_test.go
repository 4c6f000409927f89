package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/client"
	"github.com/coffer-pay/coffer/internal/api"
	"github.com/coffer-pay/coffer/internal/apikey"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/seal"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// domainEnv is the API with the merchants' and wallets' services, over a
// real engine and database, with the admin key of merchant 1.
type domainEnv struct {
	t     *testing.T
	st    store.Store
	url   string
	admin *client.Client
	token string
	logs  *bytes.Buffer
}

func newDomainEnv(t *testing.T, st store.Store) *domainEnv {
	t.Helper()
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() { verifyLedger(t, st) })
	eng := ledger.New(st, ledger.Options{ExpiryInterval: -1, Logger: log})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		eng.Close(ctx)
	})
	sealer, err := seal.New(seal.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Config{
		Engine:    eng,
		Logger:    log,
		Merchants: merchant.New(st, sealer, merchant.Options{Logger: log}),
		Wallets:   wallet.New(eng, wallet.Options{Logger: log}),
	}))
	t.Cleanup(srv.Close)
	e := &domainEnv{t: t, st: st, url: srv.URL, logs: logs}
	e.token = e.key(apikey.RoleAdmin, 1)
	e.admin = client.New(srv.URL, e.token)
	return e
}

func (e *domainEnv) key(role string, merchantID int64) string {
	e.t.Helper()
	tok, row, err := apikey.Generate(role, merchantID, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.InsertAPIKey(context.Background(), &row); err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// send makes a raw request and returns status, headers and body.
func (e *domainEnv) send(method, path, token, body string, hdr ...string) (int, http.Header, []byte) {
	e.t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	} else {
		rd = strings.NewReader("")
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, resp.Header, b.Bytes()
}

func errCode(b []byte) string {
	var v struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(b, &v)
	return v.Error.Code
}

func TestMerchantsAPI(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newDomainEnv(t, st)
		c := ctx(t)
		created, err := e.admin.CreateMerchant(c, client.CreateMerchantRequest{Name: "Acme", Username: "acme"})
		if err != nil {
			t.Fatal(err)
		}
		if created.ID <= 1 || created.User == nil || created.User.Username != "acme" || len(created.Credentials) != 5 {
			t.Fatalf("created = %+v", created)
		}
		for _, d := range []string{"cmmp", "mor", "mugglepay", "webtv", "paykassma"} {
			k := created.Credentials[d]
			if len(k.Secret) != 40 || k.Dialect != d || (d == "webtv") != (k.KeyID != "") {
				t.Errorf("credential %s = %+v", d, k)
			}
		}
		m2 := created.ID
		mkey := e.key(apikey.RoleMerchant, m2)
		mc := client.New(e.url, mkey)

		// Merchants are the admin's.
		if _, err := mc.CreateMerchant(c, client.CreateMerchantRequest{Name: "x"}); err == nil {
			t.Error("a merchant key created a merchant")
		} else {
			wantAPIError(t, err, 403, "forbidden")
		}
		if _, err := mc.ListMerchants(c, client.ListParams{}); err == nil {
			t.Error("a merchant key listed merchants")
		}
		page, err := e.admin.ListMerchants(c, client.ListParams{Limit: 1})
		if err != nil || len(page.Data) != 1 || page.NextCursor == "" {
			t.Errorf("ListMerchants(limit 1) = %+v, %v", page, err)
		}
		if m, err := mc.GetMerchant(c, m2); err != nil || m.Name != "Acme" {
			t.Errorf("GetMerchant(own) = %+v, %v", m, err)
		}
		if _, err := mc.GetMerchant(c, 1); err == nil {
			t.Error("a merchant key read another merchant")
		}
		if _, err := e.admin.CreateMerchant(c, client.CreateMerchantRequest{Name: "Other", Username: "acme"}); err == nil {
			t.Error("a username was taken twice")
		} else {
			wantAPIError(t, err, 409, "username_taken")
		}

		// Acting on another merchant.
		tests := []struct {
			name   string
			token  string
			header string
			status int
			code   string
		}{
			{"admin, default merchant", e.token, "", 200, ""},
			{"admin on merchant 2", e.token, "2", 200, ""},
			{"admin on an unknown merchant", e.token, "999999", 404, "merchant_not_found"},
			{"admin, bad header", e.token, "two", 400, "invalid_request"},
			{"merchant key on itself", mkey, "2", 200, ""},
			{"merchant key on another", mkey, "1", 403, "forbidden"},
		}
		for _, tt := range tests {
			var hdr []string
			if tt.header != "" {
				hdr = []string{api.MerchantHeader, tt.header}
			}
			status, _, body := e.send("GET", "/coffer/v1/users", tt.token, "", hdr...)
			if status != tt.status || errCode(body) != tt.code {
				t.Errorf("%s: %d %s, want %d %s", tt.name, status, body, tt.status, tt.code)
			}
		}
		// The admin key sees merchant 2's user through the header.
		us, err := e.admin.ForMerchant(m2).ListUsers(c)
		if err != nil || len(us) != 1 || us[0].Username != "acme" {
			t.Errorf("users of merchant 2 = %+v, %v", us, err)
		}
		if us, _ := e.admin.ListUsers(c); len(us) != 0 {
			t.Errorf("merchant 1 has users %+v", us)
		}
		if u, err := mc.CreateUser(c, "reseller-1", "reseller"); err != nil || u.Role != "reseller" {
			t.Errorf("CreateUser = %+v, %v", u, err)
		}
		// Secrets never reach the log.
		for _, k := range created.Credentials {
			if strings.Contains(e.logs.String(), k.Secret) {
				t.Errorf("the %s secret is in the log", k.Dialect)
			}
		}
	})
}

func TestGatewaysAPI(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newDomainEnv(t, st)
		c := ctx(t)
		created, err := e.admin.CreateMerchant(c, client.CreateMerchantRequest{Name: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		ac := e.admin.ForMerchant(created.ID)
		gs, err := ac.Gateways(c)
		if err != nil || len(gs) != 5 {
			t.Fatalf("Gateways = %d, %v", len(gs), err)
		}
		for _, g := range gs {
			if g.Open || len(g.Keys) != 1 || g.Keys[0].Hint == "" {
				t.Errorf("gateway %s = %+v, want closed with one key", g.Dialect, g)
			}
		}
		if g, err := ac.SetGatewayOpen(c, "cmmp", true); err != nil || !g.Open {
			t.Errorf("open cmmp = %+v, %v", g, err)
		}
		if g, _ := ac.Gateway(c, "cmmp"); !g.Open {
			t.Error("cmmp not open after opening")
		}
		if g, _ := e.admin.Gateway(c, "cmmp"); g.Open {
			t.Error("opening merchant 2's cmmp opened merchant 1's")
		}
		if g, err := ac.SetGatewayOpen(c, "cmmp", false); err != nil || g.Open {
			t.Errorf("close cmmp = %+v, %v", g, err)
		}
		g, err := ac.UpdateGatewaySettings(c, "mor", map[string]any{"allow_get": true, "usernames": []string{"acme"}})
		if err != nil {
			t.Fatal(err)
		}
		var mor merchant.MORSettings
		if err := json.Unmarshal(g.Settings, &mor); err != nil || !mor.AllowGET || !mor.HashCheck || len(mor.Usernames) != 1 {
			t.Errorf("mor settings = %s, %v", g.Settings, err)
		}
		bad := []struct {
			path, body string
			status     int
			code       string
		}{
			{"/coffer/v1/gateways/mor/settings", `{"nope":1}`, 422, "invalid_settings"},
			{"/coffer/v1/gateways/webtv/settings", `{"signature_mode":"sha1"}`, 422, "invalid_settings"},
			{"/coffer/v1/gateways/mor/settings", `{`, 400, "invalid_json"},
			{"/coffer/v1/gateways/soap/open", ``, 404, "dialect_not_found"},
			{"/coffer/v1/gateways/cmmp/key", `{"grace_seconds":-1}`, 422, "invalid_request"},
			{"/coffer/v1/gateways/cmmp/key", `{"secret":"short"}`, 422, "invalid_request"},
		}
		for _, b := range bad {
			status, _, body := e.send("POST", b.path, e.token, b.body, api.MerchantHeader, itoa(created.ID))
			if status != b.status || errCode(body) != b.code {
				t.Errorf("POST %s %s = %d %s, want %d %s", b.path, b.body, status, body, b.status, b.code)
			}
		}

		// Rotation: the new secret is shown once; the gateway never shows it.
		k, err := ac.RotateKey(c, "cmmp", client.RotateKeyRequest{Grace: time.Hour})
		if err != nil || len(k.Secret) != 40 || k.PreviousValidUntil == nil {
			t.Fatalf("RotateKey = %+v, %v", k, err)
		}
		_, _, body := e.send("GET", "/coffer/v1/gateways/cmmp", e.token, "", api.MerchantHeader, itoa(created.ID))
		if bytes.Contains(body, []byte(k.Secret)) || bytes.Contains(body, []byte(created.Credentials["cmmp"].Secret)) {
			t.Errorf("the gateway shows a secret: %s", body)
		}
		if g, _ := ac.Gateway(c, "cmmp"); len(g.Keys) != 2 || g.Keys[0].ExpiresAt != nil || g.Keys[1].ExpiresAt == nil {
			t.Errorf("keys during grace = %+v", g.Keys)
		}
		if k2, err := ac.RotateKey(c, "cmmp", client.RotateKeyRequest{}); err != nil || k2.PreviousValidUntil != nil {
			t.Errorf("RotateKey(no grace) = %+v, %v", k2, err)
		}
		if g, _ := ac.Gateway(c, "cmmp"); len(g.Keys) != 1 {
			t.Errorf("keys after rotation without grace = %d", len(g.Keys))
		}
		// An operator's own key; a webtv key needs its id.
		if k, err := ac.RotateKey(c, "webtv", client.RotateKeyRequest{Secret: "MWIzMjNhNjE3", KeyID: "shop"}); err != nil || k.KeyID != "shop" {
			t.Errorf("RotateKey(own webtv key) = %+v, %v", k, err)
		}
		if _, err := e.admin.RotateKey(c, "webtv", client.RotateKeyRequest{Secret: "other-secret", KeyID: "shop"}); err == nil {
			t.Error("merchant 1 took merchant 2's webtv key id")
		} else {
			wantAPIError(t, err, 409, "key_in_use")
		}
		// A merchant key manages its own gateways.
		mc := client.New(e.url, e.key(apikey.RoleMerchant, created.ID))
		if g, err := mc.SetGatewayOpen(c, "mugglepay", true); err != nil || !g.Open {
			t.Errorf("merchant opens its gateway = %+v, %v", g, err)
		}
	})
}

func TestCustomersAndWalletsAPI(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newDomainEnv(t, st)
		c := ctx(t)
		created, err := e.admin.CreateMerchant(c, client.CreateMerchantRequest{Name: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		m2 := created.ID
		mc := client.New(e.url, e.key(apikey.RoleMerchant, m2))

		cust, err := mc.CreateCustomer(c, client.CreateCustomerRequest{ID: 123, Email: "Ann@Example.com", Label: "ann", Currency: "USD", TaxRate: "7.5", Wallets: []string{"points"}})
		if err != nil {
			t.Fatal(err)
		}
		if !cust.Created || cust.Email != "ann@example.com" || cust.TaxRate != "7.5" || len(cust.Wallets) != 1 {
			t.Fatalf("customer = %+v", cust)
		}
		w := cust.Wallets[0]
		if w.Asset != "PTS."+itoa(m2) || len(w.Name) != 32 || w.Balance != "0" || w.Status != "active" {
			t.Errorf("wallet = %+v", w)
		}
		again, err := mc.CreateCustomer(c, client.CreateCustomerRequest{ID: 123, Email: "ann@example.com", Label: "ann", Currency: "USD", TaxRate: "7.50"})
		if err != nil || again.Created {
			t.Errorf("same customer again = %+v, %v", again, err)
		}
		if _, err := mc.CreateCustomer(c, client.CreateCustomerRequest{ID: 124, Email: "ANN@example.com"}); err == nil {
			t.Error("an e-mail was taken twice")
		} else {
			wantAPIError(t, err, 409, "email_taken")
		}
		found, err := mc.ListCustomers(c, client.ListCustomersParams{Email: "aNN@example.COM"})
		if err != nil || len(found.Data) != 1 || found.Data[0].ID != 123 {
			t.Errorf("search by e-mail = %+v, %v", found, err)
		}
		if found, _ := mc.ListCustomers(c, client.ListCustomersParams{Label: "ann"}); len(found.Data) != 1 {
			t.Errorf("search by label = %+v", found)
		}
		// Merchant 1 (the admin without header) sees none of it.
		if _, err := e.admin.GetCustomer(c, 123); err == nil {
			t.Error("merchant 1 sees merchant 2's customer")
		} else {
			wantAPIError(t, err, 404, "customer_not_found")
		}
		for _, ref := range []string{itoa(w.ID), w.Name} {
			if _, err := e.admin.GetWallet(c, ref); err == nil {
				t.Errorf("merchant 1 sees merchant 2's wallet %s", ref)
			}
			if _, err := e.admin.Charge(c, ref, client.MovementRequest{Key: "steal", Amount: "5"}); err == nil {
				t.Errorf("merchant 1 charged merchant 2's wallet %s", ref)
			} else {
				wantAPIError(t, err, 404, "wallet_not_found")
			}
		}
		if page, _ := e.admin.ListWallets(c, client.ListWalletsParams{}); len(page.Data) != 0 {
			t.Errorf("merchant 1 lists %d wallets", len(page.Data))
		}
		// The admin reaches them through the header.
		if got, err := e.admin.ForMerchant(m2).GetWallet(c, w.Name); err != nil || got.ID != w.ID {
			t.Errorf("admin with header: %+v, %v", got, err)
		}

		// Points: charge, withdraw, replays.
		mv, err := mc.Charge(c, w.Name, client.MovementRequest{Key: "c1", Amount: "100"})
		if err != nil || mv.Wallet.Balance != "100" || mv.Transfer.Amount != "100" || mv.Replayed {
			t.Fatalf("charge = %+v, %v", mv, err)
		}
		if mv, err := mc.Charge(c, itoa(w.ID), client.MovementRequest{Key: "c1", Amount: "100"}); err != nil || !mv.Replayed {
			t.Errorf("charge replay = %+v, %v", mv, err)
		}
		if mv, err := mc.Charge(c, w.Name, client.MovementRequest{Key: "c2", Amount: "-30"}); err != nil || mv.Wallet.Balance != "70" {
			t.Errorf("burn = %+v, %v", mv, err)
		}
		if mv, err := mc.Withdraw(c, w.Name, client.MovementRequest{Key: "w1", Amount: "50"}); err != nil || mv.Wallet.Available != "20" {
			t.Errorf("withdraw = %+v, %v", mv, err)
		}
		for i := range 2 {
			_, err := mc.Withdraw(c, w.Name, client.MovementRequest{Key: "w2", Amount: "21"})
			ce := wantAPIError(t, err, 422, "insufficient_funds")
			if ce.Replayed != (i == 1) {
				t.Errorf("withdraw failure %d: replayed = %v", i, ce.Replayed)
			}
		}
		rawTests := []struct {
			body   string
			status int
			code   string
		}{
			{`{"key":"x1","amount":"0"}`, 422, "invalid_amount"},
			{`{"key":"x2","amount":"1.5"}`, 422, "invalid_amount"},
			{`{"amount":"1"}`, 422, "invalid_request"},
			{`{"key":"x3","amount":"1","extra":1}`, 400, "invalid_json"},
		}
		for _, tt := range rawTests {
			status, _, body := e.send("POST", "/coffer/v1/wallets/"+w.Name+"/charge", e.token, tt.body, api.MerchantHeader, itoa(m2))
			if status != tt.status || errCode(body) != tt.code {
				t.Errorf("charge %s = %d %s, want %d %s", tt.body, status, body, tt.status, tt.code)
			}
		}
		// Withdrawals take no negative amounts.
		status, _, body := e.send("POST", "/coffer/v1/wallets/"+w.Name+"/withdraw", e.token, `{"key":"x4","amount":"-1"}`, api.MerchantHeader, itoa(m2))
		if status != 422 || errCode(body) != "invalid_amount" {
			t.Errorf("withdraw -1 = %d %s", status, body)
		}
		// An inactive wallet refuses movements.
		if got, err := mc.SetWalletStatus(c, w.Name, "inactive"); err != nil || got.Status != "inactive" {
			t.Errorf("deactivate = %+v, %v", got, err)
		}
		if _, err := mc.Charge(c, w.Name, client.MovementRequest{Key: "c3", Amount: "1"}); err == nil {
			t.Error("an inactive wallet was charged")
		} else {
			wantAPIError(t, err, 422, "wallet_inactive")
		}

		// Wallets in other assets; listing with balances.
		usd, err := mc.CreateWallet(c, 123, "USD")
		if err != nil || !usd.Created || usd.Scale != 2 || usd.Balance != "0.00" {
			t.Errorf("USD wallet = %+v, %v", usd, err)
		}
		if again, err := mc.CreateWallet(c, 123, "USD"); err != nil || again.Created || again.ID != usd.ID {
			t.Errorf("USD wallet again = %+v, %v", again, err)
		}
		if _, err := mc.CreateWallet(c, 999, ""); err == nil {
			t.Error("a wallet for an unknown customer")
		} else {
			wantAPIError(t, err, 404, "customer_not_found")
		}
		list, err := mc.ListWallets(c, client.ListWalletsParams{CustomerID: 123})
		if err != nil || len(list.Data) != 2 || list.Data[0].Balance != "20" {
			t.Errorf("wallets = %+v, %v", list, err)
		}
		if list, _ := mc.ListWallets(c, client.ListWalletsParams{Asset: "points"}); len(list.Data) != 1 {
			t.Errorf("points wallets = %d", len(list.Data))
		}
		// Points definition.
		if p, err := mc.Points(c); err != nil || p.Scale != 0 || p.Decimal {
			t.Errorf("points = %+v, %v", p, err)
		}
		if _, err := mc.DefinePoints(c, true); err == nil {
			t.Error("the points' scale changed")
		} else {
			wantAPIError(t, err, 409, "asset_conflict")
		}
	})
}

// TestDomainNotConfigured: without the services, the routes answer 503.
func TestDomainNotConfigured(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		eng := ledger.New(st, ledger.Options{ExpiryInterval: -1})
		t.Cleanup(func() { eng.Close(context.Background()) })
		srv := httptest.NewServer(api.New(api.Config{Engine: eng}))
		t.Cleanup(srv.Close)
		tok, row, _ := apikey.Generate(apikey.RoleAdmin, 1, "t")
		if err := st.InsertAPIKey(context.Background(), &row); err != nil {
			t.Fatal(err)
		}
		_, err := client.New(srv.URL, tok).ListWallets(ctx(t), client.ListWalletsParams{})
		wantAPIError(t, err, 503, "unavailable")
	})
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
