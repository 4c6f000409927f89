package wallet_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/postgres"
	"github.com/coffer-pay/coffer/internal/store/storetest/backends"
	"github.com/coffer-pay/coffer/internal/wallet"
)

type fixture struct {
	t   *testing.T
	st  store.Store
	eng *ledger.Engine
	svc *wallet.Service
}

func newFixture(t *testing.T, st store.Store) *fixture {
	t.Helper()
	eng := ledger.New(st, ledger.Options{ExpiryInterval: -1})
	f := &fixture{t: t, st: st, eng: eng, svc: wallet.New(eng, wallet.Options{})}
	// Cleanups run last in, first out: verify after the engine stopped.
	t.Cleanup(func() { f.verify() })
	t.Cleanup(func() { eng.Close(context.Background()) })
	return f
}

func (f *fixture) verify() {
	f.t.Helper()
	rep, err := ledger.Verify(context.Background(), f.st)
	if err != nil {
		f.t.Errorf("ledger.Verify: %v", err)
		return
	}
	for _, p := range rep.Problems {
		f.t.Errorf("ledger.Verify: %s", p)
	}
}

func (f *fixture) merchant(name string) int64 {
	f.t.Helper()
	m, err := f.st.CreateMerchant(context.Background(), name)
	if err != nil {
		f.t.Fatal(err)
	}
	return m.ID
}

// customer creates a customer with a points wallet and returns the wallet.
func (f *fixture) customer(merchantID, id int64, email string) store.Wallet {
	f.t.Helper()
	res, err := f.svc.CreateCustomer(context.Background(), merchantID, wallet.CustomerParams{ID: id, Email: email, Wallets: []string{""}})
	if err != nil {
		f.t.Fatalf("CreateCustomer(%d): %v", id, err)
	}
	return res.Wallets[0]
}

func (f *fixture) available(merchantID, walletID int64) int64 {
	f.t.Helper()
	b, err := f.svc.Balance(context.Background(), merchantID, walletID)
	if err != nil {
		f.t.Fatal(err)
	}
	return b.Available
}

func codeOf(err error) string {
	var le *ledger.Error
	if errors.As(err, &le) {
		return le.Code
	}
	if err != nil {
		return "not a ledger error: " + err.Error()
	}
	return ""
}

func ptr[T any](v T) *T { return &v }

func TestCustomers(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		m2 := f.merchant("other")
		res := store.MerchantUser{MerchantID: 1, Username: "res", Role: store.UserReseller, CreatedAt: time.Now()}
		if err := st.InsertMerchantUser(ctx, &res); err != nil {
			t.Fatal(err)
		}
		foreign := store.MerchantUser{MerchantID: m2, Username: "foreign", Role: store.UserReseller, CreatedAt: time.Now()}
		if err := st.InsertMerchantUser(ctx, &foreign); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name     string
			merchant int64
			p        wallet.CustomerParams
			code     string // "" for success
			created  bool
		}{
			{"create", 1, wallet.CustomerParams{ID: 123, Email: "Ann@Example.COM", Label: "ann", Currency: "EUR", OwnerID: res.ID, TaxRate: ptr[int64](210000)}, "", true},
			{"same again is idempotent", 1, wallet.CustomerParams{ID: 123, Email: "ann@example.com", Label: "ann", Currency: "EUR", OwnerID: res.ID, TaxRate: ptr[int64](210000)}, "", false},
			{"same id, other details", 1, wallet.CustomerParams{ID: 123, Email: "ann@example.com"}, "customer_exists", false},
			{"e-mail in another case", 1, wallet.CustomerParams{ID: 124, Email: "ANN@example.com"}, "email_taken", false},
			{"label taken", 1, wallet.CustomerParams{ID: 125, Label: "ann"}, "label_taken", false},
			{"label differs in case only", 1, wallet.CustomerParams{ID: 126, Label: "Ann"}, "", true},
			{"same id and e-mail at another merchant", m2, wallet.CustomerParams{ID: 123, Email: "ann@example.com", Label: "ann"}, "", true},
			{"longest label", 1, wallet.CustomerParams{ID: 127, Label: strings.Repeat("ф", 190)}, "", true},
			{"label too long", 1, wallet.CustomerParams{ID: 128, Label: strings.Repeat("x", 191)}, "invalid_request", false},
			{"label with a newline", 1, wallet.CustomerParams{ID: 128, Label: "a\nb"}, "invalid_request", false},
			{"id zero", 1, wallet.CustomerParams{ID: 0}, "invalid_request", false},
			{"negative id", 1, wallet.CustomerParams{ID: -5}, "invalid_request", false},
			{"bad e-mail", 1, wallet.CustomerParams{ID: 129, Email: "not-an-address"}, "invalid_request", false},
			{"e-mail with a space", 1, wallet.CustomerParams{ID: 129, Email: "a b@example.com"}, "invalid_request", false},
			{"unknown currency", 1, wallet.CustomerParams{ID: 129, Currency: "XYZ"}, "asset_not_found", false},
			{"another merchant's reseller", 1, wallet.CustomerParams{ID: 129, OwnerID: foreign.ID}, "invalid_request", false},
			{"tax over 100 %", 1, wallet.CustomerParams{ID: 129, TaxRate: ptr[int64](1_000_001)}, "invalid_request", false},
			{"another merchant's points", 1, wallet.CustomerParams{ID: 129, Wallets: []string{wallet.PointsCode(m2)}}, "invalid_request", false},
		}
		for _, tt := range tests {
			r, err := f.svc.CreateCustomer(ctx, tt.merchant, tt.p)
			if got := codeOf(err); got != tt.code {
				t.Errorf("%s: error %v, want %q", tt.name, err, tt.code)
				continue
			}
			if err == nil && r.Created != tt.created {
				t.Errorf("%s: Created = %v, want %v", tt.name, r.Created, tt.created)
			}
		}
		c, err := f.svc.Customer(ctx, 1, 123)
		if err != nil {
			t.Fatal(err)
		}
		if c.Email != "ann@example.com" || c.Label != "ann" || c.Currency != "EUR" || c.OwnerID != res.ID || c.TaxRate == nil || *c.TaxRate != 210000 {
			t.Errorf("Customer = %+v", c)
		}
		if got, err := f.svc.CustomerByEmail(ctx, 1, "aNN@EXAMPLE.com"); err != nil || got.ID != 123 {
			t.Errorf("CustomerByEmail(other case) = %+v, %v", got, err)
		}
		if got, err := f.svc.CustomerByLabel(ctx, 1, "Ann"); err != nil || got.ID != 126 {
			t.Errorf("CustomerByLabel(Ann) = %+v, %v", got, err)
		}
		if _, err := f.svc.CustomerByEmail(ctx, 1, "nobody@example.com"); !errors.Is(err, wallet.ErrCustomerNotFound) {
			t.Errorf("CustomerByEmail(unknown) = %v", err)
		}
		if _, err := f.svc.Customer(ctx, m2, 126); !errors.Is(err, wallet.ErrCustomerNotFound) {
			t.Errorf("Customer of another merchant = %v", err)
		}
		list, err := f.svc.Customers(ctx, 1, store.CustomerFilter{OwnerID: res.ID})
		if err != nil || len(list) != 1 || list[0].ID != 123 {
			t.Errorf("Customers(owner) = %+v, %v", list, err)
		}
		if list, _ := f.svc.Customers(ctx, 1, store.CustomerFilter{Email: "ANN@example.com"}); len(list) != 1 {
			t.Errorf("Customers(email in another case) = %d rows", len(list))
		}
	})
}

func TestTaxRate(t *testing.T) {
	tests := []struct {
		in   string
		ppm  int64
		out  string
		fail bool
	}{
		{"21", 210000, "21", false}, {"7.5", 75000, "7.5", false}, {"0.0001", 1, "0.0001", false},
		{"100", 1000000, "100", false}, {"0", 0, "0", false},
		{"100.0001", 0, "", true}, {"-1", 0, "", true}, {"0.00001", 0, "", true}, {"1e2", 0, "", true}, {"", 0, "", true},
	}
	for _, tt := range tests {
		got, err := wallet.ParseTaxRate(tt.in)
		if tt.fail != (err != nil) || got != tt.ppm {
			t.Errorf("ParseTaxRate(%q) = %d, %v", tt.in, got, err)
			continue
		}
		if !tt.fail && wallet.FormatTaxRate(got) != tt.out {
			t.Errorf("FormatTaxRate(%d) = %q, want %q", got, wallet.FormatTaxRate(got), tt.out)
		}
	}
}

func TestWallets(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		m2 := f.merchant("other")
		names := map[string]bool{}
		var first store.Wallet
		for i := range 20 {
			w := f.customer(1, int64(i+1), fmt.Sprintf("u%d@example.com", i))
			if len(w.Name) != 32 || strings.Trim(w.Name, "0123456789abcdef") != "" || names[w.Name] {
				t.Errorf("wallet name %q: want 32 lowercase hex characters, unique", w.Name)
			}
			names[w.Name] = true
			if w.Asset != "PTS.1" || w.Status != store.WalletActive || w.CustomerID != int64(i+1) {
				t.Errorf("wallet = %+v", w)
			}
			a, err := st.Account(ctx, w.AccountID)
			if err != nil || a.Normal != store.Credit || a.Unlimited || a.OverdraftLimit != 0 || a.MerchantID != 1 {
				t.Errorf("wallet account = %+v, %v; want credit-normal without overdraft", a, err)
			}
			if i == 0 {
				first = w
			}
		}
		// One wallet per customer and asset: opening it again answers it.
		again, created, err := f.svc.CreateWallet(ctx, 1, 1, "")
		if err != nil || created || again.ID != first.ID {
			t.Errorf("CreateWallet(existing) = %+v, %v, %v", again, created, err)
		}
		usd, created, err := f.svc.CreateWallet(ctx, 1, 1, "USD")
		if err != nil || !created || usd.Asset != "USD" || usd.ID == first.ID {
			t.Errorf("CreateWallet(USD) = %+v, %v, %v", usd, created, err)
		}
		if _, _, err := f.svc.CreateWallet(ctx, 1, 999, ""); !errors.Is(err, wallet.ErrCustomerNotFound) {
			t.Errorf("CreateWallet(unknown customer) = %v", err)
		}
		if _, _, err := f.svc.CreateWallet(ctx, m2, 1, ""); !errors.Is(err, wallet.ErrCustomerNotFound) {
			t.Errorf("CreateWallet(another merchant's customer) = %v", err)
		}
		lookups := []struct {
			name string
			get  func() (store.Wallet, error)
			want int64 // 0: wallet_not_found
		}{
			{"by id", func() (store.Wallet, error) { return f.svc.Wallet(ctx, 1, first.ID) }, first.ID},
			{"by name", func() (store.Wallet, error) { return f.svc.WalletByName(ctx, 1, first.Name) }, first.ID},
			{"by name in upper case", func() (store.Wallet, error) { return f.svc.WalletByName(ctx, 1, strings.ToUpper(first.Name)) }, first.ID},
			{"by ref, numeric", func() (store.Wallet, error) { return f.svc.WalletByRef(ctx, 1, fmt.Sprint(first.ID)) }, first.ID},
			{"by ref, name", func() (store.Wallet, error) { return f.svc.WalletByRef(ctx, 1, first.Name) }, first.ID},
			{"by owner e-mail", func() (store.Wallet, error) { return f.svc.WalletByEmail(ctx, 1, "U0@example.com", "") }, first.ID},
			{"by owner e-mail, USD", func() (store.Wallet, error) { return f.svc.WalletByEmail(ctx, 1, "u0@example.com", "USD") }, usd.ID},
			{"another merchant's, by id", func() (store.Wallet, error) { return f.svc.Wallet(ctx, m2, first.ID) }, 0},
			{"another merchant's, by name", func() (store.Wallet, error) { return f.svc.WalletByName(ctx, m2, first.Name) }, 0},
			{"another merchant's, by e-mail", func() (store.Wallet, error) { return f.svc.WalletByEmail(ctx, m2, "u0@example.com", "") }, 0},
			{"unknown e-mail", func() (store.Wallet, error) { return f.svc.WalletByEmail(ctx, 1, "x@example.com", "") }, 0},
			{"no wallet in that asset", func() (store.Wallet, error) { return f.svc.WalletByEmail(ctx, 1, "u1@example.com", "USD") }, 0},
			{"bad ref", func() (store.Wallet, error) { return f.svc.WalletByRef(ctx, 1, "wallet-1") }, 0},
			{"zero id", func() (store.Wallet, error) { return f.svc.WalletByRef(ctx, 1, "0") }, 0},
			{"huge id", func() (store.Wallet, error) { return f.svc.WalletByRef(ctx, 1, "99999999999999999999") }, 0},
		}
		for _, l := range lookups {
			w, err := l.get()
			switch {
			case l.want == 0 && !errors.Is(err, wallet.ErrWalletNotFound):
				t.Errorf("%s = %+v, %v; want wallet_not_found", l.name, w, err)
			case l.want != 0 && (err != nil || w.ID != l.want):
				t.Errorf("%s = %d, %v; want %d", l.name, w.ID, err, l.want)
			}
		}
		ws, err := f.svc.Wallets(ctx, 1, store.WalletFilter{CustomerID: 1})
		if err != nil || len(ws) != 2 {
			t.Errorf("Wallets(customer 1) = %d, %v", len(ws), err)
		}
		// A customer created again with more wallets gets those it lacks.
		r, err := f.svc.CreateCustomer(ctx, 1, wallet.CustomerParams{ID: 2, Email: "u1@example.com", Wallets: []string{"", "EUR"}})
		if err != nil || r.Created || len(r.Wallets) != 2 || r.Wallets[1].Asset != "EUR" {
			t.Errorf("CreateCustomer(again, more wallets) = %+v, %v", r, err)
		}
	})
}

func TestPoints(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		m2 := f.merchant("decimal")
		w := f.customer(1, 1, "a@example.com")
		other := f.customer(m2, 1, "b@example.com")
		steps := []struct {
			name   string
			op     func() (wallet.Receipt, error)
			code   string
			replay bool
			after  int64
		}{
			{"charge 100", func() (wallet.Receipt, error) { return f.svc.Charge(ctx, 1, w.ID, 100, "c1") }, "", false, 100},
			{"charge retried", func() (wallet.Receipt, error) { return f.svc.Charge(ctx, 1, w.ID, 100, "c1") }, "", true, 100},
			{"same key, other amount", func() (wallet.Receipt, error) { return f.svc.Charge(ctx, 1, w.ID, 7, "c1") }, "idempotency_conflict", false, 100},
			{"burn 30", func() (wallet.Receipt, error) { return f.svc.Charge(ctx, 1, w.ID, -30, "c2") }, "", false, 70},
			{"burn too much", func() (wallet.Receipt, error) { return f.svc.Charge(ctx, 1, w.ID, -71, "c3") }, "insufficient_funds", false, 70},
			{"withdraw 50", func() (wallet.Receipt, error) { return f.svc.Withdraw(ctx, 1, w.ID, 50, "w1") }, "", false, 20},
			{"withdraw too much", func() (wallet.Receipt, error) { return f.svc.Withdraw(ctx, 1, w.ID, 21, "w2") }, "insufficient_funds", false, 20},
			{"charge 50", func() (wallet.Receipt, error) { return f.svc.Charge(ctx, 1, w.ID, 50, "c4") }, "", false, 70},
			// A failed key stays failed, even though the wallet now has enough.
			{"failed withdrawal retried", func() (wallet.Receipt, error) { return f.svc.Withdraw(ctx, 1, w.ID, 21, "w2") }, "insufficient_funds", true, 70},
			{"withdraw zero", func() (wallet.Receipt, error) { return f.svc.Withdraw(ctx, 1, w.ID, 0, "w3") }, "invalid_amount", false, 70},
			{"charge zero", func() (wallet.Receipt, error) { return f.svc.Charge(ctx, 1, w.ID, 0, "c5") }, "invalid_amount", false, 70},
			{"withdraw negative", func() (wallet.Receipt, error) { return f.svc.Withdraw(ctx, 1, w.ID, -1, "w3") }, "invalid_amount", false, 70},
			{"no key", func() (wallet.Receipt, error) { return f.svc.Charge(ctx, 1, w.ID, 1, "") }, "invalid_request", false, 70},
			{"another merchant's wallet", func() (wallet.Receipt, error) { return f.svc.Charge(ctx, 1, other.ID, 5, "c6") }, "wallet_not_found", false, 70},
			{"unknown wallet", func() (wallet.Receipt, error) { return f.svc.Withdraw(ctx, 1, 999999, 5, "w4") }, "wallet_not_found", false, 70},
			{"deposit 5", func() (wallet.Receipt, error) { return f.svc.Deposit(ctx, 1, w.ID, 5, "d1") }, "", false, 75},
		}
		for _, s := range steps {
			r, err := s.op()
			if got := codeOf(err); got != s.code {
				t.Errorf("%s: error %v, want %q", s.name, err, s.code)
			}
			if r.Replayed != s.replay {
				t.Errorf("%s: Replayed = %v, want %v", s.name, r.Replayed, s.replay)
			}
			if got := f.available(1, w.ID); got != s.after {
				t.Errorf("%s: balance %d, want %d", s.name, got, s.after)
			}
		}
		// Where the points went: the mint issued 150 and took 30 back,
		// revenue holds the withdrawal.
		sys := map[string]int64{}
		accts, _ := st.SystemAccounts(ctx, 1)
		for _, a := range accts {
			acct, _ := st.Account(ctx, a.AccountID)
			sys[a.Role] = acct.CreditsPosted - acct.DebitsPosted
			if want := a.Role == store.RoleMint || a.Role == store.RoleExternal; acct.Unlimited != want || (acct.Normal == store.Debit) != want {
				t.Errorf("%s account = %+v", a.Role, acct)
			}
		}
		if sys[store.RoleMint] != -120 || sys[store.RoleRevenue] != 50 || sys[store.RoleExternal] != -5 || len(accts) != 3 {
			t.Errorf("system balances = %v", sys)
		}

		// Has enough, and an inactive wallet.
		for _, tt := range []struct {
			amount int64
			want   bool
		}{{75, true}, {76, false}, {0, true}} {
			if got, err := f.svc.HasEnough(ctx, 1, w.ID, tt.amount); err != nil || got != tt.want {
				t.Errorf("HasEnough(%d) = %v, %v; want %v", tt.amount, got, err, tt.want)
			}
		}
		if _, err := f.svc.SetActive(ctx, 1, w.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.HasEnough(ctx, 1, w.ID, 1); !errors.Is(err, wallet.ErrWalletInactive) {
			t.Errorf("HasEnough(inactive) = %v", err)
		}
		if _, err := f.svc.Withdraw(ctx, 1, w.ID, 1, "w5"); !errors.Is(err, wallet.ErrWalletInactive) {
			t.Errorf("Withdraw(inactive) = %v", err)
		}
		if _, err := f.svc.Charge(ctx, 1, w.ID, 1, "c7"); !errors.Is(err, wallet.ErrWalletInactive) {
			t.Errorf("Charge(inactive) = %v", err)
		}
		// A retry of a request answered before the wallet was deactivated replays.
		if r, err := f.svc.Withdraw(ctx, 1, w.ID, 50, "w1"); err != nil || !r.Replayed {
			t.Errorf("retry on an inactive wallet = %+v, %v; want the replay", r, err)
		}
		if _, err := f.svc.SetActive(ctx, 1, w.ID, true); err != nil {
			t.Fatal(err)
		}
		// The inactive refusals left no key behind: the keys work now.
		if _, err := f.svc.Withdraw(ctx, 1, w.ID, 1, "w5"); err != nil {
			t.Errorf("withdraw after reactivation: %v", err)
		}
		if _, err := f.svc.SetActive(ctx, m2, w.ID, false); !errors.Is(err, wallet.ErrWalletNotFound) {
			t.Errorf("SetActive(another merchant's wallet) = %v", err)
		}

		// Decimal points: the scale is chosen once.
		m3 := f.merchant("cents")
		a, err := f.svc.DefinePoints(ctx, m3, true)
		if err != nil || a.Scale != 2 || a.Code != wallet.PointsCode(m3) {
			t.Errorf("DefinePoints(decimal) = %+v, %v", a, err)
		}
		if _, err := f.svc.DefinePoints(ctx, m3, false); codeOf(err) != "asset_conflict" {
			t.Errorf("DefinePoints(other scale) = %v, want asset_conflict", err)
		}
		if p, err := f.svc.Points(ctx, m3); err != nil || p.Scale != 2 {
			t.Errorf("Points = %+v, %v", p, err)
		}
		if p, err := f.svc.Points(ctx, 1); err != nil || p.Scale != 0 || p.Code != "PTS.1" {
			t.Errorf("Points(1) = %+v, %v", p, err)
		}
		cw := f.customer(m3, 1, "")
		if _, err := f.svc.Charge(ctx, m3, cw.ID, 1234, "c"); err != nil {
			t.Fatal(err)
		}
		if b, _ := f.svc.Balance(ctx, m3, cw.ID); b.Scale != 2 || b.Posted != 1234 {
			t.Errorf("balance of decimal points = %+v", b)
		}
	})
}

// TestSystemAccountsOnce: however many operations need a merchant's mint
// at once, it is created once.
func TestSystemAccountsOnce(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st)
		m := f.merchant("busy")
		var ws []store.Wallet
		for i := range 8 {
			ws = append(ws, f.customer(m, int64(i+1), ""))
		}
		charges(t, []*wallet.Service{f.svc}, m, ws)
		checkOneMint(t, st, m, ws, f.svc)
	})
}

// TestSystemAccountsTwoNodes races two engines (two Coffer nodes) on one
// PostgreSQL database to create a merchant's mint.
func TestSystemAccountsTwoNodes(t *testing.T) {
	dsn := postgres.NewTestDatabase(t)
	ctx := context.Background()
	var svcs []*wallet.Service
	var st0 store.Store
	for i := range 2 {
		st, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		eng := ledger.New(st, ledger.Options{Workers: 2, ExpiryInterval: -1})
		t.Cleanup(func() { eng.Close(ctx) })
		svcs = append(svcs, wallet.New(eng, wallet.Options{}))
		if i == 0 {
			st0 = st
		}
	}
	for round := range 5 {
		m, err := st0.CreateMerchant(ctx, fmt.Sprintf("m%d", round))
		if err != nil {
			t.Fatal(err)
		}
		var ws []store.Wallet
		for i := range 6 {
			r, err := svcs[i%2].CreateCustomer(ctx, m.ID, wallet.CustomerParams{ID: int64(i + 1), Wallets: []string{""}})
			if err != nil {
				t.Fatal(err)
			}
			ws = append(ws, r.Wallets[0])
		}
		charges(t, svcs, m.ID, ws)
		checkOneMint(t, st0, m.ID, ws, svcs[0])
	}
	rep, err := ledger.Verify(ctx, st0)
	if err != nil || !rep.OK() {
		t.Errorf("ledger.Verify: %v %v", err, rep.Problems)
	}
}

// charges charges every wallet 10 points at once, through the services in turn.
func charges(t *testing.T, svcs []*wallet.Service, m int64, ws []store.Wallet) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(ws)*2)
	for i, w := range ws {
		for k := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := svcs[(i+k)%len(svcs)].Charge(context.Background(), m, w.ID, 5, fmt.Sprintf("charge-%d-%d", w.ID, k))
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent charge: %v", err)
		}
	}
}

func checkOneMint(t *testing.T, st store.Store, m int64, ws []store.Wallet, svc *wallet.Service) {
	t.Helper()
	ctx := context.Background()
	sys, err := st.SystemAccounts(ctx, m)
	if err != nil || len(sys) != 1 || sys[0].Role != store.RoleMint {
		t.Fatalf("system accounts = %+v, %v; want one mint", sys, err)
	}
	// No orphan: the merchant's accounts are its wallets and the one mint.
	as, err := st.Accounts(ctx, store.AccountFilter{MerchantID: m, Limit: 1000})
	if err != nil || len(as) != len(ws)+1 {
		t.Errorf("merchant %d has %d accounts, want %d wallets and a mint", m, len(as), len(ws))
	}
	for _, w := range ws {
		if b, err := svc.Balance(ctx, m, w.ID); err != nil || b.Posted != 10 {
			t.Errorf("wallet %d balance = %+v, %v; want 10", w.ID, b, err)
		}
	}
}

// TestEvents: changes write outbox events, only for merchants that listen.
func TestEvents(t *testing.T) {
	backends.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		eng := ledger.New(st, ledger.Options{ExpiryInterval: -1})
		t.Cleanup(func() { eng.Close(ctx) })
		m2, err := st.CreateMerchant(ctx, "deaf")
		if err != nil {
			t.Fatal(err)
		}
		svc := wallet.New(eng, wallet.Options{Wants: func(m int64, typ string) bool { return m == 1 && typ != wallet.EventWalletBurned }})
		for _, m := range []int64{1, m2.ID} {
			r, err := svc.CreateCustomer(ctx, m, wallet.CustomerParams{ID: 1, Wallets: []string{"USD"}})
			if err != nil {
				t.Fatal(err)
			}
			w := r.Wallets[0]
			for i, amount := range []int64{250, -50} {
				if _, err := svc.Charge(ctx, m, w.ID, amount, fmt.Sprint("k", i)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := svc.Charge(ctx, m, w.ID, 250, "k0"); err != nil { // a replay emits nothing
				t.Fatal(err)
			}
			if _, err := svc.Withdraw(ctx, m, w.ID, 100, "w"); err != nil {
				t.Fatal(err)
			}
		}
		evs, err := st.Events(ctx, 0, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ev := range evs {
			if ev.MerchantID != 1 {
				t.Errorf("event %s for merchant %d, who does not listen", ev.Type, ev.MerchantID)
			}
			got = append(got, ev.Type)
			var p struct {
				Amount string `json:"amount"`
			}
			if ev.Type == wallet.EventWalletCharged && (json.Unmarshal(ev.Payload, &p) != nil || p.Amount != "2.50") {
				t.Errorf("charge event payload %s, want the amount as a decimal", ev.Payload)
			}
		}
		want := []string{wallet.EventCustomerCreated, wallet.EventWalletCreated, wallet.EventWalletCharged, wallet.EventWalletWithdrawn}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("events = %v, want %v", got, want)
		}
	})
}
