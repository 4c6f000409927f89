// Package order keeps orders: something a customer (or an anonymous payer)
// pays for, in one or several payments, with expiry, cancellation and
// refunds. The state machine is in one function, apply (state.go), drawn in
// docs/orders.md.
//
// Every payment against an order is a ledger transfer from the merchant's
// external account (money entering from outside: a card, a bank or crypto
// transfer, a simulated payment) into the merchant's revenue account, in
// the price currency; a refund moves it back. The order row is locked (read
// inside the ledger batch) before the amounts are compared, so concurrent
// partial payments can never count more than the price.
package order

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/coffer-pay/coffer/internal/ledger"
	"github.com/coffer-pay/coffer/internal/money"
	"github.com/coffer-pay/coffer/internal/notify"
	"github.com/coffer-pay/coffer/internal/store"
	"github.com/coffer-pay/coffer/internal/wallet"
)

// Errors, compared with errors.Is (by code).
var (
	ErrNotFound        = &ledger.Error{Kind: ledger.KindNotFound, Code: "order_not_found", Message: "order not found"}
	ErrNoCurrentOrder  = &ledger.Error{Kind: ledger.KindNotFound, Code: "no_current_order", Message: "the customer has no current order"}
	ErrMerchantOrderID = &ledger.Error{Kind: ledger.KindConflict, Code: "merchant_order_id_exists", Message: "an order with this merchant order id exists"}
	ErrAmountTooBig    = &ledger.Error{Kind: ledger.KindInvalid, Code: "amount_too_big", Message: "the amount is more than the amount due"}
	ErrAlreadyPaid     = &ledger.Error{Kind: ledger.KindConflict, Code: "order_paid", Message: "the order is paid"}
	ErrExpired         = &ledger.Error{Kind: ledger.KindConflict, Code: "order_expired", Message: "the order expired"}
	ErrCancelled       = &ledger.Error{Kind: ledger.KindConflict, Code: "order_cancelled", Message: "the order was cancelled"}
	ErrNotDue          = &ledger.Error{Kind: ledger.KindConflict, Code: "order_not_due", Message: "the order has not reached its expiry"}
	ErrNotRefundable   = &ledger.Error{Kind: ledger.KindConflict, Code: "order_not_refundable", Message: "only a paid order can be refunded"}
	ErrRefundTooBig    = &ledger.Error{Kind: ledger.KindInvalid, Code: "refund_too_big", Message: "the refund is more than what was paid and not refunded"}
	ErrCurrency        = &ledger.Error{Kind: ledger.KindInvalid, Code: "currency_not_supported", Message: "currency not supported"}
	ErrPayCurrency     = &ledger.Error{Kind: ledger.KindInvalid, Code: "pay_currency_not_supported", Message: "the pay currency must be the price currency"}
)

func invalid(field, format string, args ...any) *ledger.Error {
	return &ledger.Error{Kind: ledger.KindInvalid, Code: "invalid_request", Field: field, Message: fmt.Sprintf(format, args...)}
}

// Limits of the text fields (characters).
const (
	MaxTitle       = 200
	MaxDescription = 800
	MaxURL         = 2048
	MaxID          = 128
	// DefaultTTL is how long an order takes payments: MugglePay's 60
	// minutes for crypto (WIRE-NOTES §2.3).
	DefaultTTL = 60 * time.Minute
)

// Options configure the service.
type Options struct {
	TTL time.Duration // how long a new order stays payable; 0: DefaultTTL
}

// Service creates, pays, cancels, expires and refunds orders.
type Service struct {
	eng     *ledger.Engine
	st      store.Store
	wallets *wallet.Service
	ttl     time.Duration
}

// New returns an order service.
func New(eng *ledger.Engine, wallets *wallet.Service, opt Options) *Service {
	if opt.TTL <= 0 {
		opt.TTL = DefaultTTL
	}
	return &Service{eng: eng, st: eng.Store(), wallets: wallets, ttl: opt.TTL}
}

// CreateParams describe an order.
type CreateParams struct {
	MerchantID      int64
	MerchantOrderID string // the idempotency key of creation; "" none
	CustomerID      int64  // 0: no customer
	Source          string
	PriceAmount     string // exact decimal text
	PriceCurrency   string
	PayCurrency     string // "" means PriceCurrency
	Title           string
	Description     string
	CallbackURL     string
	SuccessURL      string
	CancelURL       string
	Token           string
	Mobile, Fast    bool
	TTL             time.Duration // 0: the service's
}

// Create creates an order. A MerchantOrderID the merchant used before
// returns the existing order with ErrMerchantOrderID (MugglePay answers it
// with the order); the caller decides whether that is a success.
func (s *Service) Create(ctx context.Context, p CreateParams) (store.Order, error) {
	scale, ok := money.CurrencyScale(p.PriceCurrency)
	if !ok {
		return store.Order{}, ErrCurrency
	}
	if p.PayCurrency == "" {
		p.PayCurrency = p.PriceCurrency
	}
	if p.PayCurrency != p.PriceCurrency {
		return store.Order{}, ErrPayCurrency
	}
	price, err := money.ParsePositive(p.PriceAmount, scale)
	if err != nil {
		return store.Order{}, invalid("price_amount", "price %q is not a positive amount of %s", p.PriceAmount, p.PriceCurrency)
	}
	switch {
	case utf8.RuneCountInString(p.Title) > MaxTitle:
		return store.Order{}, invalid("title", "title is longer than %d characters", MaxTitle)
	case utf8.RuneCountInString(p.Description) > MaxDescription:
		return store.Order{}, invalid("description", "description is longer than %d characters", MaxDescription)
	case len(p.MerchantOrderID) > MaxID:
		return store.Order{}, invalid("merchant_order_id", "merchant order id is longer than %d bytes", MaxID)
	case len(p.CallbackURL) > MaxURL || len(p.SuccessURL) > MaxURL || len(p.CancelURL) > MaxURL || len(p.Token) > MaxURL:
		return store.Order{}, invalid("", "a URL or the token is too long")
	}
	if p.CustomerID != 0 {
		if _, err := s.wallets.Customer(ctx, p.MerchantID, p.CustomerID); err != nil {
			return store.Order{}, err
		}
	}
	if _, err := s.eng.Asset(ctx, p.PriceCurrency); err != nil {
		return store.Order{}, err
	}
	ttl := p.TTL
	if ttl <= 0 {
		ttl = s.ttl
	}
	publicID := NewPublicID()
	type out struct {
		o   store.Order
		dup bool
	}
	r, err := ledger.Do(ctx, s.eng, p.MerchantID, func(ctx context.Context, x *ledger.Exec) (out, error) {
		tx := x.Tx()
		if p.MerchantOrderID != "" {
			old, err := tx.OrderByMerchantOrderID(ctx, p.MerchantID, p.MerchantOrderID)
			if err == nil {
				return out{old, true}, nil
			} else if !errors.Is(err, store.ErrNotFound) {
				return out{}, err
			}
		}
		now := x.Now()
		o := store.Order{
			MerchantID: p.MerchantID, PublicID: publicID, MerchantOrderID: p.MerchantOrderID, CustomerID: p.CustomerID,
			Source: p.Source, PriceAmount: price, PriceCurrency: p.PriceCurrency, PayCurrency: p.PayCurrency,
			Title: p.Title, Description: p.Description, CallbackURL: p.CallbackURL, SuccessURL: p.SuccessURL,
			CancelURL: p.CancelURL, Token: p.Token, Mobile: p.Mobile, Fast: p.Fast,
			AmountDue: price, Status: store.OrderNew, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(ttl),
		}
		if err := tx.InsertOrder(ctx, &o); err != nil {
			return out{}, err
		}
		x.Emit(eventOf("order.created", o))
		return out{o, false}, nil
	})
	if err != nil {
		return store.Order{}, err
	}
	if r.dup {
		return r.o, ErrMerchantOrderID
	}
	return r.o, nil
}

// PayParams describe a payment against an order.
type PayParams struct {
	MerchantID int64
	OrderID    int64  // the order; 0 with CustomerID: the customer's current order
	CustomerID int64  // with OrderID 0: pay the customer's current order
	Amount     string // exact decimal text in the price currency
	// Ref is the payment's idempotency key: the same Ref again returns the
	// order without paying twice. "" makes a random one.
	Ref string
	// Strict refuses (ErrAmountTooBig, ErrAlreadyPaid, ErrExpired,
	// ErrCancelled) a payment the order cannot count in full: for callers
	// that can say no to the payer (ws.webtv add_payment, the pay page).
	// Without it the money is recorded and the part the order cannot count
	// goes to Overpaid: for money that already arrived (a matched bank
	// transfer), which must never be lost.
	Strict bool
	Meta   json.RawMessage // optional, copied into the transfer's metadata
}

// Payment is the outcome of Pay.
type Payment struct {
	Order    store.Order
	Transfer store.Transfer
	Replayed bool // the Ref was seen before: nothing new happened
}

// Pay pays (part of) an order.
func (s *Service) Pay(ctx context.Context, p PayParams) (Payment, error) {
	if p.OrderID == 0 && p.CustomerID == 0 {
		return Payment{}, invalid("order_id", "an order or a customer is required")
	}
	if len(p.Ref) > MaxID {
		return Payment{}, invalid("ref", "reference is longer than %d bytes", MaxID)
	}
	ref := p.Ref
	if ref == "" {
		ref = "auto-" + NewPublicID()
	}
	return ledger.Do(ctx, s.eng, p.MerchantID, func(ctx context.Context, x *ledger.Exec) (Payment, error) {
		tx := x.Tx()
		now := x.Now()
		var o store.Order
		var err error
		if p.OrderID != 0 {
			o, err = tx.LockOrder(ctx, p.MerchantID, p.OrderID)
			if errors.Is(err, store.ErrNotFound) {
				return Payment{}, ErrNotFound
			}
		} else {
			o, err = tx.LockCurrentOrder(ctx, p.MerchantID, p.CustomerID, now)
			if errors.Is(err, store.ErrNotFound) {
				return Payment{}, ErrNoCurrentOrder
			}
		}
		if err != nil {
			return Payment{}, err
		}
		scale, _ := money.CurrencyScale(o.PriceCurrency)
		amount, err := money.ParsePositive(p.Amount, scale)
		if err != nil {
			return Payment{}, invalid("amount", "amount %q is not a positive amount of %s", p.Amount, o.PriceCurrency)
		}
		before := o
		ext, err := s.wallets.SystemAccountIn(ctx, x, o.PriceCurrency, store.RoleExternal)
		if err != nil {
			return Payment{}, err
		}
		rev, err := s.wallets.SystemAccountIn(ctx, x, o.PriceCurrency, store.RoleRevenue)
		if err != nil {
			return Payment{}, err
		}
		meta, _ := json.Marshal(map[string]any{"order_id": o.PublicID, "order": o.ID, "ref": p.Ref, "meta": p.Meta})
		res, err := x.Transfer(ledger.TransferRequest{
			Key: "order:" + strconv.FormatInt(o.ID, 10) + ":pay:" + ref, DebitAccountID: ext, CreditAccountID: rev,
			Amount: amount, Metadata: meta,
		})
		if err != nil {
			return Payment{}, err
		}
		if res[0].Err != nil {
			return Payment{}, res[0].Err
		}
		if res[0].Replayed {
			return Payment{Order: before, Transfer: res[0].Transfer, Replayed: true}, nil
		}
		// A refusal rolls the transfer back with the rest of the operation.
		if err := apply(&o, change{kind: changePay, amount: amount, strict: p.Strict}, now); err != nil {
			return Payment{}, err
		}
		if err := s.save(ctx, x, before, o); err != nil {
			return Payment{}, err
		}
		return Payment{Order: o, Transfer: res[0].Transfer}, nil
	})
}

// Cancel cancels an open order (the payer or the merchant cancels).
func (s *Service) Cancel(ctx context.Context, merchantID, id int64) (store.Order, error) {
	return s.change(ctx, merchantID, id, change{kind: changeCancel})
}

// Expire expires an open order past its expiry.
func (s *Service) Expire(ctx context.Context, merchantID, id int64) (store.Order, error) {
	return s.change(ctx, merchantID, id, change{kind: changeExpire})
}

func (s *Service) change(ctx context.Context, merchantID, id int64, c change) (store.Order, error) {
	return ledger.Do(ctx, s.eng, merchantID, func(ctx context.Context, x *ledger.Exec) (store.Order, error) {
		o, err := x.Tx().LockOrder(ctx, merchantID, id)
		if errors.Is(err, store.ErrNotFound) {
			return o, ErrNotFound
		} else if err != nil {
			return o, err
		}
		before := o
		if err := apply(&o, c, x.Now()); err != nil {
			return o, err
		}
		return o, s.save(ctx, x, before, o)
	})
}

// Refund moves money of a paid order back out through the ledger (revenue
// → external); amount "" refunds everything not refunded yet. The order
// is REFUNDED when all it counted is refunded.
func (s *Service) Refund(ctx context.Context, merchantID, id int64, amount, ref string) (store.Order, error) {
	return ledger.Do(ctx, s.eng, merchantID, func(ctx context.Context, x *ledger.Exec) (store.Order, error) {
		tx := x.Tx()
		o, err := tx.LockOrder(ctx, merchantID, id)
		if errors.Is(err, store.ErrNotFound) {
			return o, ErrNotFound
		} else if err != nil {
			return o, err
		}
		n := o.AmountPaid - o.Refunded
		if amount != "" {
			scale, _ := money.CurrencyScale(o.PriceCurrency)
			if n, err = money.ParsePositive(amount, scale); err != nil {
				return o, invalid("amount", "amount %q is not a positive amount of %s", amount, o.PriceCurrency)
			}
		}
		before := o
		if err := apply(&o, change{kind: changeRefund, amount: n}, x.Now()); err != nil {
			return o, err
		}
		if ref == "" {
			ref = strconv.FormatInt(o.Refunded, 10)
		}
		ext, err := s.wallets.SystemAccountIn(ctx, x, o.PriceCurrency, store.RoleExternal)
		if err != nil {
			return o, err
		}
		rev, err := s.wallets.SystemAccountIn(ctx, x, o.PriceCurrency, store.RoleRevenue)
		if err != nil {
			return o, err
		}
		res, err := x.Transfer(ledger.TransferRequest{
			Key: "order:" + strconv.FormatInt(o.ID, 10) + ":refund:" + ref, DebitAccountID: rev, CreditAccountID: ext, Amount: n,
		})
		if err != nil {
			return o, err
		}
		if res[0].Err != nil {
			return o, res[0].Err
		}
		if res[0].Replayed {
			return before, nil
		}
		return o, s.save(ctx, x, before, o)
	})
}

// save writes a changed order and emits its events: "order.<status>" when
// the status changed, "order.payment" for money recorded without one. The
// change to PAID carries a MugglePay callback to CallbackURL when there is
// one (WIRE-NOTES §2.4: only PAID is called back).
func (s *Service) save(ctx context.Context, x *ledger.Exec, before, o store.Order) error {
	if err := x.Tx().UpdateOrder(ctx, &o); err != nil {
		return err
	}
	if o.Status == before.Status {
		x.Emit(eventOf("order.payment", o))
		return nil
	}
	ev := eventOf("order."+o.Status, o)
	if o.Status == store.OrderPaid && o.CallbackURL != "" {
		return notify.Emit(ctx, x, ev, store.Target{Format: store.FormatMugglePay, URL: o.CallbackURL, Data: MugglePayCallback(o)})
	}
	x.Emit(ev)
	return nil
}

// Get reads an order, with its status as of now (an open order past its
// expiry reads as expired even before Expire wrote it).
func (s *Service) Get(ctx context.Context, merchantID, id int64) (store.Order, error) {
	o, err := s.st.Order(ctx, merchantID, id)
	return s.read(o, err, merchantID)
}

// ByPublicID reads a merchant's order by its public id.
func (s *Service) ByPublicID(ctx context.Context, merchantID int64, publicID string) (store.Order, error) {
	o, err := s.st.OrderByPublicID(ctx, publicID)
	return s.read(o, err, merchantID)
}

func (s *Service) read(o store.Order, err error, merchantID int64) (store.Order, error) {
	if errors.Is(err, store.ErrNotFound) || (err == nil && merchantID != 0 && o.MerchantID != merchantID) {
		return store.Order{}, ErrNotFound
	}
	if err != nil {
		return store.Order{}, err
	}
	if open(o.Status) && !time.Now().Before(o.ExpiresAt) {
		o.Status = store.OrderExpired
	}
	return o, nil
}

// List lists orders.
func (s *Service) List(ctx context.Context, f store.OrderFilter) ([]store.Order, error) {
	return s.st.Orders(ctx, f)
}

// Format writes an amount of the order's currency as exact decimal text.
func Format(o store.Order, v int64) string {
	scale, _ := money.CurrencyScale(o.PriceCurrency)
	return money.Format(v, scale)
}

// MugglePayCallback is the data of the MugglePay callback target of an
// order (notify.MugglePayCallback's input).
func MugglePayCallback(o store.Order) []byte {
	moid, _ := json.Marshal(o.MerchantOrderID)
	cb := notify.MugglePayCallback{
		MerchantOrderID: moid, OrderID: o.PublicID, Status: "PAID",
		PriceCurrency: o.PriceCurrency, PayCurrency: o.PayCurrency,
		CreatedAt: o.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z"), CreatedAtT: o.CreatedAt.UnixMilli(),
		Token: o.Token,
	}
	b, _ := json.Marshal(cb)
	// The amounts go in as exact decimal text, never through float64.
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m["price_amount"] = Format(o, o.PriceAmount)
	m["pay_amount"] = Format(o, o.AmountPaid)
	b, _ = json.Marshal(m)
	return b
}

func eventOf(typ string, o store.Order) store.Event {
	body, _ := json.Marshal(map[string]any{
		"id": o.ID, "order_id": o.PublicID, "merchant_order_id": o.MerchantOrderID, "customer_id": o.CustomerID,
		"status": o.Status, "currency": o.PriceCurrency, "price_amount": Format(o, o.PriceAmount),
		"amount_paid": Format(o, o.AmountPaid), "amount_due": Format(o, o.AmountDue),
		"overpaid_amount": Format(o, o.Overpaid), "refunded": Format(o, o.Refunded), "source": o.Source,
	})
	return store.Event{Type: typ, Subject: "order:" + strconv.FormatInt(o.ID, 10), Payload: body}
}

// NewPublicID returns a random UUID v4 from crypto/rand.
func NewPublicID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
