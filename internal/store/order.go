package store

import (
	"context"
	"time"
)

// Order states (docs/orders.md). The MugglePay dialect maps them to its own
// names on the wire; ws.webtv's "current order" is the oldest open one.
const (
	OrderNew       = "new"       // created, nothing paid
	OrderPending   = "pending"   // partly paid
	OrderPaid      = "paid"      // amount due reached 0
	OrderExpired   = "expired"   // not paid in time
	OrderCancelled = "cancelled" // cancelled by the payer or the merchant
	OrderRefunded  = "refunded"  // paid, then refunded through the ledger
)

// Order is something a customer pays for, in one or several payments.
// Amounts are minor units of PriceCurrency.
type Order struct {
	ID              int64
	MerchantID      int64
	PublicID        string // UUID v4, the unguessable id on the wire and in URLs
	MerchantOrderID string // the merchant's id, unique per merchant; "" none
	CustomerID      int64  // 0: no customer
	Source          string // "mugglepay", "webtv", "api", …
	PriceAmount     int64
	PriceCurrency   string
	PayCurrency     string
	Title           string
	Description     string
	CallbackURL     string
	SuccessURL      string
	CancelURL       string
	Token           string // the merchant's token, echoed in callbacks
	Mobile          bool
	Fast            bool
	AmountPaid      int64 // counted towards the price (≤ PriceAmount)
	AmountDue       int64 // PriceAmount − AmountPaid
	Overpaid        int64 // received above the price or after the order closed
	Refunded        int64
	Status          string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	ExpiresAt       time.Time
	PaidAt          *time.Time
}

// OrderFilter selects orders in id order after AfterID.
type OrderFilter struct {
	MerchantID int64 // 0: every merchant
	CustomerID int64
	Status     string
	AfterID    int64
	Limit      int
}

// OrderStore reads orders.
type OrderStore interface {
	Order(ctx context.Context, merchantID, id int64) (Order, error)
	// OrderByPublicID finds an order of any merchant by its public id.
	OrderByPublicID(ctx context.Context, publicID string) (Order, error)
	Orders(ctx context.Context, f OrderFilter) ([]Order, error)
}

// OrderTx writes orders inside a ledger batch.
type OrderTx interface {
	// InsertOrder sets o.ID. A merchant order id (or public id) in use is
	// ErrRetry: a concurrent node won, the batch re-reads it.
	InsertOrder(ctx context.Context, o *Order) error
	// OrderByMerchantOrderID finds an order by the merchant's id.
	OrderByMerchantOrderID(ctx context.Context, merchantID int64, merchantOrderID string) (Order, error)
	// LockOrder reads an order and locks it for the rest of the batch.
	LockOrder(ctx context.Context, merchantID, id int64) (Order, error)
	// LockCurrentOrder reads and locks a customer's current order: the
	// oldest (lowest id) order in state new or pending whose expiry is
	// after now. ErrNotFound when there is none.
	LockCurrentOrder(ctx context.Context, merchantID, customerID int64, now time.Time) (Order, error)
	// UpdateOrder writes the mutable fields of an order: amounts, status,
	// UpdatedAt and PaidAt.
	UpdateOrder(ctx context.Context, o *Order) error
}
