package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-pay/coffer/internal/store"
)

// The merchants' domain: users, gateways, credentials, customers, wallets
// and system accounts (migrations/0003_merchants.sql). Every Tx method sends
// the batch's queued writes first, so that it runs after them.

// --- merchants and their users ---

// Merchants lists merchants in id order.
func (s *Store) Merchants(ctx context.Context, afterID int64, limit int) ([]store.Merchant, error) {
	return queryAll(ctx, s.pool, "postgres: merchants", func(row pgx.Row) (store.Merchant, error) {
		var m store.Merchant
		err := row.Scan(&m.ID, &m.Name, &m.CreatedAt)
		return m, err
	}, `SELECT id, name, created_at FROM merchants WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limitOrDefault(limit))
}

const userCols = `id, merchant_id, username, role, created_at`

func scanUser(row pgx.Row) (store.MerchantUser, error) {
	var u store.MerchantUser
	err := row.Scan(&u.ID, &u.MerchantID, &u.Username, &u.Role, &u.CreatedAt)
	return u, err
}

// InsertMerchantUser inserts u and sets u.ID (and u.CreatedAt if zero).
func (s *Store) InsertMerchantUser(ctx context.Context, u *store.MerchantUser) error {
	u.CreatedAt = orNow(u.CreatedAt, now())
	err := s.pool.QueryRow(ctx, `INSERT INTO merchant_users (merchant_id, username, role, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		u.MerchantID, u.Username, u.Role, u.CreatedAt).Scan(&u.ID)
	return translate("postgres: insert merchant user", err)
}

func (s *Store) MerchantUser(ctx context.Context, id int64) (store.MerchantUser, error) {
	return queryOne(ctx, s.pool, "postgres: merchant user", scanUser,
		`SELECT `+userCols+` FROM merchant_users WHERE id = $1`, id)
}

func (s *Store) MerchantUserByName(ctx context.Context, username string) (store.MerchantUser, error) {
	return queryOne(ctx, s.pool, "postgres: merchant user by name", scanUser,
		`SELECT `+userCols+` FROM merchant_users WHERE username = $1`, username)
}

// MerchantUsers lists a merchant's users in id order.
func (s *Store) MerchantUsers(ctx context.Context, merchantID int64) ([]store.MerchantUser, error) {
	return queryAll(ctx, s.pool, "postgres: merchant users", scanUser,
		`SELECT `+userCols+` FROM merchant_users WHERE merchant_id = $1 ORDER BY id`, merchantID)
}

// --- gateways and credentials ---

const gatewayCols = `merchant_id, dialect, open, settings::text, updated_at`

func scanGateway(row pgx.Row) (store.Gateway, error) {
	var g store.Gateway
	var settings string
	err := row.Scan(&g.MerchantID, &g.Dialect, &g.Open, &settings, &g.UpdatedAt)
	g.Settings = []byte(settings)
	return g, err
}

func (s *Store) Gateway(ctx context.Context, merchantID int64, dialect string) (store.Gateway, error) {
	return queryOne(ctx, s.pool, "postgres: gateway", scanGateway,
		`SELECT `+gatewayCols+` FROM gateways WHERE merchant_id = $1 AND dialect = $2`, merchantID, dialect)
}

// Gateways lists a merchant's gateway rows by dialect.
func (s *Store) Gateways(ctx context.Context, merchantID int64) ([]store.Gateway, error) {
	return queryAll(ctx, s.pool, "postgres: gateways", scanGateway,
		`SELECT `+gatewayCols+` FROM gateways WHERE merchant_id = $1 ORDER BY dialect`, merchantID)
}

// SaveGateway inserts or replaces a gateway row.
func (s *Store) SaveGateway(ctx context.Context, g store.Gateway) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO gateways (merchant_id, dialect, open, settings, updated_at) VALUES ($1, $2, $3, $4::jsonb, $5)
		ON CONFLICT (merchant_id, dialect) DO UPDATE SET open = excluded.open, settings = excluded.settings, updated_at = excluded.updated_at`,
		g.MerchantID, g.Dialect, g.Open, string(g.Settings), orNow(g.UpdatedAt, now()))
	return translate("postgres: save gateway", err)
}

const credentialCols = `id, merchant_id, dialect, COALESCE(lookup, ''), sealed, hint, created_at, expires_at`

func scanCredential(row pgx.Row) (store.Credential, error) {
	var c store.Credential
	err := row.Scan(&c.ID, &c.MerchantID, &c.Dialect, &c.Lookup, &c.Sealed, &c.Hint, &c.CreatedAt, &c.ExpiresAt)
	if len(c.Sealed) == 0 {
		c.Sealed = nil
	}
	return c, err
}

// ReplaceCredential makes c the current credential of its merchant and
// dialect; see store.MerchantStore. The merchant's credential rows of the
// dialect are locked first, so that two rotations at once apply one after
// the other.
func (s *Store) ReplaceCredential(ctx context.Context, c *store.Credential, at time.Time, graceUntil *time.Time) error {
	op := "postgres: replace credential"
	c.CreatedAt = orNow(c.CreatedAt, now())
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return translate(op, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// Serialize rotations of one merchant's dialect on the merchant row.
	if _, err := tx.Exec(ctx, `SELECT id FROM merchants WHERE id = $1 FOR UPDATE`, c.MerchantID); err != nil {
		return translate(op, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM credentials WHERE merchant_id = $1 AND dialect = $2 AND expires_at IS NOT NULL AND expires_at <= $3`,
		c.MerchantID, c.Dialect, at); err != nil {
		return translate(op, err)
	}
	if graceUntil != nil && graceUntil.After(at) {
		_, err = tx.Exec(ctx, `UPDATE credentials SET expires_at = $1 WHERE merchant_id = $2 AND dialect = $3 AND expires_at IS NULL`,
			*graceUntil, c.MerchantID, c.Dialect)
	} else {
		_, err = tx.Exec(ctx, `DELETE FROM credentials WHERE merchant_id = $1 AND dialect = $2`, c.MerchantID, c.Dialect)
	}
	if err != nil {
		return translate(op, err)
	}
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO credentials (merchant_id, dialect, lookup, sealed, hint, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, NULL) RETURNING id`,
		c.MerchantID, c.Dialect, nullString(c.Lookup), nullBytes(c.Sealed), c.Hint, c.CreatedAt).Scan(&id)
	if err != nil {
		return translate(op, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return translate(op, err)
	}
	c.ID, c.ExpiresAt = id, nil
	return nil
}

// CredentialByLookup finds a dialect's credential valid at now by lookup.
func (s *Store) CredentialByLookup(ctx context.Context, dialect, lookup string, at time.Time) (store.Credential, error) {
	return queryOne(ctx, s.pool, "postgres: credential by lookup", scanCredential,
		`SELECT `+credentialCols+` FROM credentials
		WHERE dialect = $1 AND lookup = $2 AND (expires_at IS NULL OR expires_at > $3)`, dialect, lookup, at)
}

// Credentials lists a merchant's valid credentials of a dialect, current first.
func (s *Store) Credentials(ctx context.Context, merchantID int64, dialect string, at time.Time) ([]store.Credential, error) {
	return queryAll(ctx, s.pool, "postgres: credentials", scanCredential,
		`SELECT `+credentialCols+` FROM credentials
		WHERE merchant_id = $1 AND dialect = $2 AND (expires_at IS NULL OR expires_at > $3)
		ORDER BY expires_at IS NOT NULL, expires_at DESC, id DESC`, merchantID, dialect, at)
}

// --- customers ---

const customerCols = `merchant_id, id, COALESCE(email, ''), COALESCE(label, ''), currency, COALESCE(owner_id, 0), tax_rate, created_at`

func scanCustomer(row pgx.Row) (store.Customer, error) {
	var c store.Customer
	err := row.Scan(&c.MerchantID, &c.ID, &c.Email, &c.Label, &c.Currency, &c.OwnerID, &c.TaxRate, &c.CreatedAt)
	return c, err
}

func (s *Store) Customer(ctx context.Context, merchantID, id int64) (store.Customer, error) {
	return queryOne(ctx, s.pool, "postgres: customer", scanCustomer,
		`SELECT `+customerCols+` FROM customers WHERE merchant_id = $1 AND id = $2`, merchantID, id)
}

// Customers lists a merchant's customers in id order.
func (s *Store) Customers(ctx context.Context, f store.CustomerFilter) ([]store.Customer, error) {
	var p params
	q := `SELECT ` + customerCols + ` FROM customers WHERE merchant_id = ` + p.add(f.MerchantID) + ` AND id > ` + p.add(f.AfterID)
	if f.Email != "" {
		q += ` AND email = ` + p.add(f.Email)
	}
	if f.Label != "" {
		q += ` AND label = ` + p.add(f.Label)
	}
	if f.OwnerID != 0 {
		q += ` AND owner_id = ` + p.add(f.OwnerID)
	}
	q += ` ORDER BY id LIMIT ` + p.add(limitOrDefault(f.Limit))
	return queryAll(ctx, s.pool, "postgres: customers", scanCustomer, q, p...)
}

func (t *Tx) TxCustomer(ctx context.Context, merchantID, id int64) (store.Customer, error) {
	if err := t.flush(ctx); err != nil {
		return store.Customer{}, err
	}
	return queryOne(ctx, t.tx, "postgres: customer", scanCustomer,
		`SELECT `+customerCols+` FROM customers WHERE merchant_id = $1 AND id = $2`, merchantID, id)
}

func (t *Tx) TxCustomerByEmail(ctx context.Context, merchantID int64, email string) (store.Customer, error) {
	if err := t.flush(ctx); err != nil {
		return store.Customer{}, err
	}
	return queryOne(ctx, t.tx, "postgres: customer by email", scanCustomer,
		`SELECT `+customerCols+` FROM customers WHERE merchant_id = $1 AND email = $2`, merchantID, email)
}

func (t *Tx) TxCustomerByLabel(ctx context.Context, merchantID int64, label string) (store.Customer, error) {
	if err := t.flush(ctx); err != nil {
		return store.Customer{}, err
	}
	return queryOne(ctx, t.tx, "postgres: customer by label", scanCustomer,
		`SELECT `+customerCols+` FROM customers WHERE merchant_id = $1 AND label = $2`, merchantID, label)
}

// InsertCustomer inserts c; a unique key already taken is ErrRetry.
func (t *Tx) InsertCustomer(ctx context.Context, c *store.Customer) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	c.CreatedAt = orNow(c.CreatedAt, now())
	_, err := t.tx.Exec(ctx, `INSERT INTO customers (merchant_id, id, email, label, currency, owner_id, tax_rate, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		c.MerchantID, c.ID, nullString(c.Email), nullString(c.Label), c.Currency, nullID(c.OwnerID), c.TaxRate, c.CreatedAt)
	return raced(translate("postgres: insert customer", err))
}

// --- wallets ---

const walletCols = `id, merchant_id, customer_id, asset, account_id, name, status, created_at`

func scanWallet(row pgx.Row) (store.Wallet, error) {
	var w store.Wallet
	err := row.Scan(&w.ID, &w.MerchantID, &w.CustomerID, &w.Asset, &w.AccountID, &w.Name, &w.Status, &w.CreatedAt)
	return w, err
}

func (s *Store) Wallet(ctx context.Context, id int64) (store.Wallet, error) {
	return queryOne(ctx, s.pool, "postgres: wallet", scanWallet, `SELECT `+walletCols+` FROM wallets WHERE id = $1`, id)
}

func (s *Store) WalletByName(ctx context.Context, name string) (store.Wallet, error) {
	return queryOne(ctx, s.pool, "postgres: wallet by name", scanWallet, `SELECT `+walletCols+` FROM wallets WHERE name = $1`, name)
}

// Wallets lists a merchant's wallets in id order.
func (s *Store) Wallets(ctx context.Context, f store.WalletFilter) ([]store.Wallet, error) {
	var p params
	q := `SELECT ` + walletCols + ` FROM wallets WHERE merchant_id = ` + p.add(f.MerchantID) + ` AND id > ` + p.add(f.AfterID)
	if f.CustomerID != 0 {
		q += ` AND customer_id = ` + p.add(f.CustomerID)
	}
	if f.Asset != "" {
		q += ` AND asset = ` + p.add(f.Asset)
	}
	q += ` ORDER BY id LIMIT ` + p.add(limitOrDefault(f.Limit))
	return queryAll(ctx, s.pool, "postgres: wallets", scanWallet, q, p...)
}

// SetWalletStatus changes a wallet's status.
func (s *Store) SetWalletStatus(ctx context.Context, id int64, status string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE wallets SET status = $1 WHERE id = $2`, status, id)
	return checkUpdated("postgres: set wallet status", tag.RowsAffected(), 1, err)
}

func (t *Tx) TxWallet(ctx context.Context, id int64) (store.Wallet, error) {
	if err := t.flush(ctx); err != nil {
		return store.Wallet{}, err
	}
	return queryOne(ctx, t.tx, "postgres: wallet", scanWallet, `SELECT `+walletCols+` FROM wallets WHERE id = $1`, id)
}

func (t *Tx) TxCustomerWallet(ctx context.Context, merchantID, customerID int64, asset string) (store.Wallet, error) {
	if err := t.flush(ctx); err != nil {
		return store.Wallet{}, err
	}
	return queryOne(ctx, t.tx, "postgres: customer wallet", scanWallet,
		`SELECT `+walletCols+` FROM wallets WHERE merchant_id = $1 AND customer_id = $2 AND asset = $3`, merchantID, customerID, asset)
}

// InsertWallet inserts w and sets w.ID; a unique key already taken is ErrRetry.
func (t *Tx) InsertWallet(ctx context.Context, w *store.Wallet) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	w.CreatedAt = orNow(w.CreatedAt, now())
	err := t.tx.QueryRow(ctx, `INSERT INTO wallets (merchant_id, customer_id, asset, account_id, name, status, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		w.MerchantID, w.CustomerID, w.Asset, w.AccountID, w.Name, w.Status, w.CreatedAt).Scan(&w.ID)
	return raced(translate("postgres: insert wallet", err))
}

// --- system accounts ---

// SystemAccounts lists a merchant's system accounts.
func (s *Store) SystemAccounts(ctx context.Context, merchantID int64) ([]store.SystemAccount, error) {
	return queryAll(ctx, s.pool, "postgres: system accounts", func(row pgx.Row) (store.SystemAccount, error) {
		var a store.SystemAccount
		err := row.Scan(&a.MerchantID, &a.Asset, &a.Role, &a.AccountID)
		return a, err
	}, `SELECT merchant_id, asset, role, account_id FROM system_accounts WHERE merchant_id = $1 ORDER BY asset, role`, merchantID)
}

func (t *Tx) TxSystemAccount(ctx context.Context, merchantID int64, asset, role string) (int64, error) {
	if err := t.flush(ctx); err != nil {
		return 0, err
	}
	var id int64
	err := t.tx.QueryRow(ctx, `SELECT account_id FROM system_accounts WHERE merchant_id = $1 AND asset = $2 AND role = $3`,
		merchantID, asset, role).Scan(&id)
	return id, translate("postgres: system account", err)
}

// InsertSystemAccount records a system account; one that exists is ErrRetry.
func (t *Tx) InsertSystemAccount(ctx context.Context, a store.SystemAccount) error {
	if err := t.flush(ctx); err != nil {
		return err
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO system_accounts (merchant_id, asset, role, account_id) VALUES ($1, $2, $3, $4)`,
		a.MerchantID, a.Asset, a.Role, a.AccountID)
	return raced(translate("postgres: insert system account", err))
}

// --- master key check ---

func (s *Store) MasterKeyCheck(ctx context.Context) ([]byte, error) {
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT sealed FROM master_key_check WHERE id = 1`).Scan(&b)
	return b, translate("postgres: master key check", err)
}

// InitMasterKeyCheck stores the check value unless one exists.
func (s *Store) InitMasterKeyCheck(ctx context.Context, sealed []byte) ([]byte, error) {
	if _, err := s.pool.Exec(ctx, `INSERT INTO master_key_check (id, sealed) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, sealed); err != nil {
		return nil, translate("postgres: init master key check", err)
	}
	// A new statement: it sees a row a concurrent node committed just now.
	return s.MasterKeyCheck(ctx)
}

// raced turns a unique violation inside a batch into ErrRetry: the caller
// looked the row up first, so a concurrent node won the race.
func raced(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w: %v", store.ErrRetry, err)
	}
	return err
}

// nullBytes stores an absent value (nil or empty) as NULL.
func nullBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
