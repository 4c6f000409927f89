// Package payment records money paid in for a customer — MOR's
// payment_create and the native API — with its tax (added or included),
// its conversion into the wallet's currency, and the confirmation queue:
// with confirmation on, a payment holds the money (pending transfers) and
// an operator's confirmation posts it, exactly once; a rejection voids it.
//
// The ledger records each payment as linked transfers from the merchant's
// external account: the net amount to the customer's wallet and the tax to
// the merchant's tax account, all in the wallet's currency.
package payment

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/pricing"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// Errors, compared with errors.Is (by code).
var (
	ErrNoCurrency       = &ledger.Error{Kind: ledger.KindInvalid, Code: "currency_not_found", Message: "currency not found, or no exchange rate to the wallet's currency"}
	ErrPaymentNotFound  = &ledger.Error{Kind: ledger.KindNotFound, Code: "payment_not_found", Message: "payment not found"}
	ErrAlreadyConfirmed = &ledger.Error{Kind: ledger.KindConflict, Code: "payment_already_confirmed", Message: "the payment was already confirmed"}
	ErrAlreadyRejected  = &ledger.Error{Kind: ledger.KindConflict, Code: "payment_already_rejected", Message: "the payment was already rejected"}
	ErrNotPending       = &ledger.Error{Kind: ledger.KindConflict, Code: "payment_not_pending", Message: "the payment does not wait for confirmation"}
	ErrTransactionUsed  = &ledger.Error{Kind: ledger.KindConflict, Code: "transaction_conflict", Message: "this transaction id was used for another payment"}
)

func invalid(field, format string, args ...any) *ledger.Error {
	return &ledger.Error{Kind: ledger.KindInvalid, Code: "invalid_request", Field: field, Message: fmt.Sprintf(format, args...)}
}

// Service creates and decides payments.
type Service struct {
	eng     *ledger.Engine
	st      store.Store
	wallets *wallet.Service
	rates   *pricing.Rates
}

// New returns a payment service.
func New(eng *ledger.Engine, wallets *wallet.Service, rates *pricing.Rates) *Service {
	return &Service{eng: eng, st: eng.Store(), wallets: wallets, rates: rates}
}

// CreateParams describe a payment.
type CreateParams struct {
	MerchantID  int64
	CustomerID  int64
	Currency    string // the currency paid in (MOR p_currency)
	Amount      string // decimal text as sent, in Currency
	TaxIncluded bool   // Amount includes the tax (MOR tax_in_amount=1)
	Transaction string // the client's id: the idempotency key ("" none)
	PaymentType string
	PayerEmail  string
	Comments    string
	Username    string // who asks (MOR u)
	Source      string // "mor", "api"
	// Confirm makes the payment wait for an operator (held, not credited).
	Confirm bool
	// DefaultTaxRate (parts per million) applies to a customer without a
	// tax rate of their own: the merchant's default. Nil is none.
	DefaultTaxRate *int64
}

// same reports whether a stored payment is what p asks for again.
func (p CreateParams) same(x store.Payment, amount int64) bool {
	return x.CustomerID == p.CustomerID && x.Currency == p.Currency && x.TaxIncluded == p.TaxIncluded &&
		((p.TaxIncluded && x.Gross == amount) || (!p.TaxIncluded && x.Amount == amount)) &&
		x.PaymentType == p.PaymentType && x.PayerEmail == p.PayerEmail && x.Comments == p.Comments
}

// Create records a payment, or — for a Transaction seen before with the
// same values — returns the original (replayed true) and credits nothing
// more. The same Transaction with other values is ErrTransactionUsed.
func (s *Service) Create(ctx context.Context, p CreateParams) (store.Payment, bool, error) {
	scale, ok := money.CurrencyScale(p.Currency)
	if !ok {
		return store.Payment{}, false, ErrNoCurrency
	}
	amount, err := money.ParsePositive(p.Amount, scale)
	if err != nil {
		return store.Payment{}, false, invalid("amount", "amount %q is not a positive amount of %s: %v", p.Amount, p.Currency, err)
	}
	if len(p.Transaction) > 128 || len(p.PaymentType) > 255 || len(p.PayerEmail) > 255 || len(p.Comments) > 2000 {
		return store.Payment{}, false, invalid("", "a text parameter is too long")
	}
	cust, err := s.wallets.Customer(ctx, p.MerchantID, p.CustomerID)
	if err != nil {
		return store.Payment{}, false, err
	}
	walletCur := cust.Currency
	if walletCur == "" {
		walletCur = p.Currency
	}
	asset, err := s.eng.Asset(ctx, walletCur)
	if err != nil {
		return store.Payment{}, false, err
	}
	taxRate, err := pricing.ParseTaxRate("")
	if err != nil {
		return store.Payment{}, false, err
	}
	rate := cust.TaxRate
	if rate == nil {
		rate = p.DefaultTaxRate
	}
	if rate != nil {
		if taxRate, err = pricing.ParseTaxRate(wallet.FormatTaxRate(*rate)); err != nil {
			return store.Payment{}, false, err
		}
	}
	var split pricing.Split
	if p.TaxIncluded {
		split, err = pricing.IncludedTax(amount, taxRate)
	} else {
		split, err = pricing.AddTax(amount, taxRate)
	}
	if err != nil {
		return store.Payment{}, false, invalid("amount", "amount out of range")
	}
	net, err := s.rates.Convert(ctx, split.Net, p.Currency, walletCur)
	if errors.Is(err, pricing.ErrNoRate) {
		return store.Payment{}, false, ErrNoCurrency
	} else if err != nil {
		return store.Payment{}, false, invalid("amount", "cannot convert: %v", err)
	}
	tax, err := s.rates.Convert(ctx, split.Tax, p.Currency, walletCur)
	if err != nil {
		return store.Payment{}, false, invalid("amount", "cannot convert: %v", err)
	}
	ref := p.Transaction
	if ref == "" {
		ref = "auto-" + randomID()
	}
	type out struct {
		p        store.Payment
		replayed bool
	}
	o, err := ledger.Do(ctx, s.eng, p.MerchantID, func(ctx context.Context, x *ledger.Exec) (out, error) {
		tx := x.Tx()
		if p.Transaction != "" {
			old, err := tx.PaymentByTransaction(ctx, p.MerchantID, p.Transaction)
			if err == nil {
				if !p.same(old, amount) {
					return out{}, ErrTransactionUsed
				}
				return out{old, true}, nil
			} else if !errors.Is(err, store.ErrNotFound) {
				return out{}, err
			}
		}
		w, err := s.wallets.WalletIn(ctx, x, p.CustomerID, asset)
		if err != nil {
			return out{}, err
		}
		if w.Status != store.WalletActive {
			return out{}, wallet.ErrWalletInactive
		}
		ext, err := s.wallets.SystemAccountIn(ctx, x, walletCur, store.RoleExternal)
		if err != nil {
			return out{}, err
		}
		reqs := []ledger.TransferRequest{{
			Key: "payment:" + ref + ":credit", DebitAccountID: ext, CreditAccountID: w.AccountID,
			Amount: net.Amount, Pending: p.Confirm,
		}}
		if tax.Amount > 0 {
			taxAcct, err := s.wallets.SystemAccountIn(ctx, x, walletCur, store.RoleTax)
			if err != nil {
				return out{}, err
			}
			reqs = append(reqs, ledger.TransferRequest{
				Key: "payment:" + ref + ":tax", DebitAccountID: ext, CreditAccountID: taxAcct,
				Amount: tax.Amount, Pending: p.Confirm,
			})
		}
		if net.Amount <= 0 {
			return out{}, invalid("amount", "the amount converts to nothing in %s", walletCur)
		}
		res, err := x.Transfer(reqs...)
		if err != nil {
			return out{}, err
		}
		for _, r := range res {
			if r.Err != nil {
				return out{}, r.Err
			}
		}
		pay := store.Payment{
			MerchantID: p.MerchantID, CustomerID: p.CustomerID, Source: p.Source, Transaction: p.Transaction,
			Currency: p.Currency, Amount: split.Net, Tax: split.Tax, Gross: split.Gross,
			TaxRate: taxRate.String(), TaxIncluded: p.TaxIncluded,
			WalletCurrency: walletCur, Rate: net.Rate.String(), Credited: net.Amount, TaxCredited: tax.Amount,
			WalletID: w.ID, CreditTransferID: res[0].Transfer.ID,
			PaymentType: p.PaymentType, PayerEmail: p.PayerEmail, Comments: p.Comments, Username: p.Username,
			Status: store.PaymentCompleted, CreatedAt: x.Now(),
		}
		if len(res) > 1 {
			pay.TaxTransferID = res[1].Transfer.ID
		}
		if p.Confirm {
			pay.Status = store.PaymentPending
		}
		if err := tx.InsertPayment(ctx, &pay); err != nil {
			return out{}, err
		}
		x.Emit(eventOf("payment.created", pay))
		return out{pay, false}, nil
	})
	return o.p, o.replayed, err
}

// Confirm posts a pending payment's holds: the wallet is credited, once.
func (s *Service) Confirm(ctx context.Context, merchantID, id int64, by string) (store.Payment, error) {
	return s.decide(ctx, merchantID, id, by, true)
}

// Reject voids a pending payment's holds.
func (s *Service) Reject(ctx context.Context, merchantID, id int64, by string) (store.Payment, error) {
	return s.decide(ctx, merchantID, id, by, false)
}

func (s *Service) decide(ctx context.Context, merchantID, id int64, by string, confirm bool) (store.Payment, error) {
	return ledger.Do(ctx, s.eng, merchantID, func(ctx context.Context, x *ledger.Exec) (store.Payment, error) {
		tx := x.Tx()
		p, err := tx.LockPayment(ctx, merchantID, id)
		if errors.Is(err, store.ErrNotFound) {
			return p, ErrPaymentNotFound
		} else if err != nil {
			return p, err
		}
		switch p.Status {
		case store.PaymentConfirmed:
			return p, ErrAlreadyConfirmed
		case store.PaymentRejected:
			return p, ErrAlreadyRejected
		case store.PaymentCompleted:
			return p, ErrNotPending
		}
		verb, status := "void", store.PaymentRejected
		if confirm {
			verb, status = "post", store.PaymentConfirmed
		}
		var reqs []ledger.TransferRequest
		for _, tid := range []int64{p.CreditTransferID, p.TaxTransferID} {
			if tid == 0 {
				continue
			}
			r := ledger.TransferRequest{Key: fmt.Sprintf("payment:%d:%s:%d", p.ID, verb, tid)}
			if confirm {
				r.PostPendingID = tid
			} else {
				r.VoidPendingID = tid
			}
			reqs = append(reqs, r)
		}
		res, err := x.Transfer(reqs...)
		if err != nil {
			return p, err
		}
		for _, r := range res {
			if r.Err != nil {
				return p, r.Err
			}
		}
		now := x.Now()
		if err := tx.DecidePayment(ctx, p.ID, status, now, by); err != nil {
			return p, err
		}
		p.Status, p.DecidedAt, p.DecidedBy = status, &now, by
		x.Emit(eventOf("payment."+status, p))
		return p, nil
	})
}

// Get reads a payment.
func (s *Service) Get(ctx context.Context, merchantID, id int64) (store.Payment, error) {
	p, err := s.st.Payment(ctx, merchantID, id)
	if errors.Is(err, store.ErrNotFound) {
		return p, ErrPaymentNotFound
	}
	return p, err
}

// List lists payments (the confirmation queue is Status pending).
func (s *Service) List(ctx context.Context, f store.PaymentFilter) ([]store.Payment, error) {
	return s.st.Payments(ctx, f)
}

func eventOf(typ string, p store.Payment) store.Event {
	scale, _ := money.CurrencyScale(p.Currency)
	wscale, _ := money.CurrencyScale(p.WalletCurrency)
	body, _ := json.Marshal(map[string]any{
		"payment_id": p.ID, "customer_id": p.CustomerID, "status": p.Status, "transaction": p.Transaction,
		"currency": p.Currency, "amount": money.Format(p.Amount, scale), "tax": money.Format(p.Tax, scale),
		"gross": money.Format(p.Gross, scale), "wallet_id": p.WalletID, "wallet_currency": p.WalletCurrency,
		"credited": money.Format(p.Credited, wscale), "rate": p.Rate, "source": p.Source,
	})
	return store.Event{Type: typ, Subject: "payment:" + strconv.FormatInt(p.ID, 10), Payload: body}
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
