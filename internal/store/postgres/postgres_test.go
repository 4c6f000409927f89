package postgres_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/postgres"
	"github.com/coffer-pay/coffer/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return postgres.OpenTest(t) })
}

// Several nodes starting at once all migrate; the advisory lock makes one
// apply the migrations and the others find nothing to do.
func TestMigrateConcurrently(t *testing.T) {
	dsn := postgres.NewTestDatabase(t)
	ctx := t.Context()
	stores := make([]*postgres.Store, 4)
	for i := range stores {
		s, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: 2})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	applied, known, err := stores[0].SchemaVersion(ctx)
	if err != nil || applied != 0 || known == 0 {
		t.Fatalf("SchemaVersion of an empty database = %d, %d, %v; want 0 applied", applied, known, err)
	}
	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Go(func() {
			if err := s.Migrate(ctx); err != nil {
				t.Errorf("Migrate: %v", err)
			}
		})
	}
	wg.Wait()
	applied, known, err = stores[0].SchemaVersion(ctx)
	if err != nil || applied != known {
		t.Errorf("SchemaVersion after migrating = %d, %d, %v; want equal", applied, known, err)
	}
	if m, err := stores[1].Merchant(ctx, 1); err != nil || m.Name != "default" {
		t.Errorf("Merchant(1) = %+v, %v", m, err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	// Nothing listens on port 1.
	_, err := postgres.Open(t.Context(), "postgres://postgres@127.0.0.1:1/coffer?sslmode=disable&connect_timeout=2", postgres.Options{})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Open of an unreachable server = %v, want ErrUnavailable", err)
	}
}

// A connection the server terminates (as on shutdown or failover) surfaces
// as ErrUnavailable, not as a driver error.
func TestTerminatedConnection(t *testing.T) {
	s := postgres.OpenTest(t)
	ctx := t.Context()
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	defer tx.Rollback()
	if _, err := tx.LockAccounts(ctx, []int64{1}); err != nil {
		t.Fatalf("LockAccounts: %v", err)
	}
	if err := postgres.Terminate(ctx, s, tx); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	if _, err := tx.LockAccounts(ctx, []int64{1}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("LockAccounts on a terminated connection = %v, want ErrUnavailable", err)
	}
}

// BenchmarkBatch measures one engine batch of 8000 single transfers among
// 100 accounts: the statements a ledger batch runs, in one transaction.
func BenchmarkBatch(b *testing.B) {
	const batch, accounts = 8000, 100
	s := postgres.OpenTest(b)
	ctx := b.Context()
	if err := s.UpsertAsset(ctx, store.Asset{Code: "USD", Scale: 2, Kind: "currency"}); err != nil {
		b.Fatal(err)
	}
	tx, err := s.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]int64, accounts)
	for i := range ids {
		a := store.Account{MerchantID: 1, Asset: "USD", Normal: store.Credit, Unlimited: true}
		if err := tx.InsertAccount(ctx, &a); err != nil {
			b.Fatal(err)
		}
		ids[i] = a.ID
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}

	ts := make([]store.Transfer, batch)
	ks := make([]store.KeyRecord, batch)
	for b.Loop() {
		if err := runBatch(ctx, s, ids, ts, ks); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "transfers/s")
}

func runBatch(ctx context.Context, s store.Store, accountIDs []int64, ts []store.Transfer, ks []store.KeyRecord) error {
	tx, err := s.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	as, err := tx.LockAccounts(ctx, accountIDs)
	if err != nil {
		return err
	}
	ids, err := tx.NextTransferIDs(ctx, len(ts))
	if err != nil {
		return err
	}
	for i, id := range ids {
		debit, credit := &as[i%len(as)], &as[(i+1)%len(as)]
		ts[i] = store.Transfer{ID: id, MerchantID: 1, Key: strconv.FormatInt(id, 10), Kind: store.KindSingle,
			DebitAccountID: debit.ID, CreditAccountID: credit.ID, Asset: "USD", Amount: 1, State: store.StatePosted}
		ks[i] = store.KeyRecord{MerchantID: 1, Key: ts[i].Key, TransferID: id}
		debit.DebitsPosted++
		credit.CreditsPosted++
	}
	if err := tx.InsertTransfers(ctx, ts); err != nil {
		return err
	}
	if err := tx.InsertKeys(ctx, ks); err != nil {
		return err
	}
	if err := tx.UpdateBalances(ctx, as); err != nil {
		return err
	}
	return tx.Commit()
}
