package client

import (
	"encoding/json"
	"time"
)

// Asset is a unit of account: an ISO 4217 currency or a custom asset.
type Asset struct {
	Code      string    `json:"code"`
	Scale     int       `json:"scale"`
	Kind      string    `json:"kind"` // "currency" or "custom"
	CreatedAt time.Time `json:"created_at"`
}

// CreateAssetRequest defines a custom asset (admin keys only).
type CreateAssetRequest struct {
	Code  string `json:"code"`
	Scale int    `json:"scale"`
}

// Account is a ledger account. Amounts are decimal strings at Scale.
type Account struct {
	ID             int64           `json:"id"`
	Asset          string          `json:"asset"`
	Scale          int             `json:"scale"`
	Name           string          `json:"name"`
	Normal         string          `json:"normal"` // "credit" or "debit"
	OverdraftLimit string          `json:"overdraft_limit"`
	Unlimited      bool            `json:"unlimited"`
	Balance        string          `json:"balance"`   // posted, on the normal side
	Pending        string          `json:"pending"`   // held by pending transfers
	Available      string          `json:"available"` // balance minus pending
	DebitsPosted   string          `json:"debits_posted"`
	CreditsPosted  string          `json:"credits_posted"`
	DebitsPending  string          `json:"debits_pending"`
	CreditsPending string          `json:"credits_pending"`
	Key            string          `json:"key,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`

	// Replayed is true when the answer is the account an earlier request
	// with the same idempotency key created.
	Replayed bool `json:"-"`
}

// CreateAccountRequest opens an account. Key, if set, makes the call
// idempotent.
type CreateAccountRequest struct {
	Key            string          `json:"key,omitempty"`
	Asset          string          `json:"asset"`
	Name           string          `json:"name,omitempty"`
	Normal         string          `json:"normal,omitempty"`          // "credit" (default) or "debit"
	OverdraftLimit string          `json:"overdraft_limit,omitempty"` // decimal string
	Unlimited      bool            `json:"unlimited,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
}

// ListAccountsParams filters and pages a list of accounts.
type ListAccountsParams struct {
	Asset  string
	Cursor string // NextCursor of the previous page
	Limit  int    // 0: the server's default (100); at most 1000
}

// ListParams pages a list.
type ListParams struct {
	Cursor string
	Limit  int
}

// AccountPage is one page of accounts; NextCursor is empty on the last.
type AccountPage struct {
	Data       []Account `json:"data"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// Transfer is one journal entry.
type Transfer struct {
	ID              int64           `json:"id"`
	Key             string          `json:"key"`
	Kind            string          `json:"kind"` // single, pending, post, void or expire
	DebitAccountID  int64           `json:"debit_account_id"`
	CreditAccountID int64           `json:"credit_account_id"`
	Asset           string          `json:"asset"`
	Amount          string          `json:"amount"`
	PendingID       int64           `json:"pending_id,omitempty"`
	State           string          `json:"state"` // pending, posted, voided or expired
	TimeoutAt       *time.Time      `json:"timeout_at,omitempty"`
	Metadata        json.RawMessage `json:"metadata,omitempty"`
	CreatedAt       time.Time       `json:"created_at"`

	// Replayed is true when the answer is the transfer an earlier request
	// with the same idempotency key created; nothing new happened.
	Replayed bool `json:"-"`
}

// TransferRequest moves Amount of Asset from the debit account to the
// credit account. With Pending it only holds the amount, until posted,
// voided or TimeoutSeconds pass.
type TransferRequest struct {
	Key             string          `json:"key"`
	DebitAccountID  int64           `json:"debit_account_id"`
	CreditAccountID int64           `json:"credit_account_id"`
	Asset           string          `json:"asset"`
	Amount          string          `json:"amount"`
	Pending         bool            `json:"pending,omitempty"`
	TimeoutSeconds  int64           `json:"timeout_seconds,omitempty"`
	Linked          bool            `json:"linked,omitempty"` // batches only: joins this transfer to the next
	Metadata        json.RawMessage `json:"metadata,omitempty"`
}

// BatchRequest applies many transfers in one call. With Atomic, all of them
// commit or none does.
type BatchRequest struct {
	Transfers []TransferRequest `json:"transfers"`
	Atomic    bool              `json:"atomic,omitempty"`
}

// BatchResult is the outcome of one transfer of a batch: Transfer or Error.
type BatchResult struct {
	Transfer *Transfer `json:"transfer,omitempty"`
	Error    *Error    `json:"error,omitempty"`
	Replayed bool      `json:"replayed,omitempty"`
}

// BatchOutcome is the lean outcome of one transfer of a batch, as
// CreateTransfersMinimal returns it: the id of the transfer (0 when Error
// is set) instead of the whole transfer.
type BatchOutcome struct {
	ID       int64
	Error    *Error
	Replayed bool
}

// OK reports whether the transfer was applied (now or, if Replayed, by an
// earlier request with the same key).
func (o BatchOutcome) OK() bool { return o.Error == nil && o.ID != 0 }

// PostRequest posts a pending transfer; an empty Amount posts all of it.
type PostRequest struct {
	Key      string          `json:"key"`
	Amount   string          `json:"amount,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

// VoidRequest voids a pending transfer.
type VoidRequest struct {
	Key      string          `json:"key"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

// Outcome is what became of an idempotency key: Status "succeeded" with
// the Transfer it created, or "failed" with the Error it met.
type Outcome struct {
	Key      string    `json:"key"`
	Status   string    `json:"status"`
	Transfer *Transfer `json:"transfer,omitempty"`
	Error    *Error    `json:"error,omitempty"`
}

// Succeeded reports whether the key created a transfer.
func (o Outcome) Succeeded() bool { return o.Status == "succeeded" }

// TransferPage is one page of transfers; NextCursor is empty on the last.
type TransferPage struct {
	Data       []Transfer `json:"data"`
	NextCursor string     `json:"next_cursor,omitempty"`
}
