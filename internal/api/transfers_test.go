package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/client"
	"github.com/coffer-pay/coffer/internal/store"
)

func TestCreateTransfer(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		f := e.fixture(t)
		eur := must[client.Account](t)(e.c.CreateAccount(ctx(t), client.CreateAccountRequest{Asset: "EUR"}))
		theirs := must[client.Account](t)(e.c2.CreateAccount(ctx(t), client.CreateAccountRequest{Asset: "USD"}))
		tr := func(key, amount string, extra string) string {
			return fmt.Sprintf(`{"key":%q,"debit_account_id":%d,"credit_account_id":%d,"asset":"USD","amount":%s%s}`, key, f.a, f.b, amount, extra)
		}
		tests := []struct {
			name   string
			token  string
			body   string
			hdr    []string
			status int
			code   string
			field  string
			amount string // the transfer's amount on success
		}{
			{name: "string amount", body: tr("t1", `"1.50"`, ""), status: 201, amount: "1.50"},
			{name: "number amount", body: tr("t2", `2.25`, ""), status: 201, amount: "2.25"},
			{name: "integer amount", body: tr("t3", `3`, ""), status: 201, amount: "3.00"},
			{name: "trailing zeros", body: tr("t4", `"0.100"`, ""), status: 201, amount: "0.10"},
			{name: "key in header", body: fmt.Sprintf(`{"debit_account_id":%d,"credit_account_id":%d,"asset":"USD","amount":"1"}`, f.a, f.b), hdr: []string{"Idempotency-Key", "t5"}, status: 201, amount: "1.00"},
			{name: "same key in both", body: tr("t6", `"1"`, ""), hdr: []string{"Idempotency-Key", "t6"}, status: 201, amount: "1.00"},
			{name: "with metadata", body: tr("t7", `"1"`, `,"metadata":{"order":"42"}`), status: 201, amount: "1.00"},
			{name: "too precise", body: tr("e1", `"1.001"`, ""), status: 422, code: "invalid_amount", field: "amount"},
			{name: "too precise number", body: tr("e2", `1.001`, ""), status: 422, code: "invalid_amount", field: "amount"},
			{name: "exponent", body: tr("e3", `1e2`, ""), status: 422, code: "invalid_amount", field: "amount"},
			{name: "zero", body: tr("e4", `"0"`, ""), status: 422, code: "invalid_amount", field: "amount"},
			{name: "negative", body: tr("e5", `"-1"`, ""), status: 422, code: "invalid_amount", field: "amount"},
			{name: "missing amount", body: tr("e6", `null`, ""), status: 422, code: "invalid_amount", field: "amount"},
			{name: "huge", body: tr("e7", `"99999999999999999999"`, ""), status: 422, code: "invalid_amount", field: "amount"},
			{name: "amount object", body: tr("e8", `{}`, ""), status: 400, code: "invalid_json", field: "amount"},
			{name: "insufficient funds", body: tr("e9", `"1000"`, ""), status: 422, code: "insufficient_funds"},
			{name: "same account", body: fmt.Sprintf(`{"key":"e10","debit_account_id":%d,"credit_account_id":%d,"asset":"USD","amount":"1"}`, f.a, f.a), status: 422, code: "same_account"},
			{name: "unknown account", body: fmt.Sprintf(`{"key":"e11","debit_account_id":%d,"credit_account_id":999999,"asset":"USD","amount":"1"}`, f.a), status: 404, code: "account_not_found"},
			{name: "other merchant's account", body: fmt.Sprintf(`{"key":"e12","debit_account_id":%d,"credit_account_id":%d,"asset":"USD","amount":"1"}`, f.a, theirs.ID), status: 404, code: "account_not_found"},
			{name: "asset mismatch", body: fmt.Sprintf(`{"key":"e13","debit_account_id":%d,"credit_account_id":%d,"asset":"USD","amount":"1"}`, f.a, eur.ID), status: 422, code: "asset_mismatch"},
			{name: "missing asset", body: fmt.Sprintf(`{"key":"e14","debit_account_id":%d,"credit_account_id":%d,"amount":"1"}`, f.a, f.b), status: 422, code: "invalid_request", field: "asset"},
			{name: "unknown asset", body: fmt.Sprintf(`{"key":"e15","debit_account_id":%d,"credit_account_id":%d,"asset":"NOPE","amount":"1"}`, f.a, f.b), status: 404, code: "asset_not_found", field: "asset"},
			{name: "missing debit", body: fmt.Sprintf(`{"key":"e16","credit_account_id":%d,"asset":"USD","amount":"1"}`, f.b), status: 422, code: "invalid_request", field: "debit_account_id"},
			{name: "missing key", body: fmt.Sprintf(`{"debit_account_id":%d,"credit_account_id":%d,"asset":"USD","amount":"1"}`, f.a, f.b), status: 422, code: "invalid_request", field: "key"},
			{name: "key mismatch", body: tr("e17", `"1"`, ""), hdr: []string{"Idempotency-Key", "other"}, status: 422, code: "invalid_request", field: "key"},
			{name: "key too long", body: tr(strings.Repeat("k", 129), `"1"`, ""), status: 422, code: "invalid_request", field: "key"},
			{name: "linked", body: tr("e18", `"1"`, `,"linked":true`), status: 422, code: "invalid_request", field: "linked"},
			{name: "timeout without pending", body: tr("e19", `"1"`, `,"timeout_seconds":5`), status: 422, code: "invalid_request", field: "timeout_seconds"},
			{name: "negative timeout", body: tr("e20", `"1"`, `,"pending":true,"timeout_seconds":-1`), status: 422, code: "invalid_request", field: "timeout_seconds"},
			{name: "metadata not object", body: tr("e21", `"1"`, `,"metadata":"x"`), status: 422, code: "invalid_request"},
			{name: "unknown field", body: tr("e22", `"1"`, `,"memo":"x"`), status: 400, code: "invalid_json", field: "memo"},
			{name: "id as string", body: fmt.Sprintf(`{"key":"e23","debit_account_id":"%d","credit_account_id":%d,"asset":"USD","amount":"1"}`, f.a, f.b), status: 400, code: "invalid_json", field: "debit_account_id"},
			{name: "id as float", body: fmt.Sprintf(`{"key":"e24","debit_account_id":1.5,"credit_account_id":%d,"asset":"USD","amount":"1"}`, f.b), status: 400, code: "invalid_json", field: "debit_account_id"},
			{name: "truncated", body: `{"key":"e25","debit_account_id":`, status: 400, code: "invalid_json"},
			{name: "no key", token: "-", body: tr("e26", `"1"`, ""), status: 401, code: "unauthorized"},
			{name: "bad key", token: "ck_aaaaaaaaaaaa_" + strings.Repeat("a", 52), body: tr("e27", `"1"`, ""), status: 401, code: "unauthorized"},
			{name: "not a key", token: "hello", body: tr("e28", `"1"`, ""), status: 401, code: "unauthorized"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tok := e.admin
				switch tt.token {
				case "":
				case "-":
					tok = ""
				default:
					tok = tt.token
				}
				r := e.raw("POST", "/coffer/v1/transfers", tok, tt.body, tt.hdr...)
				if r.status != tt.status {
					t.Fatalf("status = %d (%s), want %d", r.status, r.body, tt.status)
				}
				if tt.code != "" {
					got := r.errorOf(t)
					if got.Code != tt.code || got.Field != tt.field {
						t.Errorf("error = %s field %q (%s), want %s field %q", got.Code, got.Field, got.Message, tt.code, tt.field)
					}
					if tt.status == 401 && r.header.Get("WWW-Authenticate") == "" {
						t.Errorf("401 without WWW-Authenticate")
					}
					return
				}
				var tr client.Transfer
				if err := json.Unmarshal(r.body, &tr); err != nil {
					t.Fatal(err)
				}
				if tr.Amount != tt.amount || tr.Kind != "single" || tr.State != "posted" || tr.DebitAccountID != f.a || tr.CreditAccountID != f.b || tr.Asset != "USD" {
					t.Errorf("transfer = %+v, want a posted %s", tr, tt.amount)
				}
			})
		}
		// 1.50 + 2.25 + 3 + 0.10 + 1 + 1 + 1 = 9.85 moved from a to b.
		if got, want := e.balance(t, f.a), [3]string{"90.15", "0.00", "90.15"}; got != want {
			t.Errorf("a = %v, want %v", got, want)
		}
		if got, want := e.balance(t, f.b), [3]string{"9.85", "0.00", "9.85"}; got != want {
			t.Errorf("b = %v, want %v", got, want)
		}
	})
}

func TestTransferIdempotency(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		f := e.fixture(t)
		body := fmt.Sprintf(`{"key":"pay-1","debit_account_id":%d,"credit_account_id":%d,"asset":"USD","amount":"10","metadata":{"z":1,"a":[true]}}`, f.a, f.b)
		first := e.raw("POST", "/coffer/v1/transfers", e.admin, body)
		if first.status != 201 || first.header.Get("Idempotency-Replayed") != "" {
			t.Fatalf("first = %d %s", first.status, first.body)
		}
		for i := range 2 {
			again := e.raw("POST", "/coffer/v1/transfers", e.admin, body)
			if again.status != 200 || again.header.Get("Idempotency-Replayed") != "true" {
				t.Fatalf("replay %d = %d %v %s", i, again.status, again.header, again.body)
			}
			if string(again.body) != string(first.body) {
				t.Errorf("replay body = %s, want %s", again.body, first.body)
			}
		}
		// The amount as a number, the key in the header: the same request.
		same := e.raw("POST", "/coffer/v1/transfers", e.admin,
			fmt.Sprintf(`{"debit_account_id":%d,"credit_account_id":%d,"asset":"USD","amount":10.00,"metadata":{"a":[true],"z":1}}`, f.a, f.b),
			"Idempotency-Key", "pay-1")
		if same.status != 200 || string(same.body) != string(first.body) {
			t.Errorf("equivalent replay = %d %s", same.status, same.body)
		}
		conflicts := []struct{ body, field string }{
			{fmt.Sprintf(`{"key":"pay-1","debit_account_id":%d,"credit_account_id":%d,"asset":"USD","amount":"11","metadata":{"z":1,"a":[true]}}`, f.a, f.b), "amount"},
			{fmt.Sprintf(`{"key":"pay-1","debit_account_id":%d,"credit_account_id":%d,"asset":"USD","amount":"10","metadata":{"z":1,"a":[true]}}`, f.a, f.mint), "credit_account_id"},
			{fmt.Sprintf(`{"key":"pay-1","debit_account_id":%d,"credit_account_id":%d,"asset":"USD","amount":"10","metadata":{"z":2}}`, f.a, f.b), "metadata"},
			{fmt.Sprintf(`{"key":"pay-1","debit_account_id":%d,"credit_account_id":%d,"asset":"USD","amount":"10","pending":true,"metadata":{"z":1,"a":[true]}}`, f.a, f.b), "pending"},
		}
		for _, c := range conflicts {
			t.Run("conflict "+c.field, func(t *testing.T) {
				r := e.raw("POST", "/coffer/v1/transfers", e.admin, c.body)
				if r.status != http.StatusConflict {
					t.Fatalf("status = %d %s, want 409", r.status, r.body)
				}
				if got := r.errorOf(t); got.Code != "idempotency_conflict" || got.Field != c.field {
					t.Errorf("error = %+v, want idempotency_conflict on %s", got, c.field)
				}
			})
		}
		if got, want := e.balance(t, f.b), [3]string{"10.00", "0.00", "10.00"}; got != want {
			t.Errorf("b = %v, want %v: replays must not move money", got, want)
		}

		// A failure is stored and replayed as it was, even once it would
		// succeed.
		big := fmt.Sprintf(`{"key":"pay-2","debit_account_id":%d,"credit_account_id":%d,"asset":"USD","amount":"500"}`, f.a, f.b)
		fail := e.raw("POST", "/coffer/v1/transfers", e.admin, big)
		if fail.status != 422 || fail.errorOf(t).Code != "insufficient_funds" || fail.header.Get("Idempotency-Replayed") != "" {
			t.Fatalf("first failure = %d %v %s", fail.status, fail.header, fail.body)
		}
		must[client.Transfer](t)(e.c.CreateTransfer(ctx(t), client.TransferRequest{Key: "fund-more", DebitAccountID: f.mint, CreditAccountID: f.a, Asset: "USD", Amount: "1000"}))
		again := e.raw("POST", "/coffer/v1/transfers", e.admin, big)
		if again.status != 422 || again.header.Get("Idempotency-Replayed") != "true" || string(again.body) != string(fail.body) {
			t.Errorf("replayed failure = %d %v %s, want %d %s with the replay header", again.status, again.header, again.body, fail.status, fail.body)
		}
		_, err := e.c.CreateTransfer(ctx(t), client.TransferRequest{Key: "pay-2", DebitAccountID: f.a, CreditAccountID: f.b, Asset: "USD", Amount: "500"})
		if ce := wantAPIError(t, err, 422, "insufficient_funds"); !ce.Replayed {
			t.Errorf("client error not marked replayed: %+v", ce)
		}
		o := must[client.Outcome](t)(e.c.LookupTransfer(ctx(t), "pay-2"))
		if o.Status != "failed" || o.Error == nil || o.Error.Code != "insufficient_funds" || o.Transfer != nil {
			t.Errorf("outcome of pay-2 = %+v", o)
		}
		// The same request with another body is still a conflict.
		r := e.raw("POST", "/coffer/v1/transfers", e.admin, strings.Replace(big, `"500"`, `"5"`, 1))
		if r.status != 409 || r.errorOf(t).Field != "amount" {
			t.Errorf("reuse of a failed key = %d %s, want 409 on amount", r.status, r.body)
		}
	})
}

func TestLookupTransfer(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		f := e.fixture(t)
		ok := must[client.Transfer](t)(e.c.CreateTransfer(ctx(t), client.TransferRequest{Key: "k-ok", DebitAccountID: f.a, CreditAccountID: f.b, Asset: "USD", Amount: "5"}))
		_, err := e.c.CreateTransfer(ctx(t), client.TransferRequest{Key: "k-fail", DebitAccountID: f.b, CreditAccountID: f.a, Asset: "USD", Amount: "50"})
		wantAPIError(t, err, 422, "insufficient_funds")
		// Refused before the ledger: no outcome is stored.
		_, err = e.c.CreateTransfer(ctx(t), client.TransferRequest{Key: "k-bad", DebitAccountID: f.a, CreditAccountID: f.b, Asset: "USD", Amount: "0.001"})
		wantAPIError(t, err, 422, "invalid_amount")

		tests := []struct {
			name   string
			token  string
			query  string
			status int
			want   string // outcome status, or error code
		}{
			{"succeeded", e.admin, "key=k-ok", 200, "succeeded"},
			{"failed", e.admin, "key=k-fail", 200, "failed"},
			{"refused early", e.admin, "key=k-bad", 404, "key_not_found"},
			{"never seen", e.admin, "key=k-none", 404, "key_not_found"},
			{"other merchant", e.other, "key=k-ok", 404, "key_not_found"},
			{"missing key", e.admin, "", 422, "invalid_request"},
			{"key with control char", e.admin, "key=%01", 422, "invalid_request"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.raw("GET", "/coffer/v1/transfers?"+tt.query, tt.token, "")
				if r.status != tt.status {
					t.Fatalf("status = %d %s, want %d", r.status, r.body, tt.status)
				}
				if r.status != 200 {
					if got := r.errorOf(t); got.Code != tt.want {
						t.Errorf("code = %s, want %s", got.Code, tt.want)
					}
					return
				}
				var o client.Outcome
				if err := json.Unmarshal(r.body, &o); err != nil {
					t.Fatal(err)
				}
				if o.Status != tt.want {
					t.Errorf("outcome = %s, want %s", r.body, tt.want)
				}
			})
		}
		o := must[client.Outcome](t)(e.c.LookupTransfer(ctx(t), "k-ok"))
		if !o.Succeeded() || o.Transfer == nil || o.Transfer.ID != ok.ID || o.Transfer.Amount != "5.00" || o.Key != "k-ok" {
			t.Errorf("outcome = %+v, want transfer %d", o, ok.ID)
		}
		_, err = e.c.LookupTransfer(ctx(t), "k-none")
		wantAPIError(t, err, 404, "key_not_found")
	})
}

func TestGetTransfer(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		f := e.fixture(t)
		created := must[client.Transfer](t)(e.c.CreateTransfer(ctx(t), client.TransferRequest{Key: "g1", DebitAccountID: f.a, CreditAccountID: f.b, Asset: "USD", Amount: "7.07", Metadata: json.RawMessage(`{"n":1}`)}))
		got := must[client.Transfer](t)(e.c.GetTransfer(ctx(t), created.ID))
		got.Replayed, created.Replayed = false, false
		if fmt.Sprint(got) != fmt.Sprint(created) {
			t.Errorf("GetTransfer = %+v, want %+v", got, created)
		}
		for _, path := range []string{"/coffer/v1/transfers/999999", "/coffer/v1/transfers/x", "/coffer/v1/transfers/-1"} {
			r := e.raw("GET", path, e.admin, "")
			if r.status != 404 || r.errorOf(t).Code != "transfer_not_found" {
				t.Errorf("GET %s = %d %s", path, r.status, r.body)
			}
		}
		_, err := e.c2.GetTransfer(ctx(t), created.ID)
		wantAPIError(t, err, 404, "transfer_not_found")
	})
}

func TestPendingTransfers(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		f := e.fixture(t)
		c := ctx(t)
		hold := func(key, amount string) client.Transfer {
			t.Helper()
			p := must[client.Transfer](t)(e.c.CreateTransfer(c, client.TransferRequest{Key: key, DebitAccountID: f.a, CreditAccountID: f.b, Asset: "USD", Amount: amount, Pending: true, TimeoutSeconds: 3600}))
			if p.Kind != "pending" || p.State != "pending" || p.TimeoutAt == nil {
				t.Fatalf("hold = %+v", p)
			}
			return p
		}
		p1 := hold("h1", "30")
		if got, want := e.balance(t, f.a), [3]string{"100.00", "30.00", "70.00"}; got != want {
			t.Errorf("a after hold = %v, want %v", got, want)
		}
		// The hold counts against what a can spend.
		_, err := e.c.CreateTransfer(c, client.TransferRequest{Key: "over", DebitAccountID: f.a, CreditAccountID: f.b, Asset: "USD", Amount: "70.01"})
		wantAPIError(t, err, 422, "insufficient_funds")

		// Partial post.
		post := must[client.Transfer](t)(e.c.PostTransfer(c, p1.ID, client.PostRequest{Key: "h1-post", Amount: "12.34"}))
		if post.Kind != "post" || post.Amount != "12.34" || post.PendingID != p1.ID {
			t.Errorf("post = %+v", post)
		}
		if got := must[client.Transfer](t)(e.c.GetTransfer(c, p1.ID)); got.State != "posted" {
			t.Errorf("pending after post = %s, want posted", got.State)
		}
		if got, want := e.balance(t, f.a), [3]string{"87.66", "0.00", "87.66"}; got != want {
			t.Errorf("a after partial post = %v, want %v", got, want)
		}
		// Replay of the post.
		again := must[client.Transfer](t)(e.c.PostTransfer(c, p1.ID, client.PostRequest{Key: "h1-post", Amount: "12.34"}))
		if !again.Replayed || again.ID != post.ID {
			t.Errorf("replayed post = %+v", again)
		}

		p2 := hold("h2", "5")
		full := must[client.Transfer](t)(e.c.PostTransfer(c, p2.ID, client.PostRequest{Key: "h2-post"}))
		if full.Amount != "5.00" {
			t.Errorf("full post = %+v", full)
		}

		p3 := hold("h3", "1")
		void := must[client.Transfer](t)(e.c.VoidTransfer(c, p3.ID, client.VoidRequest{Key: "h3-void"}))
		if void.Kind != "void" || void.State != "voided" || void.PendingID != p3.ID {
			t.Errorf("void = %+v", void)
		}
		vAgain := must[client.Transfer](t)(e.c.VoidTransfer(c, p3.ID, client.VoidRequest{Key: "h3-void"}))
		if !vAgain.Replayed || vAgain.ID != void.ID {
			t.Errorf("replayed void = %+v", vAgain)
		}

		p4 := hold("h4", "2")
		single := must[client.Transfer](t)(e.c.CreateTransfer(c, client.TransferRequest{Key: "s1", DebitAccountID: f.a, CreditAccountID: f.b, Asset: "USD", Amount: "1"}))
		theirs := must[client.Account](t)(e.c2.CreateAccount(c, client.CreateAccountRequest{Asset: "USD", Normal: "debit", Unlimited: true}))
		theirs2 := must[client.Account](t)(e.c2.CreateAccount(c, client.CreateAccountRequest{Asset: "USD"}))
		theirHold := must[client.Transfer](t)(e.c2.CreateTransfer(c, client.TransferRequest{Key: "th", DebitAccountID: theirs.ID, CreditAccountID: theirs2.ID, Asset: "USD", Amount: "1", Pending: true}))

		tests := []struct {
			name   string
			path   string
			body   string
			hdr    []string
			status int
			code   string
			field  string
		}{
			{"double void", fmt.Sprint("/coffer/v1/transfers/", p3.ID, "/void"), `{"key":"h3-void-2"}`, nil, 409, "pending_already_voided", ""},
			{"post after void", fmt.Sprint("/coffer/v1/transfers/", p3.ID, "/post"), `{"key":"h3-post"}`, nil, 409, "pending_already_voided", ""},
			{"void after post", fmt.Sprint("/coffer/v1/transfers/", p1.ID, "/void"), `{"key":"h1-void"}`, nil, 409, "pending_already_posted", ""},
			{"post twice", fmt.Sprint("/coffer/v1/transfers/", p2.ID, "/post"), `{"key":"h2-post-2"}`, nil, 409, "pending_already_posted", ""},
			{"post too much", fmt.Sprint("/coffer/v1/transfers/", p4.ID, "/post"), `{"key":"h4-post","amount":"2.01"}`, nil, 422, "post_exceeds_pending", ""},
			{"post too precise", fmt.Sprint("/coffer/v1/transfers/", p4.ID, "/post"), `{"key":"h4-post-b","amount":"0.001"}`, nil, 422, "invalid_amount", "amount"},
			{"post zero", fmt.Sprint("/coffer/v1/transfers/", p4.ID, "/post"), `{"key":"h4-post-c","amount":"0"}`, nil, 422, "invalid_amount", "amount"},
			{"void with amount", fmt.Sprint("/coffer/v1/transfers/", p4.ID, "/void"), `{"key":"h4-void","amount":"1"}`, nil, 400, "invalid_json", "amount"},
			{"post without key", fmt.Sprint("/coffer/v1/transfers/", p4.ID, "/post"), `{}`, nil, 422, "invalid_request", "key"},
			{"post a single transfer", fmt.Sprint("/coffer/v1/transfers/", single.ID, "/post"), `{"key":"s1-post"}`, nil, 422, "not_pending", ""},
			{"post a missing transfer", "/coffer/v1/transfers/999999/post", `{"key":"m-post"}`, nil, 404, "pending_not_found", ""},
			{"void another merchant's hold", fmt.Sprint("/coffer/v1/transfers/", theirHold.ID, "/void"), `{"key":"x-void"}`, nil, 404, "pending_not_found", ""},
			{"void via header key", fmt.Sprint("/coffer/v1/transfers/", p4.ID, "/void"), `{}`, []string{"Idempotency-Key", "h4-void-ok"}, 201, "", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.raw("POST", tt.path, e.admin, tt.body, tt.hdr...)
				if r.status != tt.status {
					t.Fatalf("status = %d %s, want %d", r.status, r.body, tt.status)
				}
				if tt.code == "" {
					return
				}
				if got := r.errorOf(t); got.Code != tt.code || got.Field != tt.field {
					t.Errorf("error = %+v, want %s on %q", got, tt.code, tt.field)
				}
			})
		}
		// A failed post replays its failure.
		r := e.raw("POST", fmt.Sprint("/coffer/v1/transfers/", p3.ID, "/post"), e.admin, `{"key":"h3-post"}`)
		if r.status != 409 || r.header.Get("Idempotency-Replayed") != "true" {
			t.Errorf("replayed failed post = %d %v %s", r.status, r.header, r.body)
		}
		// 100 - 12.34 - 5 - 1 (single); the holds are resolved.
		if got, want := e.balance(t, f.a), [3]string{"81.66", "0.00", "81.66"}; got != want {
			t.Errorf("a at the end = %v, want %v", got, want)
		}
		if got, want := e.balance(t, f.b), [3]string{"18.34", "0.00", "18.34"}; got != want {
			t.Errorf("b at the end = %v, want %v", got, want)
		}
	})
}

func TestPendingExpires(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a timeout")
	}
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		f := e.fixture(t)
		p := must[client.Transfer](t)(e.c.CreateTransfer(ctx(t), client.TransferRequest{Key: "exp", DebitAccountID: f.a, CreditAccountID: f.b, Asset: "USD", Amount: "40", Pending: true, TimeoutSeconds: 1}))
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := must[client.Transfer](t)(e.c.GetTransfer(ctx(t), p.ID))
			if got.State == "expired" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("pending transfer still %s after its timeout", got.State)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got, want := e.balance(t, f.a), [3]string{"100.00", "0.00", "100.00"}; got != want {
			t.Errorf("a after expiry = %v, want %v", got, want)
		}
		_, err := e.c.PostTransfer(ctx(t), p.ID, client.PostRequest{Key: "exp-post"})
		wantAPIError(t, err, 409, "pending_expired")
		page := must[client.TransferPage](t)(e.c.ListAccountTransfers(ctx(t), f.a, client.ListParams{}))
		last := page.Data[len(page.Data)-1]
		if last.Kind != "expire" || last.PendingID != p.ID {
			t.Errorf("statement ends with %+v, want the expiry of %d", last, p.ID)
		}
	})
}

func TestAccountTransfers(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		f := e.fixture(t) // "fund-a" is a's first transfer
		want := []string{"fund-a"}
		for i := range 6 {
			k := fmt.Sprint("st-", i)
			d, cr := f.a, f.b
			if i%2 == 1 {
				d, cr = f.b, f.a
			}
			must[client.Transfer](t)(e.c.CreateTransfer(ctx(t), client.TransferRequest{Key: k, DebitAccountID: d, CreditAccountID: cr, Asset: "USD", Amount: "1"}))
			want = append(want, k)
		}
		// Transfers not touching a stay out of its statement.
		must[client.Transfer](t)(e.c.CreateTransfer(ctx(t), client.TransferRequest{Key: "mint-b", DebitAccountID: f.mint, CreditAccountID: f.b, Asset: "USD", Amount: "1"}))
		var got []string
		p := client.ListParams{Limit: 3}
		pages := 0
		for {
			pg := must[client.TransferPage](t)(e.c.ListAccountTransfers(ctx(t), f.a, p))
			pages++
			for _, tr := range pg.Data {
				got = append(got, tr.Key)
			}
			if pg.NextCursor == "" {
				break
			}
			p.Cursor = pg.NextCursor
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || pages != 3 {
			t.Errorf("statement = %v in %d pages, want %v in 3", got, pages, want)
		}
		_, err := e.c2.ListAccountTransfers(ctx(t), f.a, client.ListParams{})
		wantAPIError(t, err, 404, "account_not_found")
		_, err = e.c.ListAccountTransfers(ctx(t), 999999, client.ListParams{})
		wantAPIError(t, err, 404, "account_not_found")
		_, err = e.c.ListAccountTransfers(ctx(t), f.a, client.ListParams{Cursor: "!!"})
		wantAPIError(t, err, 422, "invalid_request")
	})
}
