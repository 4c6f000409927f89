package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/internal/store"
)

// Conformance of the merchants' domain (store.MerchantStore and
// store.MerchantTx): users, gateways, credentials, customers, wallets,
// system accounts and the master key check.

func testMerchantList(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createMerchant(t, s, "a")
	b := createMerchant(t, s, "b")
	tests := []struct {
		name  string
		after int64
		limit int
		want  []int64
	}{
		{"all", 0, 0, []int64{1, a, b}},
		{"after", 1, 0, []int64{a, b}},
		{"limit", 0, 2, []int64{1, a}},
		{"past the end", b, 0, nil},
	}
	for _, tt := range tests {
		ms, err := s.Merchants(ctx, tt.after, tt.limit)
		if err != nil {
			t.Fatalf("%s: Merchants: %v", tt.name, err)
		}
		var ids []int64
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
		if !slices.Equal(ids, tt.want) {
			t.Errorf("%s: Merchants = %v, want %v", tt.name, ids, tt.want)
		}
	}
}

func testMerchantUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	m2 := createMerchant(t, s, "acme")
	users := []store.MerchantUser{
		{MerchantID: 1, Username: "admin", Role: store.UserAdmin, CreatedAt: t0},
		{MerchantID: m2, Username: "acme", Role: store.UserAdmin, CreatedAt: t0},
		{MerchantID: m2, Username: "reseller-1", Role: store.UserReseller, CreatedAt: t0},
	}
	for i := range users {
		if err := s.InsertMerchantUser(ctx, &users[i]); err != nil {
			t.Fatalf("InsertMerchantUser(%s): %v", users[i].Username, err)
		}
		if users[i].ID == 0 {
			t.Errorf("InsertMerchantUser(%s) left ID 0", users[i].Username)
		}
	}
	// A username is unique per instance, whatever the merchant.
	dup := store.MerchantUser{MerchantID: 1, Username: "acme", Role: store.UserReseller, CreatedAt: t0}
	if err := s.InsertMerchantUser(ctx, &dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("InsertMerchantUser(taken username) = %v, want ErrConflict", err)
	}
	for _, want := range users {
		got, err := s.MerchantUserByName(ctx, want.Username)
		if err != nil {
			t.Fatalf("MerchantUserByName(%s): %v", want.Username, err)
		}
		if d := diff(got, want); d != "" {
			t.Errorf("MerchantUserByName(%s):%s", want.Username, d)
		}
		got, err = s.MerchantUser(ctx, want.ID)
		if err != nil || got.Username != want.Username {
			t.Errorf("MerchantUser(%d) = %+v, %v", want.ID, got, err)
		}
	}
	list, err := s.MerchantUsers(ctx, m2)
	if err != nil {
		t.Fatalf("MerchantUsers: %v", err)
	}
	var names []string
	for _, u := range list {
		names = append(names, u.Username)
	}
	if want := []string{"acme", "reseller-1"}; !slices.Equal(names, want) {
		t.Errorf("MerchantUsers(%d) = %v, want %v", m2, names, want)
	}
	if _, err := s.MerchantUserByName(ctx, "ACME"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("MerchantUserByName(ACME) = %v, want ErrNotFound (usernames are exact)", err)
	}
}

func testGateways(t *testing.T, s store.Store) {
	ctx := t.Context()
	m2 := createMerchant(t, s, "acme")
	if _, err := s.Gateway(ctx, m2, "cmmp"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Gateway before any save = %v, want ErrNotFound", err)
	}
	g := store.Gateway{MerchantID: m2, Dialect: "mor", Settings: []byte(`{"hash_check": true, "usernames": ["a"]}`), UpdatedAt: t0}
	if err := s.SaveGateway(ctx, g); err != nil {
		t.Fatalf("SaveGateway: %v", err)
	}
	g.Open, g.Settings, g.UpdatedAt = true, []byte(`{"hash_check": false}`), t0.Add(time.Minute)
	if err := s.SaveGateway(ctx, g); err != nil {
		t.Fatalf("SaveGateway again: %v", err)
	}
	got, err := s.Gateway(ctx, m2, "mor")
	if err != nil {
		t.Fatalf("Gateway: %v", err)
	}
	if got.MerchantID != m2 || got.Dialect != "mor" || !got.Open || !sameJSON(got.Settings, g.Settings) || !got.UpdatedAt.Equal(g.UpdatedAt) {
		t.Errorf("Gateway = %+v (settings %s), want %+v", got, got.Settings, g)
	}
	if err := s.SaveGateway(ctx, store.Gateway{MerchantID: m2, Dialect: "cmmp", Settings: []byte(`{}`), UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveGateway(ctx, store.Gateway{MerchantID: 1, Dialect: "webtv", Settings: []byte(`{}`), UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	list, err := s.Gateways(ctx, m2)
	if err != nil {
		t.Fatalf("Gateways: %v", err)
	}
	var ds []string
	for _, g := range list {
		ds = append(ds, g.Dialect)
	}
	if want := []string{"cmmp", "mor"}; !slices.Equal(ds, want) {
		t.Errorf("Gateways(%d) = %v, want %v", m2, ds, want)
	}
}

func testCredentials(t *testing.T, s store.Store) {
	ctx := t.Context()
	m2 := createMerchant(t, s, "acme")
	m3 := createMerchant(t, s, "other")
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	lookups := func(merchant int64, dialect string, now time.Time) []string {
		t.Helper()
		cs, err := s.Credentials(ctx, merchant, dialect, now)
		if err != nil {
			t.Fatalf("Credentials: %v", err)
		}
		var out []string
		for _, c := range cs {
			out = append(out, c.Lookup)
		}
		return out
	}
	replace := func(merchant int64, dialect, lookup string, now time.Time, grace *time.Time) (store.Credential, error) {
		c := store.Credential{MerchantID: merchant, Dialect: dialect, Lookup: lookup, Hint: "…" + lookup, CreatedAt: now}
		err := s.ReplaceCredential(ctx, &c, now, grace)
		return c, err
	}

	first, err := replace(m2, "cmmp", "h1", at(0), nil)
	if err != nil || first.ID == 0 {
		t.Fatalf("ReplaceCredential(first) = %+v, %v", first, err)
	}
	got, err := s.CredentialByLookup(ctx, "cmmp", "h1", at(0))
	if err != nil {
		t.Fatalf("CredentialByLookup: %v", err)
	}
	if d := diff(got, first); d != "" {
		t.Errorf("CredentialByLookup:%s", d)
	}
	if _, err := s.CredentialByLookup(ctx, "mugglepay", "h1", at(0)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("lookup in another dialect = %v, want ErrNotFound", err)
	}

	// Without grace the old credential is gone at once.
	if _, err := replace(m2, "cmmp", "h2", at(1), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CredentialByLookup(ctx, "cmmp", "h1", at(1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("replaced credential still found: %v", err)
	}
	// With grace it stays valid until the grace period ends.
	grace := at(3)
	if _, err := replace(m2, "cmmp", "h3", at(2), &grace); err != nil {
		t.Fatal(err)
	}
	if got := lookups(m2, "cmmp", at(2)); !slices.Equal(got, []string{"h3", "h2"}) {
		t.Errorf("Credentials during grace = %v, want [h3 h2]", got)
	}
	old, err := s.CredentialByLookup(ctx, "cmmp", "h2", at(2))
	if err != nil || old.ExpiresAt == nil || !old.ExpiresAt.Equal(grace) {
		t.Errorf("old credential during grace = %+v, %v; want expiring at %v", old, err, grace)
	}
	if _, err := s.CredentialByLookup(ctx, "cmmp", "h2", grace); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old credential at the end of grace: %v, want ErrNotFound", err)
	}
	if got := lookups(m2, "cmmp", grace); !slices.Equal(got, []string{"h3"}) {
		t.Errorf("Credentials after grace = %v, want [h3]", got)
	}
	// A lookup value held by another merchant is a conflict, and changes nothing.
	if _, err := replace(m3, "cmmp", "h3", at(4), nil); !errors.Is(err, store.ErrConflict) {
		t.Errorf("ReplaceCredential(taken lookup) = %v, want ErrConflict", err)
	}
	if _, err := replace(m2, "cmmp", "h2", at(4), nil); err != nil {
		t.Errorf("ReplaceCredential(own expired lookup) = %v", err)
	}
	if got := lookups(m2, "cmmp", at(4)); !slices.Equal(got, []string{"h2"}) {
		t.Errorf("Credentials after reusing an expired lookup = %v, want [h2]", got)
	}
	// The same lookup in another dialect is another credential.
	if _, err := replace(m3, "mugglepay", "h2", at(4), nil); err != nil {
		t.Errorf("same lookup in another dialect: %v", err)
	}
	// Sealed credentials need no lookup; several merchants may have one.
	for _, m := range []int64{m2, m3} {
		c := store.Credential{MerchantID: m, Dialect: "mor", Sealed: []byte{1, 2, 3}, Hint: "…x", CreatedAt: at(5)}
		if err := s.ReplaceCredential(ctx, &c, at(5), nil); err != nil {
			t.Fatalf("ReplaceCredential(sealed): %v", err)
		}
		cs, err := s.Credentials(ctx, m, "mor", at(5))
		if err != nil || len(cs) != 1 {
			t.Fatalf("Credentials(mor) = %+v, %v", cs, err)
		}
		if d := diff(cs[0], c); d != "" {
			t.Errorf("sealed credential:%s", d)
		}
	}
}

func testCustomers(t *testing.T, s store.Store) {
	ctx := t.Context()
	m2 := createMerchant(t, s, "acme")
	owner := store.MerchantUser{MerchantID: m2, Username: "res", Role: store.UserReseller, CreatedAt: t0}
	if err := s.InsertMerchantUser(ctx, &owner); err != nil {
		t.Fatal(err)
	}
	rate := int64(210000)
	cs := []store.Customer{
		{MerchantID: 1, ID: 7, Email: "a@example.com", Label: "lab-a", Currency: "USD", CreatedAt: t0},
		{MerchantID: 1, ID: 3, CreatedAt: t0},
		{MerchantID: m2, ID: 7, Email: "a@example.com", Label: "lab-a", Currency: "EUR", OwnerID: owner.ID, TaxRate: &rate, CreatedAt: t0},
	}
	tx := begin(t, s)
	for i := range cs {
		if err := tx.InsertCustomer(ctx, &cs[i]); err != nil {
			t.Fatalf("InsertCustomer(%d/%d): %v", cs[i].MerchantID, cs[i].ID, err)
		}
	}
	// Reads inside the transaction see its writes.
	if got, err := tx.TxCustomerByEmail(ctx, m2, "a@example.com"); err != nil || got.ID != 7 || got.MerchantID != m2 {
		t.Errorf("TxCustomerByEmail = %+v, %v", got, err)
	}
	if got, err := tx.TxCustomerByLabel(ctx, 1, "lab-a"); err != nil || got.ID != 7 || got.MerchantID != 1 {
		t.Errorf("TxCustomerByLabel = %+v, %v", got, err)
	}
	if got, err := tx.TxCustomer(ctx, 1, 3); err != nil || got.Email != "" || got.TaxRate != nil {
		t.Errorf("TxCustomer(1, 3) = %+v, %v", got, err)
	}
	if _, err := tx.TxCustomer(ctx, m2, 3); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TxCustomer(other merchant) = %v, want ErrNotFound", err)
	}
	commit(t, tx)
	for _, want := range cs {
		got, err := s.Customer(ctx, want.MerchantID, want.ID)
		if err != nil {
			t.Fatalf("Customer: %v", err)
		}
		if d := diff(got, want); d != "" {
			t.Errorf("Customer(%d/%d):%s", want.MerchantID, want.ID, d)
		}
	}
	// Each unique key, taken: ErrRetry (the caller looked first, so it lost a race).
	for _, c := range []store.Customer{
		{MerchantID: 1, ID: 7, CreatedAt: t0},
		{MerchantID: 1, ID: 8, Email: "a@example.com", CreatedAt: t0},
		{MerchantID: 1, ID: 9, Label: "lab-a", CreatedAt: t0},
	} {
		tx := begin(t, s)
		if err := tx.InsertCustomer(ctx, &c); !errors.Is(err, store.ErrRetry) {
			t.Errorf("InsertCustomer(%+v) = %v, want ErrRetry", c, err)
		}
		tx.Rollback()
	}
	tests := []struct {
		name string
		f    store.CustomerFilter
		want []string
	}{
		{"merchant 1", store.CustomerFilter{MerchantID: 1}, []string{"1/3", "1/7"}},
		{"email", store.CustomerFilter{MerchantID: m2, Email: "a@example.com"}, []string{fmt.Sprintf("%d/7", m2)}},
		{"label", store.CustomerFilter{MerchantID: 1, Label: "lab-a"}, []string{"1/7"}},
		{"owner", store.CustomerFilter{MerchantID: m2, OwnerID: owner.ID}, []string{fmt.Sprintf("%d/7", m2)}},
		{"after and limit", store.CustomerFilter{MerchantID: 1, AfterID: 3, Limit: 1}, []string{"1/7"}},
		{"none", store.CustomerFilter{MerchantID: 1, Email: "b@example.com"}, nil},
	}
	for _, tt := range tests {
		got, err := s.Customers(ctx, tt.f)
		if err != nil {
			t.Fatalf("%s: Customers: %v", tt.name, err)
		}
		var ids []string
		for _, c := range got {
			ids = append(ids, fmt.Sprintf("%d/%d", c.MerchantID, c.ID))
		}
		if !slices.Equal(ids, tt.want) {
			t.Errorf("%s: Customers = %v, want %v", tt.name, ids, tt.want)
		}
	}
}

// walletFixture makes a customer of merchant 1 and two PTS accounts.
func walletFixture(t *testing.T, s store.Store) (customer int64, accounts [2]int64) {
	t.Helper()
	if err := s.UpsertAsset(t.Context(), store.Asset{Code: "PTS", Scale: 0, Kind: "custom", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	a := &store.Account{MerchantID: 1, Asset: "PTS", Normal: store.Credit, CreatedAt: t0}
	b := &store.Account{MerchantID: 1, Asset: "PTS", Normal: store.Credit, CreatedAt: t0}
	insertAccounts(t, s, a, b)
	tx := begin(t, s)
	c := store.Customer{MerchantID: 1, ID: 42, CreatedAt: t0}
	if err := tx.InsertCustomer(t.Context(), &c); err != nil {
		t.Fatal(err)
	}
	commit(t, tx)
	return 42, [2]int64{a.ID, b.ID}
}

func testWallets(t *testing.T, s store.Store) {
	ctx := t.Context()
	cust, accts := walletFixture(t, s)
	w := store.Wallet{MerchantID: 1, CustomerID: cust, Asset: "PTS", AccountID: accts[0],
		Name: "0123456789abcdef0123456789abcdef", Status: store.WalletActive, CreatedAt: t0}
	tx := begin(t, s)
	if err := tx.InsertWallet(ctx, &w); err != nil {
		t.Fatalf("InsertWallet: %v", err)
	}
	if w.ID == 0 {
		t.Fatal("InsertWallet left ID 0")
	}
	if got, err := tx.TxWallet(ctx, w.ID); err != nil || got.Name != w.Name {
		t.Errorf("TxWallet = %+v, %v", got, err)
	}
	if got, err := tx.TxCustomerWallet(ctx, 1, cust, "PTS"); err != nil || got.ID != w.ID {
		t.Errorf("TxCustomerWallet = %+v, %v", got, err)
	}
	if _, err := tx.TxCustomerWallet(ctx, 1, cust, "USD"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TxCustomerWallet(other asset) = %v, want ErrNotFound", err)
	}
	commit(t, tx)
	for _, get := range []func() (store.Wallet, error){
		func() (store.Wallet, error) { return s.Wallet(ctx, w.ID) },
		func() (store.Wallet, error) { return s.WalletByName(ctx, w.Name) },
	} {
		got, err := get()
		if err != nil {
			t.Fatalf("read wallet: %v", err)
		}
		if d := diff(got, w); d != "" {
			t.Errorf("wallet:%s", d)
		}
	}
	// A second wallet of the same customer and asset, or a taken name: ErrRetry.
	for _, dup := range []store.Wallet{
		{MerchantID: 1, CustomerID: cust, Asset: "PTS", AccountID: accts[1], Name: "ffffffffffffffffffffffffffffffff", Status: store.WalletActive, CreatedAt: t0},
		{MerchantID: 1, CustomerID: cust, Asset: "PTS", AccountID: accts[1], Name: w.Name, Status: store.WalletActive, CreatedAt: t0},
	} {
		tx := begin(t, s)
		if err := tx.InsertWallet(ctx, &dup); !errors.Is(err, store.ErrRetry) {
			t.Errorf("InsertWallet(%s) = %v, want ErrRetry", dup.Name, err)
		}
		tx.Rollback()
	}
	if err := s.SetWalletStatus(ctx, w.ID, store.WalletInactive); err != nil {
		t.Fatalf("SetWalletStatus: %v", err)
	}
	if got, _ := s.Wallet(ctx, w.ID); got.Status != store.WalletInactive {
		t.Errorf("status after SetWalletStatus = %s", got.Status)
	}
	if err := s.SetWalletStatus(ctx, 999999, store.WalletInactive); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetWalletStatus(unknown) = %v, want ErrNotFound", err)
	}
	tests := []struct {
		name string
		f    store.WalletFilter
		want int
	}{
		{"merchant", store.WalletFilter{MerchantID: 1}, 1},
		{"customer", store.WalletFilter{MerchantID: 1, CustomerID: cust}, 1},
		{"asset", store.WalletFilter{MerchantID: 1, Asset: "PTS"}, 1},
		{"other asset", store.WalletFilter{MerchantID: 1, Asset: "USD"}, 0},
		{"other merchant", store.WalletFilter{MerchantID: 2}, 0},
		{"after", store.WalletFilter{MerchantID: 1, AfterID: w.ID}, 0},
	}
	for _, tt := range tests {
		got, err := s.Wallets(ctx, tt.f)
		if err != nil || len(got) != tt.want {
			t.Errorf("%s: Wallets = %d rows, %v; want %d", tt.name, len(got), err, tt.want)
		}
	}
}

func testSystemAccounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, accts := walletFixture(t, s)
	tx := begin(t, s)
	if _, err := tx.TxSystemAccount(ctx, 1, "PTS", store.RoleMint); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TxSystemAccount before insert = %v, want ErrNotFound", err)
	}
	if err := tx.InsertSystemAccount(ctx, store.SystemAccount{MerchantID: 1, Asset: "PTS", Role: store.RoleMint, AccountID: accts[0]}); err != nil {
		t.Fatalf("InsertSystemAccount: %v", err)
	}
	if id, err := tx.TxSystemAccount(ctx, 1, "PTS", store.RoleMint); err != nil || id != accts[0] {
		t.Errorf("TxSystemAccount = %d, %v; want %d", id, err, accts[0])
	}
	commit(t, tx)
	tx = begin(t, s)
	if err := tx.InsertSystemAccount(ctx, store.SystemAccount{MerchantID: 1, Asset: "PTS", Role: store.RoleMint, AccountID: accts[1]}); !errors.Is(err, store.ErrRetry) {
		t.Errorf("InsertSystemAccount(existing role) = %v, want ErrRetry", err)
	}
	tx.Rollback()
	tx = begin(t, s)
	if err := tx.InsertSystemAccount(ctx, store.SystemAccount{MerchantID: 1, Asset: "PTS", Role: store.RoleRevenue, AccountID: accts[1]}); err != nil {
		t.Fatalf("InsertSystemAccount(revenue): %v", err)
	}
	commit(t, tx)
	got, err := s.SystemAccounts(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.SystemAccount{
		{MerchantID: 1, Asset: "PTS", Role: store.RoleMint, AccountID: accts[0]},
		{MerchantID: 1, Asset: "PTS", Role: store.RoleRevenue, AccountID: accts[1]},
	}
	if !slices.Equal(got, want) {
		t.Errorf("SystemAccounts = %+v, want %+v", got, want)
	}
}

func testMasterKeyCheck(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.MasterKeyCheck(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("MasterKeyCheck on a new store = %v, want ErrNotFound", err)
	}
	got, err := s.InitMasterKeyCheck(ctx, []byte("first"))
	if err != nil || string(got) != "first" {
		t.Errorf("InitMasterKeyCheck(first) = %q, %v", got, err)
	}
	got, err = s.InitMasterKeyCheck(ctx, []byte("second"))
	if err != nil || string(got) != "first" {
		t.Errorf("InitMasterKeyCheck(second) = %q, %v; want the first value kept", got, err)
	}
	if got, err := s.MasterKeyCheck(ctx); err != nil || string(got) != "first" {
		t.Errorf("MasterKeyCheck = %q, %v", got, err)
	}
}
