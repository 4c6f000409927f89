package store

import (
	"context"
	"time"
)

// Deposit claim states (a payer's activation of a transaction number).
const (
	ClaimCredited = "credited" // matched and credited to the customer's wallet
	ClaimPending  = "pending"  // matched, waiting for the incoming transaction to become final
	ClaimPossible = "possible" // no incoming transaction yet: a possible transaction
	ClaimRejected = "rejected" // rejected by an operator
)

// Payee is an account payers pay deposits into: per merchant and wallet
// type (e.g. "wavepay"), with its identifier, currency and limits.
type Payee struct {
	ID         int64
	MerchantID int64
	WalletType string
	Identifier string // the account number / identifier shown to the payer
	Currency   string
	MinAmount  int64 // minor units; 0 none
	MaxAmount  int64 // minor units; 0 none
	Active     bool
	LastUsedAt *time.Time // when create last handed it out
	CreatedAt  time.Time
}

// DepositRequest records that a payee was handed out to a customer.
type DepositRequest struct {
	ID         int64
	MerchantID int64
	CustomerID int64
	Label      string
	WalletType string
	Currency   string
	PayeeID    int64
	CreatedAt  time.Time
}

// Incoming is an external transaction that arrived at a payee account.
type Incoming struct {
	ID         int64
	MerchantID int64
	WalletType string
	Key1       string // the provider's transaction number; unique per merchant and wallet type
	Amount     int64  // minor units of Currency
	Currency   string
	Payee      string // the payee account's identifier
	OccurredAt time.Time
	Final      bool   // false while the provider may still revert it
	ClaimID    int64  // the claim it is matched to; 0 none
	Source     string // "api", "cli", "csv", "provider", "test"
	CreatedAt  time.Time
}

// DepositClaim is a payer's activation (Paykassma activate): a claim that
// Key1 paid Amount for the customer, keyed by the merchant's CustomID.
type DepositClaim struct {
	ID         int64
	MerchantID int64
	CustomID   string // custom_transaction_id: unique per merchant
	CustomerID int64
	Label      string
	WalletType string
	Key1       string
	Currency   string
	Amount     int64 // as claimed (an operator's match may credit another transaction's amount)
	Status     string
	IncomingID int64 // 0 until matched
	WalletID   int64 // 0 until credited
	TransferID int64 // 0 until credited
	CreatedAt  time.Time
	DecidedAt  *time.Time // when credited or rejected
	DecidedBy  string     // "auto" or the operator
}

// ClaimFilter selects claims in id order after AfterID.
type ClaimFilter struct {
	MerchantID int64 // 0: every merchant
	Status     string
	AfterID    int64
	Limit      int
}

// DepositStore reads deposits.
type DepositStore interface {
	Payees(ctx context.Context, merchantID int64, walletType string) ([]Payee, error)
	DepositClaim(ctx context.Context, merchantID, id int64) (DepositClaim, error)
	DepositClaims(ctx context.Context, f ClaimFilter) ([]DepositClaim, error)
	IncomingByKey(ctx context.Context, merchantID int64, walletType, key1 string) (Incoming, error)
}

// DepositTx writes deposits inside a ledger batch.
type DepositTx interface {
	// InsertPayee sets p.ID; an identifier the merchant has for the wallet
	// type already is ErrConflict.
	InsertPayee(ctx context.Context, p *Payee) error
	// NextPayee locks and returns the active payee of a wallet type and
	// currency used least recently (never used first, then by id), and
	// marks it used at now. None is ErrNotFound.
	NextPayee(ctx context.Context, merchantID int64, walletType, currency string, now time.Time) (Payee, error)
	InsertDepositRequest(ctx context.Context, r *DepositRequest) error
	// InsertIncoming sets in.ID; a key1 the merchant has for the wallet
	// type already is ErrRetry (the batch re-reads it).
	InsertIncoming(ctx context.Context, in *Incoming) error
	// LockIncoming locks the key for the rest of the batch — even when no
	// transaction has it yet, so that a claim and the transaction's arrival
	// serialize — and reads the incoming transaction (ErrNotFound none).
	LockIncoming(ctx context.Context, merchantID int64, walletType, key1 string) (Incoming, error)
	// UpdateIncoming writes Final and ClaimID.
	UpdateIncoming(ctx context.Context, in Incoming) error
	// InsertClaim sets c.ID; a CustomID used already is ErrRetry.
	InsertClaim(ctx context.Context, c *DepositClaim) error
	ClaimByCustomID(ctx context.Context, merchantID int64, customID string) (DepositClaim, error)
	LockClaim(ctx context.Context, merchantID, id int64) (DepositClaim, error)
	// PossibleClaims lists the possible claims of a key, oldest first.
	PossibleClaims(ctx context.Context, merchantID int64, walletType, key1 string) ([]DepositClaim, error)
	// UpdateClaim writes Status, IncomingID, WalletID, TransferID,
	// DecidedAt and DecidedBy.
	UpdateClaim(ctx context.Context, c DepositClaim) error
}
