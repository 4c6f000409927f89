package client_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coffer-pay/coffer/client"
)

// Benchmarks of a call's cost in the client, against a server that
// answers a canned body (its own cost is in the figures too, and is the
// same for every variant).

const benchTransfer = `{"id":123456,"key":"bench-abcdefgh-t12345","kind":"single","debit_account_id":12,"credit_account_id":34,"asset":"USD","amount":"0.42","state":"posted","created_at":"2026-01-02T03:04:05.123456Z"}`

func canned(b *testing.B, body string) *client.Client {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf [4096]byte
		for {
			if _, err := r.Body.Read(buf[:]); err != nil {
				break
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(200)
		w.Write([]byte(body))
	}))
	b.Cleanup(srv.Close)
	return client.New(srv.URL, "ck_benchbenchbe_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
}

func benchBatch() client.BatchRequest {
	var r client.BatchRequest
	for i := range 1000 {
		r.Transfers = append(r.Transfers, client.TransferRequest{
			Key: fmt.Sprint("bench-abcdefgh-t", i), DebitAccountID: 12, CreditAccountID: 34, Asset: "USD", Amount: "0.42",
		})
	}
	return r
}

func BenchmarkCreateTransfer(b *testing.B) {
	c := canned(b, benchTransfer)
	req := client.TransferRequest{Key: "bench-abcdefgh-t12345", DebitAccountID: 12, CreditAccountID: 34, Asset: "USD", Amount: "0.42"}
	for b.Loop() {
		if _, err := c.CreateTransfer(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

func fullBatchAnswer() string {
	return `{"results":[` + strings.TrimSuffix(strings.Repeat(`{"transfer":`+benchTransfer+`},`, 1000), ",") + `]}`
}

func BenchmarkCreateTransfers(b *testing.B) {
	c := canned(b, fullBatchAnswer())
	req := benchBatch()
	for b.Loop() {
		if res, err := c.CreateTransfers(context.Background(), req); err != nil || len(res) != 1000 {
			b.Fatal(err)
		}
	}
}
