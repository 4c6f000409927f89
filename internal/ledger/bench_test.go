package ledger_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/postgres"
	"github.com/coffer-pay/coffer/internal/store/sqlite"
)

// BenchmarkEngineTransfer measures the engine alone (no HTTP): many
// goroutines each submitting one transfer at a time between random pairs
// of 1,000 funded accounts, with durable commits, on SQLite and (when
// COFFER_TEST_POSTGRES is set) PostgreSQL.
func BenchmarkEngineTransfer(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchEngine(b, sqlite.OpenTest(b), 1) })
	for _, w := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("postgres-workers-%d", w), func(b *testing.B) { benchEngine(b, postgres.OpenTest(b), w) })
	}
}

func benchEngine(b *testing.B, st store.Store, workers int) {
	var batches, batched, took atomic.Int64
	eng := ledger.New(st, ledger.Options{Workers: workers, ExpiryInterval: -1, OnBatch: func(jobs, n int, d time.Duration, err error) {
		batches.Add(1)
		batched.Add(int64(n))
		took.Add(int64(d))
	}})
	b.Cleanup(func() { eng.Close(context.Background()) })
	ctx := context.Background()
	mint, _, err := eng.CreateAccount(ctx, 1, ledger.AccountRequest{Asset: "USD", Normal: store.Debit, Unlimited: true})
	if err != nil {
		b.Fatal(err)
	}
	const n = 1000
	ids := make([]int64, n)
	var fund []ledger.TransferRequest
	for i := range ids {
		a, _, err := eng.CreateAccount(ctx, 1, ledger.AccountRequest{Asset: "USD"})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = a.ID
		fund = append(fund, ledger.TransferRequest{Key: fmt.Sprintf("fund-%d", i), DebitAccountID: mint.ID, CreditAccountID: a.ID, Amount: 1 << 40})
	}
	if _, err := eng.Transfer(ctx, 1, fund); err != nil {
		b.Fatal(err)
	}
	batches.Store(0)
	batched.Store(0)
	took.Store(0)
	var seq atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			d := ids[rand.IntN(n)]
			c := ids[rand.IntN(n)]
			if c == d {
				c = ids[(rand.IntN(n-1)+1+int(d))%n]
				if c == d {
					continue
				}
			}
			res, err := eng.Transfer(ctx, 1, []ledger.TransferRequest{{Key: fmt.Sprintf("b-%d", i), DebitAccountID: d, CreditAccountID: c, Amount: 1}})
			if err != nil || res[0].Err != nil {
				b.Fatalf("transfer: %v %v", err, res[0].Err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
	if n := batches.Load(); n > 0 {
		b.ReportMetric(float64(batched.Load())/float64(n), "transfers/batch")
		b.ReportMetric(float64(took.Load())/float64(n)/1e6, "ms/batch")
	}
}
