package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/coffer-pay/coffer/client"
	"github.com/coffer-pay/coffer/internal/store"
)

func TestAssets(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		tests := []struct {
			name   string
			token  string
			body   string
			status int
			code   string
			field  string
		}{
			{"define", e.admin, `{"code":"PTS","scale":0}`, 201, "", ""},
			{"define again", e.admin, `{"code":"PTS","scale":0}`, 201, "", ""},
			{"other scale", e.admin, `{"code":"PTS","scale":2}`, 409, "asset_conflict", ""},
			{"iso with its scale", e.admin, `{"code":"JPY","scale":0}`, 201, "", ""},
			{"iso with another scale", e.admin, `{"code":"USD","scale":3}`, 409, "asset_conflict", ""},
			{"merchant key", e.other, `{"code":"GEM","scale":0}`, 403, "forbidden", ""},
			{"no key", "", `{"code":"GEM","scale":0}`, 401, "unauthorized", ""},
			{"bad code", e.admin, `{"code":"pts","scale":0}`, 422, "invalid_request", ""},
			{"missing code", e.admin, `{"scale":0}`, 422, "invalid_request", "code"},
			{"missing scale", e.admin, `{"code":"GEM"}`, 422, "invalid_request", "scale"},
			{"scale too big", e.admin, `{"code":"GEM","scale":19}`, 422, "invalid_request", ""},
			{"scale as string", e.admin, `{"code":"GEM","scale":"2"}`, 400, "invalid_json", "scale"},
			{"unknown field", e.admin, `{"code":"GEM","scale":2,"x":1}`, 400, "invalid_json", "x"},
			{"not json", e.admin, `{code:GEM}`, 400, "invalid_json", ""},
			{"empty", e.admin, ``, 400, "invalid_json", ""},
			{"array", e.admin, `[1]`, 400, "invalid_json", ""},
			{"two values", e.admin, `{"code":"GEM","scale":2} {}`, 400, "invalid_json", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.raw("POST", "/coffer/v1/assets", tt.token, tt.body)
				if r.status != tt.status {
					t.Fatalf("status = %d (%s), want %d", r.status, r.body, tt.status)
				}
				if tt.code == "" {
					return
				}
				got := r.errorOf(t)
				if got.Code != tt.code || got.Field != tt.field {
					t.Errorf("error = %s field %q (%s), want %s field %q", got.Code, got.Field, got.Message, tt.code, tt.field)
				}
			})
		}
		as := must[[]client.Asset](t)(e.c.ListAssets(ctx(t)))
		got := map[string]int{}
		for _, a := range as {
			got[a.Code] = a.Scale
		}
		if got["PTS"] != 0 || got["JPY"] != 0 || len(got) != 2 {
			t.Errorf("assets = %v, want PTS:0 and JPY:0", got)
		}
		a, err := e.c.CreateAsset(ctx(t), client.CreateAssetRequest{Code: "GOLD.G", Scale: 4})
		if err != nil || a.Code != "GOLD.G" || a.Scale != 4 || a.Kind != "custom" {
			t.Errorf("CreateAsset = %+v, %v", a, err)
		}
	})
}

func TestCreateAccount(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		tests := []struct {
			name   string
			body   string
			hdr    []string
			status int
			code   string
			field  string
			check  func(t *testing.T, a client.Account)
		}{
			{name: "defaults", body: `{"asset":"USD"}`, status: 201, check: func(t *testing.T, a client.Account) {
				want := client.Account{ID: a.ID, Asset: "USD", Scale: 2, Normal: "credit", OverdraftLimit: "0.00", Balance: "0.00", Pending: "0.00", Available: "0.00",
					DebitsPosted: "0.00", CreditsPosted: "0.00", DebitsPending: "0.00", CreditsPending: "0.00", CreatedAt: a.CreatedAt}
				if a.ID <= 0 || a.CreatedAt.IsZero() || fmt.Sprint(a) != fmt.Sprint(want) {
					t.Errorf("account = %+v, want %+v", a, want)
				}
			}},
			{name: "all fields", body: `{"asset":"BHD","name":"ops","normal":"debit","overdraft_limit":"12.5","metadata":{"b":1,"a":"x"}}`, status: 201, check: func(t *testing.T, a client.Account) {
				if a.Normal != "debit" || a.Scale != 3 || a.OverdraftLimit != "12.500" || a.Name != "ops" || string(a.Metadata) != `{"a":"x","b":1}` {
					t.Errorf("account = %+v", a)
				}
			}},
			{name: "limit as number", body: `{"asset":"USD","overdraft_limit":0.10}`, status: 201, check: func(t *testing.T, a client.Account) {
				if a.OverdraftLimit != "0.10" || a.Available != "0.00" {
					t.Errorf("account = %+v", a)
				}
			}},
			{name: "unlimited", body: `{"asset":"USD","unlimited":true}`, status: 201, check: func(t *testing.T, a client.Account) {
				if !a.Unlimited {
					t.Errorf("account = %+v", a)
				}
			}},
			{name: "missing asset", body: `{}`, status: 422, code: "invalid_request", field: "asset"},
			{name: "bad asset code", body: `{"asset":"usd"}`, status: 422, code: "invalid_request", field: "asset"},
			{name: "unknown asset", body: `{"asset":"NOPE"}`, status: 404, code: "asset_not_found", field: "asset"},
			{name: "bad normal", body: `{"asset":"USD","normal":"both"}`, status: 422, code: "invalid_request", field: "normal"},
			{name: "limit too precise", body: `{"asset":"USD","overdraft_limit":"1.001"}`, status: 422, code: "invalid_amount", field: "overdraft_limit"},
			{name: "limit negative", body: `{"asset":"USD","overdraft_limit":"-1"}`, status: 422, code: "invalid_amount", field: "overdraft_limit"},
			{name: "limit exponent", body: `{"asset":"USD","overdraft_limit":1e3}`, status: 422, code: "invalid_amount", field: "overdraft_limit"},
			{name: "limit bool", body: `{"asset":"USD","overdraft_limit":true}`, status: 400, code: "invalid_json", field: "overdraft_limit"},
			{name: "unlimited with limit", body: `{"asset":"USD","unlimited":true,"overdraft_limit":"1"}`, status: 422, code: "invalid_request", field: "overdraft_limit"},
			{name: "metadata not object", body: `{"asset":"USD","metadata":[1]}`, status: 422, code: "invalid_request"},
			{name: "long name", body: `{"asset":"USD","name":"` + strings.Repeat("n", 201) + `"}`, status: 422, code: "invalid_request", field: "name"},
			{name: "unknown field", body: `{"asset":"USD","colour":"red"}`, status: 400, code: "invalid_json", field: "colour"},
			{name: "wrong type", body: `{"asset":"USD","unlimited":"yes"}`, status: 400, code: "invalid_json", field: "unlimited"},
			{name: "key mismatch", body: `{"asset":"USD","key":"a"}`, hdr: []string{"Idempotency-Key", "b"}, status: 422, code: "invalid_request", field: "key"},
			{name: "bad key", body: `{"asset":"USD","key":"a\u0001"}`, status: 422, code: "invalid_request", field: "key"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.raw("POST", "/coffer/v1/accounts", e.admin, tt.body, tt.hdr...)
				if r.status != tt.status {
					t.Fatalf("status = %d (%s), want %d", r.status, r.body, tt.status)
				}
				if tt.code != "" {
					got := r.errorOf(t)
					if got.Code != tt.code || got.Field != tt.field {
						t.Errorf("error = %s field %q (%s), want %s field %q", got.Code, got.Field, got.Message, tt.code, tt.field)
					}
					return
				}
				var a client.Account
				if err := json.Unmarshal(r.body, &a); err != nil {
					t.Fatal(err)
				}
				tt.check(t, a)
			})
		}
	})
}

func TestCreateAccountIdempotent(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		body := `{"asset":"USD","name":"w","metadata":{"k":"v"}}`
		first := e.raw("POST", "/coffer/v1/accounts", e.admin, body, "Idempotency-Key", "acct-1")
		if first.status != 201 || first.header.Get("Idempotency-Replayed") != "" {
			t.Fatalf("first = %d %v %s", first.status, first.header, first.body)
		}
		again := e.raw("POST", "/coffer/v1/accounts", e.admin, body, "Idempotency-Key", "acct-1")
		if again.status != 200 || again.header.Get("Idempotency-Replayed") != "true" {
			t.Fatalf("replay = %d %v", again.status, again.header)
		}
		if string(again.body) != string(first.body) {
			t.Errorf("replay body = %s, want %s", again.body, first.body)
		}
		// The key in the body is the same key.
		viaBody := e.raw("POST", "/coffer/v1/accounts", e.admin, `{"key":"acct-1","asset":"USD","name":"w","metadata":{"k":"v"}}`)
		if viaBody.status != 200 || string(viaBody.body) != string(first.body) {
			t.Errorf("replay via body = %d %s", viaBody.status, viaBody.body)
		}
		conflicts := []struct{ body, field string }{
			{`{"asset":"USD","name":"other","metadata":{"k":"v"}}`, "name"},
			{`{"asset":"EUR","name":"w","metadata":{"k":"v"}}`, "asset"},
			{`{"asset":"USD","name":"w","normal":"debit","metadata":{"k":"v"}}`, "normal"},
			{`{"asset":"USD","name":"w"}`, "metadata"},
		}
		for _, c := range conflicts {
			t.Run(c.field, func(t *testing.T) {
				r := e.raw("POST", "/coffer/v1/accounts", e.admin, c.body, "Idempotency-Key", "acct-1")
				if r.status != http.StatusConflict {
					t.Fatalf("status = %d %s, want 409", r.status, r.body)
				}
				if got := r.errorOf(t); got.Code != "idempotency_conflict" || got.Field != c.field {
					t.Errorf("error = %+v, want idempotency_conflict on %s", got, c.field)
				}
			})
		}
		// Another merchant may use the same key for its own account.
		a2 := must[client.Account](t)(e.c2.CreateAccount(ctx(t), client.CreateAccountRequest{Key: "acct-1", Asset: "USD"}))
		if a2.Replayed {
			t.Errorf("second merchant's account was a replay of the first's")
		}
	})
}

func TestGetAccount(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		f := e.fixture(t)
		mine := must[client.Account](t)(e.c.GetAccount(ctx(t), f.a))
		if mine.Balance != "100.00" || mine.CreditsPosted != "100.00" || mine.Available != "100.00" || mine.Name != "alice" {
			t.Errorf("account a = %+v", mine)
		}
		mint := must[client.Account](t)(e.c.GetAccount(ctx(t), f.mint))
		if mint.Balance != "100.00" || mint.DebitsPosted != "100.00" || mint.Normal != "debit" {
			t.Errorf("mint = %+v", mint)
		}
		theirs := must[client.Account](t)(e.c2.CreateAccount(ctx(t), client.CreateAccountRequest{Asset: "USD"}))
		tests := []struct {
			name   string
			c      *client.Client
			path   string
			status int
			code   string
		}{
			{"mine", e.c, fmt.Sprint("/coffer/v1/accounts/", f.a), 200, ""},
			{"missing", e.c, "/coffer/v1/accounts/999999", 404, "account_not_found"},
			{"not a number", e.c, "/coffer/v1/accounts/abc", 404, "account_not_found"},
			{"zero", e.c, "/coffer/v1/accounts/0", 404, "account_not_found"},
			{"other merchant's", e.c, fmt.Sprint("/coffer/v1/accounts/", theirs.ID), 404, "account_not_found"},
			{"mine seen by other merchant", e.c2, fmt.Sprint("/coffer/v1/accounts/", f.a), 404, "account_not_found"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tok := e.admin
				if tt.c == e.c2 {
					tok = e.other
				}
				r := e.raw("GET", tt.path, tok, "")
				if r.status != tt.status {
					t.Fatalf("status = %d %s, want %d", r.status, r.body, tt.status)
				}
				if tt.code != "" && r.errorOf(t).Code != tt.code {
					t.Errorf("code = %s, want %s", r.errorOf(t).Code, tt.code)
				}
			})
		}
	})
}

func TestListAccounts(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		var usd, eur []int64
		for i := range 5 {
			a := must[client.Account](t)(e.c.CreateAccount(ctx(t), client.CreateAccountRequest{Asset: "USD", Name: fmt.Sprint("u", i)}))
			usd = append(usd, a.ID)
			b := must[client.Account](t)(e.c.CreateAccount(ctx(t), client.CreateAccountRequest{Asset: "EUR"}))
			eur = append(eur, b.ID)
		}
		must[client.Account](t)(e.c2.CreateAccount(ctx(t), client.CreateAccountRequest{Asset: "USD"}))

		// Walk the pages of each listing and compare with what was created.
		walk := func(t *testing.T, c *client.Client, p client.ListAccountsParams) (ids []int64, pages int) {
			for {
				pg := must[client.AccountPage](t)(c.ListAccounts(ctx(t), p))
				pages++
				if p.Limit > 0 && len(pg.Data) > p.Limit {
					t.Fatalf("page of %d, limit %d", len(pg.Data), p.Limit)
				}
				for _, a := range pg.Data {
					ids = append(ids, a.ID)
				}
				if pg.NextCursor == "" {
					return ids, pages
				}
				p.Cursor = pg.NextCursor
			}
		}
		tests := []struct {
			name      string
			c         *client.Client
			p         client.ListAccountsParams
			want      []int64
			wantPages int
		}{
			{"usd by 2", e.c, client.ListAccountsParams{Asset: "USD", Limit: 2}, usd, 3},
			{"eur by 5", e.c, client.ListAccountsParams{Asset: "EUR", Limit: 5}, eur, 1},
			{"all by 3", e.c, client.ListAccountsParams{Limit: 3}, interleave(usd, eur), 4},
			{"default limit", e.c, client.ListAccountsParams{}, interleave(usd, eur), 1},
			{"unused asset", e.c, client.ListAccountsParams{Asset: "JPY"}, nil, 1},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ids, pages := walk(t, tt.c, tt.p)
				if fmt.Sprint(ids) != fmt.Sprint(tt.want) || pages != tt.wantPages {
					t.Errorf("ids = %v in %d pages, want %v in %d", ids, pages, tt.want, tt.wantPages)
				}
			})
		}
		t.Run("other merchant sees only its own", func(t *testing.T) {
			ids, _ := walk(t, e.c2, client.ListAccountsParams{})
			if len(ids) != 1 {
				t.Errorf("merchant 2 sees %v", ids)
			}
		})
		bad := []struct{ query, field string }{
			{"limit=0", "limit"},
			{"limit=1001", "limit"},
			{"limit=x", "limit"},
			{"cursor=nonsense", "cursor"},
			{"cursor=aWQ6LTE", "cursor"}, // "id:-1"
			{"asset=usd", "asset"},
		}
		for _, b := range bad {
			t.Run(b.query, func(t *testing.T) {
				r := e.raw("GET", "/coffer/v1/accounts?"+b.query, e.admin, "")
				if r.status != 422 || r.errorOf(t).Field != b.field {
					t.Errorf("answer = %d %s, want 422 on %s", r.status, r.body, b.field)
				}
			})
		}
	})
}

func interleave(a, b []int64) []int64 {
	var out []int64
	for i := range a {
		out = append(out, a[i], b[i])
	}
	return out
}
