package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-pay/coffer/internal/apikey"
)

// startWith starts `coffer serve` with extra arguments and environment,
// and waits until it is ready.
func startWith(t *testing.T, bin string, args, env []string) *server {
	t.Helper()
	logs, err := os.CreateTemp(t.TempDir(), "serve-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, logs: logs}
	for i, a := range args {
		if a == "--addr" {
			s.url = "http://" + args[i+1]
		}
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
		}
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(s.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
	}
	out, _ := os.ReadFile(logs.Name())
	t.Fatalf("server did not become ready:\n%s", out)
	return nil
}

// get returns the body of a GET.
func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestExternalWalletServe runs two `coffer serve` processes on temporary
// SQLite files, the second in external wallet mode over the first, and
// drives them through the CM MicroPayments API and `coffer wallet refresh`.
func TestExternalWalletServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real servers; skipped with -short")
	}
	t.Setenv("COFFER_MASTER_KEY", testMasterKey)
	t.Setenv("COFFER_MASTER_KEY_FILE", "")
	t.Setenv("COFFER_URL", "")
	t.Setenv("COFFER_EXTERNAL_WALLET_URL", "")
	t.Setenv("COFFER_EXTERNAL_WALLET_KEY", "")
	bin := buildCoffer(t)
	dir := t.TempDir()
	mainDB, clientDB := filepath.Join(dir, "main", "coffer.db"), filepath.Join(dir, "client", "coffer.db")

	// Each site: a merchant with an open CMMP gateway.
	// (Merchant 1 is the database's "default" merchant; each site's is 2.)
	cmmpKey := func(db, name string) string {
		var created struct {
			ID          int64 `json:"id"`
			Credentials map[string]struct {
				Secret string `json:"secret"`
			} `json:"credentials"`
		}
		if err := json.Unmarshal([]byte(mustRun(t, "merchant", "create", "--db", db, "--name", name, "--json")), &created); err != nil {
			t.Fatal(err)
		}
		if created.ID != 2 {
			t.Fatalf("merchant %d, want 2", created.ID)
		}
		mustRun(t, "merchant", "gateway", "open", "cmmp", "--merchant", "2", "--db", db)
		return created.Credentials["cmmp"].Secret
	}
	mainKey, clientKey := cmmpKey(mainDB, "main site"), cmmpKey(clientDB, "client site")
	var cust struct {
		Wallets []struct {
			Name string `json:"name"`
		} `json:"wallets"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "customer", "create", "--db", mainDB, "--merchant", "2", "--id", "1",
		"--email", "ann@example.com", "--wallet", "points", "--json")), &cust); err != nil || len(cust.Wallets) != 1 {
		t.Fatalf("customer: %v %+v", err, cust)
	}
	name := cust.Wallets[0].Name
	adminMain, _, _ := apikey.Generate("admin", 1, "main")
	adminClient, _, _ := apikey.Generate("admin", 1, "client")

	main := startWith(t, bin, []string{"--db", mainDB, "--addr", freeAddr(t)}, []string{"COFFER_ADMIN_KEY=" + adminMain})
	cmmpCall := func(base, action, key string, params ...string) string {
		q := url.Values{"key": {key}}
		for i := 0; i+1 < len(params); i += 2 {
			q.Set(params[i], params[i+1])
		}
		return get(t, base+"/wp-json/cmmpexapi/v1/"+action+"?"+q.Encode())
	}
	const ok = `{"success":true,"message":[]}`
	if got := cmmpCall(main.url, "charge_wallet", mainKey, "wallet_id", name, "points", "40"); got != ok {
		t.Fatalf("charge on the main site: %s", got)
	}

	// The connection check at start fails clearly.
	for _, bad := range []struct{ url, key, want string }{
		{main.url, "not-the-main-key", "Invalid secure key"},
		{"http://" + freeAddr(t), mainKey, "cannot be reached"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, bin, "serve", "--db", clientDB, "--addr", freeAddr(t), "--external-wallet-url", bad.url, "--external-wallet-merchant", "2")
		cmd.Env = append(os.Environ(), "COFFER_EXTERNAL_WALLET_KEY="+bad.key)
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), "connection check") || !strings.Contains(string(out), bad.want) {
			t.Errorf("serve with %s: %v\n%s", bad.want, err, out)
		}
		if strings.Contains(string(out), bad.key) && bad.key != mainKey {
			t.Errorf("the output shows the key:\n%s", out)
		}
	}

	client := startWith(t, bin, []string{"--db", clientDB, "--addr", freeAddr(t), "--external-wallet-url", main.url, "--external-wallet-merchant", "2"},
		[]string{"COFFER_ADMIN_KEY=" + adminClient, "COFFER_EXTERNAL_WALLET_KEY=" + mainKey})
	out := mustRun(t, "wallet", "refresh", "--url", client.url, "--key", adminClient)
	if !strings.Contains(out, "1 wallets read: 1 created, 0 updated, 0 unchanged, 0 failed") || !strings.Contains(out, "Done.") {
		t.Errorf("refresh:\n%s", out)
	}
	balance := func(base, key string) string {
		var w struct {
			Balance string `json:"balance"`
		}
		if err := json.Unmarshal([]byte(mustRun(t, "wallet", "show", name, "--url", base, "--key", key, "--merchant", "2", "--json")), &w); err != nil {
			t.Fatal(err)
		}
		return w.Balance
	}
	if got := balance(client.url, adminClient); got != "40" {
		t.Errorf("client after refresh: %s", got)
	}
	// A withdrawal on the client lands on the main site (here by
	// /?rest_route= and the owner's e-mail).
	if got := get(t, client.url+"/?rest_route=/cmmpexapi/v1/withdraw_wallet_points&email=ann@example.com&points=15&key="+url.QueryEscape(clientKey)); got != ok {
		t.Errorf("withdraw on the client: %s", got)
	}
	if got := balance(main.url, adminMain); got != "25" {
		t.Errorf("main after the client's withdrawal: %s", got)
	}
	if got := balance(client.url, adminClient); got != "25" {
		t.Errorf("client after its withdrawal: %s", got)
	}
	// Points added on the main site appear on the client after a refresh.
	if got := cmmpCall(main.url, "charge_wallet", mainKey, "wallet_id", name, "points", "10"); got != ok {
		t.Fatal(got)
	}
	out = mustRun(t, "wallet", "refresh", "--url", client.url, "--key", adminClient)
	if !strings.Contains(out, "1 wallets read: 0 created, 1 updated, 0 unchanged, 0 failed") {
		t.Errorf("second refresh:\n%s", out)
	}
	if got := balance(client.url, adminClient); got != "35" {
		t.Errorf("client after the second refresh: %s", got)
	}
	// A server that is not in external wallet mode says so.
	if code, _, errs := run(t, "wallet", "refresh", "--url", main.url, "--key", adminMain); code == 0 || !strings.Contains(errs, "not an external wallet client") {
		t.Errorf("refresh on the main site: exit %d %s", code, errs)
	}
}
