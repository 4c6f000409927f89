package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"

	"github.com/coffer-pay/coffer/client"
	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/payment"
	"github.com/coffer-pay/coffer/internal/pricing"
	"github.com/coffer-pay/coffer/internal/store"
)

// The confirmation queue of payments (MOR's "API Payment Confirmation")
// and exchange rates, over the database or a server's native API.

func runPayment(ctx context.Context, env *Env, args []string) error {
	return dispatch(ctx, env, "payment", args, []subcommand{
		{"list", "list payments (--status pending is the confirmation queue)", paymentList},
		{"show", "show a payment", paymentShow},
		{"confirm", "confirm a pending payment: the wallet is credited, once", paymentDecide(true)},
		{"reject", "reject a pending payment: its holds are voided", paymentDecide(false)},
	})
}

func runRate(ctx context.Context, env *Env, args []string) error {
	return dispatch(ctx, env, "rate", args, []subcommand{
		{"list", "list the current exchange rates", rateList},
		{"set", "set a currency's rate: rate set CURRENCY RATE (units of the base currency per unit)", rateSet},
	})
}

// paymentBackend is what these commands need; *direct and remote have it.
type paymentBackend interface {
	payments(ctx context.Context, merchantID int64, p client.ListPaymentsParams) ([]client.Payment, error)
	payment(ctx context.Context, merchantID, id int64) (client.Payment, error)
	decide(ctx context.Context, merchantID, id int64, confirm bool) (client.Payment, error)
	rates(ctx context.Context) ([]client.Rate, error)
	setRate(ctx context.Context, currency, rate string) (client.Rate, error)
}

func (c *conn) openPayments(ctx context.Context, env *Env) (paymentBackend, func(), error) {
	b, err := c.open(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	pb, ok := b.(paymentBackend)
	if !ok {
		b.close()
		return nil, nil, fmt.Errorf("this connection cannot serve payments")
	}
	return pb, b.close, nil
}

func paymentList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "payment list", "List a merchant's payments, oldest first. --status pending lists the confirmation queue.")
	c := connFlags(fs, true)
	var p client.ListPaymentsParams
	fs.StringVar(&p.Status, "status", "", "completed, pending, confirmed or rejected")
	fs.Int64Var(&p.CustomerID, "customer", 0, "only this customer's payments")
	if _, err := parseArgs(env, fs, args); err != nil {
		return err
	}
	b, done, err := c.openPayments(ctx, env)
	if err != nil {
		return err
	}
	defer done()
	all, err := b.payments(ctx, *c.merchant, p)
	if err != nil {
		return err
	}
	if *c.json {
		return printJSON(env.Stdout, all)
	}
	table(env.Stdout, "ID\tSTATUS\tCUSTOMER\tAMOUNT\tTAX\tGROSS\tCREDITED\tTRANSACTION\tCREATED", func(tw io.Writer) {
		for _, x := range all {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%s %s\t%s\t%s\t%s %s\t%s\t%s\n", x.ID, x.Status, x.CustomerID, x.Amount, x.Currency,
				x.Tax, x.Gross, x.Credited, x.WalletCurrency, dash(x.Transaction), x.CreatedAt.Format("2006-01-02 15:04:05"))
		}
	})
	return nil
}

func paymentShow(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "payment show", "Show a payment.")
	c := connFlags(fs, true)
	pos, err := parseArgs(env, fs, args, "ID")
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil {
		return fmt.Errorf("payment id must be a number")
	}
	b, done, err := c.openPayments(ctx, env)
	if err != nil {
		return err
	}
	defer done()
	p, err := b.payment(ctx, *c.merchant, id)
	if err != nil {
		return err
	}
	return printJSON(env.Stdout, p)
}

func paymentDecide(confirm bool) func(ctx context.Context, env *Env, args []string) error {
	verb := "reject"
	if confirm {
		verb = "confirm"
	}
	return func(ctx context.Context, env *Env, args []string) error {
		fs := newFlags(env, "payment "+verb, "Decide a payment waiting in the confirmation queue ("+verb+").")
		c := connFlags(fs, true)
		pos, err := parseArgs(env, fs, args, "ID")
		if err != nil {
			return err
		}
		id, err := strconv.ParseInt(pos[0], 10, 64)
		if err != nil {
			return fmt.Errorf("payment id must be a number")
		}
		b, done, err := c.openPayments(ctx, env)
		if err != nil {
			return err
		}
		defer done()
		p, err := b.decide(ctx, *c.merchant, id, confirm)
		if err != nil {
			return err
		}
		if *c.json {
			return printJSON(env.Stdout, p)
		}
		fmt.Fprintf(env.Stdout, "payment %d is %s: %s %s credited to wallet %d\n", p.ID, p.Status, p.Credited, p.WalletCurrency, p.WalletID)
		return nil
	}
}

func rateList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "rate list", "List every currency's current exchange rate against the base currency.")
	c := connFlags(fs, false)
	if _, err := parseArgs(env, fs, args); err != nil {
		return err
	}
	b, done, err := c.openPayments(ctx, env)
	if err != nil {
		return err
	}
	defer done()
	rs, err := b.rates(ctx)
	if err != nil {
		return err
	}
	if *c.json {
		return printJSON(env.Stdout, rs)
	}
	table(env.Stdout, "CURRENCY\tRATE\tBASE\tSET AT\tBY", func(tw io.Writer) {
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Currency, r.Rate, r.Base, r.SetAt.Format("2006-01-02 15:04:05"), dash(r.SetBy))
		}
	})
	return nil
}

func rateSet(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "rate set", "Set a currency's exchange rate: one unit of CURRENCY is worth RATE units of the base\ncurrency (COFFER_BASE_CURRENCY, default USD). Payments in other currencies convert at it at once.")
	c := connFlags(fs, false)
	pos, err := parseArgs(env, fs, args, "CURRENCY", "RATE")
	if err != nil {
		return err
	}
	b, done, err := c.openPayments(ctx, env)
	if err != nil {
		return err
	}
	defer done()
	r, err := b.setRate(ctx, pos[0], pos[1])
	if err != nil {
		return err
	}
	if *c.json {
		return printJSON(env.Stdout, r)
	}
	fmt.Fprintf(env.Stdout, "1 %s = %s %s (set %s)\n", r.Currency, r.Rate, r.Base, r.SetAt.Format("2006-01-02 15:04:05"))
	return nil
}

// --- over the API ---

func (r remote) payments(ctx context.Context, merchantID int64, p client.ListPaymentsParams) ([]client.Payment, error) {
	c := r.c.ForMerchant(merchantID)
	var all []client.Payment
	for {
		page, err := c.ListPayments(ctx, p)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Data...)
		if page.NextCursor == "" {
			return all, nil
		}
		p.Cursor = page.NextCursor
	}
}

func (r remote) payment(ctx context.Context, merchantID, id int64) (client.Payment, error) {
	return r.c.ForMerchant(merchantID).GetPayment(ctx, id)
}

func (r remote) decide(ctx context.Context, merchantID, id int64, confirm bool) (client.Payment, error) {
	if confirm {
		return r.c.ForMerchant(merchantID).ConfirmPayment(ctx, id)
	}
	return r.c.ForMerchant(merchantID).RejectPayment(ctx, id)
}

func (r remote) rates(ctx context.Context) ([]client.Rate, error) { return r.c.ListRates(ctx) }

func (r remote) setRate(ctx context.Context, currency, rate string) (client.Rate, error) {
	return r.c.SetRate(ctx, currency, rate)
}

// --- on the database ---

func baseCurrency() string {
	if v := os.Getenv("COFFER_BASE_CURRENCY"); v != "" {
		return v
	}
	return "USD"
}

func (d *direct) paymentService() (*payment.Service, *pricing.Rates) {
	rates := pricing.NewRates(d.st, baseCurrency(), nil)
	return payment.New(d.eng, d.ws, rates), rates
}

func paymentToClient(p store.Payment) client.Payment {
	s, _ := money.CurrencyScale(p.Currency)
	ws, _ := money.CurrencyScale(p.WalletCurrency)
	return client.Payment{
		ID: p.ID, CustomerID: p.CustomerID, Status: p.Status, Source: p.Source, Transaction: p.Transaction,
		Currency: p.Currency, Amount: money.Format(p.Amount, s), Tax: money.Format(p.Tax, s), Gross: money.Format(p.Gross, s),
		TaxRate: p.TaxRate, TaxIncluded: p.TaxIncluded, WalletID: p.WalletID, WalletCurrency: p.WalletCurrency,
		Rate: p.Rate, Credited: money.Format(p.Credited, ws), TaxCredited: money.Format(p.TaxCredited, ws),
		CreditTransferID: p.CreditTransferID, TaxTransferID: p.TaxTransferID, PaymentType: p.PaymentType,
		PayerEmail: p.PayerEmail, Comments: p.Comments, Username: p.Username, CreatedAt: p.CreatedAt,
		DecidedAt: p.DecidedAt, DecidedBy: p.DecidedBy,
	}
}

func (d *direct) payments(ctx context.Context, merchantID int64, p client.ListPaymentsParams) ([]client.Payment, error) {
	svc, _ := d.paymentService()
	var all []client.Payment
	var after int64
	for {
		rows, err := svc.List(ctx, store.PaymentFilter{MerchantID: merchantID, Status: p.Status, CustomerID: p.CustomerID, AfterID: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			all = append(all, paymentToClient(r))
		}
		if len(rows) < 1000 {
			return all, nil
		}
		after = rows[len(rows)-1].ID
	}
}

func (d *direct) payment(ctx context.Context, merchantID, id int64) (client.Payment, error) {
	svc, _ := d.paymentService()
	p, err := svc.Get(ctx, merchantID, id)
	return paymentToClient(p), err
}

func (d *direct) decide(ctx context.Context, merchantID, id int64, confirm bool) (client.Payment, error) {
	svc, _ := d.paymentService()
	who := "cli:" + os.Getenv("USER")
	var p store.Payment
	var err error
	if confirm {
		p, err = svc.Confirm(ctx, merchantID, id, who)
	} else {
		p, err = svc.Reject(ctx, merchantID, id, who)
	}
	return paymentToClient(p), err
}

func (d *direct) rates(ctx context.Context) ([]client.Rate, error) {
	_, rates := d.paymentService()
	cur, err := rates.Current(ctx)
	if err != nil {
		return nil, err
	}
	var out []client.Rate
	for _, code := range slices.Sorted(maps.Keys(cur)) {
		r := cur[code]
		out = append(out, client.Rate{Currency: r.Currency, Rate: r.Rate, Base: rates.Base(), SetAt: r.SetAt, SetBy: r.SetBy})
	}
	return out, nil
}

func (d *direct) setRate(ctx context.Context, currency, rate string) (client.Rate, error) {
	_, rates := d.paymentService()
	r, err := rates.Set(ctx, currency, rate, "cli:"+os.Getenv("USER"))
	if err != nil {
		return client.Rate{}, err
	}
	return client.Rate{Currency: r.Currency, Rate: r.Rate, Base: rates.Base(), SetAt: r.SetAt, SetBy: r.SetBy}, nil
}
