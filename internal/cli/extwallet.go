package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/coffer-pay/coffer/client"
	"github.com/coffer-pay/coffer/internal/config"
	"github.com/coffer-pay/coffer/internal/dialect/cmmp/extwallet"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// External wallet mode: `coffer serve --external-wallet-url … --external-
// wallet-key …` makes one merchant of this server a client of a main
// site's wallets (package extwallet); `coffer wallet refresh` pulls the
// main site's wallets into it.

// dialExternalWallet checks the connection to the main site when
// external wallet mode is configured, as the plugin's "check connection"
// does (get_wallets), and returns its client (nil when the mode is off).
// serve calls it before it touches the database, so that a start that
// fails here changes nothing.
func dialExternalWallet(ctx context.Context, cfg config.Config, log *slog.Logger) (*extwallet.Client, error) {
	if cfg.ExternalWalletURL == "" {
		return nil, nil
	}
	c, err := extwallet.New(cfg.ExternalWalletURL, cfg.ExternalWalletKey.Reveal(), extwallet.Options{})
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.Check(cctx); err != nil {
		return nil, fmt.Errorf("--external-wallet-url %s: the connection check failed: %w", c.URL(), err)
	}
	log.Info("external wallet mode: connected to the main site", "main_site", c.URL(), "merchant", cfg.ExternalWalletMerchant)
	return c, nil
}

// externalWallet is the external wallet mode of the configured merchant
// over the main site c (nil when c is nil).
func externalWallet(ctx context.Context, c *extwallet.Client, cfg config.Config, ms *merchant.Service, ws *wallet.Service, log *slog.Logger) (*extwallet.Mirror, error) {
	if c == nil {
		return nil, nil
	}
	if _, err := ms.Get(ctx, cfg.ExternalWalletMerchant); err != nil {
		return nil, fmt.Errorf("external wallet: merchant %d: %w (create it first: coffer merchant create --db …)", cfg.ExternalWalletMerchant, err)
	}
	return extwallet.NewMirror(c, ws, ms, cfg.ExternalWalletMerchant, extwallet.MirrorOptions{Logger: log}), nil
}

func walletRefresh(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "wallet refresh", "Pull the state of every wallet of the main site into a server in external wallet mode (coffer serve\n"+
		"--external-wallet-url …): wallets are mirrored by name, created with their customer when missing, and their\n"+
		"balances brought to the main site's by ledger transfers against the points mint. Do it after adding points on the\n"+
		"main site. It runs in the server and may take minutes for many wallets; this command follows its progress.")
	url := fs.String("url", os.Getenv("COFFER_URL"), "the server in external wallet mode (env COFFER_URL)")
	key := fs.String("key", os.Getenv("COFFER_KEY"), "an admin API key of that server (env COFFER_KEY)")
	every := fs.Duration("interval", time.Second, "how often to show progress")
	asJSON := fs.Bool("json", false, "print the outcome as JSON")
	if _, err := parseArgs(env, fs, args); err != nil {
		return err
	}
	if *url == "" || *key == "" {
		fmt.Fprintln(env.Stderr, "the refresh runs in the server: give its --url and an admin --key (or COFFER_URL and COFFER_KEY)")
		fs.Usage()
		return errUsage
	}
	if *every < 100*time.Millisecond {
		*every = 100 * time.Millisecond
	}
	c := client.New(*url, *key)
	st, err := c.StartExternalWalletRefresh(ctx)
	if err != nil {
		return err
	}
	if !*asJSON {
		fmt.Fprintf(env.Stdout, "Refreshing the wallets of merchant %d from %s…\n", st.MerchantID, st.MainSite)
	}
	shown := ""
	for st.Running() {
		if line := progressLine(st); !*asJSON && line != shown {
			fmt.Fprintln(env.Stdout, line)
			shown = line
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(*every):
		}
		if st, err = c.ExternalWalletRefresh(ctx); err != nil {
			return err
		}
	}
	if *asJSON {
		if err := printJSON(env.Stdout, st); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(env.Stdout, progressLine(st))
		for _, p := range st.Problems {
			fmt.Fprintf(env.Stdout, "  problem: %s\n", p)
		}
	}
	switch {
	case st.State == "failed":
		return fmt.Errorf("the refresh stopped: %s", st.Error)
	case st.Failed > 0:
		return fmt.Errorf("%d wallets could not be mirrored", st.Failed)
	case st.State != "done":
		return errors.New("the server has no refresh to show (state " + st.State + ")")
	}
	if !*asJSON {
		fmt.Fprintln(env.Stdout, "Done.")
	}
	return nil
}

func progressLine(st client.ExternalWalletRefresh) string {
	return fmt.Sprintf("  %d wallets read: %d created, %d updated, %d unchanged, %d failed",
		st.Wallets, st.Created, st.Updated, st.Unchanged, st.Failed)
}
