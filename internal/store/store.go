// Package store is Coffer's persistence seam: the row types, the small
// interfaces the domain packages need, and the sentinel errors every engine
// translates its driver errors into. The engines live in store/sqlite and
// store/postgres; store/storetest is the conformance suite both must pass.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Engines wrap driver errors into these so that no caller
// ever sees a SQLite or pgx type.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	// ErrRetry means the transaction lost a race with another writer
	// (deadlock, serialization failure, unique violation from a concurrent
	// node) and may succeed if run again from the start.
	ErrRetry = errors.New("transient conflict, retry")
	// ErrUnavailable means the database could not be reached or refused
	// writes (read-only, disk full, connection lost).
	ErrUnavailable = errors.New("database unavailable")
)

// Side is the normal side of an account.
type Side string

const (
	Debit  Side = "debit"
	Credit Side = "credit"
)

// Kinds of transfer.
const (
	KindSingle  = "single"  // posted at once
	KindPending = "pending" // reserves funds; later posted, voided or expired
	KindPost    = "post"    // posts (part of) a pending transfer
	KindVoid    = "void"    // voids a pending transfer
	KindExpire  = "expire"  // a pending transfer reached its timeout
)

// States of a transfer. Only pending transfers move out of StatePosted's
// sibling StatePending; every other kind is StatePosted (or StateVoided for
// void and expire records, which move no money).
const (
	StatePending = "pending"
	StatePosted  = "posted"
	StateVoided  = "voided"
	StateExpired = "expired"
)

// Merchant is a tenant. Merchant 1 is created by the first migration.
type Merchant struct {
	ID        int64
	Name      string
	CreatedAt time.Time
}

// APIKey is a bearer credential for the native API. Only a hash of the
// secret part is stored.
type APIKey struct {
	ID         int64
	MerchantID int64
	Prefix     string // public part, used to find the row
	Hash       []byte // sha256 of the whole key
	Role       string // "admin" or "merchant"
	Name       string
	CreatedAt  time.Time
	RevokedAt  *time.Time
}

// Asset is a unit of account: an ISO 4217 currency or a configured asset
// such as a merchant's points.
type Asset struct {
	Code      string
	Scale     int
	Kind      string // "currency" or "custom"
	CreatedAt time.Time
}

// Account is a ledger account with TigerBeetle-style counters.
type Account struct {
	ID             int64
	MerchantID     int64
	Asset          string
	Name           string
	Normal         Side
	OverdraftLimit int64 // how far the balance may go below zero
	Unlimited      bool  // no limit at all (mint and external accounts)
	DebitsPosted   int64
	CreditsPosted  int64
	DebitsPending  int64
	CreditsPending int64
	Key            string // idempotency key of its creation, may be empty
	Metadata       []byte // JSON object or nil
	CreatedAt      time.Time
}

// Transfer is one journal entry: it debits one account and credits another
// by Amount of Asset.
type Transfer struct {
	ID              int64
	MerchantID      int64
	Key             string
	Kind            string
	DebitAccountID  int64
	CreditAccountID int64
	Asset           string
	Amount          int64
	PendingID       int64 // for post, void and expire: the pending transfer
	State           string
	TimeoutAt       *time.Time
	Metadata        []byte
	CreatedAt       time.Time
}

// KeyRecord is the outcome of one idempotency key: the transfer it created,
// or the business failure it met (then TransferID is 0 and Request holds the
// canonical JSON of the request, so a retry can be compared field by field).
// One table holds both, so a key can never have two outcomes, even when
// several nodes race on it.
type KeyRecord struct {
	MerchantID int64
	Key        string
	TransferID int64
	Request    []byte
	Code       string
	Message    string
	CreatedAt  time.Time
}

// StateChange moves a pending transfer to a final state.
type StateChange struct {
	ID    int64
	State string
}

// MerchantKey identifies an idempotency key.
type MerchantKey struct {
	MerchantID int64
	Key        string
}

// Tx is one write transaction of the ledger engine's batch loop. Locking
// methods take ids in any order and lock in ascending id order, so that
// engines sharing a database cannot deadlock each other. After any error
// (ErrRetry included) the transaction is dead: roll it back and start over.
// Commit and Rollback are bounded by the context given to Begin.
//
// An engine may hold the batch's final writes (InsertTransfers,
// InsertKeys, SetStates, UpdateBalances) and send them together before the
// transaction's next read or at Commit, so their errors (such as ErrRetry
// for a key another node recorded) may surface there instead.
type Tx interface {
	MerchantTx
	OutboxTx
	PaymentTx
	DepositTx
	OrderTx

	// LockPending returns the pending transfers with the given ids, locked
	// for update. Missing ids are simply absent from the result.
	LockPending(ctx context.Context, ids []int64) ([]Transfer, error)
	// LockAccounts returns the accounts with the given ids, locked for update.
	LockAccounts(ctx context.Context, ids []int64) ([]Account, error)
	// LookupKeys returns the records of those keys that exist.
	LookupKeys(ctx context.Context, keys []MerchantKey) ([]KeyRecord, error)
	TransfersByIDs(ctx context.Context, ids []int64) ([]Transfer, error)
	AccountsByKeys(ctx context.Context, keys []MerchantKey) ([]Account, error)
	// NextTransferIDs reserves n new transfer ids, ascending.
	NextTransferIDs(ctx context.Context, n int) ([]int64, error)
	InsertAccount(ctx context.Context, a *Account) error // sets a.ID
	InsertTransfers(ctx context.Context, ts []Transfer) error
	// InsertKeys records idempotency outcomes. A key that already exists
	// (inserted by a concurrent node) makes it return ErrRetry.
	InsertKeys(ctx context.Context, ks []KeyRecord) error
	SetStates(ctx context.Context, changes []StateChange) error
	// UpdateBalances writes the four counters of each account.
	UpdateBalances(ctx context.Context, as []Account) error
	// InsertEvents appends events to the outbox and sets their Seq.
	InsertEvents(ctx context.Context, evs []Event) error

	// Savepoint, ReleaseSavepoint and RollbackToSavepoint bracket one
	// domain operation inside a batch, so that a failing operation undoes
	// only its own writes. They do not nest.
	Savepoint(ctx context.Context) error
	ReleaseSavepoint(ctx context.Context) error
	RollbackToSavepoint(ctx context.Context) error
	Commit() error
	Rollback() error
}

// AccountFilter selects accounts for listing. Results are in ascending id
// order, starting after AfterID.
type AccountFilter struct {
	MerchantID int64 // 0: every merchant
	Asset      string
	AfterID    int64
	Limit      int
}

// TransferFilter selects transfers for listing, ascending by id after AfterID.
type TransferFilter struct {
	MerchantID int64 // 0: every merchant
	AccountID  int64 // 0: every account; else transfers debiting or crediting it
	AfterID    int64
	Limit      int
}

// JournalSums are the counters of one account as recomputed from the journal.
type JournalSums struct {
	AccountID      int64
	DebitsPosted   int64
	CreditsPosted  int64
	DebitsPending  int64
	CreditsPending int64
}

// Store is what the domain needs from a database engine.
type Store interface {
	MerchantStore
	OutboxStore
	PricingStore
	PaymentStore
	DepositStore
	OrderStore

	// Begin starts the write transaction of one engine batch.
	Begin(ctx context.Context) (Tx, error)

	Ping(ctx context.Context) error
	// Migrate applies the embedded migrations the database lacks.
	Migrate(ctx context.Context) error
	// SchemaVersion is the number of migrations applied and the number the
	// binary knows.
	SchemaVersion(ctx context.Context) (applied, known int, err error)
	Close() error

	CreateMerchant(ctx context.Context, name string) (Merchant, error)
	Merchant(ctx context.Context, id int64) (Merchant, error)

	InsertAPIKey(ctx context.Context, k *APIKey) error
	APIKeyByPrefix(ctx context.Context, prefix string) (APIKey, error)
	CountAPIKeys(ctx context.Context) (int, error)

	// UpsertAsset creates an asset, or returns ErrConflict if the code exists
	// with another scale. An identical existing asset is not an error.
	UpsertAsset(ctx context.Context, a Asset) error
	Asset(ctx context.Context, code string) (Asset, error)
	Assets(ctx context.Context) ([]Asset, error)

	Account(ctx context.Context, id int64) (Account, error)
	Accounts(ctx context.Context, f AccountFilter) ([]Account, error)
	Transfer(ctx context.Context, id int64) (Transfer, error)
	KeyRecord(ctx context.Context, k MerchantKey) (KeyRecord, error)
	Transfers(ctx context.Context, f TransferFilter) ([]Transfer, error)
	// ExpiredPending lists pending transfers whose timeout is at or before now.
	ExpiredPending(ctx context.Context, now time.Time, limit int) ([]Transfer, error)

	// Events lists outbox events of a merchant (0: all) after seq, in order.
	Events(ctx context.Context, merchantID, afterSeq int64, limit int) ([]Event, error)

	// Journal returns, for every account that appears in the journal, its
	// counters recomputed from the transfers.
	Journal(ctx context.Context) ([]JournalSums, error)
	// EachAccount calls fn for every account in id order.
	EachAccount(ctx context.Context, fn func(Account) error) error
	// EachTransfer calls fn for every transfer in id order.
	EachTransfer(ctx context.Context, fn func(Transfer) error) error
}
