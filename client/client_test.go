package client_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/client"
)

// fake answers every request with a fixed status, headers and body, and
// records the last request.
type fake struct {
	status int
	header map[string]string
	body   string
	got    *http.Request
	gotB   string
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.got = r
	b, _ := io.ReadAll(r.Body)
	f.gotB = string(b)
	for k, v := range f.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(f.status)
	io.WriteString(w, f.body)
}

func TestRequestShape(t *testing.T) {
	f := &fake{status: 201, body: `{"id":7,"key":"k","kind":"single","amount":"1.50","created_at":"2026-01-02T03:04:05.123456Z"}`}
	srv := httptest.NewServer(f)
	defer srv.Close()
	for _, base := range []string{srv.URL, srv.URL + "/", srv.URL + "/coffer/v1", srv.URL + "/coffer/v1/"} {
		t.Run(base, func(t *testing.T) {
			c := client.New(base, "ck_tok", client.WithUserAgent("test/1"))
			tr, err := c.CreateTransfer(context.Background(), client.TransferRequest{Key: "k", DebitAccountID: 1, CreditAccountID: 2, Asset: "USD", Amount: "1.50"})
			if err != nil {
				t.Fatal(err)
			}
			if tr.ID != 7 || tr.Amount != "1.50" || tr.Replayed || !tr.CreatedAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)) {
				t.Errorf("transfer = %+v", tr)
			}
			r := f.got
			if r.Method != "POST" || r.URL.Path != "/coffer/v1/transfers" {
				t.Errorf("request = %s %s", r.Method, r.URL.Path)
			}
			if got, want := r.Header.Get("Authorization"), "Bearer ck_tok"; got != want {
				t.Errorf("Authorization = %q, want %q", got, want)
			}
			if got, want := r.Header.Get("User-Agent"), "test/1"; got != want {
				t.Errorf("User-Agent = %q, want %q", got, want)
			}
			if got, want := f.gotB, `{"key":"k","debit_account_id":1,"credit_account_id":2,"asset":"USD","amount":"1.50"}`; got != want {
				t.Errorf("body = %s, want %s", got, want)
			}
		})
	}
}

func TestQueries(t *testing.T) {
	f := &fake{status: 200, body: `{"data":[],"next_cursor":"abc"}`}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := client.New(srv.URL, "t")
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"accounts", func() error {
			p, err := c.ListAccounts(ctx, client.ListAccountsParams{Asset: "USD", Cursor: "c1", Limit: 5})
			if err == nil && p.NextCursor != "abc" {
				err = errors.New("next cursor lost")
			}
			return err
		}, "/coffer/v1/accounts?asset=USD&cursor=c1&limit=5"},
		{"accounts, no params", func() error { _, err := c.ListAccounts(ctx, client.ListAccountsParams{}); return err }, "/coffer/v1/accounts"},
		{"statement", func() error { _, err := c.ListAccountTransfers(ctx, 9, client.ListParams{Limit: 2}); return err }, "/coffer/v1/accounts/9/transfers?limit=2"},
		{"lookup", func() error { _, err := c.LookupTransfer(ctx, "a b&c"); return err }, "/coffer/v1/transfers?key=a+b%26c"},
		{"get transfer", func() error { _, err := c.GetTransfer(ctx, 3); return err }, "/coffer/v1/transfers/3"},
		{"post", func() error { _, err := c.PostTransfer(ctx, 4, client.PostRequest{Key: "p"}); return err }, "/coffer/v1/transfers/4/post"},
		{"void", func() error { _, err := c.VoidTransfer(ctx, 5, client.VoidRequest{Key: "v"}); return err }, "/coffer/v1/transfers/5/void"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err != nil {
				t.Fatal(err)
			}
			if got := f.got.URL.RequestURI(); got != tt.want {
				t.Errorf("request URI = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name      string
		f         fake
		want      client.Error
		temporary bool
	}{
		{"api error", fake{status: 422, body: `{"error":{"code":"insufficient_funds","message":"no","field":"amount"}}`},
			client.Error{Status: 422, Code: "insufficient_funds", Message: "no", Field: "amount"}, false},
		{"replayed failure", fake{status: 409, header: map[string]string{"Idempotency-Replayed": "true"}, body: `{"error":{"code":"pending_already_voided","message":"m"}}`},
			client.Error{Status: 409, Code: "pending_already_voided", Message: "m", Replayed: true}, false},
		{"unavailable", fake{status: 503, header: map[string]string{"Retry-After": "3"}, body: `{"error":{"code":"unavailable","message":"m"}}`},
			client.Error{Status: 503, Code: "unavailable", Message: "m", RetryAfter: 3 * time.Second}, true},
		{"not json", fake{status: 502, body: "Bad Gateway"},
			client.Error{Status: 502, Code: "http_502", Message: "Bad Gateway"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(&tt.f)
			defer srv.Close()
			_, err := client.New(srv.URL, "t").GetAccount(context.Background(), 1)
			var ce *client.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v, want *client.Error", err)
			}
			if *ce != tt.want {
				t.Errorf("error = %+v, want %+v", *ce, tt.want)
			}
			if got := client.Temporary(err); got != tt.temporary {
				t.Errorf("Temporary = %v, want %v", got, tt.temporary)
			}
			if got := client.Code(err); got != tt.want.Code {
				t.Errorf("Code = %q, want %q", got, tt.want.Code)
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := client.New(url, "t").GetAccount(context.Background(), 1)
	if err == nil || client.Code(err) != "" || !client.Temporary(err) {
		t.Errorf("error = %v, want a temporary transport error", err)
	}
}

func TestCreateTransfersMinimal(t *testing.T) {
	for _, body := range []string{
		`{"results":[{"id":5},{"error":{"code":"insufficient_funds","message":"m","field":"amount"}},{"id":6,"replayed":true}]}`,
		// A server that ignores the preference answers whole transfers.
		`{"results":[{"transfer":{"id":5,"key":"a","amount":"1.00","metadata":{"x":[1]},"created_at":"2026-01-02T03:04:05Z"}},` +
			`{"error":{"code":"insufficient_funds","message":"m","field":"amount"}},{"transfer":{"id":6},"replayed":true}]}`,
	} {
		f := &fake{status: 200, body: body}
		srv := httptest.NewServer(f)
		c := client.New(srv.URL, "ck_tok")
		reqs := []client.TransferRequest{{Key: "a"}, {Key: "b"}, {Key: "c"}}
		got, err := c.CreateTransfersMinimal(context.Background(), client.BatchRequest{Transfers: reqs, Atomic: true})
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := []client.BatchOutcome{{ID: 5}, {Error: &client.Error{Code: "insufficient_funds", Message: "m", Field: "amount"}}, {ID: 6, Replayed: true}}
		if len(got) != 3 || got[0] != want[0] || got[2] != want[2] || got[1].Error == nil || *got[1].Error != *want[1].Error || got[1].ID != 0 {
			t.Errorf("outcomes = %+v", got)
		}
		if !got[0].OK() || got[1].OK() || !got[2].OK() {
			t.Errorf("OK = %v %v %v", got[0].OK(), got[1].OK(), got[2].OK())
		}
		r := f.got
		if r.Method != "POST" || r.URL.Path != "/coffer/v1/transfers/batch" || r.Header.Get("Prefer") != "return=minimal" ||
			r.Header.Get("Authorization") != "Bearer ck_tok" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request = %s %s %v", r.Method, r.URL.Path, r.Header)
		}
		if want := `{"transfers":[{"key":"a","debit_account_id":0,"credit_account_id":0,"asset":"","amount":""},` +
			`{"key":"b","debit_account_id":0,"credit_account_id":0,"asset":"","amount":""},` +
			`{"key":"c","debit_account_id":0,"credit_account_id":0,"asset":"","amount":""}],"atomic":true}`; f.gotB != want {
			t.Errorf("body = %s\nwant %s", f.gotB, want)
		}
	}
}

// A base URL under a path, or one the fast way does not take, still
// reaches the right place.
func TestBaseURLs(t *testing.T) {
	f := &fake{status: 200, body: `{"id":3}`}
	srv := httptest.NewServer(f)
	defer srv.Close()
	for _, tt := range []struct{ base, path string }{
		{srv.URL + "/proxy", "/proxy/coffer/v1/transfers/3"},
		{srv.URL + "/proxy/coffer/v1/", "/proxy/coffer/v1/transfers/3"},
		{srv.URL + "/a%2Fb", "/a/b/coffer/v1/transfers/3"},
		{strings.Replace(srv.URL, "127.0.0.1", "user:pw@127.0.0.1", 1), "/coffer/v1/transfers/3"},
	} {
		tr, err := client.New(tt.base, "t").GetTransfer(context.Background(), 3)
		if err != nil || tr.ID != 3 {
			t.Errorf("%s: %+v, %v", tt.base, tr, err)
			continue
		}
		if got := f.got.URL.Path; got != tt.path {
			t.Errorf("%s: path %s, want %s", tt.base, got, tt.path)
		}
	}
	if _, err := client.New(srv.URL, "t").GetTransfer(nil, 3); err == nil { // a nil context is an error, not a panic
		t.Errorf("nil context: no error")
	}
}
