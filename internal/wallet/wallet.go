// Package wallet holds merchants' customers, their wallets (a customer's
// ledger account for one asset), the merchant's points asset and system
// accounts (mint, revenue, external, tax), and the movements the dialects
// need: charge (issue or burn), withdraw, deposit, has-enough, balance.
//
// Every write runs as one ledger operation (ledger.Do): a wallet row and
// its ledger account, or a customer and its wallets, commit together.
// Failures are *ledger.Error values with stable codes (wallet_not_found,
// wallet_inactive, insufficient_funds, …), so that a dialect adapter only
// maps codes to its own messages.
package wallet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/store"
)

// Errors, compared with errors.Is (by code).
var (
	ErrCustomerNotFound = &ledger.Error{Kind: ledger.KindNotFound, Code: "customer_not_found", Message: "customer not found"}
	ErrCustomerExists   = &ledger.Error{Kind: ledger.KindConflict, Code: "customer_exists", Message: "a customer with this id exists with other details"}
	ErrEmailTaken       = &ledger.Error{Kind: ledger.KindConflict, Code: "email_taken", Message: "another customer of the merchant has this e-mail"}
	ErrLabelTaken       = &ledger.Error{Kind: ledger.KindConflict, Code: "label_taken", Message: "another customer of the merchant has this label"}
	ErrWalletNotFound   = &ledger.Error{Kind: ledger.KindNotFound, Code: "wallet_not_found", Message: "wallet not found"}
	ErrWalletInactive   = &ledger.Error{Kind: ledger.KindInvalid, Code: "wallet_inactive", Message: "the wallet is inactive"}
)

func invalid(field, format string, args ...any) *ledger.Error {
	return &ledger.Error{Kind: ledger.KindInvalid, Code: "invalid_request", Message: fmt.Sprintf(format, args...), Field: field}
}

// Limits.
const (
	MaxEmailLen = 254
	MaxLabelLen = 190 // characters (Paykassma's label)
	// MaxTaxRate is 100 % in parts per million.
	MaxTaxRate = 1_000_000
)

// Outbox event types, written in the same transaction as the change, for
// merchants that listen for them (Options.Wants).
const (
	EventCustomerCreated = "customer.created"
	EventWalletCreated   = "wallet.created"
	EventWalletCharged   = "wallet.charged"   // points (or money) issued into a wallet
	EventWalletBurned    = "wallet.burned"    // points destroyed from a wallet
	EventWalletWithdrawn = "wallet.withdrawn" // moved from a wallet to the merchant's revenue
	EventWalletDeposited = "wallet.deposited" // money from outside credited to a wallet
)

// Options are the Service's optional dependencies.
type Options struct {
	Logger *slog.Logger     // nil discards
	Now    func() time.Time // nil is time.Now
	// Wants reports whether a merchant listens for an event type, so that
	// nobody pays for events nobody receives (notify.Subscriptions.Wants).
	// nil emits no events.
	Wants func(merchantID int64, eventType string) bool
}

// Service manages customers, wallets and points over a ledger engine (and
// the engine's store).
type Service struct {
	eng   *ledger.Engine
	st    store.Store
	log   *slog.Logger
	now   func() time.Time
	wants func(merchantID int64, eventType string) bool
}

// New returns a Service writing through eng.
func New(eng *ledger.Engine, opt Options) *Service {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Service{eng: eng, st: eng.Store(), log: opt.Logger, now: opt.Now, wants: opt.Wants}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// --- customers ---

// CustomerParams describe a customer to create.
type CustomerParams struct {
	ID       int64  // chosen by the merchant's client; positive
	Email    string // optional; compared and stored lowercased
	Label    string // optional external label, at most 190 characters
	Currency string // optional default currency (an asset code)
	OwnerID  int64  // optional: the merchant user (reseller) that owns it
	TaxRate  *int64 // optional, parts per million (see ParseTaxRate)
	// Wallets lists assets to open wallets in, in the same operation; ""
	// is the merchant's points.
	Wallets []string
}

// CustomerResult is a customer and the wallets asked for.
type CustomerResult struct {
	Customer store.Customer
	Wallets  []store.Wallet
	// Created is false when the customer existed with the same details
	// (creating a customer is idempotent by its id).
	Created bool
}

// CreateCustomer creates a customer, with wallets in the given assets, in
// one operation. Creating a customer that exists with the same details
// answers it (Created false) and opens the wallets it lacks; with other
// details it is ErrCustomerExists. An e-mail or label another customer has
// is ErrEmailTaken or ErrLabelTaken.
func (s *Service) CreateCustomer(ctx context.Context, merchantID int64, p CustomerParams) (CustomerResult, error) {
	want, err := s.checkCustomer(ctx, merchantID, p)
	if err != nil {
		return CustomerResult{}, err
	}
	assets := make([]store.Asset, 0, len(p.Wallets))
	for _, code := range p.Wallets {
		a, err := s.resolveAsset(ctx, merchantID, code)
		if err != nil {
			return CustomerResult{}, err
		}
		assets = append(assets, a)
	}
	return ledger.Do(ctx, s.eng, merchantID, func(ctx context.Context, x *ledger.Exec) (CustomerResult, error) {
		tx := x.Tx()
		var out CustomerResult
		c, err := tx.TxCustomer(ctx, merchantID, want.ID)
		switch {
		case err == nil:
			if !sameCustomer(c, want) {
				return out, ErrCustomerExists
			}
		case errors.Is(err, store.ErrNotFound):
			if want.Email != "" {
				if _, err := tx.TxCustomerByEmail(ctx, merchantID, want.Email); err == nil {
					return out, ErrEmailTaken
				} else if !errors.Is(err, store.ErrNotFound) {
					return out, err
				}
			}
			if want.Label != "" {
				if _, err := tx.TxCustomerByLabel(ctx, merchantID, want.Label); err == nil {
					return out, ErrLabelTaken
				} else if !errors.Is(err, store.ErrNotFound) {
					return out, err
				}
			}
			c = want
			c.CreatedAt = x.Now()
			if err := tx.InsertCustomer(ctx, &c); err != nil {
				return out, err
			}
			out.Created = true
			s.emit(x, EventCustomerCreated, fmt.Sprintf("customer:%d", c.ID), func() map[string]any {
				return map[string]any{"customer_id": c.ID}
			})
		default:
			return out, err
		}
		out.Customer = c
		for _, a := range assets {
			w, _, err := s.openWallet(ctx, x, c.ID, a)
			if err != nil {
				return out, err
			}
			out.Wallets = append(out.Wallets, w)
		}
		return out, nil
	})
}

// checkCustomer validates p and returns the row to store.
func (s *Service) checkCustomer(ctx context.Context, merchantID int64, p CustomerParams) (store.Customer, error) {
	c := store.Customer{MerchantID: merchantID, ID: p.ID, Label: p.Label, Currency: p.Currency, OwnerID: p.OwnerID, TaxRate: p.TaxRate}
	if p.ID <= 0 {
		return c, invalid("id", "id must be a positive integer")
	}
	email, err := NormalizeEmail(p.Email)
	if err != nil {
		return c, err
	}
	c.Email = email
	if p.Label != "" && !validLabel(p.Label) {
		return c, invalid("label", "label must be at most %d characters of text, without control characters", MaxLabelLen)
	}
	if p.Currency != "" {
		if _, err := s.resolveAsset(ctx, merchantID, p.Currency); err != nil {
			le := *ledger.AsError(err)
			le.Field = "currency"
			return c, &le
		}
	}
	if p.TaxRate != nil && (*p.TaxRate < 0 || *p.TaxRate > MaxTaxRate) {
		return c, invalid("tax_rate", "tax_rate must be between 0 and 100 percent")
	}
	if p.OwnerID != 0 {
		u, err := s.st.MerchantUser(ctx, p.OwnerID)
		if errors.Is(err, store.ErrNotFound) || err == nil && u.MerchantID != merchantID {
			return c, invalid("owner", "the owner is not a user of this merchant")
		}
		if err != nil {
			return c, ledger.FromStore(err, nil)
		}
	}
	return c, nil
}

func sameCustomer(a, b store.Customer) bool {
	taxEq := (a.TaxRate == nil) == (b.TaxRate == nil) && (a.TaxRate == nil || *a.TaxRate == *b.TaxRate)
	return a.Email == b.Email && a.Label == b.Label && a.Currency == b.Currency && a.OwnerID == b.OwnerID && taxEq
}

// NormalizeEmail checks an e-mail address loosely (one @, something on each
// side, no spaces) and lowercases it. "" stays "".
func NormalizeEmail(email string) (string, error) {
	if email == "" {
		return "", nil
	}
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || len(email) > MaxEmailLen ||
		!utf8.ValidString(email) || strings.IndexFunc(email, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return "", invalid("email", "email must be an address such as name@example.com, at most %d bytes", MaxEmailLen)
	}
	return strings.ToLower(email), nil
}

func validLabel(l string) bool {
	return utf8.ValidString(l) && utf8.RuneCountInString(l) <= MaxLabelLen && strings.IndexFunc(l, unicode.IsControl) < 0
}

// Customer returns a merchant's customer.
func (s *Service) Customer(ctx context.Context, merchantID, id int64) (store.Customer, error) {
	if id <= 0 {
		return store.Customer{}, ErrCustomerNotFound
	}
	c, err := s.st.Customer(ctx, merchantID, id)
	return c, ledger.FromStore(err, ErrCustomerNotFound)
}

// CustomerByEmail finds a customer by e-mail, in any case.
func (s *Service) CustomerByEmail(ctx context.Context, merchantID int64, email string) (store.Customer, error) {
	e, err := NormalizeEmail(email)
	if err != nil || e == "" {
		return store.Customer{}, ErrCustomerNotFound
	}
	return s.first(ctx, store.CustomerFilter{MerchantID: merchantID, Email: e})
}

// CustomerByLabel finds a customer by its external label.
func (s *Service) CustomerByLabel(ctx context.Context, merchantID int64, label string) (store.Customer, error) {
	if label == "" || !validLabel(label) {
		return store.Customer{}, ErrCustomerNotFound
	}
	return s.first(ctx, store.CustomerFilter{MerchantID: merchantID, Label: label})
}

func (s *Service) first(ctx context.Context, f store.CustomerFilter) (store.Customer, error) {
	f.Limit = 1
	cs, err := s.st.Customers(ctx, f)
	if err != nil {
		return store.Customer{}, ledger.FromStore(err, nil)
	}
	if len(cs) == 0 {
		return store.Customer{}, ErrCustomerNotFound
	}
	return cs[0], nil
}

// Customers lists a merchant's customers in id order (f.MerchantID is
// set from merchantID). An e-mail filter matches in any case.
func (s *Service) Customers(ctx context.Context, merchantID int64, f store.CustomerFilter) ([]store.Customer, error) {
	f.MerchantID = merchantID
	if f.Email != "" {
		e, err := NormalizeEmail(f.Email)
		if err != nil {
			return nil, err
		}
		f.Email = e
	}
	cs, err := s.st.Customers(ctx, f)
	return cs, ledger.FromStore(err, nil)
}

// ParseTaxRate reads a tax rate given in percent ("21", "7.5", "0.0001")
// into parts per million, exactly.
func ParseTaxRate(percent string) (int64, error) {
	v, err := money.Parse(percent, 4)
	if err != nil || v < 0 || v > MaxTaxRate {
		return 0, invalid("tax_rate", "tax_rate must be a percentage from 0 to 100 with at most 4 decimals, such as \"21\" or \"7.5\"")
	}
	return v, nil
}

// FormatTaxRate writes parts per million as a percentage ("7.5").
func FormatTaxRate(ppm int64) string { return money.FormatTrim(ppm, 4) }
