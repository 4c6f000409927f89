// Package storetest is the conformance suite of store.Store: every engine's
// tests call Run, so that SQLite and PostgreSQL agree on idempotency,
// conflicts, locking, ordering and the journal's arithmetic.
package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/internal/store"
)

// Run runs the suite. open must return a fresh, migrated store for each
// call (each subtest gets its own), and close it when t ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Migrate", testMigrate},
		{"Merchants", testMerchants},
		{"APIKeys", testAPIKeys},
		{"Assets", testAssets},
		{"Accounts", testAccounts},
		{"AccountKeyUnique", testAccountKeyUnique},
		{"LockAccounts", testLockAccounts},
		{"LockPending", testLockPending},
		{"NextTransferIDs", testNextTransferIDs},
		{"Transfers", testTransfers},
		{"TransfersPaging", testTransfersPaging},
		{"Keys", testKeys},
		{"SetStates", testSetStates},
		{"UpdateBalances", testUpdateBalances},
		{"Rollback", testRollback},
		{"Journal", testJournal},
		{"Each", testEach},
		{"ExpiredPending", testExpiredPending},
		{"NotFound", testNotFound},
		{"ConcurrentLocks", testConcurrentLocks},
		{"Rates", testRates},
		{"MerchantList", testMerchantList}, {"MerchantUsers", testMerchantUsers}, {"Gateways", testGateways}, {"Credentials", testCredentials}, {"Customers", testCustomers}, {"Wallets", testWallets}, {"SystemAccounts", testSystemAccounts}, {"MasterKeyCheck", testMasterKeyCheck},
	}
	tests = append(tests, notifyTests...) // outbox delivery: notify.go
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// t0 is the creation time of fixtures. It has whole microseconds, the
// precision both engines keep.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

func testMigrate(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i := range 2 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate again (%d): %v", i+1, err)
		}
	}
	applied, known, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatalf("SchemaVersion: %v", err)
	}
	if known == 0 || applied != known {
		t.Errorf("SchemaVersion = %d applied, %d known; want equal and > 0", applied, known)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func testMerchants(t *testing.T, s store.Store) {
	ctx := t.Context()
	def, err := s.Merchant(ctx, 1)
	if err != nil {
		t.Fatalf("Merchant(1): %v", err)
	}
	if def.ID != 1 || def.Name != "default" || def.CreatedAt.IsZero() {
		t.Errorf("Merchant(1) = %+v, want id 1 named default with a creation time", def)
	}
	acme, err := s.CreateMerchant(ctx, "acme")
	if err != nil {
		t.Fatalf("CreateMerchant: %v", err)
	}
	if acme.ID == 0 || acme.ID == 1 || acme.Name != "acme" || acme.CreatedAt.IsZero() {
		t.Errorf("CreateMerchant(acme) = %+v, want a new id, the name and a creation time", acme)
	}
	got, err := s.Merchant(ctx, acme.ID)
	if err != nil {
		t.Fatalf("Merchant(%d): %v", acme.ID, err)
	}
	if d := diff(got, acme); d != "" {
		t.Errorf("Merchant(%d):%s", acme.ID, d)
	}
	other := createMerchant(t, s, "other")
	if other == acme.ID {
		t.Errorf("second CreateMerchant got id %d again", other)
	}
}

func testAPIKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	if n, err := s.CountAPIKeys(ctx); err != nil || n != 0 {
		t.Fatalf("CountAPIKeys on a new store = %d, %v; want 0", n, err)
	}
	m2 := createMerchant(t, s, "acme")
	revoked := t0.Add(time.Hour)
	hash1, hash2 := sha256.Sum256([]byte("ck_a.secret")), sha256.Sum256([]byte("ck_b.secret"))
	keys := []store.APIKey{
		{MerchantID: 1, Prefix: "ck_a", Hash: hash1[:], Role: "admin", Name: "root", CreatedAt: t0},
		{MerchantID: m2, Prefix: "ck_b", Hash: hash2[:], Role: "merchant", CreatedAt: t0, RevokedAt: &revoked},
	}
	for i := range keys {
		if err := s.InsertAPIKey(ctx, &keys[i]); err != nil {
			t.Fatalf("InsertAPIKey(%s): %v", keys[i].Prefix, err)
		}
		if keys[i].ID == 0 {
			t.Errorf("InsertAPIKey(%s) left ID 0", keys[i].Prefix)
		}
	}
	if keys[0].ID == keys[1].ID {
		t.Errorf("two API keys got the same id %d", keys[0].ID)
	}
	if n, err := s.CountAPIKeys(ctx); err != nil || n != 2 {
		t.Errorf("CountAPIKeys = %d, %v; want 2", n, err)
	}
	for _, want := range keys {
		got, err := s.APIKeyByPrefix(ctx, want.Prefix)
		if err != nil {
			t.Errorf("APIKeyByPrefix(%s): %v", want.Prefix, err)
			continue
		}
		if d := diff(got, want); d != "" {
			t.Errorf("APIKeyByPrefix(%s):%s", want.Prefix, d)
		}
	}
}

func testAssets(t *testing.T, s store.Store) {
	ctx := t.Context()
	steps := []struct {
		name    string
		asset   store.Asset
		wantErr error
	}{
		{"create", store.Asset{Code: "USD", Scale: 2, Kind: "currency", CreatedAt: t0}, nil},
		{"identical again", store.Asset{Code: "USD", Scale: 2, Kind: "currency", CreatedAt: t0}, nil},
		{"other scale", store.Asset{Code: "USD", Scale: 3, Kind: "currency", CreatedAt: t0}, store.ErrConflict},
		{"custom", store.Asset{Code: "PTS", Scale: 0, Kind: "custom", CreatedAt: t0}, nil},
	}
	for _, st := range steps {
		err := s.UpsertAsset(ctx, st.asset)
		if !errors.Is(err, st.wantErr) {
			t.Errorf("%s: UpsertAsset(%+v) = %v, want %v", st.name, st.asset, err, st.wantErr)
		}
	}
	got, err := s.Asset(ctx, "USD")
	if err != nil {
		t.Fatalf("Asset(USD): %v", err)
	}
	if d := diff(got, steps[0].asset); d != "" {
		t.Errorf("Asset(USD):%s", d)
	}
	all, err := s.Assets(ctx)
	if err != nil {
		t.Fatalf("Assets: %v", err)
	}
	var codes []string
	for _, a := range all {
		codes = append(codes, a.Code)
	}
	slices.Sort(codes)
	if want := []string{"PTS", "USD"}; !slices.Equal(codes, want) {
		t.Errorf("Assets codes = %v, want %v", codes, want)
	}
}

func testAccounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	addAsset(t, s, "USD", 2)
	addAsset(t, s, "EUR", 2)
	m2 := createMerchant(t, s, "acme")
	a1 := store.Account{MerchantID: 1, Asset: "USD", Name: "wallet", Normal: store.Credit,
		Key: "acct-1", Metadata: []byte(`{"b": [1, 2], "a": "x"}`), CreatedAt: t0}
	a2 := store.Account{MerchantID: 1, Asset: "EUR", Name: "mint", Normal: store.Debit,
		OverdraftLimit: 500, Unlimited: true, CreatedAt: t0}
	a3 := store.Account{MerchantID: m2, Asset: "USD", Normal: store.Credit, Key: "acct-1", CreatedAt: t0}
	insertAccounts(t, s, &a1, &a2, &a3)
	if a1.ID == 0 || a1.ID == a2.ID || a2.ID == a3.ID || a1.ID == a3.ID {
		t.Fatalf("InsertAccount ids %d, %d, %d; want distinct and non-zero", a1.ID, a2.ID, a3.ID)
	}
	for _, want := range []store.Account{a1, a2, a3} {
		got, err := s.Account(ctx, want.ID)
		if err != nil {
			t.Errorf("Account(%d): %v", want.ID, err)
			continue
		}
		if d := diff(got, want); d != "" {
			t.Errorf("Account(%d):%s", want.ID, d)
		}
	}

	filters := []struct {
		name string
		f    store.AccountFilter
		want []int64
	}{
		{"all", store.AccountFilter{}, []int64{a1.ID, a2.ID, a3.ID}},
		{"merchant", store.AccountFilter{MerchantID: 1}, []int64{a1.ID, a2.ID}},
		{"asset", store.AccountFilter{Asset: "USD"}, []int64{a1.ID, a3.ID}},
		{"merchant and asset", store.AccountFilter{MerchantID: 1, Asset: "EUR"}, []int64{a2.ID}},
		{"after", store.AccountFilter{AfterID: a1.ID}, []int64{a2.ID, a3.ID}},
		{"limit", store.AccountFilter{Limit: 2}, []int64{a1.ID, a2.ID}},
		{"past the end", store.AccountFilter{MerchantID: m2, AfterID: a3.ID}, nil},
	}
	for _, tt := range filters {
		got, err := s.Accounts(ctx, tt.f)
		if err != nil {
			t.Errorf("%s: Accounts(%+v): %v", tt.name, tt.f, err)
			continue
		}
		if ids := accountIDs(got); !slices.Equal(ids, tt.want) {
			t.Errorf("%s: Accounts(%+v) ids = %v, want %v", tt.name, tt.f, ids, tt.want)
		}
	}

	t.Run("AccountsByKeys", func(t *testing.T) {
		tx := begin(t, s)
		got, err := tx.AccountsByKeys(ctx, []store.MerchantKey{
			{MerchantID: m2, Key: "acct-1"}, {MerchantID: 1, Key: "missing"},
			{MerchantID: 1, Key: "acct-1"}, {MerchantID: 1, Key: "acct-1"},
		})
		if err != nil {
			t.Fatalf("AccountsByKeys: %v", err)
		}
		ids := accountIDs(got)
		slices.Sort(ids)
		if want := []int64{a1.ID, a3.ID}; !slices.Equal(ids, want) {
			t.Errorf("AccountsByKeys ids = %v, want %v", ids, want)
		}
	})

	t.Run("DefaultLimit", func(t *testing.T) {
		more := make([]*store.Account, 105)
		for i := range more {
			more[i] = &store.Account{MerchantID: 1, Asset: "USD", Normal: store.Credit, CreatedAt: t0}
		}
		insertAccounts(t, s, more...)
		got, err := s.Accounts(ctx, store.AccountFilter{})
		if err != nil {
			t.Fatalf("Accounts: %v", err)
		}
		if len(got) != 100 {
			t.Errorf("Accounts with Limit 0 returned %d rows, want 100", len(got))
		}
		got, err = s.Accounts(ctx, store.AccountFilter{Limit: 1000})
		if err != nil {
			t.Fatalf("Accounts: %v", err)
		}
		if len(got) != 108 {
			t.Errorf("Accounts with Limit 1000 returned %d rows, want 108", len(got))
		}
	})
}

func testAccountKeyUnique(t *testing.T, s store.Store) {
	ctx := t.Context()
	addAsset(t, s, "USD", 2)
	m2 := createMerchant(t, s, "acme")
	first := store.Account{MerchantID: 1, Asset: "USD", Normal: store.Credit, Key: "k", CreatedAt: t0}
	insertAccounts(t, s, &first)

	tx := begin(t, s)
	dup := store.Account{MerchantID: 1, Asset: "USD", Normal: store.Credit, Key: "k", CreatedAt: t0}
	if err := tx.InsertAccount(ctx, &dup); !errors.Is(err, store.ErrRetry) {
		t.Errorf("InsertAccount with a used key = %v, want ErrRetry", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatalf("Rollback: %v", err)
	}

	// The key is per merchant, and an empty key is no key.
	insertAccounts(t, s,
		&store.Account{MerchantID: m2, Asset: "USD", Normal: store.Credit, Key: "k", CreatedAt: t0},
		&store.Account{MerchantID: 1, Asset: "USD", Normal: store.Credit, CreatedAt: t0},
		&store.Account{MerchantID: 1, Asset: "USD", Normal: store.Credit, CreatedAt: t0},
	)
	got, err := s.Accounts(ctx, store.AccountFilter{})
	if err != nil {
		t.Fatalf("Accounts: %v", err)
	}
	if len(got) != 4 {
		t.Errorf("Accounts = %d rows, want 4", len(got))
	}
}

func testLockAccounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	ids := newAccounts(t, s, 3)
	a, b, c := ids[0], ids[1], ids[2]
	tests := []struct {
		name string
		ids  []int64
		want []int64
	}{
		{"unsorted, repeated and missing", []int64{c, a, c, 999999, b, a}, []int64{a, b, c}},
		{"one", []int64{b}, []int64{b}},
		{"none", nil, nil},
		{"only missing", []int64{999999}, nil},
	}
	tx := begin(t, s)
	for _, tt := range tests {
		got, err := tx.LockAccounts(ctx, tt.ids)
		if err != nil {
			t.Errorf("%s: LockAccounts(%v): %v", tt.name, tt.ids, err)
			continue
		}
		if ids := accountIDs(got); !slices.Equal(ids, tt.want) {
			t.Errorf("%s: LockAccounts(%v) ids = %v, want %v", tt.name, tt.ids, ids, tt.want)
		}
	}
	got, err := tx.LockAccounts(ctx, []int64{a})
	if err != nil || len(got) != 1 {
		t.Fatalf("LockAccounts(%d) = %v, %v", a, got, err)
	}
	want, err := s.Account(ctx, a)
	if err != nil {
		t.Fatalf("Account(%d): %v", a, err)
	}
	if d := diff(got[0], want); d != "" {
		t.Errorf("LockAccounts row differs from Account:%s", d)
	}
}

func testLockPending(t *testing.T, s store.Store) {
	ctx := t.Context()
	acct := newAccounts(t, s, 2)
	deadline := t0.Add(time.Hour)
	hold := transfer(acct[0], acct[1], 10, store.KindPending, store.StatePending)
	hold.TimeoutAt = &deadline
	hold.Metadata = []byte(`{"hold": true}`)
	ts := insertTransfers(t, s, []store.Transfer{
		hold,
		transfer(acct[0], acct[1], 20, store.KindPending, store.StatePosted),
		transfer(acct[0], acct[1], 30, store.KindSingle, store.StatePosted),
	})
	post := transfer(acct[0], acct[1], 20, store.KindPost, store.StatePosted)
	post.PendingID = ts[1].ID
	ts = append(ts, insertTransfers(t, s, []store.Transfer{post})...)
	pending, posted, single, postID := ts[0].ID, ts[1].ID, ts[2].ID, ts[3].ID

	tests := []struct {
		name string
		ids  []int64
		want []int64
	}{
		{"pending of any state, in id order", []int64{posted, 999999, single, pending, postID, pending}, []int64{pending, posted}},
		{"not pending", []int64{single, postID}, nil},
		{"none", nil, nil},
	}
	tx := begin(t, s)
	for _, tt := range tests {
		got, err := tx.LockPending(ctx, tt.ids)
		if err != nil {
			t.Errorf("%s: LockPending(%v): %v", tt.name, tt.ids, err)
			continue
		}
		if ids := transferIDs(got); !slices.Equal(ids, tt.want) {
			t.Errorf("%s: LockPending(%v) ids = %v, want %v", tt.name, tt.ids, ids, tt.want)
		}
	}
	got, err := tx.LockPending(ctx, []int64{pending})
	if err != nil || len(got) != 1 {
		t.Fatalf("LockPending(%d) = %v, %v", pending, got, err)
	}
	if d := diff(got[0], ts[0]); d != "" {
		t.Errorf("LockPending(%d):%s", pending, d)
	}
}

func testNextTransferIDs(t *testing.T, s store.Store) {
	ctx := t.Context()
	acct := newAccounts(t, s, 2)

	tx := begin(t, s)
	if ids, err := tx.NextTransferIDs(ctx, 0); err != nil || len(ids) != 0 {
		t.Errorf("NextTransferIDs(0) = %v, %v; want none", ids, err)
	}
	first, err := tx.NextTransferIDs(ctx, 3)
	if err != nil {
		t.Fatalf("NextTransferIDs(3): %v", err)
	}
	second, err := tx.NextTransferIDs(ctx, 2)
	if err != nil {
		t.Fatalf("NextTransferIDs(2): %v", err)
	}
	if !isDistinct(slices.Concat(first, second)) {
		t.Fatalf("NextTransferIDs in one transaction = %v, then %v; want no id twice", first, second)
	}
	ts := make([]store.Transfer, 0, 5)
	for _, id := range slices.Concat(first, second) {
		tr := transfer(acct[0], acct[1], 1, store.KindSingle, store.StatePosted)
		tr.ID = id
		ts = append(ts, tr)
	}
	if err := tx.InsertTransfers(ctx, ts); err != nil {
		t.Fatalf("InsertTransfers: %v", err)
	}
	commit(t, tx)

	tx = begin(t, s)
	third, err := tx.NextTransferIDs(ctx, 4)
	if err != nil {
		t.Fatalf("NextTransferIDs(4) in a second transaction: %v", err)
	}
	tx.Rollback()

	for _, ids := range [][]int64{first, second, third} {
		if !isAscending(ids) {
			t.Errorf("NextTransferIDs = %v, want strictly ascending", ids)
		}
	}
	if all := slices.Concat(first, second, third); len(all) != 9 || !isDistinct(all) {
		t.Errorf("NextTransferIDs(3), (2) and, in another transaction, (4) = %v, %v, %v; want 9 distinct ids", first, second, third)
	}
}

func testTransfers(t *testing.T, s store.Store) {
	ctx := t.Context()
	m2 := createMerchant(t, s, "acme")
	acct := newAccounts(t, s, 3)
	a, b, c := acct[0], acct[1], acct[2]
	other := store.Account{MerchantID: m2, Asset: "USD", Normal: store.Credit, CreatedAt: t0}
	other2 := store.Account{MerchantID: m2, Asset: "USD", Normal: store.Debit, CreatedAt: t0}
	insertAccounts(t, s, &other, &other2)

	deadline := t0.Add(time.Hour)
	single := transfer(a, b, 100, store.KindSingle, store.StatePosted)
	single.Metadata = []byte(`{"order": "o-1", "lines": [1, 2]}`)
	hold := transfer(a, c, 50, store.KindPending, store.StatePending)
	hold.TimeoutAt = &deadline
	ts := insertTransfers(t, s, []store.Transfer{single, hold})
	post := transfer(a, c, 20, store.KindPost, store.StatePosted)
	post.PendingID = ts[1].ID
	ts = append(ts, insertTransfers(t, s, []store.Transfer{
		post,
		transfer(c, b, 5, store.KindSingle, store.StatePosted),
	})...)
	foreign := transfer(other.ID, other2.ID, 7, store.KindSingle, store.StatePosted)
	foreign.MerchantID = m2
	ts = append(ts, insertTransfers(t, s, []store.Transfer{foreign})...)
	t1, t2, t3, t4, t5 := ts[0].ID, ts[1].ID, ts[2].ID, ts[3].ID, ts[4].ID

	for _, want := range ts {
		got, err := s.Transfer(ctx, want.ID)
		if err != nil {
			t.Errorf("Transfer(%d): %v", want.ID, err)
			continue
		}
		if d := diff(got, want); d != "" {
			t.Errorf("Transfer(%d):%s", want.ID, d)
		}
	}

	tx := begin(t, s)
	got, err := tx.TransfersByIDs(ctx, []int64{t4, 999999, t1, t1})
	if err != nil {
		t.Fatalf("TransfersByIDs: %v", err)
	}
	if ids, want := transferIDs(got), []int64{t1, t4}; !slices.Equal(ids, want) {
		t.Errorf("TransfersByIDs ids = %v, want %v", ids, want)
	} else if d := diff(got[0], ts[0]); d != "" {
		t.Errorf("TransfersByIDs(%d):%s", t1, d)
	}
	if got, err := tx.TransfersByIDs(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("TransfersByIDs(nil) = %v, %v; want none", got, err)
	}
	tx.Rollback()

	filters := []struct {
		name string
		f    store.TransferFilter
		want []int64
	}{
		{"all", store.TransferFilter{}, []int64{t1, t2, t3, t4, t5}},
		{"merchant", store.TransferFilter{MerchantID: 1}, []int64{t1, t2, t3, t4}},
		{"other merchant", store.TransferFilter{MerchantID: m2}, []int64{t5}},
		{"debit side", store.TransferFilter{AccountID: a}, []int64{t1, t2, t3}},
		{"both sides", store.TransferFilter{AccountID: c}, []int64{t2, t3, t4}},
		{"account after", store.TransferFilter{AccountID: b, AfterID: t1}, []int64{t4}},
		{"account limit", store.TransferFilter{AccountID: c, Limit: 2}, []int64{t2, t3}},
		{"account and merchant", store.TransferFilter{AccountID: c, MerchantID: 1}, []int64{t2, t3, t4}},
		{"account of another merchant", store.TransferFilter{AccountID: a, MerchantID: m2}, nil},
		{"unknown account", store.TransferFilter{AccountID: 999999}, nil},
		{"after", store.TransferFilter{AfterID: t3, Limit: 1}, []int64{t4}},
	}
	for _, tt := range filters {
		got, err := s.Transfers(ctx, tt.f)
		if err != nil {
			t.Errorf("%s: Transfers(%+v): %v", tt.name, tt.f, err)
			continue
		}
		if ids := transferIDs(got); !slices.Equal(ids, tt.want) {
			t.Errorf("%s: Transfers(%+v) ids = %v, want %v", tt.name, tt.f, ids, tt.want)
		}
	}
}

func testTransfersPaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	acct := newAccounts(t, s, 3)
	a, b, c := acct[0], acct[1], acct[2]
	var batch []store.Transfer
	for i := range 250 {
		switch i % 3 {
		case 0:
			batch = append(batch, transfer(a, b, 1, store.KindSingle, store.StatePosted))
		case 1:
			batch = append(batch, transfer(b, c, 1, store.KindSingle, store.StatePosted))
		default:
			batch = append(batch, transfer(c, a, 1, store.KindSingle, store.StatePosted))
		}
	}
	ts := insertTransfers(t, s, batch)
	var all, withB []int64
	for _, tr := range ts {
		all = append(all, tr.ID)
		if tr.DebitAccountID == b || tr.CreditAccountID == b {
			withB = append(withB, tr.ID)
		}
	}
	slices.Sort(all)

	got, err := s.Transfers(ctx, store.TransferFilter{})
	if err != nil {
		t.Fatalf("Transfers: %v", err)
	}
	if ids := transferIDs(got); !slices.Equal(ids, all[:100]) {
		t.Errorf("Transfers with Limit 0 = %d rows %v…, want the first 100", len(ids), ids[:min(len(ids), 3)])
	}

	tests := []struct {
		name string
		f    store.TransferFilter
		want []int64
	}{
		{"every transfer", store.TransferFilter{Limit: 7}, all},
		{"one account", store.TransferFilter{AccountID: b, Limit: 7}, withB},
	}
	for _, tt := range tests {
		var ids []int64
		for f := tt.f; ; {
			page, err := s.Transfers(ctx, f)
			if err != nil {
				t.Fatalf("%s: Transfers(%+v): %v", tt.name, f, err)
			}
			if len(page) > f.Limit {
				t.Fatalf("%s: Transfers(%+v) returned %d rows", tt.name, f, len(page))
			}
			if len(page) == 0 {
				break
			}
			ids = append(ids, transferIDs(page)...)
			f.AfterID = page[len(page)-1].ID
		}
		if !slices.Equal(ids, tt.want) {
			t.Errorf("%s: paging gave %d ids, want %d in id order", tt.name, len(ids), len(tt.want))
		}
	}
}

func testKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	m2 := createMerchant(t, s, "acme")
	acct := newAccounts(t, s, 2)
	tr := insertTransfers(t, s, []store.Transfer{transfer(acct[0], acct[1], 9, store.KindSingle, store.StatePosted)})[0]

	records := []store.KeyRecord{
		{MerchantID: 1, Key: "pay-1", TransferID: tr.ID, CreatedAt: t0},
		{MerchantID: 1, Key: "pay-2", Request: []byte(`{"kind": "single", "amount": 5}`),
			Code: "insufficient_funds", Message: "not enough", CreatedAt: t0},
		{MerchantID: m2, Key: "pay-1", Request: []byte(`{"kind":"void"}`), Code: "pending_not_found", CreatedAt: t0},
	}
	tx := begin(t, s)
	if err := tx.InsertKeys(ctx, records); err != nil {
		t.Fatalf("InsertKeys: %v", err)
	}
	commit(t, tx)

	tx = begin(t, s)
	got, err := tx.LookupKeys(ctx, []store.MerchantKey{
		{MerchantID: 1, Key: "pay-2"}, {MerchantID: 1, Key: "nope"}, {MerchantID: m2, Key: "pay-2"},
		{MerchantID: 1, Key: "pay-1"}, {MerchantID: 1, Key: "pay-1"},
	})
	if err != nil {
		t.Fatalf("LookupKeys: %v", err)
	}
	if len(got) != 2 {
		t.Errorf("LookupKeys returned %d records, want 2 (pay-1 and pay-2 of merchant 1)", len(got))
	}
	for _, k := range got {
		want := records[0]
		if k.Key == "pay-2" {
			want = records[1]
		}
		if d := diff(k, want); d != "" {
			t.Errorf("LookupKeys(%d/%s):%s", k.MerchantID, k.Key, d)
		}
	}
	if got, err := tx.LookupKeys(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("LookupKeys(nil) = %v, %v; want none", got, err)
	}
	tx.Rollback()

	for _, want := range records {
		got, err := s.KeyRecord(ctx, store.MerchantKey{MerchantID: want.MerchantID, Key: want.Key})
		if err != nil {
			t.Errorf("KeyRecord(%d/%s): %v", want.MerchantID, want.Key, err)
			continue
		}
		if d := diff(got, want); d != "" {
			t.Errorf("KeyRecord(%d/%s):%s", want.MerchantID, want.Key, d)
		}
	}

	// A key recorded by another node since this batch looked it up. An
	// engine may send writes at commit (PostgreSQL pipelines them), so the
	// error may come from InsertKeys or from Commit.
	tx = begin(t, s)
	err = tx.InsertKeys(ctx, []store.KeyRecord{
		{MerchantID: 1, Key: "pay-3", TransferID: tr.ID, CreatedAt: t0},
		{MerchantID: 1, Key: "pay-1", TransferID: tr.ID, CreatedAt: t0},
	})
	if err == nil {
		err = tx.Commit()
	}
	if !errors.Is(err, store.ErrRetry) {
		t.Errorf("InsertKeys with an existing key = %v, want ErrRetry (from InsertKeys or Commit)", err)
	}
	tx.Rollback()
}

func testSetStates(t *testing.T, s store.Store) {
	ctx := t.Context()
	acct := newAccounts(t, s, 2)
	ts := insertTransfers(t, s, []store.Transfer{
		transfer(acct[0], acct[1], 1, store.KindPending, store.StatePending),
		transfer(acct[0], acct[1], 2, store.KindPending, store.StatePending),
		transfer(acct[0], acct[1], 3, store.KindPending, store.StatePending),
	})
	tx := begin(t, s)
	err := tx.SetStates(ctx, []store.StateChange{
		{ID: ts[2].ID, State: store.StateExpired},
		{ID: ts[0].ID, State: store.StatePosted},
	})
	if err != nil {
		t.Fatalf("SetStates: %v", err)
	}
	if err := tx.SetStates(ctx, nil); err != nil {
		t.Errorf("SetStates(nil): %v", err)
	}
	commit(t, tx)
	for i, want := range []string{store.StatePosted, store.StatePending, store.StateExpired} {
		got, err := s.Transfer(ctx, ts[i].ID)
		if err != nil {
			t.Fatalf("Transfer(%d): %v", ts[i].ID, err)
		}
		ts[i].State = want
		if d := diff(got, ts[i]); d != "" {
			t.Errorf("Transfer(%d) after SetStates:%s", ts[i].ID, d)
		}
	}
}

func testUpdateBalances(t *testing.T, s store.Store) {
	ctx := t.Context()
	ids := newAccounts(t, s, 3)
	before, err := s.Account(ctx, ids[0])
	if err != nil {
		t.Fatalf("Account(%d): %v", ids[0], err)
	}
	tx := begin(t, s)
	// Only the counters are written: the other fields may be left zero.
	err = tx.UpdateBalances(ctx, []store.Account{
		{ID: ids[1], DebitsPosted: 5, CreditsPosted: 6, DebitsPending: 7, CreditsPending: 8},
		{ID: ids[0], DebitsPosted: 1, CreditsPosted: 2, DebitsPending: 3, CreditsPending: 4},
	})
	if err != nil {
		t.Fatalf("UpdateBalances: %v", err)
	}
	if err := tx.UpdateBalances(ctx, nil); err != nil {
		t.Errorf("UpdateBalances(nil): %v", err)
	}
	commit(t, tx)

	want := before
	want.DebitsPosted, want.CreditsPosted, want.DebitsPending, want.CreditsPending = 1, 2, 3, 4
	got, err := s.Account(ctx, ids[0])
	if err != nil {
		t.Fatalf("Account(%d): %v", ids[0], err)
	}
	if d := diff(got, want); d != "" {
		t.Errorf("Account(%d) after UpdateBalances:%s", ids[0], d)
	}
	counters := func(a store.Account) [4]int64 {
		return [4]int64{a.DebitsPosted, a.CreditsPosted, a.DebitsPending, a.CreditsPending}
	}
	for i, want := range [][4]int64{{5, 6, 7, 8}, {0, 0, 0, 0}} {
		got, err := s.Account(ctx, ids[i+1])
		if err != nil {
			t.Fatalf("Account(%d): %v", ids[i+1], err)
		}
		if counters(got) != want {
			t.Errorf("Account(%d) counters = %v, want %v", ids[i+1], counters(got), want)
		}
	}
}

func testRollback(t *testing.T, s store.Store) {
	ctx := t.Context()
	ids := newAccounts(t, s, 2)
	tx := begin(t, s)
	acct := store.Account{MerchantID: 1, Asset: "USD", Normal: store.Credit, Key: "rolled-back", CreatedAt: t0}
	if err := tx.InsertAccount(ctx, &acct); err != nil {
		t.Fatalf("InsertAccount: %v", err)
	}
	next, err := tx.NextTransferIDs(ctx, 1)
	if err != nil {
		t.Fatalf("NextTransferIDs: %v", err)
	}
	tr := transfer(ids[0], ids[1], 3, store.KindPending, store.StatePending)
	tr.ID = next[0]
	steps := []struct {
		name string
		run  func() error
	}{
		{"InsertTransfers", func() error { return tx.InsertTransfers(ctx, []store.Transfer{tr}) }},
		{"InsertKeys", func() error {
			return tx.InsertKeys(ctx, []store.KeyRecord{{MerchantID: 1, Key: "k", TransferID: tr.ID, CreatedAt: t0}})
		}},
		{"UpdateBalances", func() error { return tx.UpdateBalances(ctx, []store.Account{{ID: ids[0], DebitsPending: 3}}) }},
		{"SetStates", func() error { return tx.SetStates(ctx, []store.StateChange{{ID: tr.ID, State: store.StateVoided}}) }},
	}
	for _, st := range steps {
		if err := st.run(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
	}
	if err := tx.Rollback(); err != nil {
		t.Fatalf("Rollback: %v", err)
	}

	if _, err := s.Account(ctx, acct.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Account(%d) after rollback = %v, want ErrNotFound", acct.ID, err)
	}
	if _, err := s.Transfer(ctx, tr.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Transfer(%d) after rollback = %v, want ErrNotFound", tr.ID, err)
	}
	if _, err := s.KeyRecord(ctx, store.MerchantKey{MerchantID: 1, Key: "k"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("KeyRecord after rollback = %v, want ErrNotFound", err)
	}
	if a, err := s.Account(ctx, ids[0]); err != nil || a.DebitsPending != 0 {
		t.Errorf("Account(%d) after rollback = debits pending %d, %v; want 0", ids[0], a.DebitsPending, err)
	}
}

func testJournal(t *testing.T, s store.Store) {
	ctx := t.Context()
	sums, err := s.Journal(ctx)
	if err != nil {
		t.Fatalf("Journal of an empty ledger: %v", err)
	}
	if len(sums) != 0 {
		t.Errorf("Journal of an empty ledger = %v, want no rows", sums)
	}

	acct := newAccounts(t, s, 8)
	a, b, c, d, e, f, g := acct[0], acct[1], acct[2], acct[3], acct[4], acct[5], acct[6]
	insertTransfers(t, s, []store.Transfer{
		transfer(a, b, 100, store.KindSingle, store.StatePosted),  // 0
		transfer(a, c, 30, store.KindPending, store.StatePending), // 1: still held
		transfer(a, b, 20, store.KindPending, store.StatePosted),  // 2: posted by 3
		transfer(a, b, 15, store.KindPost, store.StatePosted),     // 3
		transfer(b, c, 10, store.KindPending, store.StateVoided),  // 4: voided by 5
		transfer(b, c, 10, store.KindVoid, store.StateVoided),     // 5
		transfer(c, d, 7, store.KindPending, store.StateExpired),  // 6: expired by 7
		transfer(c, d, 7, store.KindExpire, store.StateVoided),    // 7
		transfer(e, a, 1, store.KindSingle, store.StatePosted),    // 8
		transfer(d, e, 4, store.KindPending, store.StatePending),  // 9: still held
		transfer(f, g, 9, store.KindPending, store.StateVoided),   // 10: f and g move no money
		transfer(f, g, 9, store.KindVoid, store.StateVoided),      // 11
	})
	want := map[int64]store.JournalSums{
		a: {AccountID: a, DebitsPosted: 115, CreditsPosted: 1, DebitsPending: 30},
		b: {AccountID: b, CreditsPosted: 115},
		c: {AccountID: c, CreditsPending: 30},
		d: {AccountID: d, DebitsPending: 4},
		e: {AccountID: e, DebitsPosted: 1, CreditsPending: 4},
		// Accounts that appear only in transfers that count for nothing
		// still have a row. acct[7] appears in no transfer and has none.
		f: {AccountID: f},
		g: {AccountID: g},
	}
	sums, err = s.Journal(ctx)
	if err != nil {
		t.Fatalf("Journal: %v", err)
	}
	got := make(map[int64]store.JournalSums)
	for _, j := range sums {
		if _, dup := got[j.AccountID]; dup {
			t.Errorf("Journal has two rows for account %d", j.AccountID)
		}
		got[j.AccountID] = j
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("Journal for account %d = %+v, want %+v", id, got[id], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Journal has rows for %d accounts, want %d", len(got), len(want))
	}
}

func testEach(t *testing.T, s store.Store) {
	ctx := t.Context()
	accts := newAccounts(t, s, 5)

	// More transfers than engines are likely to read in one chunk, inserted
	// out of id order.
	const n = 12005
	tx := begin(t, s)
	ids, err := tx.NextTransferIDs(ctx, n)
	if err != nil {
		t.Fatalf("NextTransferIDs: %v", err)
	}
	ts := make([]store.Transfer, n)
	for i := range ts {
		ts[i] = transfer(accts[i%5], accts[(i+1)%5], int64(i+1), store.KindSingle, store.StatePosted)
		ts[i].ID = ids[n-1-i]
	}
	for _, part := range [][]store.Transfer{ts[n/2:], ts[:n/2]} {
		if err := tx.InsertTransfers(ctx, part); err != nil {
			t.Fatalf("InsertTransfers(%d): %v", len(part), err)
		}
	}
	commit(t, tx)

	var gotAccounts []int64
	if err := s.EachAccount(ctx, func(a store.Account) error {
		gotAccounts = append(gotAccounts, a.ID)
		return nil
	}); err != nil {
		t.Fatalf("EachAccount: %v", err)
	}
	if !slices.Equal(gotAccounts, accts) {
		t.Errorf("EachAccount ids = %v, want %v", gotAccounts, accts)
	}

	byID := make(map[int64]store.Transfer, n)
	for _, tr := range ts {
		byID[tr.ID] = tr
	}
	var gotTransfers []int64
	mismatches := 0
	if err := s.EachTransfer(ctx, func(tr store.Transfer) error {
		if d := diff(tr, byID[tr.ID]); d != "" {
			if mismatches++; mismatches <= 3 {
				t.Errorf("EachTransfer row %d:%s", tr.ID, d)
			}
		}
		gotTransfers = append(gotTransfers, tr.ID)
		return nil
	}); err != nil {
		t.Fatalf("EachTransfer: %v", err)
	}
	if !slices.Equal(gotTransfers, ids) {
		t.Errorf("EachTransfer gave %d ids (ascending: %t), want the %d ids in ascending order",
			len(gotTransfers), isAscending(gotTransfers), n)
	}

	// An error from fn stops the walk and is returned.
	errStop := errors.New("stop")
	calls := 0
	stop := func() error {
		calls++
		if calls == 2 {
			return errStop
		}
		return nil
	}
	if err := s.EachAccount(ctx, func(store.Account) error { return stop() }); !errors.Is(err, errStop) || calls != 2 {
		t.Errorf("EachAccount with a failing fn = %v after %d calls, want the error after 2", err, calls)
	}
	calls = 0
	if err := s.EachTransfer(ctx, func(store.Transfer) error { return stop() }); !errors.Is(err, errStop) || calls != 2 {
		t.Errorf("EachTransfer with a failing fn = %v after %d calls, want the error after 2", err, calls)
	}
}

func testExpiredPending(t *testing.T, s store.Store) {
	ctx := t.Context()
	acct := newAccounts(t, s, 2)
	now := t0.Add(24 * time.Hour)
	at := func(d time.Duration) *time.Time { tm := now.Add(d); return &tm }
	hold := func(state string, timeout *time.Time) store.Transfer {
		tr := transfer(acct[0], acct[1], 1, store.KindPending, state)
		tr.TimeoutAt = timeout
		return tr
	}
	ts := insertTransfers(t, s, []store.Transfer{
		hold(store.StatePending, at(-time.Hour)),       // 0: expired
		hold(store.StatePending, at(0)),                // 1: expires now
		hold(store.StatePending, at(time.Microsecond)), // 2: not yet
		hold(store.StatePending, nil),                  // 3: never
		hold(store.StatePosted, at(-2*time.Hour)),      // 4: already posted
		hold(store.StatePending, at(-30*time.Minute)),  // 5: expired
		hold(store.StateVoided, at(-3*time.Hour)),      // 6: already voided
	})
	want := []int64{ts[0].ID, ts[1].ID, ts[5].ID}

	got, err := s.ExpiredPending(ctx, now, 10)
	if err != nil {
		t.Fatalf("ExpiredPending: %v", err)
	}
	ids := transferIDs(got)
	slices.Sort(ids)
	if !slices.Equal(ids, want) {
		t.Errorf("ExpiredPending(now, 10) ids = %v, want %v", ids, want)
	}
	for _, tr := range got {
		if tr.ID == ts[0].ID {
			if d := diff(tr, ts[0]); d != "" {
				t.Errorf("ExpiredPending row %d:%s", tr.ID, d)
			}
		}
	}

	got, err = s.ExpiredPending(ctx, now, 2)
	if err != nil {
		t.Fatalf("ExpiredPending: %v", err)
	}
	if len(got) != 2 {
		t.Errorf("ExpiredPending(now, 2) returned %d rows, want 2", len(got))
	}
	for _, tr := range got {
		if !slices.Contains(want, tr.ID) {
			t.Errorf("ExpiredPending(now, 2) returned transfer %d, not expired", tr.ID)
		}
	}
}

func testNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
	}{
		{"Merchant", func() error { _, err := s.Merchant(ctx, 999999); return err }},
		{"APIKeyByPrefix", func() error { _, err := s.APIKeyByPrefix(ctx, "ck_nope"); return err }},
		{"Asset", func() error { _, err := s.Asset(ctx, "NOPE"); return err }},
		{"Account", func() error { _, err := s.Account(ctx, 999999); return err }},
		{"Transfer", func() error { _, err := s.Transfer(ctx, 999999); return err }},
		{"KeyRecord", func() error {
			_, err := s.KeyRecord(ctx, store.MerchantKey{MerchantID: 1, Key: "nope"})
			return err
		}},
	}
	for _, tt := range tests {
		if err := tt.call(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s of a missing row = %v, want ErrNotFound", tt.name, err)
		}
	}
}

// testConcurrentLocks has writers race on one account's counter. Only if
// LockAccounts really locks does every increment survive.
func testConcurrentLocks(t *testing.T, s store.Store) {
	ctx := t.Context()
	id := newAccounts(t, s, 1)[0]
	const writers, rounds = 4, 25
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range rounds {
				if err := increment(t, s, id); err != nil {
					t.Errorf("increment: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	a, err := s.Account(ctx, id)
	if err != nil {
		t.Fatalf("Account(%d): %v", id, err)
	}
	if a.DebitsPosted != writers*rounds {
		t.Errorf("counter = %d after %d locked increments", a.DebitsPosted, writers*rounds)
	}
}

func increment(t *testing.T, s store.Store, id int64) error {
	ctx := t.Context()
	tx, err := s.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	as, err := tx.LockAccounts(ctx, []int64{id})
	if err != nil {
		return err
	}
	if len(as) != 1 {
		return fmt.Errorf("LockAccounts(%d) returned %d rows", id, len(as))
	}
	as[0].DebitsPosted++
	if err := tx.UpdateBalances(ctx, as); err != nil {
		return err
	}
	return tx.Commit()
}

// Fixtures.

func begin(t *testing.T, s store.Store) store.Tx {
	t.Helper()
	tx, err := s.Begin(t.Context())
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	t.Cleanup(func() { tx.Rollback() })
	return tx
}

func commit(t *testing.T, tx store.Tx) {
	t.Helper()
	if err := tx.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func createMerchant(t *testing.T, s store.Store, name string) int64 {
	t.Helper()
	m, err := s.CreateMerchant(t.Context(), name)
	if err != nil {
		t.Fatalf("CreateMerchant(%s): %v", name, err)
	}
	return m.ID
}

func addAsset(t *testing.T, s store.Store, code string, scale int) {
	t.Helper()
	if err := s.UpsertAsset(t.Context(), store.Asset{Code: code, Scale: scale, Kind: "currency", CreatedAt: t0}); err != nil {
		t.Fatalf("UpsertAsset(%s): %v", code, err)
	}
}

// insertAccounts inserts the accounts in one transaction, setting their ids.
func insertAccounts(t *testing.T, s store.Store, as ...*store.Account) {
	t.Helper()
	tx := begin(t, s)
	for _, a := range as {
		if err := tx.InsertAccount(t.Context(), a); err != nil {
			t.Fatalf("InsertAccount(%+v): %v", *a, err)
		}
	}
	commit(t, tx)
}

// newAccounts creates n USD accounts of merchant 1 and returns their ids.
func newAccounts(t *testing.T, s store.Store, n int) []int64 {
	t.Helper()
	addAsset(t, s, "USD", 2)
	as := make([]*store.Account, n)
	ids := make([]int64, n)
	for i := range as {
		as[i] = &store.Account{MerchantID: 1, Asset: "USD", Name: fmt.Sprintf("acct %d", i), Normal: store.Credit, CreatedAt: t0}
	}
	insertAccounts(t, s, as...)
	for i, a := range as {
		ids[i] = a.ID
	}
	return ids
}

// transfer is a transfer of merchant 1 in USD, with no id yet.
func transfer(debit, credit, amount int64, kind, state string) store.Transfer {
	return store.Transfer{
		MerchantID: 1, Kind: kind, DebitAccountID: debit, CreditAccountID: credit,
		Asset: "USD", Amount: amount, State: state, CreatedAt: t0,
	}
}

// insertTransfers gives ts new ids and keys, inserts them in one
// transaction and returns them.
func insertTransfers(t *testing.T, s store.Store, ts []store.Transfer) []store.Transfer {
	t.Helper()
	tx := begin(t, s)
	ids, err := tx.NextTransferIDs(t.Context(), len(ts))
	if err != nil {
		t.Fatalf("NextTransferIDs: %v", err)
	}
	out := slices.Clone(ts)
	for i := range out {
		out[i].ID = ids[i]
		out[i].Key = fmt.Sprintf("t-%d", ids[i])
	}
	if err := tx.InsertTransfers(t.Context(), out); err != nil {
		t.Fatalf("InsertTransfers: %v", err)
	}
	commit(t, tx)
	return out
}

func accountIDs(as []store.Account) []int64 {
	var ids []int64
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	return ids
}

func transferIDs(ts []store.Transfer) []int64 {
	var ids []int64
	for _, tr := range ts {
		ids = append(ids, tr.ID)
	}
	return ids
}

func isDistinct(ids []int64) bool {
	sorted := slices.Sorted(slices.Values(ids))
	return len(slices.Compact(sorted)) == len(ids)
}

func isAscending(ids []int64) bool {
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			return false
		}
	}
	return true
}

// Comparison.

// jsonFields hold JSON documents, compared by value: an engine may store
// JSON in its own form (PostgreSQL's jsonb reorders keys and drops spaces).
var jsonFields = map[string]bool{"Metadata": true, "Request": true}

// diff lists the fields in which two rows of one struct type differ, or
// returns "". Times are compared as instants, since engines may return them
// in another location.
func diff(got, want any) string {
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	var b strings.Builder
	for i := range gv.NumField() {
		name := gv.Type().Field(i).Name
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		if !sameField(name, g, w) {
			fmt.Fprintf(&b, " %s: got %s, want %s;", name, show(g), show(w))
		}
	}
	return b.String()
}

func sameField(name string, g, w any) bool {
	switch g := g.(type) {
	case time.Time:
		return g.Equal(w.(time.Time))
	case *time.Time:
		w := w.(*time.Time)
		return (g == nil) == (w == nil) && (g == nil || g.Equal(*w))
	case []byte:
		if jsonFields[name] {
			return sameJSON(g, w.([]byte))
		}
		return bytes.Equal(g, w.([]byte))
	}
	return reflect.DeepEqual(g, w)
}

// sameJSON compares two JSON documents by value; empty and absent are the same.
func sameJSON(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(va, vb)
}

func show(v any) string {
	switch v := v.(type) {
	case []byte:
		if v == nil {
			return "nil"
		}
		return fmt.Sprintf("%q", v)
	case *time.Time:
		if v == nil {
			return "nil"
		}
		return v.String()
	}
	return fmt.Sprint(v)
}
