package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/coffer-pay/coffer/client"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/store"
)

// outcome summarises a batch result: the amount of its transfer, or its
// error code, with "+r" when replayed.
func outcome(r client.BatchResult) string {
	s := ""
	switch {
	case r.Transfer != nil && r.Error != nil:
		return "both transfer and error"
	case r.Transfer != nil:
		s = r.Transfer.Amount
	case r.Error != nil:
		s = r.Error.Code
	default:
		return "empty"
	}
	if r.Replayed {
		s += "+r"
	}
	return s
}

func TestBatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		f := e.fixture(t)
		pts := must[client.Account](t)(e.c.CreateAccount(ctx(t), client.CreateAccountRequest{Asset: "EUR"}))
		tr := func(key, amount string) client.TransferRequest {
			return client.TransferRequest{Key: key, DebitAccountID: f.a, CreditAccountID: f.b, Asset: "USD", Amount: amount}
		}
		linked := func(r client.TransferRequest) client.TransferRequest { r.Linked = true; return r }
		steps := []struct {
			name    string
			req     client.BatchRequest
			want    []string
			balance string // a's balance after the step
		}{
			{"independent", client.BatchRequest{Transfers: []client.TransferRequest{tr("b1", "1"), tr("b2", "1000"), tr("b3", "2.5")}},
				[]string{"1.00", "insufficient_funds", "2.50"}, "96.50"},
			{"replays", client.BatchRequest{Transfers: []client.TransferRequest{tr("b1", "1"), tr("b2", "1000"), tr("b4", "0.5")}},
				[]string{"1.00+r", "insufficient_funds+r", "0.50"}, "96.00"},
			{"atomic, one fails", client.BatchRequest{Atomic: true, Transfers: []client.TransferRequest{tr("a1", "10"), tr("a2", "10"), tr("a3", "500")}},
				[]string{"linked_transfer_failed", "linked_transfer_failed", "insufficient_funds"}, "96.00"},
			{"atomic, bad amount", client.BatchRequest{Atomic: true, Transfers: []client.TransferRequest{tr("c1", "10"), tr("c2", "1.001")}},
				[]string{"linked_transfer_failed", "invalid_amount"}, "96.00"},
			{"atomic, all good", client.BatchRequest{Atomic: true, Transfers: []client.TransferRequest{tr("d1", "10"), tr("d2", "20")}},
				[]string{"10.00", "20.00"}, "66.00"},
			{"chains", client.BatchRequest{Transfers: []client.TransferRequest{linked(tr("e1", "1")), tr("e2", "999"), linked(tr("e3", "1")), tr("e4", "2"), tr("e5", "3")}},
				[]string{"linked_transfer_failed", "insufficient_funds", "1.00", "2.00", "3.00"}, "60.00"},
			{"chain with unknown asset", client.BatchRequest{Transfers: []client.TransferRequest{linked(tr("f1", "1")), {Key: "f2", DebitAccountID: f.a, CreditAccountID: f.b, Asset: "NOPE", Amount: "1"}, tr("f3", "1")}},
				[]string{"linked_transfer_failed", "asset_not_found", "1.00"}, "59.00"},
			{"item errors", client.BatchRequest{Transfers: []client.TransferRequest{
				{DebitAccountID: f.a, CreditAccountID: f.b, Asset: "USD", Amount: "1"},
				{Key: "g2", DebitAccountID: f.a, CreditAccountID: pts.ID, Asset: "USD", Amount: "1"},
				{Key: "g3", DebitAccountID: f.a, CreditAccountID: 999999, Asset: "USD", Amount: "1"},
				{Key: "g4", DebitAccountID: f.a, CreditAccountID: f.b, Asset: "USD", Amount: "1", Pending: true},
			}}, []string{"invalid_request", "asset_mismatch", "account_not_found", "1.00"}, "59.00"},
			{"duplicate key in one batch", client.BatchRequest{Transfers: []client.TransferRequest{tr("h1", "1"), tr("h1", "1"), tr("h1", "2")}},
				[]string{"1.00", "1.00+r", "idempotency_conflict"}, "58.00"},
			{"number of items", client.BatchRequest{Transfers: manyTransfers(f, "m", 500)},
				nil, "53.00"},
		}
		for _, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				res := must[[]client.BatchResult](t)(e.c.CreateTransfers(ctx(t), s.req))
				if len(res) != len(s.req.Transfers) {
					t.Fatalf("%d results for %d transfers", len(res), len(s.req.Transfers))
				}
				if s.want != nil {
					var got []string
					for _, r := range res {
						got = append(got, outcome(r))
					}
					if strings.Join(got, " ") != strings.Join(s.want, " ") {
						t.Errorf("results = %v, want %v", got, s.want)
					}
				}
				if got := e.balance(t, f.a)[0]; got != s.balance {
					t.Errorf("a's balance = %s, want %s", got, s.balance)
				}
			})
		}
		// The pending item holds 1.00.
		if got, want := e.balance(t, f.a), [3]string{"53.00", "1.00", "52.00"}; got != want {
			t.Errorf("a = %v, want %v", got, want)
		}

		bad := []struct {
			name   string
			body   string
			hdr    []string
			status int
			code   string
			field  string
		}{
			{"empty list", `{"transfers":[]}`, nil, 422, "invalid_request", "transfers"},
			{"no list", `{}`, nil, 422, "invalid_request", "transfers"},
			{"open chain", fmt.Sprintf(`{"transfers":[{"key":"z","debit_account_id":%d,"credit_account_id":%d,"asset":"USD","amount":"1","linked":true}]}`, f.a, f.b), nil, 422, "invalid_request", "transfers[0].linked"},
			{"header key", fmt.Sprintf(`{"transfers":[{"key":"z","debit_account_id":%d,"credit_account_id":%d,"asset":"USD","amount":"1"}]}`, f.a, f.b), []string{"Idempotency-Key", "z"}, 422, "invalid_request", "Idempotency-Key"},
			{"unknown item field", `{"transfers":[{"key":"z","memo":1}]}`, nil, 400, "invalid_json", "memo"},
			{"wrong item type", `{"transfers":[{"key":5}]}`, nil, 400, "invalid_json", "transfers.key"},
			{"too many", `{"transfers":[` + strings.Repeat(`{},`, ledger.MaxBatch) + `{}]}`, nil, 422, "invalid_request", "transfers"},
		}
		for _, b := range bad {
			t.Run(b.name, func(t *testing.T) {
				r := e.raw("POST", "/coffer/v1/transfers/batch", e.admin, b.body, b.hdr...)
				if r.status != b.status {
					t.Fatalf("status = %d %s, want %d", r.status, r.body, b.status)
				}
				if got := r.errorOf(t); got.Code != b.code || got.Field != b.field {
					t.Errorf("error = %+v, want %s on %q", got, b.code, b.field)
				}
			})
		}
	})
}

func manyTransfers(f fixture, prefix string, n int) []client.TransferRequest {
	out := make([]client.TransferRequest, n)
	for i := range out {
		out[i] = client.TransferRequest{Key: fmt.Sprint(prefix, i), DebitAccountID: f.a, CreditAccountID: f.b, Asset: "USD", Amount: "0.01"}
	}
	return out
}
