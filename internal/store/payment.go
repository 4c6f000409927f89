package store

import (
	"context"
	"time"
)

// Payment states.
const (
	PaymentCompleted = "completed" // credited at once (no confirmation needed)
	PaymentPending   = "pending"   // held, waiting for an operator's confirmation
	PaymentConfirmed = "confirmed" // confirmed: the hold was posted
	PaymentRejected  = "rejected"  // rejected: the hold was voided
)

// Payment is money paid in for a customer (MOR payment_create, the native
// API): Amount in Currency, with Tax, credited to the customer's wallet in
// WalletCurrency at Rate.
type Payment struct {
	ID          int64
	MerchantID  int64
	CustomerID  int64
	Source      string // "mor", "api", …
	Transaction string // the client's id, unique per merchant; "" when none
	Currency    string // the currency the payment was made in
	Amount      int64  // net, in Currency's minor units
	Tax         int64
	Gross       int64
	TaxRate     string // percent, exact decimal text
	TaxIncluded bool
	// WalletCurrency is the currency of the wallet credited; Credited and
	// TaxCredited are Amount and Tax converted at Rate (WalletCurrency per
	// unit of Currency), each rounded half-up.
	WalletCurrency   string
	Rate             string
	Credited         int64
	TaxCredited      int64
	WalletID         int64
	CreditTransferID int64
	TaxTransferID    int64 // 0 when there was no tax
	PaymentType      string
	PayerEmail       string
	Comments         string
	Username         string // who created it (MOR u), "" from the native API
	Status           string
	CreatedAt        time.Time
	DecidedAt        *time.Time
	DecidedBy        string
}

// PaymentFilter selects payments in id order (oldest first: the
// confirmation queue's order), after AfterID.
type PaymentFilter struct {
	MerchantID int64 // 0: every merchant
	Status     string
	CustomerID int64
	AfterID    int64
	Limit      int
}

// PaymentStore reads payments.
type PaymentStore interface {
	Payment(ctx context.Context, merchantID, id int64) (Payment, error)
	Payments(ctx context.Context, f PaymentFilter) ([]Payment, error)
}

// PaymentTx writes payments inside a ledger batch.
type PaymentTx interface {
	// InsertPayment sets p.ID. A transaction id the merchant used already
	// is ErrRetry (a concurrent node won; the batch re-reads it).
	InsertPayment(ctx context.Context, p *Payment) error
	// PaymentByTransaction finds a payment by the client's id.
	PaymentByTransaction(ctx context.Context, merchantID int64, transaction string) (Payment, error)
	// LockPayment reads a payment and locks it for the rest of the batch.
	LockPayment(ctx context.Context, merchantID, id int64) (Payment, error)
	// DecidePayment records an operator's decision.
	DecidePayment(ctx context.Context, id int64, status string, at time.Time, by string) error
}
