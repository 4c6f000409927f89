package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDepositCommands runs the deposit commands on a SQLite database: a
// payee, a claim left possible, a CSV statement that matches it, and the
// review of another claim.
func TestDepositCommands(t *testing.T) {
	t.Setenv("COFFER_MASTER_KEY", "")
	t.Setenv("COFFER_MASTER_KEY_FILE", "")
	t.Setenv("COFFER_URL", "")
	dir := t.TempDir()
	db := []string{"--db", filepath.Join(dir, "coffer.db")}
	with := func(args ...string) []string { return append(args, db...) }
	mustRun(t, with("customer", "create", "--id", "7", "--label", "user-42")...)
	out := mustRun(t, with("deposit", "payee-add", "--wallet-type", "wavepay", "--identifier", "324342342", "--currency", "MMK")...)
	if !strings.Contains(out, `"Identifier": "324342342"`) {
		t.Errorf("payee-add printed %s", out)
	}
	out = mustRun(t, with("deposit", "incoming", "--wallet-type", "wavepay", "--key1", "k1", "--amount", "10", "--currency", "MMK")...)
	if !strings.Contains(out, `"Key1": "k1"`) {
		t.Errorf("incoming printed %s", out)
	}
	csv := filepath.Join(dir, "statement.csv")
	if err := os.WriteFile(csv, []byte("key1,amount,currency\nk2,20,MMK\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, with("deposit", "import", "--wallet-type", "wavepay", csv)...)
	var rep struct{ Rows, Recorded int }
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Rows != 1 || rep.Recorded != 1 {
		t.Errorf("import printed %s (%v)", out, err)
	}
	out = mustRun(t, with("deposit", "claims", "--status", "possible")...)
	if strings.TrimSpace(out) != "null" && strings.TrimSpace(out) != "[]" {
		t.Errorf("claims printed %s", out)
	}
	if code, _, _ := run(t, with("deposit", "match", "99")...); code == 0 {
		t.Error("matched a missing claim")
	}
	if code, _, _ := run(t, with("deposit", "import", "--wallet-type", "wavepay", filepath.Join(dir, "none.csv"))...); code == 0 {
		t.Error("imported a missing file")
	}
}
