// Package deposit runs deposits paid outside Coffer into accounts the
// operator controls (Paykassma's flow, DIALECTS.md §5): payee details
// handed out per merchant and wallet type, deposit requests, the incoming
// external transactions that actually arrived, and payers' claims
// (activations) matched against them.
//
// An activation (a claim of a provider transaction number, key1) ends as:
//   - credited ("ok"): the incoming transaction is there, final, with the
//     same amount and currency, and no one claimed it before: the customer's
//     wallet is credited by a ledger transfer from the merchant's external
//     account, keyed by the incoming transaction, so it can never be
//     credited twice;
//   - pending: matched, but the incoming transaction is not final yet or
//     its amount is above the operator's hold threshold; it is credited
//     when it becomes final (or an operator matches it);
//   - possible: no such incoming transaction yet; when it arrives it is
//     matched automatically, or an operator matches or rejects the claim;
//   - an error (Paykassma "fail"): nothing is recorded.
//
// The merchant's custom_transaction_id is the idempotency key: the same id
// with the same claim answers the stored outcome and credits nothing more.
// Every credit and rejection emits an outbox event, with a Paykassma
// postback target when the merchant has a postback URL.
package deposit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/notify"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// Errors, compared with errors.Is (by code).
var (
	ErrUnknownWalletType = &ledger.Error{Kind: ledger.KindInvalid, Code: "unknown_wallet_type", Message: "unknown wallet type"}
	ErrUnknownCurrency   = &ledger.Error{Kind: ledger.KindInvalid, Code: "unknown_currency", Message: "the currency is not available for this wallet type"}
	ErrNoPayee           = &ledger.Error{Kind: ledger.KindNotFound, Code: "no_payee", Message: "no payee details are available for this wallet type and currency"}
	ErrAmountMismatch    = &ledger.Error{Kind: ledger.KindInvalid, Code: "amount_mismatch", Message: "the amount or currency does not match the transaction"}
	ErrKeyUsed           = &ledger.Error{Kind: ledger.KindConflict, Code: "transaction_already_activated", Message: "this transaction was already activated"}
	ErrCustomIDUsed      = &ledger.Error{Kind: ledger.KindConflict, Code: "custom_transaction_id_used", Message: "custom_transaction_id was used for another activation"}
	ErrIncomingConflict  = &ledger.Error{Kind: ledger.KindConflict, Code: "incoming_conflict", Message: "this transaction number was recorded with other details"}
	ErrIncomingNotFound  = &ledger.Error{Kind: ledger.KindNotFound, Code: "incoming_not_found", Message: "no incoming transaction with this number"}
	ErrClaimNotFound     = &ledger.Error{Kind: ledger.KindNotFound, Code: "claim_not_found", Message: "deposit claim not found"}
	ErrClaimDecided      = &ledger.Error{Kind: ledger.KindConflict, Code: "claim_decided", Message: "the deposit claim was already credited or rejected"}
	ErrPayeeExists       = &ledger.Error{Kind: ledger.KindConflict, Code: "payee_exists", Message: "these payee details exist already"}
)

func invalid(field, format string, args ...any) *ledger.Error {
	return &ledger.Error{Kind: ledger.KindInvalid, Code: "invalid_request", Field: field, Message: fmt.Sprintf(format, args...)}
}

// Options configure the service.
type Options struct {
	// PostbackURL returns the merchant's Paykassma postback URL ("" none).
	// Nil sends no postbacks.
	PostbackURL func(ctx context.Context, merchantID int64) (string, error)
	// HoldAbove holds (pending, for an operator) matched claims whose
	// amount is above the threshold, per currency, in minor units.
	HoldAbove map[string]int64
}

// Service runs deposits.
type Service struct {
	eng     *ledger.Engine
	st      store.Store
	wallets *wallet.Service
	opt     Options
}

// New returns a deposit service.
func New(eng *ledger.Engine, wallets *wallet.Service, opt Options) *Service {
	return &Service{eng: eng, st: eng.Store(), wallets: wallets, opt: opt}
}

// Limits of the text fields (Paykassma's where it has them).
const (
	MaxWalletType = 32
	MaxLabel      = 190
	MaxKey1       = 11
	MaxCustomID   = 190
	MaxIdentifier = 190
	// MaxIncomingKey bounds recorded transaction numbers (longer than a
	// payer can claim through Paykassma, for other providers' ids).
	MaxIncomingKey = 64
)

func validWalletType(s string) bool {
	if s == "" || len(s) > MaxWalletType {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func parseAmount(field, s, currency string) (int64, error) {
	scale, ok := money.CurrencyScale(currency)
	if !ok {
		return 0, ErrUnknownCurrency
	}
	v, err := money.ParsePositive(s, scale)
	if err != nil {
		return 0, invalid(field, "%s %q is not a positive amount of %s", field, s, currency)
	}
	return v, nil
}

// --- payees ---

// PayeeParams describe payee details.
type PayeeParams struct {
	MerchantID int64
	WalletType string
	Identifier string
	Currency   string
	MinAmount  string // decimal, "" none
	MaxAmount  string // decimal, "" none
}

// AddPayee records payee details.
func (s *Service) AddPayee(ctx context.Context, p PayeeParams) (store.Payee, error) {
	if !validWalletType(p.WalletType) {
		return store.Payee{}, invalid("wallet_type", "wallet_type must be 1 to %d lowercase letters, digits, _ or -", MaxWalletType)
	}
	if p.Identifier == "" || len(p.Identifier) > MaxIdentifier {
		return store.Payee{}, invalid("identifier", "identifier must be 1 to %d characters", MaxIdentifier)
	}
	if _, ok := money.CurrencyScale(p.Currency); !ok {
		return store.Payee{}, ErrUnknownCurrency
	}
	var lim [2]int64
	for i, a := range []string{p.MinAmount, p.MaxAmount} {
		if a == "" {
			continue
		}
		v, err := parseAmount([]string{"min_amount", "max_amount"}[i], a, p.Currency)
		if err != nil {
			return store.Payee{}, err
		}
		lim[i] = v
	}
	if lim[1] != 0 && lim[0] > lim[1] {
		return store.Payee{}, invalid("max_amount", "max_amount is below min_amount")
	}
	return ledger.Do(ctx, s.eng, p.MerchantID, func(ctx context.Context, x *ledger.Exec) (store.Payee, error) {
		py := store.Payee{MerchantID: p.MerchantID, WalletType: p.WalletType, Identifier: p.Identifier, Currency: p.Currency,
			MinAmount: lim[0], MaxAmount: lim[1], Active: true, CreatedAt: x.Now()}
		err := x.Tx().InsertPayee(ctx, &py)
		if errors.Is(err, store.ErrConflict) {
			return py, ErrPayeeExists
		}
		return py, err
	})
}

// Payees lists a merchant's payee details of a wallet type ("" all).
func (s *Service) Payees(ctx context.Context, merchantID int64, walletType string) ([]store.Payee, error) {
	return s.st.Payees(ctx, merchantID, walletType)
}

// checkType checks that the merchant has payees of a wallet type and, if
// currency is not "", in that currency.
func (s *Service) checkType(ctx context.Context, merchantID int64, walletType, currency string) error {
	if !validWalletType(walletType) {
		return ErrUnknownWalletType
	}
	ps, err := s.st.Payees(ctx, merchantID, walletType)
	if err != nil {
		return err
	}
	if len(ps) == 0 {
		return ErrUnknownWalletType
	}
	for _, p := range ps {
		if currency == "" || p.Currency == currency {
			return nil
		}
	}
	return ErrUnknownCurrency
}

// --- deposit requests ---

// CreateParams ask for payee details for a customer.
type CreateParams struct {
	MerchantID int64
	WalletType string
	Currency   string
	Label      string // the customer's label
}

// Create hands out payee details (the least recently used active payee of
// the wallet type and currency) and records a deposit request.
func (s *Service) Create(ctx context.Context, p CreateParams) (store.Payee, store.DepositRequest, error) {
	if err := s.checkType(ctx, p.MerchantID, p.WalletType, p.Currency); err != nil {
		return store.Payee{}, store.DepositRequest{}, err
	}
	if p.Label == "" || len(p.Label) > MaxLabel {
		return store.Payee{}, store.DepositRequest{}, invalid("label", "label must be 1 to %d characters", MaxLabel)
	}
	cust, err := s.wallets.CustomerByLabel(ctx, p.MerchantID, p.Label)
	if err != nil {
		return store.Payee{}, store.DepositRequest{}, err
	}
	type out struct {
		p store.Payee
		r store.DepositRequest
	}
	o, err := ledger.Do(ctx, s.eng, p.MerchantID, func(ctx context.Context, x *ledger.Exec) (out, error) {
		now := x.Now()
		py, err := x.Tx().NextPayee(ctx, p.MerchantID, p.WalletType, p.Currency, now)
		if errors.Is(err, store.ErrNotFound) {
			return out{}, ErrNoPayee
		} else if err != nil {
			return out{}, err
		}
		r := store.DepositRequest{MerchantID: p.MerchantID, CustomerID: cust.ID, Label: p.Label, WalletType: p.WalletType,
			Currency: p.Currency, PayeeID: py.ID, CreatedAt: now}
		if err := x.Tx().InsertDepositRequest(ctx, &r); err != nil {
			return out{}, err
		}
		return out{py, r}, nil
	})
	return o.p, o.r, err
}

// --- activation ---

// ActivateParams are a payer's claim of a transaction number.
type ActivateParams struct {
	MerchantID int64
	WalletType string
	Currency   string
	Label      string
	Key1       string
	Amount     string // decimal, in Currency
	CustomID   string // custom_transaction_id: the idempotency key
}

// Activation is the outcome of Activate: the claim, whose Status is
// ClaimCredited, ClaimPending or ClaimPossible (or ClaimRejected when a
// replay finds the claim rejected since).
type Activation struct {
	Claim    store.DepositClaim
	Replayed bool
}

// Activate matches a payer's claim against the incoming transactions.
func (s *Service) Activate(ctx context.Context, p ActivateParams) (Activation, error) {
	if err := s.checkType(ctx, p.MerchantID, p.WalletType, p.Currency); err != nil {
		return Activation{}, err
	}
	switch {
	case p.Label == "" || len(p.Label) > MaxLabel:
		return Activation{}, invalid("label", "label must be 1 to %d characters", MaxLabel)
	case p.Key1 == "" || len(p.Key1) > MaxKey1:
		return Activation{}, invalid("key1", "key1 must be 1 to %d characters", MaxKey1)
	case p.CustomID == "" || len(p.CustomID) > MaxCustomID:
		return Activation{}, invalid("custom_transaction_id", "custom_transaction_id must be 1 to %d characters", MaxCustomID)
	}
	amount, err := parseAmount("amount", p.Amount, p.Currency)
	if err != nil {
		return Activation{}, err
	}
	cust, err := s.wallets.CustomerByLabel(ctx, p.MerchantID, p.Label)
	if err != nil {
		return Activation{}, err
	}
	asset, err := s.eng.Asset(ctx, p.Currency)
	if err != nil {
		return Activation{}, err
	}
	postback, err := s.postbackURL(ctx, p.MerchantID)
	if err != nil {
		return Activation{}, err
	}
	return ledger.Do(ctx, s.eng, p.MerchantID, func(ctx context.Context, x *ledger.Exec) (Activation, error) {
		tx := x.Tx()
		old, err := tx.ClaimByCustomID(ctx, p.MerchantID, p.CustomID)
		if err == nil {
			if old.Key1 != p.Key1 || old.Amount != amount || old.Currency != p.Currency || old.WalletType != p.WalletType || old.Label != p.Label {
				return Activation{}, ErrCustomIDUsed
			}
			return Activation{old, true}, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return Activation{}, err
		}
		c := store.DepositClaim{MerchantID: p.MerchantID, CustomID: p.CustomID, CustomerID: cust.ID, Label: p.Label,
			WalletType: p.WalletType, Key1: p.Key1, Currency: p.Currency, Amount: amount, Status: store.ClaimPossible, CreatedAt: x.Now()}
		in, err := tx.LockIncoming(ctx, p.MerchantID, p.WalletType, p.Key1)
		if errors.Is(err, store.ErrNotFound) {
			if err := tx.InsertClaim(ctx, &c); err != nil {
				return Activation{}, err
			}
			x.Emit(claimEvent("deposit.possible", c))
			return Activation{Claim: c}, nil
		} else if err != nil {
			return Activation{}, err
		}
		if in.ClaimID != 0 {
			return Activation{}, ErrKeyUsed
		}
		if in.Amount != amount || in.Currency != p.Currency {
			return Activation{}, ErrAmountMismatch
		}
		c.Status, c.IncomingID = store.ClaimPending, in.ID
		if err := tx.InsertClaim(ctx, &c); err != nil {
			return Activation{}, err
		}
		if err := s.settle(ctx, x, &c, &in, asset, postback, "auto"); err != nil {
			return Activation{}, err
		}
		return Activation{Claim: c}, nil
	})
}

func (s *Service) postbackURL(ctx context.Context, merchantID int64) (string, error) {
	if s.opt.PostbackURL == nil {
		return "", nil
	}
	return s.opt.PostbackURL(ctx, merchantID)
}

func (s *Service) held(c store.DepositClaim) bool {
	lim, ok := s.opt.HoldAbove[c.Currency]
	return ok && c.Amount > lim
}

// settle links a claim (inserted already) with its incoming transaction
// and credits it when the transaction is final and not held; otherwise it
// leaves the claim pending.
func (s *Service) settle(ctx context.Context, x *ledger.Exec, c *store.DepositClaim, in *store.Incoming, asset store.Asset, postback, by string) error {
	if in.ClaimID != c.ID {
		in.ClaimID = c.ID
		if err := x.Tx().UpdateIncoming(ctx, *in); err != nil {
			return err
		}
	}
	c.IncomingID = in.ID
	if !in.Final || (by == "auto" && s.held(*c)) {
		c.Status = store.ClaimPending
		if err := x.Tx().UpdateClaim(ctx, *c); err != nil {
			return err
		}
		x.Emit(claimEvent("deposit.pending", *c))
		return nil
	}
	return s.credit(ctx, x, c, in, asset, postback, by)
}

// credit moves the incoming transaction's amount into the customer's
// wallet, once per incoming transaction (the transfer's key is its id).
func (s *Service) credit(ctx context.Context, x *ledger.Exec, c *store.DepositClaim, in *store.Incoming, asset store.Asset, postback, by string) error {
	w, err := s.wallets.WalletIn(ctx, x, c.CustomerID, asset)
	if err != nil {
		return err
	}
	if w.Status != store.WalletActive {
		return wallet.ErrWalletInactive
	}
	ext, err := s.wallets.SystemAccountIn(ctx, x, in.Currency, store.RoleExternal)
	if err != nil {
		return err
	}
	res, err := x.Transfer(ledger.TransferRequest{
		Key:            "deposit:" + strconv.FormatInt(in.ID, 10) + ":credit",
		DebitAccountID: ext, CreditAccountID: w.AccountID, Amount: in.Amount,
	})
	if err != nil {
		return err
	}
	if res[0].Err != nil {
		return res[0].Err
	}
	now := x.Now()
	c.Status, c.IncomingID, c.WalletID, c.TransferID = store.ClaimCredited, in.ID, w.ID, res[0].Transfer.ID
	c.DecidedAt, c.DecidedBy = &now, by
	if err := x.Tx().UpdateClaim(ctx, *c); err != nil {
		return err
	}
	// The claim keeps the amount claimed (its idempotency check compares
	// it); the event and the postback carry the amount credited, which an
	// operator's match may have taken from another transaction.
	credited := *c
	credited.Amount = in.Amount
	return s.emit(ctx, x, "deposit.credited", credited, postback)
}

func (s *Service) emit(ctx context.Context, x *ledger.Exec, typ string, c store.DepositClaim, postback string) error {
	ev := claimEvent(typ, c)
	if postback == "" {
		x.Emit(ev)
		return nil
	}
	return notify.Emit(ctx, x, ev, store.Target{Format: store.FormatPaykassma, URL: postback, Data: PostbackData(c)})
}

// PostbackData is the Paykassma postback transaction of a claim, fields in
// the order they are sent (notify.Paykassma encodes and signs it).
func PostbackData(c store.DepositClaim) []byte {
	status := "Success"
	if c.Status == store.ClaimRejected {
		status = "Rejected"
	}
	scale, _ := money.CurrencyScale(c.Currency)
	activated := c.CreatedAt
	if c.DecidedAt != nil {
		activated = *c.DecidedAt
	}
	b, _ := json.Marshal(struct {
		OrderID      string `json:"order_id"`
		Status       string `json:"status"`
		Amount       string `json:"amount"`
		Currency     string `json:"currency"`
		System       string `json:"payment_system"`
		CustomID     string `json:"custom_transaction_id"`
		CustomUserID string `json:"custom_user_id"`
		CreatedAt    int64  `json:"created_at"`
		ActivatedAt  int64  `json:"activated_at"`
	}{strconv.FormatInt(c.ID, 10), status, money.Format(c.Amount, scale), c.Currency, c.WalletType, c.CustomID, c.Label,
		c.CreatedAt.Unix(), activated.Unix()})
	return b
}

func claimEvent(typ string, c store.DepositClaim) store.Event {
	scale, _ := money.CurrencyScale(c.Currency)
	body, _ := json.Marshal(map[string]any{
		"claim_id": c.ID, "custom_transaction_id": c.CustomID, "customer_id": c.CustomerID, "label": c.Label,
		"wallet_type": c.WalletType, "key1": c.Key1, "currency": c.Currency, "amount": money.Format(c.Amount, scale),
		"status": c.Status, "wallet_id": c.WalletID, "transfer_id": c.TransferID,
	})
	return store.Event{Type: typ, Subject: "deposit:" + strconv.FormatInt(c.ID, 10), Payload: body}
}

// --- incoming transactions ---

// IncomingParams describe an external transaction that arrived.
type IncomingParams struct {
	MerchantID int64
	WalletType string
	Key1       string
	Amount     string // decimal, in Currency
	Currency   string
	Payee      string
	OccurredAt time.Time // zero: now
	Final      bool
	Source     string // "api", "cli", "csv", "provider", "test"
}

// Recorded is the outcome of RecordIncoming: the transaction, the claim it
// settled or matched now (nil none) and whether it was recorded before.
type Recorded struct {
	Incoming store.Incoming
	Claim    *store.DepositClaim
	Replayed bool
}

// RecordIncoming records an incoming transaction (idempotent by key1), or
// marks a recorded one final. A possible claim of the same key, amount and
// currency is matched (and credited when final); a pending claim is
// credited when its transaction becomes final.
func (s *Service) RecordIncoming(ctx context.Context, p IncomingParams) (Recorded, error) {
	if err := checkIncoming(p); err != nil {
		return Recorded{}, err
	}
	amount, err := parseAmount("amount", p.Amount, p.Currency)
	if err != nil {
		return Recorded{}, err
	}
	asset, err := s.eng.Asset(ctx, p.Currency)
	if err != nil {
		return Recorded{}, err
	}
	postback, err := s.postbackURL(ctx, p.MerchantID)
	if err != nil {
		return Recorded{}, err
	}
	return ledger.Do(ctx, s.eng, p.MerchantID, func(ctx context.Context, x *ledger.Exec) (Recorded, error) {
		tx := x.Tx()
		in, err := tx.LockIncoming(ctx, p.MerchantID, p.WalletType, p.Key1)
		if err == nil {
			if in.Amount != amount || in.Currency != p.Currency || (p.Payee != "" && in.Payee != p.Payee) {
				return Recorded{}, ErrIncomingConflict
			}
			out := Recorded{Incoming: in, Replayed: true}
			if in.Final || !p.Final {
				return out, nil
			}
			in.Final = true
			if err := tx.UpdateIncoming(ctx, in); err != nil {
				return Recorded{}, err
			}
			out.Incoming = in
			if in.ClaimID == 0 {
				return out, nil
			}
			c, err := tx.LockClaim(ctx, p.MerchantID, in.ClaimID)
			if err != nil {
				return Recorded{}, err
			}
			if c.Status == store.ClaimPending {
				if err := s.settle(ctx, x, &c, &in, asset, postback, "auto"); err != nil {
					return Recorded{}, err
				}
				out.Claim = &c
			}
			return out, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return Recorded{}, err
		}
		at := p.OccurredAt
		if at.IsZero() {
			at = x.Now()
		}
		in = store.Incoming{MerchantID: p.MerchantID, WalletType: p.WalletType, Key1: p.Key1, Amount: amount, Currency: p.Currency,
			Payee: p.Payee, OccurredAt: at.UTC().Truncate(time.Microsecond), Final: p.Final, Source: p.Source, CreatedAt: x.Now()}
		if err := tx.InsertIncoming(ctx, &in); err != nil {
			return Recorded{}, err
		}
		out := Recorded{Incoming: in}
		cs, err := tx.PossibleClaims(ctx, p.MerchantID, p.WalletType, p.Key1)
		if err != nil {
			return Recorded{}, err
		}
		for _, c := range cs {
			if c.Amount != amount || c.Currency != p.Currency {
				continue
			}
			if err := s.settle(ctx, x, &c, &in, asset, postback, "auto"); err != nil {
				return Recorded{}, err
			}
			out.Incoming, out.Claim = in, &c
			break
		}
		return out, nil
	})
}

// checkIncoming checks an incoming transaction's parameters.
func checkIncoming(p IncomingParams) error {
	if !validWalletType(p.WalletType) {
		return ErrUnknownWalletType
	}
	if p.Key1 == "" || len(p.Key1) > MaxIncomingKey {
		return invalid("key1", "key1 must be 1 to %d characters", MaxIncomingKey)
	}
	if len(p.Payee) > MaxIdentifier || len(p.Source) > 32 {
		return invalid("", "a text parameter is too long")
	}
	_, err := parseAmount("amount", p.Amount, p.Currency)
	return err
}

// --- review ---

// Claim reads a claim.
func (s *Service) Claim(ctx context.Context, merchantID, id int64) (store.DepositClaim, error) {
	c, err := s.st.DepositClaim(ctx, merchantID, id)
	if errors.Is(err, store.ErrNotFound) {
		return c, ErrClaimNotFound
	}
	return c, err
}

// Claims lists claims (the review queue is Status possible or pending).
func (s *Service) Claims(ctx context.Context, f store.ClaimFilter) ([]store.DepositClaim, error) {
	return s.st.DepositClaims(ctx, f)
}

// Match credits a possible or pending claim by an operator's decision,
// with the incoming transaction key1 ("" the claim's own). The amount
// credited is the incoming transaction's (its currency must be the
// claim's); an incoming transaction claimed by another claim is
// ErrKeyUsed. A pending claim is credited even if not final or held.
func (s *Service) Match(ctx context.Context, merchantID, claimID int64, key1, by string) (store.DepositClaim, error) {
	c0, err := s.Claim(ctx, merchantID, claimID)
	if err != nil {
		return c0, err
	}
	asset, err := s.eng.Asset(ctx, c0.Currency)
	if err != nil {
		return c0, err
	}
	postback, err := s.postbackURL(ctx, merchantID)
	if err != nil {
		return c0, err
	}
	return ledger.Do(ctx, s.eng, merchantID, func(ctx context.Context, x *ledger.Exec) (store.DepositClaim, error) {
		tx := x.Tx()
		c, err := tx.LockClaim(ctx, merchantID, claimID)
		if errors.Is(err, store.ErrNotFound) {
			return c, ErrClaimNotFound
		} else if err != nil {
			return c, err
		}
		if c.Status != store.ClaimPossible && c.Status != store.ClaimPending {
			return c, ErrClaimDecided
		}
		k := key1
		if k == "" {
			k = c.Key1
		} else if c.Status == store.ClaimPending && k != c.Key1 {
			return c, invalid("key1", "a pending claim is matched with its own transaction")
		}
		in, err := tx.LockIncoming(ctx, merchantID, c.WalletType, k)
		if errors.Is(err, store.ErrNotFound) {
			return c, ErrIncomingNotFound
		} else if err != nil {
			return c, err
		}
		if in.ClaimID != 0 && in.ClaimID != c.ID {
			return c, ErrKeyUsed
		}
		if in.Currency != c.Currency {
			return c, ErrAmountMismatch
		}
		in.Final = true
		in.ClaimID = c.ID
		if err := tx.UpdateIncoming(ctx, in); err != nil {
			return c, err
		}
		if err := s.credit(ctx, x, &c, &in, asset, postback, by); err != nil {
			return c, err
		}
		return c, nil
	})
}

// Reject rejects a possible or pending claim; a pending claim's incoming
// transaction is freed for another claim. The merchant gets a Rejected
// postback.
func (s *Service) Reject(ctx context.Context, merchantID, claimID int64, by string) (store.DepositClaim, error) {
	postback, err := s.postbackURL(ctx, merchantID)
	if err != nil {
		return store.DepositClaim{}, err
	}
	return ledger.Do(ctx, s.eng, merchantID, func(ctx context.Context, x *ledger.Exec) (store.DepositClaim, error) {
		tx := x.Tx()
		c, err := tx.LockClaim(ctx, merchantID, claimID)
		if errors.Is(err, store.ErrNotFound) {
			return c, ErrClaimNotFound
		} else if err != nil {
			return c, err
		}
		if c.Status != store.ClaimPossible && c.Status != store.ClaimPending {
			return c, ErrClaimDecided
		}
		if c.IncomingID != 0 {
			in, err := tx.LockIncoming(ctx, merchantID, c.WalletType, c.Key1)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return c, err
			}
			if err == nil && in.ClaimID == c.ID {
				in.ClaimID = 0
				if err := tx.UpdateIncoming(ctx, in); err != nil {
					return c, err
				}
			}
		}
		now := x.Now()
		c.Status, c.IncomingID, c.DecidedAt, c.DecidedBy = store.ClaimRejected, 0, &now, by
		if err := tx.UpdateClaim(ctx, c); err != nil {
			return c, err
		}
		return c, s.emit(ctx, x, "deposit.rejected", c, postback)
	})
}
