package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/coffer-pay/coffer/client"
	"github.com/coffer-pay/coffer/internal/config"
	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/merchant"
	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/notify"
	"github.com/coffer-pay/coffer/internal/seal"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// The merchant, customer and wallet commands. Each works directly on the
// database (--db), or, with --url and --key, through a running server's
// native API: with SQLite the server holds the database, so remote mode is
// how to reach it while it runs.

// --- master key (shared with serve) ---

// masterKeyFileFlag registers --master-key-file.
func masterKeyFileFlag(fs *flag.FlagSet) *string {
	return fs.String("master-key-file", os.Getenv("COFFER_MASTER_KEY_FILE"),
		"file holding the master key that seals secrets at rest, created on first start if missing; default: master.key next to\n"+
			"the SQLite database, or ./coffer-data/master.key with PostgreSQL. COFFER_MASTER_KEY (base64 or hex of 32 bytes)\n"+
			"takes precedence (env COFFER_MASTER_KEY_FILE)")
}

// masterKeyPath is the key file to use for a database.
func masterKeyPath(db, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if (&config.Config{DB: db}).IsPostgres() {
		return filepath.Join("coffer-data", "master.key")
	}
	return filepath.Join(filepath.Dir(db), "master.key")
}

// domainServices loads the master key (COFFER_MASTER_KEY, else the key
// file, created if missing), checks it against the database, and returns
// the merchants' and wallets' services. wants says which merchants listen
// for which outbox events (notify.Subscriptions.Wants).
func domainServices(ctx context.Context, env *Env, st store.Store, eng *ledger.Engine, db, keyFile string,
	wants func(merchantID int64, eventType string) bool, log *slog.Logger) (*merchant.Service, *wallet.Service, error) {
	sealer, err := loadSealer(ctx, env, st, db, keyFile, log)
	if err != nil {
		return nil, nil, err
	}
	return merchant.New(st, sealer, merchant.Options{Logger: log}), wallet.New(eng, wallet.Options{Logger: log, Wants: wants}), nil
}

// loadSealer loads (or, on first start, creates) the master key and checks
// it against the database.
func loadSealer(ctx context.Context, env *Env, st store.Store, db, keyFile string, log *slog.Logger) (*seal.Sealer, error) {
	path := masterKeyPath(db, keyFile)
	sealer, src, err := seal.Load(os.Getenv("COFFER_MASTER_KEY"), path)
	if err != nil {
		return nil, err
	}
	switch src {
	case seal.CreatedFile:
		log.Warn("created a new master key file: back it up apart from the database; without it sealed secrets are lost",
			"file", path, "fingerprint", sealer.Fingerprint())
		fmt.Fprintf(env.Stderr, "coffer: created the master key file %s (fingerprint %s).\n"+
			"        Back it up apart from the database: without it the MOR and webtv secrets cannot be read.\n", path, sealer.Fingerprint())
	case seal.FromFile:
		log.Info("master key loaded", "file", path, "fingerprint", sealer.Fingerprint())
		if seal.LoosePermissions(path) {
			log.Warn("the master key file is readable by other users: chmod 600 it", "file", path)
		}
	default:
		log.Info("master key loaded", "from", "COFFER_MASTER_KEY", "fingerprint", sealer.Fingerprint())
	}
	if (&config.Config{DB: db}).IsPostgres() && src != seal.FromEnv {
		log.Warn("with PostgreSQL, every node must use the same master key: set COFFER_MASTER_KEY on each", "fingerprint", sealer.Fingerprint())
	}
	if err := merchant.New(st, sealer, merchant.Options{Logger: log}).CheckMasterKey(ctx); err != nil {
		return nil, fmt.Errorf("%w (master key fingerprint %s, from %s)", err, sealer.Fingerprint(), keySource(src, path))
	}
	return sealer, nil
}

func keySource(src seal.Source, path string) string {
	if src == seal.FromEnv {
		return "COFFER_MASTER_KEY"
	}
	return path
}

// --- connection: the database, or a server ---

// conn holds the flags that choose where a command acts.
type conn struct {
	db, url, key, keyFile *string
	merchant              *int64
	json                  *bool
}

func connFlags(fs *flag.FlagSet, withMerchant bool) *conn {
	c := &conn{
		db:      dbFlag(fs),
		url:     fs.String("url", os.Getenv("COFFER_URL"), "act through the native API of the server at this URL instead of on the database (env COFFER_URL)"),
		key:     fs.String("key", os.Getenv("COFFER_KEY"), "API key for --url: an admin key, or the merchant's own key (env COFFER_KEY)"),
		keyFile: masterKeyFileFlag(fs),
		json:    fs.Bool("json", false, "print JSON"),
	}
	if withMerchant {
		c.merchant = fs.Int64("merchant", 1, "merchant id")
	}
	return c
}

// backend is what the commands need, over the database or over the API.
// Both answer the client package's types.
type backend interface {
	createMerchant(ctx context.Context, name, username string) (client.CreatedMerchant, error)
	merchants(ctx context.Context) ([]client.Merchant, error)
	setOpen(ctx context.Context, merchantID int64, dialect string, open bool) (client.Gateway, error)
	rotateKey(ctx context.Context, merchantID int64, dialect string, grace time.Duration) (client.NewKey, error)
	addUser(ctx context.Context, merchantID int64, username, role string) (client.User, error)
	users(ctx context.Context, merchantID int64) ([]client.User, error)
	createCustomer(ctx context.Context, merchantID int64, r client.CreateCustomerRequest) (client.Customer, error)
	// customers and wallets answer every page.
	customers(ctx context.Context, merchantID int64, p client.ListCustomersParams) ([]client.Customer, error)
	wallets(ctx context.Context, merchantID int64, p client.ListWalletsParams) ([]client.Wallet, error)
	wallet(ctx context.Context, merchantID int64, ref string) (client.Wallet, error)
	close()
}

func (c *conn) open(ctx context.Context, env *Env) (backend, error) {
	if *c.url != "" {
		if *c.key == "" {
			return nil, errors.New("--url needs --key (or COFFER_KEY): an API key of the server")
		}
		return remote{c: client.New(*c.url, *c.key)}, nil
	}
	isPG := (&config.Config{DB: *c.db}).IsPostgres()
	// SQLite: take the exclusive lock as the server does (so a running
	// server is never written behind its back), and migrate as serve does.
	st, err := openStore(ctx, *c.db, !isPG, !isPG)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, fmt.Errorf("%w\nthe server holds this SQLite database: run the command through it with --url http://… --key ck_…", err)
	}
	if err != nil {
		return nil, err
	}
	eng := ledger.New(st, ledger.Options{ExpiryInterval: -1})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Events for merchants with webhook endpoints: the servers deliver them.
	subs := notify.NewSubscriptions(st, log)
	err = subs.Refresh(ctx)
	var ms *merchant.Service
	var ws *wallet.Service
	if err == nil {
		ms, ws, err = domainServices(ctx, env, st, eng, *c.db, *c.keyFile, subs.Wants, log)
	}
	if err != nil {
		eng.Close(context.Background())
		st.Close()
		return nil, err
	}
	return &direct{st: st, eng: eng, ms: ms, ws: ws}, nil
}

// --- the commands ---

func runMerchant(ctx context.Context, env *Env, args []string) error {
	return dispatch(ctx, env, "merchant", args, []subcommand{
		{"create", "create a merchant and print every dialect's credential (shown once)", merchantCreate},
		{"list", "list merchants", merchantList},
		{"gateway", "open or close a dialect's gateway: gateway open|close DIALECT --merchant ID", merchantGateway},
		{"key", "generate a new dialect key: key rotate DIALECT --merchant ID [--grace 24h]", merchantKey},
		{"user", "add or list users (admin logins and resellers): user add|list", merchantUser},
	})
}

func runCustomer(ctx context.Context, env *Env, args []string) error {
	return dispatch(ctx, env, "customer", args, []subcommand{
		{"create", "create a customer, with wallets", customerCreate},
		{"list", "list or search customers", customerList},
	})
}

func runWallet(ctx context.Context, env *Env, args []string) error {
	return dispatch(ctx, env, "wallet", args, []subcommand{
		{"list", "list wallets with their balances", walletList},
		{"show", "show a wallet (by id or name) and its balance", walletShow},
		{"refresh", "external wallet mode: pull every wallet of the main site into the server (--url, --key)", walletRefresh},
	})
}

type subcommand struct {
	name, summary string
	run           func(ctx context.Context, env *Env, args []string) error
}

func dispatch(ctx context.Context, env *Env, name string, args []string, subs []subcommand) error {
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: coffer %s <command> [flags]\n\nCommands:\n", name)
		for _, s := range subs {
			fmt.Fprintf(w, "  %-8s %s\n", s.name, s.summary)
		}
		fmt.Fprintf(w, "\nRun 'coffer %s <command> --help' for its flags.\n", name)
	}
	if len(args) == 0 {
		usage(env.Stderr)
		return errUsage
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		usage(env.Stdout)
		return flag.ErrHelp
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(ctx, env, args[1:])
		}
	}
	fmt.Fprintf(env.Stderr, "coffer %s: unknown command %q\n\n", name, args[0])
	usage(env.Stderr)
	return errUsage
}

// parseArgs parses flags anywhere among exactly len(names) positional
// arguments, which it returns.
func parseArgs(env *Env, fs *flag.FlagSet, args []string, names ...string) ([]string, error) {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(env.Stdout)
			fs.Usage()
			return nil, flag.ErrHelp
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != len(names) {
		if len(names) == 0 {
			fmt.Fprintf(env.Stderr, "unexpected arguments: %s\n", strings.Join(pos, " "))
		} else {
			fmt.Fprintf(env.Stderr, "want %s\n", strings.Join(names, " "))
		}
		fs.Usage()
		return nil, errUsage
	}
	return pos, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func table(w io.Writer, header string, rows func(tw io.Writer)) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	rows(tw)
	tw.Flush()
}

// secretNames say what each dialect's secret is called by its clients.
var secretNames = map[string]string{
	"cmmp":      "secure key",
	"mor":       "API secret key",
	"mugglepay": "API token",
	"webtv":     "shared secret",
	"paykassma": "plugin API secret",
}

func merchantCreate(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "merchant create", "Create a merchant with a credential for every dialect, printed once (only hashes or sealed copies\n"+
		"are kept). Every gateway starts closed: open each with 'coffer merchant gateway open DIALECT --merchant ID'.")
	c := connFlags(fs, false)
	name := fs.String("name", "", "the merchant's name (required)")
	username := fs.String("username", "", "also create the merchant's admin user (MOR's u); unique per Coffer instance")
	if _, err := parseArgs(env, fs, args); err != nil {
		return err
	}
	if *name == "" {
		fmt.Fprintln(env.Stderr, "--name is required")
		fs.Usage()
		return errUsage
	}
	b, err := c.open(ctx, env)
	if err != nil {
		return err
	}
	defer b.close()
	m, err := b.createMerchant(ctx, *name, *username)
	if err != nil {
		return err
	}
	if *c.json {
		return printJSON(env.Stdout, m)
	}
	w := env.Stdout
	fmt.Fprintf(w, "Merchant %d %q created.\n", m.ID, m.Name)
	if m.User != nil {
		fmt.Fprintf(w, "Admin user: %s\n", m.User.Username)
	}
	fmt.Fprintln(w, "\nCredentials (shown only this once; configure the clients with them):")
	table(w, "  DIALECT\tKEY ID\tSECRET\tWHAT", func(tw io.Writer) {
		for _, d := range merchant.Dialects() {
			k := m.Credentials[string(d)]
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", d, dash(k.KeyID), k.Secret, secretNames[string(d)])
		}
	})
	fmt.Fprintf(w, "\nEvery gateway is closed. Open one with: coffer merchant gateway open DIALECT --merchant %d\n", m.ID)
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func merchantList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "merchant list", "List merchants.")
	c := connFlags(fs, false)
	if _, err := parseArgs(env, fs, args); err != nil {
		return err
	}
	b, err := c.open(ctx, env)
	if err != nil {
		return err
	}
	defer b.close()
	ms, err := b.merchants(ctx)
	if err != nil {
		return err
	}
	if *c.json {
		return printJSON(env.Stdout, ms)
	}
	table(env.Stdout, "ID\tNAME\tCREATED", func(tw io.Writer) {
		for _, m := range ms {
			fmt.Fprintf(tw, "%d\t%s\t%s\n", m.ID, m.Name, m.CreatedAt.Format(time.RFC3339))
		}
	})
	return nil
}

func merchantGateway(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || (args[0] != "open" && args[0] != "close") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(env.Stdout, "Usage: coffer merchant gateway open|close DIALECT --merchant ID [flags]")
			return flag.ErrHelp
		}
		fmt.Fprintln(env.Stderr, "Usage: coffer merchant gateway open|close DIALECT --merchant ID [flags]")
		return errUsage
	}
	open := args[0] == "open"
	fs := newFlags(env, "merchant gateway "+args[0]+" DIALECT", "Open or close a merchant's gateway for a dialect (cmmp, mor, mugglepay, webtv, paykassma).\n"+
		"A closed gateway answers as the original service does for a closed one, and changes nothing.")
	c := connFlags(fs, true)
	pos, err := parseArgs(env, fs, args[1:], "DIALECT")
	if err != nil {
		return err
	}
	b, err := c.open(ctx, env)
	if err != nil {
		return err
	}
	defer b.close()
	g, err := b.setOpen(ctx, *c.merchant, pos[0], open)
	if err != nil {
		return err
	}
	if *c.json {
		return printJSON(env.Stdout, g)
	}
	state := "closed"
	if g.Open {
		state = "open"
	}
	fmt.Fprintf(env.Stdout, "The %s gateway of merchant %d is %s.\n", g.Dialect, *c.merchant, state)
	return nil
}

func merchantKey(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] != "rotate" {
		w, err := env.Stderr, errUsage
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			w, err = env.Stdout, flag.ErrHelp
		}
		fmt.Fprintln(w, "Usage: coffer merchant key rotate DIALECT --merchant ID [--grace 24h] [flags]")
		return err
	}
	fs := newFlags(env, "merchant key rotate DIALECT", "Generate a new key for a merchant's dialect and print it (once). The old key stops working at once,\n"+
		"as the original services do, unless --grace keeps it valid for a while (at most 90 days).")
	c := connFlags(fs, true)
	grace := fs.Duration("grace", 0, "keep the old key valid this long (such as 24h); 0 revokes it at once")
	pos, err := parseArgs(env, fs, args[1:], "DIALECT")
	if err != nil {
		return err
	}
	if *grace%time.Second != 0 {
		return errors.New("--grace must be whole seconds")
	}
	b, err := c.open(ctx, env)
	if err != nil {
		return err
	}
	defer b.close()
	k, err := b.rotateKey(ctx, *c.merchant, pos[0], *grace)
	if err != nil {
		return err
	}
	if *c.json {
		return printJSON(env.Stdout, k)
	}
	w := env.Stdout
	fmt.Fprintf(w, "New %s %s for merchant %d (shown only this once):\n\n", k.Dialect, secretNames[k.Dialect], *c.merchant)
	if k.KeyID != "" {
		fmt.Fprintf(w, "  key id: %s\n", k.KeyID)
	}
	fmt.Fprintf(w, "  secret: %s\n\n", k.Secret)
	if k.PreviousValidUntil != nil {
		fmt.Fprintf(w, "The previous key keeps working until %s.\n", k.PreviousValidUntil.Format(time.RFC3339))
	} else {
		fmt.Fprintln(w, "The previous key no longer works.")
	}
	return nil
}

func merchantUser(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || (args[0] != "add" && args[0] != "list") {
		w, err := env.Stderr, errUsage
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			w, err = env.Stdout, flag.ErrHelp
		}
		fmt.Fprintln(w, "Usage: coffer merchant user add --username U [--role reseller|admin] --merchant ID\n       coffer merchant user list --merchant ID")
		return err
	}
	add := args[0] == "add"
	fs := newFlags(env, "merchant user "+args[0], "Add a user to a merchant, or list its users. A username identifies its merchant (MOR's u):\n"+
		"the merchant's admin user acts on every customer, a reseller only on the customers it owns.")
	c := connFlags(fs, true)
	username := fs.String("username", "", "username, unique per Coffer instance (add)")
	role := fs.String("role", store.UserReseller, "admin or reseller (add)")
	if _, err := parseArgs(env, fs, args[1:]); err != nil {
		return err
	}
	b, err := c.open(ctx, env)
	if err != nil {
		return err
	}
	defer b.close()
	var us []client.User
	if add {
		u, err := b.addUser(ctx, *c.merchant, *username, *role)
		if err != nil {
			return err
		}
		us = []client.User{u}
	} else if us, err = b.users(ctx, *c.merchant); err != nil {
		return err
	}
	if *c.json {
		if add {
			return printJSON(env.Stdout, us[0])
		}
		return printJSON(env.Stdout, us)
	}
	table(env.Stdout, "ID\tUSERNAME\tROLE", func(tw io.Writer) {
		for _, u := range us {
			fmt.Fprintf(tw, "%d\t%s\t%s\n", u.ID, u.Username, u.Role)
		}
	})
	return nil
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

func customerCreate(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "customer create", "Create a merchant's customer, with wallets. Creating it again with the same details is not an error.")
	c := connFlags(fs, true)
	var r client.CreateCustomerRequest
	fs.Int64Var(&r.ID, "id", 0, "the customer's id, chosen by the merchant's client (required, positive)")
	fs.StringVar(&r.Email, "email", "", "e-mail, unique per merchant in any case")
	fs.StringVar(&r.Label, "label", "", "external label (Paykassma's), unique per merchant")
	fs.StringVar(&r.Currency, "currency", "", "default currency")
	fs.StringVar(&r.TaxRate, "tax-rate", "", "tax rate in percent, such as 21 or 7.5")
	owner := fs.String("owner", "", "username of the reseller that owns the customer")
	var ws stringList
	fs.Var(&ws, "wallet", "open a wallet in this asset (\"points\": the merchant's points); repeat for several")
	if _, err := parseArgs(env, fs, args); err != nil {
		return err
	}
	r.Wallets = ws
	b, err := c.open(ctx, env)
	if err != nil {
		return err
	}
	defer b.close()
	if *owner != "" {
		us, err := b.users(ctx, *c.merchant)
		if err != nil {
			return err
		}
		for _, u := range us {
			if u.Username == *owner {
				r.OwnerID = u.ID
			}
		}
		if r.OwnerID == 0 {
			return fmt.Errorf("merchant %d has no user %q", *c.merchant, *owner)
		}
	}
	cu, err := b.createCustomer(ctx, *c.merchant, r)
	if err != nil {
		return err
	}
	if *c.json {
		return printJSON(env.Stdout, cu)
	}
	verb := "created"
	if !cu.Created {
		verb = "exists"
	}
	fmt.Fprintf(env.Stdout, "Customer %d %s.\n", cu.ID, verb)
	if len(cu.Wallets) > 0 {
		printWallets(env.Stdout, cu.Wallets)
	}
	return nil
}

func customerList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "customer list", "List a merchant's customers, or find them by e-mail or label.")
	c := connFlags(fs, true)
	var p client.ListCustomersParams
	fs.StringVar(&p.Email, "email", "", "only the customer with this e-mail (any case)")
	fs.StringVar(&p.Label, "label", "", "only the customer with this label")
	if _, err := parseArgs(env, fs, args); err != nil {
		return err
	}
	b, err := c.open(ctx, env)
	if err != nil {
		return err
	}
	defer b.close()
	all, err := b.customers(ctx, *c.merchant, p)
	if err != nil {
		return err
	}
	if *c.json {
		return printJSON(env.Stdout, all)
	}
	table(env.Stdout, "ID\tEMAIL\tLABEL\tCURRENCY\tOWNER\tTAX %", func(tw io.Writer) {
		for _, cu := range all {
			owner := "-"
			if cu.OwnerID != 0 {
				owner = fmt.Sprint(cu.OwnerID)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", cu.ID, dash(cu.Email), dash(cu.Label), dash(cu.Currency), owner, dash(cu.TaxRate))
		}
	})
	return nil
}

func printWallets(w io.Writer, ws []client.Wallet) {
	table(w, "ID\tNAME\tCUSTOMER\tASSET\tSTATUS\tBALANCE\tAVAILABLE", func(tw io.Writer) {
		for _, x := range ws {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t%s\n", x.ID, x.Name, x.CustomerID, x.Asset, x.Status, x.Balance, x.Available)
		}
	})
}

func walletList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "wallet list", "List a merchant's wallets with their balances.")
	c := connFlags(fs, true)
	var p client.ListWalletsParams
	fs.Int64Var(&p.CustomerID, "customer", 0, "only this customer's wallets")
	fs.StringVar(&p.Asset, "asset", "", "only wallets of this asset (\"points\": the merchant's points)")
	if _, err := parseArgs(env, fs, args); err != nil {
		return err
	}
	b, err := c.open(ctx, env)
	if err != nil {
		return err
	}
	defer b.close()
	all, err := b.wallets(ctx, *c.merchant, p)
	if err != nil {
		return err
	}
	if *c.json {
		return printJSON(env.Stdout, all)
	}
	printWallets(env.Stdout, all)
	return nil
}

func walletShow(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "wallet show WALLET", "Show a wallet, by numeric id or 32-character name, with its balance.")
	c := connFlags(fs, true)
	pos, err := parseArgs(env, fs, args, "WALLET")
	if err != nil {
		return err
	}
	b, err := c.open(ctx, env)
	if err != nil {
		return err
	}
	defer b.close()
	x, err := b.wallet(ctx, *c.merchant, pos[0])
	if err != nil {
		return err
	}
	if *c.json {
		return printJSON(env.Stdout, x)
	}
	printWallets(env.Stdout, []client.Wallet{x})
	return nil
}

// --- remote: through the native API ---

type remote struct{ c *client.Client }

func (r remote) close() {}

func (r remote) createMerchant(ctx context.Context, name, username string) (client.CreatedMerchant, error) {
	return r.c.CreateMerchant(ctx, client.CreateMerchantRequest{Name: name, Username: username})
}

// allPages calls get with each page's cursor until the last page.
func allPages[T any](get func(cursor string) (data []T, next string, err error)) ([]T, error) {
	var all []T
	cursor := ""
	for {
		data, next, err := get(cursor)
		if err != nil {
			return nil, err
		}
		all = append(all, data...)
		if next == "" {
			return all, nil
		}
		cursor = next
	}
}

func (r remote) merchants(ctx context.Context) ([]client.Merchant, error) {
	return allPages(func(cursor string) ([]client.Merchant, string, error) {
		page, err := r.c.ListMerchants(ctx, client.ListParams{Cursor: cursor, Limit: 1000})
		return page.Data, page.NextCursor, err
	})
}

func (r remote) setOpen(ctx context.Context, m int64, d string, open bool) (client.Gateway, error) {
	return r.c.ForMerchant(m).SetGatewayOpen(ctx, d, open)
}

func (r remote) rotateKey(ctx context.Context, m int64, d string, grace time.Duration) (client.NewKey, error) {
	return r.c.ForMerchant(m).RotateKey(ctx, d, client.RotateKeyRequest{Grace: grace})
}

func (r remote) addUser(ctx context.Context, m int64, username, role string) (client.User, error) {
	return r.c.ForMerchant(m).CreateUser(ctx, username, role)
}

func (r remote) users(ctx context.Context, m int64) ([]client.User, error) {
	return r.c.ForMerchant(m).ListUsers(ctx)
}

func (r remote) createCustomer(ctx context.Context, m int64, req client.CreateCustomerRequest) (client.Customer, error) {
	return r.c.ForMerchant(m).CreateCustomer(ctx, req)
}

func (r remote) customers(ctx context.Context, m int64, p client.ListCustomersParams) ([]client.Customer, error) {
	c := r.c.ForMerchant(m)
	return allPages(func(cursor string) ([]client.Customer, string, error) {
		p.Cursor, p.Limit = cursor, 1000
		page, err := c.ListCustomers(ctx, p)
		return page.Data, page.NextCursor, err
	})
}

func (r remote) wallets(ctx context.Context, m int64, p client.ListWalletsParams) ([]client.Wallet, error) {
	c := r.c.ForMerchant(m)
	return allPages(func(cursor string) ([]client.Wallet, string, error) {
		p.Cursor, p.Limit = cursor, 1000
		page, err := c.ListWallets(ctx, p)
		return page.Data, page.NextCursor, err
	})
}

func (r remote) wallet(ctx context.Context, m int64, ref string) (client.Wallet, error) {
	return r.c.ForMerchant(m).GetWallet(ctx, ref)
}

// --- direct: on the database ---

type direct struct {
	st  store.Store
	eng *ledger.Engine
	ms  *merchant.Service
	ws  *wallet.Service
}

func (d *direct) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d.eng.Close(ctx)
	d.st.Close()
}

func cliMerchant(m store.Merchant) client.Merchant {
	return client.Merchant{ID: m.ID, Name: m.Name, CreatedAt: m.CreatedAt}
}

func cliUser(u merchant.User) client.User {
	return client.User{ID: u.ID, Username: u.Username, Role: u.Role, CreatedAt: u.CreatedAt}
}

func cliKey(k merchant.NewKey) client.NewKey {
	return client.NewKey{Dialect: string(k.Dialect), KeyID: k.KeyID, Secret: k.Secret.Reveal(), Hint: k.Hint, PreviousValidUntil: k.PreviousUntil}
}

func (d *direct) createMerchant(ctx context.Context, name, username string) (client.CreatedMerchant, error) {
	c, err := d.ms.Create(ctx, merchant.CreateParams{Name: name, Username: username})
	if err != nil {
		return client.CreatedMerchant{}, err
	}
	out := client.CreatedMerchant{Merchant: cliMerchant(c.Merchant), Credentials: map[string]client.NewKey{}}
	if c.User != nil {
		u := cliUser(*c.User)
		out.User = &u
	}
	for _, k := range c.Keys {
		out.Credentials[string(k.Dialect)] = cliKey(k)
	}
	return out, nil
}

// allRows reads rows 1000 at a time, in id order, and converts each.
func allRows[T, C any](get func(after int64) ([]T, error), id func(T) int64, conv func(T) (C, error)) ([]C, error) {
	var out []C
	var after int64
	for {
		rows, err := get(after)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			c, err := conv(r)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		if len(rows) < 1000 {
			return out, nil
		}
		after = id(rows[len(rows)-1])
	}
}

func (d *direct) merchants(ctx context.Context) ([]client.Merchant, error) {
	return allRows(func(after int64) ([]store.Merchant, error) { return d.ms.List(ctx, after, 1000) },
		func(m store.Merchant) int64 { return m.ID },
		func(m store.Merchant) (client.Merchant, error) { return cliMerchant(m), nil })
}

func (d *direct) setOpen(ctx context.Context, m int64, dialect string, open bool) (client.Gateway, error) {
	dl, err := merchant.ParseDialect(dialect)
	if err != nil {
		return client.Gateway{}, err
	}
	g, err := d.ms.SetOpen(ctx, m, dl, open)
	if err != nil {
		return client.Gateway{}, err
	}
	settings, err := json.Marshal(g.Settings())
	if err != nil {
		return client.Gateway{}, err
	}
	out := client.Gateway{Dialect: string(g.Dialect), Open: g.Open, Settings: settings, Keys: []client.KeyInfo{}}
	if !g.UpdatedAt.IsZero() {
		out.UpdatedAt = &g.UpdatedAt
	}
	for _, k := range g.Keys {
		out.Keys = append(out.Keys, client.KeyInfo{KeyID: k.KeyID, Hint: k.Hint, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt})
	}
	return out, nil
}

func (d *direct) rotateKey(ctx context.Context, m int64, dialect string, grace time.Duration) (client.NewKey, error) {
	dl, err := merchant.ParseDialect(dialect)
	if err != nil {
		return client.NewKey{}, err
	}
	k, err := d.ms.GenerateKey(ctx, m, dl, grace)
	return cliKey(k), err
}

func (d *direct) addUser(ctx context.Context, m int64, username, role string) (client.User, error) {
	u, err := d.ms.CreateUser(ctx, m, username, role)
	return cliUser(u), err
}

func (d *direct) users(ctx context.Context, m int64) ([]client.User, error) {
	if _, err := d.ms.Get(ctx, m); err != nil {
		return nil, err
	}
	us, err := d.ms.Users(ctx, m)
	out := make([]client.User, len(us))
	for i, u := range us {
		out[i] = cliUser(u)
	}
	return out, err
}

func (d *direct) cliWallet(ctx context.Context, w store.Wallet) (client.Wallet, error) {
	b, err := d.ws.WalletBalance(ctx, w)
	if err != nil {
		return client.Wallet{}, err
	}
	return client.Wallet{ID: w.ID, Name: w.Name, CustomerID: w.CustomerID, Asset: w.Asset, Scale: b.Scale, Status: w.Status,
		AccountID: w.AccountID, Balance: money.Format(b.Posted, b.Scale), Pending: money.Format(b.Pending, b.Scale),
		Available: money.Format(b.Available, b.Scale), CreatedAt: w.CreatedAt}, nil
}

func cliCustomer(c store.Customer) client.Customer {
	out := client.Customer{ID: c.ID, Email: c.Email, Label: c.Label, Currency: c.Currency, OwnerID: c.OwnerID, CreatedAt: c.CreatedAt}
	if c.TaxRate != nil {
		out.TaxRate = wallet.FormatTaxRate(*c.TaxRate)
	}
	return out
}

func (d *direct) createCustomer(ctx context.Context, m int64, r client.CreateCustomerRequest) (client.Customer, error) {
	if _, err := d.ms.Get(ctx, m); err != nil {
		return client.Customer{}, err
	}
	p := wallet.CustomerParams{ID: r.ID, Email: r.Email, Label: r.Label, Currency: r.Currency, OwnerID: r.OwnerID}
	if r.TaxRate != "" {
		rate, err := wallet.ParseTaxRate(r.TaxRate)
		if err != nil {
			return client.Customer{}, err
		}
		p.TaxRate = &rate
	}
	for _, a := range r.Wallets {
		if a == "points" {
			a = ""
		}
		p.Wallets = append(p.Wallets, a)
	}
	res, err := d.ws.CreateCustomer(ctx, m, p)
	if err != nil {
		return client.Customer{}, err
	}
	out := cliCustomer(res.Customer)
	out.Created = res.Created
	for _, w := range res.Wallets {
		cw, err := d.cliWallet(ctx, w)
		if err != nil {
			return out, err
		}
		out.Wallets = append(out.Wallets, cw)
	}
	return out, nil
}

func (d *direct) customers(ctx context.Context, m int64, p client.ListCustomersParams) ([]client.Customer, error) {
	if _, err := d.ms.Get(ctx, m); err != nil {
		return nil, err
	}
	return allRows(func(after int64) ([]store.Customer, error) {
		return d.ws.Customers(ctx, m, store.CustomerFilter{Email: p.Email, Label: p.Label, OwnerID: p.OwnerID, AfterID: after, Limit: 1000})
	}, func(c store.Customer) int64 { return c.ID }, func(c store.Customer) (client.Customer, error) { return cliCustomer(c), nil })
}

func (d *direct) wallets(ctx context.Context, m int64, p client.ListWalletsParams) ([]client.Wallet, error) {
	if _, err := d.ms.Get(ctx, m); err != nil {
		return nil, err
	}
	if p.Asset == "points" {
		p.Asset = wallet.PointsCode(m)
	}
	return allRows(func(after int64) ([]store.Wallet, error) {
		return d.ws.Wallets(ctx, m, store.WalletFilter{CustomerID: p.CustomerID, Asset: p.Asset, AfterID: after, Limit: 1000})
	}, func(w store.Wallet) int64 { return w.ID }, func(w store.Wallet) (client.Wallet, error) { return d.cliWallet(ctx, w) })
}

func (d *direct) wallet(ctx context.Context, m int64, ref string) (client.Wallet, error) {
	w, err := d.ws.WalletByRef(ctx, m, ref)
	if err != nil {
		return client.Wallet{}, err
	}
	return d.cliWallet(ctx, w)
}
