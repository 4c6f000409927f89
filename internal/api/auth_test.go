package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/client"
	"github.com/coffer-pay/coffer/internal/apikey"
	"github.com/coffer-pay/coffer/internal/store"
)

func TestAuth(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		tok, row, err := apikey.Generate(apikey.RoleMerchant, 1, "revoked")
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		row.RevokedAt = &now
		if err := st.InsertAPIKey(context.Background(), &row); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name   string
			header string
			status int
		}{
			{"admin key", "Bearer " + e.admin, 200},
			{"merchant key", "Bearer " + e.other, 200},
			{"scheme in lower case", "bearer " + e.admin, 200},
			{"no header", "", 401},
			{"basic auth", "Basic " + e.admin, 401},
			{"no scheme", e.admin, 401},
			{"revoked key", "Bearer " + tok, 401},
			{"unknown key", "Bearer ck_zzzzzzzzzzzz_" + strings.Repeat("z", 52), 401},
			{"tampered secret", "Bearer " + e.admin[:len(e.admin)-1] + "x", 401},
			{"garbage", "Bearer ck_", 401},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var hdr []string
				if tt.header != "" {
					hdr = []string{"Authorization", tt.header}
				}
				r := e.raw("GET", "/coffer/v1/assets", "", "", hdr...)
				if r.status != tt.status {
					t.Fatalf("status = %d %s, want %d", r.status, r.body, tt.status)
				}
				if tt.status != 401 {
					return
				}
				if got := r.errorOf(t).Code; got != "unauthorized" {
					t.Errorf("code = %s, want unauthorized", got)
				}
				if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("WWW-Authenticate = %q", got)
				}
			})
		}
		// The document needs no key.
		if r := e.raw("GET", "/coffer/v1/openapi.json", "", ""); r.status != 200 {
			t.Errorf("openapi.json without a key = %d", r.status)
		}
		doc, err := client.New(e.url, "").OpenAPI(ctx(t))
		if err != nil || !strings.Contains(string(doc), `"openapi": "3.1.0"`) {
			t.Errorf("client OpenAPI = %.40s…, %v", doc, err)
		}
	})
}

func TestBodyLimits(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		pad := strings.Repeat(" ", 1<<20)
		tests := []struct {
			name, path, body string
			status           int
		}{
			{"single over 1 MiB", "/coffer/v1/transfers", `{"key":"x"` + pad + `}`, http.StatusRequestEntityTooLarge},
			{"account over 1 MiB", "/coffer/v1/accounts", `{"asset":"USD"` + pad + `}`, http.StatusRequestEntityTooLarge},
			{"batch of 1 MiB is fine", "/coffer/v1/transfers/batch", `{"transfers":[]` + pad + `}`, http.StatusUnprocessableEntity},
			{"batch over 16 MiB", "/coffer/v1/transfers/batch", `{"transfers":[]` + strings.Repeat(pad, 16) + `}`, http.StatusRequestEntityTooLarge},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.raw("POST", tt.path, e.admin, tt.body)
				if r.status != tt.status {
					t.Fatalf("status = %d %s, want %d", r.status, r.body, tt.status)
				}
				if tt.status == http.StatusRequestEntityTooLarge && r.errorOf(t).Code != "body_too_large" {
					t.Errorf("code = %s, want body_too_large", r.errorOf(t).Code)
				}
			})
		}
	})
}

// TestUnavailable stops the engine under the API: writes answer 503 with
// Retry-After, which the client reports as temporary.
func TestUnavailable(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		f := e.fixture(t)
		if err := e.eng.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		_, err := e.c.CreateTransfer(ctx(t), client.TransferRequest{Key: "late", DebitAccountID: f.a, CreditAccountID: f.b, Asset: "USD", Amount: "1"})
		ce := wantAPIError(t, err, http.StatusServiceUnavailable, "shutting_down")
		if ce.RetryAfter != time.Second || !client.Temporary(err) {
			t.Errorf("error = %+v, want Retry-After 1s and temporary", ce)
		}
		// Reads still work.
		if got := e.balance(t, f.a)[0]; got != "100.00" {
			t.Errorf("balance = %s", got)
		}
	})
}
