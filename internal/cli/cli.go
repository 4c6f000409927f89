// Package cli holds Coffer's subcommands and the wiring: it is the one
// place that knows every package and picks the storage engine from --db.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// Version is set at build time with -ldflags "-X …/cli.Version=v1.2.3".
var Version = "dev"

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *Env, args []string) error
}

// Env is what a subcommand writes to.
type Env struct {
	Stdout, Stderr io.Writer
}

// errUsage marks an error already explained by flag usage output.
var errUsage = errors.New("usage")

func commands() []command {
	return []command{
		{"serve", "run the Coffer server (SQLite by default, PostgreSQL with --db postgres://…)", runServe},
		{"migrate", "apply the embedded database migrations and exit", runMigrate},
		{"verify", "recompute every balance from the journal and check the ledger's invariants", runVerify},
		{"payment", "list, confirm or reject payments (the MOR confirmation queue)", runPayment},
		{"rate", "list or set exchange rates", runRate},
		{"deposit", "payee details, incoming transactions (and CSV import), and the review of deposit claims", runDeposit},
		{"bench", "drive a running server with load over HTTP and print throughput and latency", runBench},
		{"merchant", "create and list merchants, open or close their gateways, rotate their keys, add users", runMerchant},
		{"customer", "create, list and find a merchant's customers", runCustomer},
		{"wallet", "list and show a merchant's wallets with their balances", runWallet},
		{"webhook", "manage webhook endpoints and redeliver events (create, list, delete, rotate, enable, log, redeliver)", runWebhook},
		{"version", "print the version", runVersion},
	}
}

// Main runs the command line and returns the process exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	env := &Env{Stdout: stdout, Stderr: stderr}
	if len(args) < 2 {
		usage(stderr)
		return 2
	}
	name := args[1]
	switch name {
	case "-h", "--help", "help":
		usage(stdout)
		return 0
	case "-v", "--version":
		name = "version"
	}
	for _, c := range commands() {
		if c.name == name {
			err := c.run(ctx, env, args[2:])
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			default:
				fmt.Fprintf(stderr, "coffer %s: %v\n", name, err)
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "coffer: unknown command %q\n\n", name)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Coffer: a self-hosted payments and wallet server on an exact double-entry ledger.")
	fmt.Fprintln(w, "\nUsage: coffer <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'coffer <command> --help' for the flags of a command.")
}

// newFlags makes a FlagSet whose usage names the command.
func newFlags(env *Env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("coffer "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: coffer %s [flags]\n\n%s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags, mapping parse errors to errUsage; --help prints the
// usage to stdout and returns flag.ErrHelp.
func parse(env *Env, fs *flag.FlagSet, args []string) error {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(env.Stdout)
			fs.Usage()
			return flag.ErrHelp
		}
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		fs.Usage()
		return errUsage
	}
	return nil
}

func runVersion(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "version", "Print Coffer's version.")
	if err := parse(env, fs, args); err != nil {
		return err
	}
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v = "dev-" + s.Value[:12]
			}
		}
	}
	fmt.Fprintf(env.Stdout, "coffer %s\n", v)
	return nil
}
