package cli

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/coffer-pay/coffer/internal/config"
	"github.com/coffer-pay/coffer/internal/ledger"
)

// dbFlag registers --db with COFFER_DB and the default as its default.
func dbFlag(fs *flag.FlagSet) *string {
	def := config.Default().DB
	if v, ok := os.LookupEnv("COFFER_DB"); ok {
		def = v
	}
	return fs.String("db", def, "SQLite database file, or a postgres:// URL (env COFFER_DB)")
}

func runMigrate(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "migrate", "Apply the embedded database migrations that the database lacks, then exit.\nSafe to run while other Coffer processes start (PostgreSQL migrations take a lock).")
	db := dbFlag(fs)
	if err := parse(env, fs, args); err != nil {
		return err
	}
	st, err := openStore(ctx, *db, true, false)
	if err != nil {
		return err
	}
	defer st.Close()
	applied, _, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "database is at migration %d (up to date)\n", applied)
	return nil
}

func runVerify(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "verify", "Recompute every account's balance from the journal of transfers and check the ledger's\ninvariants. Exits 0 only when everything holds; otherwise lists what is wrong and exits 1.\nSafe to run against a live database (it only reads).")
	db := dbFlag(fs)
	if err := parse(env, fs, args); err != nil {
		return err
	}
	st, err := openStore(ctx, *db, false, false)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := ledger.Verify(ctx, st)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "checked %d accounts, %d transfers, %d assets\n", rep.Accounts, rep.Transfers, rep.Assets)
	if rep.OK() {
		fmt.Fprintln(env.Stdout, "ok: every balance matches the journal; debits equal credits for every asset")
		return nil
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(env.Stdout, "problem:", p)
	}
	return fmt.Errorf("%d problems found", len(rep.Problems))
}
