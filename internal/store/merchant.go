package store

import (
	"context"
	"time"
)

// Roles of a merchant user.
const (
	UserAdmin    = "admin"    // the merchant's own login: may touch every customer
	UserReseller = "reseller" // a sub-account: may touch only the customers it owns
)

// Wallet states.
const (
	WalletActive   = "active"
	WalletInactive = "inactive"
)

// Roles of a merchant's system accounts (one of each per merchant and asset).
const (
	RoleMint     = "mint"     // debit-normal, unlimited: issues and burns points and money
	RoleRevenue  = "revenue"  // credit-normal: where withdrawals go
	RoleExternal = "external" // debit-normal, unlimited: money entering from outside (deposits)
	RoleTax      = "tax"      // credit-normal: tax collected
)

// MerchantUser is a username that identifies a merchant: the merchant's
// admin login or one of its resellers. Usernames are unique per Coffer
// instance, so a username alone finds its merchant.
type MerchantUser struct {
	ID         int64
	MerchantID int64
	Username   string
	Role       string // UserAdmin or UserReseller
	CreatedAt  time.Time
}

// Gateway is a merchant's switch and settings for one dialect. Settings is
// the JSON of the dialect's typed settings (package merchant owns the
// types), so that settings can grow without migrations. It holds no secret.
type Gateway struct {
	MerchantID int64
	Dialect    string
	Open       bool
	Settings   []byte
	UpdatedAt  time.Time
}

// Credential is one secret of a merchant's dialect. A secret that is only
// compared is stored as its SHA-256 (hex) in Lookup, so that a presented key
// finds its row in one indexed read; a secret needed to verify signatures is
// stored encrypted in Sealed, and Lookup then holds the public key id that
// finds it, if the dialect has one.
type Credential struct {
	ID         int64
	MerchantID int64
	Dialect    string
	Lookup     string // unique per dialect; "" when the dialect finds the merchant otherwise
	Sealed     []byte // AES-GCM ciphertext of the secret, or nil
	Hint       string // the secret's last characters, for operators to tell keys apart
	CreatedAt  time.Time
	// ExpiresAt is nil for the current credential; a replaced credential in
	// its grace period stays valid until ExpiresAt.
	ExpiresAt *time.Time
}

// Customer is a merchant's customer. ID is chosen by the merchant's client
// (MOR user_id, webtv iq) and unique per merchant.
type Customer struct {
	MerchantID int64
	ID         int64
	Email      string // lowercased; "" when none; unique per merchant
	Label      string // external label (Paykassma); "" when none; unique per merchant
	Currency   string // default currency; "" when none
	OwnerID    int64  // the MerchantUser (reseller) that owns it; 0 when none
	// TaxRate is the tax rate in parts per million (21 % is 210000); nil
	// when the customer has none.
	TaxRate   *int64
	CreatedAt time.Time
}

// Wallet is a customer's ledger account for one asset.
type Wallet struct {
	ID         int64
	MerchantID int64
	CustomerID int64
	Asset      string
	AccountID  int64
	Name       string // 32 lowercase hex characters, unique
	Status     string // WalletActive or WalletInactive
	CreatedAt  time.Time
}

// SystemAccount names a merchant's account of a role for an asset.
type SystemAccount struct {
	MerchantID int64
	Asset      string
	Role       string
	AccountID  int64
}

// CustomerFilter selects customers, ascending by id after AfterID.
type CustomerFilter struct {
	MerchantID int64 // required
	Email      string
	Label      string
	OwnerID    int64
	AfterID    int64
	Limit      int
}

// WalletFilter selects wallets, ascending by id after AfterID.
type WalletFilter struct {
	MerchantID int64 // required
	CustomerID int64
	Asset      string
	AfterID    int64
	Limit      int
}

// MerchantStore holds the reads and administrative writes of merchants,
// their users, gateways and credentials, customers and wallets.
type MerchantStore interface {
	// Merchants lists merchants in id order after afterID.
	Merchants(ctx context.Context, afterID int64, limit int) ([]Merchant, error)

	// InsertMerchantUser sets u.ID; a username in use is ErrConflict.
	InsertMerchantUser(ctx context.Context, u *MerchantUser) error
	MerchantUser(ctx context.Context, id int64) (MerchantUser, error)
	MerchantUserByName(ctx context.Context, username string) (MerchantUser, error)
	// MerchantUsers lists a merchant's users in id order.
	MerchantUsers(ctx context.Context, merchantID int64) ([]MerchantUser, error)

	Gateway(ctx context.Context, merchantID int64, dialect string) (Gateway, error)
	// Gateways lists the gateways of a merchant that have a row, by dialect.
	Gateways(ctx context.Context, merchantID int64) ([]Gateway, error)
	// SaveGateway inserts or replaces a gateway row.
	SaveGateway(ctx context.Context, g Gateway) error

	// ReplaceCredential makes c (its ID set) the current credential of its
	// merchant and dialect, in one transaction. The credentials it replaces
	// are deleted, or kept valid until graceUntil if that is after now;
	// credentials already expired at now are deleted. A Lookup that another
	// credential of the dialect holds is ErrConflict, and nothing changes.
	ReplaceCredential(ctx context.Context, c *Credential, now time.Time, graceUntil *time.Time) error
	// CredentialByLookup finds the credential of a dialect with that
	// lookup value that is valid at now.
	CredentialByLookup(ctx context.Context, dialect, lookup string, now time.Time) (Credential, error)
	// Credentials lists a merchant's credentials of a dialect valid at now,
	// the current one first, then by expiry, latest first.
	Credentials(ctx context.Context, merchantID int64, dialect string, now time.Time) ([]Credential, error)

	Customer(ctx context.Context, merchantID, id int64) (Customer, error)
	Customers(ctx context.Context, f CustomerFilter) ([]Customer, error)
	Wallet(ctx context.Context, id int64) (Wallet, error)
	WalletByName(ctx context.Context, name string) (Wallet, error)
	Wallets(ctx context.Context, f WalletFilter) ([]Wallet, error)
	// SetWalletStatus changes a wallet's status; an unknown id is ErrNotFound.
	SetWalletStatus(ctx context.Context, id int64, status string) error
	// SystemAccounts lists a merchant's system accounts by asset and role.
	SystemAccounts(ctx context.Context, merchantID int64) ([]SystemAccount, error)

	// MasterKeyCheck returns the value sealed with the master key that
	// proves which key the database's secrets are sealed with, or
	// ErrNotFound before the first one is stored.
	MasterKeyCheck(ctx context.Context) ([]byte, error)
	// InitMasterKeyCheck stores sealed as the check value unless one exists,
	// and returns the value stored (the existing one if there was one).
	InitMasterKeyCheck(ctx context.Context, sealed []byte) ([]byte, error)
}

// MerchantTx holds the reads and writes of customers, wallets and system
// accounts that must commit with ledger changes, inside a ledger batch (see
// ledger.Do). Reads see the batch's own writes. An insert that hits a unique
// key returns ErrRetry: callers look the row up first, so a conflict means
// a concurrent writer won the race, and the batch must run again to see it.
type MerchantTx interface {
	TxCustomer(ctx context.Context, merchantID, id int64) (Customer, error)
	TxCustomerByEmail(ctx context.Context, merchantID int64, email string) (Customer, error)
	TxCustomerByLabel(ctx context.Context, merchantID int64, label string) (Customer, error)
	InsertCustomer(ctx context.Context, c *Customer) error

	TxWallet(ctx context.Context, id int64) (Wallet, error)
	TxCustomerWallet(ctx context.Context, merchantID, customerID int64, asset string) (Wallet, error)
	// InsertWallet sets w.ID.
	InsertWallet(ctx context.Context, w *Wallet) error

	// TxSystemAccount returns the account id of a merchant's system account,
	// or ErrNotFound.
	TxSystemAccount(ctx context.Context, merchantID int64, asset, role string) (int64, error)
	InsertSystemAccount(ctx context.Context, a SystemAccount) error
}
