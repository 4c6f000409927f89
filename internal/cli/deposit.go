package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/coffer-pay/coffer/internal/deposit"
	"github.com/coffer-pay/coffer/internal/store"
)

// Deposits (Paykassma's flow): payee details, incoming external
// transactions (one by one or a CSV statement), and the review of payers'
// claims. On the database only for now; through a server, use the native
// API's /coffer/v1/deposits/… routes.

func runDeposit(ctx context.Context, env *Env, args []string) error {
	return dispatch(ctx, env, "deposit", args, []subcommand{
		{"payee-add", "add payee details (an account payers pay into) for a wallet type", depositPayeeAdd},
		{"payees", "list payee details", depositPayees},
		{"incoming", "record an incoming external transaction (matches a possible claim of it)", depositIncoming},
		{"import", "import a CSV statement of incoming transactions: import FILE (- for stdin)", depositImport},
		{"claims", "list payers' claims (--status possible is the review queue)", depositClaims},
		{"match", "credit a possible or pending claim by hand: match ID [--key1 K]", depositDecide(true)},
		{"reject", "reject a possible or pending claim: reject ID", depositDecide(false)},
	})
}

// openDeposits opens the database and a deposit service on it.
func (c *conn) openDeposits(ctx context.Context, env *Env) (*deposit.Service, func(), error) {
	if *c.url != "" {
		return nil, nil, errors.New("deposit commands work on the database only for now: use the native API's /coffer/v1/deposits routes with --url")
	}
	b, err := c.open(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	d, ok := b.(*direct)
	if !ok {
		b.close()
		return nil, nil, errors.New("this connection cannot serve deposits")
	}
	return deposit.New(d.eng, d.ws, deposit.Options{}), b.close, nil
}

// withDeposits runs fn on a deposit service over the database and prints
// its result as JSON.
func (c *conn) withDeposits(ctx context.Context, env *Env, fn func(svc *deposit.Service) (any, error)) error {
	svc, done, err := c.openDeposits(ctx, env)
	if err != nil {
		return err
	}
	defer done()
	v, err := fn(svc)
	if err != nil {
		return err
	}
	return printJSON(env.Stdout, v)
}

func depositPayeeAdd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "deposit payee-add", "Add payee details for a wallet type: transaction/create hands them out, least recently used first.")
	c := connFlags(fs, true)
	var p deposit.PayeeParams
	fs.StringVar(&p.WalletType, "wallet-type", "", "wallet type, e.g. wavepay")
	fs.StringVar(&p.Identifier, "identifier", "", "the account number or identifier shown to payers")
	fs.StringVar(&p.Currency, "currency", "", "ISO 4217 currency")
	fs.StringVar(&p.MinAmount, "min", "", "minimum amount (optional)")
	fs.StringVar(&p.MaxAmount, "max", "", "maximum amount (optional)")
	if _, err := parseArgs(env, fs, args); err != nil {
		return err
	}
	return c.withDeposits(ctx, env, func(svc *deposit.Service) (any, error) {
		p.MerchantID = *c.merchant
		py, err := svc.AddPayee(ctx, p)
		return py, err
	})
}

func depositPayees(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "deposit payees", "List payee details.")
	c := connFlags(fs, true)
	wt := fs.String("wallet-type", "", "only this wallet type")
	if _, err := parseArgs(env, fs, args); err != nil {
		return err
	}
	return c.withDeposits(ctx, env, func(svc *deposit.Service) (any, error) {
		ps, err := svc.Payees(ctx, *c.merchant, *wt)
		return ps, err
	})
}

func depositIncoming(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "deposit incoming", "Record an incoming external transaction (idempotent by wallet type and key1).")
	c := connFlags(fs, true)
	var p deposit.IncomingParams
	fs.StringVar(&p.WalletType, "wallet-type", "", "wallet type, e.g. wavepay")
	fs.StringVar(&p.Key1, "key1", "", "the provider's transaction number")
	fs.StringVar(&p.Amount, "amount", "", "decimal amount")
	fs.StringVar(&p.Currency, "currency", "", "ISO 4217 currency")
	fs.StringVar(&p.Payee, "payee", "", "the payee account (optional)")
	notFinal := fs.Bool("not-final", false, "the provider may still revert it (claims stay pending)")
	if _, err := parseArgs(env, fs, args); err != nil {
		return err
	}
	return c.withDeposits(ctx, env, func(svc *deposit.Service) (any, error) {
		p.MerchantID, p.Final, p.Source = *c.merchant, !*notFinal, "cli"
		res, err := svc.RecordIncoming(ctx, p)
		return res, err
	})
}

func depositImport(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "deposit import", "Import a CSV statement (header: key1, amount, currency, payee, time, final). Every row is checked first; importing again is harmless.")
	c := connFlags(fs, true)
	var p deposit.ImportParams
	fs.StringVar(&p.WalletType, "wallet-type", "", "wallet type, e.g. wavepay")
	fs.StringVar(&p.Currency, "currency", "", "currency of rows without a currency column")
	pos, err := parseArgs(env, fs, args, "FILE")
	if err != nil {
		return err
	}
	var r io.Reader = os.Stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	return c.withDeposits(ctx, env, func(svc *deposit.Service) (any, error) {
		p.MerchantID, p.Source = *c.merchant, "csv"
		rep, err := svc.ImportCSV(ctx, r, p)
		return rep, err
	})
}

func depositClaims(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "deposit claims", "List payers' claims, oldest first.")
	c := connFlags(fs, true)
	status := fs.String("status", "", "possible, pending, credited or rejected")
	if _, err := parseArgs(env, fs, args); err != nil {
		return err
	}
	return c.withDeposits(ctx, env, func(svc *deposit.Service) (any, error) {
		cs, err := svc.Claims(ctx, store.ClaimFilter{MerchantID: *c.merchant, Status: *status, Limit: 1000})
		return cs, err
	})
}

func depositDecide(match bool) func(ctx context.Context, env *Env, args []string) error {
	verb := "reject"
	if match {
		verb = "match"
	}
	return func(ctx context.Context, env *Env, args []string) error {
		fs := newFlags(env, "deposit "+verb, "Decide a possible or pending claim ("+verb+").")
		c := connFlags(fs, true)
		key1 := fs.String("key1", "", "match: the incoming transaction to credit (default: the claim's own)")
		pos, err := parseArgs(env, fs, args, "ID")
		if err != nil {
			return err
		}
		id, err := strconv.ParseInt(pos[0], 10, 64)
		if err != nil {
			return fmt.Errorf("claim id must be a number")
		}
		return c.withDeposits(ctx, env, func(svc *deposit.Service) (any, error) {
			who := "cli:" + os.Getenv("USER")
			var cl store.DepositClaim
			if match {
				cl, err = svc.Match(ctx, *c.merchant, id, *key1, who)
			} else {
				cl, err = svc.Reject(ctx, *c.merchant, id, who)
			}
			return cl, err
		})
	}
}
