package api_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/coffer-pay/coffer/client"
	"github.com/coffer-pay/coffer/internal/store"
)

// With Prefer: return=minimal a batch answers each transfer with its id
// alone; everything else (errors, replays, status) is as without it.
func TestBatchMinimal(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		f := e.fixture(t)
		item := func(key, amount string) string {
			return fmt.Sprintf(`{"key":%q,"debit_account_id":%d,"credit_account_id":%d,"asset":"USD","amount":%q}`, key, f.a, f.b, amount)
		}
		body := `{"transfers":[` + item("m1", "1") + `,` + item("m2", "1000") + `,` + item("m3", "2") + `]}`

		full := e.raw("POST", "/coffer/v1/transfers/batch", e.admin, body)
		if full.status != 200 || full.header.Get("Preference-Applied") != "" {
			t.Fatalf("full = %d %v %s", full.status, full.header, full.body)
		}
		var fr struct {
			Results []client.BatchResult `json:"results"`
		}
		if err := json.Unmarshal(full.body, &fr); err != nil || len(fr.Results) != 3 || fr.Results[0].Transfer == nil || fr.Results[2].Transfer == nil {
			t.Fatalf("full answer %s: %v", full.body, err)
		}

		// The same batch again, minimal: all replayed, by id.
		for _, prefer := range []string{"return=minimal", `respond-async, Return="Minimal"`} {
			min := e.raw("POST", "/coffer/v1/transfers/batch", e.admin, body, "Prefer", prefer)
			if min.status != 200 || min.header.Get("Preference-Applied") != "return=minimal" || min.header.Get("Content-Type") != "application/json" {
				t.Fatalf("minimal = %d %v %s", min.status, min.header, min.body)
			}
			want := fmt.Sprintf(`{"results":[{"id":%d,"replayed":true},{"error":{"code":"insufficient_funds","message":%q},"replayed":true},{"id":%d,"replayed":true}]}`+"\n",
				fr.Results[0].Transfer.ID, fr.Results[1].Error.Message, fr.Results[2].Transfer.ID)
			if string(min.body) != want {
				t.Errorf("minimal answer\n got %s\nwant %s", min.body, want)
			}
		}

		// New transfers, minimal, through the client; then the same through
		// the full call, which must agree.
		reqs := []client.TransferRequest{
			{Key: "n1", DebitAccountID: f.a, CreditAccountID: f.b, Asset: "USD", Amount: "1"},
			{Key: "n2", DebitAccountID: f.a, CreditAccountID: f.b, Asset: "USD", Amount: "1.001"},
			{Key: "n3", DebitAccountID: f.a, CreditAccountID: 999999, Asset: "USD", Amount: "1"},
			{Key: "n4", DebitAccountID: f.a, CreditAccountID: f.b, Asset: "USD", Amount: "3"},
		}
		lean := must[[]client.BatchOutcome](t)(e.c.CreateTransfersMinimal(ctx(t), client.BatchRequest{Transfers: reqs}))
		again := must[[]client.BatchResult](t)(e.c.CreateTransfers(ctx(t), client.BatchRequest{Transfers: reqs}))
		if len(lean) != len(reqs) || len(again) != len(reqs) {
			t.Fatalf("%d and %d results for %d transfers", len(lean), len(again), len(reqs))
		}
		for i := range reqs {
			l, a := lean[i], again[i]
			switch {
			case l.Replayed:
				t.Errorf("result %d: new transfer reported as replayed", i)
			case a.Transfer != nil && (!l.OK() || l.ID != a.Transfer.ID || !a.Replayed):
				t.Errorf("result %d: minimal %+v, full %+v", i, l, a)
			case a.Error != nil && (l.OK() || l.Error == nil || l.Error.Code != a.Error.Code || l.Error.Message != a.Error.Message):
				t.Errorf("result %d: minimal %+v, full %+v", i, l, a)
			}
		}
		if !lean[0].OK() || lean[1].Error == nil || lean[1].Error.Code != "invalid_amount" || lean[2].Error == nil || !lean[3].OK() {
			t.Errorf("minimal results = %+v", lean)
		}
		if got := e.balance(t, f.a)[0]; got != "93.00" {
			t.Errorf("a's balance = %s, want 93.00", got)
		}

		// A batch refused as a whole is refused alike.
		_, err := e.c.CreateTransfersMinimal(ctx(t), client.BatchRequest{})
		wantAPIError(t, err, 422, "invalid_request")
	})
}
