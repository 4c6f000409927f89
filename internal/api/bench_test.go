package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/coffer-pay/coffer/client"
	"github.com/coffer-pay/coffer/internal/api"
	"github.com/coffer-pay/coffer/internal/apikey"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/store/sqlite"
)

// BenchmarkCreateTransfer measures one transfer per request over real HTTP
// on SQLite, with many concurrent callers sharing one client.
func BenchmarkCreateTransfer(b *testing.B) {
	ctx := context.Background()
	st := sqlite.OpenTest(b)
	eng := ledger.New(st, ledger.Options{})
	b.Cleanup(func() { eng.Close(ctx) })
	srv := httptest.NewServer(api.New(api.Config{Engine: eng}))
	b.Cleanup(srv.Close)
	tok, row, _ := apikey.Generate(apikey.RoleAdmin, 1, "bench")
	if err := st.InsertAPIKey(ctx, &row); err != nil {
		b.Fatal(err)
	}
	c := client.New(srv.URL, tok)
	mint, err := c.CreateAccount(ctx, client.CreateAccountRequest{Asset: "USD", Normal: "debit", Unlimited: true})
	if err != nil {
		b.Fatal(err)
	}
	var wallets []int64
	for range 64 {
		a, err := c.CreateAccount(ctx, client.CreateAccountRequest{Asset: "USD"})
		if err != nil {
			b.Fatal(err)
		}
		wallets = append(wallets, a.ID)
	}
	var n atomic.Int64
	b.SetParallelism(256)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			_, err := c.CreateTransfer(ctx, client.TransferRequest{
				Key: fmt.Sprint("b-", i), DebitAccountID: mint.ID, CreditAccountID: wallets[i%int64(len(wallets))],
				Asset: "USD", Amount: "1.00",
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
}
