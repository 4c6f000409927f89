package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Merchants, their users, gateways and keys, customers, wallets and points.
// Every call acts on the key's merchant; an admin key acts on another one
// through ForMerchant.

// MerchantHeader names the merchant an admin key acts on.
const MerchantHeader = "Coffer-Merchant"

// ForMerchant returns a client that acts on merchant id (it sends the
// Coffer-Merchant header): an admin key may act on any merchant, a merchant
// key only on its own. The two clients share their connections.
func (c *Client) ForMerchant(id int64) *Client {
	cp := *c
	hc := *c.hc
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = merchantTransport{base: base, id: strconv.FormatInt(id, 10)}
	cp.hc = &hc
	return &cp
}

type merchantTransport struct {
	base http.RoundTripper
	id   string
}

func (t merchantTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(MerchantHeader, t.id)
	return t.base.RoundTrip(r)
}

// Merchant is a tenant.
type Merchant struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// MerchantPage is one page of merchants.
type MerchantPage struct {
	Data       []Merchant `json:"data"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// CreateMerchantRequest creates a merchant; Username, if set, becomes its
// admin user (MOR's u).
type CreateMerchantRequest struct {
	Name     string `json:"name"`
	Username string `json:"username,omitempty"`
}

// NewKey is a gateway key as created: its Secret is shown only once.
type NewKey struct {
	Dialect            string     `json:"dialect"`
	KeyID              string     `json:"key_id,omitempty"` // webtv's public key id
	Secret             string     `json:"secret"`
	Hint               string     `json:"hint,omitempty"`
	PreviousValidUntil *time.Time `json:"previous_valid_until,omitempty"`
}

// CreatedMerchant is a new merchant with every dialect's first key, by
// dialect. Every gateway starts closed.
type CreatedMerchant struct {
	Merchant
	User        *User             `json:"user,omitempty"`
	Credentials map[string]NewKey `json:"credentials"`
}

// User is a login that identifies a merchant: its admin user or a reseller.
type User struct {
	ID        int64     `json:"id"`
	Username  string    `json:"username"`
	Role      string    `json:"role"` // "admin" or "reseller"
	CreatedAt time.Time `json:"created_at"`
}

// KeyInfo describes a valid gateway key, without its secret.
type KeyInfo struct {
	KeyID     string     `json:"key_id,omitempty"`
	Hint      string     `json:"hint,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"` // set while a replaced key is in its grace period
}

// Gateway is a merchant's switch, settings and keys for one dialect.
type Gateway struct {
	Dialect   string          `json:"dialect"`
	Open      bool            `json:"open"`
	Settings  json.RawMessage `json:"settings"`
	Keys      []KeyInfo       `json:"keys"`
	UpdatedAt *time.Time      `json:"updated_at,omitempty"`
}

// RotateKeyRequest asks for a new gateway key: generated, or Secret (an
// existing integration's key; KeyID with it for webtv). Grace keeps the old
// key working that long (whole seconds; 0 revokes it at once).
type RotateKeyRequest struct {
	Grace  time.Duration `json:"-"`
	Secret string        `json:"secret,omitempty"`
	KeyID  string        `json:"key_id,omitempty"`
}

// Points is a merchant's points asset.
type Points struct {
	Asset   string `json:"asset"`
	Scale   int    `json:"scale"`
	Decimal bool   `json:"decimal"`
}

// Customer is a merchant's customer.
type Customer struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email,omitempty"`
	Label     string    `json:"label,omitempty"`
	Currency  string    `json:"currency,omitempty"`
	OwnerID   int64     `json:"owner_id,omitempty"`
	TaxRate   string    `json:"tax_rate,omitempty"` // percent
	CreatedAt time.Time `json:"created_at"`
	Wallets   []Wallet  `json:"wallets,omitempty"`

	// Created is false when the customer existed with the same details.
	Created bool `json:"-"`
}

// CreateCustomerRequest creates a customer, with wallets in the given
// assets ("points" is the merchant's points).
type CreateCustomerRequest struct {
	ID       int64    `json:"id"`
	Email    string   `json:"email,omitempty"`
	Label    string   `json:"label,omitempty"`
	Currency string   `json:"currency,omitempty"`
	OwnerID  int64    `json:"owner_id,omitempty"`
	TaxRate  string   `json:"tax_rate,omitempty"`
	Wallets  []string `json:"wallets,omitempty"`
}

// ListCustomersParams filters and pages customers.
type ListCustomersParams struct {
	Email, Label string
	OwnerID      int64
	Cursor       string
	Limit        int
}

// CustomerPage is one page of customers.
type CustomerPage struct {
	Data       []Customer `json:"data"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// Wallet is a customer's wallet with its balance (decimal strings at Scale).
type Wallet struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	CustomerID int64     `json:"customer_id"`
	Asset      string    `json:"asset"`
	Scale      int       `json:"scale"`
	Status     string    `json:"status"`
	AccountID  int64     `json:"account_id"`
	Balance    string    `json:"balance"`
	Pending    string    `json:"pending"`
	Available  string    `json:"available"`
	CreatedAt  time.Time `json:"created_at"`

	// Created is false when the customer already had a wallet in the asset.
	Created bool `json:"-"`
}

// ListWalletsParams filters and pages wallets.
type ListWalletsParams struct {
	CustomerID int64
	Asset      string // "points": the merchant's points
	Cursor     string
	Limit      int
}

// WalletPage is one page of wallets.
type WalletPage struct {
	Data       []Wallet `json:"data"`
	NextCursor string   `json:"next_cursor,omitempty"`
}

// MovementRequest charges or withdraws Amount (a decimal string; negative
// destroys points on charge) under an idempotency key.
type MovementRequest struct {
	Key    string `json:"key"`
	Amount string `json:"amount"`
}

// Movement is a wallet after a charge or withdrawal, and its transfer.
type Movement struct {
	Wallet   Wallet   `json:"wallet"`
	Transfer Transfer `json:"transfer"`
	Replayed bool     `json:"-"`
}

// CreateMerchant creates a merchant (admin keys).
func (c *Client) CreateMerchant(ctx context.Context, r CreateMerchantRequest) (CreatedMerchant, error) {
	var out CreatedMerchant
	_, err := c.do(ctx, http.MethodPost, Prefix+"/merchants", nil, r, &out)
	return out, err
}

// ListMerchants lists merchants (admin keys).
func (c *Client) ListMerchants(ctx context.Context, p ListParams) (MerchantPage, error) {
	var out MerchantPage
	_, err := c.do(ctx, http.MethodGet, Prefix+"/merchants", pageQuery(p.Cursor, p.Limit), nil, &out)
	return out, err
}

// GetMerchant reads a merchant.
func (c *Client) GetMerchant(ctx context.Context, id int64) (Merchant, error) {
	var out Merchant
	_, err := c.do(ctx, http.MethodGet, Prefix+"/merchants/"+itoa(id), nil, nil, &out)
	return out, err
}

// CreateUser adds a user (role "admin" or "reseller") to the merchant.
func (c *Client) CreateUser(ctx context.Context, username, role string) (User, error) {
	var out User
	_, err := c.do(ctx, http.MethodPost, Prefix+"/users", nil, map[string]string{"username": username, "role": role}, &out)
	return out, err
}

// ListUsers lists the merchant's users.
func (c *Client) ListUsers(ctx context.Context) ([]User, error) {
	var out struct {
		Data []User `json:"data"`
	}
	_, err := c.do(ctx, http.MethodGet, Prefix+"/users", nil, nil, &out)
	return out.Data, err
}

// Gateways lists every dialect's gateway of the merchant.
func (c *Client) Gateways(ctx context.Context) ([]Gateway, error) {
	var out struct {
		Data []Gateway `json:"data"`
	}
	_, err := c.do(ctx, http.MethodGet, Prefix+"/gateways", nil, nil, &out)
	return out.Data, err
}

// Gateway reads a dialect's gateway.
func (c *Client) Gateway(ctx context.Context, dialect string) (Gateway, error) {
	var out Gateway
	_, err := c.do(ctx, http.MethodGet, Prefix+"/gateways/"+url.PathEscape(dialect), nil, nil, &out)
	return out, err
}

// SetGatewayOpen opens or closes a dialect's gateway.
func (c *Client) SetGatewayOpen(ctx context.Context, dialect string, open bool) (Gateway, error) {
	action := "/close"
	if open {
		action = "/open"
	}
	var out Gateway
	_, err := c.do(ctx, http.MethodPost, Prefix+"/gateways/"+url.PathEscape(dialect)+action, nil, nil, &out)
	return out, err
}

// UpdateGatewaySettings changes the given settings fields of a gateway.
func (c *Client) UpdateGatewaySettings(ctx context.Context, dialect string, settings any) (Gateway, error) {
	var out Gateway
	_, err := c.do(ctx, http.MethodPost, Prefix+"/gateways/"+url.PathEscape(dialect)+"/settings", nil, settings, &out)
	return out, err
}

// RotateKey makes a new gateway key current and returns its secret (shown
// only this once).
func (c *Client) RotateKey(ctx context.Context, dialect string, r RotateKeyRequest) (NewKey, error) {
	in := struct {
		GraceSeconds int64  `json:"grace_seconds,omitempty"`
		Secret       string `json:"secret,omitempty"`
		KeyID        string `json:"key_id,omitempty"`
	}{int64(r.Grace / time.Second), r.Secret, r.KeyID}
	var out NewKey
	_, err := c.do(ctx, http.MethodPost, Prefix+"/gateways/"+url.PathEscape(dialect)+"/key", nil, in, &out)
	return out, err
}

// Points reads the merchant's points asset.
func (c *Client) Points(ctx context.Context) (Points, error) {
	var out Points
	_, err := c.do(ctx, http.MethodGet, Prefix+"/points", nil, nil, &out)
	return out, err
}

// DefinePoints defines the merchant's points with 2 decimals (decimal) or
// whole; the scale never changes once defined.
func (c *Client) DefinePoints(ctx context.Context, decimal bool) (Points, error) {
	var out Points
	_, err := c.do(ctx, http.MethodPost, Prefix+"/points", nil, map[string]bool{"decimal": decimal}, &out)
	return out, err
}

// CreateCustomer creates a customer (or answers the existing one with the
// same details, Created false).
func (c *Client) CreateCustomer(ctx context.Context, r CreateCustomerRequest) (Customer, error) {
	var out Customer
	ans, err := c.do(ctx, http.MethodPost, Prefix+"/customers", nil, r, &out)
	out.Created = ans.status == http.StatusCreated
	return out, err
}

// GetCustomer reads a customer by its id.
func (c *Client) GetCustomer(ctx context.Context, id int64) (Customer, error) {
	var out Customer
	_, err := c.do(ctx, http.MethodGet, Prefix+"/customers/"+itoa(id), nil, nil, &out)
	return out, err
}

// ListCustomers lists or searches customers.
func (c *Client) ListCustomers(ctx context.Context, p ListCustomersParams) (CustomerPage, error) {
	q := pageQuery(p.Cursor, p.Limit)
	if p.Email != "" {
		q.Set("email", p.Email)
	}
	if p.Label != "" {
		q.Set("label", p.Label)
	}
	if p.OwnerID != 0 {
		q.Set("owner_id", itoa(p.OwnerID))
	}
	var out CustomerPage
	_, err := c.do(ctx, http.MethodGet, Prefix+"/customers", q, nil, &out)
	return out, err
}

// CreateWallet opens a customer's wallet in an asset ("" or "points": the
// merchant's points), or answers the existing one (Created false).
func (c *Client) CreateWallet(ctx context.Context, customerID int64, asset string) (Wallet, error) {
	var out Wallet
	in := struct {
		CustomerID int64  `json:"customer_id"`
		Asset      string `json:"asset,omitempty"`
	}{customerID, asset}
	ans, err := c.do(ctx, http.MethodPost, Prefix+"/wallets", nil, in, &out)
	out.Created = ans.status == http.StatusCreated
	return out, err
}

// GetWallet reads a wallet by id or name, with its balance.
func (c *Client) GetWallet(ctx context.Context, ref string) (Wallet, error) {
	var out Wallet
	_, err := c.do(ctx, http.MethodGet, Prefix+"/wallets/"+url.PathEscape(ref), nil, nil, &out)
	return out, err
}

// ListWallets lists wallets with their balances.
func (c *Client) ListWallets(ctx context.Context, p ListWalletsParams) (WalletPage, error) {
	q := pageQuery(p.Cursor, p.Limit)
	if p.CustomerID != 0 {
		q.Set("customer_id", itoa(p.CustomerID))
	}
	if p.Asset != "" {
		q.Set("asset", p.Asset)
	}
	var out WalletPage
	_, err := c.do(ctx, http.MethodGet, Prefix+"/wallets", q, nil, &out)
	return out, err
}

// SetWalletStatus activates ("active") or deactivates ("inactive") a wallet.
func (c *Client) SetWalletStatus(ctx context.Context, ref, status string) (Wallet, error) {
	var out Wallet
	_, err := c.do(ctx, http.MethodPost, Prefix+"/wallets/"+url.PathEscape(ref)+"/status", nil, map[string]string{"status": status}, &out)
	return out, err
}

// Charge creates (amount > 0) or destroys (amount < 0) points in a wallet.
func (c *Client) Charge(ctx context.Context, ref string, r MovementRequest) (Movement, error) {
	return c.movement(ctx, ref, "/charge", r)
}

// Withdraw moves an amount from a wallet to the merchant's revenue.
func (c *Client) Withdraw(ctx context.Context, ref string, r MovementRequest) (Movement, error) {
	return c.movement(ctx, ref, "/withdraw", r)
}

func (c *Client) movement(ctx context.Context, ref, action string, r MovementRequest) (Movement, error) {
	var out Movement
	ans, err := c.do(ctx, http.MethodPost, Prefix+"/wallets/"+url.PathEscape(ref)+action, nil, r, &out)
	out.Replayed = ans.replayed
	return out, err
}
