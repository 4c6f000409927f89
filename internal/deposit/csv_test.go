package deposit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/internal/deposit"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
)

const statement = "\ufeffTransaction,Amount,Currency,Payee,Time,Final\n" +
	"4001,6000,MMK,09111,2026-11-20T10:00:00+06:30,yes\n" +
	"4002, 250.50 ,mmk,09111,2026-11-20 04:00:00,0\n" +
	"4003,10,MMK,,,\n"

func TestParseCSV(t *testing.T) {
	rows, err := deposit.ParseCSV(strings.NewReader(statement), deposit.ImportParams{MerchantID: 1, WalletType: "wavepay"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0].Key1 != "4001" || rows[1].Amount != "250.50" || rows[1].Currency != "MMK" || rows[1].Final ||
		!rows[2].Final || !rows[0].OccurredAt.Equal(time.Date(2026, 11, 20, 3, 30, 0, 0, time.UTC)) || rows[2].Source != "csv" {
		t.Fatalf("%+v", rows)
	}
	for _, bad := range []string{
		"amount\n1\n",                               // no key1
		"key1,amount\n1,2\n",                        // no currency, no default
		"key1,amount,currency\n1,-2,MMK\n",          // bad amount
		"key1,amount,currency\n1,2,MMK,x\n,2,MMK\n", // empty key1
		"key1,amount,currency,time\n1,2,MMK,yesterday\n",
		"key1,amount,currency,final\n1,2,MMK,maybe\n",
		"key1,key1,amount\n",
	} {
		if _, err := deposit.ParseCSV(strings.NewReader(bad), deposit.ImportParams{WalletType: "wavepay"}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestImportCSV(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, deposit.Options{})
		ctx := context.Background()
		a, err := e.d.Activate(ctx, activate("payer-1", "4001", "6000", "x1"))
		if err != nil || a.Claim.Status != store.ClaimPossible {
			t.Fatal(a, err)
		}
		if _, err := e.d.Activate(ctx, activate("payer-2", "4002", "250.5", "x2")); err != nil {
			t.Fatal(err)
		}
		p := deposit.ImportParams{MerchantID: 1, WalletType: "wavepay"}
		rep, err := e.d.ImportCSV(ctx, strings.NewReader(statement), p)
		if err != nil || rep != (deposit.ImportReport{Rows: 3, Recorded: 3, Credited: 1, Pending: 1}) {
			t.Fatalf("import: %+v %v", rep, err)
		}
		// again, with 4002 final now: replayed, and the pending claim is credited
		rep, err = e.d.ImportCSV(ctx, strings.NewReader(strings.Replace(statement, "04:00:00,0", "04:00:00,1", 1)), p)
		if err != nil || rep != (deposit.ImportReport{Rows: 3, Replayed: 3, Credited: 1}) {
			t.Fatalf("again: %+v %v", rep, err)
		}
		if b1, b2 := e.balance(t, 1), e.balance(t, 2); b1 != 600000 || b2 != 25050 {
			t.Errorf("balances %d %d", b1, b2)
		}
		if _, err := e.d.ImportCSV(ctx, strings.NewReader("key1,amount\n1,2\n"), p); err == nil {
			t.Error("a statement without currency was imported")
		}
		e.verify(t)
	})
}
