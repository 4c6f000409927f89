package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/client"
	"github.com/coffer-pay/coffer/internal/api"
	"github.com/coffer-pay/coffer/internal/apikey"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/postgres"
	"github.com/coffer-pay/coffer/internal/store/sqlite"
)

// forEachStore runs fn on a fresh SQLite store and, when
// COFFER_TEST_POSTGRES is set, on a fresh PostgreSQL database.
func forEachStore(t *testing.T, fn func(t *testing.T, st store.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, sqlite.OpenTest(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, postgres.OpenTest(t))
	})
}

// env is a running API over a real engine and database, with an admin key
// of merchant 1 and a merchant key of a second merchant.
type env struct {
	t     *testing.T
	st    store.Store
	eng   *ledger.Engine
	url   string
	admin string // token of merchant 1, role admin
	other string // token of merchant 2, role merchant
	c     *client.Client
	c2    *client.Client
	m2    int64
}

func newEnv(t *testing.T, st store.Store) *env {
	t.Helper()
	ctx := context.Background()
	// Runs after the engine has stopped (cleanups run last in, first out):
	// whatever the test did, the ledger must still be sound.
	t.Cleanup(func() { verifyLedger(t, st) })
	eng := ledger.New(st, ledger.Options{})
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := eng.Close(cctx); err != nil {
			t.Errorf("close engine: %v", err)
		}
	})
	srv := httptest.NewServer(api.New(api.Config{Engine: eng}))
	t.Cleanup(srv.Close)
	e := &env{t: t, st: st, eng: eng, url: srv.URL}
	e.admin = e.newKey(apikey.RoleAdmin, 1)
	m, err := st.CreateMerchant(ctx, "second")
	if err != nil {
		t.Fatalf("create merchant: %v", err)
	}
	e.m2 = m.ID
	e.other = e.newKey(apikey.RoleMerchant, m.ID)
	e.c = client.New(srv.URL, e.admin)
	e.c2 = client.New(srv.URL, e.other)
	return e
}

func (e *env) newKey(role string, merchant int64) string {
	e.t.Helper()
	tok, row, err := apikey.Generate(role, merchant, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.InsertAPIKey(context.Background(), &row); err != nil {
		e.t.Fatalf("insert key: %v", err)
	}
	return tok
}

func verifyLedger(t *testing.T, st store.Store) {
	t.Helper()
	rep, err := ledger.Verify(context.Background(), st)
	if err != nil {
		t.Errorf("ledger.Verify: %v", err)
		return
	}
	for _, p := range rep.Problems {
		t.Errorf("ledger.Verify: %s", p)
	}
}

// reply is a raw HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// errorOf decodes the error object of an error answer.
func (r reply) errorOf(t *testing.T) client.Error {
	t.Helper()
	var b struct {
		Error *client.Error `json:"error"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil || b.Error == nil {
		t.Fatalf("answer %d %s is not an error object", r.status, r.body)
	}
	return *b.Error
}

// raw sends a request with the given token ("" for none) and headers.
func (e *env) raw(method, path, token, body string, hdr ...string) reply {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// ctx returns a context for one test step.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// must fails the test on err.
func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

// wantAPIError checks that err is an *client.Error with status and code.
func wantAPIError(t *testing.T, err error, status int, code string) *client.Error {
	t.Helper()
	ce, ok := err.(*client.Error)
	if !ok {
		t.Fatalf("error = %v (%T), want *client.Error %d %s", err, err, status, code)
	}
	if ce.Status != status || ce.Code != code {
		t.Fatalf("error = %d %s (%s), want %d %s", ce.Status, ce.Code, ce.Message, status, code)
	}
	return ce
}

// fixture opens accounts in USD for merchant 1: an unlimited mint (debit
// normal) and two wallets, the first funded with 100.00.
type fixture struct {
	mint, a, b int64
}

func (e *env) fixture(t *testing.T) fixture {
	t.Helper()
	c := ctx(t)
	mint := must[client.Account](t)(e.c.CreateAccount(c, client.CreateAccountRequest{Asset: "USD", Name: "mint", Normal: "debit", Unlimited: true}))
	a := must[client.Account](t)(e.c.CreateAccount(c, client.CreateAccountRequest{Asset: "USD", Name: "alice"}))
	b := must[client.Account](t)(e.c.CreateAccount(c, client.CreateAccountRequest{Asset: "USD", Name: "bob"}))
	must[client.Transfer](t)(e.c.CreateTransfer(c, client.TransferRequest{Key: "fund-a", DebitAccountID: mint.ID, CreditAccountID: a.ID, Asset: "USD", Amount: "100.00"}))
	return fixture{mint: mint.ID, a: a.ID, b: b.ID}
}

// balance returns an account's balance, pending and available amounts.
func (e *env) balance(t *testing.T, id int64) [3]string {
	t.Helper()
	a := must[client.Account](t)(e.c.GetAccount(ctx(t), id))
	return [3]string{a.Balance, a.Pending, a.Available}
}

func jsonEqual(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}
