package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-pay/coffer/client"
	"github.com/coffer-pay/coffer/internal/api"
	"github.com/coffer-pay/coffer/internal/apikey"
	"github.com/coffer-pay/coffer/internal/cli"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/seal"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/store/postgres"
	"github.com/coffer-pay/coffer/internal/store/sqlite"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// run runs the coffer command line in process.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Main(context.Background(), append([]string{"coffer"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := run(t, args...)
	if code != 0 {
		t.Fatalf("coffer %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// TestMerchantCreateJSON runs the merchant, customer and wallet commands
// directly on a database, on both engines.
func TestMerchantCreateJSON(t *testing.T) {
	t.Setenv("COFFER_MASTER_KEY", "")
	t.Setenv("COFFER_MASTER_KEY_FILE", "")
	t.Setenv("COFFER_URL", "")
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		db := filepath.Join(dir, "data", "coffer.db")
		checkDirect(t, []string{"--db", db}, filepath.Join(dir, "data", "master.key"),
			func() store.Store {
				s, err := sqlite.Open(context.Background(), db, sqlite.Options{})
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := postgres.NewTestDatabase(t)
		if code, out, errs := run(t, "migrate", "--db", dsn); code != 0 {
			t.Fatalf("migrate: %s%s", out, errs)
		}
		keyFile := filepath.Join(t.TempDir(), "master.key")
		checkDirect(t, []string{"--db", dsn, "--master-key-file", keyFile}, keyFile,
			func() store.Store {
				s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
	})
}

func checkDirect(t *testing.T, dbArgs []string, keyFile string, open func() store.Store) {
	ctx := context.Background()
	with := func(args ...string) []string { return append(args, dbArgs...) }
	out := mustRun(t, with("merchant", "create", "--name", "Acme", "--username", "acme", "--json")...)
	var m client.CreatedMerchant
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("merchant create --json printed %q: %v", out, err)
	}
	if m.ID != 2 || m.Name != "Acme" || m.User == nil || m.User.Username != "acme" || len(m.Credentials) != 5 {
		t.Fatalf("created = %+v", m)
	}
	for _, d := range merchant.Dialects() {
		k := m.Credentials[string(d)]
		if len(k.Secret) != 40 || (d == merchant.WebTV) != (k.KeyID != "") {
			t.Errorf("%s credential = %+v", d, k)
		}
	}
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v, %v", fi, err)
	}

	mustRun(t, with("merchant", "gateway", "open", "cmmp", "--merchant", "2")...)
	out = mustRun(t, with("merchant", "key", "rotate", "mugglepay", "--merchant", "2", "--grace", "1h", "--json")...)
	var k client.NewKey
	if err := json.Unmarshal([]byte(out), &k); err != nil || len(k.Secret) != 40 || k.PreviousValidUntil == nil {
		t.Fatalf("key rotate printed %q: %v", out, err)
	}
	mustRun(t, with("merchant", "user", "add", "--username", "res-1", "--merchant", "2")...)
	out = mustRun(t, with("customer", "create", "--merchant", "2", "--id", "5", "--email", "Ann@Example.com", "--owner", "res-1", "--tax-rate", "21", "--wallet", "points", "--json")...)
	var cu client.Customer
	if err := json.Unmarshal([]byte(out), &cu); err != nil || cu.Email != "ann@example.com" || cu.OwnerID == 0 || len(cu.Wallets) != 1 {
		t.Fatalf("customer create printed %q: %v", out, err)
	}
	out = mustRun(t, with("wallet", "list", "--merchant", "2", "--json")...)
	var ws []client.Wallet
	if err := json.Unmarshal([]byte(out), &ws); err != nil || len(ws) != 1 || ws[0].Name != cu.Wallets[0].Name {
		t.Fatalf("wallet list printed %q: %v", out, err)
	}
	if out := mustRun(t, with("wallet", "show", ws[0].Name, "--merchant", "2")...); !strings.Contains(out, ws[0].Name) {
		t.Errorf("wallet show printed %q", out)
	}
	if out := mustRun(t, with("customer", "list", "--merchant", "2", "--email", "ANN@example.com")...); !strings.Contains(out, "ann@example.com") {
		t.Errorf("customer list printed %q", out)
	}
	if out := mustRun(t, with("merchant", "list")...); !strings.Contains(out, "Acme") || !strings.Contains(out, "default") {
		t.Errorf("merchant list printed %q", out)
	}
	// Another merchant's wallet is not found.
	if code, _, errs := run(t, with("wallet", "show", ws[0].Name, "--merchant", "1")...); code != 1 || !strings.Contains(errs, "wallet_not_found") {
		t.Errorf("wallet show of another merchant: exit %d %s", code, errs)
	}

	// What the commands did is what the services see.
	st := open()
	defer st.Close()
	sealer, _, err := seal.Load("", keyFile)
	if err != nil {
		t.Fatal(err)
	}
	svc := merchant.New(st, sealer, merchant.Options{})
	g, err := svc.Authenticate(ctx, merchant.CMMP, m.Credentials["cmmp"].Secret)
	if err != nil || g.MerchantID != 2 || !g.Open {
		t.Errorf("cmmp key: %+v, %v; want merchant 2, open", g, err)
	}
	for _, key := range []string{m.Credentials["mugglepay"].Secret, k.Secret} {
		if g, err := svc.Authenticate(ctx, merchant.MugglePay, key); err != nil || g.MerchantID != 2 || g.Open {
			t.Errorf("mugglepay key during grace: %v", err)
		}
	}
	if secs, err := svc.Secrets(ctx, 2, merchant.MOR); err != nil || len(secs) != 1 || secs[0].Reveal() != m.Credentials["mor"].Secret {
		t.Errorf("MOR secret: %v", err)
	}
	if _, sec, err := svc.WebTVKey(ctx, m.Credentials["webtv"].KeyID); err != nil || sec.Reveal() != m.Credentials["webtv"].Secret {
		t.Errorf("webtv key: %v", err)
	}

	// Usage errors and help.
	for _, args := range [][]string{{"merchant"}, {"merchant", "nope"}, {"merchant", "create"}, {"merchant", "gateway", "open"}, {"wallet", "show"}} {
		if code, _, _ := run(t, with(args...)...); code != 2 {
			t.Errorf("coffer %s: exit %d, want 2", strings.Join(args, " "), code)
		}
	}
	for _, args := range [][]string{{"merchant", "--help"}, {"merchant", "create", "--help"}, {"merchant", "gateway", "open", "--help"},
		{"merchant", "key", "rotate", "--help"}, {"customer", "create", "--help"}, {"wallet", "list", "--help"}, {"wallet", "show", "--help"}} {
		if code, out, _ := run(t, args...); code != 0 || !strings.Contains(out, "Usage") {
			t.Errorf("coffer %s: exit %d %q", strings.Join(args, " "), code, out)
		}
	}
}

// TestMerchantRemote runs the commands through a server's API, and checks
// that direct mode refuses a SQLite database a server holds.
func TestMerchantRemote(t *testing.T) {
	t.Setenv("COFFER_MASTER_KEY", "")
	t.Setenv("COFFER_MASTER_KEY_FILE", "")
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "coffer.db")
	st, err := sqlite.Open(ctx, db, sqlite.Options{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	eng := ledger.New(st, ledger.Options{ExpiryInterval: -1})
	t.Cleanup(func() { eng.Close(ctx) })
	sealer, _ := seal.New(seal.NewKey())
	srv := httptest.NewServer(api.New(api.Config{Engine: eng,
		Merchants: merchant.New(st, sealer, merchant.Options{}), Wallets: wallet.New(eng, wallet.Options{})}))
	t.Cleanup(srv.Close)
	tok, row, _ := apikey.Generate(apikey.RoleAdmin, 1, "cli")
	if err := st.InsertAPIKey(ctx, &row); err != nil {
		t.Fatal(err)
	}

	out := mustRun(t, "merchant", "create", "--name", "Remote", "--json", "--url", srv.URL, "--key", tok)
	var m client.CreatedMerchant
	if err := json.Unmarshal([]byte(out), &m); err != nil || m.ID != 2 || len(m.Credentials) != 5 {
		t.Fatalf("remote merchant create printed %q: %v", out, err)
	}
	mustRun(t, "merchant", "gateway", "open", "webtv", "--merchant", "2", "--url", srv.URL, "--key", tok)
	c := client.New(srv.URL, tok).ForMerchant(2)
	if g, err := c.Gateway(ctx, "webtv"); err != nil || !g.Open {
		t.Errorf("webtv gateway after remote open: %+v, %v", g, err)
	}
	out = mustRun(t, "merchant", "key", "rotate", "webtv", "--merchant", "2", "--grace", "24h", "--url", srv.URL, "--key", tok)
	if !strings.Contains(out, "key id:") || !strings.Contains(out, "keeps working until") {
		t.Errorf("remote key rotate printed %q", out)
	}
	mustRun(t, "customer", "create", "--merchant", "2", "--id", "9", "--wallet", "points", "--url", srv.URL, "--key", tok)
	if out := mustRun(t, "wallet", "list", "--merchant", "2", "--url", srv.URL, "--key", tok); !strings.Contains(out, "PTS.2") {
		t.Errorf("remote wallet list printed %q", out)
	}
	if code, _, errs := run(t, "merchant", "list", "--url", srv.URL, "--key", "ck_wrongwrongwr_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"); code != 1 || !strings.Contains(errs, "unauthorized") {
		t.Errorf("wrong key: exit %d %s", code, errs)
	}
	// The "server" holds the SQLite database: direct mode says to use --url.
	code, _, errs := run(t, "merchant", "list", "--db", db)
	if code != 1 || !strings.Contains(errs, "--url") {
		t.Errorf("direct mode on a held database: exit %d %s", code, errs)
	}
}
